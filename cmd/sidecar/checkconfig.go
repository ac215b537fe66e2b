package main

import (
	"fmt"
	"os"

	"github.com/tollgate/tollgate/ratelimit"
)

func checkConfig(args []string) int {
	cf := newConfigFlags("check-config", "Validates the settings and the rate-limit config as `serve` would, prints every error as file:line: message, and exits 1 if there is any.")
	s, err := cf.parse(args)
	if err != nil {
		if code := exitCode(err); code == 0 {
			return 0
		}
		return 1
	}
	cfg, err := ratelimit.LoadConfig(rateLimitPaths(s)...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("config ok: %d rate-limit domains\n", len(cfg.Domains()))
	return 0
}

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
	failed := false
	report := func(err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
		}
	}
	cfg, err := ratelimit.LoadConfig(rateLimitPaths(s)...)
	report(err)
	mc, err := parseMetering(s)
	report(err)
	_, err = namespaceOptions(s)
	report(err)
	if failed {
		return 1
	}
	summary := fmt.Sprintf("config ok: %d rate-limit domains, %d counter namespaces", len(cfg.Domains()), len(s.Counters.Namespaces))
	if mc != nil {
		summary += fmt.Sprintf(", %d tenants, %d plans, %d meters", len(mc.Tenants), len(mc.Plans), len(mc.Meters))
	}
	fmt.Println(summary)
	return 0
}

package main

import (
	"fmt"
	"os"
)

func checkConfig(args []string) int {
	cf := newConfigFlags("check-config", "Validates the configuration exactly as `serve` plans it (settings, rate-limit rules, metering, counter namespaces, stores and backends, nothing opened), prints every error as file:line:col: path: message, and exits 1 if there is any.")
	s, err := cf.parse(args)
	if err != nil {
		if code := exitCode(err); code == 0 {
			return 0
		}
		return 1
	}
	p, err := newPlan(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, w := range p.warnings {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	summary := fmt.Sprintf("config ok: %d rate-limit domains, %d counter namespaces", len(p.rateLimit.Domains()), len(s.Counters.Namespaces))
	if mc := p.metering; mc != nil {
		summary += fmt.Sprintf(", %d tenants, %d plans, %d meters", len(mc.Tenants), len(mc.Plans), len(mc.Meters))
	}
	fmt.Println(summary)
	return 0
}

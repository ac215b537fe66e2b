package ratelimit

import (
	"fmt"
	"strings"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// Rule is a descriptor entry built in code rather than read from YAML (the
// plans of metering): Key and optional Value, its limits, and the entries
// below it.
type Rule struct {
	Key, Value string
	Limits     []Limit
	Rules      []Rule
}

// Limit is one limit of a Rule: RequestsPerUnit per Unit, or per Window
// when Window is set (whole seconds, see CheckWindow).
type Limit struct {
	RequestsPerUnit uint32
	Unit            Unit
	Window          time.Duration
	Algorithm       counter.Algorithm
}

// NewConfig builds a Config of one domain from rules, as LoadConfig would
// from the same descriptors in YAML. Rules built in code come from settings
// that were validated already, so an error here names the rule and is a
// bug of the caller.
func NewConfig(domain string, rules []Rule) (*Config, error) {
	l := loader{cfg: &Config{domains: map[string]*domainConfig{}}}
	dc := &domainConfig{name: domain, file: "(built in code)", root: l.newNode()}
	var errs []string
	var add func(parent *node, rules []Rule, path string)
	add = func(parent *node, rules []Rule, path string) {
		for _, r := range rules {
			child := l.newNode()
			child.key, child.value, child.path = r.Key, r.Value, r.Key
			if r.Value != "" {
				child.path += "_" + r.Value
			}
			if path != "" {
				child.path = path + "." + child.path
			}
			ek := entryKey{r.Key, r.Value}
			if r.Key == "" || isWildcard(r.Value) || parent.children[ek] != nil {
				errs = append(errs, fmt.Sprintf("rule %q: empty key, wildcard value or duplicate entry", child.path))
				continue
			}
			for _, lim := range r.Limits {
				window := lim.Window
				unit := lim.Unit
				if window == 0 {
					window = unit.Duration()
				} else {
					unit = unitFor(window)
				}
				if err := CheckWindow(window); err != nil || window == 0 {
					errs = append(errs, fmt.Sprintf("rule %q: limit window %v: %v", child.path, window, err))
					continue
				}
				child.limits = append(child.limits, newLimit(lim.RequestsPerUnit, unit, window, lim.Algorithm))
			}
			parent.children[ek] = child
			add(child, r.Rules, child.path)
		}
	}
	add(dc.root, rules, "")
	if len(errs) > 0 {
		return nil, fmt.Errorf("ratelimit: cannot build domain %q: %s", domain, strings.Join(errs, "; "))
	}
	l.cfg.domains[domain] = dc
	return l.cfg, nil
}

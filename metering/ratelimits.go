package metering

import (
	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/ratelimit"
)

// Descriptor keys of the RateLimitDomain requests, in entry order.
const (
	entryPlan       = "plan"
	entryTenant     = "tenant"
	entryMethod     = "method"
	entryPathPrefix = "path_prefix"
)

// buildRateLimits turns the plans' rate_limits into a ratelimit.Config of
// domain RateLimitDomain, built in memory. Each plan is an entry
// plan=<name>; below it a value-less tenant entry (one counter per tenant)
// holds the limits without "by", and value-less method and path_prefix
// entries below that hold the limits counted per method and per route
// prefix:
//
//	plan=<name> → tenant → [method →] [path_prefix]
//
// A Check sends one descriptor per shape the plan uses.
func (p *parser) buildRateLimits(cfg *Config) {
	rules := make([]ratelimit.Rule, 0, len(cfg.Plans))
	for _, pl := range cfg.Plans {
		byShape := map[byCombo][]ratelimit.Limit{}
		for _, rl := range pl.RateLimits {
			lim := ratelimit.Limit{RequestsPerUnit: rl.RequestsPerUnit, Window: rl.Window, Algorithm: algorithm(rl.Algorithm)}
			if rl.Unit != "" {
				lim.Unit, _ = ratelimit.ParseUnit(rl.Unit)
			}
			c := byCombo{rl.ByMethod, rl.ByPathPrefix}
			byShape[c] = append(byShape[c], lim)
		}
		tenant := limitRule(entryTenant, byShape[byCombo{}],
			limitRule(entryMethod, byShape[byCombo{method: true}],
				limitRule(entryPathPrefix, byShape[byCombo{method: true, pathPrefix: true}])),
			limitRule(entryPathPrefix, byShape[byCombo{pathPrefix: true}]))
		if tenant == nil {
			continue
		}
		rules = append(rules, ratelimit.Rule{Key: entryPlan, Value: pl.Name, Rules: []ratelimit.Rule{*tenant}})
	}
	rc, err := ratelimit.NewConfig(RateLimitDomain, rules)
	if err != nil {
		p.errorf(nil, "metering.plans", "rate limits rejected by the ratelimit engine: %v (this is a bug; please report it)", err)
		return
	}
	cfg.rateLimit = rc
}

// algorithm maps a validated algorithm name to its counter.Algorithm.
func algorithm(name string) counter.Algorithm {
	switch name {
	case "sliding_window":
		return counter.SlidingWindow
	case "token_bucket":
		return counter.TokenBucket
	}
	return counter.FixedWindow
}

// limitRule returns a value-less rule with limits and the non-nil
// children, or nil when it has neither.
func limitRule(key string, limits []ratelimit.Limit, children ...*ratelimit.Rule) *ratelimit.Rule {
	r := &ratelimit.Rule{Key: key, Limits: limits}
	for _, c := range children {
		if c != nil {
			r.Rules = append(r.Rules, *c)
		}
	}
	if len(limits) == 0 && len(r.Rules) == 0 {
		return nil
	}
	return r
}

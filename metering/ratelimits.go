package metering

import (
	"strconv"

	"gopkg.in/yaml.v3"

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
// domain RateLimitDomain. Each plan is an entry plan=<name>; below it a
// value-less tenant entry (one counter per tenant) holds the limits without
// "by", and value-less method and path_prefix entries below that hold the
// limits counted per method and per route prefix:
//
//	plan=<name> → tenant → [method →] [path_prefix]
//
// A Check sends one descriptor per shape the plan uses. The tree is encoded
// as rate-limit YAML and parsed by ratelimit.ParseConfig, so plans get the
// same limits, and the same checks, as the rate-limit config files.
func (p *parser) buildRateLimits(cfg *Config) {
	descriptors := make([]any, 0, len(cfg.Plans))
	for _, pl := range cfg.Plans {
		byShape := map[byCombo][]any{}
		for _, rl := range pl.RateLimits {
			m := map[string]any{"requests_per_unit": rl.RequestsPerUnit, "algorithm": rl.Algorithm}
			if rl.Unit != "" {
				m["unit"] = rl.Unit
			} else {
				m["window"] = strconv.FormatInt(int64(rl.Window.Seconds()), 10) + "s"
			}
			c := byCombo{rl.ByMethod, rl.ByPathPrefix}
			byShape[c] = append(byShape[c], m)
		}
		tenant := limitEntry(entryTenant, byShape[byCombo{}],
			limitEntry(entryMethod, byShape[byCombo{method: true}],
				limitEntry(entryPathPrefix, byShape[byCombo{method: true, pathPrefix: true}])),
			limitEntry(entryPathPrefix, byShape[byCombo{pathPrefix: true}]))
		if tenant == nil {
			continue
		}
		descriptors = append(descriptors, map[string]any{"key": entryPlan, "value": pl.Name, "descriptors": []any{tenant}})
	}
	data, err := yaml.Marshal(map[string]any{"domain": RateLimitDomain, "descriptors": descriptors})
	if err != nil {
		p.errorf(nil, "metering.plans", "cannot encode the rate limits: %v (this is a bug; please report it)", err)
		return
	}
	rc, err := ratelimit.ParseConfig("metering.plans", data)
	if err != nil {
		p.errorf(nil, "metering.plans", "rate limits rejected by the ratelimit engine: %v (this is a bug; please report it)", err)
		return
	}
	cfg.rateLimit = rc
}

// limitEntry returns a value-less descriptor entry with limits and the
// non-nil children, or nil when it has neither.
func limitEntry(key string, limits []any, children ...any) any {
	m := map[string]any{"key": key}
	if len(limits) > 0 {
		m["rate_limits"] = limits
	}
	var kids []any
	for _, c := range children {
		if c != nil {
			kids = append(kids, c)
		}
	}
	if len(kids) > 0 {
		m["descriptors"] = kids
	}
	if len(limits) == 0 && len(kids) == 0 {
		return nil
	}
	return m
}

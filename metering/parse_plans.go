package metering

// This file parses metering.plans: their rate limits and monthly quotas.

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/internal/yamlconf"
	"github.com/tollgate/tollgate/ratelimit"
)

func (p *parser) plans(cfg *Config, n *yaml.Node) {
	names := seen{}
	for i, item := range p.d.List(n, "metering.plans") {
		path := fmt.Sprintf("metering.plans[%d]", i)
		f, ok := p.d.Mapping(item, path, planKeys...)
		if !ok {
			continue
		}
		plan := &Plan{Name: p.name(f, "name", path, "plan name")}
		if p.dup(names, plan.Name, f.Get("name"), path+".name", "plan") {
			plan.Name = ""
		}
		combos := map[byCombo]bool{}
		for j, rn := range p.d.List(f.Get("rate_limits"), path+".rate_limits") {
			if rl, ok := p.rateLimit(rn, fmt.Sprintf("%s.rate_limits[%d]", path, j)); ok {
				plan.RateLimits = append(plan.RateLimits, rl)
				c := byCombo{rl.ByMethod, rl.ByPathPrefix}
				if !combos[c] {
					combos[c] = true
					plan.combos = append(plan.combos, c)
				}
			}
		}
		quotaNames := seen{}
		for j, qn := range p.d.List(f.Get("quotas"), path+".quotas") {
			qpath := fmt.Sprintf("%s.quotas[%d]", path, j)
			if q, ok := p.quota(qn, qpath); ok && !p.dup(quotaNames, q.Name, qn, qpath, "quota") {
				plan.Quotas = append(plan.Quotas, q)
			}
		}
		cfg.Plans = append(cfg.Plans, *plan)
	}
	for i := range cfg.Plans {
		if cfg.Plans[i].Name != "" {
			cfg.plans[cfg.Plans[i].Name] = &cfg.Plans[i]
		}
	}
}

func (p *parser) rateLimit(n *yaml.Node, path string) (RateLimit, bool) {
	var rl RateLimit
	f, ok := p.d.Mapping(n, path, rateLimitKeys...)
	if !ok {
		return rl, false
	}
	errs := p.d.Count()
	if rn := f.Get("requests_per_unit"); rn == nil {
		p.errorf(f.Node, path, "missing requests_per_unit (hint: the number of requests allowed per unit)")
	} else {
		rl.RequestsPerUnit = uint32(p.integer(rn, path+".requests_per_unit", 0, 1<<32-1, 0))
	}
	un, wn := f.Get("unit"), f.Get("window")
	switch {
	case un != nil && wn != nil:
		p.errorf(wn, path+".window", "unit and window are both set (hint: keep one)")
	case un != nil:
		rl.Unit, _ = p.d.OneOf(un, path+".unit", "second", "minute", "hour", "day", "week", "month", "year")
	case wn != nil:
		if d, ok := p.d.Duration(wn, path+".window"); ok {
			if err := ratelimit.CheckWindow(d); err != nil {
				p.errorf(wn, path+".window", "%s", err)
			} else {
				rl.Window = d
			}
		}
	default:
		p.errorf(f.Node, path, "missing unit or window (hint: add \"unit: minute\" or \"window: 30s\")")
	}
	rl.Algorithm = "fixed_window"
	if an := f.Get("algorithm"); an != nil {
		rl.Algorithm, _ = p.d.OneOf(an, path+".algorithm", "fixed_window", "sliding_window", "token_bucket")
	}
	bn := f.Get("by")
	for j, s := range p.d.Strings(bn, path+".by") {
		item := yamlconf.Resolve(bn).Content[j]
		switch {
		case s == "method" && !rl.ByMethod:
			rl.ByMethod = true
		case s == "path_prefix" && !rl.ByPathPrefix:
			rl.ByPathPrefix = true
		case s == "method" || s == "path_prefix":
			p.errorf(item, fmt.Sprintf("%s.by[%d]", path, j), "%q listed twice", s)
		default:
			p.errorf(item, fmt.Sprintf("%s.by[%d]", path, j), "invalid by %q (valid: method, path_prefix; every limit already counts per tenant)", s)
		}
	}
	return rl, p.d.Count() == errs
}

func (p *parser) quota(n *yaml.Node, path string) (Quota, bool) {
	q := Quota{Name: "monthly", Location: time.UTC, Namespace: DefaultQuotaNamespace}
	f, ok := p.d.Mapping(n, path, quotaKeys...)
	if !ok {
		return q, false
	}
	errs := p.d.Count()
	if f.Get("name") != nil {
		q.Name = p.name(f, "name", path, "quota name")
	}
	if rn := f.Get("requests_per_month"); rn == nil {
		p.errorf(f.Node, path, "missing requests_per_month (hint: the number of requests allowed per calendar month)")
	} else {
		q.RequestsPerMonth = p.integer(rn, path+".requests_per_month", 1, 1<<53, 0)
	}
	if zn := f.Get("time_zone"); zn != nil {
		s, _ := p.d.String(zn, path+".time_zone")
		if loc, err := time.LoadLocation(s); err != nil || s == "" || s == "Local" {
			p.errorf(zn, path+".time_zone", "unknown time zone %q (hint: an IANA name such as UTC or Europe/Berlin)", s)
		} else {
			q.Location = loc
		}
	}
	if f.Get("namespace") != nil {
		q.Namespace = p.name(f, "namespace", path, "namespace")
	}
	return q, p.d.Count() == errs
}

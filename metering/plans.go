package metering

import (
	"strconv"
	"strings"

	"github.com/tollgate/tollgate/internal/httperr"
)

// ruleState is an identification rule with its denial body.
type ruleState struct {
	rule        *RouteIdentification
	missingBody []byte
}

// keyEntry is what an API key hash identifies.
type keyEntry struct {
	hash [32]byte
	tp   *tenantPlan
}

// tenantPlanKey names a (tenant, plan) pair.
type tenantPlanKey struct{ tenant, plan string }

// tenantPlan is the runtime state of requests of one tenant on one plan.
type tenantPlan struct {
	tenant   *Tenant
	plan     *Plan
	upstream [2]Header
	quotas   []planQuota
}

// planQuota is one quota of a plan with the tenant's shared count.
type planQuota struct {
	quota *Quota
	count *quotaCount
	body  []byte
	// token is the quota's part of event ids: "quota.<name>".
	token string
}

// buildPlans resolves every (tenant, plan) pair the config can produce.
func (m *Metering) buildPlans() {
	cfg := m.cfg
	m.plans = map[tenantPlanKey]*tenantPlan{}
	m.bykey = map[[32]byte]keyEntry{}
	get := func(t *Tenant, plan string) *tenantPlan {
		k := tenantPlanKey{t.ID, plan}
		if tp := m.plans[k]; tp != nil {
			return tp
		}
		p := cfg.plans[plan]
		tp := &tenantPlan{tenant: t, plan: p, upstream: [2]Header{{HeaderTenantID, t.ID}, {HeaderPlan, p.Name}}}
		for i := range p.Quotas {
			q := &p.Quotas[i]
			msg := "monthly quota " + strconv.Quote(q.Name) + " of " + strconv.FormatInt(q.RequestsPerMonth, 10) +
				" requests used up (hint: it resets at the start of the next calendar month, " + q.Location.String() + ")"
			tp.quotas = append(tp.quotas, planQuota{quota: q, count: m.quotas.count(t.ID, q), body: httperr.Body("quota_exceeded", msg), token: "quota." + q.Name})
		}
		m.plans[k] = tp
		return tp
	}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		if cfg.tenants[t.ID] != t {
			continue
		}
		get(t, t.Plan)
		for _, k := range t.APIKeys {
			plan := t.Plan
			if k.Plan != "" {
				plan = k.Plan
			}
			m.bykey[k.Hash] = keyEntry{hash: k.Hash, tp: get(t, plan)}
		}
	}
	for i := range cfg.Identification {
		r := &cfg.Identification[i]
		var body []byte
		if r.TrustedHeader != "" {
			body = httperr.Body("missing_credentials", "no authenticated tenant (hint: authenticate first; the "+r.TrustedHeader+" header was not set)")
		} else {
			body = httperr.Body("missing_api_key", "no API key (hint: send it in the "+r.APIKeyHeader+" header)")
		}
		m.rules = append(m.rules, ruleState{rule: r, missingBody: body})
	}
	m.scratch.New = func() any { return new(checkScratch) }
}

// defaultRule identifies paths no configured rule matches.
var defaultRule = ruleState{
	rule:        &RouteIdentification{APIKeyHeader: DefaultAPIKeyHeader},
	missingBody: httperr.Body("missing_api_key", "no API key (hint: send it in the "+DefaultAPIKeyHeader+" header)"),
}

// rule returns the identification rule of path: the longest matching prefix.
func (m *Metering) rule(path string) *ruleState {
	for i := range m.rules {
		if strings.HasPrefix(path, m.rules[i].rule.PathPrefix) {
			return &m.rules[i]
		}
	}
	return &defaultRule
}

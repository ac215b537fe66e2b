package ratelimit

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// decision is the outcome of one ShouldRateLimit call, as counted in
// tollgate_ratelimit_decisions_total{code}.
type decision int

const (
	decisionOK decision = iota
	decisionOverLimit
	decisionShadowOverLimit
	decisionFailOpen
	decisionFailClosed
	numDecisions
)

var decisionCodes = [numDecisions]string{"ok", "over_limit", "shadow_over_limit", "fail_open", "fail_closed"}

// ruleResult is the per-rule result counted for detailed_metric rules.
type ruleResult int

const (
	resultOK ruleResult = iota
	resultOverLimit
	resultShadowOverLimit
	numResults
)

var resultNames = [numResults]string{"ok", "over_limit", "shadow_over_limit"}

// unknownDomain is the domain label of requests for unconfigured domains,
// which keeps the label's values bounded by the config.
const unknownDomain = "unknown"

// metrics are the service's collectors.
type metrics struct {
	decisions     *prometheus.CounterVec
	backendErrors prometheus.Counter
	ruleHits      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_ratelimit_decisions_total",
			Help: "ShouldRateLimit decisions by domain (\"unknown\" for unconfigured domains) and code (ok, over_limit, shadow_over_limit, fail_open, fail_closed).",
		}, []string{"domain", "code"}),
		backendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_ratelimit_backend_errors_total",
			Help: "ShouldRateLimit calls whose counter backend failed; the failure mode decided them.",
		}),
		ruleHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_ratelimit_rule_hits_total",
			Help: "Hits on rules with detailed_metric, by domain, rule path and result (ok, over_limit, shadow_over_limit).",
		}, []string{"domain", "rule", "result"}),
	}
	// Services sharing a registry (the sidecar's and metering's) share the
	// collectors: their decisions differ by domain label.
	var err error
	if m.decisions, err = register(reg, m.decisions); err != nil {
		return nil, err
	}
	if m.backendErrors, err = register(reg, m.backendErrors); err != nil {
		return nil, err
	}
	if m.ruleHits, err = register(reg, m.ruleHits); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the equal collector registered already.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// decisionCounters are the decision children of one domain label.
type decisionCounters [numDecisions]prometheus.Counter

func (m *metrics) decisionCounters(domain string) *decisionCounters {
	var d decisionCounters
	for i := range d {
		d[i] = m.decisions.WithLabelValues(domain, decisionCodes[i])
	}
	return &d
}

// ruleCounters are the result children of one rule label.
type ruleCounters [numResults]prometheus.Counter

func (m *metrics) ruleCounters(domain, rule string) *ruleCounters {
	var r ruleCounters
	for i := range r {
		r[i] = m.ruleHits.WithLabelValues(domain, rule, resultNames[i])
	}
	return &r
}

package rlqs

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/ratelimit"
)

// metrics are the server's Prometheus metrics. Labels carry domains and
// detailed_metric rules only, never bucket values.
type metrics struct {
	streams, buckets                         prometheus.Gauge
	actionsVec                               *prometheus.CounterVec
	requestsVec, ruleRequestsVec             *prometheus.CounterVec
	shadowVec                                *prometheus.CounterVec
	demandVec, assignedVec                   *prometheus.GaugeVec
	reportInterval                           prometheus.Histogram
	backendErrors, usageErrors, overCapacity prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_rlqs_streams", Help: "Open RLQS streams (one per Envoy)."}),
		buckets: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_rlqs_buckets", Help: "RLQS buckets tracked across all streams."}),
		actionsVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_rlqs_assignments_total",
			Help: "Bucket actions sent to Envoys, by domain and action (allow_all, deny_all, token_bucket, abandon).",
		}, []string{"domain", "action"}),
		requestsVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_rlqs_requests_total",
			Help: "Requests Envoys reported, by domain and result (allowed, denied): the demand.",
		}, []string{"domain", "result"}),
		ruleRequestsVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_rlqs_rule_requests_total",
			Help: "Requests Envoys reported for detailed_metric rules, by domain, rule and result.",
		}, []string{"domain", "rule", "result"}),
		shadowVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_rlqs_shadow_limited_total",
			Help: "Assignments that shadow mode turned into ALLOW_ALL, by domain.",
		}, []string{"domain"}),
		demandVec: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tollgate_rlqs_demand_requests_per_second",
			Help: "Requests per second this replica's Envoys ask for (allowed and denied), summed over the domain's buckets.",
		}, []string{"domain"}),
		assignedVec: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tollgate_rlqs_assigned_requests_per_second",
			Help: "Requests per second assigned as token buckets, summed over the domain's buckets (ALLOW_ALL buckets not included).",
		}, []string{"domain"}),
		reportInterval: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tollgate_rlqs_report_interval_seconds",
			Help:    "Time between one stream's periodic reports (the reporting interval plus its lag).",
			Buckets: []float64{.1, .25, .5, 1, 1.5, 2, 3, 5, 10, 30},
		}),
		backendErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "tollgate_rlqs_backend_errors_total", Help: "Failed publications of RLQS demand or admissions to the best-effort backend."}),
		usageErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "tollgate_rlqs_usage_errors_total", Help: "Reports whose allowed requests could not be metered."}),
		overCapacity:  prometheus.NewCounter(prometheus.CounterOpts{Name: "tollgate_rlqs_buckets_over_capacity_total", Help: "New buckets answered without being tracked, because MaxBuckets were tracked already."}),
	}
	for _, c := range []prometheus.Collector{m.streams, m.buckets, m.actionsVec, m.requestsVec, m.ruleRequestsVec,
		m.shadowVec, m.demandVec, m.assignedVec, m.reportInterval, m.backendErrors, m.usageErrors, m.overCapacity} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) actions(domain string, k ActionKind) {
	m.actionsVec.WithLabelValues(domain, k.String()).Inc()
}

func (m *metrics) requests(domain string, match ratelimit.BucketMatch, allowed, denied uint64) {
	m.requestsVec.WithLabelValues(domain, "allowed").Add(float64(allowed))
	m.requestsVec.WithLabelValues(domain, "denied").Add(float64(denied))
	if match.DetailedMetric {
		m.ruleRequestsVec.WithLabelValues(domain, match.Rule, "allowed").Add(float64(allowed))
		m.ruleRequestsVec.WithLabelValues(domain, match.Rule, "denied").Add(float64(denied))
	}
}

func (m *metrics) shadowed(domain string) {
	m.shadowVec.WithLabelValues(domain).Inc()
}

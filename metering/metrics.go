package metering

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/ratelimit"
)

// Backends whose failures metering counts.
const (
	backendSpool = iota
	backendQuota
	backendRateLimit
	numBackends
)

var backendNames = [numBackends]string{"spool", "quota", "ratelimit"}

// metrics are metering's Prometheus metrics, children resolved at Open.
type metrics struct {
	checks             [numResults]prometheus.Counter
	failures           [numBackends][2]prometheus.Counter
	quotaRefreshErrors prometheus.Counter
	accessLogRecorded  prometheus.Counter
	accessLogUnknown   prometheus.Counter
	ingested           prometheus.Counter
	ingestRefused      prometheus.Counter
	// clamped counts event times set to now for a request start outside
	// their namespace's accept window, by source (SourceAuthz,
	// SourceAccessLog).
	clamped [SourceAccessLog + 1]prometheus.Counter
	// lastLog is the Unix nanosecond time an error was last logged.
	lastLog atomic.Int64
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	checks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_metering_checks_total",
		Help: "ext_authz Checks by result: allowed, missing_credentials, invalid_credentials, rate_limited, quota_exceeded, unavailable.",
	}, []string{"result"})
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_metering_backend_failures_total",
		Help: "Checks that met a failing backend (spool, quota, ratelimit), by the failure mode applied (fail_open, fail_closed).",
	}, []string{"backend", "mode"})
	refresh := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tollgate_metering_quota_refresh_errors_total",
		Help: "Quota refreshes in which some quota count could not be read.",
	})
	entries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_metering_access_log_entries_total",
		Help: "Access log entries by result: recorded, unknown_tenant (not metered).",
	}, []string{"result"})
	ingest := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_metering_ingested_events_total",
		Help: "CloudEvents posted to /v1/events, by result: accepted (in the spool) or refused.",
	}, []string{"result"})
	clamped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_metering_clamped_times_total",
		Help: "Events of Checks and access log entries whose request start was outside their namespace's accept window around now, recorded at the arrival time instead, by source (authz, access_log).",
	}, []string{"source"})
	for _, c := range []prometheus.Collector{checks, failures, refresh, entries, ingest, clamped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m := &metrics{
		quotaRefreshErrors: refresh,
		accessLogRecorded:  entries.WithLabelValues("recorded"),
		accessLogUnknown:   entries.WithLabelValues("unknown_tenant"),
		ingested:           ingest.WithLabelValues("accepted"),
		ingestRefused:      ingest.WithLabelValues("refused"),
	}
	for _, src := range []Source{SourceAuthz, SourceAccessLog} {
		m.clamped[src] = clamped.WithLabelValues(src.String())
	}
	for i, name := range resultNames {
		m.checks[i] = checks.WithLabelValues(name)
	}
	for b, name := range backendNames {
		for _, mode := range []ratelimit.FailureMode{ratelimit.FailOpen, ratelimit.FailClosed} {
			m.failures[b][mode] = failures.WithLabelValues(name, mode.String())
		}
	}
	return m, nil
}

func (m *metrics) backendFailure(backend int, mode ratelimit.FailureMode) {
	m.failures[backend][mode].Inc()
}

// logThrottled logs a backend error at most once a second.
func (m *Metering) logThrottled(now time.Time, msg string, err error) {
	last := m.metrics.lastLog.Load()
	if n := now.UnixNano(); n-last >= int64(time.Second) && m.metrics.lastLog.CompareAndSwap(last, n) {
		m.log.Warn(msg, "failure_mode", m.cfg.FailureMode.String(), "err", err)
	}
}

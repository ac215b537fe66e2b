package redis

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Store's Prometheus collectors, resolved once.
type metrics struct {
	applyDur, flushDur prometheus.Observer
	errors             prometheus.Counter
	coalesced          prometheus.Counter
	cacheHits          prometheus.Counter
	breakerState       prometheus.Gauge
	breakerOpens       prometheus.Counter
}

// durationBuckets reach from 50µs (a loopback round trip) to 250ms.
var durationBuckets = []float64{50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	backend := prometheus.Labels{"backend": "redis"}
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:        "tollgate_counter_op_duration_seconds",
		Help:        "Time a best-effort counter backend took per operation.",
		ConstLabels: backend,
		Buckets:     durationBuckets,
	}, []string{"op"})
	errs := prometheus.NewCounter(prometheus.CounterOpts{
		Name:        "tollgate_counter_errors_total",
		Help:        "Best-effort counter operations that failed.",
		ConstLabels: backend,
	})
	coalesced := prometheus.NewCounter(prometheus.CounterOpts{
		Name:        "tollgate_counter_coalesced_hits_total",
		Help:        "Fixed-window hits merged into another caller's increment of the same key.",
		ConstLabels: backend,
	})
	cacheHits := prometheus.NewCounter(prometheus.CounterOpts{
		Name:        "tollgate_counter_overlimit_cache_hits_total",
		Help:        "Fixed-window hits answered over limit from the local cache without a round trip.",
		ConstLabels: backend,
	})
	state := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "tollgate_redis_breaker_state",
		Help: "The Redis circuit breaker: 0 closed (calls go to Redis), 1 open (calls fail at once, the failure mode answers), 2 half-open (one probe call out).",
	})
	opens := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tollgate_redis_breaker_opens_total",
		Help: "Times the Redis circuit breaker opened after failed calls in a row.",
	})
	if reg != nil {
		var errsReg []error
		for _, c := range []prometheus.Collector{dur, errs, coalesced, cacheHits, state, opens} {
			if err := reg.Register(c); err != nil {
				errsReg = append(errsReg, err)
			}
		}
		if err := errors.Join(errsReg...); err != nil {
			return nil, err
		}
	}
	return &metrics{
		applyDur:     dur.WithLabelValues("apply"),
		flushDur:     dur.WithLabelValues("flush"),
		errors:       errs,
		coalesced:    coalesced,
		cacheHits:    cacheHits,
		breakerState: state,
		breakerOpens: opens,
	}, nil
}

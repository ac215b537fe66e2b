package spool

import "github.com/prometheus/client_golang/prometheus"

// metrics are the spool's Prometheus metrics.
type metrics struct {
	depth        prometheus.Gauge
	lag          prometheus.Gauge
	appended     prometheus.Counter
	appendErrors prometheus.Counter
	shipped      prometheus.Counter
	shipErrors   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		depth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_metering_spool_events",
			Help: "Metering events in the local spool, not yet acknowledged by the counter store.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tollgate_metering_ship_lag_seconds",
			Help: "Age of the oldest spooled event when the shipper last looked; 0 when the spool is empty.",
		}),
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_metering_spooled_events_total",
			Help: "Metering events made durable in the local spool.",
		}),
		appendErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_metering_spool_errors_total",
			Help: "Failed spool appends.",
		}),
		shipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_metering_shipped_events_total",
			Help: "Metering events acknowledged by the counter store and removed from the spool.",
		}),
		shipErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_metering_ship_errors_total",
			Help: "Failed shipments to the counter store; each is retried.",
		}),
	}
	for _, c := range []prometheus.Collector{m.depth, m.lag, m.appended, m.appendErrors, m.shipped, m.shipErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

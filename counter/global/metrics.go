package global

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Operations labelled in tollgate_counter_api_duration_seconds.
const (
	opAdd = iota
	opAddAndGet
	opGet
	opClear
	opSum
	opBatchAdd
	numOps
)

var opNames = [numOps]string{"add", "add_and_get", "get", "clear", "sum", "batch_add"}

// metrics holds the metric children resolved at construction.
type metrics struct {
	// api is indexed by Type and op; BatchAdd, which mixes types, uses
	// type 0 (label "mixed").
	api           [Accurate + 1][numOps]prometheus.Observer
	rollupsOK     prometheus.Counter
	rollupsFailed prometheus.Counter
	rollupLag     prometheus.Observer
	dropped       prometheus.Counter
	slowAppends   prometheus.Counter
	accurateReads [numReadPaths]prometheus.Counter
}

// newMetrics registers the metrics on reg; depth reports the queued counters.
func newMetrics(reg prometheus.Registerer, depth func() float64) *metrics {
	f := promauto.With(reg)
	api := f.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tollgate_counter_api_duration_seconds",
		Help:    "Duration of counter API calls by namespace type and operation.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"type", "op"})
	rollups := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_counter_rollups_total",
		Help: "Counter rollups by result (ok, error).",
	}, []string{"result"})
	m := &metrics{
		rollupsOK:     rollups.WithLabelValues("ok"),
		rollupsFailed: rollups.WithLabelValues("error"),
		rollupLag: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "tollgate_counter_rollup_lag_seconds",
			Help:    "Time from a counter's last write to the rollup whose checkpoint covers it.",
			Buckets: []float64{1, 2, 5, 6, 7, 8, 10, 15, 30, 60, 300},
		}),
		dropped: f.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_counter_rollup_dropped_total",
			Help: "Rollup requests dropped because their queue was full.",
		}),
		slowAppends: f.NewCounter(prometheus.CounterOpts{
			Name: "tollgate_counter_slow_appends_total",
			Help: "Adds whose append took longer than the namespace's clock_skew; a concurrent rollup, and so both counts, may have missed them.",
		}),
	}
	reads := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tollgate_counter_accurate_reads_total",
		Help: "Accurate counts read (by GetCount and AddAndGetCount of accurate namespaces, and before every add to a durable namespace, for its overflow check) by path: incremental (events since the last read) or full (events since the checkpoint: the first read, one per max_read_gap, or after a late event).",
	}, []string{"path"})
	for p := range numReadPaths {
		m.accurateReads[p] = reads.WithLabelValues(readPathNames[p])
	}
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tollgate_counter_rollup_queue_depth",
		Help: "Counters waiting in the rollup queues.",
	}, depth)
	m.api[0][opBatchAdd] = api.WithLabelValues("mixed", opNames[opBatchAdd])
	for t := BestEffort; t <= Accurate; t++ {
		for op := range opBatchAdd {
			m.api[t][op] = api.WithLabelValues(t.String(), opNames[op])
		}
	}
	return m
}

package console

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tollgate/tollgate/internal/httperr"
)

// Metrics /v1/stats reads.
const (
	metricDecisions  = "tollgate_ratelimit_decisions_total"
	metricSpoolDepth = "tollgate_metering_spool_events"
	metricShipLag    = "tollgate_metering_ship_lag_seconds"
	metricShipErrors = "tollgate_metering_ship_errors_total"
)

// Stats is the answer of /v1/stats.
type Stats struct {
	// At is when the metrics were gathered.
	At time.Time `json:"at"`
	// Decisions are the rate-limit decisions counted since the process
	// started, by domain then code; pairs not counted yet are left out.
	Decisions []Decisions `json:"ratelimit_decisions"`
	// Metering is the metering pipeline's health; nil without metering.
	Metering *Pipeline `json:"metering"`
}

// Decisions counts one domain's decisions with one code.
type Decisions struct {
	Domain string `json:"domain"`
	Code   string `json:"code"`
	Count  int64  `json:"count"`
}

// Pipeline is the metering spool's state.
type Pipeline struct {
	// SpoolEvents is the number of events not yet acknowledged by the
	// counter store.
	SpoolEvents int64 `json:"spool_events"`
	// ShipLagSeconds is the age of the oldest spooled event.
	ShipLagSeconds float64 `json:"ship_lag_seconds"`
	// ShipErrors counts failed shipments since the process started.
	ShipErrors int64 `json:"ship_errors_total"`
}

// StatsHandler returns the handler of GET /v1/stats: the selected metrics
// of g as Stats. now stamps the answer.
func StatsHandler(g prometheus.Gatherer, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			httperr.Write(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed (hint: use GET)")
			return
		}
		families, err := g.Gather()
		if err != nil {
			httperr.Write(w, http.StatusInternalServerError, "internal", "cannot gather the process metrics: "+err.Error())
			return
		}
		writeJSON(w, stats(families, now()))
	})
}

// stats picks Stats out of gathered metric families.
func stats(families []*dto.MetricFamily, at time.Time) Stats {
	s := Stats{At: at.UTC(), Decisions: []Decisions{}}
	var p Pipeline
	seen := false
	for _, f := range families {
		switch f.GetName() {
		case metricDecisions:
			for _, m := range f.GetMetric() {
				d := Decisions{Count: int64(m.GetCounter().GetValue())}
				if d.Count == 0 {
					continue // pre-resolved children nothing has counted yet
				}
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "domain":
						d.Domain = l.GetValue()
					case "code":
						d.Code = l.GetValue()
					}
				}
				s.Decisions = append(s.Decisions, d)
			}
		case metricSpoolDepth:
			seen = true
			p.SpoolEvents = int64(sum(f))
		case metricShipLag:
			seen = true
			p.ShipLagSeconds = sum(f)
		case metricShipErrors:
			seen = true
			p.ShipErrors = int64(sum(f))
		}
	}
	slices.SortFunc(s.Decisions, func(a, b Decisions) int {
		return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Code, b.Code))
	})
	if seen {
		s.Metering = &p
	}
	return s
}

// sum adds the values of a family's gauges and counters.
func sum(f *dto.MetricFamily) float64 {
	var v float64
	for _, m := range f.GetMetric() {
		v += m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	return v
}

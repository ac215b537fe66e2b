package console_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tollgate/tollgate/console"
)

func TestHandlerServesEmbeddedAssets(t *testing.T) {
	h := console.Handler()
	for _, tc := range []struct {
		method, path string
		status       int
		ctype        string
		contains     string
	}{
		{"GET", "/ui/", 200, "text/html; charset=utf-8", `<script src="console.js"></script>`},
		{"GET", "/ui/console.js", 200, "text/javascript; charset=utf-8", "window.tollgateConsole"},
		{"GET", "/ui/console.css", 200, "text/css; charset=utf-8", "@media (max-width: 700px)"},
		{"GET", "/ui/vendor/uplot-1.6.32/uPlot.iife.min.js", 200, "text/javascript; charset=utf-8", "uPlot"},
		{"GET", "/ui/vendor/uplot-1.6.32/LICENSE", 200, "text/plain; charset=utf-8", "The MIT License"},
		{"GET", "/ui/nothing.js", 404, "text/plain; charset=utf-8", "404 page not found"},
		{"POST", "/ui/", 405, "application/json", `{"error":{"code":"method_not_allowed","message":"POST is not allowed (hint: use GET)"}}`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Content-Type") != tc.ctype || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("%s %s: %d %q, want %d %q with %q", tc.method, tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.status, tc.ctype, tc.contains)
		}
		if tc.status == 200 && !strings.HasPrefix(rec.Header().Get("Content-Security-Policy"), "default-src 'self';") {
			t.Errorf("%s: Content-Security-Policy %q, want default-src 'self'", tc.path, rec.Header().Get("Content-Security-Policy"))
		}
	}
}

// registry holds the metrics /v1/stats reads, named and labelled as
// ratelimit and metering/spool register them.
func registry(t *testing.T, withSpool bool) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tollgate_ratelimit_decisions_total", Help: "h"}, []string{"domain", "code"})
	reg.MustRegister(decisions, prometheus.NewCounter(prometheus.CounterOpts{Name: "tollgate_other_total", Help: "h"}))
	decisions.WithLabelValues("web", "over_limit").Add(2)
	decisions.WithLabelValues("web", "ok").Add(40)
	decisions.WithLabelValues("api", "ok").Add(7)
	decisions.WithLabelValues("api", "fail_open") // resolved, never counted
	if withSpool {
		depth := prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_metering_spool_events", Help: "h"})
		lag := prometheus.NewGauge(prometheus.GaugeOpts{Name: "tollgate_metering_ship_lag_seconds", Help: "h"})
		errs := prometheus.NewCounter(prometheus.CounterOpts{Name: "tollgate_metering_ship_errors_total", Help: "h"})
		reg.MustRegister(depth, lag, errs)
		depth.Set(12)
		lag.Set(1.5)
		errs.Add(3)
	}
	return reg
}

func TestStatsHandler(t *testing.T) {
	at := func() time.Time { return time.Date(2024, 2, 1, 12, 0, 0, 0, time.FixedZone("x", 3600)) }
	for _, tc := range []struct {
		name string
		g    prometheus.Gatherer
		want string
	}{
		{"with metering", registry(t, true),
			`{"at":"2024-02-01T11:00:00Z","ratelimit_decisions":[{"domain":"api","code":"ok","count":7},{"domain":"web","code":"ok","count":40},{"domain":"web","code":"over_limit","count":2}],"metering":{"spool_events":12,"ship_lag_seconds":1.5,"ship_errors_total":3}}`},
		{"without metering", registry(t, false),
			`{"at":"2024-02-01T11:00:00Z","ratelimit_decisions":[{"domain":"api","code":"ok","count":7},{"domain":"web","code":"ok","count":40},{"domain":"web","code":"over_limit","count":2}],"metering":null}`},
		{"nothing registered", prometheus.NewRegistry(), `{"at":"2024-02-01T11:00:00Z","ratelimit_decisions":[],"metering":null}`},
	} {
		rec := httptest.NewRecorder()
		console.StatsHandler(tc.g, at).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/stats", nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != tc.want+"\n" {
			t.Errorf("%s: %d %q\n%s\nwant 200 application/json\n%s", tc.name, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), tc.want)
		}
	}
}

type failingGatherer struct{}

func (failingGatherer) Gather() ([]*dto.MetricFamily, error) {
	return nil, errors.New("collector broke")
}

func TestStatsHandlerErrors(t *testing.T) {
	for _, tc := range []struct {
		method string
		g      prometheus.Gatherer
		status int
		body   string
	}{
		{"GET", failingGatherer{}, 500, `{"error":{"code":"internal","message":"cannot gather the process metrics: collector broke"}}`},
		{"POST", prometheus.NewRegistry(), 405, `{"error":{"code":"method_not_allowed","message":"POST is not allowed (hint: use GET)"}}`},
	} {
		rec := httptest.NewRecorder()
		console.StatsHandler(tc.g, time.Now).ServeHTTP(rec, httptest.NewRequest(tc.method, "/v1/stats", nil))
		if rec.Code != tc.status || rec.Body.String() != tc.body+"\n" {
			t.Errorf("%s: %d %s, want %d %s", tc.method, rec.Code, rec.Body.String(), tc.status, tc.body)
		}
	}
}

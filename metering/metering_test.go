package metering

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRunShipsAndCloseFlushes(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, quickstart(t), time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC), func(o *Options) { o.Registerer = reg })
	done := make(chan error)
	go func() { done <- h.m.Run(t.Context()) }()
	for i := range 3 {
		if res := h.check(t, "GET", "/v1/x", "r"+string(rune('a'+i)), acmeKey); !res.Allowed {
			t.Fatalf("denied: %s", res.Body)
		}
	}
	if res := h.check(t, "GET", "/v1/x", "", nil); res.Status != 401 {
		t.Fatalf("status %d", res.Status)
	}
	if err := h.m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := h.m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got := h.sum(t, "requests", "acme"); got != 3 {
		t.Errorf("requests after Close = %d, want 3", got)
	}
	if got := testutil.ToFloat64(h.m.metrics.checks[resultAllowed]); got != 3 {
		t.Errorf("allowed checks = %v", got)
	}
	if got := testutil.ToFloat64(h.m.metrics.checks[resultMissingCredentials]); got != 1 {
		t.Errorf("missing credentials = %v", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}

func TestOptionsValidate(t *testing.T) {
	cfg := mustParse(t, quickstart(t))
	_, err := Open(t.Context(), Options{Config: cfg})
	want := "metering: Options.DataDir is empty (hint: pass the sidecar's data directory)\n" +
		"metering: Options.Sink is nil (hint: pass the durable counter writer)\n" +
		"metering: Options.Counts is nil but plans have quotas (hint: pass the accurate counter reader)\n" +
		"metering: Options.RateLimiter is nil but plans have rate_limits (hint: pass a ratelimit.Service built on Config.RateLimitConfig())"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v", err)
	}
}

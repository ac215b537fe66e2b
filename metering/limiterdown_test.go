package metering

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/ratelimit"
)

// downCounter is a best-effort backend that cannot be reached (Redis down).
type downCounter struct{}

func (downCounter) Apply(context.Context, time.Time, []counter.Hit, []counter.Outcome) error {
	return fmt.Errorf("dial tcp 127.0.0.1:1: connection refused: %w", counter.ErrUnavailable)
}

// TestRateLimitBackendDown: with the plans' rate-limit backend down, Check
// follows metering's failure_mode: fail_closed answers 503 unavailable (not
// 429 with Retry-After 0), fail_open admits; both count the failure.
func TestRateLimitBackendDown(t *testing.T) {
	for _, tc := range []struct {
		mode   ratelimit.FailureMode
		status int
		body   string
	}{
		{ratelimit.FailClosed, 503, `{"error":{"code":"unavailable","message":"metering is temporarily unavailable (hint: retry shortly)"}}`},
		{ratelimit.FailOpen, 200, ``},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			doc := strings.Replace(quickstart(t), "failure_mode: fail_closed", "failure_mode: "+tc.mode.String(), 1)
			h := newHarness(t, doc, time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC), func(o *Options) {
				rl, err := ratelimit.New(ratelimit.Options{Counter: downCounter{}, Now: o.Now, FailureMode: tc.mode}, o.Config.RateLimitConfig())
				if err != nil {
					t.Fatal(err)
				}
				o.RateLimiter = rl
			})
			res := h.check(t, "GET", "/v1/x", "r1", acmeKey)
			if res.Status != tc.status || string(res.Body) != tc.body {
				t.Fatalf("Check = %d %s %v, want %d %s", res.Status, res.Body, res.ResponseHeaders, tc.status, tc.body)
			}
			if got := testutil.ToFloat64(h.m.metrics.failures[backendRateLimit][tc.mode]); got != 1 {
				t.Errorf("tollgate_metering_backend_failures_total{backend=\"ratelimit\"} = %v, want 1", got)
			}
		})
	}
}

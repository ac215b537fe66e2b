package metering

import (
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRequestStartClamped checks that a Check or access log entry starting
// outside the narrowest accept window around now (here the quota
// namespace's 10 s back and 2 s ahead, narrower than the meters' hour) is
// recorded at now and counted, and that one inside keeps its start. Years
// 2999 and 0001 would wrap in the spool's Unix nanoseconds.
func TestRequestStartClamped(t *testing.T) {
	now := time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, quickstart(t), now, func(o *Options) {
		o.AcceptWindow = func(ns string) (time.Duration, time.Duration) {
			if ns == DefaultQuotaNamespace {
				return 10 * time.Second, 2 * time.Second
			}
			return time.Hour, time.Hour
		}
	})
	year := func(y int) func(time.Time) time.Time {
		return func(time.Time) time.Time { return time.Date(y, 1, 2, 0, 0, 0, 0, time.UTC) }
	}
	off := func(d time.Duration) func(time.Time) time.Time {
		return func(now time.Time) time.Time { return now.Add(d) }
	}
	for i, tc := range []struct {
		start func(now time.Time) time.Time
		kept  bool
	}{
		{year(2999), false},
		{year(1), false},
		{off(-10*time.Second - 1), false},
		{off(2*time.Second + 1), false},
		{func(time.Time) time.Time { return time.Time{} }, false},
		{off(-10 * time.Second), true},
		{off(2 * time.Second), true},
	} {
		now = now.Add(20 * time.Second)
		h.clock.Set(now)
		if err := h.m.RefreshQuotas(t.Context()); err != nil {
			t.Fatal(err)
		}
		start, want := tc.start(now), now
		if tc.kept {
			want = start
		}
		id := "r" + strconv.Itoa(i)
		var res CheckResult
		h.m.Check(t.Context(), &CheckRequest{Method: "GET", Path: "/v1/x", Headers: acmeKey, RequestID: id, Start: start}, &res)
		if res.Status != 200 {
			t.Fatalf("Check starting %s: %d %s", start, res.Status, res.Body)
		}
		err := h.m.RecordAccessLog(t.Context(), AccessLogEntry{Tenant: "acme", Plan: "demo", Method: "GET", Path: "/v1/x", Status: 200, ResponseBodyBytes: 10, RequestID: id, Start: start})
		if err != nil {
			t.Fatal(err)
		}
		h.flush(t)
		at := func(ns, c string) int64 {
			n, err := h.store.Sum(t.Context(), ns, c, want, want.Add(time.Nanosecond))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if got := [3]int64{at("requests", "acme"), at(DefaultQuotaNamespace, "acme/monthly/2024-05"), at("egress_bytes", "acme")}; got != [3]int64{1, 1, 10} {
			t.Errorf("start %s: requests, quota, egress_bytes at %s = %v, want [1 1 10]", start, want, got)
		}
	}
	for _, src := range []Source{SourceAuthz, SourceAccessLog} {
		if got := testutil.ToFloat64(h.m.metrics.clamped[src]); got != 4 {
			t.Errorf("tollgate_metering_clamped_times_total{source=%q} = %v, want 4", src, got)
		}
	}
}

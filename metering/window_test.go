package metering

import (
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRequestStartClamped checks that each event of a Check or access log
// entry starting outside its namespace's accept window around now (the quota
// namespace's 10 s back and 2 s ahead, the meters' hour) is recorded at now
// and counted, and that one inside keeps the start. Years 2999 and 0001
// would wrap in the spool's Unix nanoseconds.
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
		// keptByQuota and keptByMeters say whether the quota's and the
		// meters' events keep the start.
		keptByQuota, keptByMeters bool
	}{
		{year(2999), false, false},
		{year(1), false, false},
		{off(-2 * time.Hour), false, false},
		{func(time.Time) time.Time { return time.Time{} }, false, false},
		{off(-10*time.Second - 1), false, true},
		{off(2*time.Second + 1), false, true},
		{off(-10 * time.Second), true, true},
		{off(2 * time.Second), true, true},
	} {
		now = now.Add(20 * time.Second)
		h.clock.Set(now)
		if err := h.m.RefreshQuotas(t.Context()); err != nil {
			t.Fatal(err)
		}
		start := tc.start(now)
		at := func(kept bool) time.Time {
			if kept {
				return start
			}
			return now
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
		sumAt := func(ns, c string, when time.Time) int64 {
			n, err := h.store.Sum(t.Context(), ns, c, when, when.Add(time.Nanosecond))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		got := [3]int64{
			sumAt(DefaultQuotaNamespace, "acme/monthly/2024-05", at(tc.keptByQuota)),
			sumAt("requests", "acme", at(tc.keptByMeters)),
			sumAt("egress_bytes", "acme", at(tc.keptByMeters)),
		}
		if got != [3]int64{1, 1, 10} {
			t.Errorf("start %s: quota at %s, requests and egress_bytes at %s = %v, want [1 1 10]", start, at(tc.keptByQuota), at(tc.keptByMeters), got)
		}
	}
	// authz: quota and requests of the three far starts, the quota of the
	// two just outside its window; access_log: egress_bytes of the far ones.
	for src, want := range map[Source]float64{SourceAuthz: 8, SourceAccessLog: 3} {
		if got := testutil.ToFloat64(h.m.metrics.clamped[src]); got != want {
			t.Errorf("tollgate_metering_clamped_times_total{source=%q} = %v, want %v", src, got, want)
		}
	}
}

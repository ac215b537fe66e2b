package metering

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollgate/tollgate/counter"
	cpebble "github.com/tollgate/tollgate/counter/pebble"
)

const quotaStatusDoc = `metering:
  tenants:
    - {id: acme, plan: pro}
    - {id: beta, plan: free}
  identification:
    - {path_prefix: /, api_key_header: x-api-key}
  plans:
    - name: pro
      quotas:
        - {name: monthly, requests_per_month: 1000}
        - {name: berlin, requests_per_month: 100, time_zone: Europe/Berlin}
        - {name: spare, requests_per_month: 1000000}
    - name: free
  meters:
    - {name: requests, source: authz, value: requests}
`

// quotaStatusReporter returns a Reporter at now over a store where acme's
// quota counters hold: monthly 500 in February 2024 (UTC) and 9 in
// January; berlin 100 in February (Berlin).
func quotaStatusReporter(t *testing.T, now time.Time) *Reporter {
	t.Helper()
	st, err := cpebble.Open(cpebble.Options{Dir: "/q", FS: vfs.NewMem(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	evs := []counter.Event{
		{Namespace: DefaultQuotaNamespace, Counter: "acme/monthly/2024-01", Time: ts("2024-01-20T10:00:00Z"), ID: "a", Delta: 9},
		{Namespace: DefaultQuotaNamespace, Counter: "acme/monthly/2024-02", Time: ts("2024-02-02T10:00:00Z"), ID: "b", Delta: 200},
		{Namespace: DefaultQuotaNamespace, Counter: "acme/monthly/2024-02", Time: ts("2024-02-10T10:00:00Z"), ID: "c", Delta: 300},
		{Namespace: DefaultQuotaNamespace, Counter: "acme/berlin/2024-02", Time: ts("2024-01-31T23:30:00Z"), ID: "d", Delta: 100},
	}
	if err := st.Append(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	r, err := NewReporter(ReporterOptions{Config: mustParse(t, quotaStatusDoc), Reader: st, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestQuotaStatus(t *testing.T) {
	// 11 Feb 00:00Z: 10 of February's 29 days gone; 500 of 1000 used, so at
	// that rate the monthly quota runs out after 20 days, on 21 Feb.
	now := ts("2024-02-11T00:00:00Z")
	r := quotaStatusReporter(t, now)
	got, err := r.QuotaStatus(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	runsOut := ts("2024-02-21T00:00:00Z")
	want := QuotaStatusReport{Tenant: "acme", Plan: "pro", At: now, Quotas: []QuotaStatus{
		{Name: "monthly", Limit: 1000, Used: 500, TimeZone: "UTC", MonthStart: ts("2024-02-01T00:00:00Z"), MonthEnd: ts("2024-03-01T00:00:00Z"),
			ProjectedExhaustion: &runsOut},
		{Name: "berlin", Limit: 100, Used: 100, TimeZone: "Europe/Berlin",
			MonthStart: time.Date(2024, 2, 1, 0, 0, 0, 0, berlin), MonthEnd: time.Date(2024, 3, 1, 0, 0, 0, 0, berlin), Exhausted: true},
		{Name: "spare", Limit: 1000000, Used: 0, TimeZone: "UTC", MonthStart: ts("2024-02-01T00:00:00Z"), MonthEnd: ts("2024-03-01T00:00:00Z")},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}

	free, err := r.QuotaStatus(t.Context(), "beta")
	if err != nil || free.Plan != "free" || free.Quotas == nil || len(free.Quotas) != 0 {
		t.Errorf("a plan without quotas: got %+v %v, want plan free and an empty, non-nil list", free, err)
	}
	if _, err := r.QuotaStatus(t.Context(), "zeta"); !errors.Is(err, ErrUnknownTenant) ||
		err.Error() != `metering: unknown tenant "zeta" (hint: use a tenant id from config)` {
		t.Errorf("unknown tenant: %v", err)
	}
	if _, err := r.QuotaStatus(t.Context(), ""); !errors.Is(err, ErrInvalidQuery) ||
		err.Error() != "metering: invalid query: missing tenant (hint: the tenant id from config)" {
		t.Errorf("missing tenant: %v", err)
	}
}

func TestProjectExhaustion(t *testing.T) {
	start, end := ts("2024-02-01T00:00:00Z"), ts("2024-03-01T00:00:00Z")
	day10 := ts("2024-02-11T00:00:00Z")
	for _, tc := range []struct {
		name        string
		used, limit int64
		now         time.Time
		want        string
	}{
		{"half used in 10 days", 500, 1000, day10, "2024-02-21T00:00:00Z"},
		// 400 in 10 days: 1000 after 25 days.
		{"fractional days", 400, 1000, day10, "2024-02-26T00:00:00Z"},
		// 999 in the first 3 minutes: the last one comes 0.18 s later,
		// and the projection is cut to whole seconds.
		{"truncated to seconds", 999, 1000, ts("2024-02-01T00:03:00Z"), "2024-02-01T00:03:00Z"},
		// 300 in 10 days: 1000 after 33.3 days, past the month's end.
		{"lasts the month", 300, 1000, day10, ""},
		// 10 in 10 days: 29 after exactly 29 days, the month's end.
		{"exactly at the end", 10, 29, day10, ""},
		{"used up", 1000, 1000, day10, ""},
		{"over", 1001, 1000, day10, ""},
		{"unused", 0, 1000, day10, ""},
		{"refunds below zero", -3, 1000, day10, ""},
		{"at the month's start", 5, 1000, start, ""},
	} {
		got := projectExhaustion(tc.used, tc.limit, start, end, tc.now)
		s := ""
		if got != nil {
			s = got.Format(time.RFC3339)
		}
		if s != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, s, tc.want)
		}
	}
}

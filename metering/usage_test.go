package metering

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollgate/tollgate/counter"
	cpebble "github.com/tollgate/tollgate/counter/pebble"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata")

const usageDoc = `metering:
  tenants:
    - {id: beta, plan: p}
    - {id: acme, plan: p}
  identification:
    - {path_prefix: /, api_key_header: x-api-key}
    - {path_prefix: /v2/, api_key_header: x-api-key}
  plans: [{name: p}]
  meters:
    - {name: requests, source: authz, value: requests, type: accurate}
    - {name: egress_bytes, source: access_log, value: response_bytes, unit: byte, group_by: [tenant, route]}
`

// usageReporter returns a Reporter over a pebble store holding:
// acme requests: 3 on 31 Jan 22:30Z (23:30 Berlin), 5 on 31 Jan 23:30Z
// (00:30 on 1 Feb in Berlin), 7 on 15 Feb; beta requests: 11 on 15 Feb;
// acme egress 100 under / and 1000 under /v2/ on 10 Feb.
func usageReporter(t *testing.T, now time.Time) *Reporter {
	t.Helper()
	st, err := cpebble.Open(cpebble.Options{Dir: "/u", FS: vfs.NewMem(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	evs := []counter.Event{
		{Namespace: "requests", Counter: "acme", Time: at("2024-01-31T22:30:00Z"), ID: "a", Delta: 3},
		{Namespace: "requests", Counter: "acme", Time: at("2024-01-31T23:30:00Z"), ID: "b", Delta: 5},
		{Namespace: "requests", Counter: "acme", Time: at("2024-02-15T10:00:00Z"), ID: "c", Delta: 7},
		{Namespace: "requests", Counter: "beta", Time: at("2024-02-15T10:00:00Z"), ID: "d", Delta: 11},
		{Namespace: "egress_bytes", Counter: "acme//", Time: at("2024-02-10T10:00:00Z"), ID: "e", Delta: 100},
		{Namespace: "egress_bytes", Counter: "acme//v2/", Time: at("2024-02-10T10:00:00Z"), ID: "f", Delta: 1000},
	}
	if err := st.Append(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	r, err := NewReporter(ReporterOptions{Config: mustParse(t, usageDoc), Reader: st, Now: func() time.Time { return now }, ClosedMargin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ts(s string) time.Time {
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestUsage(t *testing.T) {
	r := usageReporter(t, ts("2024-04-01T00:00:00Z"))
	type row struct {
		start, end string
		q          int64
	}
	for _, tc := range []struct {
		name string
		q    UsageQuery
		want []row
	}{
		{"months in UTC", UsageQuery{Meter: "requests", Tenant: "acme", From: ts("2024-01-01T00:00:00Z"), To: ts("2024-03-01T00:00:00Z"), Window: WindowMonth},
			[]row{{"2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", 8}, {"2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z", 7}}},
		{"months in Berlin", UsageQuery{Meter: "requests", Tenant: "acme", From: ts("2023-12-31T23:00:00Z"), To: ts("2024-02-29T23:00:00Z"), Window: WindowMonth, TZ: "Europe/Berlin"},
			[]row{{"2024-01-01T00:00:00+01:00", "2024-02-01T00:00:00+01:00", 3}, {"2024-02-01T00:00:00+01:00", "2024-03-01T00:00:00+01:00", 12}}},
		{"hours", UsageQuery{Meter: "requests", Tenant: "acme", From: ts("2024-01-31T22:00:00Z"), To: ts("2024-02-01T01:00:00Z"), Window: WindowHour},
			[]row{{"2024-01-31T22:00:00Z", "2024-01-31T23:00:00Z", 3}, {"2024-01-31T23:00:00Z", "2024-02-01T00:00:00Z", 5}, {"2024-02-01T00:00:00Z", "2024-02-01T01:00:00Z", 0}}},
		{"routes summed", UsageQuery{Meter: "egress_bytes", Tenant: "acme", From: ts("2024-02-10T00:00:00Z"), To: ts("2024-02-11T00:00:00Z"), Window: WindowDay},
			[]row{{"2024-02-10T00:00:00Z", "2024-02-11T00:00:00Z", 1100}}},
		{"one route", UsageQuery{Meter: "egress_bytes", Tenant: "acme", Route: "/v2/", From: ts("2024-02-10T00:00:00Z"), To: ts("2024-02-11T00:00:00Z"), Window: WindowDay},
			[]row{{"2024-02-10T00:00:00Z", "2024-02-11T00:00:00Z", 1000}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := r.Usage(t.Context(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []row
			for _, u := range rows {
				got = append(got, row{u.WindowStart.Format(time.RFC3339), u.WindowEnd.Format(time.RFC3339), u.Quantity})
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	r := usageReporter(t, ts("2024-04-01T00:00:00Z"))
	from, to := ts("2024-01-01T00:00:00Z"), ts("2024-02-01T00:00:00Z")
	for _, tc := range []struct {
		q        UsageQuery
		sentinel error
		msg      string
	}{
		{UsageQuery{Tenant: "acme", From: from, To: to, Window: WindowDay}, ErrInvalidQuery,
			"metering: invalid query: missing meter (hint: one of requests, egress_bytes)"},
		{UsageQuery{Meter: "tokens", Tenant: "acme", From: from, To: to, Window: WindowDay}, ErrUnknownMeter,
			`metering: unknown meter "tokens" (hint: one of requests, egress_bytes)`},
		{UsageQuery{Meter: "requests", Tenant: "zeta", From: from, To: to, Window: WindowDay}, ErrUnknownTenant,
			`metering: unknown tenant "zeta" (hint: use a tenant id from config)`},
		{UsageQuery{Meter: "requests", From: from, To: to, Window: WindowDay}, ErrInvalidQuery,
			"metering: invalid query: missing tenant (hint: the tenant id from config)"},
		{UsageQuery{Meter: "requests", Tenant: "acme", From: to, To: from, Window: WindowDay}, ErrInvalidQuery,
			"metering: invalid query: from 2024-02-01T00:00:00Z is not before to 2024-01-01T00:00:00Z (hint: swap them or widen the range)"},
		{UsageQuery{Meter: "requests", Tenant: "acme", From: from, To: to, Window: "week"}, ErrInvalidQuery,
			`metering: invalid query: invalid window "week" (valid: hour, day, month)`},
		{UsageQuery{Meter: "requests", Tenant: "acme", From: from, To: to, Window: WindowDay, TZ: "Mars/Olympus"}, ErrInvalidQuery,
			`metering: invalid query: unknown time zone "Mars/Olympus" (hint: an IANA name such as UTC or Europe/Berlin)`},
		{UsageQuery{Meter: "requests", Tenant: "acme", From: ts("2024-01-01T10:00:00Z"), To: to, Window: WindowDay}, ErrInvalidQuery,
			"metering: invalid query: from 2024-01-01T10:00:00Z is not at the start of a day in UTC (hint: use 2024-01-01T00:00:00Z)"},
		{UsageQuery{Meter: "requests", Tenant: "acme", From: from, To: to, Window: WindowMonth, TZ: "Europe/Berlin"}, ErrInvalidQuery,
			"metering: invalid query: from 2024-01-01T01:00:00+01:00 is not at the start of a month in Europe/Berlin (hint: use 2024-01-01T00:00:00+01:00)"},
		{UsageQuery{Meter: "requests", Tenant: "acme", Route: "/v2/", From: from, To: to, Window: WindowDay}, ErrInvalidQuery,
			`metering: invalid query: meter "requests" is not grouped by route (hint: drop route)`},
		{UsageQuery{Meter: "requests", Tenant: "acme", From: ts("2020-01-01T00:00:00Z"), To: to, Window: WindowHour}, ErrInvalidQuery,
			"metering: invalid query: more than 10000 windows (hint: use a larger window or a shorter range)"},
	} {
		_, err := r.Usage(t.Context(), tc.q)
		if !errors.Is(err, tc.sentinel) || err.Error() != tc.msg {
			t.Errorf("Usage(%+v) = %v\nwant %s", tc.q, err, tc.msg)
		}
	}
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *rewrite {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (hint: go test -run %s -rewrite)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n%s\nwant:\n%s", file, got, want)
	}
}

func TestExportGolden(t *testing.T) {
	r := usageReporter(t, ts("2024-03-01T00:00:00Z").Add(time.Hour))
	q := ExportQuery{Meter: "requests", From: ts("2023-12-31T23:00:00Z"), To: ts("2024-02-29T23:00:00Z"), Window: WindowMonth, TZ: "Europe/Berlin"}
	for _, f := range []Format{FormatCSV, FormatJSONL} {
		var buf bytes.Buffer
		if err := r.Export(t.Context(), q, f, &buf); err != nil {
			t.Fatal(err)
		}
		golden(t, "testdata/export_month_berlin."+string(f), buf.Bytes())
	}
	// Rows of closed windows match usage.
	rows, err := r.Usage(t.Context(), UsageQuery{Meter: "requests", Tenant: "acme", From: q.From, To: q.To, Window: q.Window, TZ: q.TZ})
	if err != nil || rows[0].Quantity != 3 || rows[1].Quantity != 12 {
		t.Errorf("usage = %v, %v", rows, err)
	}
}

func TestExportOpenWindow(t *testing.T) {
	// Berlin's February ends at 2024-02-29T23:00Z; with the one-hour margin
	// it closes at midnight UTC.
	r := usageReporter(t, ts("2024-02-29T23:59:59Z"))
	q := ExportQuery{Meter: "requests", From: ts("2023-12-31T23:00:00Z"), To: ts("2024-02-29T23:00:00Z"), Window: WindowMonth, TZ: "Europe/Berlin"}
	var buf bytes.Buffer
	err := r.Export(t.Context(), q, FormatCSV, &buf)
	want := "metering: window still open: window 2024-02-01T00:00:00+01:00 to 2024-03-01T00:00:00+01:00 closes for export at 2024-03-01T01:00:00+01:00 (its end plus the 1h0m0s accept margin) (hint: retry after that, or end the range at 2024-02-01T00:00:00+01:00)"
	if !errors.Is(err, ErrWindowOpen) || err.Error() != want || buf.Len() != 0 {
		t.Errorf("err = %v (wrote %d bytes)\nwant %s", err, buf.Len(), want)
	}
	for _, tc := range []struct {
		q      ExportQuery
		format Format
		msg    string
	}{
		{ExportQuery{Meter: "requests", From: q.From, To: q.To, Window: WindowHour}, FormatCSV, `metering: invalid query: invalid export window "hour" (valid: day, month)`},
		{q, "xml", `metering: invalid query: invalid format "xml" (valid: csv, jsonl, parquet)`},
	} {
		if err := r.Export(t.Context(), tc.q, tc.format, &buf); !errors.Is(err, ErrInvalidQuery) || err.Error() != tc.msg {
			t.Errorf("Export = %v, want %s", err, tc.msg)
		}
	}
}

// TestExportTenantFilter: ExportQuery.Tenants keeps only those tenants'
// rows; an id that is not configured matches nothing.
func TestExportTenantFilter(t *testing.T) {
	r := usageReporter(t, ts("2024-03-01T00:00:00Z").Add(time.Hour))
	q := ExportQuery{Meter: "requests", From: ts("2023-12-31T23:00:00Z"), To: ts("2024-02-29T23:00:00Z"), Window: WindowMonth, TZ: "Europe/Berlin"}
	var all bytes.Buffer
	if err := r.Export(t.Context(), q, FormatCSV, &all); err != nil {
		t.Fatal(err)
	}
	for _, tenants := range [][]string{{"acme"}, {"acme", "nobody"}} {
		q.Tenants = tenants
		var buf bytes.Buffer
		if err := r.Export(t.Context(), q, FormatCSV, &buf); err != nil {
			t.Fatal(err)
		}
		var want []string
		for i, line := range strings.SplitAfter(all.String(), "\n") {
			if i == 0 || strings.HasPrefix(line, "acme,") {
				want = append(want, line)
			}
		}
		if got := buf.String(); got != strings.Join(want, "") || strings.Count(got, "\n") != 3 {
			t.Errorf("export of %v:\n%s\nwant the header and acme's 2 rows:\n%s", tenants, got, strings.Join(want, ""))
		}
	}
}

package metering

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestTop(t *testing.T) {
	r := usageReporter(t, ts("2024-04-01T00:00:00Z"))
	feb, mar := ts("2024-02-01T00:00:00Z"), ts("2024-03-01T00:00:00Z")
	for _, tc := range []struct {
		name string
		q    TopQuery
		want []TopRow
	}{
		{"month in UTC", TopQuery{Meter: "requests", From: feb, To: mar, Window: WindowMonth},
			[]TopRow{{"beta", 11}, {"acme", 7}}},
		// 31 Jan 23:30Z is 1 Feb in Berlin: acme's 5 move into February.
		{"month in Berlin", TopQuery{Meter: "requests", From: ts("2024-01-31T23:00:00Z"), To: ts("2024-02-29T23:00:00Z"), Window: WindowMonth, TZ: "Europe/Berlin"},
			[]TopRow{{"acme", 12}, {"beta", 11}}},
		{"days summed over the range", TopQuery{Meter: "requests", From: ts("2024-01-31T00:00:00Z"), To: ts("2024-02-16T00:00:00Z"), Window: WindowDay},
			[]TopRow{{"acme", 15}, {"beta", 11}}},
		{"limit", TopQuery{Meter: "requests", From: feb, To: mar, Window: WindowMonth, Limit: 1},
			[]TopRow{{"beta", 11}}},
		{"no usage", TopQuery{Meter: "requests", From: mar, To: ts("2024-04-01T00:00:00Z"), Window: WindowMonth}, nil},
		{"routes summed", TopQuery{Meter: "egress_bytes", From: feb, To: mar, Window: WindowMonth},
			[]TopRow{{"acme", 1100}}},
		{"one route", TopQuery{Meter: "egress_bytes", Route: "/v2/", From: feb, To: mar, Window: WindowMonth},
			[]TopRow{{"acme", 1000}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Top(t.Context(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// sameReader answers 5 for every counter and range.
type sameReader struct{}

func (sameReader) Sum(context.Context, string, string, time.Time, time.Time) (int64, error) {
	return 5, nil
}

// TestTopTies: equal usage sorts by tenant id, not config order (beta is
// configured before acme).
func TestTopTies(t *testing.T) {
	r, err := NewReporter(ReporterOptions{Config: mustParse(t, usageDoc), Reader: sameReader{}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Top(t.Context(), TopQuery{Meter: "requests", From: ts("2024-02-01T00:00:00Z"), To: ts("2024-03-01T00:00:00Z"), Window: WindowMonth})
	if want := []TopRow{{"acme", 5}, {"beta", 5}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v %v, want %v", got, err, want)
	}
}

func TestTopErrors(t *testing.T) {
	r := usageReporter(t, ts("2024-04-01T00:00:00Z"))
	feb, mar := ts("2024-02-01T00:00:00Z"), ts("2024-03-01T00:00:00Z")
	for _, tc := range []struct {
		q        TopQuery
		sentinel error
		msg      string
	}{
		{TopQuery{Meter: "requests", From: feb, To: mar, Window: WindowMonth, Limit: MaxTopLimit + 1}, ErrInvalidQuery,
			"metering: invalid query: limit 1001 is out of range (hint: 1 to 1000)"},
		{TopQuery{Meter: "requests", From: feb, To: mar, Window: WindowMonth, Limit: -1}, ErrInvalidQuery,
			"metering: invalid query: limit -1 is out of range (hint: 1 to 1000)"},
		{TopQuery{Meter: "tokens", From: feb, To: mar, Window: WindowMonth}, ErrUnknownMeter,
			`metering: unknown meter "tokens" (hint: one of requests, egress_bytes)`},
		{TopQuery{Meter: "requests", Route: "/v2/", From: feb, To: mar, Window: WindowMonth}, ErrInvalidQuery,
			`metering: invalid query: meter "requests" is not grouped by route (hint: drop route)`},
		{TopQuery{Meter: "requests", From: ts("2024-02-02T00:00:00Z"), To: mar, Window: WindowMonth}, ErrInvalidQuery,
			"metering: invalid query: from 2024-02-02T00:00:00Z is not at the start of a month in UTC (hint: use 2024-02-01T00:00:00Z)"},
		{TopQuery{Meter: "requests", From: mar, To: feb, Window: WindowDay}, ErrInvalidQuery,
			"metering: invalid query: from 2024-03-01T00:00:00Z is not before to 2024-02-01T00:00:00Z (hint: swap them or widen the range)"},
	} {
		_, err := r.Top(t.Context(), tc.q)
		if !errors.Is(err, tc.sentinel) || err.Error() != tc.msg {
			t.Errorf("%+v: got %v, want %q", tc.q, err, tc.msg)
		}
	}
}

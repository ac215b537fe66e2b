package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// nopCounter admits every hit without keeping state.
type nopCounter struct{}

func (nopCounter) Apply(_ context.Context, _ time.Time, hits []counter.Hit, out []counter.Outcome) error {
	for i, h := range hits {
		out[i] = counter.Outcome{Used: h.Hits, Allowed: true, ResetAfter: time.Second}
	}
	return nil
}

const benchConfig = `
domain: bench
descriptors:
  - key: remote_address
    rate_limit: {unit: second, requests_per_unit: 100}
  - key: path
    value: "/api/*"
    rate_limit: {unit: minute, requests_per_unit: 1000}
  - key: tenant
    value: acme
    descriptors:
      - key: user
        rate_limit: {unit: hour, requests_per_unit: 5000}
`

var benchRequests = map[string]Request{
	"1desc": {Domain: "bench", Descriptors: []Descriptor{desc("remote_address=10.0.0.1")}},
	"3desc": {Domain: "bench", Descriptors: []Descriptor{
		desc("remote_address=10.0.0.1"), desc("path=/api/users"), desc("tenant=acme,user=bob"),
	}},
}

func newBenchService(tb testing.TB) *Service {
	tb.Helper()
	now := time.Unix(1_700_000_000, 0)
	svc, err := New(Options{Counter: nopCounter{}, Now: func() time.Time { return now }}, mustLoad(tb, benchConfig))
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

func BenchmarkShouldRateLimit(b *testing.B) {
	for _, name := range []string{"1desc", "3desc"} {
		b.Run(name, func(b *testing.B) {
			svc := newBenchService(b)
			r := benchRequests[name]
			var resp Response
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := svc.ShouldRateLimit(ctx, &r, &resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestShouldRateLimitAllocs locks in one allocation per request: the string
// holding every counter key.
func TestShouldRateLimitAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	for _, name := range []string{"1desc", "3desc"} {
		svc := newBenchService(t)
		r := benchRequests[name]
		var resp Response
		ctx := context.Background()
		got := testing.AllocsPerRun(200, func() {
			if err := svc.ShouldRateLimit(ctx, &r, &resp); err != nil {
				t.Fatal(err)
			}
		})
		if got != 1 {
			t.Errorf("%s: %v allocs per request, want 1", name, got)
		}
	}
}

package metering

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/counter"
	cpebble "github.com/tollgate/tollgate/counter/pebble"
	"github.com/tollgate/tollgate/internal/benchload"
)

// Shape of the console benchmarks' data: every tenant has one requests
// event a day for a 31-day month.
const (
	benchTenants = 10000
	benchDays    = 31
)

// BenchmarkConsoleQueries measures the usage console's queries on the
// embedded Pebble store (on disk) holding 10,000 tenants × 31 days of
// usage: the top tenants of the month (one sum per tenant over the month),
// and one tenant's month in daily windows (31 sums). Each reports the p99
// latency of a query.
func BenchmarkConsoleQueries(b *testing.B) {
	month := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	end := month.AddDate(0, 0, benchDays)
	st, err := cpebble.Open(cpebble.Options{Dir: b.TempDir(), Now: func() time.Time { return end }})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var doc strings.Builder
	doc.WriteString("tenants:\n")
	for i := range benchTenants {
		fmt.Fprintf(&doc, "  - {id: t%05d, plan: p}\n", i)
	}
	doc.WriteString("plans: [{name: p}]\nmeters: [{name: requests, source: authz, value: requests, type: accurate}]\n")
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc.String()), &root); err != nil {
		b.Fatal(err)
	}
	cfg, err := ParseConfig("bench.yaml", root.Content[0])
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	batch := make([]counter.Event, 0, benchTenants)
	for d := range benchDays {
		batch = batch[:0]
		for i := range benchTenants {
			batch = append(batch, counter.Event{Namespace: "requests", Counter: fmt.Sprintf("t%05d", i),
				Time: month.AddDate(0, 0, d).Add(time.Duration(i) * time.Second), ID: "e", Delta: int64(1 + i%97)})
		}
		if err := st.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	r, err := NewReporter(ReporterOptions{Config: cfg, Reader: st, Now: func() time.Time { return end }})
	if err != nil {
		b.Fatal(err)
	}

	measure := func(b *testing.B, query func(i int) error) {
		lat := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			t := time.Now()
			if err := query(i); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t))
		}
		b.StopTimer()
		b.ReportMetric(benchload.Millis(benchload.P99(lat)), "p99-ms")
	}
	b.Run("top-tenants-month", func(b *testing.B) {
		measure(b, func(int) error {
			rows, err := r.Top(ctx, TopQuery{Meter: "requests", From: month, To: end, Window: WindowDay})
			if err == nil && (len(rows) != DefaultTopLimit || rows[0].Quantity != 97*benchDays) {
				err = fmt.Errorf("top: got %v", rows)
			}
			return err
		})
	})
	b.Run("tenant-month-daily", func(b *testing.B) {
		measure(b, func(i int) error {
			rows, err := r.Usage(ctx, UsageQuery{Meter: "requests", Tenant: fmt.Sprintf("t%05d", i%benchTenants), From: month, To: end, Window: WindowDay})
			if err == nil && (len(rows) != benchDays || rows[0].Quantity != int64(1+i%benchTenants%97)) {
				err = fmt.Errorf("usage of t%05d: got %v", i%benchTenants, rows)
			}
			return err
		})
	})
}

// Package benchload drives the throughput benchmarks of the event stores and
// the counter API: many goroutines calling one operation, with the p99
// latency of a call reported beside the rate.
package benchload

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Throughput calls op from workers goroutines until b.N items are done,
// batch items a call, and reports items per second ("events/s") and the p99
// latency of a call ("p99-ms"). op gets the worker's number and the number of
// the call's last item (1..b.N); its items are last-batch+1 .. last.
func Throughput(b *testing.B, workers, batch int, op func(worker int, last int64) error) {
	b.Helper()
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for {
				n := next.Add(int64(batch))
				if n > int64(b.N) {
					return
				}
				t := time.Now()
				if err := op(w, n); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(Millis(P99(slices.Concat(lat...))), "p99-ms")
}

// P99 returns the 99th percentile of lat, which it sorts; 0 when it is
// empty.
func P99(lat []time.Duration) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[len(lat)*99/100]
}

// Millis is d in milliseconds, at microsecond precision, for ReportMetric.
func Millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

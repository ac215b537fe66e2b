package pebble

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollgate/tollgate/counter"
)

// BenchmarkAppend measures durably acknowledged events per second on the real
// filesystem with many goroutines calling Append with one event each, or
// with batches, and reports the p99 acknowledgement latency.
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		workers, batch int
	}{{64, 1}, {256, 1}, {16, 32}} {
		b.Run("workers="+strconv.Itoa(bc.workers)+"/batch="+strconv.Itoa(bc.batch), func(b *testing.B) {
			s, err := Open(Options{FS: vfs.Default, Dir: b.TempDir(), Now: time.Now})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ReportAllocs()
			var next atomic.Int64
			lat := make([][]time.Duration, bc.workers)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := range bc.workers {
				wg.Go(func() {
					events := make([]counter.Event, bc.batch)
					for {
						n := next.Add(int64(bc.batch))
						if n > int64(b.N) {
							return
						}
						for j := range events {
							i := n - int64(j)
							events[j] = counter.Event{Namespace: "bench", Counter: "c" + strconv.Itoa(int(i%100)), Time: t0.Add(time.Duration(i)), ID: "x", Delta: 1}
						}
						t := time.Now()
						if err := s.Append(context.Background(), events); err != nil {
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
			b.ReportMetric(float64(p99(lat).Microseconds())/1000, "p99-ms")
		})
	}
}

// p99 returns the 99th percentile of the recorded latencies.
func p99(lat [][]time.Duration) time.Duration {
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return 0
	}
	slices.Sort(all)
	return all[len(all)*99/100]
}

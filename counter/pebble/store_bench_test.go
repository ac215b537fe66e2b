package pebble

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/benchload"
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
			events := make([][]counter.Event, bc.workers)
			for w := range events {
				events[w] = make([]counter.Event, bc.batch)
			}
			benchload.Throughput(b, bc.workers, bc.batch, func(w int, n int64) error {
				for j := range events[w] {
					i := n - int64(j)
					events[w][j] = counter.Event{Namespace: "bench", Counter: "c" + strconv.Itoa(int(i%100)), Time: t0.Add(time.Duration(i)), ID: "x", Delta: 1}
				}
				return s.Append(context.Background(), events[w])
			})
		})
	}
}

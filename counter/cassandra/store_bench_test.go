package cassandra

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/benchload"
)

// benchBase is the event time of the benchmarks' stored history.
var benchBase = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// BenchmarkAppend compares the events/s of Store.Append, called from 32
// goroutines (16 per CPU on the 2-core box), with a naive loop that INSERTs
// one event row at a time on the same session and table.
func BenchmarkAppend(b *testing.B) {
	s := openTest(b, Options{Keyspace: "tollgate_it_bench"})
	ctx := context.Background()
	ns := uniqueNS(b)
	b.Run("naive-insert-loop", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			err := s.session.Query(s.q.insertEvent, ns, "naive", int64(0), int16(0),
				benchBase.Add(time.Duration(i)*time.Millisecond).UnixNano(), "e"+strconv.Itoa(i), int64(1), kindAdd, s.eventTTL).
				WithContext(ctx).Exec()
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	for _, batch := range []int{1, 16, 256} {
		b.Run("Append/batch="+strconv.Itoa(batch)+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			var seq atomic.Int64
			// As many concurrent Appends as a busy sidecar issues.
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				events := make([]counter.Event, batch)
				for pb.Next() {
					// Events are on time, as a sidecar's are: a late one would
					// also cost an update of late_writes.
					now := time.Now()
					for j := range events {
						n := seq.Add(1)
						events[j] = counter.Event{Namespace: ns, Counter: "c" + strconv.Itoa(int(n%8)),
							Time: now, ID: "e" + strconv.FormatInt(n, 10), Delta: 1}
					}
					if err := s.Append(ctx, events); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkAggregateSmallGap measures the read of an accurate count: the
// checkpointed counter's events in the last two seconds, as GetCount of a
// counter in circulation does, and the same for a busy counter. It reports
// the latency percentiles.
func BenchmarkAggregateSmallGap(b *testing.B) {
	s := openTest(b, Options{Keyspace: "tollgate_it_bench"})
	ctx := context.Background()
	ns := uniqueNS(b)
	// 10 minutes of history at 10 events/s; the gap is its last 2 s.
	const history = 6000
	events := make([]counter.Event, history)
	for i := range events {
		events[i] = counter.Event{Namespace: ns, Counter: "c", Time: benchBase.Add(time.Duration(i) * 100 * time.Millisecond), ID: "e" + strconv.Itoa(i), Delta: 1}
	}
	if err := s.Append(ctx, events); err != nil {
		b.Fatal(err)
	}
	end := events[history-1].Time
	from := end.Add(-2 * time.Second)
	if err := s.SaveCheckpoint(ctx, ns, "c", counter.Checkpoint{Count: history - 20, At: from}); err != nil {
		b.Fatal(err)
	}
	b.Run("Aggregate", func(b *testing.B) {
		measureLatency(b, func() error {
			agg, err := s.Aggregate(ctx, ns, "c", from, end)
			if err == nil && agg.Events != 20 {
				b.Fatalf("Aggregate: %+v, want 20 events", agg)
			}
			return err
		})
	})
	// A busy counter: 1,000 adds/s over the 6 s (accept_limit + clock skew)
	// a checkpoint lags behind, so the live scan covers 6,000 events.
	busy := make([]counter.Event, 6000)
	for i := range busy {
		busy[i] = counter.Event{Namespace: ns, Counter: "busy", Time: benchBase.Add(time.Duration(i) * time.Millisecond), ID: "e" + strconv.Itoa(i), Delta: 1}
	}
	if err := s.Append(ctx, busy); err != nil {
		b.Fatal(err)
	}
	b.Run("Aggregate/busy", func(b *testing.B) {
		measureLatency(b, func() error {
			agg, err := s.Aggregate(ctx, ns, "busy", benchBase.Add(-time.Nanosecond), busy[len(busy)-1].Time)
			if err == nil && agg.Events != 6000 {
				b.Fatalf("Aggregate: %+v, want 6000 events", agg)
			}
			return err
		})
	})
	// The floor: one single-partition read of the same cluster.
	b.Run("Checkpoint", func(b *testing.B) {
		measureLatency(b, func() error {
			_, err := s.Checkpoint(ctx, ns, "c")
			return err
		})
	})
}

// warmUp is how long measureLatency runs op before it measures: a fresh
// Cassandra JVM compiles its read path in the first seconds, which a node in
// service has long done.
const warmUp = 2 * time.Second

// measureLatency runs op for warmUp, then b.N times, and reports the latency
// percentiles of the b.N runs.
func measureLatency(b *testing.B, op func() error) {
	for end := time.Now().Add(warmUp); time.Now().Before(end); {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		err := op()
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	p99 := benchload.P99(lat) // sorts lat
	b.ReportMetric(benchload.Millis(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(benchload.Millis(p99), "p99-ms")
}

package redis

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/bestefforttest"
)

var sink counter.Outcome

// benchParallelism is goroutines per GOMAXPROCS: enough callers in flight to
// show what a busy sidecar sees.
const benchParallelism = 16

// BenchmarkApplyHotKey hits one fixed-window key from many goroutines, with
// and without coalescing; coalesced/op is the share of hits merged.
func BenchmarkApplyHotKey(b *testing.B) {
	for _, bc := range []struct {
		name    string
		disable bool
	}{{"coalesced", false}, {"uncoalesced", true}} {
		b.Run(bc.name, func(b *testing.B) {
			s := newStore(b, ModeSingle, modes[0].env, Options{DisableCoalescing: bc.disable, Timeout: time.Second})
			hits := []counter.Hit{{Key: "hot", Limit: 1 << 40, Window: time.Minute, Hits: 1}}
			b.ReportAllocs()
			b.SetParallelism(benchParallelism)
			b.RunParallel(func(pb *testing.PB) {
				out := make([]counter.Outcome, 1)
				for pb.Next() {
					if err := s.Apply(context.Background(), bestefforttest.T0, hits, out); err != nil {
						b.Fatal(err)
					}
				}
				sink = out[0]
			})
			b.ReportMetric(testutil.ToFloat64(s.m.coalesced)/float64(b.N), "coalesced/op")
		})
	}
}

// BenchmarkApplyUniqueKeys spreads hits of each algorithm over 64k keys.
func BenchmarkApplyUniqueKeys(b *testing.B) {
	for _, alg := range []counter.Algorithm{counter.FixedWindow, counter.SlidingWindow, counter.TokenBucket} {
		b.Run(alg.String(), func(b *testing.B) {
			s := newStore(b, ModeSingle, modes[0].env, Options{Timeout: time.Second})
			const nkeys = 1 << 16
			keys := make([]string, nkeys)
			for i := range keys {
				keys[i] = "unique-" + strconv.Itoa(i)
			}
			var next atomic.Uint64
			b.ReportAllocs()
			b.SetParallelism(benchParallelism)
			b.RunParallel(func(pb *testing.PB) {
				out := make([]counter.Outcome, 1)
				hits := []counter.Hit{{Algorithm: alg, Limit: 1 << 40, Window: time.Minute, Hits: 1}}
				for pb.Next() {
					hits[0].Key = keys[next.Add(1)%nkeys]
					if err := s.Apply(context.Background(), bestefforttest.T0, hits, out); err != nil {
						b.Fatal(err)
					}
				}
				sink = out[0]
			})
		})
	}
}

// BenchmarkApplySequential is the latency of one Apply of three hits (one per
// algorithm) from a single goroutine: one round trip.
func BenchmarkApplySequential(b *testing.B) {
	s := newStore(b, ModeSingle, modes[0].env, Options{Timeout: time.Second})
	hits := []counter.Hit{
		{Key: "seq", Algorithm: counter.FixedWindow, Limit: 1 << 40, Window: time.Minute, Hits: 1},
		{Key: "seq", Algorithm: counter.SlidingWindow, Limit: 1 << 40, Window: time.Minute, Hits: 1},
		{Key: "seq", Algorithm: counter.TokenBucket, Limit: 1 << 40, Window: time.Minute, Hits: 1},
	}
	out := make([]counter.Outcome, len(hits))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Apply(context.Background(), bestefforttest.T0, hits, out); err != nil {
			b.Fatal(err)
		}
	}
	sink = out[0]
}

package memory

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/bestefforttest"
)

var sink counter.Outcome

func benchHits(algs ...counter.Algorithm) []counter.Hit {
	hits := make([]counter.Hit, len(algs))
	for i, alg := range algs {
		hits[i] = counter.Hit{Key: "bench-" + strconv.Itoa(i), Algorithm: alg, Limit: 1 << 40, Window: time.Minute, Hits: 1}
	}
	return hits
}

func BenchmarkApply(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		hits []counter.Hit
	}{
		{"1hit/fixed", benchHits(counter.FixedWindow)},
		{"1hit/sliding", benchHits(counter.SlidingWindow)},
		{"1hit/bucket", benchHits(counter.TokenBucket)},
		{"3hits", benchHits(counter.FixedWindow, counter.SlidingWindow, counter.TokenBucket)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			st := New(Options{})
			out := make([]counter.Outcome, len(bc.hits))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := st.Apply(ctx, bestefforttest.T0.Add(time.Duration(i)), bc.hits, out); err != nil {
					b.Fatal(err)
				}
				i++
			}
			sink = out[0]
		})
	}
}

func BenchmarkApplyParallelHotKey(b *testing.B) {
	st := New(Options{})
	hits := benchHits(counter.FixedWindow)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		out := make([]counter.Outcome, 1)
		for pb.Next() {
			if err := st.Apply(context.Background(), bestefforttest.T0, hits, out); err != nil {
				b.Fatal(err)
			}
		}
		sink = out[0]
	})
}

func BenchmarkApplyParallelUniqueKeys(b *testing.B) {
	st := New(Options{})
	const nkeys = 1 << 16
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = "bench-unique-" + strconv.Itoa(i)
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		out := make([]counter.Outcome, 1)
		hits := benchHits(counter.FixedWindow)
		for pb.Next() {
			hits[0].Key = keys[next.Add(1)%nkeys]
			if err := st.Apply(context.Background(), bestefforttest.T0, hits, out); err != nil {
				b.Fatal(err)
			}
		}
		sink = out[0]
	})
}

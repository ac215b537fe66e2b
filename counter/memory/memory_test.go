package memory

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/bestefforttest"
	"github.com/tollgate/tollgate/internal/testkit"
	"github.com/tollgate/tollgate/ratelimit"
)

func TestConformance(t *testing.T) {
	bestefforttest.Run(t, func(*testing.T) bestefforttest.Backend { return New(Options{}) })
}

func TestOptionsDefaults(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{0, 256}, {-3, 256}, {1, 1}, {3, 4}, {256, 256}, {257, 512}} {
		o := Options{Shards: tc.in}
		o.EnsureDefaults()
		if o.Shards != tc.want || o.SweepInterval != 10*time.Second || o.Now == nil || o.MaxKeys != 1_000_000 {
			t.Errorf("Shards %d: got %d shards, sweep %v, max keys %d; want %d shards, sweep 10s, a clock, 1000000 max keys", tc.in, o.Shards, o.SweepInterval, o.MaxKeys, tc.want)
		}
	}
}

func TestApplyLengthMismatch(t *testing.T) {
	err := New(Options{}).Apply(context.Background(), bestefforttest.T0, make([]counter.Hit, 2), make([]counter.Outcome, 1))
	const want = "counter/memory: got 1 outcomes for 2 hits; pass out with len(out) == len(hits)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestWindowZeroError(t *testing.T) {
	err := New(Options{}).Apply(context.Background(), bestefforttest.T0, []counter.Hit{{Key: "k", Hits: 1}}, make([]counter.Outcome, 1))
	const want = `counter/memory: hit 0 (key "k") has window 0s; the window must be > 0 (fix the limit's unit or window)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// TestKeyReusedByAnotherLimit checks that a state kept for one algorithm or
// window is not read as another's.
func TestKeyReusedByAnotherLimit(t *testing.T) {
	st := New(Options{})
	apply := func(alg counter.Algorithm, w time.Duration) counter.Outcome {
		out := make([]counter.Outcome, 1)
		if err := st.Apply(context.Background(), bestefforttest.T0, []counter.Hit{{Key: "k", Algorithm: alg, Limit: 10, Window: w, Hits: 4}}, out); err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	for i, tc := range []struct {
		alg  counter.Algorithm
		w    time.Duration
		want uint64
	}{
		{counter.FixedWindow, time.Minute, 4},
		{counter.FixedWindow, time.Minute, 8},
		{counter.TokenBucket, time.Minute, 4},
		{counter.SlidingWindow, time.Minute, 4},
		{counter.SlidingWindow, time.Hour, 4},
	} {
		if got := apply(tc.alg, tc.w); got.Used != tc.want {
			t.Fatalf("call %d (%v, %v): used %d, want %d", i, tc.alg, tc.w, got.Used, tc.want)
		}
	}
}

func TestSweepDeletesDeadStates(t *testing.T) {
	st := New(Options{Shards: 4})
	t0 := bestefforttest.T0
	hit := func(key string, alg counter.Algorithm, hits uint64) {
		h := []counter.Hit{{Key: key, Algorithm: alg, Limit: 5, Window: time.Minute, Hits: hits}}
		if err := st.Apply(context.Background(), t0, h, make([]counter.Outcome, 1)); err != nil {
			t.Fatal(err)
		}
	}
	hit("fixed", counter.FixedWindow, 1)
	hit("sliding", counter.SlidingWindow, 1)
	hit("bucket", counter.TokenBucket, 1) // full again after 12s
	hit("sliding-check", counter.SlidingWindow, 0)
	hit("bucket-check", counter.TokenBucket, 0)
	for _, tc := range []struct {
		at            time.Duration
		removed, left int
	}{
		{at: 11 * time.Second, removed: 0, left: 3},
		{at: 12 * time.Second, removed: 1, left: 2},  // bucket full
		{at: 60 * time.Second, removed: 1, left: 1},  // fixed window over
		{at: 119 * time.Second, removed: 0, left: 1}, // sliding still weighs it
		{at: 120 * time.Second, removed: 1, left: 0},
	} {
		if got := st.Sweep(t0.Add(tc.at)); got != tc.removed || st.Len() != tc.left {
			t.Fatalf("Sweep at T0+%v: removed %d, %d left; want %d removed, %d left", tc.at, got, st.Len(), tc.removed, tc.left)
		}
	}
}

// TestSweepBoundsMemory fills a store with many short-lived keys, sweeps
// them and checks the heap went back to about where it started.
func TestSweepBoundsMemory(t *testing.T) {
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	st := New(Options{Shards: 16})
	keys := make([]string, 200_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	before := heap()
	out := make([]counter.Outcome, 1)
	for _, k := range keys {
		if err := st.Apply(context.Background(), bestefforttest.T0, []counter.Hit{{Key: k, Limit: 1, Window: time.Second, Hits: 1}}, out); err != nil {
			t.Fatal(err)
		}
	}
	full := heap()
	if removed := st.Sweep(bestefforttest.T0.Add(time.Second)); removed != len(keys) || st.Len() != 0 {
		t.Fatalf("Sweep removed %d, %d left; want %d removed, 0 left", removed, st.Len(), len(keys))
	}
	after := heap()
	runtime.KeepAlive(keys)
	grown := full - before
	if after > before+grown/10 {
		t.Fatalf("heap after sweep %d B, before filling %d B, full %d B: the sweep freed less than 90%% of the growth", after, before, full)
	}
}

func TestRunSweepsUntilCancelled(t *testing.T) {
	clock := testkit.NewClock(bestefforttest.T0)
	st := New(Options{SweepInterval: time.Millisecond, Now: clock.Now})
	if err := st.Apply(context.Background(), bestefforttest.T0, []counter.Hit{{Key: "k", Limit: 1, Window: time.Second, Hits: 1}}, make([]counter.Outcome, 1)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); st.Len() != 0; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("%d counters left after 10s of sweeping, want 0", st.Len())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}
}

// The Store is the counter the rate-limit service calls.
var _ ratelimit.Counter = (*Store)(nil)

// TestApplyAllocs locks in that Apply allocates nothing once its keys exist.
func TestApplyAllocs(t *testing.T) {
	st := New(Options{})
	hits := []counter.Hit{
		{Key: "a", Algorithm: counter.FixedWindow, Limit: 1 << 40, Window: time.Minute, Hits: 1},
		{Key: "b", Algorithm: counter.SlidingWindow, Limit: 1 << 40, Window: time.Minute, Hits: 1},
		{Key: "c", Algorithm: counter.TokenBucket, Limit: 1 << 40, Window: time.Minute, Hits: 1},
	}
	out := make([]counter.Outcome, len(hits))
	ctx := context.Background()
	if err := st.Apply(ctx, bestefforttest.T0, hits, out); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = st.Apply(ctx, bestefforttest.T0, hits, out) }); n != 0 {
		t.Fatalf("Apply allocates %v times per call, want 0", n)
	}
}

// TestMaxKeysEvictsLeastRecentlyUsed checks that a full shard makes room by
// evicting its least recently used key, reuses swept slots, and counts
// evictions in tollgate_memory_evictions_total.
func TestMaxKeysEvictsLeastRecentlyUsed(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	st := New(Options{Shards: 1, MaxKeys: 3, Registerer: reg})
	used := func(key string, window time.Duration) uint64 {
		t.Helper()
		out := make([]counter.Outcome, 1)
		if err := st.Apply(context.Background(), bestefforttest.T0, []counter.Hit{{Key: key, Limit: 100, Window: window, Hits: 1}}, out); err != nil {
			t.Fatal(err)
		}
		return out[0].Used
	}
	for _, k := range []string{"a", "b", "c", "a"} {
		used(k, time.Hour)
	}
	// "b" is the least recently used: "d" evicts it.
	if got := used("d", time.Hour); got != 1 || st.Len() != 3 {
		t.Fatalf("d: used %d with %d keys, want 1 with 3", got, st.Len())
	}
	for _, tc := range []struct {
		key  string
		want uint64
	}{{"a", 3}, {"c", 2}, {"d", 2}} {
		if got := used(tc.key, time.Hour); got != tc.want {
			t.Errorf("%s: used %d, want %d (kept)", tc.key, got, tc.want)
		}
	}
	if got := used("b", time.Hour); got != 1 {
		t.Errorf("b: used %d, want 1 (evicted, counted afresh)", got)
	}
	// b evicted a (least recently used after the reads above). A swept key
	// frees its slot without an eviction.
	used("s", time.Second) // evicts c
	if removed := st.Sweep(bestefforttest.T0.Add(time.Second)); removed != 1 || st.Len() != 2 {
		t.Fatalf("Sweep removed %d, %d left; want 1, 2", removed, st.Len())
	}
	used("e", time.Hour)
	if st.Len() != 3 {
		t.Errorf("%d keys, want 3", st.Len())
	}
	const want = `
# HELP tollgate_memory_evictions_total Keys the memory backend evicted, least recently used first, to stay within max_keys.
# TYPE tollgate_memory_evictions_total counter
tollgate_memory_evictions_total 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestMaxKeysBoundsKeys checks that many distinct keys never grow a Store
// past MaxKeys.
func TestMaxKeysBoundsKeys(t *testing.T) {
	st := New(Options{Shards: 4, MaxKeys: 100})
	out := make([]counter.Outcome, 1)
	for i := range 1000 {
		if err := st.Apply(context.Background(), bestefforttest.T0, []counter.Hit{{Key: fmt.Sprintf("k%d", i), Limit: 1, Window: time.Hour, Hits: 1}}, out); err != nil {
			t.Fatal(err)
		}
		if n := st.Len(); n > 100 {
			t.Fatalf("after %d keys: %d held, over MaxKeys 100", i+1, n)
		}
	}
	if n, ev := st.Len(), st.evictions(); n != 100 || ev != 900 {
		t.Errorf("%d keys held, %v evicted; want 100, 900", n, ev)
	}
}

package bestefforttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// Backend is the method the suite drives; it matches ratelimit.Counter.
type Backend interface {
	Apply(ctx context.Context, now time.Time, hits []counter.Hit, out []counter.Outcome) error
}

// T0 is the fake start time of every case. It is aligned to every window the
// suite uses (second, minute, hour).
var T0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// step is one Apply of a single hit at T0+at.
type step struct {
	at   time.Duration
	hits uint64
	want counter.Outcome
}

type seqCase struct {
	name   string
	alg    counter.Algorithm
	limit  uint64
	window time.Duration
	steps  []step
}

func ok(used uint64, reset time.Duration) counter.Outcome {
	return counter.Outcome{Used: used, Allowed: true, ResetAfter: reset}
}

func deny(used uint64, reset time.Duration) counter.Outcome {
	return counter.Outcome{Used: used, Allowed: false, ResetAfter: reset}
}

const (
	s  = time.Second
	ms = time.Millisecond
)

var seqCases = []seqCase{
	{name: "fixed_window_counts_every_hit", alg: counter.FixedWindow, limit: 5, window: time.Minute, steps: []step{
		{at: 10 * s, hits: 1, want: ok(1, 50*s)},
		{at: 20 * s, hits: 3, want: ok(4, 40*s)},
		{at: 30 * s, hits: 1, want: ok(5, 30*s)},
		{at: 30 * s, hits: 0, want: ok(5, 30*s)},
		{at: 40 * s, hits: 1, want: deny(6, 20*s)},
		{at: 41 * s, hits: 0, want: deny(6, 19*s)},
		{at: 45 * s, hits: 2, want: deny(8, 15*s)},
		{at: 60 * s, hits: 1, want: ok(1, 60*s)},
		{at: 119*s + 500*ms, hits: 2, want: ok(3, 500*ms)},
		{at: 120 * s, hits: 0, want: ok(0, 60*s)},
	}},
	{name: "fixed_window_aligned_to_epoch", alg: counter.FixedWindow, limit: 2, window: time.Hour, steps: []step{
		{at: 59*time.Minute + 59*s, hits: 2, want: ok(2, s)},
		{at: time.Hour, hits: 1, want: ok(1, time.Hour)},
		{at: time.Hour + 30*time.Minute, hits: 2, want: deny(3, 30*time.Minute)},
	}},
	{name: "fixed_window_zero_limit", alg: counter.FixedWindow, limit: 0, window: time.Second, steps: []step{
		{at: 0, hits: 0, want: ok(0, s)},
		{at: 250 * ms, hits: 1, want: deny(1, 750*ms)},
	}},
	{name: "sliding_window_weights_previous", alg: counter.SlidingWindow, limit: 5, window: time.Minute, steps: []step{
		{at: 0, hits: 0, want: ok(0, 60*s)},
		{at: 0, hits: 3, want: ok(3, 60*s)},
		{at: 30 * s, hits: 2, want: ok(5, 30*s)},
		{at: 45 * s, hits: 1, want: deny(5, 15*s)},
		{at: 60 * s, hits: 1, want: deny(5, 60*s)},
		{at: 90 * s, hits: 2, want: ok(5, 30*s)},   // 5*0.5 + 2 = 4.5
		{at: 96 * s, hits: 1, want: ok(5, 24*s)},   // 5*0.4 + 2 + 1 = 5
		{at: 96 * s, hits: 0, want: ok(5, 24*s)},   // a check at the limit passes
		{at: 96 * s, hits: 1, want: deny(5, 24*s)}, // denied hits are not counted
		{at: 150 * s, hits: 2, want: ok(4, 30*s)},  // 3*0.5 + 0 + 2 = 3.5
		{at: 300 * s, hits: 5, want: ok(5, 60*s)},  // both windows expired
		{at: 300 * s, hits: 1, want: deny(5, 60*s)},
	}},
	{name: "sliding_window_hits_over_limit_in_one_call", alg: counter.SlidingWindow, limit: 5, window: time.Minute, steps: []step{
		{at: 0, hits: 6, want: deny(0, 60*s)},
		{at: 0, hits: 5, want: ok(5, 60*s)},
	}},
	{name: "sliding_window_zero_limit", alg: counter.SlidingWindow, limit: 0, window: time.Minute, steps: []step{
		{at: 0, hits: 1, want: deny(0, 60*s)},
		{at: 0, hits: 0, want: ok(0, 60*s)},
	}},
	{name: "token_bucket_refills_continuously", alg: counter.TokenBucket, limit: 5, window: time.Minute, steps: []step{
		{at: 0, hits: 0, want: ok(0, 0)},
		{at: 0, hits: 2, want: ok(2, 24*s)},
		{at: 0, hits: 3, want: ok(5, 60*s)},
		{at: 6 * s, hits: 1, want: deny(5, 54*s)}, // 0.5 tokens
		{at: 12 * s, hits: 1, want: ok(5, 60*s)},
		{at: 12 * s, hits: 0, want: ok(5, 60*s)},
		{at: 36 * s, hits: 1, want: ok(4, 48*s)}, // 2 refilled, 1 taken
		{at: 120 * s, hits: 0, want: ok(0, 0)},   // full again
		{at: 120 * s, hits: 6, want: deny(0, 0)}, // more than the capacity
		{at: 120 * s, hits: 5, want: ok(5, 60*s)},
	}},
	{name: "token_bucket_zero_limit", alg: counter.TokenBucket, limit: 0, window: time.Minute, steps: []step{
		{at: 0, hits: 1, want: deny(0, 0)},
		{at: 0, hits: 0, want: ok(0, 0)},
	}},
}

// keyer makes keys unique to one run of one test, so state a backend kept
// from an earlier run (Redis) never leaks in.
type keyer struct{ nonce int64 }

func newKeyer() keyer { return keyer{nonce: time.Now().UnixNano()} }

func (k keyer) key(t testing.TB, name string) string {
	return fmt.Sprintf("bestefforttest/%d/%s/%s", k.nonce, t.Name(), name)
}

// Run runs the whole suite against the backend newBackend returns; it is
// called once per subtest.
func Run(t *testing.T, newBackend func(t *testing.T) Backend) {
	t.Run("Sequences", func(t *testing.T) { Sequences(t, newBackend(t)) })
	t.Run("Batch", func(t *testing.T) { Batch(t, newBackend(t)) })
	t.Run("InvalidHit", func(t *testing.T) { InvalidHit(t, newBackend(t)) })
	t.Run("Concurrent", func(t *testing.T) { Concurrent(t, newBackend(t)) })
}

// Sequences applies each case's hits one call at a time and checks every
// outcome exactly.
func Sequences(t *testing.T, b Backend) {
	k := newKeyer()
	for _, tc := range seqCases {
		t.Run(tc.name, func(t *testing.T) {
			key := k.key(t, "seq")
			for i, st := range tc.steps {
				hits := []counter.Hit{{Key: key, Algorithm: tc.alg, Limit: tc.limit, Window: tc.window, Hits: st.hits}}
				out := make([]counter.Outcome, 1)
				if err := b.Apply(context.Background(), T0.Add(st.at), hits, out); err != nil {
					t.Fatalf("step %d (T0+%v, %d hits): Apply: %v", i, st.at, st.hits, err)
				}
				if out[0] != st.want {
					t.Fatalf("step %d (T0+%v, %d hits): got %+v, want %+v", i, st.at, st.hits, out[0], st.want)
				}
			}
		})
	}
}

// Batch checks that one Apply with several hits answers each in order.
func Batch(t *testing.T, b Backend) {
	k := newKeyer()
	mk := func(name string, alg counter.Algorithm, hits uint64) counter.Hit {
		return counter.Hit{Key: k.key(t, name), Algorithm: alg, Limit: 3, Window: time.Minute, Hits: hits}
	}
	hits := []counter.Hit{
		mk("fixed", counter.FixedWindow, 2),
		mk("sliding", counter.SlidingWindow, 4),
		mk("bucket", counter.TokenBucket, 3),
		mk("fixed", counter.FixedWindow, 2),
	}
	want := []counter.Outcome{ok(2, 50*s), deny(0, 50*s), ok(3, 60*s), deny(4, 50*s)}
	out := make([]counter.Outcome, len(hits))
	if err := b.Apply(context.Background(), T0.Add(10*s), hits, out); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if !slices.Equal(out, want) {
		t.Fatalf("got %+v\nwant %+v", out, want)
	}
}

// InvalidHit checks that a zero window is refused with an error that is not
// counter.ErrUnavailable.
func InvalidHit(t *testing.T, b Backend) {
	k := newKeyer()
	hits := []counter.Hit{{Key: k.key(t, "w0"), Algorithm: counter.FixedWindow, Limit: 1, Hits: 1}}
	err := b.Apply(context.Background(), T0, hits, make([]counter.Outcome, 1))
	if err == nil || errors.Is(err, counter.ErrUnavailable) {
		t.Fatalf("Apply with a zero window: got error %v, want a non-ErrUnavailable error", err)
	}
}

// Concurrent fires 200 one-hit calls from 50 goroutines at a 5/minute key at
// the same instant and checks that exactly 5 are admitted, for each
// algorithm; for the fixed window it also checks the 200 post-increment
// counts are exactly 1..200.
func Concurrent(t *testing.T, b Backend) {
	k := newKeyer()
	for _, alg := range []counter.Algorithm{counter.FixedWindow, counter.SlidingWindow, counter.TokenBucket} {
		t.Run(alg.String(), func(t *testing.T) {
			hit := counter.Hit{Key: k.key(t, "hot"), Algorithm: alg, Limit: 5, Window: time.Minute, Hits: 1}
			const goroutines, calls = 50, 200
			results := make([]counter.Outcome, calls)
			errs := make([]error, calls)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := range goroutines {
				wg.Go(func() {
					<-start
					for c := g; c < calls; c += goroutines {
						hits := []counter.Hit{hit}
						errs[c] = b.Apply(context.Background(), T0.Add(s), hits, results[c:c+1])
					}
				})
			}
			close(start)
			wg.Wait()
			allowed := 0
			used := make([]uint64, 0, calls)
			for i := range results {
				if errs[i] != nil {
					t.Fatalf("call %d: Apply: %v", i, errs[i])
				}
				if results[i].Allowed {
					allowed++
				}
				used = append(used, results[i].Used)
			}
			if allowed != 5 {
				t.Fatalf("%d of %d calls admitted, want exactly 5", allowed, calls)
			}
			if alg == counter.FixedWindow {
				slices.Sort(used)
				for i, u := range used {
					if u != uint64(i+1) {
						t.Fatalf("sorted post-increment counts[%d] = %d, want %d (counts %v)", i, u, i+1, used)
					}
				}
			}
		})
	}
}

package global

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/testkit"
)

// checkReads asserts how many Accurate reads took each path so far.
func checkReads(t *testing.T, c *Counters, incremental, full float64) {
	t.Helper()
	gotInc, gotFull := testutil.ToFloat64(c.metrics.accurateReads[readIncremental]), testutil.ToFloat64(c.metrics.accurateReads[readFull])
	if gotInc != incremental || gotFull != full {
		t.Errorf("accurate reads: incremental %v, full %v; want %v, %v", gotInc, gotFull, incremental, full)
	}
}

// checkGet asserts GetCount of the Accurate counter "acc"/name.
func checkGet(t *testing.T, c *Counters, name string, want int64) {
	t.Helper()
	if got := mustGet(t, c, "acc", name); got != want {
		t.Errorf("GetCount(%q) = %d, want %d", name, got, want)
	}
}

func TestAccurateReadPaths(t *testing.T) {
	clock := testkit.NewClock(t0)
	c := newCounters(t, openStore(t, clock), clock, nil)
	mustAdd(t, c, "acc", "c", 5, tok(clock, "a"))
	checkGet(t, c, "c", 5)
	checkReads(t, c, 0, 1) // the first read starts from the checkpoint

	// On-time adds, before and after the last read's seal: incremental.
	clock.Advance(4 * time.Second)
	older := tok(clock, "b")
	older.GenerationTime = clock.Now().Add(-counter.DefaultLateAfter + time.Millisecond)
	mustAdd(t, c, "acc", "c", 10, older)
	mustAdd(t, c, "acc", "c", 100, tok(clock, "c"))
	checkGet(t, c, "c", 115)
	checkReads(t, c, 1, 1)
	clock.Advance(time.Second)
	checkGet(t, c, "c", 115)
	checkReads(t, c, 2, 1)

	// A late add, older than the last read's seal: the next read is full.
	late := tok(clock, "d")
	late.GenerationTime = clock.Now().Add(-DefaultAcceptLimit + time.Millisecond)
	mustAdd(t, c, "acc", "c", 1000, late)
	checkGet(t, c, "c", 1115)
	checkReads(t, c, 2, 2)
	checkGet(t, c, "c", 1115)
	checkReads(t, c, 3, 2)

	// A late clear counts as well.
	clear := tok(clock, "e")
	clear.GenerationTime = late.GenerationTime.Add(time.Millisecond)
	if err := c.ClearCount(context.Background(), "acc", "c", clear); err != nil {
		t.Fatal(err)
	}
	checkGet(t, c, "c", 110) // "b" and "c" are ordered after the clear
	checkReads(t, c, 3, 3)

	// After MaxReadGap, a read starts from the checkpoint again.
	clock.Advance(DefaultMaxReadGap - time.Second)
	checkGet(t, c, "c", 110)
	checkReads(t, c, 4, 3)
	clock.Advance(2 * time.Second)
	checkGet(t, c, "c", 110)
	checkReads(t, c, 4, 4)
}

// splitRecorder records the bounds of the AggregateSplit calls to its store.
type splitRecorder struct {
	counter.EventStore
	mu    sync.Mutex
	calls [][3]time.Time
}

func (r *splitRecorder) AggregateSplit(ctx context.Context, ns, name string, from, cut, to time.Time) (counter.Aggregate, counter.Aggregate, error) {
	r.mu.Lock()
	r.calls = append(r.calls, [3]time.Time{from, cut, to})
	r.mu.Unlock()
	return r.EventStore.AggregateSplit(ctx, ns, name, from, cut, to)
}

// TestAccurateSealPerNamespace checks that a read seals at now -
// min(LateAfter, AcceptLimit) - ClockSkew of its namespace, and that the next
// read scans from there.
func TestAccurateSealPerNamespace(t *testing.T) {
	for _, tc := range []struct {
		ns  string
		lag time.Duration
	}{{"acc", counter.DefaultLateAfter + DefaultClockSkew}, {"acc_hot", hotOptions.LateAfter + hotOptions.ClockSkew}} {
		t.Run(tc.ns, func(t *testing.T) {
			clock := testkit.NewClock(t0)
			rec := &splitRecorder{EventStore: openStore(t, clock)}
			c := newCounters(t, rec, clock, nil)
			mustAdd(t, c, tc.ns, "c", 1, tok(clock, "a"))
			clock.Advance(10 * time.Second)
			first := clock.Now()
			mustGet(t, c, tc.ns, "c")
			clock.Advance(time.Second)
			mustGet(t, c, tc.ns, "c")
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.calls) != 2 {
				t.Fatalf("%d AggregateSplit calls, want 2", len(rec.calls))
			}
			if got, want := rec.calls[0][1], first.Add(-tc.lag); !got.Equal(want) {
				t.Errorf("first read cut at %v, want %v", got, want)
			}
			if got, want := rec.calls[1][0], first.Add(-tc.lag); !got.Equal(want) {
				t.Errorf("second read scanned from %v, want %v", got, want)
			}
			checkReads(t, c, 1, 1)
		})
	}
}

// TestAccurateModel runs random adds (on time and late), clears, retries,
// rollups and clock steps on two instances sharing a store, with the rollup
// workers running, and checks every Accurate read of both against a fold of
// the acknowledged events; with the default options and hotOptions.
func TestAccurateModel(t *testing.T) {
	for _, ns := range []string{"acc", "acc_hot"} {
		t.Run(ns, func(t *testing.T) { testAccurateModel(t, ns) })
	}
}

func testAccurateModel(t *testing.T, ns string) {
	lateAfter := cmp.Or(testNamespaces[ns].LateAfter, counter.DefaultLateAfter)
	clock := testkit.NewClock(t0)
	store := openStore(t, clock)
	insts := []*Counters{newCounters(t, store, clock, nil), newCounters(t, store, clock, nil)}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var acked []counter.Event
	want := func() int64 {
		sorted := slices.Clone(acked)
		slices.SortFunc(sorted, func(a, b counter.Event) int {
			if c := a.Time.Compare(b.Time); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		var n int64
		for _, ev := range sorted {
			if ev.Clear {
				n = 0
			} else {
				n += ev.Delta
			}
		}
		return n
	}
	// age returns a random event age: mostly on time, sometimes late, and
	// sometimes ahead of the clock.
	age := func() time.Duration {
		switch r := rng.IntN(10); {
		case r < 6:
			return time.Duration(rng.Int64N(int64(lateAfter)))
		case r < 9:
			return lateAfter + time.Duration(rng.Int64N(int64(DefaultAcceptLimit-lateAfter)))
		default:
			return -time.Duration(rng.Int64N(int64(DefaultFutureLimit)))
		}
	}
	reads := 0
	for step := range 3000 {
		inst := insts[rng.IntN(len(insts))]
		switch r := rng.IntN(100); {
		case r < 15:
			clock.Advance(time.Duration(rng.Int64N(int64(1500 * time.Millisecond))))
		case r < 55:
			tk := IdempotencyToken{Token: "t" + strconv.Itoa(step), GenerationTime: clock.Now().Add(-age())}
			delta := rng.Int64N(1000) - 100
			mustAdd(t, inst, ns, "c", delta, tk)
			acked = append(acked, counter.Event{Time: tk.GenerationTime, ID: tk.Token, Delta: delta})
		case r < 60:
			tk := IdempotencyToken{Token: "t" + strconv.Itoa(step), GenerationTime: clock.Now().Add(-age())}
			if err := inst.ClearCount(ctx, ns, "c", tk); err != nil {
				t.Fatal(err)
			}
			acked = append(acked, counter.Event{Time: tk.GenerationTime, ID: tk.Token, Clear: true})
		case r < 65 && len(acked) > 0:
			// A retry of an acknowledged event still inside accept_limit.
			ev := acked[len(acked)-1-rng.IntN(min(len(acked), 20))]
			if clock.Now().Sub(ev.Time) >= DefaultAcceptLimit {
				continue
			}
			tk := IdempotencyToken{Token: ev.ID, GenerationTime: ev.Time}
			var err error
			if ev.Clear {
				err = inst.ClearCount(ctx, ns, "c", tk)
			} else {
				err = inst.AddCount(ctx, ns, "c", ev.Delta, tk)
			}
			if err != nil {
				t.Fatal(err)
			}
		case r < 68:
			mustRollup(t, inst, ns, "c")
		default:
			reads++
			if got, w := mustGet(t, inst, ns, "c"), want(); got != w {
				t.Fatalf("step %d: GetCount = %d, want %d (%d events acknowledged)", step, got, w, len(acked))
			}
		}
	}
	var incremental float64
	for _, inst := range insts {
		incremental += testutil.ToFloat64(inst.metrics.accurateReads[readIncremental])
	}
	if incremental < float64(reads)/4 {
		t.Errorf("%v of %d reads were incremental, want at least a quarter", incremental, reads)
	}
}

// TestAccurateReadPathsOnCassandra checks both read paths against the test
// Cassandra node, with the real clock.
func TestAccurateReadPathsOnCassandra(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := New(Options{Store: openCassandra(t, "tollgate_it_global"), Namespaces: testNamespaces, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	name := "paths-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	add := func(delta int64, tk IdempotencyToken) {
		t.Helper()
		if err := c.AddCount(ctx, "acc", name, delta, tk); err != nil {
			t.Fatal(err)
		}
	}
	aged := func(id string, age time.Duration) IdempotencyToken {
		return IdempotencyToken{Token: id, GenerationTime: time.Now().Add(-age)}
	}
	add(1, aged("a", 0))
	checkGet(t, c, name, 1)
	checkReads(t, c, 0, 1)
	add(10, aged("b", 0))
	// On time unless its append takes 3/4 of LateAfter.
	add(100, aged("c", counter.DefaultLateAfter/4))
	checkGet(t, c, name, 111)
	checkReads(t, c, 1, 1)
	late := aged("d", counter.DefaultLateAfter+time.Second)
	add(1000, late)
	add(1000, late) // a retry counts once
	checkGet(t, c, name, 1111)
	checkReads(t, c, 1, 2)
	checkGet(t, c, name, 1111)
	checkReads(t, c, 2, 2)
}

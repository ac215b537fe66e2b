package global

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/pebble"
	"github.com/tollgate/tollgate/internal/testkit"
)

// t0 is the fake clock's start.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// settle is how far the clock must move past an add for a rollup to cover
// it with the default options.
const settle = DefaultAcceptLimit + DefaultClockSkew

// testNamespaces are the namespaces of the tests: default options, and
// "acc_hot", an Accurate namespace tuned for a hot counter (see hotOptions).
var testNamespaces = map[string]NamespaceOptions{
	"ev":      {Type: Eventual},
	"acc":     {Type: Accurate},
	"acc_hot": hotOptions,
	"be":      {Type: BestEffort},
}

// hotOptions are the options of an Accurate namespace whose reads re-scan
// only 200 ms of adds, as the README suggests for hot counters.
var hotOptions = NamespaceOptions{Type: Accurate, LateAfter: 100 * time.Millisecond, ClockSkew: 100 * time.Millisecond}

// testLateAfters is the store option testNamespaces need.
var testLateAfters = counter.LateAfters{"acc_hot": hotOptions.LateAfter}

// openStore opens a Pebble store on an in-memory filesystem, with
// testLateAfters.
func openStore(t testing.TB, clock *testkit.Clock) *pebble.Store {
	t.Helper()
	s, err := pebble.Open(pebble.Options{FS: vfs.NewMem(), Dir: "db", Now: clock.Now, LateAfter: testLateAfters})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newCounters returns Counters over store with testNamespaces, closed at the
// end of the test.
func newCounters(t testing.TB, store counter.EventStore, clock *testkit.Clock, reg prometheus.Registerer) *Counters {
	t.Helper()
	c, err := New(Options{Store: store, Namespaces: testNamespaces, Now: clock.Now, PollInterval: time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	run(t, c)
	return c
}

// run runs c's rollup workers until the test ends, then closes c.
func run(t testing.TB, c *Counters) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(context.Background()) }()
	t.Cleanup(func() {
		c.Close()
		<-done
	})
}

// tok returns a token generated at the clock's current time.
func tok(clock *testkit.Clock, id string) IdempotencyToken {
	return IdempotencyToken{Token: id, GenerationTime: clock.Now()}
}

// mustGet returns GetCount and fails the test on error.
func mustGet(t *testing.T, c *Counters, ns, name string) int64 {
	t.Helper()
	n, err := c.GetCount(context.Background(), ns, name)
	if err != nil {
		t.Fatalf("GetCount(%q, %q): %v", ns, name, err)
	}
	return n
}

// mustAdd calls AddCount and fails the test on error.
func mustAdd(t *testing.T, c *Counters, ns, name string, delta int64, tk IdempotencyToken) {
	t.Helper()
	if err := c.AddCount(context.Background(), ns, name, delta, tk); err != nil {
		t.Fatalf("AddCount(%q, %q, %d): %v", ns, name, delta, err)
	}
}

// mustRollup rolls the counter up and fails the test on error.
func mustRollup(t *testing.T, c *Counters, ns, name string) counter.Checkpoint {
	t.Helper()
	cp, err := c.Rollup(context.Background(), ns, name)
	if err != nil {
		t.Fatalf("Rollup(%q, %q): %v", ns, name, err)
	}
	return cp
}

func TestEventualCountAfterRollup(t *testing.T) {
	clock := testkit.NewClock(t0)
	c := newCounters(t, openStore(t, clock), clock, nil)
	deltas := []int64{5, -2, 100, 7}
	for i, d := range deltas {
		mustAdd(t, c, "ev", "c", d, tok(clock, "t"+string(rune('a'+i))))
		clock.Advance(100 * time.Millisecond)
	}
	if got := mustGet(t, c, "ev", "c"); got != 0 {
		t.Errorf("GetCount before accept_limit passed = %d, want 0 (no rollup can cover the adds yet)", got)
	}
	cp := mustRollup(t, c, "ev", "c")
	if cp.Count != 0 {
		t.Errorf("Rollup before accept_limit passed: count %d, want 0", cp.Count)
	}
	clock.Advance(settle)
	cp = mustRollup(t, c, "ev", "c")
	if want := (counter.Checkpoint{Count: 110, At: clock.Now().Add(-settle)}); cp != want {
		t.Errorf("Rollup = %+v, want %+v", cp, want)
	}
	if got := mustGet(t, c, "ev", "c"); got != 110 {
		t.Errorf("GetCount after rollup = %d, want 110", got)
	}
}

func TestEventualConvergesThroughWorkers(t *testing.T) {
	clock := testkit.NewClock(t0)
	c := newCounters(t, openStore(t, clock), clock, nil)
	for i := range 50 {
		mustAdd(t, c, "ev", "w", 2, tok(clock, "tok"+string(rune('A'+i))))
	}
	// Only the clock moving lets the queued rollup cover the adds; the
	// workers poll every millisecond of real time.
	clock.Advance(settle + DefaultCoalesceWindow)
	waitFor(t, func() bool { return mustGet(t, c, "ev", "w") == 100 }, "GetCount to reach 100")
	// The reads above queued rollups; once due they find nothing new and the
	// counter leaves circulation.
	clock.Advance(DefaultCoalesceWindow)
	waitFor(t, func() bool { return c.queueDepth() == 0 }, "the counter to leave circulation")
}

// waitFor polls cond for up to 10 seconds of real time.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestRetriedTokenCountsOnce(t *testing.T) {
	for _, ns := range []string{"ev", "acc"} {
		t.Run(ns, func(t *testing.T) {
			clock := testkit.NewClock(t0)
			c := newCounters(t, openStore(t, clock), clock, nil)
			tk := tok(clock, "same")
			for range 3 {
				mustAdd(t, c, ns, "c", 4, tk)
			}
			other := tok(clock, "other")
			batch := []AddRequest{{ns, "c", 10, other}, {ns, "c", 10, other}, {ns, "c", 4, tk}}
			if err := c.BatchAdd(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			clock.Advance(settle)
			mustRollup(t, c, ns, "c")
			if got := mustGet(t, c, ns, "c"); got != 14 {
				t.Errorf("GetCount = %d, want 14 (each token once)", got)
			}
		})
	}
}

// failingStore fails the next failures Appends, then passes them through.
type failingStore struct {
	counter.EventStore
	failures atomic.Int32
}

var errInjected = errors.New("injected append failure")

func (f *failingStore) Append(ctx context.Context, events []counter.Event) error {
	if f.failures.Add(-1) >= 0 {
		return errInjected
	}
	return f.EventStore.Append(ctx, events)
}

// TestFailedAppendDoesNotUseToken checks that an add whose append failed can
// be retried with the same token and then counts exactly once (the failure
// must not mark the token as used).
func TestFailedAppendDoesNotUseToken(t *testing.T) {
	for _, ns := range []string{"ev", "acc"} {
		t.Run(ns, func(t *testing.T) {
			clock := testkit.NewClock(t0)
			store := &failingStore{EventStore: openStore(t, clock)}
			store.failures.Store(2)
			c := newCounters(t, store, clock, nil)
			tk := tok(clock, "retry-me")
			for range 2 {
				err := c.AddCount(context.Background(), ns, "c", 9, tk)
				want := `counter/global: cannot add to "` + ns + `"/"c": injected append failure`
				if !errors.Is(err, errInjected) || err.Error() != want {
					t.Fatalf("AddCount with a failing store: error %v, want %q", err, want)
				}
			}
			clock.Advance(time.Second)
			mustAdd(t, c, ns, "c", 9, tk)
			mustAdd(t, c, ns, "c", 9, tk)
			clock.Advance(settle)
			mustRollup(t, c, ns, "c")
			if got := mustGet(t, c, ns, "c"); got != 9 {
				t.Errorf("GetCount after retries = %d, want 9", got)
			}
		})
	}
}

func TestClearCount(t *testing.T) {
	for _, ns := range []string{"ev", "acc", "be"} {
		t.Run(ns, func(t *testing.T) {
			clock := testkit.NewClock(t0)
			c := newCounters(t, openStore(t, clock), clock, nil)
			mustAdd(t, c, ns, "c", 5, tok(clock, "a"))
			clock.Advance(time.Millisecond)
			if err := c.ClearCount(context.Background(), ns, "c", tok(clock, "clear")); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Millisecond)
			mustAdd(t, c, ns, "c", 3, tok(clock, "b"))
			clock.Advance(settle)
			if ns != "be" {
				mustRollup(t, c, ns, "c")
			}
			if got := mustGet(t, c, ns, "c"); got != 3 {
				t.Errorf("GetCount after add 5, clear, add 3 = %d, want 3", got)
			}
		})
	}
}

func TestAccurateIncludesOwnWrite(t *testing.T) {
	clock := testkit.NewClock(t0)
	c := newCounters(t, openStore(t, clock), clock, nil)
	ctx := context.Background()
	want := int64(0)
	for i, d := range []int64{3, 4, -1, 10} {
		tk := tok(clock, "t"+string(rune('a'+i)))
		if i == 3 {
			tk.GenerationTime = clock.Now().Add(DefaultFutureLimit) // client clock ahead
		}
		want += d
		got, err := c.AddAndGetCount(ctx, "acc", "c", d, tk)
		if err != nil || got != want {
			t.Fatalf("AddAndGetCount #%d = %d, %v; want %d", i, got, err, want)
		}
		clock.Advance(2 * time.Second)
		if i == 1 {
			mustRollup(t, c, "acc", "c") // some adds in the checkpoint, some after it
		}
	}
	if got := mustGet(t, c, "acc", "c"); got != want {
		t.Errorf("GetCount = %d, want %d", got, want)
	}
}

func TestAccurateColdCounterRollsUpFirst(t *testing.T) {
	clock := testkit.NewClock(t0)
	store := openStore(t, clock)
	c := newCounters(t, store, clock, nil)
	mustAdd(t, c, "acc", "cold", 8, tok(clock, "a"))
	clock.Advance(DefaultMaxReadGap + time.Second)
	if got := mustGet(t, c, "acc", "cold"); got != 8 {
		t.Fatalf("GetCount = %d, want 8", got)
	}
	cp, err := store.Checkpoint(context.Background(), "acc", "cold")
	if want := (counter.Checkpoint{Count: 8, At: clock.Now().Add(-settle)}); err != nil || cp != want {
		t.Errorf("stored checkpoint after a read with a large gap = %+v, %v; want %+v", cp, err, want)
	}
}

func TestInstancesConverge(t *testing.T) {
	clock := testkit.NewClock(t0)
	store := openStore(t, clock)
	a := newCounters(t, store, clock, nil)
	b := newCounters(t, store, clock, nil)
	var want int64
	for i := range 40 {
		inst := a
		if i%2 == 1 {
			inst = b
		}
		mustAdd(t, inst, "ev", "c", int64(i), tok(clock, "t"+string(rune('0'+i))))
		mustAdd(t, inst, "acc", "c", int64(i), tok(clock, "t"+string(rune('0'+i))))
		want += int64(i)
		clock.Advance(250 * time.Millisecond)
		if i%7 == 0 { // interleave rollups of both instances
			mustRollup(t, a, "ev", "c")
			mustRollup(t, b, "ev", "c")
			mustRollup(t, b, "acc", "c")
		}
	}
	for _, inst := range []*Counters{a, b} {
		if got := mustGet(t, inst, "acc", "c"); got != want {
			t.Errorf("accurate GetCount = %d, want %d", got, want)
		}
	}
	clock.Advance(settle)
	cpA, cpB := mustRollup(t, a, "ev", "c"), mustRollup(t, b, "ev", "c")
	if cpA != cpB || cpA.Count != want {
		t.Errorf("rollups of two instances = %+v and %+v, want both with count %d", cpA, cpB, want)
	}
	for _, inst := range []*Counters{a, b} {
		if got := mustGet(t, inst, "ev", "c"); got != want {
			t.Errorf("eventual GetCount = %d, want %d", got, want)
		}
	}
}

func TestCheckpointNeverMovesBackwards(t *testing.T) {
	clock := testkit.NewClock(t0)
	store := openStore(t, clock)
	insts := []*Counters{newCounters(t, store, clock, nil), newCounters(t, store, clock, nil)}
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var adds atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				inst := insts[(w+i)%2]
				_ = inst.AddCount(ctx, "ev", "c", 1, IdempotencyToken{Token: string(rune('a'+w)) + "-" + time.Duration(i).String(), GenerationTime: clock.Now()})
				adds.Add(1)
				if _, err := inst.Rollup(ctx, "ev", "c"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	var prev counter.Checkpoint
	for range 200 {
		clock.Advance(50 * time.Millisecond)
		cp, err := store.Checkpoint(ctx, "ev", "c")
		if err != nil {
			t.Fatal(err)
		}
		if cp.At.Before(prev.At) || (cp.At.Equal(prev.At) && cp.Count != prev.Count) {
			t.Fatalf("checkpoint moved from %+v to %+v", prev, cp)
		}
		prev = cp
		time.Sleep(100 * time.Microsecond)
	}
	close(stop)
	wg.Wait()
	clock.Advance(settle + time.Second)
	stored, err := store.Sum(ctx, "ev", "c", time.Time{}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range insts {
		if cp := mustRollup(t, inst, "ev", "c"); cp.Count != stored {
			t.Errorf("final rollup count %d, want the %d stored adds", cp.Count, stored)
		}
	}
}

func TestBestEffort(t *testing.T) {
	clock := testkit.NewClock(t0)
	c, err := New(Options{Namespaces: map[string]NamespaceOptions{"be": {Type: BestEffort}}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for range 3 {
		if _, err := c.AddAndGetCount(ctx, "be", "c", 2, IdempotencyToken{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustGet(t, c, "be", "c"); got != 6 {
		t.Errorf("GetCount = %d, want 6 (no idempotency)", got)
	}
	if err := c.ClearCount(ctx, "be", "c", IdempotencyToken{}); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, c, "be", "c"); got != 0 {
		t.Errorf("GetCount after clear = %d, want 0", got)
	}
}

func TestBatchAdd(t *testing.T) {
	clock := testkit.NewClock(t0)
	c := newCounters(t, openStore(t, clock), clock, nil)
	ctx := context.Background()
	err := c.BatchAdd(ctx, []AddRequest{
		{"ev", "a", 1, tok(clock, "1")},
		{"acc", "a", 2, tok(clock, "2")},
		{"be", "a", 3, IdempotencyToken{}},
		{"acc", "a", 4, tok(clock, "4")},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = c.BatchAdd(ctx, []AddRequest{{"acc", "a", 100, tok(clock, "5")}, {"be", "a", 100, IdempotencyToken{}}, {"acc", "", 1, tok(clock, "6")}})
	const want = "counter/global: request 2: counter/global: invalid argument: counter name is empty (send a name of 1 to 256 bytes)"
	if !errors.Is(err, ErrInvalidArgument) || err.Error() != want {
		t.Errorf("BatchAdd with an invalid request: error %v, want %q", err, want)
	}
	// Overflow is checked against the last known count plus the batch's own
	// earlier deltas.
	err = c.BatchAdd(ctx, []AddRequest{{"acc", "b", math.MaxInt64, tok(clock, "8")}, {"acc", "b", 1, tok(clock, "9")}})
	const wantOverflow = `counter/global: request 1: counter/global: invalid argument: adding 1 to count 9223372036854775807 of "b" overflows int64 (clear the counter or use a smaller delta)`
	if !errors.Is(err, ErrInvalidArgument) || err.Error() != wantOverflow {
		t.Errorf("BatchAdd overflowing within the batch: error %v, want %q", err, wantOverflow)
	}
	clock.Advance(settle)
	mustRollup(t, c, "ev", "a")
	for _, tc := range []struct {
		ns   string
		want int64
	}{{"ev", 1}, {"acc", 6}, {"be", 3}} {
		if got := mustGet(t, c, tc.ns, "a"); got != tc.want {
			t.Errorf("GetCount(%q) = %d, want %d", tc.ns, got, tc.want)
		}
	}
}

func TestValidation(t *testing.T) {
	clock := testkit.NewClock(t0)
	c := newCounters(t, openStore(t, clock), clock, nil)
	ctx := context.Background()
	long := strings.Repeat("x", MaxNameLen+1)
	now := IdempotencyToken{Token: "t", GenerationTime: t0}
	if _, err := c.AddAndGetCount(ctx, "be", "full", math.MaxInt64, now); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		err   error
		is    error
		wantS string
	}{
		{"unknown namespace", c.AddCount(ctx, "nope", "c", 1, now), ErrUnknownNamespace,
			`counter/global: unknown namespace "nope" (add it to the counter namespaces configuration)`},
		{"empty name", c.AddCount(ctx, "ev", "", 1, now), ErrInvalidArgument,
			"counter/global: invalid argument: counter name is empty (send a name of 1 to 256 bytes)"},
		{"long name", c.AddCount(ctx, "be", long, 1, now), ErrInvalidArgument,
			"counter/global: invalid argument: counter name is 257 bytes, longer than 256 (use a shorter name)"},
		{"empty token", c.AddCount(ctx, "ev", "c", 1, IdempotencyToken{GenerationTime: t0}), ErrInvalidArgument,
			"counter/global: invalid argument: idempotency token is empty (send a unique token per operation and reuse it on retries)"},
		{"long token", c.AddCount(ctx, "acc", "c", 1, IdempotencyToken{Token: long, GenerationTime: t0}), ErrInvalidArgument,
			"counter/global: invalid argument: idempotency token is 257 bytes, longer than 256 (use a shorter token, such as a UUID)"},
		{"no generation time", c.ClearCount(ctx, "ev", "c", IdempotencyToken{Token: "t"}), ErrInvalidArgument,
			"counter/global: invalid argument: idempotency token generation time is missing (send the time the token was created)"},
		{"too old", c.AddCount(ctx, "ev", "c", 1, IdempotencyToken{Token: "t", GenerationTime: t0.Add(-5001 * time.Millisecond)}), ErrInvalidArgument,
			`counter/global: invalid argument: event time 2025-06-01T11:59:54.999Z is 5.001s old, older than namespace "ev"'s accept_limit 5s (retry within accept_limit, or send a new token for a new operation)`},
		{"too far ahead", c.AddCount(ctx, "acc", "c", 1, IdempotencyToken{Token: "t", GenerationTime: t0.Add(1500 * time.Millisecond)}), ErrInvalidArgument,
			`counter/global: invalid argument: event time 2025-06-01T12:00:01.5Z is 1.5s in the future, beyond namespace "acc"'s future_limit 1s (check the client's clock)`},
		{"overflow", c.AddCount(ctx, "be", "full", 1, now), ErrInvalidArgument,
			`counter/global: invalid argument: adding 1 to count 9223372036854775807 of "full" overflows int64 (clear the counter or use a smaller delta)`},
		{"sum of best effort", sumErr(c.Sum(ctx, "be", "c", t0, t0)), ErrInvalidArgument,
			`counter/global: invalid argument: namespace "be" is best_effort and keeps no events (use an eventual or accurate namespace for metering)`},
		{"get unknown", sumErr(c.GetCount(ctx, "nope", "c")), ErrUnknownNamespace,
			`counter/global: unknown namespace "nope" (add it to the counter namespaces configuration)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.is) || tc.err.Error() != tc.wantS {
				t.Errorf("error %v\nwant %q (matching %v)", tc.err, tc.wantS, tc.is)
			}
		})
	}
	// Exactly at the limits is accepted.
	mustAdd(t, c, "ev", "edge", 1, IdempotencyToken{Token: "old", GenerationTime: t0.Add(-DefaultAcceptLimit)})
	mustAdd(t, c, "ev", "edge", 1, IdempotencyToken{Token: "new", GenerationTime: t0.Add(DefaultFutureLimit)})
}

// sumErr drops the value of a (value, error) pair.
func sumErr(_ int64, err error) error { return err }

func TestSum(t *testing.T) {
	clock := testkit.NewClock(t0)
	c := newCounters(t, openStore(t, clock), clock, nil)
	ctx := context.Background()
	for i := range 10 {
		mustAdd(t, c, "acc", "usage", int64(i+1), tok(clock, "u"+string(rune('0'+i))))
		clock.Advance(time.Second)
	}
	got, err := c.Sum(ctx, "acc", "usage", t0.Add(2*time.Second), t0.Add(5*time.Second))
	if err != nil || got != 3+4+5 {
		t.Errorf("Sum[t0+2s, t0+5s) = %d, %v; want 12", got, err)
	}
}

// TestLateAfterDefault checks that late_after defaults to the shorter of
// counter.DefaultLateAfter and accept_limit, and that a set value stays.
func TestLateAfterDefault(t *testing.T) {
	opts := Options{Namespaces: map[string]NamespaceOptions{
		"default": {Type: Accurate},
		"short":   {Type: Accurate, AcceptLimit: 500 * time.Millisecond},
		"set":     {Type: Eventual, AcceptLimit: 500 * time.Millisecond, LateAfter: 2 * time.Second},
		"be":      {Type: BestEffort},
	}}
	opts.EnsureDefaults()
	want := counter.LateAfters{"default": counter.DefaultLateAfter, "short": 500 * time.Millisecond, "set": 2 * time.Second}
	if got := opts.LateAfters(); !maps.Equal(got, want) {
		t.Errorf("LateAfters() = %v, want %v", got, want)
	}
}

// TestNewChecksStoreLateAfter checks that New refuses a store that judges a
// namespace's late events by another LateAfter than the namespace's.
func TestNewChecksStoreLateAfter(t *testing.T) {
	clock := testkit.NewClock(t0)
	store, err := pebble.Open(pebble.Options{FS: vfs.NewMem(), Dir: "db", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, err = New(Options{Store: store, Namespaces: testNamespaces, Now: clock.Now})
	want := `counter/global: namespace "acc_hot": late_after is 100ms, but the store judges its events late after 1s (open the store with Options.LateAfters)`
	if err == nil || err.Error() != want {
		t.Errorf("New() = %v, want %s", err, want)
	}
}

func TestOptionsValidate(t *testing.T) {
	opts := Options{
		Namespaces: map[string]NamespaceOptions{
			"ok":  {Type: Eventual},
			"bad": {AcceptLimit: -time.Second, LateAfter: -time.Second, Retention: time.Second},
			"":    {Type: BestEffort},
		},
		Queues: -1,
	}
	opts.EnsureDefaults()
	want := strings.Join([]string{
		"counter/global: Now is required (pass time.Now)",
		`counter/global: namespace name "" must be 1 to 256 bytes (rename it)`,
		`counter/global: namespace "bad": type is not set (use best_effort, eventual or accurate)`,
		`counter/global: namespace "bad": accept_limit -1s is negative (use a positive duration, or 0 for the default)`,
		`counter/global: namespace "bad": late_after -1s is negative (use a positive duration, or 0 for the default)`,
		"counter/global: Queues -1 is negative (use a positive number, or 0 for the default)",
		"counter/global: Store is required by the eventual and accurate namespaces (open counter/pebble or counter/cassandra)",
	}, "\n")
	if err := opts.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant:\n%s", err, want)
	}
	if got := opts.Retentions(); len(got) != 1 || got["ok"] != DefaultRetention {
		t.Errorf("Retentions() = %v, want map[ok:%v]", got, DefaultRetention)
	}
	if got := opts.LateAfters(); len(got) != 1 || got["ok"] != counter.DefaultLateAfter {
		t.Errorf("LateAfters() = %v, want map[ok:%v]", got, counter.DefaultLateAfter)
	}
	for _, s := range []string{"best_effort", "eventual", "accurate"} {
		if typ, err := ParseType(s); err != nil || typ.String() != s {
			t.Errorf("ParseType(%q) = %v, %v", s, typ, err)
		}
	}
	if _, err := ParseType("exact"); err == nil || err.Error() != `counter/global: unknown counter type "exact" (use best_effort, eventual or accurate)` {
		t.Errorf("ParseType(exact) error = %v", err)
	}
}

func TestCloseDrainsAndRejects(t *testing.T) {
	clock := testkit.NewClock(t0)
	store := openStore(t, clock)
	c := newCounters(t, store, clock, nil)
	mustAdd(t, c, "ev", "c", 5, tok(clock, "a"))
	clock.Advance(settle)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	cp, err := store.Checkpoint(context.Background(), "ev", "c")
	if err != nil || cp.Count != 5 {
		t.Errorf("checkpoint after Close = %+v, %v; want count 5 (queued rollup drained)", cp, err)
	}
	if err := c.AddCount(context.Background(), "ev", "c", 1, tok(clock, "b")); !errors.Is(err, ErrClosed) {
		t.Errorf("AddCount after Close: error %v, want ErrClosed", err)
	}
}

func TestMetrics(t *testing.T) {
	clock := testkit.NewClock(t0)
	reg := prometheus.NewPedanticRegistry()
	c := newCounters(t, openStore(t, clock), clock, reg)
	mustAdd(t, c, "ev", "c", 1, tok(clock, "a"))
	clock.Advance(settle)
	mustRollup(t, c, "ev", "c")
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		// The house naming tollgate_counter_<name> trips promlint's check
		// for counters named after their type; every other finding fails.
		if p.Text != "metric name should not include type 'counter'" {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
	if got := testutil.ToFloat64(c.metrics.rollupsOK); got < 1 {
		t.Errorf("tollgate_counter_rollups_total{result=ok} = %v, want >= 1", got)
	}
	if got := testutil.CollectAndCount(reg, "tollgate_counter_api_duration_seconds"); got != 16 {
		t.Errorf("api duration series = %d, want 16", got)
	}
}

// TestOverflowAgainstLiveCount checks that an add that would take the live
// count out of the int64 range is refused, with the live count in the error,
// and writes nothing: for every type, whether or not a rollup covered the
// earlier adds, upwards and downwards.
func TestOverflowAgainstLiveCount(t *testing.T) {
	for _, ns := range []string{"ev", "acc", "be"} {
		t.Run(ns, func(t *testing.T) {
			clock := testkit.NewClock(t0)
			store := openStore(t, clock)
			c := newCounters(t, store, clock, nil)
			ctx := context.Background()
			id := 0
			next := func() IdempotencyToken {
				id++
				return tok(clock, "t"+strconv.Itoa(id))
			}
			refused := func(name string, delta, live int64) {
				t.Helper()
				want := fmt.Sprintf("counter/global: invalid argument: adding %d to count %d of %q overflows int64 (clear the counter or use a smaller delta)", delta, live, name)
				if err := c.AddCount(ctx, ns, name, delta, next()); !errors.Is(err, ErrInvalidArgument) || err.Error() != want {
					t.Errorf("AddCount(%q, %d) = %v, want %q", name, delta, err, want)
				}
				if n, err := c.AddAndGetCount(ctx, ns, name, delta, next()); !errors.Is(err, ErrInvalidArgument) || err.Error() != want || n != 0 {
					t.Errorf("AddAndGetCount(%q, %d) = %d, %v, want 0, %q", name, delta, n, err, want)
				}
				wantBatch := "counter/global: request 1: " + want
				if err := c.BatchAdd(ctx, []AddRequest{{ns, "other", 1, next()}, {ns, name, delta, next()}}); !errors.Is(err, ErrInvalidArgument) || err.Error() != wantBatch {
					t.Errorf("BatchAdd(%q, %d) = %v, want %q", name, delta, err, wantBatch)
				}
			}
			settled := func(name string, want int64) {
				t.Helper()
				if ns != "be" {
					clock.Advance(settle)
					mustRollup(t, c, ns, name)
				}
				if got := mustGet(t, c, ns, name); got != want {
					t.Errorf("GetCount(%q) = %d, want %d", name, got, want)
				}
			}

			// Before a rollup covers the first add, and after.
			mustAdd(t, c, ns, "up", math.MaxInt64, next())
			refused("up", 1, math.MaxInt64)
			refused("up", math.MaxInt64, math.MaxInt64)
			settled("up", math.MaxInt64)
			refused("up", 1, math.MaxInt64)
			mustAdd(t, c, ns, "up", -1, next())
			refused("up", 2, math.MaxInt64-1)

			mustAdd(t, c, ns, "down", math.MinInt64, next())
			refused("down", -1, math.MinInt64)
			settled("down", math.MinInt64)
			refused("down", math.MinInt64, math.MinInt64)

			// A checkpoint of -MaxInt64 followed by two adds of MaxInt64: the
			// events after the checkpoint sum past int64, the count does not.
			mustAdd(t, c, ns, "swing", -math.MaxInt64, next())
			settled("swing", -math.MaxInt64)
			mustAdd(t, c, ns, "swing", math.MaxInt64, next())
			mustAdd(t, c, ns, "swing", math.MaxInt64, next())
			refused("swing", 1, math.MaxInt64)
			settled("swing", math.MaxInt64)

			// The refused adds wrote nothing.
			if ns != "be" {
				for name, want := range map[string]int64{"up": math.MaxInt64 - 1, "down": math.MinInt64, "other": 0} {
					if got, err := store.Sum(ctx, ns, name, time.Time{}, clock.Now().Add(time.Hour)); err != nil || got != want {
						t.Errorf("stored sum of %q = %d, %v; want %d", name, got, err, want)
					}
				}
			}
			if got := mustGet(t, c, ns, "other"); got != 0 {
				t.Errorf("GetCount(other) = %d, want 0", got)
			}
		})
	}
}

// TestValidationFarTimes checks that event times far outside the accept
// window, years 2999 and 0001 (which would wrap in Unix nanoseconds), are
// refused by AddCount and by BatchAdd, which then adds nothing.
func TestValidationFarTimes(t *testing.T) {
	clock := testkit.NewClock(t0)
	c := newCounters(t, openStore(t, clock), clock, nil)
	ctx := context.Background()
	future := IdempotencyToken{Token: "f", GenerationTime: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)}
	past := IdempotencyToken{Token: "p", GenerationTime: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}
	const (
		wantFuture = `counter/global: invalid argument: event time 2999-01-01T00:00:00Z is 2562047h47m16.854775807s in the future, beyond namespace "acc"'s future_limit 1s (check the client's clock)`
		wantPast   = `counter/global: invalid argument: event time 0001-01-01T00:00:00.000000001Z is 2562047h47m16.854775807s old, older than namespace "acc"'s accept_limit 5s (retry within accept_limit, or send a new token for a new operation)`
	)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"add 2999", c.AddCount(ctx, "acc", "c", 1, future), wantFuture},
		{"add 0001", c.AddCount(ctx, "acc", "c", 1, past), wantPast},
		{"batch 2999", c.BatchAdd(ctx, []AddRequest{{Namespace: "acc", Counter: "c", Delta: 1, Token: tok(clock, "ok")}, {Namespace: "acc", Counter: "c", Delta: 1, Token: future}}), "counter/global: request 1: " + wantFuture},
		{"batch 0001", c.BatchAdd(ctx, []AddRequest{{Namespace: "acc", Counter: "c", Delta: 1, Token: tok(clock, "ok")}, {Namespace: "acc", Counter: "c", Delta: 1, Token: past}}), "counter/global: request 1: " + wantPast},
	} {
		if !errors.Is(tc.err, ErrInvalidArgument) || tc.err.Error() != tc.want {
			t.Errorf("%s: error %v\nwant %q", tc.name, tc.err, tc.want)
		}
	}
	clock.Advance(settle)
	if got := mustGet(t, c, "acc", "c"); got != 0 {
		t.Errorf("GetCount after refused adds = %d, want 0", got)
	}
}

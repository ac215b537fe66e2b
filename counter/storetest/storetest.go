package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// base is the time every test event is relative to.
var base = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// at returns base plus ms milliseconds.
func at(ms int64) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }

// LongLateNamespace is the namespace whose LateAfter is LongLateAfter in the
// stores Run tests (see LateAfters).
const LongLateNamespace = "storetest/long-late"

// LongLateAfter is the LateAfter of LongLateNamespace.
const LongLateAfter = time.Hour

// LateAfters returns the LateAfter option the stores Run tests must be opened
// with.
func LateAfters() counter.LateAfters { return counter.LateAfters{LongLateNamespace: LongLateAfter} }

// Run runs the conformance suite against stores made by newStore, one store
// per subtest, opened with LateAfters. newStore registers the store's cleanup
// with t.Cleanup; now is the clock the stores judge late events by.
func Run(t *testing.T, now func() time.Time, newStore func(t *testing.T) counter.EventStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s counter.EventStore)
	}{
		{"AggregateSums", testAggregateSums},
		{"AggregateSplit", testAggregateSplit},
		{"LateWrites", func(t *testing.T, s counter.EventStore) { testLateWrites(t, s, now) }},
		{"LateAfterPerNamespace", func(t *testing.T, s counter.EventStore) { testLateAfterPerNamespace(t, s, now) }},
		{"AggregateRangeBounds", testAggregateRangeBounds},
		{"SumRangeBounds", testSumRangeBounds},
		{"IdempotentAppend", testIdempotentAppend},
		{"Clears", testClears},
		{"Checkpoint", testCheckpoint},
		{"CheckpointConcurrentSaves", testCheckpointConcurrent},
		{"LastWrite", testLastWrite},
		{"LastWriteConcurrent", testLastWriteConcurrent},
		{"Isolation", testIsolation},
		{"LargeBatch", testLargeBatch},
		{"ConcurrentAppends", testConcurrentAppends},
		{"CanceledContext", testCanceledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// uniqueNS returns a namespace no other subtest or run uses.
func uniqueNS(t *testing.T) string {
	return "storetest/" + t.Name() + "/" + strconv.FormatUint(rand.Uint64(), 36)
}

// add returns an add event.
func add(ns, c string, ms int64, id string, delta int64) counter.Event {
	return counter.Event{Namespace: ns, Counter: c, Time: at(ms), ID: id, Delta: delta}
}

// clear returns a clear event.
func clear(ns, c string, ms int64, id string) counter.Event {
	return counter.Event{Namespace: ns, Counter: c, Time: at(ms), ID: id, Clear: true}
}

// mustAppend appends events and fails the test on error.
func mustAppend(t *testing.T, s counter.EventStore, events ...counter.Event) {
	t.Helper()
	if err := s.Append(context.Background(), events); err != nil {
		t.Fatalf("Append(%d events): %v", len(events), err)
	}
}

// checkAggregate asserts Aggregate(from, to] of the counter.
func checkAggregate(t *testing.T, s counter.EventStore, ns, c string, from, to time.Time, want counter.Aggregate) {
	t.Helper()
	got, err := s.Aggregate(context.Background(), ns, c, from, to)
	if err != nil {
		t.Fatalf("Aggregate(%q, %v, %v): %v", c, from, to, err)
	}
	if got != want {
		t.Errorf("Aggregate(%q, %v, %v) = %+v, want %+v", c, from, to, got, want)
	}
}

// checkSum asserts Sum[from, to) of the counter.
func checkSum(t *testing.T, s counter.EventStore, ns, c string, from, to time.Time, want int64) {
	t.Helper()
	got, err := s.Sum(context.Background(), ns, c, from, to)
	if err != nil {
		t.Fatalf("Sum(%q, %v, %v): %v", c, from, to, err)
	}
	if got != want {
		t.Errorf("Sum(%q, %v, %v) = %d, want %d", c, from, to, got, want)
	}
}

func testAggregateSums(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	mustAppend(t, s,
		add(ns, "c", 10, "a", 5),
		add(ns, "c", 20, "b", -2),
		add(ns, "c", 30, "c", 100),
		add(ns, "c", 30, "d", 1),
		add(ns, "other", 20, "x", 1000),
	)
	checkAggregate(t, s, ns, "c", time.Time{}, at(1000), counter.Aggregate{Sum: 104, Events: 4})
	checkAggregate(t, s, ns, "c", at(10), at(30), counter.Aggregate{Sum: 99, Events: 3})
	checkAggregate(t, s, ns, "c", at(20), at(30), counter.Aggregate{Sum: 101, Events: 2})
	checkAggregate(t, s, ns, "missing", time.Time{}, at(1000), counter.Aggregate{})
	checkSum(t, s, ns, "c", at(0), at(1000), 104)
	checkSum(t, s, ns, "missing", at(0), at(1000), 0)
}

func testAggregateRangeBounds(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	mustAppend(t, s, add(ns, "c", 10, "a", 1), add(ns, "c", 20, "b", 10), add(ns, "c", 30, "c", 100))
	tests := []struct {
		name     string
		from, to int64
		want     counter.Aggregate
	}{
		{"from excluded", 10, 30, counter.Aggregate{Sum: 110, Events: 2}},
		{"to included", 0, 20, counter.Aggregate{Sum: 11, Events: 2}},
		{"just before from", 9, 10, counter.Aggregate{Sum: 1, Events: 1}},
		{"single point excluded", 20, 20, counter.Aggregate{}},
		{"reversed", 30, 10, counter.Aggregate{}},
		{"one millisecond after", 30, 31, counter.Aggregate{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkAggregate(t, s, ns, "c", at(tc.from), at(tc.to), tc.want)
		})
	}
}

func testSumRangeBounds(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	mustAppend(t, s,
		add(ns, "c", 10, "a", 1),
		add(ns, "c", 20, "b", 10),
		clear(ns, "c", 25, "z"),
		add(ns, "c", 30, "c", 100),
	)
	tests := []struct {
		name     string
		from, to int64
		want     int64
	}{
		{"from included", 10, 30, 11},
		{"to excluded", 0, 20, 1},
		{"all, clears ignored", 0, 31, 111},
		{"only a clear", 21, 29, 0},
		{"empty", 20, 20, 0},
		{"reversed", 30, 10, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkSum(t, s, ns, "c", at(tc.from), at(tc.to), tc.want)
		})
	}
}

func testIdempotentAppend(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	mustAppend(t, s, add(ns, "c", 10, "tok-1", 7))
	mustAppend(t, s, add(ns, "c", 10, "tok-1", 7))
	mustAppend(t, s, add(ns, "c", 20, "tok-2", 3), add(ns, "c", 20, "tok-2", 3), add(ns, "c", 10, "tok-1", 7))
	// Same token at another time, or on another counter, is another identity.
	mustAppend(t, s, add(ns, "c", 30, "tok-1", 1), add(ns, "d", 10, "tok-1", 1000))
	checkAggregate(t, s, ns, "c", time.Time{}, at(100), counter.Aggregate{Sum: 11, Events: 3})
	checkAggregate(t, s, ns, "d", time.Time{}, at(100), counter.Aggregate{Sum: 1000, Events: 1})
	checkSum(t, s, ns, "c", at(0), at(100), 11)
}

// clearedEvents returns adds to counter "c" around a clear at 20 ms: "a" at
// 20 ms is ordered before it, "z" after it.
func clearedEvents(ns string) []counter.Event {
	return []counter.Event{
		add(ns, "c", 10, "a", 1),
		add(ns, "c", 20, "a", 10),
		clear(ns, "c", 20, "m"),
		add(ns, "c", 20, "z", 100),
		add(ns, "c", 30, "a", 1000),
	}
}

func testClears(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	mustAppend(t, s, clearedEvents(ns)...)
	tests := []struct {
		name     string
		from, to int64
		want     counter.Aggregate
	}{
		{"clear drops earlier time and smaller id", 0, 30, counter.Aggregate{Sum: 1100, Cleared: true, Events: 5}},
		{"range ends at the clear's time", 0, 20, counter.Aggregate{Sum: 100, Cleared: true, Events: 4}},
		{"range without the clear", 20, 30, counter.Aggregate{Sum: 1000, Events: 1}},
		{"range before the clear", 0, 19, counter.Aggregate{Sum: 1, Events: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkAggregate(t, s, ns, "c", at(tc.from), at(tc.to), tc.want)
		})
	}
	t.Run("last clear wins", func(t *testing.T) {
		mustAppend(t, s, add(ns, "two", 10, "a", 1), clear(ns, "two", 20, "a"), add(ns, "two", 30, "a", 2), clear(ns, "two", 40, "a"), add(ns, "two", 50, "a", 4))
		checkAggregate(t, s, ns, "two", time.Time{}, at(60), counter.Aggregate{Sum: 4, Cleared: true, Events: 5})
		checkAggregate(t, s, ns, "two", time.Time{}, at(40), counter.Aggregate{Sum: 0, Cleared: true, Events: 4})
	})
}

func testAggregateSplit(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	mustAppend(t, s, append(clearedEvents(ns), clear(ns, "c", 40, "a"), add(ns, "c", 50, "a", 10000))...)
	// Every split of every range folds like two Aggregates.
	points := []int64{0, 10, 15, 20, 30, 40, 45, 50, 60}
	for i, from := range points {
		for j, cut := range points[i:] {
			for _, to := range points[i+j:] {
				head, tail, err := s.AggregateSplit(context.Background(), ns, "c", at(from), at(cut), at(to))
				if err != nil {
					t.Fatalf("AggregateSplit(%d, %d, %d): %v", from, cut, to, err)
				}
				wantHead, err1 := s.Aggregate(context.Background(), ns, "c", at(from), at(cut))
				wantTail, err2 := s.Aggregate(context.Background(), ns, "c", at(cut), at(to))
				if err := errors.Join(err1, err2); err != nil {
					t.Fatal(err)
				}
				if head != wantHead || tail != wantTail {
					t.Errorf("AggregateSplit(%d ms, %d ms, %d ms) = %+v, %+v, want %+v, %+v", from, cut, to, head, tail, wantHead, wantTail)
				}
			}
		}
	}
	head, tail, err := s.AggregateSplit(context.Background(), ns, "c", at(0), at(20), at(60))
	if err != nil {
		t.Fatal(err)
	}
	if want := (counter.Aggregate{Sum: 100, Cleared: true, Events: 4}); head != want {
		t.Errorf("AggregateSplit(0, 20, 60) head = %+v, want %+v", head, want)
	}
	if want := (counter.Aggregate{Sum: 10000, Cleared: true, Events: 3}); tail != want {
		t.Errorf("AggregateSplit(0, 20, 60) tail = %+v, want %+v", tail, want)
	}
}

// checkLate asserts whether the counter's LateWrites changed from prev, and
// returns them.
func checkLate(t *testing.T, s counter.EventStore, ns, c string, prev int64, changed bool) int64 {
	t.Helper()
	got, err := s.LateWrites(context.Background(), ns, c)
	if err != nil {
		t.Fatalf("LateWrites(%q): %v", c, err)
	}
	if (got != prev) != changed {
		t.Fatalf("LateWrites(%q) = %d after %d, want changed = %v", c, got, prev, changed)
	}
	return got
}

func testLateWrites(t *testing.T, s counter.EventStore, now func() time.Time) {
	ns := uniqueNS(t)
	event := func(c string, age time.Duration, id string) counter.Event {
		return counter.Event{Namespace: ns, Counter: c, Time: now().Add(-age), ID: id, Delta: 1}
	}
	n := checkLate(t, s, ns, "c", 0, false)
	// On time: now, in the future, and a quarter of LateAfter old (unless the
	// append takes the other 3/4).
	mustAppend(t, s, event("c", 0, "a"), event("c", -time.Second, "b"), event("c", counter.DefaultLateAfter/4, "c"))
	n = checkLate(t, s, ns, "c", n, false)
	mustAppend(t, s, event("c", 0, "d"), event("c", counter.DefaultLateAfter+time.Second, "e"))
	n = checkLate(t, s, ns, "c", n, true)
	// The same late event again changes it again.
	late := event("c", counter.DefaultLateAfter+time.Second, "f")
	mustAppend(t, s, late)
	n = checkLate(t, s, ns, "c", n, true)
	mustAppend(t, s, late)
	checkLate(t, s, ns, "c", n, true)
	// Other counters are not affected; a late clear is late.
	checkLate(t, s, ns, "other", 0, false)
	clr := event("other", time.Hour, "g")
	clr.Clear = true
	mustAppend(t, s, clr)
	checkLate(t, s, ns, "other", 0, true)
}

// testLateAfterPerNamespace checks that a store judges each namespace's
// events by its own LateAfter.
func testLateAfterPerNamespace(t *testing.T, s counter.EventStore, now func() time.Time) {
	other := uniqueNS(t)
	if got := s.LateAfter(LongLateNamespace); got != LongLateAfter {
		t.Fatalf("LateAfter(%q) = %v, want %v (open the store with storetest.LateAfters())", LongLateNamespace, got, LongLateAfter)
	}
	if got := s.LateAfter(other); got != counter.DefaultLateAfter {
		t.Fatalf("LateAfter(%q) = %v, want counter.DefaultLateAfter %v", other, got, counter.DefaultLateAfter)
	}
	// LongLateNamespace is shared by every run: a counter of its own.
	c := "c-" + strconv.FormatUint(rand.Uint64(), 36)
	aged := func(ns string) counter.Event {
		return counter.Event{Namespace: ns, Counter: c, Time: now().Add(-10 * counter.DefaultLateAfter), ID: "a", Delta: 1}
	}
	mustAppend(t, s, aged(LongLateNamespace))
	checkLate(t, s, LongLateNamespace, c, 0, false)
	mustAppend(t, s, aged(other))
	checkLate(t, s, other, c, 0, true)
}

// checkCheckpoint asserts the stored checkpoint of the counter.
func checkCheckpoint(t *testing.T, s counter.EventStore, ns, c string, want counter.Checkpoint) {
	t.Helper()
	got, err := s.Checkpoint(context.Background(), ns, c)
	if err != nil {
		t.Fatalf("Checkpoint(%q): %v", c, err)
	}
	if got.Count != want.Count || !got.At.Equal(want.At) {
		t.Errorf("Checkpoint(%q) = {%d %v}, want {%d %v}", c, got.Count, got.At, want.Count, want.At)
	}
}

// mustSave saves a checkpoint and fails the test on error.
func mustSave(t *testing.T, s counter.EventStore, ns, c string, cp counter.Checkpoint) {
	t.Helper()
	if err := s.SaveCheckpoint(context.Background(), ns, c, cp); err != nil {
		t.Fatalf("SaveCheckpoint(%q, %+v): %v", c, cp, err)
	}
}

func testCheckpoint(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	checkCheckpoint(t, s, ns, "c", counter.Checkpoint{})
	mustSave(t, s, ns, "c", counter.Checkpoint{Count: 5, At: at(100)})
	checkCheckpoint(t, s, ns, "c", counter.Checkpoint{Count: 5, At: at(100)})
	mustSave(t, s, ns, "c", counter.Checkpoint{Count: 3, At: at(50)})
	checkCheckpoint(t, s, ns, "c", counter.Checkpoint{Count: 5, At: at(100)})
	mustSave(t, s, ns, "c", counter.Checkpoint{Count: -9, At: at(200)})
	checkCheckpoint(t, s, ns, "c", counter.Checkpoint{Count: -9, At: at(200)})
	checkCheckpoint(t, s, ns, "other", counter.Checkpoint{})
}

func testCheckpointConcurrent(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	const workers, saves = 20, 25
	inParallel(t, workers, func(w int) error {
		for i := range saves {
			// Every worker saves a different order of Ats; Count = At in ms.
			ms := int64((i*7+w*13)%(workers*saves)) + 1
			if err := s.SaveCheckpoint(context.Background(), ns, "c", counter.Checkpoint{Count: ms, At: at(ms)}); err != nil {
				return err
			}
			cp, err := s.Checkpoint(context.Background(), ns, "c")
			if err != nil {
				return err
			}
			if cp.At.Before(at(ms)) {
				return fmt.Errorf("checkpoint at %v after saving %v: moved backwards", cp.At, at(ms))
			}
		}
		return nil
	})
	maxMS := int64(0)
	for w := range workers {
		for i := range saves {
			maxMS = max(maxMS, int64((i*7+w*13)%(workers*saves))+1)
		}
	}
	checkCheckpoint(t, s, ns, "c", counter.Checkpoint{Count: maxMS, At: at(maxMS)})
}

// checkLastWrite asserts the counter's LastWrite.
func checkLastWrite(t *testing.T, s counter.EventStore, ns, c string, want time.Time) {
	t.Helper()
	got, err := s.LastWrite(context.Background(), ns, c)
	if err != nil {
		t.Fatalf("LastWrite(%q): %v", c, err)
	}
	if !got.Equal(want) {
		t.Errorf("LastWrite(%q) = %v, want %v", c, got, want)
	}
}

func testLastWrite(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	checkLastWrite(t, s, ns, "c", time.Time{})
	mustAppend(t, s, add(ns, "c", 50, "a", 1), add(ns, "c", 20, "b", 1))
	checkLastWrite(t, s, ns, "c", at(50))
	mustAppend(t, s, add(ns, "c", 40, "c", 1))
	checkLastWrite(t, s, ns, "c", at(50))
	mustAppend(t, s, clear(ns, "c", 60, "d"))
	checkLastWrite(t, s, ns, "c", at(60))
	checkLastWrite(t, s, ns, "other", time.Time{})
}

func testLastWriteConcurrent(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	const workers, per = 16, 20
	inParallel(t, workers, func(w int) error {
		for i := range per {
			ms := int64((i*31 + w*17) % (workers * per))
			if err := s.Append(context.Background(), []counter.Event{add(ns, "c", ms, fmt.Sprintf("w%d-%d", w, i), 1)}); err != nil {
				return err
			}
		}
		return nil
	})
	maxMS := int64(0)
	for w := range workers {
		for i := range per {
			maxMS = max(maxMS, int64((i*31+w*17)%(workers*per)))
		}
	}
	checkLastWrite(t, s, ns, "c", at(maxMS))
	checkAggregate(t, s, ns, "c", time.Time{}, at(maxMS), counter.Aggregate{Sum: workers * per, Events: workers * per})
}

func testIsolation(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	// Pairs that collide under naive joining of namespace and counter.
	names := []struct{ ns, c string }{
		{ns + "a", "bc"},
		{ns + "ab", "c"},
		{ns + "a", "b"},
		{ns + "a", "b\x00"},
		{ns + "a\x00", "b"},
		{ns + "a", "\x00b"},
		{ns + "a", "b:c"},
		{ns + "a:b", "c"},
		{ns + "a", "b/c"},
		{ns + "a/b", "c"},
		{ns + "a", "b\x00\x01"},
		{ns + "a", "b\x00\xff"},
		{ns + "a", "b\xff"},
		{ns + "a", ""},
		{ns + "", "a"},
	}
	for i, n := range names {
		ms := int64(i + 1)
		mustAppend(t, s, counter.Event{Namespace: n.ns, Counter: n.c, Time: at(ms), ID: "id", Delta: 1 << i})
		mustSave(t, s, n.ns, n.c, counter.Checkpoint{Count: int64(i), At: at(ms)})
	}
	for i, n := range names {
		ms := int64(i + 1)
		t.Run(strconv.Quote(n.ns[len(ns):]+"|"+n.c), func(t *testing.T) {
			checkAggregate(t, s, n.ns, n.c, time.Time{}, at(1000), counter.Aggregate{Sum: 1 << i, Events: 1})
			checkSum(t, s, n.ns, n.c, at(0), at(1000), 1<<i)
			checkLastWrite(t, s, n.ns, n.c, at(ms))
			checkCheckpoint(t, s, n.ns, n.c, counter.Checkpoint{Count: int64(i), At: at(ms)})
		})
	}
}

func testLargeBatch(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	const n = 10000
	events := make([]counter.Event, 0, n)
	var want int64
	for i := range n {
		d := int64(i%7 - 3)
		want += d
		events = append(events, add(ns, "c", int64(i%500), "e"+strconv.Itoa(i), d))
	}
	mustAppend(t, s, events...)
	checkAggregate(t, s, ns, "c", time.Time{}, at(500), counter.Aggregate{Sum: want, Events: n})
	checkSum(t, s, ns, "c", at(0), at(500), want)
}

func testConcurrentAppends(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	const workers, per = 50, 40
	inParallel(t, workers, func(w int) error {
		for i := range per {
			ev := add(ns, "c", int64(i), "w"+strconv.Itoa(w)+"-"+strconv.Itoa(i), int64(w+1))
			if err := s.Append(context.Background(), []counter.Event{ev}); err != nil {
				return err
			}
		}
		return nil
	})
	const want = per * workers * (workers + 1) / 2
	checkAggregate(t, s, ns, "c", time.Time{}, at(per), counter.Aggregate{Sum: want, Events: workers * per})
}

func testCanceledContext(t *testing.T, s counter.EventStore) {
	ns := uniqueNS(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Append(ctx, []counter.Event{add(ns, "c", 1, "a", 1)})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a canceled context: error %v, want one matching context.Canceled", err)
	}
	if _, err := s.Aggregate(ctx, ns, "c", time.Time{}, at(10)); !errors.Is(err, context.Canceled) {
		t.Errorf("Aggregate with a canceled context: error %v, want one matching context.Canceled", err)
	}
}

// inParallel runs fn(0) … fn(workers-1) at once and stops the test at the
// first error they returned.
func inParallel(t *testing.T, workers int, fn func(w int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			if err := fn(w); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

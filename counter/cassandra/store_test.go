package cassandra

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/storetest"
	"github.com/tollgate/tollgate/internal/testenv"
)

// openTest opens a store on the test cluster's node 1 (or the hosts opts
// names) and closes it when the test ends; keyspaces it creates live in dc1
// unless opts names a LocalDC.
func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	if len(opts.Hosts) == 0 {
		opts.Hosts = testenv.Addrs(t, testenv.Cassandra)
	}
	if opts.LocalDC == "" {
		// The test cluster has two data centers: LOCAL_QUORUM needs replicas
		// placed per data center (SimpleStrategy may put them all in the other one).
		opts.LocalDC = "dc1"
		opts.Replication = Replication{DataCenters: map[string]int{"dc1": 1}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// uniqueNS returns a namespace no other test or run uses.
func uniqueNS(t testing.TB) string {
	return t.Name() + "/" + strconv.FormatUint(rand.Uint64(), 36)
}

func TestConformance(t *testing.T) {
	// Subtests write to their own namespaces, so they share one store.
	s := openTest(t, Options{Keyspace: "tollgate_it_conformance", LateAfter: storetest.LateAfters()})
	storetest.Run(t, time.Now, func(*testing.T) counter.EventStore { return s })
}

// TestTimeBuckets checks reads across many small time buckets, with clears in
// some, against a fold of the same events in memory; ranges spanning more
// than directTimeBuckets go through the time-bucket index.
func TestTimeBuckets(t *testing.T) {
	s := openTest(t, Options{Keyspace: "tollgate_it_buckets", TimeBucket: time.Second, EventBuckets: 3})
	ctx := context.Background()
	ns := uniqueNS(t)
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	// 20 buckets of 1 s with 5 adds each (delta = ms), a clear at 7.5 s and 12.25 s,
	// and nothing in buckets 15..17.
	var events []counter.Event
	for ms := 0; ms < 20000; ms += 200 {
		if ms >= 15000 && ms < 18000 {
			continue
		}
		events = append(events, counter.Event{Namespace: ns, Counter: "c", Time: at(ms), ID: "a" + strconv.Itoa(ms), Delta: int64(ms)})
	}
	events = append(events,
		counter.Event{Namespace: ns, Counter: "c", Time: at(7500), ID: "clear-1", Clear: true},
		counter.Event{Namespace: ns, Counter: "c", Time: at(12250), ID: "clear-2", Clear: true})
	if err := s.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	// want folds the events in memory: Aggregate over (from, to].
	want := func(from, to int) counter.Aggregate {
		var agg counter.Aggregate
		lastClear := -1
		for _, ev := range events {
			if ms := int(ev.Time.Sub(base) / time.Millisecond); ms > from && ms <= to && ev.Clear {
				lastClear = max(lastClear, ms)
			}
		}
		for _, ev := range events {
			ms := int(ev.Time.Sub(base) / time.Millisecond)
			if ms <= from || ms > to {
				continue
			}
			agg.Events++
			if ev.Clear {
				agg.Cleared = true
			} else if ms > lastClear {
				agg.Sum += ev.Delta
			}
		}
		return agg
	}
	// wantSum sums the adds over [from, to).
	wantSum := func(from, to int) int64 {
		var sum int64
		for _, ev := range events {
			if ms := int(ev.Time.Sub(base) / time.Millisecond); ms >= from && ms < to && !ev.Clear {
				sum += ev.Delta
			}
		}
		return sum
	}
	ranges := []struct{ from, to int }{
		{-1, 30000}, {0, 7499}, {0, 7500}, {7500, 12249}, {7400, 12250}, {12250, 30000},
		{1000, 3000}, {14999, 18200}, {15000, 17999}, {-1000, 200}, {1999, 2000}, {7499, 7500},
	}
	for _, r := range ranges {
		got, err := s.Aggregate(ctx, ns, "c", at(r.from), at(r.to))
		if err != nil {
			t.Fatal(err)
		}
		if w := want(r.from, r.to); got != w {
			t.Errorf("Aggregate(%d ms, %d ms] = %+v, want %+v", r.from, r.to, got, w)
		}
		sum, err := s.Sum(ctx, ns, "c", at(r.from), at(r.to))
		if err != nil {
			t.Fatal(err)
		}
		if w := wantSum(r.from, r.to); sum != w {
			t.Errorf("Sum[%d ms, %d ms) = %d, want %d", r.from, r.to, sum, w)
		}
	}
}

func TestLayoutMismatch(t *testing.T) {
	openTest(t, Options{Keyspace: "tollgate_it_layout", TimeBucket: time.Minute, EventBuckets: 2})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"time bucket", Options{TimeBucket: time.Hour, EventBuckets: 2},
			`counter/cassandra: keyspace "tollgate_it_layout" is partitioned with TimeBucket 1m0s and EventBuckets 2, the options say 1h0m0s and 2: use the keyspace's values or another keyspace`},
		{"event buckets", Options{TimeBucket: time.Minute},
			`counter/cassandra: keyspace "tollgate_it_layout" is partitioned with TimeBucket 1m0s and EventBuckets 2, the options say 1m0s and 4: use the keyspace's values or another keyspace`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Hosts = testenv.Addrs(t, testenv.Cassandra)
			tc.opts.Keyspace = "tollgate_it_layout"
			s, err := Open(ctx, tc.opts)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded, want a layout error")
			}
			if err.Error() != tc.want {
				t.Errorf("Open error = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestTimeOutOfRange(t *testing.T) {
	s := openTest(t, Options{Keyspace: "tollgate_it_conformance", LateAfter: storetest.LateAfters()})
	ctx := context.Background()
	err := s.Append(ctx, []counter.Event{{Namespace: "ns", Counter: "c", ID: "a", Delta: 1}})
	want := `counter/cassandra: cannot append event "a" of counter "c": time 0001-01-01 00:00:00 +0000 UTC is outside 1970-01-01..2262-04-11, the Unix nanoseconds the store keeps`
	if err == nil || err.Error() != want {
		t.Errorf("Append at the zero time: error %v, want %s", err, want)
	}
	err = s.SaveCheckpoint(ctx, "ns", "c", counter.Checkpoint{Count: 1})
	want = `counter/cassandra: cannot save the checkpoint of counter "c" of namespace "ns": time 0001-01-01 00:00:00 +0000 UTC is outside 1970-01-01..2262-04-11, the Unix nanoseconds the store keeps`
	if err == nil || err.Error() != want {
		t.Errorf("SaveCheckpoint at the zero time: error %v, want %s", err, want)
	}
}

// TestAppendAfterClose checks that Append after Close says the store is
// closed.
func TestAppendAfterClose(t *testing.T) {
	s := openTest(t, Options{Keyspace: "tollgate_it_conformance", LateAfter: storetest.LateAfters()})
	ns := uniqueNS(t)
	ev := counter.Event{Namespace: ns, Counter: "c", Time: time.Now(), ID: "a", Delta: 1}
	if err := s.Append(context.Background(), []counter.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ev.ID = "b"
	if err := s.Append(context.Background(), []counter.Event{ev}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: error %v, want ErrClosed", err)
	}
}

// TestTwoDataCenters appends through data center dc1 and reads the same
// sums, checkpoint and last write through dc2, each at LOCAL_QUORUM.
func TestTwoDataCenters(t *testing.T) {
	dc1 := testenv.Addrs(t, testenv.Cassandra)
	dc2 := testenv.Addrs(t, testenv.CassandraDC2)
	repl := Replication{DataCenters: map[string]int{"dc1": 1, "dc2": 1}}
	w := openTest(t, Options{Hosts: dc1, LocalDC: "dc1", Keyspace: "tollgate_it_twodc", Replication: repl})
	r := openTest(t, Options{Hosts: dc2, LocalDC: "dc2", Keyspace: "tollgate_it_twodc", Replication: repl})
	ctx := context.Background()
	ns := uniqueNS(t)
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var events []counter.Event
	for i := range 100 {
		events = append(events, counter.Event{Namespace: ns, Counter: "c", Time: base.Add(time.Duration(i) * time.Second), ID: "e" + strconv.Itoa(i), Delta: int64(i)})
	}
	events = append(events, counter.Event{Namespace: ns, Counter: "c", Time: base.Add(50500 * time.Millisecond), ID: "clr", Clear: true})
	if err := w.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	cp := counter.Checkpoint{Count: 1275, At: base.Add(50500 * time.Millisecond)}
	if err := w.SaveCheckpoint(ctx, ns, "c", cp); err != nil {
		t.Fatal(err)
	}
	// 51+...+99 after the clear.
	wantAgg := counter.Aggregate{Sum: 3675, Cleared: true, Events: 101}
	const wantSum = 4950
	wantLast := base.Add(99 * time.Second)
	var (
		agg  counter.Aggregate
		sum  int64
		got  counter.Checkpoint
		last time.Time
		err  error
	)
	// Replication to dc2 is asynchronous: poll briefly.
	for deadline := time.Now().Add(10 * time.Second); ; {
		agg, err = r.Aggregate(ctx, ns, "c", time.Time{}, base.Add(time.Hour))
		if err == nil {
			sum, err = r.Sum(ctx, ns, "c", base, base.Add(time.Hour))
		}
		if err == nil {
			got, err = r.Checkpoint(ctx, ns, "c")
		}
		if err == nil {
			last, err = r.LastWrite(ctx, ns, "c")
		}
		if err != nil {
			t.Fatal(err)
		}
		done := agg == wantAgg && sum == wantSum && got.Count == cp.Count && got.At.Equal(cp.At) && last.Equal(wantLast)
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if agg != wantAgg {
		t.Errorf("dc2 Aggregate = %+v, want %+v", agg, wantAgg)
	}
	if sum != wantSum {
		t.Errorf("dc2 Sum = %d, want %d", sum, wantSum)
	}
	if got.Count != cp.Count || !got.At.Equal(cp.At) {
		t.Errorf("dc2 Checkpoint = %+v, want %+v", got, cp)
	}
	if !last.Equal(wantLast) {
		t.Errorf("dc2 LastWrite = %v, want %v", last, wantLast)
	}
}

// TestLateJudgedWhenDurable checks that Append judges lateness by its clock
// once the events are durable: the clock reads an hour later as soon as the
// event can be read back, so the event is late only if Append asks it after
// the write.
func TestLateJudgedWhenDurable(t *testing.T) {
	ctx := context.Background()
	ns := uniqueNS(t)
	at := time.Now()
	var s *Store
	clock := func() time.Time {
		agg, err := s.Aggregate(ctx, ns, "c", at.Add(-time.Second), at)
		if err != nil {
			t.Errorf("Aggregate in the clock: %v", err)
		}
		if agg.Events > 0 {
			return at.Add(time.Hour)
		}
		return at
	}
	s = openTest(t, Options{Keyspace: "tollgate_it_conformance", LateAfter: storetest.LateAfters(), Now: clock})
	if err := s.Append(ctx, []counter.Event{{Namespace: ns, Counter: "c", Time: at, ID: "a", Delta: 1}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.LateWrites(ctx, ns, "c"); err != nil || n != 1 {
		t.Errorf("LateWrites = %d, %v; want 1", n, err)
	}
}

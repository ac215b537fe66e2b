package pebble

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/storetest"
)

// t0 is the fake clock's start.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// openMem opens a store on a fresh in-memory filesystem and closes it at the
// end of the test.
func openMem(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.FS == nil {
		opts.FS = vfs.NewMem()
	}
	if opts.Dir == "" {
		opts.Dir = "db"
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0 }
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformanceMemFS(t *testing.T) {
	storetest.Run(t, func() time.Time { return t0 }, func(t *testing.T) counter.EventStore {
		return openMem(t, Options{LateAfter: storetest.LateAfters()})
	})
}

func TestConformanceDir(t *testing.T) {
	storetest.Run(t, func() time.Time { return t0 }, func(t *testing.T) counter.EventStore {
		return openMem(t, Options{FS: vfs.Default, Dir: t.TempDir(), LateAfter: storetest.LateAfters()})
	})
}

func TestOptionsValidate(t *testing.T) {
	opts := Options{Retention: -time.Second, NamespaceRetention: map[string]time.Duration{"ns": 0}, LateAfter: counter.LateAfters{"ns": -time.Second}, RetentionInterval: -1, CacheSize: -1}
	opts.EnsureDefaults()
	err := opts.Validate()
	want := strings.Join([]string{
		"counter/pebble: Dir is required (set it to the store's directory)",
		"counter/pebble: Now is required (pass time.Now)",
		"counter/pebble: Retention -1s is negative (use a positive duration, or 0 for the default)",
		`counter/pebble: NamespaceRetention["ns"] 0s is not positive (use a positive duration or drop the entry)`,
		`counter/pebble: LateAfter["ns"] -1s is not positive (use a positive duration or drop the entry)`,
		"counter/pebble: RetentionInterval -1ns is negative (use a positive duration, or 0 for the default)",
		"counter/pebble: CacheSize -1 is negative (use a size in bytes, or 0 for the default)",
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want\n%s", err, want)
	}
	if _, err := Open(Options{}); err == nil {
		t.Error("Open(Options{}) succeeded, want a validation error")
	}
}

func TestNanosecondTimes(t *testing.T) {
	s := openMem(t, Options{})
	ctx := context.Background()
	ev := func(ns int, id string, d int64) counter.Event {
		return counter.Event{Namespace: "n", Counter: "c", Time: t0.Add(time.Duration(ns)), ID: id, Delta: d}
	}
	if err := s.Append(ctx, []counter.Event{ev(1, "a", 1), ev(2, "a", 10), ev(3, "a", 100)}); err != nil {
		t.Fatal(err)
	}
	agg, err := s.Aggregate(ctx, "n", "c", t0.Add(1), t0.Add(2))
	if err != nil || agg != (counter.Aggregate{Sum: 10, Events: 1}) {
		t.Errorf("Aggregate(t0+1ns, t0+2ns] = %+v, %v; want {Sum:10 Events:1}", agg, err)
	}
	sum, err := s.Sum(ctx, "n", "c", t0.Add(1), t0.Add(3))
	if err != nil || sum != 11 {
		t.Errorf("Sum[t0+1ns, t0+3ns) = %d, %v; want 11", sum, err)
	}
	// Times before 1970 and the zero time keep their order.
	old := counter.Event{Namespace: "n", Counter: "old", Time: time.Date(1900, 1, 1, 0, 0, 0, 5, time.UTC), ID: "x", Delta: 3}
	if err := s.Append(ctx, []counter.Event{old}); err != nil {
		t.Fatal(err)
	}
	agg, err = s.Aggregate(ctx, "n", "old", time.Time{}, old.Time)
	if err != nil || agg != (counter.Aggregate{Sum: 3, Events: 1}) {
		t.Errorf("Aggregate(zero, 1900] = %+v, %v; want {Sum:3 Events:1}", agg, err)
	}
	lw, err := s.LastWrite(ctx, "n", "old")
	if err != nil || !lw.Equal(old.Time) {
		t.Errorf("LastWrite = %v, %v; want %v", lw, err, old.Time)
	}
}

func TestClosed(t *testing.T) {
	s := openMem(t, Options{})
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	checks := map[string]error{
		"Append":         s.Append(ctx, []counter.Event{{Namespace: "n", Counter: "c", ID: "a"}}),
		"SaveCheckpoint": s.SaveCheckpoint(ctx, "n", "c", counter.Checkpoint{}),
	}
	_, checks["Aggregate"] = s.Aggregate(ctx, "n", "c", time.Time{}, t0)
	_, checks["Sum"] = s.Sum(ctx, "n", "c", time.Time{}, t0)
	_, checks["Checkpoint"] = s.Checkpoint(ctx, "n", "c")
	_, checks["LastWrite"] = s.LastWrite(ctx, "n", "c")
	_, checks["DeleteExpired"] = s.DeleteExpired(ctx)
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: error %v, want ErrClosed", name, err)
		}
	}
}

// TestLateWritesBounded checks that LateWrites stays monotonic per counter,
// and changes with each late event, when the store forgets counters to stay
// within maxLate.
func TestLateWritesBounded(t *testing.T) {
	s := openMem(t, Options{})
	s.maxLate = 2
	ctx := context.Background()
	late := func(c string) {
		t.Helper()
		ev := counter.Event{Namespace: "n", Counter: c, Time: t0.Add(-counter.DefaultLateAfter - time.Second), ID: "x", Delta: 1}
		if err := s.Append(ctx, []counter.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(c string) int64 {
		t.Helper()
		n, err := s.LateWrites(ctx, "n", c)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	seen := map[string]int64{"a": read("a"), "b": read("b"), "c": read("c"), "quiet": read("quiet")}
	for i, c := range []string{"a", "b", "c", "a", "c", "b", "b"} {
		late(c) // the third counter and every second late event after it empty the map
		for name, before := range seen {
			now := read(name)
			switch {
			case now < before:
				t.Fatalf("after late event %d (%s): LateWrites(%s) went from %d down to %d", i, c, name, before, now)
			case name == c && now == before:
				t.Fatalf("after late event %d (%s): LateWrites(%s) unchanged at %d", i, c, name, now)
			}
			seen[name] = now
		}
	}
	if n := len(s.late); n > 2 {
		t.Errorf("the store keeps %d counters' late writes, want at most 2", n)
	}
}

package pebble

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/tollgate/tollgate/counter"
)

// TestWALFailureNeverAcknowledges injects an error into the WAL's writes and
// syncs. Append must fail (never acknowledge), the store then refuses writes
// (Pebble treats a failed WAL write as fatal), and after a crash and a reopen
// a retry with the same identity is stored and counted once.
func TestWALFailureNeverAcknowledges(t *testing.T) {
	mem := vfs.NewCrashableMem()
	toggle := &errorfs.Toggle{Injector: errorfs.ErrInjected.If(errorfs.And(errorfs.PathMatch("db/*.log"), errorfs.Writes))}
	s, err := Open(Options{FS: errorfs.Wrap(mem, toggle), Dir: "db", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ok := counter.Event{Namespace: "n", Counter: "c", Time: t0, ID: "first", Delta: 1}
	retried := counter.Event{Namespace: "n", Counter: "c", Time: t0, ID: "retried", Delta: 10}
	if err := s.Append(ctx, []counter.Event{ok}); err != nil {
		t.Fatal(err)
	}
	toggle.On()
	err = s.Append(ctx, []counter.Event{retried})
	const want = "counter/pebble: cannot append 1 events: counter/pebble: write-ahead log write failed; the store refuses writes until the process restarts: pebble: fatal commit error: injected error"
	if !errors.Is(err, ErrFailed) || err.Error() != want {
		t.Fatalf("Append with a failing WAL: error %v, want %q", err, want)
	}
	toggle.Off()
	if err := s.Append(ctx, []counter.Event{retried}); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append after a WAL failure: error %v, want ErrFailed", err)
	}
	// Crash: keep only synced data.
	crashed := mem.CrashClone(vfs.CrashCloneCfg{})
	if err := s.Close(); !errors.Is(err, ErrFailed) {
		t.Errorf("Close after a WAL failure: error %v, want ErrFailed", err)
	}

	s2 := openMem(t, Options{FS: crashed})
	for range 2 {
		if err := s2.Append(ctx, []counter.Event{retried}); err != nil {
			t.Fatalf("retry after reopen: %v", err)
		}
	}
	agg, err := s2.Aggregate(ctx, "n", "c", time.Time{}, t0)
	if err != nil || agg != (counter.Aggregate{Sum: 11, Events: 2}) {
		t.Errorf("Aggregate after retry = %+v, %v; want {Sum:11 Events:2}", agg, err)
	}
}

// TestSyncedAppendSurvivesCrash checks that every acknowledged Append is in a
// crash clone that keeps only synced data.
func TestSyncedAppendSurvivesCrash(t *testing.T) {
	mem := vfs.NewCrashableMem()
	s, err := Open(Options{FS: mem, Dir: "db", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 100 {
		ev := counter.Event{Namespace: "n", Counter: "c", Time: t0.Add(time.Duration(i)), ID: "e", Delta: 1}
		if err := s.Append(ctx, []counter.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	crashed := mem.CrashClone(vfs.CrashCloneCfg{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openMem(t, Options{FS: crashed})
	agg, err := s2.Aggregate(ctx, "n", "c", time.Time{}, t0.Add(time.Second))
	if err != nil || agg != (counter.Aggregate{Sum: 100, Events: 100}) {
		t.Errorf("Aggregate after crash = %+v, %v; want {Sum:100 Events:100}", agg, err)
	}
}

// TestLateJudgedWhenDurable checks that an event is judged late by the
// clock once it is durable: an Append whose WAL sync takes longer than
// LateAfter changes LateWrites, though its event was on time when Append was
// called.
func TestLateJudgedWhenDurable(t *testing.T) {
	var (
		mu  sync.Mutex
		now = t0
	)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	var slowSync atomic.Bool
	slow := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if slowSync.Load() && (op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData) {
			mu.Lock()
			now = now.Add(2 * counter.DefaultLateAfter)
			mu.Unlock()
		}
		return nil
	})
	s, err := Open(Options{FS: errorfs.Wrap(vfs.NewMem(), slow), Dir: "db", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	appendNow := func(id string) int64 {
		t.Helper()
		if err := s.Append(ctx, []counter.Event{{Namespace: "n", Counter: "c", Time: clock(), ID: id, Delta: 1}}); err != nil {
			t.Fatal(err)
		}
		n, err := s.LateWrites(ctx, "n", "c")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := appendNow("fast"); n != 0 {
		t.Fatalf("LateWrites after an on-time Append = %d, want 0", n)
	}
	slowSync.Store(true)
	if n := appendNow("slow"); n == 0 {
		t.Fatal("LateWrites after an Append durable 2 s after its event = 0, want changed")
	}
}

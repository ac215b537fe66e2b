package pebble

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/tollgate/tollgate/counter"
)

// enospc returns a toggle that fails the store's write-ahead log writes and
// syncs with ENOSPC, as a full disk does.
func enospc() (*atomic.Bool, errorfs.Injector) {
	on := new(atomic.Bool)
	wal := errorfs.And(errorfs.PathMatch("db/*.log"), errorfs.Writes)
	return on, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if on.Load() && wal.Evaluate(op) {
			return syscall.ENOSPC
		}
		return nil
	})
}

// wantFailed is the failure of the store in "db" after ENOSPC on its log.
const wantFailed = `counter/pebble: store failed: a write in data dir "db" failed: pebble: fatal commit error: no space left on device; every call is refused until the process restarts (hint: free space on that disk or fix it, then restart: the acknowledged events are replayed from the log)`

// TestDiskFullFailsStore fills the disk under the write-ahead log. The
// failing Append is never acknowledged, the store fails (Failed, Fatal) and
// refuses every call, reads included, even once space returns: Pebble's
// memtable holds the failed batch, so a read would count it though a
// restart loses it. After a crash and a reopen the acknowledged events are
// there and a retry of the failed one counts once.
func TestDiskFullFailsStore(t *testing.T) {
	mem := vfs.NewCrashableMem()
	full, inj := enospc()
	s, err := Open(Options{FS: errorfs.Wrap(mem, inj), Dir: "db", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ok := counter.Event{Namespace: "n", Counter: "c", Time: t0, ID: "first", Delta: 1}
	retried := counter.Event{Namespace: "n", Counter: "c", Time: t0, ID: "retried", Delta: 10}
	if err := s.Append(ctx, []counter.Event{ok}); err != nil {
		t.Fatal(err)
	}
	if err := s.Failed(); err != nil {
		t.Fatalf("Failed() of a healthy store = %v, want nil", err)
	}
	full.Store(true)
	err = s.Append(ctx, []counter.Event{retried})
	if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) || err.Error() != "counter/pebble: cannot append 1 events: "+wantFailed {
		t.Fatalf("Append on a full disk: error %v, want %q", err, wantFailed)
	}
	if err := s.Failed(); err == nil || err.Error() != wantFailed {
		t.Errorf("Failed() = %v, want %q", err, wantFailed)
	}
	select {
	case err := <-s.Fatal():
		if err == nil || err.Error() != wantFailed {
			t.Errorf("Fatal() received %v, want %q", err, wantFailed)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Fatal() did not fire within 5s")
	}
	if _, open := <-s.Fatal(); open {
		t.Error("Fatal() still open after sending the failure")
	}
	full.Store(false) // space returns: the store stays failed
	_, sumErr := s.Sum(ctx, "n", "c", time.Time{}, t0.Add(time.Second))
	_, aggErr := s.Aggregate(ctx, "n", "c", time.Time{}, t0)
	_, lastErr := s.LastWrite(ctx, "n", "c")
	_, cpErr := s.Checkpoint(ctx, "n", "c")
	_, lateErr := s.LateWrites(ctx, "n", "c")
	_, sweepErr := s.DeleteExpired(ctx)
	for name, err := range map[string]error{
		"Append":         s.Append(ctx, []counter.Event{retried}),
		"Sum":            sumErr,
		"Aggregate":      aggErr,
		"LastWrite":      lastErr,
		"Checkpoint":     cpErr,
		"SaveCheckpoint": s.SaveCheckpoint(ctx, "n", "c", counter.Checkpoint{At: t0, Count: 1}),
		"LateWrites":     lateErr,
		"DeleteExpired":  sweepErr,
	} {
		if !errors.Is(err, ErrFailed) || !strings.HasSuffix(err.Error(), wantFailed) {
			t.Errorf("%s after the failure: error %v, want one ending in %q", name, err, wantFailed)
		}
	}
	// Crash: keep only synced data.
	crashed := mem.CrashClone(vfs.CrashCloneCfg{})
	if err := s.Close(); err == nil || err.Error() != wantFailed {
		t.Errorf("Close after the failure: error %v, want %q", err, wantFailed)
	}

	s2 := openMem(t, Options{FS: crashed})
	agg, err := s2.Aggregate(ctx, "n", "c", time.Time{}, t0)
	if err != nil || agg != (counter.Aggregate{Sum: 1, Events: 1}) {
		t.Errorf("Aggregate after reopen = %+v, %v; want the acknowledged {Sum:1 Events:1}", agg, err)
	}
	for range 2 {
		if err := s2.Append(ctx, []counter.Event{retried}); err != nil {
			t.Fatalf("retry after reopen: %v", err)
		}
	}
	agg, err = s2.Aggregate(ctx, "n", "c", time.Time{}, t0)
	if err != nil || agg != (counter.Aggregate{Sum: 11, Events: 2}) {
		t.Errorf("Aggregate after retry = %+v, %v; want {Sum:11 Events:2}", agg, err)
	}
}

// TestReadDuringFailingSync reads while a commit waits for a write-ahead
// log sync that then fails with ENOSPC: Pebble makes the batch readable
// before its sync ends, so the read must wait for that commit and, as it
// failed, return the failure instead of a sum with the unacknowledged event.
func TestReadDuringFailingSync(t *testing.T) {
	var hold atomic.Bool
	syncing, release := make(chan struct{}), make(chan struct{})
	wal := errorfs.PathMatch("db/*.log")
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if hold.Load() && wal.Evaluate(op) && (op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData) {
			if hold.CompareAndSwap(true, false) {
				close(syncing)
				<-release
			}
			return syscall.ENOSPC
		}
		return nil
	})
	s, err := Open(Options{FS: errorfs.Wrap(vfs.NewMem(), inj), Dir: "db", Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Append(ctx, []counter.Event{{Namespace: "n", Counter: "c", Time: t0, ID: "acked", Delta: 1}}); err != nil {
		t.Fatal(err)
	}
	hold.Store(true)
	appended := make(chan error, 1)
	go func() {
		appended <- s.Append(ctx, []counter.Event{{Namespace: "n", Counter: "c", Time: t0, ID: "failed", Delta: 10}})
	}()
	<-syncing
	type result struct {
		sum int64
		err error
	}
	read := make(chan result, 1)
	go func() {
		n, err := s.Sum(ctx, "n", "c", time.Time{}, t0.Add(time.Second))
		read <- result{n, err}
	}()
	// The read waits for the commit; give it 100 ms to return wrongly before
	// the sync fails.
	var r result
	select {
	case r = <-read:
		close(release)
	case <-time.After(100 * time.Millisecond):
		close(release)
		r = <-read
	}
	if err := <-appended; !errors.Is(err, ErrFailed) {
		t.Fatalf("Append whose sync failed: error %v, want ErrFailed", err)
	}
	if !errors.Is(r.err, ErrFailed) || r.err.Error() != "counter/pebble: cannot sum \"n\"/\"c\": "+wantFailed {
		t.Errorf("Sum during the failing sync = %d, %v; want the failure %q", r.sum, r.err, wantFailed)
	}
	_ = s.Close()
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

// TestFlushFailureFailsStore fails the memtable flushes with ENOSPC, as a
// full disk does where the write-ahead log still has room: Pebble retries
// the flush without end and stalls every write meanwhile, so Append must
// return the failure instead of waiting forever.
func TestFlushFailureFailsStore(t *testing.T) {
	sst := errorfs.And(errorfs.PathMatch("db/*.sst"), errorfs.Writes)
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if sst.Evaluate(op) {
			return syscall.ENOSPC
		}
		return nil
	}))
	s, err := Open(Options{FS: fs, Dir: "db", Now: func() time.Time { return t0 }, MemTableSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	batch := make([]counter.Event, 100)
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			for j := range batch {
				batch[j] = counter.Event{Namespace: "n", Counter: "c", Time: t0, ID: strconv.Itoa(i) + "-" + strconv.Itoa(j), Delta: 1}
			}
			if err := s.Append(ctx, batch); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Append still succeeding or stalled after 30s of failing flushes")
	}
	// The object number varies with Pebble's retries.
	const (
		head = `counter/pebble: store failed: a write in data dir "db" failed: pebble: memtable flush failed: creating object `
		tail = `: no space left on device; every call is refused until the process restarts (hint: free space on that disk or fix it, then restart: the acknowledged events are replayed from the log)`
	)
	if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(err.Error(), "counter/pebble: cannot append 100 events: "+head) || !strings.HasSuffix(err.Error(), tail) {
		t.Fatalf("Append with failing flushes: error %v, want %q<object>%q", err, head, tail)
	}
	want := s.Failed().Error()
	if got := <-s.Fatal(); got == nil || got.Error() != want {
		t.Errorf("Fatal() received %v, want %q", got, want)
	}
	if err := s.Close(); err == nil || err.Error() != want {
		t.Errorf("Close after the failure: error %v, want %q", err, want)
	}
}

package spool

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/tollgate/tollgate/counter"
)

// TestDiskFullFailsSpool fills the disk under the spool's write-ahead log:
// the failing Append is never acknowledged, the spool fails (Failed, Fatal)
// and refuses every Append and Flush even once space returns, so the failed
// batch, which Pebble left readable, is never shipped. After a crash and a
// reopen the acknowledged events ship, and only they.
func TestDiskFullFailsSpool(t *testing.T) {
	mem := vfs.NewCrashableMem()
	var full atomic.Bool
	wal := errorfs.And(errorfs.PathMatch("spool/*.log"), errorfs.Writes)
	fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && wal.Evaluate(op) {
			return syscall.ENOSPC
		}
		return nil
	}))
	sink := &fakeSink{}
	s, err := Open(Options{Dir: "spool", FS: fs, Sink: sink, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	acked := []counter.Event{event(0), event(1)}
	if err := s.Append(t.Context(), acked); err != nil {
		t.Fatal(err)
	}
	if err := s.Failed(); err != nil {
		t.Fatalf("Failed() of a healthy spool = %v, want nil", err)
	}
	const want = `metering/spool: spool failed: a write in "spool" failed: pebble: fatal commit error: no space left on device; every Append and Flush is refused until the process restarts (hint: free space on that disk or fix it, then restart: the appended events are kept and shipped)`
	full.Store(true)
	err = s.Append(t.Context(), []counter.Event{event(2)})
	if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) || err.Error() != "metering/spool: cannot append 1 events: "+want {
		t.Fatalf("Append on a full disk: error %v, want %q", err, want)
	}
	select {
	case err := <-s.Fatal():
		if err == nil || err.Error() != want {
			t.Errorf("Fatal() received %v, want %q", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Fatal() did not fire within 5s")
	}
	full.Store(false) // space returns: the spool stays failed
	if err := s.Append(t.Context(), []counter.Event{event(3)}); err == nil || err.Error() != "metering/spool: cannot append 1 events: "+want {
		t.Errorf("Append after the failure: error %v, want %q", err, want)
	}
	if err := s.Flush(t.Context()); err == nil || err.Error() != want {
		t.Errorf("Flush after the failure: error %v, want %q", err, want)
	}
	if got := sink.events(); len(got) != 0 {
		t.Errorf("shipped %+v after the failure, want nothing", got)
	}
	crashed := mem.CrashClone(vfs.CrashCloneCfg{})
	if err := s.Close(); err == nil || err.Error() != want {
		t.Errorf("Close after the failure: error %v, want %q", err, want)
	}

	s2, err := Open(Options{Dir: "spool", FS: crashed, Sink: sink, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := sink.events(); !reflect.DeepEqual(got, acked) {
		t.Errorf("shipped after reopen %+v, want the acknowledged %+v", got, acked)
	}
}

// TestFlushFailureFailsSpool fails the memtable flushes with ENOSPC: Pebble
// would stall every write without end, so Append must return the failure.
func TestFlushFailureFailsSpool(t *testing.T) {
	sst := errorfs.And(errorfs.PathMatch("spool/*.sst"), errorfs.Writes)
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if sst.Evaluate(op) {
			return syscall.ENOSPC
		}
		return nil
	}))
	s, err := Open(Options{Dir: "spool", FS: fs, Sink: &fakeSink{}})
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]counter.Event, 1000)
	for i := range batch {
		batch[i] = event(i)
	}
	done := make(chan error, 1)
	go func() {
		for {
			if err := s.Append(context.Background(), batch); err != nil {
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
		head = `metering/spool: spool failed: a write in "spool" failed: pebble: memtable flush failed: creating object `
		tail = `: no space left on device; every Append and Flush is refused until the process restarts (hint: free space on that disk or fix it, then restart: the appended events are kept and shipped)`
	)
	if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(err.Error(), "metering/spool: cannot append 1000 events: "+head) || !strings.HasSuffix(err.Error(), tail) {
		t.Fatalf("Append with failing flushes: error %v, want %q<object>%q", err, head, tail)
	}
	if got := <-s.Fatal(); got == nil || !strings.HasPrefix(got.Error(), head) || !strings.HasSuffix(got.Error(), tail) {
		t.Errorf("Fatal() received %v, want %q<object>%q", got, head, tail)
	}
}

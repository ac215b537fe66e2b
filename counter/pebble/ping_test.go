package pebble

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestPing: an open store answers; a closed one says so; a failed one says
// ErrFailed.
func TestPing(t *testing.T) {
	open := func() *Store {
		st, err := Open(Options{Dir: "/db", FS: vfs.NewMem(), Now: time.Now})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	if err := st.Ping(context.Background()); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed store: Ping = %v, want ErrClosed", err)
	}

	failed := open()
	defer failed.Close()
	failed.fail.Listener().FlushEnd(pebble.FlushInfo{Err: syscall.ENOSPC})
	if err := failed.Ping(context.Background()); !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("failed store: Ping = %v, want ErrFailed and ENOSPC", err)
	}
}

// TestRunEndsWhenTheStoreFails: Run returns the store's failure as soon as
// it fails, so the process exits for a restart.
func TestRunEndsWhenTheStoreFails(t *testing.T) {
	st, err := Open(Options{Dir: "/db", FS: vfs.NewMem(), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ran := make(chan error, 1)
	go func() { ran <- st.Run(t.Context()) }()
	st.fail.Listener().FlushEnd(pebble.FlushInfo{Err: syscall.ENOSPC})
	select {
	case err := <-ran:
		if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Run returned %v, want the failure (ErrFailed, ENOSPC)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of the failure")
	}
}

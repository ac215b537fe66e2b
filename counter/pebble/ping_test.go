package pebble

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestPing: an open store answers; a closed one says so; a failed one says
// ErrFailed.
func TestPing(t *testing.T) {
	st, err := Open(Options{Dir: "/db", FS: vfs.NewMem(), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(context.Background()); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	st.failed.Store(true)
	if err := st.Ping(context.Background()); !errors.Is(err, ErrFailed) {
		t.Fatalf("failed store: Ping = %v, want ErrFailed", err)
	}
	st.failed.Store(false)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed store: Ping = %v, want ErrClosed", err)
	}
}

package metering

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/tollgate/tollgate/metering/spool"
)

// TestRunEndsWhenTheSpoolFails: a full disk under the spool's log fails the
// spool for good, and Run returns that failure at once (the process exits
// for its supervisor to restart it) instead of running on with a spool that
// refuses every event.
func TestRunEndsWhenTheSpoolFails(t *testing.T) {
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && errorfs.Writes.Evaluate(op) && strings.HasSuffix(op.Path, ".log") {
			return syscall.ENOSPC
		}
		return nil
	}))
	doc := fmt.Sprintf(quotaDoc, 1000, "UTC") + "  spool: {flush_interval: 20ms}\n"
	h := newHarness(t, doc, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), func(o *Options) { o.SpoolFS = fs })
	ran := make(chan error, 1)
	go func() { ran <- h.m.Run(t.Context()) }()
	if _, last := h.checkN(t, 1, "ok"); !last.Allowed {
		t.Fatalf("Check on a healthy spool: %+v", last)
	}
	full.Store(true)
	if res := h.check(t, "POST", "/v1/x", "full", acmeKey); res.Allowed {
		t.Fatalf("Check on a full disk was allowed: %+v", res)
	}
	select {
	case err := <-ran:
		if !errors.Is(err, spool.ErrFailed) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Run returned %v, want the spool's failure (ErrFailed, ENOSPC)", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of the spool's failure")
	}
}

package lifecycle

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"
)

// TestStopDrainsInReverse: components stop in the reverse of their start
// order, each Run returning before its Close and before the previous one
// is cancelled; errors are named; Stop is idempotent.
func TestStopDrainsInReverse(t *testing.T) {
	g := New()
	var mu sync.Mutex
	var log []string
	note := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	for _, name := range []string{"backend", "store", "server"} {
		g.Go(name, func(ctx context.Context) error {
			<-ctx.Done()
			note(name + " run returned")
			if name == "store" {
				return errors.New("flush failed")
			}
			return ctx.Err()
		}, func() error {
			note(name + " closed")
			return nil
		})
	}
	g.Defer("logs", func() error { note("logs closed"); return errors.New("sync failed") })
	err := g.Stop()
	want := []string{"logs closed", "server run returned", "server closed", "store run returned", "store closed", "backend run returned", "backend closed"}
	if !reflect.DeepEqual(log, want) {
		t.Fatalf("order\n got %v\nwant %v", log, want)
	}
	if err == nil || err.Error() != "logs: close: sync failed\nstore: flush failed" {
		t.Fatalf("Stop = %q", err)
	}
	if err := g.Stop(); err != nil {
		t.Fatalf("second Stop = %v, want nil", err)
	}
}

// TestFailed: a Run that returns by itself is reported on Failed, with its
// name; one that returns because of Stop is not.
func TestFailed(t *testing.T) {
	g := New()
	g.Go("quiet", func(ctx context.Context) error { <-ctx.Done(); return nil }, nil)
	g.Go("grpc", func(context.Context) error { return errors.New("listener closed") }, nil)
	select {
	case err := <-g.Failed():
		if err.Error() != "grpc: listener closed" {
			t.Fatalf("Failed = %q", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no failure reported")
	}
	if err := g.Stop(); err == nil || err.Error() != "grpc: listener closed" {
		t.Fatalf("Stop = %v", err)
	}
	select {
	case err := <-g.Failed():
		t.Fatalf("a second failure reported after Stop: %v", err)
	default:
	}
}

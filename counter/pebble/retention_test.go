package pebble

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

func TestDeleteExpired(t *testing.T) {
	now := t0
	s := openMem(t, Options{
		Now:                func() time.Time { return now },
		Retention:          time.Hour,
		NamespaceRetention: map[string]time.Duration{"short": time.Minute},
	})
	ctx := context.Background()
	ev := func(ns, c string, ago time.Duration, id string) counter.Event {
		return counter.Event{Namespace: ns, Counter: c, Time: t0.Add(-ago), ID: id, Delta: 1}
	}
	events := []counter.Event{
		ev("long", "cp-covers", 3*time.Hour, "a"), ev("long", "cp-covers", 2*time.Hour, "b"), ev("long", "cp-covers", 30*time.Minute, "c"),
		ev("long", "cp-old", 3*time.Hour, "a"), ev("long", "cp-old", 2*time.Hour, "b"),
		ev("long", "no-cp", 3*time.Hour, "a"),
		ev("short", "all", 3*time.Hour, "a"), ev("short", "all", 2*time.Minute, "b"),
	}
	if err := s.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	cps := map[string]time.Time{
		"long/cp-covers": t0.Add(-10 * time.Minute),  // retention decides: keep the last hour
		"long/cp-old":    t0.Add(-150 * time.Minute), // checkpoint decides: keep after it
		"short/all":      t0.Add(-90 * time.Second),  // both events expired and checkpointed
	}
	for k, at := range cps {
		ns, c, _ := cut(k)
		if err := s.SaveCheckpoint(ctx, ns, c, counter.Checkpoint{Count: 1, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteExpired(ctx)
	if err != nil || n != 3 {
		t.Fatalf("DeleteExpired() = %d, %v; want 3, nil", n, err)
	}
	tests := []struct {
		ns, c     string
		events    int64
		lastWrite time.Time
	}{
		{"long", "cp-covers", 1, t0.Add(-30 * time.Minute)},
		{"long", "cp-old", 1, t0.Add(-2 * time.Hour)},
		{"long", "no-cp", 1, t0.Add(-3 * time.Hour)},
		{"short", "all", 0, t0.Add(-2 * time.Minute)},
	}
	for _, tc := range tests {
		agg, err := s.Aggregate(ctx, tc.ns, tc.c, time.Time{}, t0)
		if err != nil || agg.Events != tc.events {
			t.Errorf("%s/%s: Aggregate().Events = %d, %v; want %d", tc.ns, tc.c, agg.Events, err, tc.events)
		}
		lw, err := s.LastWrite(ctx, tc.ns, tc.c)
		if err != nil || !lw.Equal(tc.lastWrite) {
			t.Errorf("%s/%s: LastWrite() = %v, %v; want %v", tc.ns, tc.c, lw, err, tc.lastWrite)
		}
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("second DeleteExpired() = %d, %v; want 0, nil", n, err)
	}
}

func TestRunStopsOnClose(t *testing.T) {
	s := openMem(t, Options{RetentionInterval: time.Millisecond})
	done := make(chan error)
	go func() { done <- s.Run(context.Background()) }()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
}

// cut splits "ns/c".
func cut(k string) (ns, c string, ok bool) {
	for i := range k {
		if k[i] == '/' {
			return k[:i], k[i+1:], true
		}
	}
	return k, "", false
}

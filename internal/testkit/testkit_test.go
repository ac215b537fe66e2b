package testkit

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("Now = %v, want %v", got, t0)
	}
	c.Advance(1500 * time.Millisecond)
	if got, want := c.Now(), t0.Add(1500*time.Millisecond); !got.Equal(want) {
		t.Fatalf("after Advance Now = %v, want %v", got, want)
	}
	c.Set(t0.Add(-time.Hour))
	if got, want := c.Now(), t0.Add(-time.Hour); !got.Equal(want) {
		t.Fatalf("after Set Now = %v, want %v", got, want)
	}
}

func TestCounter(t *testing.T) {
	f := NewCounter()
	// 20.5 s into a minute; a 500 ms window too, to check sub-second windows.
	now := time.Unix(1_700_000_000, 500_000_000)
	hits := []counter.Hit{{Key: "a", Limit: 2, Window: time.Minute, Hits: 1}, {Key: "b", Limit: 1, Window: 500 * time.Millisecond, Hits: 1}}
	apply := func(at time.Time) []counter.Outcome {
		t.Helper()
		out := make([]counter.Outcome, len(hits))
		if err := f.Apply(context.Background(), at, hits, out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := apply(now), []counter.Outcome{{Used: 1, Allowed: true, ResetAfter: 39500 * time.Millisecond}, {Used: 1, Allowed: true, ResetAfter: 500 * time.Millisecond}}; !reflect.DeepEqual(got, want) {
		t.Errorf("first Apply = %+v, want %+v", got, want)
	}
	if got, want := apply(now), []counter.Outcome{{Used: 2, Allowed: true, ResetAfter: 39500 * time.Millisecond}, {Used: 2, Allowed: false, ResetAfter: 500 * time.Millisecond}}; !reflect.DeepEqual(got, want) {
		t.Errorf("second Apply = %+v, want %+v", got, want)
	}
	// The next 500 ms window of b; the same minute of a.
	if got, want := apply(now.Add(500*time.Millisecond)), []counter.Outcome{{Used: 3, Allowed: false, ResetAfter: 39 * time.Second}, {Used: 1, Allowed: true, ResetAfter: 500 * time.Millisecond}}; !reflect.DeepEqual(got, want) {
		t.Errorf("third Apply = %+v, want %+v", got, want)
	}
	down := errors.New("down")
	f.Fail(down)
	if err := f.Apply(context.Background(), now, hits[:1], make([]counter.Outcome, 1)); !errors.Is(err, down) {
		t.Errorf("Apply while failing = %v, want %v", err, down)
	}
	if f.Calls() != 4 || !reflect.DeepEqual(f.LastHits(), hits[:1]) {
		t.Errorf("Calls %d, LastHits %v; want 4 and %v", f.Calls(), f.LastHits(), hits[:1])
	}
}

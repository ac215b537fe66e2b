package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// fakeCounter counts every algorithm as an epoch-aligned fixed window.
type fakeCounter struct {
	mu     sync.Mutex
	counts map[string]uint64 // key + window start → used
	calls  int
	hits   []counter.Hit // the hits of the last call
	err    error
}

func newFakeCounter() *fakeCounter { return &fakeCounter{counts: map[string]uint64{}} }

func (f *fakeCounter) Apply(_ context.Context, now time.Time, hits []counter.Hit, out []counter.Outcome) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.hits = append(f.hits[:0], hits...)
	if f.err != nil {
		return f.err
	}
	for i, h := range hits {
		w := int64(h.Window / time.Second)
		start := now.Unix() - now.Unix()%w
		k := h.Key + "@" + time.Unix(start, 0).UTC().Format(time.RFC3339)
		f.counts[k] += h.Hits
		used := f.counts[k]
		out[i] = counter.Outcome{
			Used:       used,
			Allowed:    used <= h.Limit,
			ResetAfter: time.Unix(start+w, 0).Sub(now),
		}
	}
	return nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

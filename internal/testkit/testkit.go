// Package testkit holds the fakes Tollgate's tests share (a manual clock,
// a fake best-effort counter) and the bad-config golden check. It is for
// tests only.
package testkit

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// Clock is a manual clock: Now reads the time it was last set or advanced
// to. Its Now method is the func() time.Time the Options of components take.
// It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that reads t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t, backwards too.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Counter is a fake best-effort counter backend (ratelimit.Counter). It
// counts every algorithm as a fixed window aligned to the Unix epoch, admits
// a hit while the window's count, the hit included, is at most the limit,
// and records each Apply. It is safe for concurrent use.
type Counter struct {
	mu     sync.Mutex
	counts map[string]uint64 // key + "@" + window start (Unix ns) → used
	calls  int
	hits   []counter.Hit
	err    error
}

// NewCounter returns an empty Counter.
func NewCounter() *Counter { return &Counter{counts: map[string]uint64{}} }

// Apply counts hits at now into out, or returns the error set by Fail
// without counting.
func (f *Counter) Apply(_ context.Context, now time.Time, hits []counter.Hit, out []counter.Outcome) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.hits = append(f.hits[:0], hits...)
	if f.err != nil {
		return f.err
	}
	for i, h := range hits {
		w := h.Window.Nanoseconds()
		start := now.UnixNano() - now.UnixNano()%w
		k := h.Key + "@" + strconv.FormatInt(start, 10)
		f.counts[k] += h.Hits
		used := f.counts[k]
		out[i] = counter.Outcome{Used: used, Allowed: used <= h.Limit, ResetAfter: time.Unix(0, start+w).Sub(now)}
	}
	return nil
}

// Fail makes the next Applies return err; nil makes them count again.
func (f *Counter) Fail(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// Calls returns how many times Apply was called.
func (f *Counter) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// LastHits returns a copy of the hits of the last Apply.
func (f *Counter) LastHits() []counter.Hit {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]counter.Hit(nil), f.hits...)
}

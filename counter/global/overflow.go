package global

import (
	"context"
	"sync"
	"time"
)

// Bounds of the overflow guard's fast path. An add of at most smallDelta
// (in absolute value) to a counter whose last checkpoint is at most
// smallCount from zero cannot leave the int64 range unless more than 2^30
// such adds land between two rollups, which no store here sustains; such
// adds are checked against the cached checkpoint. Any other add, and every
// add to a counter with a large add not yet in its checkpoint, is checked
// against the live count (an accurate read) before its append.
const (
	smallDelta = 1 << 32
	smallCount = 1 << 62
)

// maxEdges bounds the counters the guard remembers a recent large add of.
// When it is full, every add takes the live count until some checkpoints
// catch up: slower, never wrong.
const maxEdges = 100_000

// edges remembers, per counter, the generation time of the latest add that
// was large or left the count large, until the counter's checkpoint covers
// it: the cached checkpoint alone does not show that add yet.
type edges struct {
	mu   sync.Mutex
	m    map[key]time.Time
	full bool
}

// pending reports whether k had a large add that the checkpoint of time cp
// does not cover yet; it forgets the add once covered.
func (e *edges) pending(k key, cp time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	at, ok := e.m[k]
	if ok && !cp.Before(at) {
		delete(e.m, k)
		e.full = false
		ok = false
	}
	return ok || e.full
}

// mark remembers a large add to k generated at at.
func (e *edges) mark(k key, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = make(map[key]time.Time)
	}
	if prev, ok := e.m[k]; ok || len(e.m) < maxEdges {
		if at.After(prev) {
			e.m[k] = at
		}
		return
	}
	e.full = true
}

func abs(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// overflowBase returns the count an add of total absolute delta absDelta
// to k is checked against: the cached checkpoint's count on the fast path,
// else the live count (live true).
func (c *Counters) overflowBase(ctx context.Context, n *namespace, k key, h uint64, absDelta uint64) (base int64, live bool, err error) {
	cp, err := c.checkpoint(ctx, k, h)
	if err != nil {
		return 0, false, err
	}
	if absDelta <= smallDelta && abs(cp.Count) <= smallCount && !c.edges.pending(k, cp.At) {
		return cp.Count, false, nil
	}
	base, err = c.accurateCount(ctx, n, k, h)
	return base, true, err
}

// noteLarge remembers an add that the fast path must not skip past: a
// large delta, or a count left large.
func (c *Counters) noteLarge(k key, absDelta uint64, after int64, at time.Time) {
	if absDelta > smallDelta || abs(after) > smallCount {
		c.edges.mark(k, at)
	}
}

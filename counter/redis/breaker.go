package redis

import (
	"sync"
	"sync/atomic"
	"time"
)

// Breaker states, as tollgate_redis_breaker_state reports them.
const (
	breakerClosed   = 0
	breakerOpen     = 1
	breakerHalfOpen = 2
)

// breaker is the Store's circuit breaker: after Threshold failed Apply
// calls in a row it opens, and Apply fails at once (the caller's failure
// mode answers) instead of waiting for a Redis that does not answer. After
// Cooldown one call goes through as a probe: success closes the breaker,
// failure opens it for another Cooldown. It is lock-free on the closed
// path.
type breaker struct {
	threshold int32
	cooldown  time.Duration
	// failures counts failed calls in a row while closed.
	failures atomic.Int32
	// state is breakerClosed, breakerOpen or breakerHalfOpen.
	state atomic.Int32
	// openedAt is when the breaker last opened, Unix nanoseconds.
	openedAt atomic.Int64
	mu       sync.Mutex // serializes transitions
	m        *metrics
}

// allow reports whether a call may go to Redis at now, and whether it is
// the half-open probe (whose outcome must be reported).
func (b *breaker) allow(now time.Time) (ok, probe bool) {
	switch b.state.Load() {
	case breakerClosed:
		return true, false
	case breakerOpen:
		if now.UnixNano()-b.openedAt.Load() < int64(b.cooldown) {
			return false, false
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.state.Load() != breakerOpen {
			return false, false // another caller took the probe
		}
		b.set(breakerHalfOpen)
		return true, true
	default: // half-open: the probe is out
		return false, false
	}
}

// done reports the outcome of an allowed call.
func (b *breaker) done(now time.Time, probe, failed bool) {
	if !failed {
		if probe || b.failures.Load() != 0 {
			b.failures.Store(0)
			if probe {
				b.mu.Lock()
				b.set(breakerClosed)
				b.mu.Unlock()
			}
		}
		return
	}
	if !probe && b.failures.Add(1) < b.threshold {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe || b.state.Load() == breakerClosed {
		b.openedAt.Store(now.UnixNano())
		b.set(breakerOpen)
		b.m.breakerOpens.Inc()
	}
}

// open reports whether the breaker refuses calls now, and since when.
func (b *breaker) open() (bool, time.Time) {
	if b.state.Load() == breakerClosed {
		return false, time.Time{}
	}
	return true, time.Unix(0, b.openedAt.Load())
}

// set moves to state s. Called with mu held.
func (b *breaker) set(s int32) {
	b.state.Store(s)
	b.m.breakerState.Set(float64(s))
}

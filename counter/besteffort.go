package counter

import (
	"errors"
	"time"
)

// ErrUnavailable marks errors from a backend that could not be reached in time
// (timeout, connection refused, cluster down). Callers apply their failure mode
// (fail open or fail closed) when errors.Is(err, ErrUnavailable).
var ErrUnavailable = errors.New("counter: backend unavailable")

// Algorithm selects how a best-effort limit counts hits.
type Algorithm uint8

const (
	// FixedWindow counts hits in windows aligned to the Unix epoch
	// (start = now truncated to Window). Every hit is counted, even over the
	// limit, as envoyproxy/ratelimit does.
	FixedWindow Algorithm = iota
	// SlidingWindow estimates the hits in the last Window from the current and
	// the previous fixed window, the previous one weighted by the part of it
	// still inside the sliding window. A hit is counted only when admitted.
	SlidingWindow
	// TokenBucket holds up to Limit tokens and refills Limit tokens per Window,
	// continuously. A hit takes Hits tokens only when that many are there.
	TokenBucket
)

// String returns the YAML name of the algorithm.
func (a Algorithm) String() string {
	switch a {
	case FixedWindow:
		return "fixed_window"
	case SlidingWindow:
		return "sliding_window"
	case TokenBucket:
		return "token_bucket"
	}
	return "unknown"
}

// Hit asks a best-effort backend to count Hits against the limit stored under Key.
type Hit struct {
	// Key identifies the counter. The caller makes it unique per domain,
	// descriptor values and limit (requests, window, algorithm), so two limits
	// never share a counter. The backend adds its own suffixes (window start).
	Key string
	// Algorithm picks the counting algorithm.
	Algorithm Algorithm
	// Limit is the number of hits allowed per Window (token bucket: capacity,
	// and tokens refilled per Window).
	Limit uint64
	// Window is the window length (token bucket: refill period). Must be > 0.
	Window time.Duration
	// Hits is how many hits to add. Zero checks the counter without consuming.
	Hits uint64
}

// Outcome is the state of a counter after a Hit.
type Outcome struct {
	// Used is the count after the hit: for FixedWindow the post-increment count
	// in the current window; for SlidingWindow the weighted estimate (rounded
	// up) including this hit if it was admitted; for TokenBucket Limit minus the
	// tokens left (rounded up).
	Used uint64
	// Allowed reports whether the hit fits the limit: Used <= Limit for
	// FixedWindow; for SlidingWindow and TokenBucket whether the hit was admitted
	// (and so consumed).
	Allowed bool
	// ResetAfter is the time until the counter next frees capacity: the end of the
	// current fixed window, or for TokenBucket the time until the bucket is full.
	ResetAfter time.Duration
}

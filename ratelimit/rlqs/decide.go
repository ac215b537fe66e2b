package rlqs

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// decide combines the grants of b's pools into one action: ALLOW_ALL
// without limits, in shadow mode or when every pool allows all; DENY_ALL
// when a pool is used up; otherwise a token bucket with the smallest rate
// and burst of the pools that limit. The action is queued when force is
// set (it refreshes Envoy's time to live) or when it differs from the last
// one sent by more than TokenBucket.near; a near one is sent as it was, so
// Envoy keeps its bucket. It reports whether anything was queued. Called
// with s.mu held.
func (s *Server) decide(now time.Time, b *bucket, force bool) bool {
	a := Action{Bucket: b.id, Kind: AllowAll, TTL: b.st.ttl()}
	switch {
	case b.untracked && b.match.Found && !b.match.Unlimited:
		a.Kind = DenyAll
	case len(b.pools) > 0:
		rate, burst, tokens := math.Inf(1), math.Inf(1), math.Inf(1)
		shadow := true
		for _, p := range b.pools {
			shadow = shadow && p.shadow
			g := b.grants[p]
			switch g.kind {
			case DenyAll:
				a.Kind = DenyAll
			case Limit:
				if p.quota() {
					tokens = min(tokens, g.tokens)
				} else {
					rate, burst = min(rate, g.rate), min(burst, g.burst)
				}
			}
		}
		if a.Kind != DenyAll {
			switch {
			case !math.IsInf(tokens, 1) && tokens < 1:
				a.Kind = DenyAll
			case !math.IsInf(tokens, 1):
				// A quota's share: spent at any pace, with at most one
				// token added per fill interval of the time to live.
				a.Kind = Limit
				a.TokenBucket = TokenBucket{MaxTokens: uint32(min(tokens, math.MaxUint32)), TokensPerFill: 1, FillInterval: maxFillInterval * time.Second}
				if !math.IsInf(rate, 1) {
					tb := tokenBucket(rate, burst)
					a.TokenBucket.TokensPerFill, a.TokenBucket.FillInterval = tb.TokensPerFill, tb.FillInterval
					a.TokenBucket.MaxTokens = min(a.TokenBucket.MaxTokens, tb.MaxTokens)
				}
			case !math.IsInf(rate, 1):
				a.Kind = Limit
				a.TokenBucket = tokenBucket(rate, burst)
			}
		}
		if shadow && a.Kind != AllowAll {
			s.metrics.shadowed(b.st.domain)
			a.Kind, a.TokenBucket = AllowAll, TokenBucket{}
		}
	}
	if b.hasSent && b.sent.Kind == Limit && a.Kind == Limit && a.TokenBucket.near(b.sent.TokenBucket) {
		a.TokenBucket = b.sent.TokenBucket
	}
	changed := !b.hasSent || !a.same(b.sent)
	if !force && !changed {
		return false
	}
	b.sent, b.hasSent = a, true
	b.st.queue(a, s.metrics)
	return true
}

// bucketKey is a bucket id's canonical form: its entries sorted by key,
// each part length-prefixed so no two ids share a key.
func bucketKey(id map[string]string) string {
	keys := make([]string, 0, len(id))
	for k := range id {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	for _, k := range keys {
		b = strconv.AppendInt(b, int64(len(k)), 10)
		b = append(b, ':')
		b = append(b, k...)
		v := id[k]
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
	}
	return string(b)
}

// sliding estimates a count over a sliding window the way the best-effort
// backends do: the current epoch-aligned window plus the previous one
// weighted by the part of it still inside the sliding window.
type sliding struct {
	start     time.Time
	prev, cur float64
}

// add counts n at now.
func (w *sliding) add(now time.Time, n float64) {
	w.roll(now, demandWindow)
	w.cur += n
}

// estimate returns the count over the window ending at now.
func (w *sliding) estimate(now time.Time, window time.Duration) float64 {
	w.roll(now, window)
	inside := 1 - float64(now.Sub(w.start))/float64(window)
	return w.prev*inside + w.cur
}

func (w *sliding) roll(now time.Time, window time.Duration) {
	start := windowOf(now, window)
	switch {
	case start.Equal(w.start):
	case start.Sub(w.start) == window:
		w.prev, w.cur, w.start = w.cur, 0, start
	default:
		w.prev, w.cur, w.start = 0, 0, start
	}
}

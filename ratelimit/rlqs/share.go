package rlqs

import (
	"math"
	"slices"
	"time"
)

// Share tuning. Headroom lets a stream grow between reports; the floor keeps
// a new or quiet stream from being starved while its demand is unknown.
const (
	// headroom is the part of its demand a stream gets on top of it.
	headroom = 0.2
	// floorPart is the part of an equal share that every stream gets at
	// least: budget / streams × floorPart.
	floorPart = 0.1
)

// fairShares divides budget among streams with the given demands
// (max-min fair, water filling): each stream wants its demand plus
// headroom, and at least the floor; when the wants fit the budget each
// gets its want, otherwise a level λ caps every want so that the shares sum
// to the budget. No stream gets more than it wants. out receives one share
// per demand and is returned.
func fairShares(budget float64, demands []float64, out []float64) []float64 {
	out = out[:0]
	n := len(demands)
	if n == 0 {
		return out
	}
	budget = max(budget, 0)
	floor := budget / float64(n) * floorPart
	total := 0.0
	for _, d := range demands {
		w := max(d*(1+headroom), floor)
		out = append(out, w)
		total += w
	}
	if total <= budget {
		return out
	}
	sorted := slices.Clone(out)
	slices.Sort(sorted)
	left, level := budget, 0.0
	for i, w := range sorted {
		if rest := n - i; w*float64(rest) >= left {
			level = left / float64(rest)
			break
		}
		left -= w
	}
	for i, w := range out {
		out[i] = min(w, level)
	}
	return out
}

// TokenBucket is a token bucket Envoy enforces: up to MaxTokens tokens,
// TokensPerFill added every FillInterval.
type TokenBucket struct {
	MaxTokens     uint32
	TokensPerFill uint32
	// FillInterval is whole seconds: Envoy 1.40 reads only the seconds of
	// the proto's fill_interval.
	FillInterval time.Duration
}

// maxFillInterval bounds the fill interval tokenBucket picks for slow rates.
const maxFillInterval = 60

// tokenBucket returns the bucket closest to rate requests per second with a
// burst of burst tokens: the whole-second fill interval (1 to 60 s) and
// whole tokens per fill that come nearest to rate (within 1% when one
// does), at least one token per fill and a burst of at least one fill.
func tokenBucket(rate, burst float64) TokenBucket {
	best := TokenBucket{TokensPerFill: 1, FillInterval: maxFillInterval * time.Second}
	bestErr := math.Inf(1)
	if rate > 0 {
		for f := 1; f <= maxFillInterval; f++ {
			tokens := math.Round(rate * float64(f))
			if tokens < 1 {
				continue
			}
			if tokens > math.MaxUint32 {
				tokens = math.MaxUint32
			}
			err := math.Abs(tokens/float64(f)-rate) / rate
			if err < bestErr {
				best, bestErr = TokenBucket{TokensPerFill: uint32(tokens), FillInterval: time.Duration(f) * time.Second}, err
			}
			if err <= 0.01 {
				break
			}
		}
	}
	// Up to the next whole token, ignoring a hundredth of float noise.
	b := math.Min(math.Max(math.Ceil(burst-0.01), float64(best.TokensPerFill)), math.MaxUint32)
	best.MaxTokens = uint32(b)
	return best
}

// rate returns the bucket's refill rate in tokens per second.
func (b TokenBucket) rate() float64 {
	if b.FillInterval <= 0 {
		return 0
	}
	return float64(b.TokensPerFill) / b.FillInterval.Seconds()
}

// near reports whether b and o differ by at most 10% in rate and burst, so
// re-sending o instead of b keeps Envoy's bucket (Envoy replaces a bucket,
// full again, whenever its settings change).
func (b TokenBucket) near(o TokenBucket) bool {
	close := func(x, y float64) bool { return math.Abs(x-y) <= 0.1*math.Max(x, y) }
	return close(b.rate(), o.rate()) && close(float64(b.MaxTokens), float64(o.MaxTokens))
}

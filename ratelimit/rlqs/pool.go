package rlqs

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/ratelimit"
)

// poolHit is what one report adds to a pool.
type poolHit struct {
	p                 *pool
	allowed, requests uint64
}

// publish sends the report's admissions (quota pools) and, for shared
// backends, its demand to the backend, and keeps what comes back.
func (s *Server) publish(ctx context.Context, now time.Time, hits map[string]*poolHit) {
	if len(hits) == 0 {
		return
	}
	type target struct {
		p      *pool
		demand bool
	}
	var reqs []counter.Hit
	var targets []target
	for _, h := range hits {
		p := h.p
		if p.quota() {
			reqs = append(reqs, counter.Hit{Key: "rlqs|used|" + p.key, Algorithm: p.limit.Algorithm, Limit: math.MaxInt64, Window: p.limit.Window, Hits: h.allowed})
			targets = append(targets, target{p, false})
		}
		if s.opts.Shared {
			reqs = append(reqs, counter.Hit{Key: "rlqs|demand|" + p.key, Algorithm: counter.SlidingWindow, Limit: math.MaxInt64, Window: demandWindow, Hits: h.requests})
			targets = append(targets, target{p, true})
		}
	}
	if len(reqs) == 0 {
		return
	}
	out := make([]counter.Outcome, len(reqs))
	bctx, cancel := context.WithTimeout(ctx, s.opts.BackendTimeout)
	err := s.opts.Counter.Apply(bctx, now, reqs, out)
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.metrics.backendErrors.Inc()
		s.log.Warn("cannot publish RLQS usage; assigning from this replica's own counts", "err", err)
	}
	for i, t := range targets {
		p := t.p
		h := hits[p.key]
		if t.demand {
			p.local.add(now, float64(h.requests))
			if err == nil {
				p.part = replicaPart(p.local.estimate(now, demandWindow), float64(out[i].Used), float64(h.requests))
			}
			continue
		}
		w := windowOf(now, p.limit.Window)
		if err == nil {
			p.used, p.window = out[i].Used, w
			continue
		}
		if p.window != w {
			p.used, p.window = 0, w
		}
		p.used += h.allowed
	}
}

// demandWindow is the sliding window over which replicas' demand is summed:
// six of Envoy's 5 s reports.
const demandWindow = 30 * time.Second

// replicaPart is this replica's part of a pool's demand, from its own and
// every replica's requests over demandWindow just after adding its latest
// report of added requests. Right after its own report a replica's count
// holds one report more than the others' (whose next ones are still to
// come), and right before it one fewer; the mean of both is taken, so that
// replicas reporting in turn do not each take more than their part.
func replicaPart(local, global, added float64) float64 {
	if den := 2*global - added; den > 0 {
		return min(1, max(0, (2*local-added)/den))
	}
	return 1
}

// windowOf returns the start of the epoch-aligned window of length w that
// holds now.
func windowOf(now time.Time, w time.Duration) time.Time {
	return time.Unix(0, now.UnixNano()-now.UnixNano()%int64(w))
}

// pool is one limit of one matched entry, shared by every bucket that
// matches it.
type pool struct {
	key    string
	domain string
	limit  ratelimit.BucketLimit
	shadow bool
	// members are the buckets of this replica's streams in the pool.
	members map[*bucket]struct{}
	// used is the pool's admissions in the window starting at window
	// (quota pools), as the backend last said.
	used   uint64
	window time.Time
	// part is this replica's part of the pool's demand (shared backends),
	// as of its last report; 1 until then.
	part float64
	// local is this replica's requests in the last demandWindow, estimated
	// as the backend estimates every replica's.
	local sliding
}

// quotaAfter is the shortest window treated as a quota: a pool whose
// fixed or sliding window is at least this long lets streams spend what is
// left of it at any pace; shorter windows and token buckets are enforced
// as rates.
const quotaAfter = time.Hour

// quota reports whether the pool is a quota (see quotaAfter).
func (p *pool) quota() bool {
	return p.limit.Algorithm != counter.TokenBucket && p.limit.Window >= quotaAfter
}

// localPart is the part of the pool this replica's streams may take.
func (p *pool) localPart(shared bool) float64 {
	if !shared {
		return 1
	}
	return p.part
}

// grant is a pool's assignment to one member.
type grant struct {
	kind        ActionKind
	rate, burst float64
	tokens      float64
}

// assignPool computes every member's grant (see decide for how a bucket's
// grants become its action) and returns the members. Called with s.mu held.
func (s *Server) assignPool(now time.Time, p *pool) []*bucket {
	members := make([]*bucket, 0, len(p.members))
	for b := range p.members {
		members = append(members, b)
	}
	slices.SortFunc(members, func(a, b *bucket) int {
		if a.st.name != b.st.name {
			if a.st.name < b.st.name {
				return -1
			}
			return 1
		}
		if a.key < b.key {
			return -1
		}
		if a.key > b.key {
			return 1
		}
		return 0
	})
	part := p.localPart(s.opts.Shared)
	demands := make([]float64, len(members))
	limit := float64(p.limit.Requests)
	if p.quota() {
		used := p.used
		if p.limit.Algorithm == counter.FixedWindow && p.window != windowOf(now, p.limit.Window) {
			used = 0 // the window turned since the backend last said
		}
		left := (limit - float64(used)) * part
		for i, b := range members {
			demands[i] = b.demand * b.st.interval.Seconds() * 2
		}
		shares := fairShares(left, demands, nil)
		want := 0.0
		for _, d := range demands {
			want += d
		}
		for i, b := range members {
			switch {
			case left < 1:
				b.grants[p] = grant{kind: DenyAll}
			case want*10 <= left:
				b.grants[p] = grant{kind: AllowAll}
			default:
				b.grants[p] = grant{kind: Limit, tokens: math.Floor(shares[i])}
			}
		}
	} else {
		rate := limit / p.limit.Window.Seconds() * part
		for i, b := range members {
			demands[i] = b.demand
		}
		shares := fairShares(rate, demands, nil)
		for i, b := range members {
			// One second of the share: enough for traffic that is not
			// perfectly even, and Envoy starts every new bucket full, so a
			// longer burst would be admitted on top of the limit at each
			// change. A token_bucket limit keeps its own capacity, shared.
			burst := shares[i]
			if p.limit.Algorithm == counter.TokenBucket && rate > 0 {
				burst = shares[i] / rate * limit * part
			}
			b.grants[p] = grant{kind: Limit, rate: shares[i], burst: burst}
		}
	}
	return members
}

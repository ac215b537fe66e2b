package rlqs

import (
	"math"
	"time"

	"github.com/tollgate/tollgate/ratelimit"
)

// bucket is one stream's bucket.
type bucket struct {
	st    *Stream
	id    map[string]string
	key   string
	match ratelimit.BucketMatch
	pools []*pool
	// grants are the pools' latest grants to this bucket.
	grants map[*pool]grant
	// demand is requests per second, smoothed over reports; a bucket's
	// first report (Envoy's subscription, sent at its first request) says
	// nothing of its rate, so it starts as wanting everything: a new Envoy
	// gets an equal share at once, and its next report sets its demand.
	demand     float64
	measured   bool
	lastReport time.Time
	lastActive time.Time
	// sent is the last action queued for the bucket.
	sent    Action
	hasSent bool
	// untracked marks a bucket over MaxBuckets: answered, not kept.
	untracked bool
}

// observe counts n requests reported at now.
func (b *bucket) observe(now time.Time, n uint64) {
	first := b.lastReport.IsZero()
	switch {
	case first:
		b.demand = math.Inf(1)
	case !b.measured:
		b.demand, b.measured = float64(n)/max(now.Sub(b.lastReport), 100*time.Millisecond).Seconds(), true
	default:
		b.demand = (b.demand + float64(n)/max(now.Sub(b.lastReport), 100*time.Millisecond).Seconds()) / 2
	}
	b.lastReport = now
	if n > 0 || first {
		b.lastActive = now
	}
}

// newBucket matches a new bucket and joins its pools. Called with s.mu held.
func (s *Server) newBucket(st *Stream, key string, id map[string]string, now time.Time) *bucket {
	b := &bucket{st: st, id: id, key: key, lastActive: now, grants: map[*pool]grant{}}
	if s.cfg != nil {
		b.match = s.cfg.MatchBucket(st.domain, id)
	}
	if s.buckets >= s.opts.MaxBuckets {
		b.untracked = true
		s.metrics.overCapacity.Inc()
		return b
	}
	s.buckets++
	st.buckets[key] = b
	s.join(b)
	return b
}

// join adds b to the pools of its limits. Called with s.mu held.
func (s *Server) join(b *bucket) {
	b.pools = b.pools[:0]
	clear(b.grants)
	if !b.match.Found || b.match.Unlimited {
		return
	}
	for _, l := range b.match.Limits {
		key := b.match.Key + l.Suffix
		p := s.pools[key]
		if p == nil {
			p = &pool{key: key, domain: b.st.domain, limit: l, shadow: b.match.ShadowMode || s.opts.GlobalShadowMode, members: map[*bucket]struct{}{}, part: 1}
			s.pools[key] = p
		}
		p.members[b] = struct{}{}
		b.pools = append(b.pools, p)
	}
}

// dropBucket removes b from its pools and the count. Called with s.mu held.
func (s *Server) dropBucket(b *bucket) {
	for _, p := range b.pools {
		delete(p.members, b)
		if len(p.members) == 0 {
			delete(s.pools, p.key)
		}
	}
	b.pools = nil
	s.buckets--
}

// reconfigure matches every bucket again with cfg. Called with s.mu held.
func (s *Server) reconfigure(cfg *ratelimit.Config) {
	s.cfg = cfg
	old := s.pools
	s.pools = map[string]*pool{}
	for st := range s.streams {
		for _, b := range st.buckets {
			b.match = cfg.MatchBucket(st.domain, b.id)
			s.join(b)
		}
	}
	// Keep what the backend told about pools that still exist.
	for key, p := range s.pools {
		if o := old[key]; o != nil {
			p.used, p.window, p.part, p.local = o.used, o.window, o.part, o.local
		}
	}
}

// reassignAll assigns every pool again and decides every bucket. Called
// with s.mu held.
func (s *Server) reassignAll(now time.Time) []*Stream {
	for _, p := range s.pools {
		s.assignPool(now, p)
	}
	var touched []*Stream
	for st := range s.streams {
		for _, b := range st.buckets {
			if s.decide(now, b, false) {
				touched = append(touched, st)
			}
		}
	}
	return touched
}

// reassign assigns the pools of the reported buckets, then decides the
// reported buckets of st (always queued, which refreshes their time to
// live) and the other buckets of those pools (queued when changed).
// Called with s.mu held.
func (s *Server) reassign(now time.Time, st *Stream, reported []*bucket, hits map[string]*poolHit) []*Stream {
	others := map[*bucket]struct{}{}
	for _, h := range hits {
		if s.pools[h.p.key] != h.p {
			continue // replaced by a reload meanwhile
		}
		for _, b := range s.assignPool(now, h.p) {
			others[b] = struct{}{}
		}
	}
	for _, b := range reported {
		delete(others, b)
		s.decide(now, b, true)
	}
	touched := []*Stream{st}
	for b := range others {
		if s.decide(now, b, false) {
			touched = append(touched, b.st)
		}
	}
	return touched
}

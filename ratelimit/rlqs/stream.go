package rlqs

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"
)

// Stream is one Envoy's RLQS stream. Report and Take are called by the one
// goroutine that serves the stream; pushes from other streams' reports
// arrive through Ready.
type Stream struct {
	s      *Server
	name   string
	domain string
	// seq numbers the stream's reports.
	seq uint64
	// buckets by canonical key; guarded by s.mu like everything below.
	buckets map[string]*bucket
	// interval is the stream's reporting interval, learned from its
	// periodic reports; lastPeriodic is when the last one arrived.
	interval     time.Duration
	lastPeriodic time.Time
	pending      map[string]Action
	order        []string
	ready        chan struct{}
	closed       bool
}

// NewStream registers a stream.
func (s *Server) NewStream() *Stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	st := &Stream{
		s: s, name: s.instance + "-" + strconv.FormatUint(s.nextID, 36), buckets: map[string]*bucket{},
		interval: defaultInterval, pending: map[string]Action{}, ready: make(chan struct{}, 1),
	}
	s.streams[st] = struct{}{}
	s.metrics.streams.Inc()
	return st
}

// ErrDomainChanged is returned by Report when a stream's report names
// another domain than its first (Envoy opens a new stream for that).
var ErrDomainChanged = errors.New("rlqs: a stream's reports must keep the domain of its first report")

// Report takes one usage report: it counts each bucket's demand, publishes
// it (and admissions) to the backend, assigns every reported bucket and
// pushes changed assignments to the other streams of the same pools.
// Actions for this stream are queued for Take.
func (st *Stream) Report(ctx context.Context, domain string, usages []Usage) error {
	s := st.s
	now := s.opts.Now()
	if st.domain == "" {
		st.domain = domain
	} else if domain != "" && domain != st.domain {
		return ErrDomainChanged
	}
	st.seq++
	if s.opts.OnUsage != nil {
		var allowed []Allowed
		for _, u := range usages {
			if u.Allowed > 0 {
				allowed = append(allowed, Allowed{Domain: st.domain, Bucket: u.Bucket, Requests: u.Allowed, Stream: st.name, Seq: st.seq, Time: now})
			}
		}
		if len(allowed) > 0 {
			if err := s.opts.OnUsage(ctx, allowed); err != nil {
				s.metrics.usageErrors.Inc()
				s.log.Warn("cannot record RLQS usage", "err", err)
			}
		}
	}

	s.mu.Lock()
	if cfg := s.opts.Config(); cfg != s.cfg {
		s.reconfigure(cfg)
	}
	periodic := false
	reported := make([]*bucket, 0, len(usages))
	hits := map[string]*poolHit{}
	for _, u := range usages {
		key := bucketKey(u.Bucket)
		b := st.buckets[key]
		if b != nil {
			periodic = true
		} else {
			b = s.newBucket(st, key, u.Bucket, now)
		}
		b.observe(now, u.Allowed+u.Denied)
		s.metrics.requests(st.domain, b.match, u.Allowed, u.Denied)
		reported = append(reported, b)
		for _, p := range b.pools {
			h := hits[p.key]
			if h == nil {
				h = &poolHit{p: p}
				hits[p.key] = h
			}
			h.allowed += u.Allowed
			h.requests += u.Allowed + u.Denied
		}
	}
	if periodic {
		if !st.lastPeriodic.IsZero() {
			gap := now.Sub(st.lastPeriodic)
			s.metrics.reportInterval.Observe(gap.Seconds())
			// A long silence (a stalled Envoy) says little of the interval.
			st.interval = (st.interval + min(gap, maxInterval)) / 2
		}
		st.lastPeriodic = now
	}
	s.mu.Unlock()

	s.publish(ctx, now, hits)

	s.mu.Lock()
	touched := s.reassign(now, st, reported, hits)
	s.metrics.buckets.Set(float64(s.buckets))
	s.mu.Unlock()
	notify(touched)
	return nil
}

// Ready is signalled when Take has actions.
func (st *Stream) Ready() <-chan struct{} { return st.ready }

// Take returns the queued actions, in the order they were first queued.
func (st *Stream) Take() []Action {
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	out := make([]Action, 0, len(st.order))
	for _, k := range st.order {
		out = append(out, st.pending[k])
	}
	clear(st.pending)
	st.order = st.order[:0]
	return out
}

// Close releases the stream's buckets at once, so their shares go to the
// other streams. It is idempotent.
func (st *Stream) Close() {
	s := st.s
	now := s.opts.Now()
	s.mu.Lock()
	if st.closed {
		s.mu.Unlock()
		return
	}
	st.closed = true
	delete(s.streams, st)
	s.metrics.streams.Dec()
	pools := map[*pool]struct{}{}
	for _, b := range st.buckets {
		for _, p := range b.pools {
			pools[p] = struct{}{}
		}
		s.dropBucket(b)
	}
	clear(st.buckets)
	var touched []*Stream
	for p := range pools {
		if s.pools[p.key] != p {
			continue // st's buckets were its last members
		}
		for _, b := range s.assignPool(now, p) {
			if s.decide(now, b, false) {
				touched = append(touched, b.st)
			}
		}
	}
	s.metrics.buckets.Set(float64(s.buckets))
	s.mu.Unlock()
	notify(touched)
}

// queue adds an action for the stream, replacing a pending one of the same
// bucket. Called with s.mu held.
func (st *Stream) queue(a Action, m *metrics) {
	if st.closed {
		return
	}
	key := bucketKey(a.Bucket)
	if _, ok := st.pending[key]; !ok {
		st.order = append(st.order, key)
	}
	st.pending[key] = a
	m.actions(st.domain, a.Kind)
}

// defaultInterval is a new stream's reporting interval until its reports
// tell: Envoy 1.40 reports every 5 s whatever the filter's
// reporting_interval says.
const defaultInterval = 5 * time.Second

// maxInterval bounds the reporting interval a stream is taken to have.
const maxInterval = 20 * time.Second

// ttl is how long the stream's assignments live: three reporting
// intervals, 2 s to 60 s, in whole seconds (Envoy reads only seconds).
func (st *Stream) ttl() time.Duration {
	d := time.Duration(math.Ceil((3 * st.interval).Seconds())) * time.Second
	return min(max(d, 2*time.Second), time.Minute)
}

func notify(streams []*Stream) {
	for _, st := range streams {
		select {
		case st.ready <- struct{}{}:
		default:
		}
	}
}

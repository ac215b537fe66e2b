package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate/counter"
)

// This file is Apply: hits turned into pipelined commands, sent with those
// of concurrent callers, within the deadline.

// errDeadline fails an Apply that got no answer within Options.Timeout of
// its start, waiting for a busy pipeline included.
var errDeadline = errors.New("no answer within the timeout, waiting for a pipeline included")

// timers are the Apply deadlines' timers, reused.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// deadline is one Apply's deadline: waits on it end when a result is there
// or the deadline has passed, whichever comes first.
type deadline struct {
	c       <-chan time.Time
	end     time.Time
	expired bool
}

// wait reports whether done closed before the deadline.
func (d *deadline) wait(done <-chan struct{}) bool {
	if !d.expired {
		select {
		case <-done:
			return true
		case <-d.c:
			d.expired = true
		}
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// Kinds of op.
const (
	opFixed  = iota // an INCRBY in this call's pipeline
	opJoined        // hits merged into another caller's INCRBY
	opScript        // an EVALSHA in this call's pipeline
)

// op is the pending work for one hit.
type op struct {
	i      int
	kind   uint8
	lead   bool // opFixed: this call leads the key in the coalescer
	key    string
	end    int64 // opFixed, opJoined: window end, Unix nanoseconds
	ttl    int64 // opFixed: milliseconds to the window end
	incr   *goredis.IntCmd
	b      *batch
	prefix uint64
	sc     *script
	args   []any
	cmd    *goredis.Cmd
}

// Apply counts hits[i] and writes the state after it to out[i]; out must be
// as long as hits. All hits go to Redis in one pipelined round trip, shared
// with the hits of concurrent calls; the call returns within Options.Timeout
// of its start whatever ctx's deadline, waiting for a busy pipeline
// included (a pipeline still in flight then goes on without it); a ctx that
// is already done fails at once. After BreakerThreshold failed calls in a
// row the circuit breaker opens and Apply fails at once until a probe
// succeeds (see Options.BreakerCooldown). Fixed-window hits may
// be merged with concurrent hits on the same key, and over-limit
// fixed-window hits may be answered from the local cache with
// Used = Limit + max(Hits, 1) without being counted. Failures to reach Redis
// wrap counter.ErrUnavailable; out is then only partly written.
func (s *Store) Apply(ctx context.Context, now time.Time, hits []counter.Hit, out []counter.Outcome) error {
	if len(out) != len(hits) {
		return fmt.Errorf("counter/redis: got %d outcomes for %d hits; pass out with len(out) == len(hits)", len(out), len(hits))
	}
	for i := range hits {
		if hits[i].Window < time.Millisecond {
			return fmt.Errorf("counter/redis: hit %d (key %q) has window %v; the window must be at least 1ms (fix the limit's unit or window)", i, hits[i].Key, hits[i].Window)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("counter/redis: cannot apply %d hits: %w", len(hits), err)
	}
	start := s.opts.Now()
	ok, probe := s.br.allow(start)
	if !ok {
		s.m.errors.Inc()
		_, since := s.br.open()
		return fmt.Errorf("counter/redis: cannot apply %d hits on %s: %w: circuit breaker open since %s after %d failed calls in a row (Redis is probed every %v; check that it is up and answering)",
			len(hits), s.where, counter.ErrUnavailable, since.UTC().Format(time.RFC3339Nano), s.opts.BreakerThreshold, s.opts.BreakerCooldown)
	}
	t := timers.Get().(*time.Timer)
	t.Reset(s.opts.Timeout)
	d := deadline{c: t.C, end: start.Add(s.opts.Timeout)}
	err := s.apply(ctx, now.UnixNano(), hits, out, &d)
	t.Stop()
	timers.Put(t)
	end := s.opts.Now()
	s.br.done(end, probe, err != nil)
	s.m.applyDur.Observe(end.Sub(start).Seconds())
	if err != nil {
		s.m.errors.Inc()
		err = fmt.Errorf("counter/redis: cannot apply %d hits on %s: %w: %w (%s)", len(hits), s.where, counter.ErrUnavailable, err,
			hint(err, "check that redis is reachable; raise Options.Timeout if it is slow"))
		s.logError(err)
	}
	return err
}

func (s *Store) apply(ctx context.Context, now int64, hits []counter.Hit, out []counter.Outcome, d *deadline) error {
	ops := make([]op, 0, len(hits))
	sends := 0
	for i := range hits {
		h := &hits[i]
		w := int64(h.Window)
		switch h.Algorithm {
		case counter.SlidingWindow, counter.TokenBucket:
			sc, tag := &s.sliding, "s:"
			if h.Algorithm == counter.TokenBucket {
				sc, tag = &s.bucket, "t:"
			}
			ops = append(ops, op{i: i, kind: opScript, key: s.opts.KeyPrefix + tag + h.Key, sc: sc,
				args: []any{now / 1000, w / 1000, h.Limit, h.Hits}})
			sends++
		default:
			idx := floorDiv(now, w)
			o := op{i: i, kind: opFixed, key: fixedKey(s.opts.KeyPrefix, h.Key, idx), end: (idx + 1) * w}
			if s.ol != nil && s.ol.over(o.key, h.Limit, now) {
				out[i] = counter.Outcome{Used: h.Limit + max(h.Hits, 1), ResetAfter: time.Duration(o.end - now)}
				s.m.cacheHits.Inc()
				continue
			}
			o.ttl = ceilMs(o.end - now)
			if s.co != nil {
				b, prefix, lead := s.co.join(o.key, h.Hits, o.ttl)
				if !lead {
					o.kind, o.b, o.prefix = opJoined, b, prefix
					ops = append(ops, o)
					s.m.coalesced.Inc()
					continue
				}
				o.lead = true
			}
			ops = append(ops, o)
			sends++
		}
	}
	var sendErr error
	if sends > 0 {
		sendErr = s.send(hits, ops, d)
	}
	for j := range ops {
		if ops[j].lead {
			s.release(ops[j].key)
		}
	}
	if sendErr != nil {
		return sendErr
	}
	s.retryNoScript(ctx, ops, d.end)

	var errs []error
	for j := range ops {
		o := &ops[j]
		h := &hits[o.i]
		switch o.kind {
		case opScript:
			v, err := o.cmd.Int64Slice()
			if err == nil && len(v) != 3 {
				err = fmt.Errorf("script returned %d values, want 3", len(v))
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out[o.i] = counter.Outcome{Used: uint64(v[0]), Allowed: v[1] == 1, ResetAfter: time.Duration(v[2]) * time.Microsecond}
		case opFixed:
			v, err := o.incr.Result()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out[o.i] = s.fixedOutcome(o, h, v, now)
		}
	}
	for j := range ops {
		o := &ops[j]
		if o.kind != opJoined {
			continue
		}
		if !d.wait(o.b.done) {
			errs = append(errs, errDeadline)
			continue
		}
		if o.b.err != nil {
			errs = append(errs, o.b.err)
			continue
		}
		h := &hits[o.i]
		out[o.i] = s.fixedOutcome(o, h, o.b.total-int64(o.b.sum)+int64(o.prefix)+int64(h.Hits), now)
	}
	return errors.Join(errs...)
}

// send adds the commands of ops to the batcher's open pipeline and waits
// until it has been sent, or until the deadline (the pipeline then goes on
// without this caller).
func (s *Store) send(hits []counter.Hit, ops []op, d *deadline) error {
	g := s.b.lock()
	if g == nil {
		return errClosed
	}
	bg := context.Background() // the pipeline's own context bounds the round trip
	for j := range ops {
		o := &ops[j]
		switch o.kind {
		case opScript:
			o.cmd = g.pipe.EvalSha(bg, o.sc.sha, []string{o.key}, o.args...)
		case opFixed:
			o.incr = g.pipe.IncrBy(bg, o.key, int64(hits[o.i].Hits))
			g.pipe.Do(bg, "pexpire", o.key, o.ttl, "NX")
		}
	}
	s.b.submit()
	if !d.wait(g.done) {
		return errDeadline
	}
	return nil
}

// fixedOutcome turns a post-increment count into an Outcome and remembers
// the key when it is over limit.
func (s *Store) fixedOutcome(o *op, h *counter.Hit, v int64, now int64) counter.Outcome {
	used := uint64(max(v, 0))
	allowed := used <= h.Limit
	if !allowed && s.ol != nil {
		s.ol.add(o.key, h.Limit, o.end, now)
	}
	return counter.Outcome{Used: used, Allowed: allowed, ResetAfter: time.Duration(o.end - now)}
}

// retryNoScript re-sends with EVAL, in one more pipeline bounded by the
// Apply's deadline end, the scripts a server did not have cached (after a
// restart or SCRIPT FLUSH). EVAL caches them for the EVALSHA of later calls.
func (s *Store) retryNoScript(ctx context.Context, ops []op, end time.Time) {
	var pipe goredis.Pipeliner
	for j := range ops {
		o := &ops[j]
		if o.kind != opScript || !goredis.HasErrorPrefix(o.cmd.Err(), "NOSCRIPT") {
			continue
		}
		if pipe == nil {
			pipe = s.client.Pipeline()
		}
		o.cmd = pipe.Eval(ctx, o.sc.src, []string{o.key}, o.args...)
	}
	if pipe != nil {
		rctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), end)
		execPipe(rctx, pipe)
		cancel()
	}
}

// release ends this caller's increment of key and sends the hits that were
// merged meanwhile, if any, from a goroutine the Store waits for on Close.
func (s *Store) release(key string) {
	for b := s.co.release(key); b != nil; b = s.co.release(key) {
		s.mu.RLock()
		if !s.closed {
			s.flushes.Add(1)
			s.mu.RUnlock()
			go s.flush(b)
			return
		}
		s.mu.RUnlock()
		b.err = errClosed
		close(b.done)
	}
}

// flush sends a merged increment, wakes its callers and releases the key.
func (s *Store) flush(b *batch) {
	defer s.flushes.Done()
	start := s.opts.Now()
	if g := s.b.lock(); g == nil {
		b.err = errClosed
	} else {
		bg := context.Background() // the pipeline's own context bounds the round trip
		incr := g.pipe.IncrBy(bg, b.key, int64(b.sum))
		g.pipe.Do(bg, "pexpire", b.key, b.ttlMs, "NX")
		s.b.submit()
		<-g.done
		b.total, b.err = incr.Result()
	}
	s.m.flushDur.Observe(s.opts.Now().Sub(start).Seconds())
	close(b.done)
	s.release(b.key)
}

package redis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/tollgate/tollgate/counter"
)

// Store is a best-effort counter backend on Redis. It is safe for concurrent
// use. Build it with New and release it with Close.
type Store struct {
	opts    Options
	client  goredis.UniversalClient
	where   string // mode and addresses, for error texts
	sliding script
	bucket  script
	b       *batcher
	co      *coalescer      // nil when coalescing is disabled
	ol      *overLimitCache // nil when the over-limit cache is disabled
	m       *metrics
	br      *breaker
	lastLog atomic.Int64 // Unix nanoseconds of the last error log

	mu      sync.RWMutex // guards closed against new flushes
	closed  bool
	flushes sync.WaitGroup
}

// script is a Lua script and its SHA-1 for EVALSHA.
type script struct{ src, sha string }

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(sum[:])}
}

// errClosed fails coalesced hits that were still waiting when the Store closed.
var errClosed = errors.New("counter/redis: store is closed (do not call Apply after Close)")

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

// New returns a Store for opts. It does not connect: connections are made on
// first use, so New succeeds while Redis is down and the Store recovers by
// itself once Redis is back. It fails only on invalid options or when the
// metrics cannot be registered.
func New(opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("counter/redis: cannot register metrics: %w (give the Store a registry it has not registered on)", err)
	}
	opts.Logger = opts.Logger.With("component", "counter/redis")
	s := &Store{
		opts:    opts,
		client:  newClient(&opts),
		where:   where(&opts),
		sliding: newScript(slidingScript),
		bucket:  newScript(bucketScript),
		ol:      newOverLimitCache(opts.OverLimitCacheSize),
		m:       m,
		br:      &breaker{threshold: int32(opts.BreakerThreshold), cooldown: opts.BreakerCooldown, m: m},
	}
	if !opts.DisableCoalescing {
		s.co = newCoalescer()
	}
	s.b = newBatcher(s.client, opts.Timeout, opts.Pipelines)
	return s, nil
}

// where names the servers of o in error texts: mode, TLS and addresses.
func where(o *Options) string {
	if o.TLS != nil {
		return string(o.Mode) + " tls " + strings.Join(o.Addrs, ",")
	}
	return string(o.Mode) + " " + strings.Join(o.Addrs, ",")
}

// newClient builds the go-redis client. Every wait is bounded by Timeout:
// dialling (one attempt), waiting for a pooled connection, socket reads and
// writes; context deadlines are honoured, and retries are off unless asked.
// Pipelines share the main pool.
func newClient(o *Options) goredis.UniversalClient {
	retries := o.MaxRetries
	if retries == 0 {
		retries = -1 // go-redis reads 0 as "the default, 3"
	}
	t := o.Timeout
	switch o.Mode {
	case ModeCluster:
		return goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs: o.Addrs, Username: o.Username, Password: o.Password, TLSConfig: o.TLS,
			MaxRetries: retries, DialTimeout: t, DialerRetries: 1, ReadTimeout: t, WriteTimeout: t,
			ContextTimeoutEnabled: true, PoolSize: o.PoolSize, PoolTimeout: t, PipelinePoolSize: -1,
			DisableIdentity:          true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		})
	case ModeRing:
		addrs := make(map[string]string, len(o.Addrs))
		for _, a := range o.Addrs {
			addrs[a] = a // the address names the shard, so the order of Addrs does not matter
		}
		return goredis.NewRing(&goredis.RingOptions{
			Addrs: addrs, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS,
			MaxRetries: retries, DialTimeout: t, DialerRetries: 1, ReadTimeout: t, WriteTimeout: t,
			ContextTimeoutEnabled: true, PoolSize: o.PoolSize, PoolTimeout: t, PipelinePoolSize: -1,
			DisableIdentity: true,
		})
	default:
		return goredis.NewClient(&goredis.Options{
			Addr: o.Addrs[0], Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS,
			MaxRetries: retries, DialTimeout: t, DialerRetries: 1, ReadTimeout: t, WriteTimeout: t,
			ContextTimeoutEnabled: true, PoolSize: o.PoolSize, PoolTimeout: t, PipelinePoolSize: -1,
			DisableIdentity:          true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		})
	}
}

// detach returns a context that keeps ctx's values but not its cancellation
// or deadline, bounded by Timeout instead. A caller that gives up must not
// make go-redis drop a connection with a reply still in flight.
func (s *Store) detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.opts.Timeout)
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

// Ping checks that every server (each cluster master, each ring shard)
// answers within Options.Timeout. Its error wraps counter.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	// With the breaker open, a Ping after the cooldown is its probe (a
	// sidecar taken out of rotation gets no decisions to probe with).
	ok, probe := s.br.allow(s.opts.Now())
	if !ok {
		_, since := s.br.open()
		return fmt.Errorf("counter/redis: %s: %w: circuit breaker open since %s (decisions follow the failure mode until a probe succeeds)",
			s.where, counter.ErrUnavailable, since.UTC().Format(time.RFC3339Nano))
	}
	err := s.ping(ctx)
	if probe || err != nil {
		s.br.done(s.opts.Now(), probe, err != nil)
	}
	return err
}

// ping checks every server once, within Options.Timeout.
func (s *Store) ping(ctx context.Context) error {
	rctx, cancel := s.detach(ctx)
	defer cancel()
	ping := func(ctx context.Context, c *goredis.Client) error { return c.Ping(ctx).Err() }
	var err error
	switch c := s.client.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(rctx, ping)
	case *goredis.Ring:
		err = c.ForEachShard(rctx, ping)
	default:
		err = s.client.Ping(rctx).Err()
	}
	if err != nil {
		return fmt.Errorf("counter/redis: cannot ping %s: %w: %w (%s)", s.where, counter.ErrUnavailable, err, hint(err, "check that redis is up and reachable"))
	}
	return nil
}

// Close waits for merged increments in flight and closes the connections.
// It may be called more than once; later calls return nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.flushes.Wait()
	s.b.close()
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("counter/redis: cannot close client for %s: %w", s.where, err)
	}
	return nil
}

// logError logs err at most once a second.
func (s *Store) logError(err error) {
	now := s.opts.Now().UnixNano()
	last := s.lastLog.Load()
	if now-last < int64(time.Second) || !s.lastLog.CompareAndSwap(last, now) {
		return
	}
	s.opts.Logger.Warn("redis counter operation failed", "backend", "redis", "error", err)
}

// fixedKey is prefix "f:" key ":" window index. The index has no ':', so
// the key stays unambiguous whatever key holds.
func fixedKey(prefix, key string, idx int64) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(key) + 23)
	b.WriteString(prefix)
	b.WriteString("f:")
	b.WriteString(key)
	b.WriteByte(':')
	var num [20]byte
	b.Write(strconv.AppendInt(num[:0], idx, 10))
	return b.String()
}

// floorDiv is a/b rounded towards minus infinity, for b > 0.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// ceilMs rounds nanoseconds up to whole milliseconds, at least 1.
func ceilMs(ns int64) int64 {
	return max((ns+int64(time.Millisecond)-1)/int64(time.Millisecond), 1)
}

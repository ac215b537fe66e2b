package global

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/tracing"
)

// IdempotencyToken identifies one add or clear. A retry or hedge of the same
// operation reuses the token, so it counts once.
type IdempotencyToken struct {
	// Token is unique per operation (a UUID, for example). Required for the
	// Eventual and Accurate types, at most 256 bytes.
	Token string
	// GenerationTime is when the client created the token; it is the event
	// time and must be within the namespace's AcceptLimit and FutureLimit of
	// the server's clock. Required for the Eventual and Accurate types.
	GenerationTime time.Time
}

// AddRequest is one add of BatchAdd.
type AddRequest struct {
	Namespace string
	Counter   string
	Delta     int64
	Token     IdempotencyToken
}

// key identifies a counter in memory.
type key struct{ ns, name string }

// hash returns the hash choosing k's rollup queue and cache shard.
func (k key) hash() uint64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.WriteString(k.ns)
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(k.name)
	return d.Sum64()
}

// namespace is a configured namespace.
type namespace struct {
	name string
	opts NamespaceOptions
}

// Counters serves the counter API over the configured namespaces and runs
// the rollup workers. All methods are safe for concurrent use.
type Counters struct {
	store   counter.EventStore
	opts    Options
	now     func() time.Time
	log     *slog.Logger
	ns      map[string]*namespace
	mem     memCounts
	cache   *cache[counter.Checkpoint]
	tails   *cache[tail]
	edges   edges
	queues  []*queue
	metrics *metrics
	tracer  trace.Tracer // nil: no spans

	closed    atomic.Bool
	closeOnce sync.Once
	// runMu guards stop and the workers' start against Close.
	runMu   sync.Mutex
	stop    context.CancelFunc
	workers sync.WaitGroup
}

// New validates opts and returns Counters; Run runs its rollup workers and
// Close drains them.
func New(opts Options) (*Counters, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &Counters{
		store:  opts.Store,
		opts:   opts,
		now:    opts.Now,
		log:    opts.Logger.With("component", "counter/global"),
		ns:     make(map[string]*namespace, len(opts.Namespaces)),
		mem:    memCounts{m: make(map[key]int64)},
		cache:  newCache(opts.MaxCached, func(cur, next counter.Checkpoint) bool { return !cur.At.After(next.At) }),
		tails:  newCache(opts.MaxCached, newerTail),
		tracer: tracing.Tracer(opts.TracerProvider, "github.com/tollgate/tollgate/counter/global"),
	}
	for name, n := range opts.Namespaces {
		c.ns[name] = &namespace{name: name, opts: n}
	}
	c.queues = make([]*queue, opts.Queues)
	for i := range c.queues {
		c.queues[i] = newQueue(opts.MaxQueued)
	}
	c.metrics = newMetrics(opts.Registerer, c.queueDepth)
	return c, nil
}

// Run runs the rollup workers, one per queue, until ctx ends or Close is
// called. Rollups triggered without Run wait in their queues (bounded by
// MaxQueued) and are done by Close.
func (c *Counters) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.runMu.Lock()
	if c.closed.Load() {
		c.runMu.Unlock()
		return nil
	}
	c.stop = cancel
	c.workers.Add(len(c.queues))
	c.runMu.Unlock()
	for _, q := range c.queues {
		go func() {
			defer c.workers.Done()
			c.work(ctx, q)
		}()
	}
	c.workers.Wait()
	return nil
}

// AddCount adds delta to the counter. For Eventual and Accurate namespaces
// the add is durable when AddCount returns nil, and a retry with the same
// token counts once; on error nothing is remembered about the token, so the
// caller retries with it. BestEffort ignores the token.
func (c *Counters) AddCount(ctx context.Context, ns, name string, delta int64, tok IdempotencyToken) error {
	_, err := c.add(ctx, opAdd, ns, name, delta, tok, false)
	return err
}

// AddAndGetCount adds like AddCount and returns the count after the add.
// Accurate and BestEffort counts include the add; an Eventual count is the
// last rollup and may not include it yet.
func (c *Counters) AddAndGetCount(ctx context.Context, ns, name string, delta int64, tok IdempotencyToken) (int64, error) {
	return c.add(ctx, opAddAndGet, ns, name, delta, tok, true)
}

// add implements AddCount and AddAndGetCount.
func (c *Counters) add(ctx context.Context, op int, nsName, name string, delta int64, tok IdempotencyToken, get bool) (int64, error) {
	start := c.now()
	n, err := c.namespace(nsName)
	if err != nil {
		return 0, err
	}
	defer c.observe(n.opts.Type, op, start)
	k := key{nsName, name}
	if err := c.validate(n, name, tok, start); err != nil {
		return 0, err
	}
	if n.opts.Type == BestEffort {
		count, ok := c.mem.add(k, delta)
		if !ok {
			return 0, overflow(delta, count, name)
		}
		return count, nil
	}
	h := k.hash()
	base, _, err := c.overflowBase(ctx, n, k, h, abs(delta))
	if err != nil {
		return 0, err
	}
	after, ok := addChecked(base, delta)
	if !ok {
		return 0, overflow(delta, base, name)
	}
	ev := counter.Event{Namespace: nsName, Counter: name, Time: tok.GenerationTime, ID: tok.Token, Delta: delta}
	if err := c.appendEvents(ctx, n, start, []counter.Event{ev}); err != nil {
		return 0, fmt.Errorf("counter/global: cannot add to %q/%q: %w", nsName, name, err)
	}
	c.noteLarge(k, abs(delta), after, tok.GenerationTime)
	c.trigger(n, k, h)
	if !get {
		return 0, nil
	}
	if n.opts.Type == Eventual {
		cp, err := c.checkpoint(ctx, k, h)
		return cp.Count, err
	}
	return c.accurateCount(ctx, n, k, h)
}

// appendEvents appends events and counts an append slower than the
// namespace's clock skew (a rollup may have closed its window meanwhile).
func (c *Counters) appendEvents(ctx context.Context, n *namespace, start time.Time, events []counter.Event) error {
	if err := c.store.Append(ctx, events); err != nil {
		return err
	}
	if c.now().Sub(start) > n.opts.ClockSkew {
		c.metrics.slowAppends.Inc()
		c.log.Warn("append slower than clock_skew; a concurrent rollup may miss it", "namespace", n.name, "events", len(events))
	}
	return nil
}

// GetCount returns the counter's count: for Eventual the last rollup (and it
// requests a new rollup), for Accurate the last rollup plus every event after
// it, for BestEffort the in-memory count.
func (c *Counters) GetCount(ctx context.Context, nsName, name string) (int64, error) {
	start := c.now()
	n, err := c.namespace(nsName)
	if err != nil {
		return 0, err
	}
	defer c.observe(n.opts.Type, opGet, start)
	if err := validName(name); err != nil {
		return 0, err
	}
	k := key{nsName, name}
	switch n.opts.Type {
	case BestEffort:
		return c.mem.get(k), nil
	case Eventual:
		h := k.hash()
		cp, err := c.checkpoint(ctx, k, h)
		if err != nil {
			return 0, err
		}
		c.trigger(n, k, h)
		return cp.Count, nil
	}
	return c.accurateCount(ctx, n, k, k.hash())
}

// ClearCount resets the counter to 0. For Eventual and Accurate namespaces
// the clear is an event ordered by the token's generation time: adds with an
// earlier time (or the same time and a smaller token) no longer count.
func (c *Counters) ClearCount(ctx context.Context, nsName, name string, tok IdempotencyToken) error {
	start := c.now()
	n, err := c.namespace(nsName)
	if err != nil {
		return err
	}
	defer c.observe(n.opts.Type, opClear, start)
	if err := c.validate(n, name, tok, start); err != nil {
		return err
	}
	k := key{nsName, name}
	if n.opts.Type == BestEffort {
		c.mem.clear(k)
		return nil
	}
	ev := counter.Event{Namespace: nsName, Counter: name, Time: tok.GenerationTime, ID: tok.Token, Clear: true}
	if err := c.appendEvents(ctx, n, start, []counter.Event{ev}); err != nil {
		return fmt.Errorf("counter/global: cannot clear %q/%q: %w", nsName, name, err)
	}
	c.trigger(n, k, k.hash())
	return nil
}

// Sum returns the sum of the counter's adds with from <= time < to (clears
// ignored), for usage metering. Only Eventual and Accurate namespaces keep
// events; events older than the namespace's Retention may be gone.
func (c *Counters) Sum(ctx context.Context, nsName, name string, from, to time.Time) (int64, error) {
	start := c.now()
	n, err := c.namespace(nsName)
	if err != nil {
		return 0, err
	}
	defer c.observe(n.opts.Type, opSum, start)
	if err := validName(name); err != nil {
		return 0, err
	}
	if n.opts.Type == BestEffort {
		return 0, invalid("namespace %q is best_effort and keeps no events (use an eventual or accurate namespace for metering)", nsName)
	}
	sum, err := c.store.Sum(ctx, nsName, name, from, to)
	if err != nil {
		return 0, fmt.Errorf("counter/global: cannot sum %q/%q: %w", nsName, name, err)
	}
	return sum, nil
}

// namespace returns the configured namespace, or an error when it is not
// configured or Counters is closed.
func (c *Counters) namespace(name string) (*namespace, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	n, ok := c.ns[name]
	if !ok {
		return nil, unknownNamespace(name)
	}
	return n, nil
}

// validate checks a counter name and, for the durable types, the token
// against the namespace's time window at now.
func (c *Counters) validate(n *namespace, name string, tok IdempotencyToken, now time.Time) error {
	if err := validName(name); err != nil {
		return err
	}
	if n.opts.Type == BestEffort {
		return nil
	}
	switch {
	case tok.Token == "":
		return invalid("idempotency token is empty (send a unique token per operation and reuse it on retries)")
	case len(tok.Token) > MaxNameLen:
		return invalid("idempotency token is %d bytes, longer than %d (use a shorter token, such as a UUID)", len(tok.Token), MaxNameLen)
	case tok.GenerationTime.IsZero():
		return invalid("idempotency token generation time is missing (send the time the token was created)")
	}
	if age := now.Sub(tok.GenerationTime); age > n.opts.AcceptLimit {
		return invalid("event time %s is %v old, older than namespace %q's accept_limit %v (retry within accept_limit, or send a new token for a new operation)",
			tok.GenerationTime.UTC().Format(time.RFC3339Nano), age, n.name, n.opts.AcceptLimit)
	}
	if ahead := tok.GenerationTime.Sub(now); ahead > n.opts.FutureLimit {
		return invalid("event time %s is %v in the future, beyond namespace %q's future_limit %v (check the client's clock)",
			tok.GenerationTime.UTC().Format(time.RFC3339Nano), ahead, n.name, n.opts.FutureLimit)
	}
	return nil
}

// validName checks a counter name.
func validName(name string) error {
	if name == "" {
		return invalid("counter name is empty (send a name of 1 to %d bytes)", MaxNameLen)
	}
	if len(name) > MaxNameLen {
		return invalid("counter name is %d bytes, longer than %d (use a shorter name)", len(name), MaxNameLen)
	}
	return nil
}

// observe records the duration of an API call.
func (c *Counters) observe(t Type, op int, start time.Time) {
	c.metrics.api[t][op].Observe(c.now().Sub(start).Seconds())
}

// addChecked returns a + b and whether it did not overflow.
func addChecked(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// fold returns the count after agg given the count before it. The sum wraps
// like the stores' sums: adds are refused when they would take the live count
// out of the int64 range, so a count in range is exact even when a partial
// sum over a range of events overflowed.
func fold(before int64, agg counter.Aggregate) int64 {
	if agg.Cleared {
		return agg.Sum
	}
	return before + agg.Sum
}

// Close stops the rollup workers after one last rollup of the queued counters
// (bounded by DrainTimeout). Later calls to Counters fail with ErrClosed.
// It does not close the store. It is safe to call more than once.
func (c *Counters) Close() error {
	c.closeOnce.Do(func() {
		c.runMu.Lock()
		c.closed.Store(true)
		if c.stop != nil {
			c.stop()
		}
		c.runMu.Unlock()
		c.workers.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.DrainTimeout)
		defer cancel()
		c.drain(ctx)
	})
	return nil
}

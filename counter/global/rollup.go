package global

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/tracing"
)

// queue is one rollup queue: a set of counters (so repeated requests
// coalesce), each with the time its rollup is due, ordered by that time.
type queue struct {
	max int

	mu    sync.Mutex
	items dueHeap
	in    map[key]*namespace
}

// dueItem is a queued counter.
type dueItem struct {
	due time.Time
	k   key
}

// dueHeap orders queued counters by due time.
type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// newQueue returns an empty queue holding at most max counters.
func newQueue(max int) *queue {
	return &queue{max: max, in: make(map[key]*namespace)}
}

// push queues k due at due unless it is queued already; it reports false
// when the queue is full.
func (q *queue) push(n *namespace, k key, due time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.in[k]; ok {
		return true
	}
	if len(q.in) >= q.max {
		return false
	}
	q.in[k] = n
	heap.Push(&q.items, dueItem{due: due, k: k})
	return true
}

// popDue removes and returns up to max counters due at now (all queued
// counters when now is the zero time).
func (q *queue) popDue(now time.Time, max int, dst []queued) []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(dst) < max && len(q.items) > 0 && (now.IsZero() || !q.items[0].due.After(now)) {
		it := heap.Pop(&q.items).(dueItem)
		dst = append(dst, queued{n: q.in[it.k], k: it.k})
		delete(q.in, it.k)
	}
	return dst
}

// len returns the number of queued counters.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.in)
}

// queued is a counter taken from a queue.
type queued struct {
	n *namespace
	k key
}

// trigger requests a rollup of k after the namespace's coalesce window. It
// never blocks; a full queue drops the request.
func (c *Counters) trigger(n *namespace, k key, h uint64) {
	c.enqueue(n, k, h, c.now().Add(n.opts.CoalesceWindow))
}

// enqueue queues k due at due.
func (c *Counters) enqueue(n *namespace, k key, h uint64, due time.Time) {
	if !c.queues[h%uint64(len(c.queues))].push(n, k, due) {
		c.metrics.dropped.Inc()
	}
}

// queueDepth returns the number of queued counters.
func (c *Counters) queueDepth() float64 {
	n := 0
	for _, q := range c.queues {
		n += q.len()
	}
	return float64(n)
}

// work rolls up the due counters of q every PollInterval until ctx is done.
func (c *Counters) work(ctx context.Context, q *queue) {
	t := time.NewTicker(c.opts.PollInterval)
	defer t.Stop()
	batch := make([]queued, 0, c.opts.BatchSize)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			batch = q.popDue(c.now(), c.opts.BatchSize, batch[:0])
			if len(batch) == 0 {
				break
			}
			c.rollupBatch(ctx, batch)
		}
	}
}

// rollupBatch rolls up the counters of batch in parallel.
func (c *Counters) rollupBatch(ctx context.Context, batch []queued) {
	var wg sync.WaitGroup
	for _, it := range batch {
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, c.opts.RollupTimeout)
			defer cancel()
			if _, err := c.rollup(rctx, it.n, it.k, it.k.hash()); err != nil && ctx.Err() == nil {
				c.log.Error("rollup failed", "namespace", it.k.ns, "err", err)
			}
		})
	}
	wg.Wait()
}

// drain rolls up every queued counter once, due or not. Counters requeued by
// these rollups stay queued.
func (c *Counters) drain(ctx context.Context) {
	for _, q := range c.queues {
		all := q.popDue(time.Time{}, math.MaxInt, nil)
		for len(all) > 0 && ctx.Err() == nil {
			n := min(len(all), c.opts.BatchSize)
			c.rollupBatch(ctx, all[:n])
			all = all[n:]
		}
	}
}

// Rollup rolls the counter up now and returns its new checkpoint: it folds the
// events in (checkpoint.At, now - AcceptLimit - ClockSkew] into the checkpoint
// and saves it. The workers call it for queued counters; it is exported for
// tools and tests. Concurrent rollups of one counter, in one process or many,
// agree because the window is immutable.
func (c *Counters) Rollup(ctx context.Context, nsName, name string) (counter.Checkpoint, error) {
	n, err := c.namespace(nsName)
	if err != nil {
		return counter.Checkpoint{}, err
	}
	if err := validName(name); err != nil {
		return counter.Checkpoint{}, err
	}
	if n.opts.Type == BestEffort {
		return counter.Checkpoint{}, invalid("namespace %q is best_effort and has no rollups", nsName)
	}
	k := key{nsName, name}
	return c.rollup(ctx, n, k, k.hash())
}

// rollup implements Rollup. The window's end is taken before the last write
// is read, so an event missing from that read is newer than the window
// (unless its append outlasted ClockSkew; see tollgate_counter_slow_appends_total).
func (c *Counters) rollup(ctx context.Context, n *namespace, k key, h uint64) (counter.Checkpoint, error) {
	var span trace.Span
	if c.tracer != nil {
		ctx, span = c.tracer.Start(ctx, "tollgate.counter.rollup",
			trace.WithAttributes(attribute.String(tracing.AttrNamespace, k.ns), attribute.String(tracing.AttrCounter, k.name)))
	}
	cp, err := c.rollupOnce(ctx, n, k, h)
	if span != nil {
		span.SetAttributes(attribute.Int64(attrCheckpointCount, cp.Count))
		tracing.End(span, err)
	}
	if err != nil {
		c.metrics.rollupsFailed.Inc()
		return cp, fmt.Errorf("counter/global: cannot roll up %q/%q: %w", k.ns, k.name, err)
	}
	c.metrics.rollupsOK.Inc()
	return cp, nil
}

// rollupOnce does the work of rollup.
func (c *Counters) rollupOnce(ctx context.Context, n *namespace, k key, h uint64) (counter.Checkpoint, error) {
	now := c.now()
	end := now.Add(-n.opts.AcceptLimit - n.opts.ClockSkew)
	cp, err := c.store.Checkpoint(ctx, k.ns, k.name)
	if err != nil {
		return cp, err
	}
	cp = c.cache.put(k, h, cp)
	last, err := c.store.LastWrite(ctx, k.ns, k.name)
	if err != nil {
		return cp, err
	}
	if !end.After(cp.At) {
		c.requeue(n, k, h, now, last, cp.At)
		return cp, nil
	}
	if !last.After(cp.At) {
		// No events after the checkpoint: advance it in memory only, which
		// keeps Accurate reads short without a write per read.
		return c.cache.put(k, h, counter.Checkpoint{Count: cp.Count, At: end}), nil
	}
	agg, err := c.store.Aggregate(ctx, k.ns, k.name, cp.At, end)
	if err != nil {
		return cp, err
	}
	next := counter.Checkpoint{Count: fold(cp.Count, agg), At: end}
	if err := c.store.SaveCheckpoint(ctx, k.ns, k.name, next); err != nil {
		return cp, err
	}
	next = c.cache.put(k, h, next)
	if c.requeue(n, k, h, now, last, next.At) {
		return next, nil
	}
	c.metrics.rollupLag.Observe(now.Sub(last).Seconds())
	return next, nil
}

// attrCheckpointCount is the count of a rollup's checkpoint, on its span.
const attrCheckpointCount = "tollgate.counter.checkpoint_count"

// requeue keeps a counter whose last write is after its checkpoint in
// circulation: it is due again after the coalesce window, or as soon as the
// window can cover the last write if that is sooner. It reports whether it
// queued the counter.
func (c *Counters) requeue(n *namespace, k key, h uint64, now, last, at time.Time) bool {
	if !last.After(at) {
		return false
	}
	due := now.Add(n.opts.CoalesceWindow)
	if covered := last.Add(n.opts.AcceptLimit + n.opts.ClockSkew); covered.Before(due) {
		due = covered
	}
	c.enqueue(n, k, h, due)
	return true
}

// checkpoint returns the cached checkpoint of k, loading the stored one on a
// miss.
func (c *Counters) checkpoint(ctx context.Context, k key, h uint64) (counter.Checkpoint, error) {
	if cp, ok := c.cache.get(k, h); ok {
		return cp, nil
	}
	cp, err := c.store.Checkpoint(ctx, k.ns, k.name)
	if err != nil {
		return cp, fmt.Errorf("counter/global: cannot read checkpoint of %q/%q: %w", k.ns, k.name, err)
	}
	return c.cache.put(k, h, cp), nil
}

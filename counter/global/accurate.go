package global

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// tail is what an Accurate read remembers of a counter, so that the next
// read scans only the events that may have arrived since: the count of every
// event with Time <= sealed, and the store's LateWrites read before the scan
// that counted them.
//
// sealed lags the read by min(counter.LateAfter, AcceptLimit) + ClockSkew. An
// event appended after the read, on time, has a later Time (ClockSkew covers
// clock differences and the append's own duration, as for rollups); a late
// one changes LateWrites, which sends the next read back to the checkpoint.
type tail struct {
	count  int64
	sealed time.Time
	late   int64
	// based is when the read that started from the checkpoint ran; after
	// MaxReadGap a read starts from the checkpoint again.
	based time.Time
}

// newerTail reports whether next may replace cur: it sealed no earlier.
func newerTail(cur, next tail) bool { return !cur.sealed.After(next.sealed) }

// Accurate read paths, labelled in tollgate_counter_accurate_reads_total.
const (
	readIncremental = iota
	readFull
	numReadPaths
)

var readPathNames = [numReadPaths]string{"incremental", "full"}

// accurateCount returns the counter's count: its cached tail plus the events
// after it when no late write happened since, else the checkpoint plus the
// events after it.
func (c *Counters) accurateCount(ctx context.Context, n *namespace, k key, h uint64) (int64, error) {
	now := c.now()
	seal := now.Add(-min(counter.LateAfter, n.opts.AcceptLimit) - n.opts.ClockSkew)
	end := now.Add(n.opts.FutureLimit)
	if t, ok := c.tails.get(k, h); ok && now.Sub(t.based) <= n.opts.MaxReadGap {
		count, ok, err := c.readTail(ctx, k, h, t, latest(t.sealed, seal), end)
		if err != nil {
			return 0, fmt.Errorf("counter/global: cannot read %q/%q: %w", k.ns, k.name, err)
		}
		if ok {
			c.metrics.accurateReads[readIncremental].Inc()
			c.trigger(n, k, h)
			return count, nil
		}
	}
	cp, err := c.checkpoint(ctx, k, h)
	if err != nil {
		return 0, err
	}
	if now.Sub(cp.At) > n.opts.MaxReadGap {
		if cp, err = c.rollup(ctx, n, k, h); err != nil {
			return 0, err
		}
	}
	// Read before the scan: a late event counted in it is in the scan.
	late, err := c.store.LateWrites(ctx, k.ns, k.name)
	if err != nil {
		return 0, fmt.Errorf("counter/global: cannot read %q/%q: %w", k.ns, k.name, err)
	}
	cut := latest(cp.At, seal)
	head, rest, err := c.store.AggregateSplit(ctx, k.ns, k.name, cp.At, cut, end)
	if err != nil {
		return 0, fmt.Errorf("counter/global: cannot read %q/%q: %w", k.ns, k.name, err)
	}
	sealedCount := fold(cp.Count, head)
	c.tails.put(k, h, tail{count: sealedCount, sealed: cut, late: late, based: now})
	c.metrics.accurateReads[readFull].Inc()
	c.trigger(n, k, h)
	return fold(sealedCount, rest), nil
}

// readTail reads the events after t.sealed and the counter's LateWrites
// concurrently. When no late write happened since t, it caches the tail
// sealed at cut and returns the count with ok; else ok is false.
func (c *Counters) readTail(ctx context.Context, k key, h uint64, t tail, cut, end time.Time) (count int64, ok bool, err error) {
	type lateResult struct {
		n   int64
		err error
	}
	lateCh := make(chan lateResult, 1)
	go func() {
		n, err := c.store.LateWrites(ctx, k.ns, k.name)
		lateCh <- lateResult{n, err}
	}()
	head, rest, err := c.store.AggregateSplit(ctx, k.ns, k.name, t.sealed, cut, end)
	late := <-lateCh
	if err != nil {
		return 0, false, err
	}
	if late.err != nil {
		return 0, false, late.err
	}
	if late.n != t.late {
		return 0, false, nil
	}
	sealedCount := fold(t.count, head)
	c.tails.put(k, h, tail{count: sealedCount, sealed: cut, late: t.late, based: t.based})
	return fold(sealedCount, rest), true, nil
}

// latest returns the later of a and b.
func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

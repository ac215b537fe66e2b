package global

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// tail is what an Accurate read remembers of a counter, so that the next
// read scans only the events that may have arrived since: the count of every
// event with Time <= sealed, and the store's LateWrites read before the scan
// that counted them.
//
// sealed lags the read by LateAfter + ClockSkew. An event that becomes
// durable after the read on time, within LateAfter of its Time by its
// store's clock, has a later Time (ClockSkew covers the clock differences
// between processes); a late one changes LateWrites, which sends the next
// read back to the checkpoint.
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
	seal := now.Add(-n.opts.LateAfter - n.opts.ClockSkew)
	end := now.Add(n.opts.FutureLimit)
	if t, ok := c.tails.get(k, h); ok && now.Sub(t.based) <= n.opts.MaxReadGap {
		cut := latest(t.sealed, seal)
		head, rest, late, err := c.readTail(ctx, k, t.sealed, cut, end)
		if err != nil {
			return 0, fmt.Errorf("counter/global: cannot read %q/%q: %w", k.ns, k.name, err)
		}
		if late == t.late {
			return c.sealed(n, k, h, readIncremental, t.count, head, rest, tail{sealed: cut, late: late, based: t.based}), nil
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
	return c.sealed(n, k, h, readFull, cp.Count, head, rest, tail{sealed: cut, late: late, based: now}), nil
}

// readTail folds the counter's events in (from, end] split at cut, and reads
// its LateWrites concurrently.
func (c *Counters) readTail(ctx context.Context, k key, from, cut, end time.Time) (head, rest counter.Aggregate, late int64, err error) {
	type lateResult struct {
		n   int64
		err error
	}
	lateCh := make(chan lateResult, 1)
	go func() {
		n, err := c.store.LateWrites(ctx, k.ns, k.name)
		lateCh <- lateResult{n, err}
	}()
	head, rest, err = c.store.AggregateSplit(ctx, k.ns, k.name, from, cut, end)
	lr := <-lateCh
	return head, rest, lr.n, errors.Join(err, lr.err)
}

// sealed finishes an Accurate read of path from the count before head: it
// caches next with the count through head, counts the read, keeps the counter
// in circulation and returns the count through rest.
func (c *Counters) sealed(n *namespace, k key, h uint64, path int, before int64, head, rest counter.Aggregate, next tail) int64 {
	next.count = fold(before, head)
	c.tails.put(k, h, next)
	c.metrics.accurateReads[path].Inc()
	c.trigger(n, k, h)
	return fold(next.count, rest)
}

// latest returns the later of a and b.
func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

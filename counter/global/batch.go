package global

// This file is BatchAdd: many adds, the durable ones in one store append.

import (
	"context"
	"fmt"

	"github.com/tollgate/tollgate/counter"
)

// BatchAdd adds every request, durable ones in one store append. It checks
// every request first and adds nothing when one is invalid; the error names
// the request's index. On a store error nothing is remembered about the
// tokens and the caller retries the whole batch.
func (c *Counters) BatchAdd(ctx context.Context, reqs []AddRequest) error {
	start := c.now()
	defer c.observe(0, opBatchAdd, start)
	if c.closed.Load() {
		return ErrClosed
	}
	var events []counter.Event
	var slowest *namespace
	// Each counter's adds in the batch, in absolute value, pick the base
	// they are checked against (see overflowBase).
	absSums := make(map[key]uint64, len(reqs))
	for i := range reqs {
		k := key{reqs[i].Namespace, reqs[i].Counter}
		s := absSums[k] + abs(reqs[i].Delta)
		if s < absSums[k] {
			s = ^uint64(0)
		}
		absSums[k] = s
	}
	pending := make(map[key]int64, len(reqs))
	for i := range reqs {
		r := &reqs[i]
		n, err := c.namespace(r.Namespace)
		if err != nil {
			return fmt.Errorf("counter/global: request %d: %w", i, err)
		}
		if err := c.validate(n, r.Counter, r.Token, start); err != nil {
			return fmt.Errorf("counter/global: request %d: %w", i, err)
		}
		k := key{r.Namespace, r.Counter}
		base, seen := pending[k]
		if !seen {
			if n.opts.Type == BestEffort {
				base = c.mem.get(k)
			} else if base, _, err = c.overflowBase(ctx, n, k, k.hash(), absSums[k]); err != nil {
				return fmt.Errorf("counter/global: request %d: %w", i, err)
			}
		}
		sum, ok := addChecked(base, r.Delta)
		if !ok {
			return fmt.Errorf("counter/global: request %d: %w", i, overflow(r.Delta, base, r.Counter))
		}
		pending[k] = sum
		if n.opts.Type != BestEffort {
			events = append(events, counter.Event{Namespace: r.Namespace, Counter: r.Counter, Time: r.Token.GenerationTime, ID: r.Token.Token, Delta: r.Delta})
			if slowest == nil || n.opts.ClockSkew < slowest.opts.ClockSkew {
				slowest = n
			}
		}
	}
	if len(events) > 0 {
		if err := c.appendEvents(ctx, slowest, start, events); err != nil {
			return fmt.Errorf("counter/global: cannot add %d events: %w", len(events), err)
		}
	}
	for i := range reqs {
		r := &reqs[i]
		n := c.ns[r.Namespace]
		k := key{r.Namespace, r.Counter}
		if n.opts.Type == BestEffort {
			// Checked above; a concurrent add may still overflow it.
			if count, ok := c.mem.add(k, r.Delta); !ok {
				return fmt.Errorf("counter/global: request %d: %w", i, overflow(r.Delta, count, r.Counter))
			}
			continue
		}
		c.noteLarge(k, absSums[k], pending[k], r.Token.GenerationTime)
		c.trigger(n, k, k.hash())
	}
	return nil
}

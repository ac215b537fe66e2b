package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/tracing"
)

// Run ships spooled events until ctx is done or Close is called, then tries
// one last flush bounded by Options.CloseTimeout. Failed shipments are
// retried with exponential backoff; events stay spooled until the Sink
// acknowledges them. Call Run once.
func (s *Spool) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("metering/spool: Run called twice (hint: one shipper per spool)")
	}
	defer close(s.runDone)
	tick := time.NewTicker(s.opts.FlushInterval)
	defer tick.Stop()
	backoff := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return s.finalFlush()
		case <-s.stop:
			return s.finalFlush()
		case <-tick.C:
		case <-s.kick:
		}
		for {
			err := s.Flush(ctx)
			if errors.Is(err, ErrFailed) {
				return err
			}
			if err == nil || ctx.Err() != nil || errors.Is(err, ErrClosed) {
				backoff = 0
				break
			}
			backoff = min(max(2*backoff, s.opts.RetryMinBackoff), s.opts.RetryMaxBackoff)
			s.log.Warn("cannot ship metering events; retrying", "depth", s.depth.Load(), "backoff", backoff.String(), "err", err)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return s.finalFlush()
			case <-s.stop:
				t.Stop()
				return s.finalFlush()
			case <-t.C:
			}
		}
	}
}

// finalFlush ships what it can before the shipper stops. A spool that Close
// already closed was flushed by Close itself (Close raced ahead of a Run
// that had not started yet), so that is not an error.
func (s *Spool) finalFlush() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.CloseTimeout)
	defer cancel()
	if err := s.Flush(ctx); err != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("metering/spool: %d events stay spooled for the next start: %w", s.depth.Load(), err)
	}
	return nil
}

// Flush ships every event appended before the call, in batches of
// Options.BatchSize, and returns the first error (the failed batch stays
// spooled).
func (s *Spool) Flush(ctx context.Context) error {
	s.shipMu.Lock()
	defer s.shipMu.Unlock()
	if s.db == nil {
		return ErrClosed
	}
	s.mu.Lock()
	// Every sequence below bound is committed: ship only those, so the
	// range deletion never passes an append still being written. An append
	// that failed left inflight after failing the spool.
	bound := s.next
	for seq := range s.inflight {
		bound = min(bound, seq)
	}
	s.mu.Unlock()
	if err := s.fail.Err(); err != nil {
		return err
	}
	for s.head < bound {
		done, err := s.shipBatch(ctx, bound)
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	s.updateLag()
	return nil
}

// shipBatch ships up to BatchSize events from head below bound; done
// reports that none were left.
func (s *Spool) shipBatch(ctx context.Context, bound uint64) (done bool, err error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: keyOf(s.head), UpperBound: keyOf(bound)})
	if err != nil {
		return false, fmt.Errorf("metering/spool: cannot read: %w", err)
	}
	events := make([]counter.Event, 0, min(s.opts.BatchSize, int(min(bound-s.head, math.MaxInt32))))
	var last uint64
	oldest := int64(0)
	for ok := it.First(); ok && len(events) < s.opts.BatchSize; ok = it.Next() {
		ev, at, err := decodeValue(it.Value())
		if err != nil {
			_ = it.Close()
			return false, err
		}
		if len(events) == 0 {
			oldest = at
		}
		events = append(events, ev)
		last = binary.BigEndian.Uint64(it.Key())
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return false, fmt.Errorf("metering/spool: cannot read: %w", err)
	}
	if len(events) == 0 {
		s.head = bound
		return true, nil
	}
	s.metrics.lag.Set(max(0, float64(s.opts.Now().UnixNano()-oldest)/1e9))
	err = s.ship(ctx, events)
	if err != nil {
		s.metrics.shipErrors.Inc()
		return false, fmt.Errorf("metering/spool: cannot ship %d events: %w", len(events), err)
	}
	if s.opts.OnAck != nil {
		s.opts.OnAck(events)
	}
	// A lost deletion only re-ships acknowledged events, which the Sink
	// ignores by identity, so it need not be synced.
	del := s.db.NewBatch()
	if err := del.DeleteRange(keyOf(s.head), keyOf(last+1), nil); err != nil {
		del.Close()
		return false, fmt.Errorf("metering/spool: cannot delete %d shipped events: %w", len(events), err)
	}
	if err := s.fail.Commit(s.db, del, pebble.NoSync); err != nil {
		return false, fmt.Errorf("metering/spool: cannot delete %d shipped events: %w", len(events), err)
	}
	s.head = last + 1
	s.metrics.shipped.Add(float64(len(events)))
	s.metrics.depth.Set(float64(s.depth.Add(-int64(len(events)))))
	return false, nil
}

// ship hands events to the Sink within ShipTimeout, in a span when
// tracing is on.
func (s *Spool) ship(ctx context.Context, events []counter.Event) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ShipTimeout)
	defer cancel()
	if s.tracer == nil {
		return s.opts.Sink.Ship(ctx, events)
	}
	ctx, span := s.tracer.Start(ctx, "tollgate.metering.spool.ship", trace.WithAttributes(attribute.Int(tracing.AttrEvents, len(events))))
	err := s.opts.Sink.Ship(ctx, events)
	tracing.End(span, err)
	return err
}

// updateLag sets the lag gauge to the age of the oldest spooled event.
func (s *Spool) updateLag() {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: keyOf(s.head)})
	if err != nil {
		return
	}
	defer it.Close()
	if !it.First() {
		s.metrics.lag.Set(0)
		return
	}
	if _, at, err := decodeValue(it.Value()); err == nil {
		s.metrics.lag.Set(max(0, float64(s.opts.Now().UnixNano()-at)/1e9))
	}
}

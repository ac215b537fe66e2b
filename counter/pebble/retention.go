package pebble

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Run deletes expired events every Options.RetentionInterval until ctx is
// done or the store is closed, then returns nil. Failed sweeps are logged and
// retried at the next interval. When the store fails (see Failed), Run
// returns the failure at once: the process should exit.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case <-s.fail.Done():
			return s.Failed()
		case <-t.C:
			n, err := s.DeleteExpired(ctx)
			if err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
				s.log.Error("retention sweep failed", "err", err)
				continue
			}
			s.log.Debug("retention sweep done", "counters", n)
		}
	}
}

// DeleteExpired deletes, for every counter with a checkpoint, the events with
// Time <= min(now - retention, checkpoint.At), and returns how many counters
// lost events. Events of counters without a checkpoint are kept. Run calls it;
// it is exported for tools and tests. Calls are serialized.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return 0, err
	}
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	now := s.opts.Now()
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{
		LowerBound: []byte{spaceCheckpoint},
		UpperBound: []byte{spaceCheckpoint + 1},
	})
	if err != nil {
		return 0, fmt.Errorf("counter/pebble: cannot delete expired events: %w", err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if err := ctx.Err(); err != nil {
			return n, errors.Join(fmt.Errorf("counter/pebble: cannot delete expired events: %w", err), it.Close())
		}
		namespace, counterName, ok := decodeCounterKey(it.Key()[1:])
		v, err := it.ValueAndErr()
		if err == nil && (!ok || len(v) != checkpointValueLen) {
			err = fmt.Errorf("%w: checkpoint key %q", ErrCorrupt, it.Key())
		}
		if err != nil {
			return n, errors.Join(fmt.Errorf("counter/pebble: cannot delete expired events: %w", err), it.Close())
		}
		cutoff := now.Add(-s.opts.retention(namespace))
		if at := decodeTime(v); at.Before(cutoff) {
			cutoff = at
		}
		deleted, err := s.deleteThrough(namespace, counterName, cutoff)
		if err != nil {
			return n, errors.Join(fmt.Errorf("counter/pebble: cannot delete expired events of %q/%q: %w", namespace, counterName, err), it.Close())
		}
		if deleted {
			n++
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return n, fmt.Errorf("counter/pebble: cannot delete expired events: %w", err)
	}
	return n, nil
}

// deleteThrough deletes the counter's events with Time <= cutoff and raises
// its last-write floor to the last deleted Time, in one synced batch.
func (s *Store) deleteThrough(namespace, counterName string, cutoff time.Time) (bool, error) {
	end := eventKeyBound(namespace, counterName, cutoff.Add(time.Nanosecond))
	last, ok, err := s.lastEventTime(namespace, counterName, end)
	if err != nil || !ok {
		return false, err
	}
	floor, err := s.floor(namespace, counterName)
	if err != nil {
		return false, err
	}
	// commitBatch closes b: its write may outlive a failure.
	b := s.db.NewBatch()
	if err := b.DeleteRange(appendCounterKey(nil, spaceEvents, namespace, counterName), end, nil); err != nil {
		b.Close()
		return false, err
	}
	if last.After(floor) {
		if err := b.Set(appendCounterKey(nil, spaceLastWrite, namespace, counterName), appendTime(nil, last), nil); err != nil {
			b.Close()
			return false, err
		}
	}
	return true, s.commitBatch(b, pebble.Sync)
}

package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"
	"github.com/tollgate/tollgate/counter"
)

// Checkpoint returns the counter's stored checkpoint, or the zero Checkpoint.
func (s *Store) Checkpoint(ctx context.Context, namespace, counterName string) (counter.Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return counter.Checkpoint{}, fmt.Errorf("counter/pebble: cannot read checkpoint of %q/%q: %w", namespace, counterName, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return counter.Checkpoint{}, err
	}
	cp, err := s.checkpoint(appendCounterKey(nil, spaceCheckpoint, namespace, counterName))
	if err != nil {
		return counter.Checkpoint{}, fmt.Errorf("counter/pebble: cannot read checkpoint of %q/%q: %w", namespace, counterName, err)
	}
	return cp, nil
}

// checkpoint reads the checkpoint stored under key.
func (s *Store) checkpoint(key []byte) (counter.Checkpoint, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return counter.Checkpoint{}, nil
	}
	if err != nil {
		return counter.Checkpoint{}, err
	}
	defer closer.Close()
	if len(v) != checkpointValueLen {
		return counter.Checkpoint{}, fmt.Errorf("%w: checkpoint value of %d bytes, want %d", ErrCorrupt, len(v), checkpointValueLen)
	}
	return counter.Checkpoint{At: decodeTime(v), Count: int64(binary.BigEndian.Uint64(v[timeLen:]))}, nil
}

// SaveCheckpoint stores cp unless the stored checkpoint has a later At. Saves
// of one counter are serialized by a lock stripe, so the stored At never
// decreases. The write is not synced on its own: a crash may lose the latest
// checkpoints, which rollups recompute from the events (retention deletes
// events in a synced batch, which also makes every earlier checkpoint durable).
func (s *Store) SaveCheckpoint(ctx context.Context, namespace, counterName string, cp counter.Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("counter/pebble: cannot save checkpoint of %q/%q: %w", namespace, counterName, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return err
	}
	key := appendCounterKey(nil, spaceCheckpoint, namespace, counterName)
	l := &s.cpLocks[xxhash.Sum64(key)%stripes]
	l.Lock()
	defer l.Unlock()
	cur, err := s.checkpoint(key)
	if err != nil {
		return fmt.Errorf("counter/pebble: cannot save checkpoint of %q/%q: %w", namespace, counterName, err)
	}
	if cur.At.After(cp.At) {
		return nil
	}
	v := make([]byte, 0, checkpointValueLen)
	v = binary.BigEndian.AppendUint64(appendTime(v, cp.At), uint64(cp.Count))
	b := s.db.NewBatch()
	if err := b.Set(key, v, nil); err != nil {
		b.Close()
		return fmt.Errorf("counter/pebble: cannot save checkpoint of %q/%q: %w", namespace, counterName, err)
	}
	if err := s.commitBatch(b, pebble.NoSync); err != nil {
		return fmt.Errorf("counter/pebble: cannot save checkpoint of %q/%q: %w", namespace, counterName, err)
	}
	return nil
}

// LastWrite returns the greatest event Time appended for the counter. It is
// the Time of the counter's last event key (events sort by Time), or the
// floor recorded when retention deleted all of them, so it is exact and
// updated atomically with every Append at no write cost.
func (s *Store) LastWrite(ctx context.Context, namespace, counterName string) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, fmt.Errorf("counter/pebble: cannot read last write of %q/%q: %w", namespace, counterName, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return time.Time{}, err
	}
	before := s.fail.started()
	last, err := s.lastWrite(namespace, counterName)
	if err == nil {
		err = s.fail.settle(before)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("counter/pebble: cannot read last write of %q/%q: %w", namespace, counterName, err)
	}
	return last, nil
}

// lastWrite returns the max of the last event's Time and the stored floor.
func (s *Store) lastWrite(namespace, counterName string) (time.Time, error) {
	var last time.Time
	floor, err := s.floor(namespace, counterName)
	if err != nil {
		return last, err
	}
	if t, ok, err := s.lastEventTime(namespace, counterName, nil); err != nil {
		return last, err
	} else if ok && t.After(floor) {
		return t, nil
	}
	return floor, nil
}

// lastEventTime returns the Time of the counter's last event sorting before
// upper (nil: the counter's last event); ok is false when there is none.
func (s *Store) lastEventTime(namespace, counterName string, upper []byte) (t time.Time, ok bool, err error) {
	prefix := appendCounterKey(nil, spaceEvents, namespace, counterName)
	if upper == nil {
		upper = prefixEnd(prefix)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return t, false, err
	}
	if it.Last() {
		k := it.Key()
		if len(k) < len(prefix)+timeLen {
			return t, false, errors.Join(fmt.Errorf("%w: event key of %d bytes", ErrCorrupt, len(k)), it.Close())
		}
		t, ok = decodeTime(k[len(prefix):]), true
	}
	return t, ok, errors.Join(it.Error(), it.Close())
}

// floor returns the last-write floor retention recorded for the counter.
func (s *Store) floor(namespace, counterName string) (time.Time, error) {
	v, closer, err := s.db.Get(appendCounterKey(nil, spaceLastWrite, namespace, counterName))
	if errors.Is(err, pebble.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	defer closer.Close()
	if len(v) != timeLen {
		return time.Time{}, fmt.Errorf("%w: last-write value of %d bytes, want %d", ErrCorrupt, len(v), timeLen)
	}
	return decodeTime(v), nil
}

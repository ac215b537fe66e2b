package pebble

import (
	"encoding/binary"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tollgate/tollgate/counter"
)

// commit writes the events of a group commit's Appends in one batch,
// synced. A fatal commit error fails the store (see ErrFailed).
func (s *Store) commit(appends [][]counter.Event) error {
	if err := s.Failed(); err != nil {
		return err
	}
	// commitBatch closes b: its write may outlive a failure.
	b := s.db.NewBatch()
	for _, events := range appends {
		for i := range events {
			ev := &events[i]
			op := b.SetDeferred(counterKeyLen(ev.Namespace, ev.Counter)+timeLen+len(ev.ID), eventValueLen)
			k := appendCounterKey(op.Key[:0], spaceEvents, ev.Namespace, ev.Counter)
			k = appendTime(k, ev.Time)
			_ = append(k, ev.ID...)
			op.Value[0] = kindAdd
			if ev.Clear {
				op.Value[0] = kindClear
			}
			binary.BigEndian.PutUint64(op.Value[1:], uint64(ev.Delta))
			if err := op.Finish(); err != nil {
				b.Close()
				return err
			}
		}
	}
	return s.commitBatch(b, pebble.Sync)
}

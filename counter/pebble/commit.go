package pebble

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tollgate/tollgate/counter"
)

// appendReq is one Append call waiting for its commit.
type appendReq struct {
	events []counter.Event
	done   chan error
}

// reqPool recycles appendReqs; done is buffered so a committer never blocks.
var reqPool = sync.Pool{New: func() any { return &appendReq{done: make(chan error, 1)} }}

// commitLoop is one committer: it takes a waiting Append, adds every other
// waiting Append (up to MaxCommitEvents events) to the same Pebble batch,
// commits it with one fsync and tells every caller. With several committers,
// one fills a batch while another waits for its fsync. It returns when reqs
// is closed and drained.
func (s *Store) commitLoop(reqs <-chan *appendReq) {
	var group []*appendReq
	for first := range reqs {
		group = append(group[:0], first)
		n := len(first.events)
	fill:
		for n < s.opts.MaxCommitEvents {
			select {
			case r, ok := <-reqs:
				if !ok {
					break fill
				}
				group = append(group, r)
				n += len(r.events)
			default:
				break fill
			}
		}
		err := s.commit(group)
		for _, r := range group {
			r.done <- err
		}
		clear(group)
	}
}

// commit writes the events of group in one batch, synced. A fatal commit
// error marks the store failed (see ErrFailed).
func (s *Store) commit(group []*appendReq) (err error) {
	if s.failed.Load() {
		return ErrFailed
	}
	defer func() {
		if p := recover(); p != nil {
			fe, ok := p.(fatalError)
			if !ok {
				panic(p)
			}
			s.failed.Store(true)
			err = fmt.Errorf("%w: %w", ErrFailed, fe)
		}
	}()
	b := s.db.NewBatch()
	defer b.Close()
	for _, r := range group {
		for i := range r.events {
			ev := &r.events[i]
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
				return err
			}
		}
	}
	return s.db.Apply(b, pebble.Sync)
}

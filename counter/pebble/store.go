package pebble

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/groupcommit"
	"github.com/tollgate/tollgate/internal/pebblefail"
)

// ErrClosed is returned by every method of a closed Store except Close.
var ErrClosed = errors.New("counter/pebble: store is closed (open a new one)")

// ErrFailed marks the errors of a failed store (Store.Failed): a write to
// its write-ahead log failed. Pebble cannot tell which writes reached the
// disk then, and its memtable holds the failed batch, so the store refuses
// every call; restart the process to recover from the synced log.
var ErrFailed = errors.New("counter/pebble: store failed")

// ErrCorrupt marks a stored key or value that does not decode.
var ErrCorrupt = errors.New("counter/pebble: corrupt record")

// stripes is the number of locks serializing SaveCheckpoint per counter.
const stripes = 256

// ctxCheckEvery is how many events a scan folds between context checks.
const ctxCheckEvery = 1024

// Store is an embedded counter.EventStore on Pebble. All methods are safe for
// concurrent use.
type Store struct {
	db   *pebble.DB
	opts Options
	log  *slog.Logger

	// mu guards closed: methods hold it shared, Close exclusively.
	mu     sync.RWMutex
	closed bool
	done   chan struct{}
	// commits runs Append's group commits.
	commits *groupcommit.Group[counter.Event]
	// fail is set when a commit failed fatally (see ErrFailed), and counts
	// the commits in flight.
	fail failure

	cpLocks [stripes]sync.Mutex
	// sweepMu serializes DeleteExpired.
	sweepMu sync.Mutex

	// lateMu guards the LateWrites, which live in memory: Pebble's lock keeps
	// the store to one process, whose readers start afresh after a restart.
	// lateSeq numbers the late events; late holds the number of each
	// counter's last one, lateFloor the number when late was last emptied
	// (at maxLate entries), which LateWrites answers for counters not in it.
	// So a counter's LateWrites never decreases and grows with each late
	// event, in bounded memory.
	lateMu    sync.Mutex
	late      map[counterID]int64
	lateSeq   int64
	lateFloor int64
	maxLate   int
}

// maxLateCounters bounds the counters whose LateWrites a Store keeps apart.
const maxLateCounters = 100_000

// counterID identifies a counter in memory.
type counterID struct{ namespace, counter string }

// Open opens or creates the store in opts.Dir.
func Open(opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger.With("component", "counter/pebble")
	s := &Store{opts: opts, log: log, done: make(chan struct{}), late: make(map[counterID]int64), maxLate: maxLateCounters}
	s.fail.Init(s.failed)
	db, err := pebble.Open(opts.Dir, &pebble.Options{
		FS:                 opts.FS,
		Logger:             pebblefail.Logger{Log: log},
		EventListener:      s.fail.Listener(),
		CacheSize:          opts.CacheSize,
		MemTableSize:       opts.MemTableSize,
		FormatMajorVersion: pebble.FormatNewest,
	})
	if err != nil {
		return nil, fmt.Errorf("counter/pebble: cannot open %q: %w (check the directory exists, is writable and is not open in another process)", opts.Dir, err)
	}
	s.db = db
	s.commits = groupcommit.Start(opts.Committers, opts.MaxCommitEvents, s.commit)
	return s, nil
}

// Append makes events durable (synced to the write-ahead log) before it
// returns; all of them are written in one atomic batch. Concurrent calls are
// committed together (group commit): one batch and one fsync for all the
// calls waiting. ctx is checked before queueing; once queued, Append waits for
// the commit. Re-appending a stored identity overwrites it; with
// the same Delta and Clear that changes nothing. Once they are durable, the
// LateWrites of the counters of late events change.
func (s *Store) Append(ctx context.Context, events []counter.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("counter/pebble: cannot append %d events: %w", len(events), err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.commits.Submit(events); err != nil {
		return fmt.Errorf("counter/pebble: cannot append %d events: %w", len(events), err)
	}
	s.countLate(events, s.opts.Now())
	return nil
}

// LateAfter returns the namespace's Options.LateAfter.
func (s *Store) LateAfter(namespace string) time.Duration { return s.opts.LateAfter.Of(namespace) }

// countLate changes the LateWrites of each counter with an event that is
// late at now, when the events are durable.
func (s *Store) countLate(events []counter.Event, now time.Time) {
	for i := range events {
		if !events[i].Time.Before(now.Add(-s.LateAfter(events[i].Namespace))) {
			continue
		}
		s.lateMu.Lock()
		if len(s.late) >= s.maxLate {
			clear(s.late)
			s.lateFloor = s.lateSeq
		}
		s.lateSeq++
		s.late[counterID{events[i].Namespace, events[i].Counter}] = s.lateSeq
		s.lateMu.Unlock()
	}
}

// LateWrites returns the number of the counter's last late event made
// durable since the store was opened (see the Store fields).
func (s *Store) LateWrites(ctx context.Context, namespace, counterName string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("counter/pebble: cannot read late writes of %q/%q: %w", namespace, counterName, err)
	}
	if err := s.Failed(); err != nil {
		return 0, err
	}
	s.lateMu.Lock()
	defer s.lateMu.Unlock()
	if n, ok := s.late[counterID{namespace, counterName}]; ok {
		return n, nil
	}
	return s.lateFloor, nil
}

// Aggregate folds the counter's events with from < Time <= to, in (Time, ID)
// order.
func (s *Store) Aggregate(ctx context.Context, namespace, counterName string, from, to time.Time) (counter.Aggregate, error) {
	head, _, err := s.AggregateSplit(ctx, namespace, counterName, from, to, to)
	return head, err
}

// AggregateSplit folds the counter's events with from < Time <= to in one
// scan, into head up to cut and tail after it.
func (s *Store) AggregateSplit(ctx context.Context, namespace, counterName string, from, cut, to time.Time) (head, tail counter.Aggregate, err error) {
	if !to.After(from) {
		return head, tail, nil
	}
	err = s.scan(ctx, namespace, counterName, from.Add(time.Nanosecond), to.Add(time.Nanosecond), func(t time.Time, clear bool, delta int64) {
		if !t.After(cut) {
			head = head.Then(one(clear, delta))
		} else {
			tail = tail.Then(one(clear, delta))
		}
	})
	if err != nil {
		return head, tail, fmt.Errorf("counter/pebble: cannot aggregate %q/%q: %w", namespace, counterName, err)
	}
	return head, tail, nil
}

// one returns the fold of a single event.
func one(clear bool, delta int64) counter.Aggregate {
	if clear {
		return counter.Aggregate{Cleared: true, Events: 1}
	}
	return counter.Aggregate{Sum: delta, Events: 1}
}

// Sum returns the sum of the deltas of the counter's non-clear events with
// from <= Time < to.
func (s *Store) Sum(ctx context.Context, namespace, counterName string, from, to time.Time) (int64, error) {
	var sum int64
	if !to.After(from) {
		return 0, nil
	}
	err := s.scan(ctx, namespace, counterName, from, to, func(_ time.Time, clear bool, delta int64) {
		if !clear {
			sum += delta
		}
	})
	if err != nil {
		return 0, fmt.Errorf("counter/pebble: cannot sum %q/%q: %w", namespace, counterName, err)
	}
	return sum, nil
}

// scan calls fn for each event of the counter with lo <= Time < hi, in
// (Time, ID) order.
func (s *Store) scan(ctx context.Context, namespace, counterName string, lo, hi time.Time, fn func(t time.Time, clear bool, delta int64)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return err
	}
	before := s.fail.started()
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{
		LowerBound: eventKeyBound(namespace, counterName, lo),
		UpperBound: eventKeyBound(namespace, counterName, hi),
	})
	if err != nil {
		return err
	}
	timeAt := counterKeyLen(namespace, counterName)
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < timeAt+timeLen {
			return errors.Join(fmt.Errorf("%w: event key of %d bytes", ErrCorrupt, len(k)), it.Close())
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(err, it.Close())
		}
		if len(v) != eventValueLen {
			return errors.Join(fmt.Errorf("%w: event value of %d bytes, want %d", ErrCorrupt, len(v), eventValueLen), it.Close())
		}
		fn(decodeTime(k[timeAt:]), v[0] == kindClear, int64(binary.BigEndian.Uint64(v[1:])))
		if n++; n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return errors.Join(err, it.Close())
			}
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	return s.fail.settle(before)
}

// usable returns ErrClosed or the store's failure; callers hold mu.
func (s *Store) usable() error {
	if s.closed {
		return ErrClosed
	}
	return s.Failed()
}

// Close stops Run and closes the database. It is safe to call more than once;
// later calls return nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	close(s.done)
	s.commits.Close()
	if err := s.Failed(); err != nil {
		// Pebble's commit pipeline is broken; closing it could block.
		return err
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("counter/pebble: cannot close %q: %w", s.opts.Dir, err)
	}
	return nil
}

var _ counter.EventStore = (*Store)(nil)

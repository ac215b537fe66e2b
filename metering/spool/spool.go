package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/internal/pebblefail"
	"github.com/tollgate/tollgate/internal/tracing"
)

// Sink is the durable counter write the shipper hands events to. Ship must
// be idempotent by event identity (Namespace, Counter, Time, ID): the spool
// ships at least once, and re-ships a batch whose acknowledgement it did not
// see. counter.EventStore's Append satisfies it through an adapter.
type Sink interface {
	Ship(ctx context.Context, events []counter.Event) error
}

// ErrClosed is returned by Append and Flush after Close.
var ErrClosed = errors.New("metering/spool: spool is closed (hint: open a new one)")

// ErrFailed marks the errors of a failed spool (Spool.Failed): a write to
// its write-ahead log failed. Pebble cannot tell which writes reached the
// disk then, and its memtable holds the failed batch, so the spool refuses
// every Append and Flush and ships nothing more; restart the process to
// ship what the synced log holds.
var ErrFailed = errors.New("metering/spool: spool failed")

// Spool is a durable local queue of metering events with a shipper that
// moves them to a Sink. All methods are safe for concurrent use.
type Spool struct {
	db      *pebble.DB
	opts    Options
	log     *slog.Logger
	metrics *metrics
	tracer  trace.Tracer // nil: no spans

	// mu guards next, inflight and closed. Append holds it only to take
	// sequence numbers; closing waits for running appends through appends.
	mu       sync.Mutex
	next     uint64
	inflight map[uint64]struct{}
	closed   bool
	appends  sync.WaitGroup

	// shipMu serializes shipping; head is the lowest unshipped sequence.
	shipMu sync.Mutex
	head   uint64

	// fail is set when a write failed fatally (see ErrFailed).
	fail pebblefail.State

	depth     atomic.Int64
	kick      chan struct{}
	stop      chan struct{}
	running   atomic.Bool
	runDone   chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the spool in opts.Dir. Events left by an earlier
// process are shipped by Run.
func Open(opts Options) (*Spool, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("metering/spool: cannot register metrics: %w (hint: give each spool its own Registerer)", err)
	}
	s := &Spool{
		opts: opts, log: opts.Logger.With("component", "metering/spool"), metrics: m,
		tracer:   tracing.Tracer(opts.TracerProvider, "github.com/tollgate/tollgate/metering/spool"),
		inflight: map[uint64]struct{}{},
		kick:     make(chan struct{}, 1), stop: make(chan struct{}), runDone: make(chan struct{}),
	}
	s.fail.Init(s.failed)
	db, err := pebble.Open(opts.Dir, &pebble.Options{
		FS: opts.FS, Logger: pebblefail.Logger{Log: opts.Logger}, EventListener: s.fail.Listener(),
		FormatMajorVersion: pebble.FormatNewest,
	})
	if err != nil {
		return nil, fmt.Errorf("metering/spool: cannot open %q: %w (hint: check the directory is writable and not open in another process)", opts.Dir, err)
	}
	s.db = db
	if err := s.recover(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// recover finds the first and next sequence numbers and the depth.
func (s *Spool) recover() error {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("metering/spool: cannot read %q: %w", s.opts.Dir, err)
	}
	var n int64
	for ok := it.First(); ok; ok = it.Next() {
		if n == 0 {
			s.head = binary.BigEndian.Uint64(it.Key())
		}
		s.next = binary.BigEndian.Uint64(it.Key()) + 1
		n++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("metering/spool: cannot read %q: %w", s.opts.Dir, err)
	}
	if n == 0 {
		s.head, s.next = 0, 0
	}
	s.depth.Store(n)
	s.metrics.depth.Set(float64(n))
	return nil
}

// Append makes events durable in the spool (one batch, synced; concurrent
// appends share the fsync) before it returns. It refuses all the events,
// writing none, when one has a Time the spool cannot hold (see MinTime and
// MaxTime).
func (s *Spool) Append(ctx context.Context, events []counter.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("metering/spool: cannot append %d events: %w", len(events), err)
	}
	if err := checkTimes(events); err != nil {
		return fmt.Errorf("metering/spool: cannot append %d events: %w", len(events), err)
	}
	if err := s.fail.Err(); err != nil {
		return fmt.Errorf("metering/spool: cannot append %d events: %w", len(events), err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	seq := s.next
	s.next += uint64(len(events))
	s.inflight[seq] = struct{}{}
	s.appends.Add(1)
	s.mu.Unlock()
	defer s.appends.Done()

	err := s.write(seq, events)
	s.mu.Lock()
	delete(s.inflight, seq)
	s.mu.Unlock()
	if err != nil {
		s.metrics.appendErrors.Inc()
		return fmt.Errorf("metering/spool: cannot append %d events: %w", len(events), err)
	}
	s.metrics.appended.Add(float64(len(events)))
	if d := s.depth.Add(int64(len(events))); d >= int64(s.opts.BatchSize) {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	s.metrics.depth.Set(float64(s.depth.Load()))
	return nil
}

func (s *Spool) write(seq uint64, events []counter.Event) error {
	// Commit closes b: its write may outlive a failure.
	b := s.db.NewBatch()
	now := s.opts.Now().UnixNano()
	for i := range events {
		ev := &events[i]
		op := b.SetDeferred(keyLen, valueLen(ev))
		putKey(op.Key, seq+uint64(i))
		putValue(op.Value, ev, now)
		if err := op.Finish(); err != nil {
			b.Close()
			return err
		}
	}
	// A fatal write fails the spool before Append drops seq from inflight,
	// so Flush never ships the failed batch Pebble left readable.
	return s.fail.Commit(s.db, b, pebble.Sync)
}

// failed is the spool's failure caused by cause.
func (s *Spool) failed(cause error) error {
	return fmt.Errorf("%w: a write in %q failed: %w; every Append and Flush is refused until the process restarts (hint: free space on that disk or fix it, then restart: the appended events are kept and shipped)", ErrFailed, s.opts.Dir, cause)
}

// Failed returns the spool's failure (it matches ErrFailed and the cause,
// such as syscall.ENOSPC), or nil while the spool is healthy. The process
// should exit (see Fatal) for its supervisor to restart it.
func (s *Spool) Failed() error { return s.fail.Err() }

// Fatal returns a channel that receives the spool's failure once, when it
// fails, and is then closed: the process should exit non-zero with it.
func (s *Spool) Fatal() <-chan error { return s.fail.Fatal() }

// Depth returns the number of events in the spool not yet acknowledged by
// the Sink.
func (s *Spool) Depth() int64 { return s.depth.Load() }

// ForEach calls fn with every spooled event not yet shipped, oldest first.
// Metering uses it at startup to count events a previous process left.
func (s *Spool) ForEach(fn func(counter.Event)) error {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("metering/spool: cannot read %q: %w", s.opts.Dir, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		ev, _, err := decodeValue(it.Value())
		if err != nil {
			_ = it.Close()
			return err
		}
		fn(ev)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("metering/spool: cannot read %q: %w", s.opts.Dir, err)
	}
	return nil
}

// Close stops Run (which flushes what it can within CloseTimeout), or
// flushes itself when Run is not running, then closes the spool. Events not
// shipped stay on disk for the next Open. It is safe to call more than once.
func (s *Spool) Close() error {
	s.closeOnce.Do(func() {
		var flushErr error
		close(s.stop)
		if s.running.Load() {
			<-s.runDone
		} else {
			flushErr = s.finalFlush()
		}
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.appends.Wait()
		s.shipMu.Lock()
		defer s.shipMu.Unlock()
		if err := s.fail.Err(); err != nil {
			// Pebble's commit pipeline is broken; closing it could block.
			s.db = nil
			s.closeErr = err
			return
		}
		if err := s.db.Close(); err != nil {
			flushErr = errors.Join(flushErr, fmt.Errorf("metering/spool: cannot close %q: %w", s.opts.Dir, err))
		}
		s.db = nil
		s.closeErr = flushErr
	})
	return s.closeErr
}

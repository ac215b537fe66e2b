package pebble

import (
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/tollgate/tollgate/internal/pebblefail"
)

// failure is the store's fatal state (see ErrFailed) and the commits in
// flight.
type failure struct {
	pebblefail.State

	// Commits in flight, numbered in start order, each with a channel closed
	// when it ends: a read waits for every commit that started before it
	// (see settle).
	flightMu   sync.Mutex
	nextTicket uint64
	flight     []inFlight
}

// inFlight is a commit in flight.
type inFlight struct {
	ticket uint64
	done   chan struct{}
}

// begin numbers a commit about to apply a batch.
func (f *failure) begin() inFlight {
	c := inFlight{done: make(chan struct{})}
	f.flightMu.Lock()
	c.ticket = f.nextTicket
	f.nextTicket++
	f.flight = append(f.flight, c)
	f.flightMu.Unlock()
	return c
}

// end marks commit c done, after its failure, if any, was set.
func (f *failure) end(c inFlight) {
	f.flightMu.Lock()
	for i := range f.flight {
		if f.flight[i].ticket == c.ticket {
			f.flight = append(f.flight[:i], f.flight[i+1:]...)
			break
		}
	}
	f.flightMu.Unlock()
	close(c.done)
}

// started returns the ticket of the next commit: every commit whose batch a
// read started now may see has a smaller one.
func (f *failure) started() uint64 {
	f.flightMu.Lock()
	defer f.flightMu.Unlock()
	return f.nextTicket
}

// settle waits until every commit numbered below before is done, or the
// store failed, and returns the failure: a read that may have seen a batch
// whose sync failed is refused, so reads never include unacknowledged events.
func (f *failure) settle(before uint64) error {
	var buf [4]chan struct{}
	wait := buf[:0]
	f.flightMu.Lock()
	for _, c := range f.flight {
		if c.ticket < before {
			wait = append(wait, c.done)
		}
	}
	f.flightMu.Unlock()
	for _, done := range wait {
		select {
		case <-done:
		case <-f.Done():
			return f.Err()
		}
	}
	return f.Err()
}

// commitBatch applies b with opts and closes it, as a numbered commit (see
// settle); a write Pebble reports fatal fails the store, and commit returns
// the failure.
func (s *Store) commitBatch(b *pebble.Batch, opts *pebble.WriteOptions) error {
	c := s.fail.begin()
	defer s.fail.end(c)
	return s.fail.Commit(s.db, b, opts)
}

// failed is the store's failure caused by cause.
func (s *Store) failed(cause error) error {
	return fmt.Errorf("%w: a write in data dir %q failed: %w; every call is refused until the process restarts (hint: free space on that disk or fix it, then restart: the acknowledged events are replayed from the log)", ErrFailed, s.opts.Dir, cause)
}

// Failed returns the store's failure (it matches ErrFailed and the cause,
// such as syscall.ENOSPC), or nil while the store is healthy. A failed store
// refuses every call; the process should exit (see Fatal) for its
// supervisor to restart it.
func (s *Store) Failed() error { return s.fail.Err() }

// Fatal returns a channel that receives the store's failure once, when it
// fails, and is then closed: the process should exit non-zero with it.
func (s *Store) Fatal() <-chan error { return s.fail.State.Fatal() }

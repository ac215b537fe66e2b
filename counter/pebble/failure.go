package pebble

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// failure is the store's fatal state and the commits in flight. A commit
// that Pebble reports fatal (its write-ahead log write or sync failed: a
// full disk, an I/O error) fails the store for good: Pebble has applied the
// batch to its memtable, readable, though it never became durable.
type failure struct {
	// err is the failure, nil while healthy; fatal receives it once and is
	// then closed. mu serializes setting them.
	mu    sync.Mutex
	err   atomic.Pointer[error]
	fatal chan error

	// Commits in flight, numbered in start order: a read waits for every
	// commit that started before it (see settle). cond uses flightMu.
	flightMu   sync.Mutex
	cond       sync.Cond
	nextTicket uint64
	flight     []uint64
}

func (f *failure) init() {
	f.fatal = make(chan error, 1)
	f.cond.L = &f.flightMu
}

// set records the failure of the store in dir caused by cause, once, and
// returns the store's failure.
func (f *failure) set(dir string, cause error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.get(); err != nil {
		return err
	}
	err := fmt.Errorf("%w: a write-ahead log write in data dir %q failed: %w; every call is refused until the process restarts (hint: free space on that disk or fix it, then restart: the acknowledged events are replayed from the log)", ErrFailed, dir, cause)
	f.err.Store(&err)
	f.fatal <- err
	close(f.fatal)
	return err
}

// get returns the failure, nil while healthy.
func (f *failure) get() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// begin numbers a commit about to apply a batch.
func (f *failure) begin() uint64 {
	f.flightMu.Lock()
	defer f.flightMu.Unlock()
	t := f.nextTicket
	f.nextTicket++
	f.flight = append(f.flight, t)
	return t
}

// end marks commit t done, after its failure, if any, was set.
func (f *failure) end(t uint64) {
	f.flightMu.Lock()
	for i, x := range f.flight {
		if x == t {
			f.flight = append(f.flight[:i], f.flight[i+1:]...)
			break
		}
	}
	f.flightMu.Unlock()
	f.cond.Broadcast()
}

// started returns the ticket of the next commit: every commit whose batch a
// read started now may see has a smaller one.
func (f *failure) started() uint64 {
	f.flightMu.Lock()
	defer f.flightMu.Unlock()
	return f.nextTicket
}

// settle waits until every commit numbered below before is done and returns
// the failure: a read that may have seen a batch whose sync failed is
// refused, so reads never include unacknowledged events.
func (f *failure) settle(before uint64) error {
	f.flightMu.Lock()
	for f.oldest() < before {
		f.cond.Wait()
	}
	f.flightMu.Unlock()
	return f.get()
}

// oldest returns the smallest ticket in flight, MaxUint64 when none.
func (f *failure) oldest() uint64 {
	o := uint64(math.MaxUint64)
	for _, t := range f.flight {
		o = min(o, t)
	}
	return o
}

// apply runs write, a Pebble write, as a numbered commit (see settle); a
// write Pebble reports fatal fails the store, and apply returns the failure.
func (s *Store) apply(write func() error) (err error) {
	t := s.fail.begin()
	defer s.fail.end(t)
	defer func() {
		if p := recover(); p != nil {
			fe, ok := p.(*fatalError)
			if !ok {
				panic(p)
			}
			err = s.fail.set(s.opts.Dir, fe)
		}
	}()
	return write()
}

// Failed returns the store's failure (it matches ErrFailed and the cause,
// such as syscall.ENOSPC), or nil while the store is healthy. A failed store
// refuses every call; the process should exit (see Fatal) for its
// supervisor to restart it.
func (s *Store) Failed() error { return s.fail.get() }

// Fatal returns a channel that receives the store's failure once, when it
// fails, and is then closed: the process should exit non-zero with it.
func (s *Store) Fatal() <-chan error { return s.fail.fatal }

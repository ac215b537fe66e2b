// Package pebblefail turns Pebble's fatal errors into a failed state of the
// store that owns the database, for good: the store refuses every call until
// the process restarts and replays the synced log.
//
// Two failures are fatal. A failed write-ahead log write or sync (a full
// disk, an I/O error): Pebble reports it through its Logger's Fatalf, which
// must not return, so Logger panics with a *Fatal and State.Apply recovers
// it; Pebble has then applied the failed batch to its memtable, where reads
// would see it. And a memtable flush or compaction failing for lack of space
// or an I/O error (State.Listener): Pebble retries it without end and stalls
// every write meanwhile, so a write would wait forever; State.Apply returns
// the failure at once instead.
package pebblefail

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
)

// Logger passes Pebble's log lines to slog; it satisfies pebble.Logger.
type Logger struct{ Log *slog.Logger }

// Infof logs at info level.
func (l Logger) Infof(format string, args ...any) { l.Log.Info(fmt.Sprintf(format, args...)) }

// Errorf logs at error level.
func (l Logger) Errorf(format string, args ...any) { l.Log.Error(fmt.Sprintf(format, args...)) }

// Fatalf logs at error level and panics with a *Fatal: Pebble calls it on a
// failed commit and on broken invariants, and it must not return.
func (l Logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.Log.Error(msg)
	f := &Fatal{msg: msg}
	for _, a := range args {
		if err, ok := a.(error); ok {
			f.cause = err
		}
	}
	panic(f)
}

// Fatal is the panic value of Logger.Fatalf: the text Pebble logged and the
// error among its arguments, if any.
type Fatal struct {
	msg   string
	cause error
}

// Error returns the text Pebble logged.
func (f *Fatal) Error() string { return f.msg }

// Unwrap returns the error Pebble reported, so errors.Is finds its cause
// (such as syscall.ENOSPC).
func (f *Fatal) Unwrap() error { return f.cause }

// State is a store's failure: nil while healthy, then set once for good.
// Call Init before use; its methods are safe for concurrent use.
type State struct {
	// mu serializes Fail; err is the failure; done is closed and fatal
	// receives the failure once (then is closed) when it is set.
	mu    sync.Mutex
	err   atomic.Pointer[error]
	done  chan struct{}
	fatal chan error
}

// Init readies s.
func (s *State) Init() {
	s.done = make(chan struct{})
	s.fatal = make(chan error, 1)
}

// Err returns the failure, nil while healthy.
func (s *State) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Done returns a channel closed when the failure is set.
func (s *State) Done() <-chan struct{} { return s.done }

// Fatal returns a channel that receives the failure once, when it is set,
// and is then closed.
func (s *State) Fatal() <-chan error { return s.fatal }

// Fail sets the failure to err unless one is set, and returns the failure.
func (s *State) Fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.Err(); cur != nil {
		return cur
	}
	// In this order: once Err or Done tells the failure, Fatal has it.
	s.fatal <- err
	close(s.fatal)
	s.err.Store(&err)
	close(s.done)
	return err
}

// Apply runs write, a Pebble write whose memory the caller no longer
// changes, and returns its error. When Pebble reports the write fatal,
// Apply fails s with wrap(the *Fatal). When s fails meanwhile, Apply
// returns the failure at once and leaves write to end, or stall, on its
// own.
func (s *State) Apply(write func() error, wrap func(error) error) error {
	if err := s.Err(); err != nil {
		return err
	}
	res := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				f, ok := p.(*Fatal)
				if !ok {
					panic(p)
				}
				res <- s.Fail(wrap(f))
			}
		}()
		res <- write()
	}()
	select {
	case err := <-res:
		return err
	case <-s.done:
		return s.Err()
	}
}

// Listener returns Pebble event hooks that fail s with wrap(cause) when a
// memtable flush or a compaction fails for lack of space or an I/O error
// (ENOSPC, EDQUOT, EROFS, EIO): Pebble would retry it without end, writes
// stalled meanwhile.
func (s *State) Listener(wrap func(error) error) *pebble.EventListener {
	check := func(what string, err error) {
		for _, errno := range [...]syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO} {
			if errors.Is(err, errno) {
				s.Fail(wrap(fmt.Errorf("pebble: %s failed: %w", what, err)))
				return
			}
		}
	}
	return &pebble.EventListener{
		FlushEnd:      func(i pebble.FlushInfo) { check("memtable flush", i.Err) },
		CompactionEnd: func(i pebble.CompactionInfo) { check("compaction", i.Err) },
	}
}

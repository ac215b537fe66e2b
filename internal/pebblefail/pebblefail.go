// Package pebblefail turns Pebble's fatal errors into a failed state of the
// store that owns the database, for good: the store refuses every call until
// the process restarts and replays the synced log.
//
// Two failures are fatal. A failed write-ahead log write or sync (a full
// disk, an I/O error): Pebble reports it through its Logger's Fatalf, which
// must not return, so Logger panics with a *Fatal and State.Commit recovers
// it; Pebble has then applied the failed batch to its memtable, where reads
// would see it. And a memtable flush or compaction failing for lack of space
// or an I/O error (State.Listener): Pebble retries it without end and stalls
// every write meanwhile, so a write would wait forever; State.Commit returns
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
	// wrap makes a failure of a cause; mu serializes Fail; err is the
	// failure; done is closed and fatal receives the failure once (then is
	// closed) when it is set.
	wrap  func(cause error) error
	mu    sync.Mutex
	err   atomic.Pointer[error]
	done  chan struct{}
	fatal chan error
}

// Init readies s; wrap makes the failure of a cause (naming the store, its
// data dir and what to do).
func (s *State) Init(wrap func(cause error) error) {
	s.wrap = wrap
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

// fail sets the failure caused by cause unless one is set, and returns the
// failure.
func (s *State) fail(cause error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.Err(); cur != nil {
		return cur
	}
	err := s.wrap(cause)
	// In this order: once Err or Done tells the failure, Fatal has it.
	s.fatal <- err
	close(s.fatal)
	s.err.Store(&err)
	close(s.done)
	return err
}

// commit is one Commit's batch, handed to a goroutine; pooled.
type commit struct {
	s    *State
	db   *pebble.DB
	b    *pebble.Batch
	opts *pebble.WriteOptions
	res  chan error
}

var commits = sync.Pool{New: func() any { return &commit{res: make(chan error, 1)} }}

// Commit applies b to db with opts and closes b. When Pebble reports the
// write fatal, Commit fails s. When s fails meanwhile, Commit returns the
// failure at once and leaves the write to end, or stall, on its own.
func (s *State) Commit(db *pebble.DB, b *pebble.Batch, opts *pebble.WriteOptions) error {
	if err := s.Err(); err != nil {
		b.Close()
		return err
	}
	c := commits.Get().(*commit)
	c.s, c.db, c.b, c.opts = s, db, b, opts
	go c.run()
	select {
	case err := <-c.res:
		commits.Put(c)
		return err
	case <-s.done:
		return s.Err() // c stays with its goroutine
	}
}

// run applies the batch and sends the result.
func (c *commit) run() {
	s, db, b, opts := c.s, c.db, c.b, c.opts
	c.s, c.db, c.b, c.opts = nil, nil, nil, nil
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(*Fatal)
			if !ok {
				panic(p)
			}
			b.Close()
			c.res <- s.fail(f)
		}
	}()
	err := db.Apply(b, opts)
	b.Close()
	c.res <- err
}

// Listener returns Pebble event hooks that fail s when a memtable flush or a
// compaction fails for lack of space or an I/O error (ENOSPC, EDQUOT, EROFS,
// EIO): Pebble would retry it without end, writes stalled meanwhile.
func (s *State) Listener() *pebble.EventListener {
	check := func(what string, err error) {
		for _, errno := range [...]syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO} {
			if errors.Is(err, errno) {
				s.fail(fmt.Errorf("pebble: %s failed: %w", what, err))
				return
			}
		}
	}
	return &pebble.EventListener{
		FlushEnd:      func(i pebble.FlushInfo) { check("memtable flush", i.Err) },
		CompactionEnd: func(i pebble.CompactionInfo) { check("compaction", i.Err) },
	}
}

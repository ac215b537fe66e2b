// Package lifecycle is the sidecar's one shape for what runs in the
// background: each component has Run(ctx) error, which returns when ctx
// ends, and an idempotent Close. A Group starts components in the order
// they are added and drains them in reverse: the last one started (the
// servers) stops first, the first one (the backends) last, each after the
// ones that depend on it. It is our own (about 80 lines) rather than
// oklog/run or errgroup because it orders the drain: both of those cancel
// every member at once.
//
// Run and Close errors are joined by Stop; a Run that returns early (a
// server failing) is reported on Failed.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Group runs components; the zero value is not usable, use New.
type Group struct {
	mu      sync.Mutex
	members []*member
	failed  chan error
	stopped bool
}

type member struct {
	name   string
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	close  func() error
}

// New returns an empty Group.
func New() *Group {
	return &Group{failed: make(chan error, 1)}
}

// Go starts run in its own goroutine with its own context; closeFn, when
// not nil, is called once run has returned, during Stop. A run that returns
// before Stop reports on Failed.
func (g *Group) Go(name string, run func(ctx context.Context) error, closeFn func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{name: name, cancel: cancel, done: make(chan struct{}), close: closeFn}
	g.mu.Lock()
	g.members = append(g.members, m)
	g.mu.Unlock()
	go func() {
		defer close(m.done)
		m.err = run(ctx)
		if ctx.Err() == nil { // it stopped by itself
			err := m.err
			if err == nil {
				err = errors.New("stopped by itself")
			}
			select {
			case g.failed <- fmt.Errorf("%s: %w", name, err):
			default:
			}
		}
	}()
}

// Defer adds a component with nothing to run: closeFn is called during Stop,
// in reverse order with the others.
func (g *Group) Defer(name string, closeFn func() error) {
	m := &member{name: name, cancel: func() {}, done: make(chan struct{}), close: closeFn}
	close(m.done)
	g.mu.Lock()
	g.members = append(g.members, m)
	g.mu.Unlock()
}

// Failed receives the first component whose Run returned before Stop.
func (g *Group) Failed() <-chan error { return g.failed }

// Stop drains the components in reverse order: it cancels one's context,
// waits for its Run to return, closes it, then goes on to the one added
// before it. It returns every Run and Close error, named; a second Stop
// returns nil.
func (g *Group) Stop() error {
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return nil
	}
	g.stopped = true
	members := g.members
	g.mu.Unlock()
	var errs []error
	for i := len(members) - 1; i >= 0; i-- {
		m := members[i]
		m.cancel()
		<-m.done
		if m.err != nil && !errors.Is(m.err, context.Canceled) {
			errs = append(errs, fmt.Errorf("%s: %w", m.name, m.err))
		}
		if m.close != nil {
			if err := m.close(); err != nil {
				errs = append(errs, fmt.Errorf("%s: close: %w", m.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

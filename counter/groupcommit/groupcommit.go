// Package groupcommit merges concurrent writes into shared commits, the way a
// database merges concurrent transactions into one log flush: each Submit
// waits while a committer takes it together with every other waiting
// submission (up to a number of items) and commits them all in one call.
// Both event stores use it: Pebble to share an fsync, Cassandra to share
// round trips.
package groupcommit

import (
	"errors"
	"sync"
)

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("groupcommit: closed")

// CommitFunc commits the items of several submissions at once. Its error is
// returned to every one of them.
type CommitFunc[T any] func(submissions [][]T) error

// Group runs the committers. Its methods are safe for concurrent use.
type Group[T any] struct {
	commit   CommitFunc[T]
	maxItems int

	// mu guards closed and the sends on reqs: Submit holds it shared, Close
	// exclusively.
	mu     sync.RWMutex
	closed bool
	reqs   chan *request[T]
	wg     sync.WaitGroup
	pool   sync.Pool
}

// request is one Submit waiting for its commit; done is buffered so a
// committer never blocks.
type request[T any] struct {
	items []T
	done  chan error
}

// Start starts committers goroutines (at least 1). Each commits the
// submission it takes together with the submissions waiting behind it, until
// they hold maxItems items; while one commits, the next gathers what arrives
// meanwhile. A submission larger than maxItems is committed alone.
func Start[T any](committers, maxItems int, commit CommitFunc[T]) *Group[T] {
	g := &Group[T]{commit: commit, maxItems: maxItems, reqs: make(chan *request[T], max(maxItems, 1))}
	g.pool.New = func() any { return &request[T]{done: make(chan error, 1)} }
	for range max(committers, 1) {
		g.wg.Go(g.run)
	}
	return g
}

// Submit commits items, together with those of concurrent Submits, and
// returns the commit's error. The caller must not change items until Submit
// returns.
func (g *Group[T]) Submit(items []T) error {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return ErrClosed
	}
	r := g.pool.Get().(*request[T])
	r.items = items
	g.reqs <- r
	g.mu.RUnlock()
	err := <-r.done
	r.items = nil
	g.pool.Put(r)
	return err
}

// Close refuses new submissions, waits for the commits of those already
// made and stops the committers. Later calls do nothing.
func (g *Group[T]) Close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.reqs)
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// run is one committer; it returns once reqs is closed and drained.
func (g *Group[T]) run() {
	var (
		group []*request[T]
		items [][]T
	)
	for first := range g.reqs {
		group = append(group[:0], first)
		items = append(items[:0], first.items)
		n := len(first.items)
	fill:
		for n < g.maxItems {
			select {
			case r, ok := <-g.reqs:
				if !ok {
					break fill
				}
				group = append(group, r)
				items = append(items, r.items)
				n += len(r.items)
			default:
				break fill
			}
		}
		err := g.commit(items)
		for _, r := range group {
			r.done <- err
		}
		clear(group)
		clear(items)
	}
}

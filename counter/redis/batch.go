package redis

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// batcher sends the commands of concurrent callers together: each caller
// adds its commands to the open group and waits for it; a fixed set of
// flusher goroutines each takes the open group, sends it as one pipeline
// (one write, one read for all of them) and wakes its callers. While every
// flusher is busy, new commands collect in the next group, so the batches
// grow with the load and the round trips per call shrink.
type batcher struct {
	client  goredis.UniversalClient
	timeout time.Duration
	kick    chan struct{} // a group is open; capacity 1
	stop    chan struct{}
	wg      sync.WaitGroup

	mu     sync.Mutex
	open   *group // collecting commands; nil when none
	closed bool
	// flushers is how many flusher goroutines the first lock starts.
	flushers int
	started  bool
}

// group is one shared pipeline; done is closed once it has been sent and
// each command holds its own result or error.
type group struct {
	pipe goredis.Pipeliner
	done chan struct{}
}

// newBatcher returns a batcher whose first use starts the given number of
// flusher goroutines, each sending one pipeline at a time bounded by
// timeout (nothing starts in the constructor). Stop them with close.
func newBatcher(client goredis.UniversalClient, timeout time.Duration, flushers int) *batcher {
	return &batcher{client: client, timeout: timeout, kick: make(chan struct{}, 1), stop: make(chan struct{}), flushers: flushers}
}

// lock returns the open group, creating it, with the batcher locked: the
// caller adds its commands to g.pipe, then calls submit. It returns nil,
// unlocked, once the batcher is closed.
func (b *batcher) lock() *group {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	if !b.started {
		b.started = true
		b.wg.Add(b.flushers)
		for range b.flushers {
			go b.run()
		}
	}
	if b.open == nil {
		b.open = &group{pipe: b.client.Pipeline(), done: make(chan struct{})}
	}
	return b.open
}

// submit unlocks the batcher and wakes a flusher. Wait on the group's done
// channel: it is closed within about two timeouts (the flush in progress,
// then this one).
func (b *batcher) submit() {
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default: // a flusher is already due to look
	}
}

// run flushes open groups until stop is closed, then flushes what is left.
func (b *batcher) run() {
	defer b.wg.Done()
	for {
		select {
		case <-b.kick:
		case <-b.stop:
			b.flushOpen()
			return
		}
		// Let the goroutines that are ready to run add their commands
		// first: the submitter that woke this flusher hands it its
		// processor directly, which would send each group nearly alone.
		runtime.Gosched()
		b.flushOpen()
	}
}

// flushOpen sends open groups until none is left.
func (b *batcher) flushOpen() {
	for {
		b.mu.Lock()
		g := b.open
		b.open = nil
		b.mu.Unlock()
		if g == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
		execPipe(ctx, g.pipe) // errors are read per command
		cancel()
		close(g.done)
	}
}

// close refuses new commands, flushes the open group and stops the
// flushers. It must be called once.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	b.wg.Wait()
}

// execPipe sends pipe and leaves each command its own result or error. When the
// whole pipeline failed before any reply (go-redis then returns the error
// but leaves the commands without one: a refused AUTH on a new connection,
// for one), every command gets that error instead of looking like a zero
// reply.
func execPipe(ctx context.Context, pipe goredis.Pipeliner) {
	cmds, err := pipe.Exec(ctx)
	if err == nil {
		return
	}
	for _, c := range cmds {
		if errors.Is(c.Err(), err) {
			return // one command's own error; the others have their replies
		}
	}
	for _, c := range cmds {
		if c.Err() == nil {
			c.SetErr(err)
		}
	}
}

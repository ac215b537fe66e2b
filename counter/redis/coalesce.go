package redis

import (
	"sync"

	"github.com/cespare/xxhash/v2"
)

// coalescer merges concurrent fixed-window increments of one key. While an
// increment of a key is in flight, later callers add their hits to one
// pending batch; when the in-flight increment ends, the batch is sent as a
// single INCRBY of the sum and becomes the new in-flight increment. Each
// caller in a batch learns its own post-increment count from the batch total:
// total - sum + prefix + hits, where prefix is the hits that joined before it.
type coalescer struct {
	shards [64]coShard
}

type coShard struct {
	mu sync.Mutex
	m  map[string]*pending
	_  [40]byte
}

// pending is the state of a key with an increment in flight. next collects
// the hits that arrive meanwhile; nil when none did.
type pending struct {
	next *batch
}

// batch is one merged INCRBY. sum, total and err are set under the shard
// lock (sum) or before done is closed (total, err).
type batch struct {
	key   string
	ttlMs int64
	sum   uint64
	total int64
	err   error
	done  chan struct{}
}

func newCoalescer() *coalescer {
	c := &coalescer{}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*pending)
	}
	return c
}

func (c *coalescer) shard(key string) *coShard {
	return &c.shards[xxhash.Sum64String(key)%uint64(len(c.shards))]
}

// join registers hits on key. When nothing is in flight for key the caller
// leads: it must send its own INCRBY and then call release. Otherwise the hits
// are added to the pending batch b, prefix being the hits added before them.
func (c *coalescer) join(key string, hits uint64, ttlMs int64) (b *batch, prefix uint64, lead bool) {
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	p := sh.m[key]
	if p == nil {
		sh.m[key] = &pending{}
		return nil, 0, true
	}
	if p.next == nil {
		p.next = &batch{key: key, ttlMs: ttlMs, done: make(chan struct{})}
	}
	b = p.next
	prefix = b.sum
	b.sum += hits
	return b, prefix, false
}

// release ends the in-flight increment of key. It returns the batch that
// must be sent next (and released in turn), or nil when none is waiting.
func (c *coalescer) release(key string) *batch {
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	p := sh.m[key]
	if p == nil {
		return nil
	}
	if b := p.next; b != nil {
		p.next = nil
		return b
	}
	delete(sh.m, key)
	return nil
}

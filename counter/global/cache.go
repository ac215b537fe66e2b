package global

import (
	"sync"

	"github.com/tollgate/tollgate/counter"
)

// cacheShards is the number of independently locked cache shards.
const cacheShards = 64

// cpCache caches one checkpoint per counter. A checkpoint is one value (count
// and time together), replaced only by a later one.
type cpCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

// cacheShard is one locked part of a cpCache.
type cacheShard struct {
	mu sync.Mutex
	m  map[key]counter.Checkpoint
}

// newCache returns a cache of about max entries.
func newCache(max int) *cpCache {
	c := &cpCache{perShard: max/cacheShards + 1}
	for i := range c.shards {
		c.shards[i].m = make(map[key]counter.Checkpoint)
	}
	return c
}

// get returns the cached checkpoint of k.
func (c *cpCache) get(k key, h uint64) (counter.Checkpoint, bool) {
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	cp, ok := s.m[k]
	s.mu.Unlock()
	return cp, ok
}

// put caches cp for k unless a later checkpoint is cached, and returns the
// cached one. A full shard evicts an arbitrary entry.
func (c *cpCache) put(k key, h uint64, cp counter.Checkpoint) counter.Checkpoint {
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.m[k]; ok {
		if cur.At.After(cp.At) {
			return cur
		}
	} else if len(s.m) >= c.perShard {
		for victim := range s.m {
			delete(s.m, victim)
			break
		}
	}
	s.m[k] = cp
	return cp
}

package global

import (
	"sync"
)

// cacheShards is the number of independently locked cache shards.
const cacheShards = 64

// cache keeps one value per counter, replaced only by a newer one (newer
// decides). It holds the checkpoints, each one value so count and time never
// disagree, and the Accurate reads' tails.
type cache[V any] struct {
	perShard int
	newer    func(cur, next V) bool
	shards   [cacheShards]cacheShard[V]
}

// cacheShard is one locked part of a cache.
type cacheShard[V any] struct {
	mu sync.Mutex
	m  map[key]V
}

// newCache returns a cache of about max entries.
func newCache[V any](max int, newer func(cur, next V) bool) *cache[V] {
	c := &cache[V]{perShard: max/cacheShards + 1, newer: newer}
	for i := range c.shards {
		c.shards[i].m = make(map[key]V)
	}
	return c
}

// get returns the cached value of k.
func (c *cache[V]) get(k key, h uint64) (V, bool) {
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	v, ok := s.m[k]
	s.mu.Unlock()
	return v, ok
}

// put caches v for k unless the cached value is newer, and returns the
// cached one. A full shard evicts an arbitrary entry.
func (c *cache[V]) put(k key, h uint64, v V) V {
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.m[k]; ok {
		if !c.newer(cur, v) {
			return cur
		}
	} else if len(s.m) >= c.perShard {
		for victim := range s.m {
			delete(s.m, victim)
			break
		}
	}
	s.m[k] = v
	return v
}

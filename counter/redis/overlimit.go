package redis

import (
	"sync"

	"github.com/cespare/xxhash/v2"
)

// overLimitCache remembers fixed-window counters that went over their limit,
// until their window ends. An entry is keyed by the Redis key, which names
// the window, and the limit, so a hit checked against another limit of the
// same descriptor is never answered from it.
type overLimitCache struct {
	perShard int
	shards   [olShards]olShard
}

// olShards is the number of locked parts of the cache.
const olShards = 16

type olShard struct {
	mu sync.Mutex
	m  map[olKey]int64 // window end, Unix nanoseconds
	_  [48]byte
}

type olKey struct {
	key   string
	limit uint64
}

// newOverLimitCache returns a cache of about size entries, or nil when size
// is negative (disabled).
func newOverLimitCache(size int) *overLimitCache {
	if size < 0 {
		return nil
	}
	c := &overLimitCache{perShard: max(size/olShards, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[olKey]int64)
	}
	return c
}

func (c *overLimitCache) shard(key string) *olShard {
	return &c.shards[xxhash.Sum64String(key)%olShards]
}

// over reports whether key is known to be over limit at now.
func (c *overLimitCache) over(key string, limit uint64, now int64) bool {
	sh := c.shard(key)
	k := olKey{key, limit}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	end, ok := sh.m[k]
	if ok && end <= now {
		delete(sh.m, k)
		ok = false
	}
	return ok
}

// add remembers that key is over limit until end. When the shard is full it
// first drops expired entries, and skips the add if none were.
func (c *overLimitCache) add(key string, limit uint64, end, now int64) {
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(sh.m) >= c.perShard {
		for k, e := range sh.m {
			if e <= now {
				delete(sh.m, k)
			}
		}
		if len(sh.m) >= c.perShard {
			return
		}
	}
	sh.m[olKey{key, limit}] = end
}

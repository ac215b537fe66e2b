package memory

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/counter"
)

// Options configures a Store. The zero value is usable: every field has a
// default.
type Options struct {
	// Shards is the number of independently locked parts of the key space,
	// rounded up to a power of two. More shards mean less lock contention and a
	// little more fixed memory. Default: 256.
	Shards int
	// SweepInterval is how often Run deletes dead states. Default: 10s.
	SweepInterval time.Duration
	// Now is the clock Run sweeps with. Apply never reads it: it takes the time
	// from its caller. Default: time.Now.
	Now func() time.Time
	// MaxKeys bounds the keys held: each shard holds at most MaxKeys/Shards
	// (rounded up) and makes room for a new key by evicting its least
	// recently used one. Default: 1,000,000.
	MaxKeys int
	// Registerer receives tollgate_memory_evictions_total. Default: none
	// (the metric is kept but not exported).
	Registerer prometheus.Registerer
}

// EnsureDefaults fills unset fields with their defaults and rounds Shards up
// to a power of two.
func (o *Options) EnsureDefaults() {
	if o.Shards <= 0 {
		o.Shards = 256
	}
	o.Shards = 1 << bits.Len(uint(o.Shards-1))
	if o.SweepInterval <= 0 {
		o.SweepInterval = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 1_000_000
	}
}

// Store is an in-memory best-effort counter backend. It is safe for
// concurrent use. The zero value is not usable: build one with New.
type Store struct {
	opts   Options
	mask   uint64
	shards []shard
}

// shard is one locked part of the key space: a map from keys to slots, and
// the slots in use on a list from the most to the least recently used.
type shard struct {
	mu    sync.Mutex
	m     map[string]int32
	slots []slot
	// free lists the unused slots.
	free []int32
	// head and tail are the most and least recently used slots, -1 when none.
	head, tail int32
	// max is the most keys the shard holds.
	max int
	// peak is the size the map had before the last sweep; a map that shrank
	// far below it is rebuilt, since Go maps never give memory back.
	peak      int
	evictions uint64
}

// slot holds one key's state and its place on the shard's recency list.
type slot struct {
	key        string
	st         state
	prev, next int32
}

// state is what a Store keeps per key. It holds no pointers.
type state struct {
	alg    counter.Algorithm
	window int64 // nanoseconds
	// start is the window start (fixed, sliding) or the last refill (token
	// bucket), in Unix nanoseconds.
	start  int64
	cur    uint64 // hits in the window starting at start
	prev   uint64 // hits in the window before start (sliding)
	tokens float64
	// dead is the Unix nanosecond from which the state no longer matters.
	dead int64
}

// New returns an empty Store. Call Run to sweep dead states in the background,
// or Sweep yourself.
func New(opts Options) *Store {
	opts.EnsureDefaults()
	s := &Store{opts: opts, mask: uint64(opts.Shards - 1), shards: make([]shard, opts.Shards)}
	perShard := (opts.MaxKeys + opts.Shards - 1) / opts.Shards
	for i := range s.shards {
		s.shards[i] = shard{m: make(map[string]int32), head: -1, tail: -1, max: perShard}
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tollgate_memory_evictions_total",
			Help: "Keys the memory backend evicted, least recently used first, to stay within max_keys.",
		}, s.evictions))
	}
	return s
}

// evictions returns the number of keys evicted so far.
func (s *Store) evictions() float64 {
	var n uint64
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.evictions
		sh.mu.Unlock()
	}
	return float64(n)
}

// unlink takes slot i off the recency list.
func (sh *shard) unlink(i int32) {
	sl := &sh.slots[i]
	if sl.prev >= 0 {
		sh.slots[sl.prev].next = sl.next
	} else {
		sh.head = sl.next
	}
	if sl.next >= 0 {
		sh.slots[sl.next].prev = sl.prev
	} else {
		sh.tail = sl.prev
	}
}

// pushFront puts slot i at the most recently used end of the list.
func (sh *shard) pushFront(i int32) {
	sl := &sh.slots[i]
	sl.prev, sl.next = -1, sh.head
	if sh.head >= 0 {
		sh.slots[sh.head].prev = i
	} else {
		sh.tail = i
	}
	sh.head = i
}

// touch marks slot i as the most recently used.
func (sh *shard) touch(i int32) {
	if sh.head != i {
		sh.unlink(i)
		sh.pushFront(i)
	}
}

// insert stores st under the new key, evicting the least recently used key
// when the shard is full.
func (sh *shard) insert(key string, st state) {
	var i int32
	switch {
	case len(sh.m) >= sh.max:
		i = sh.tail
		sh.unlink(i)
		delete(sh.m, sh.slots[i].key)
		sh.evictions++
	case len(sh.free) > 0:
		i = sh.free[len(sh.free)-1]
		sh.free = sh.free[:len(sh.free)-1]
	default:
		sh.slots = append(sh.slots, slot{})
		i = int32(len(sh.slots) - 1)
	}
	sh.slots[i].key, sh.slots[i].st = key, st
	sh.pushFront(i)
	sh.m[key] = i
}

// remove deletes the key of slot i.
func (sh *shard) remove(i int32) {
	sh.unlink(i)
	delete(sh.m, sh.slots[i].key)
	sh.slots[i] = slot{}
	sh.free = append(sh.free, i)
}

// Apply counts hits[i] and writes the state after it to out[i]; out must be
// as long as hits. It never blocks on I/O and never allocates for a key it
// already holds. It fails, changing nothing, when a hit has Window <= 0.
func (s *Store) Apply(_ context.Context, now time.Time, hits []counter.Hit, out []counter.Outcome) error {
	if len(out) != len(hits) {
		return fmt.Errorf("counter/memory: got %d outcomes for %d hits; pass out with len(out) == len(hits)", len(out), len(hits))
	}
	for i := range hits {
		if hits[i].Window <= 0 {
			return fmt.Errorf("counter/memory: hit %d (key %q) has window %v; the window must be > 0 (fix the limit's unit or window)", i, hits[i].Key, hits[i].Window)
		}
	}
	n := now.UnixNano()
	for i := range hits {
		out[i] = s.apply(n, &hits[i])
	}
	return nil
}

func (s *Store) apply(now int64, h *counter.Hit) counter.Outcome {
	sh := &s.shards[xxhash.Sum64String(h.Key)&s.mask]
	w := int64(h.Window)
	sh.mu.Lock()
	i, held := sh.m[h.Key]
	var st state
	if held {
		st = sh.slots[i].st
		sh.touch(i)
	}
	ok := held && st.alg == h.Algorithm && st.window == w // else the key now names another limit: start over
	var o counter.Outcome
	var keep bool
	switch h.Algorithm {
	case counter.SlidingWindow:
		o, keep = sliding(&st, ok, now, w, h)
	case counter.TokenBucket:
		o, keep = bucket(&st, ok, now, w, h)
	default:
		o, keep = fixed(&st, ok, now, w, h), true
	}
	if keep {
		st.alg, st.window = h.Algorithm, w
		if held {
			sh.slots[i].st = st
		} else {
			sh.insert(h.Key, st)
		}
	}
	sh.mu.Unlock()
	return o
}

// windowStart returns now truncated to w since the Unix epoch.
func windowStart(now, w int64) int64 {
	m := now % w
	if m < 0 {
		m += w
	}
	return now - m
}

// ceilCount rounds a float count up, ignoring float noise below 1e-9.
func ceilCount(x float64) uint64 {
	if x <= 1e-9 {
		return 0
	}
	return uint64(math.Ceil(x - 1e-9))
}

func fixed(st *state, ok bool, now, w int64, h *counter.Hit) counter.Outcome {
	ws := windowStart(now, w)
	if !ok || st.start != ws {
		*st = state{start: ws}
	}
	st.cur += h.Hits
	st.dead = ws + w
	return counter.Outcome{Used: st.cur, Allowed: st.cur <= h.Limit, ResetAfter: time.Duration(ws + w - now)}
}

// sliding applies a sliding-window hit; it reports whether st must be stored.
func sliding(st *state, ok bool, now, w int64, h *counter.Hit) (counter.Outcome, bool) {
	ws := windowStart(now, w)
	cur, prev := uint64(0), uint64(0)
	if ok {
		switch {
		case st.start == ws:
			cur, prev = st.cur, st.prev
		case st.start == ws-w:
			prev = st.cur
		case st.start > ws:
			// The caller's clock went back: keep counting in the newer window.
			ws, cur, prev = st.start, st.cur, st.prev
		}
	}
	elapsed := max(now-ws, 0)
	est := float64(prev)*float64(w-elapsed)/float64(w) + float64(cur)
	o := counter.Outcome{ResetAfter: time.Duration(ws + w - now)}
	o.Allowed = est+float64(h.Hits) <= float64(h.Limit)
	keep := o.Allowed && h.Hits > 0
	if keep {
		est += float64(h.Hits)
		*st = state{start: ws, cur: cur + h.Hits, prev: prev, dead: ws + 2*w}
	}
	o.Used = ceilCount(est)
	return o, keep
}

// bucket applies a token-bucket hit; it reports whether st must be stored.
func bucket(st *state, ok bool, now, w int64, h *counter.Hit) (counter.Outcome, bool) {
	limit := float64(h.Limit)
	tokens, last := limit, now
	if ok {
		tokens, last = st.tokens, st.start
		if now > last {
			tokens = min(limit, tokens+float64(now-last)*limit/float64(w))
			last = now
		}
	}
	var o counter.Outcome
	o.Allowed = float64(h.Hits) <= tokens
	keep := o.Allowed && h.Hits > 0
	if keep {
		tokens -= float64(h.Hits)
	}
	missing := limit - tokens
	o.Used = ceilCount(missing)
	var full int64
	if h.Limit > 0 && missing > 0 {
		full = int64(math.Ceil(missing*float64(w)/limit - 1e-6))
	}
	if keep {
		*st = state{start: last, tokens: tokens, dead: last + full}
	}
	o.ResetAfter = time.Duration(full + last - now)
	return o, keep
}

// Sweep deletes the states that no longer matter at now and returns how many
// it deleted. Shards that shrank to under a quarter of their size are
// rebuilt so their memory is freed. It is safe to call concurrently with
// Apply; each shard is locked only while it is swept.
func (s *Store) Sweep(now time.Time) int {
	n := now.UnixNano()
	removed := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.peak = max(sh.peak, len(sh.m))
		for _, j := range sh.m {
			if sh.slots[j].st.dead <= n {
				sh.remove(j)
				removed++
			}
		}
		if sh.peak >= 1024 && len(sh.m) < sh.peak/4 {
			sh.rebuild()
		}
		sh.mu.Unlock()
	}
	return removed
}

// rebuild copies the shard's keys, in recency order, into a new map and
// slots of their size.
func (sh *shard) rebuild() {
	slots := make([]slot, 0, len(sh.m))
	m := make(map[string]int32, len(sh.m))
	for i := sh.tail; i >= 0; i = sh.slots[i].prev {
		m[sh.slots[i].key] = int32(len(slots))
		slots = append(slots, slot{key: sh.slots[i].key, st: sh.slots[i].st})
	}
	sh.m, sh.slots, sh.free, sh.head, sh.tail, sh.peak = m, slots, nil, -1, -1, len(m)
	for i := range slots {
		sh.pushFront(int32(i))
	}
}

// Len returns the number of states held, live or not yet swept.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Run sweeps every Options.SweepInterval until ctx ends, then returns nil.
// One Run per Store is enough; more only sweep more often.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.Sweep(s.opts.Now())
		}
	}
}

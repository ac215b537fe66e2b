// Package memory is the in-process best-effort counter backend: each sidecar
// counts on its own, so limits hold per process, not across a fleet (use
// counter/redis for that).
//
// # Model
//
// A Store keeps one small state per Hit.Key in a sharded map (Options.Shards
// shards picked by the xxhash of the key, each behind its own mutex), so calls
// on different keys rarely contend and a call never allocates once its key
// exists. Apply takes the time from its caller; the Store itself reads its
// clock (Options.Now) only to sweep.
//
//   - FixedWindow: windows start at now truncated to Window since the Unix
//     epoch. Every hit is counted, even over the limit; Used is the
//     post-increment count and Allowed is Used <= Limit.
//   - SlidingWindow: the estimate is the current window's count plus the
//     previous window's count weighted by the share of the previous window
//     still inside [now-Window, now]. A hit is admitted (and counted) only
//     when estimate+Hits <= Limit; Used is the estimate rounded up.
//   - TokenBucket: a full bucket holds Limit tokens and refills Limit tokens
//     per Window, continuously. A hit is admitted when Hits tokens are there
//     and takes them; Used is Limit minus the tokens left, rounded up.
//
// Hits == 0 reads the state without consuming. ResetAfter is the time to the
// end of the current window (fixed and sliding) or until the bucket is full
// again (token bucket).
//
// # Memory
//
// A state is dead once its window is over (fixed), once neither the current
// nor the previous window matters any more (sliding), or once the bucket has
// refilled (token bucket). Sweep deletes dead states and rebuilds shards that
// shrank a lot, so memory follows the live keys; Run calls Sweep every
// Options.SweepInterval until its context ends. Options.MaxKeys bounds the
// keys held whatever their windows: each shard keeps its keys on a list by
// recency (slots indexed by the map, so a call on a held key does not
// allocate) and makes room for a new key by evicting its least recently used
// one, counted in tollgate_memory_evictions_total. An evicted key counts
// afresh, as after a restart. Checks (Hits == 0) on a
// sliding window or token bucket never create a state.
//
// # Concurrency
//
// All methods are safe for concurrent use. One Apply call is not atomic
// across its hits: each hit is atomic on its own key.
package memory

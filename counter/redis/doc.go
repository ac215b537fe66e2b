// Package redis is the best-effort counter backend on Redis, shared by every
// sidecar that points at the same servers: single server, Redis Cluster, or
// a client-side ring of independent servers (Options.Mode).
//
// # Algorithms and keys
//
// The algorithms and their outcomes are those of counter/memory (see its
// package doc); each hit is atomic on Redis:
//
//   - FixedWindow: INCRBY on "<prefix>f:<key>:<window index>" (the index is
//     now / Window since the Unix epoch) followed by PEXPIRE ... NX to the
//     window end, so the key dies with its window. Needs Redis 7 or later.
//   - SlidingWindow: a Lua script on the hash "<prefix>s:<key>" holding the
//     current window start and the counts of the current and previous windows.
//   - TokenBucket: a Lua script on the hash "<prefix>t:<key>" holding the
//     tokens and the time of the last refill.
//
// Every command and script touches exactly one key, so the Store works in
// Cluster mode without hash tags. Scripts are sent with EVALSHA; a server
// that does not have them cached (after a restart or SCRIPT FLUSH) gets them
// with EVAL in a second round trip of the same call. Times go to the scripts
// in microseconds.
//
// # Round trips and coalescing
//
// Apply sends all its hits in one pipeline, and concurrent calls share
// pipelines: a few flusher goroutines (Options.Pipelines) each take every
// command queued since the last pipeline left and send them together, in
// one write and one read. Under load this cuts the system calls per call
// several times (about 0.3 writes per call instead of 1.2 at c=50); an idle
// call still goes out alone at once. While a fixed-window increment of a key is in flight, concurrent calls on the same
// key and window do not send their own: their hits are summed into one
// pending INCRBY, sent when the in-flight one returns. Each caller still gets
// its exact post-increment count (total - sum + its prefix sum), as if the
// increments had been sent one by one in the order the callers joined. On a
// hot key this cuts Redis commands to about one per round trip per process;
// the price is up to one extra round trip of latency for merged callers.
//
// # Over-limit cache
//
// When a fixed-window count goes over its limit, the Store remembers the key,
// limit and window locally until the window ends. Later hits on that same
// key, window and limit are answered without Redis and are not counted, with
// Used = Limit + max(Hits, 1), a lower bound of the true count. The limit is
// part of the cache key, so a hit checked against another limit on the same
// descriptor is never answered from it (the bug of envoyproxy/ratelimit
// issue 1077).
//
// # Failures
//
// Every Apply, Ping and merged increment is bounded by Options.Timeout
// (default 50ms): dialling (one attempt), waiting for a pooled connection,
// reads and writes; go-redis retries are off by default. Errors reaching
// Redis wrap counter.ErrUnavailable, so callers can fail open or closed. The
// caller's context is detached (context.WithoutCancel) before reaching
// go-redis: a caller that gives up mid-call never makes go-redis drop a
// connection with a reply in flight, which would churn connections exactly
// when Redis is busiest. A context already done fails at once. Connections
// are made on demand, so the Store recovers by itself when Redis comes back.
//
// # Metrics
//
// With Options.Registerer set, the Store registers, with the constant label
// backend="redis": tollgate_counter_op_duration_seconds{op="apply"|"flush"},
// tollgate_counter_errors_total, tollgate_counter_coalesced_hits_total and
// tollgate_counter_overlimit_cache_hits_total.
//
// # Concurrency
//
// A Store is safe for concurrent use. Close waits for merged increments in
// flight, then closes the connections.
package redis

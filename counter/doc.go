// Package counter holds the types and interfaces Tollgate's counters share;
// the backends live in its subpackages.
//
// # Best-effort and durable
//
// Two kinds of counter, two interfaces:
//
//   - Best-effort counters decide rate limits: a Hit against a limit and a
//     window, answered with an Outcome (used, allowed, reset), by the
//     Algorithm of the limit (FixedWindow, SlidingWindow, TokenBucket). They
//     may lose counts (a restart, a failover) and are fast: counter/memory
//     (one process) and counter/redis (shared). Their callers declare the
//     interface they use (ratelimit.Counter). counter/bestefforttest is the
//     conformance suite every best-effort backend passes.
//   - Durable counters are event logs: EventStore appends immutable Events
//     (an add or a clear, identified by namespace, counter, time and
//     idempotency token, so a retry counts once) and folds them (Aggregate,
//     Sum), with a per-counter Checkpoint for rollups. counter/pebble (one
//     node, embedded) and counter/cassandra (multi-region) implement it;
//     counter/storetest is their conformance suite. counter/global builds
//     the counter API (eventual and accurate counts) on an EventStore.
//
// # Errors
//
// ErrUnavailable marks a backend that could not be reached in time; callers
// apply their failure mode (fail open or fail closed) on it. ErrNotFound
// marks a missing checkpoint or counter.
//
// counter/groupcommit batches concurrent writes into one; counter/api and
// counter/counterpb serve the counter API over gRPC and HTTP.
package counter

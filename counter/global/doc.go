// Package global implements Tollgate's counter API (AddCount,
// AddAndGetCount, GetCount, ClearCount, BatchAdd, Sum) over three counter
// types, following Netflix's distributed counter design.
//
// Not every counter here is global: eventual and accurate namespaces are
// shared by every sidecar through the durable event store, but best_effort
// namespaces are per-process counters in this process's memory, which
// neither other sidecars nor a restart see.
//
// # Types
//
// A namespace has one type (NamespaceOptions.Type):
//
//   - best_effort: an int64 per counter in process memory. No idempotency
//     (tokens are optional and ignored), no durability: counts are lost on
//     restart and are per process. For A/B tests and similar.
//   - eventual: every add and clear is an immutable event in the durable
//     counter.EventStore (Pebble or Cassandra), acknowledged once durable.
//     Reads return the last rollup checkpoint: the count lags the latest adds
//     by about AcceptLimit + ClockSkew (6 s by default) and converges to the
//     exact count.
//   - accurate: stored like eventual; a read is the checkpoint plus the
//     events after it, so it includes every acknowledged add (AddAndGetCount
//     includes the caller's own).
//
// # Idempotency and time windows
//
// An event is identified by (namespace, counter, token generation time,
// token), so retries and hedges with one token count once. Nothing about a
// token is remembered outside the event log: an add whose append failed left
// no trace and its retry is stored normally. Adds and clears are refused
// (ErrInvalidArgument) when their generation time is more than AcceptLimit
// before the server's clock or more than FutureLimit after it.
//
// # Rollups
//
// After an append, the counter is queued on one of Options.Queues in-memory
// queues, chosen by an xxhash of the counter, due CoalesceWindow later;
// repeated requests for a queued counter coalesce. Each queue's worker rolls
// up due counters, BatchSize in parallel. A rollup folds the events in
// (checkpoint.At, now - AcceptLimit - ClockSkew] into the checkpoint and
// saves it to the store and to an in-process cache as one value (count and
// time together). Because adds older than AcceptLimit are refused, that window
// no longer changes, so rollups need no locks: concurrent rollups of one
// counter, in one process or several sharing a store, compute the same
// checkpoint, and the store never moves a checkpoint backwards. A counter
// stays in circulation (is queued again, after the coalesce window or as soon
// as the window can cover its last write) while its last write is after its
// checkpoint. GetCount also queues a rollup, which repairs counters whose
// rollup was lost.
//
// # Accurate reads
//
// An accurate read remembers, per counter, the count of every event up to a
// seal, now - LateAfter - ClockSkew, and the store's LateWrites read before
// it scanned them. The next read scans only the events after that seal and
// reads LateWrites at the same time. An add that becomes durable after a read
// and on time (within LateAfter of its Time, by the store's clock) has a
// later Time than the read's seal, ClockSkew covering the clock differences
// between processes; an add that becomes durable late changes LateWrites
// before it is acknowledged. So when LateWrites is unchanged, the remembered
// count plus the scan is exact, however long the append took; otherwise, for
// the first read of a counter, and once per MaxReadGap, the read starts from
// the checkpoint (a full read) and seals again. An incremental read scans
// about LateAfter + ClockSkew (2 s by default) of adds, a full read about
// AcceptLimit + ClockSkew + CoalesceWindow (7 s). The store judges lateness
// by the namespace's LateAfter (Options.LateAfters gives the store's
// option): a hot counter whose adds arrive at once reads faster with a short
// LateAfter and ClockSkew, at the cost of a full read after each add that
// becomes durable later than LateAfter. A full read of a counter whose
// checkpoint is older than MaxReadGap rolls it up first, so a read scans at
// most a short span of events. tollgate_counter_accurate_reads_total{path}
// counts both paths.
//
// # What can be lost or be late
//
//   - best_effort counts: on restart.
//   - Queued rollups: on a crash or when a queue is full (counted in
//     tollgate_counter_rollup_dropped_total). The events are durable; the
//     eventual count stays stale until the counter is read or written again.
//   - An add whose append takes longer than ClockSkew may land in a window a
//     concurrent rollup already sealed; the checkpoint, and so both counts,
//     then miss it (counted in tollgate_counter_slow_appends_total). Keep
//     ClockSkew well above the store's append latency and the clock
//     differences between processes.
//   - On Cassandra across data centers, an add (or its LateWrites update)
//     that replicates more slowly than LateAfter + ClockSkew is
//     missing from accurate reads in the other data center until their next
//     full read.
//   - An add is refused (ErrInvalidArgument) when it would take the live
//     count out of the int64 range: the in-memory count for best_effort;
//     for the durable types an accurate read (checkpoint plus the events
//     after it) before the append when the delta or the count is large or
//     a large add is not in the checkpoint yet, else the cached checkpoint
//     (see overflow.go for why that is enough). Adds in flight at the same
//     time, and large adds through another process until a rollup covers
//     them, are not in the count checked against.
//   - Events older than Retention may be deleted once a checkpoint covers
//     them; Sum over older windows is then short.
//
// # Lifecycle
//
// New starts the workers; Close stops them after one last rollup of the
// queued counters and does not close the store. Metrics go to
// Options.Registerer: tollgate_counter_api_duration_seconds{type,op},
// tollgate_counter_rollups_total{result}, tollgate_counter_rollup_lag_seconds,
// tollgate_counter_rollup_queue_depth, tollgate_counter_rollup_dropped_total,
// tollgate_counter_slow_appends_total and
// tollgate_counter_accurate_reads_total{path}.
package global

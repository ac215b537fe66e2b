// Package cassandra is a counter.EventStore on Apache Cassandra (gocql), the
// multi-region backend of Tollgate's eventually consistent and accurate
// counters. It follows the event-log layout of Netflix's distributed counter.
//
// # Tables
//
// Open creates the keyspace (Options.Replication) and four tables when they
// are missing:
//
//   - events: one row per event, partitioned by (namespace, counter,
//     time_bucket, event_bucket) and ordered by (event_time, event_id). The
//     time bucket is the event time divided by Options.TimeBucket; the event
//     bucket is the xxhash of the event ID modulo Options.EventBuckets, so a
//     hot counter spreads over EventBuckets partitions per time bucket and no
//     partition grows without bound. An event's identity is its primary key,
//     so appending it again rewrites the same row: retries and hedged
//     requests never count twice. Rows carry a TTL of Options.Retention from
//     the write; TimeWindowCompactionStrategy drops expired SSTables whole.
//   - rollups: one partition per counter. Its static cells are the checkpoint
//     (count and time in one cell, written USING TIMESTAMP = checkpoint time)
//     and the last-write time (written USING TIMESTAMP = event time), so
//     Cassandra's last-write-wins keeps the latest checkpoint and the greatest
//     event time whatever the order writes arrive in, in every data center,
//     with no read-before-write. Its clustering rows list the time buckets
//     that hold events (with the events' TTL).
//   - late_writes: a Cassandra counter per counter that got late events
//     (Options.LateAfter), incremented once per Append with one, after its
//     events are written. Accurate reads compare it between reads.
//   - layout: the TimeBucket and EventBuckets the keyspace was created with;
//     Open refuses options that differ.
//
// # Writes
//
// Append writes in unlogged batches, rows grouped by partition and small
// partitions packed together. Concurrent Appends are written together
// (package groupcommit: 4 committers, up to 4096 events each), so that many
// one-event Appends share a few requests. The driver writes each request at
// once (no write coalescing delay).
//
// # Reads
//
// Aggregate and Sum query every event bucket of every time bucket of the
// range in parallel (at most Options.MaxConcurrency requests in flight), each
// request routed to a replica of its partition (token-aware, local data
// center first). A range of more than 4 time buckets first lists the
// counter's time buckets that hold events from rollups, so the fan-out stays
// bounded by the data, not by the width of the range. Sum and Aggregate are
// summed by Cassandra per partition (Aggregate reads the rows of a partition
// only when a clear is in its range); AggregateSplit, which serves the short
// ranges of accurate reads, reads the rows once and folds both sides of the
// cut.
//
// A clear is written to its home event bucket and copied (not counted as an
// event) into the other event buckets of its time bucket, so every partition
// read sees the clears of its time bucket and folds in one streaming pass: a
// clear discards the sums of earlier rows and earlier time buckets.
//
// # Consistency and data centers
//
// Every request runs at Options.Consistency (LOCAL_QUORUM by default). With
// Options.LocalDC the driver sends requests to that data center's nodes, so
// writes are acknowledged locally and replicate to the other data centers
// asynchronously: another region sees them after the replication delay, as
// the eventually consistent counter type expects. Multi-data-center clusters
// need Replication.DataCenters (NetworkTopologyStrategy).
//
// # Limits
//
// Event and checkpoint times must lie in 1970-01-01..2262-04-11 (they are
// stored as Unix nanoseconds; write timestamps are their microseconds). Events
// expire Retention after they were written, so the rollup must checkpoint a
// counter within Retention. A clear whose copies were only partly written
// (Append returned an error) is complete once the caller retries, as the
// EventStore contract asks it to.
package cassandra

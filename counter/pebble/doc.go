// Package pebble is the embedded counter.EventStore on Pebble: the default
// durable event log behind Tollgate's eventual and accurate counters.
//
// # Keys
//
// Three keyspaces, each starting with its own byte:
//
//	'e' namespace counter time id  -> kind(1) delta(8)   events
//	'c' namespace counter          -> at(12) count(8)    rollup checkpoints
//	'w' namespace counter          -> time(12)           last-write floor
//
// Names are escaped (0x00 becomes 0x00 0xff) and terminated by 0x00 0x01, so
// the encoding keeps byte order and no (namespace, counter) pair is a prefix
// of another, whatever bytes the names hold. Times are 8 big-endian bytes of
// Unix seconds with the sign bit flipped plus 4 bytes of nanoseconds, so key
// order is (counter, Time, ID) order and Aggregate and Sum are single range
// scans. The ID ends the key unescaped.
//
// # Durability
//
// Append returns after its batch is synced to the write-ahead log: an
// acknowledged event survives kill -9 and power loss (TestKill9... checks
// this by killing a child process). Concurrent Appends are gathered by a small
// commit pipeline (Options.Committers goroutines, up to MaxCommitEvents events
// each) into one Pebble batch and one fsync; Pebble adds its own group commit
// across the committers. One Append is always atomic.
//
// A full disk or an I/O error fails the store for good (package
// internal/pebblefail): a failed write-ahead-log write or sync, which Pebble
// treats as fatal though it has applied the batch to its memtable, where
// reads would see it; and a memtable flush or compaction failing with
// ENOSPC, EDQUOT, EROFS or EIO, which Pebble would retry without end while
// it stalls every write. The Append that met it is not acknowledged (its
// outcome is unknown: a retry with the same identities counts once), and
// every later call, reads included, returns the failure (ErrFailed, naming
// the data dir and the cause), even once space returns. Failed reports it
// and Fatal delivers it once, so the process can exit for its supervisor to
// restart it; reopening replays the synced log, which holds every
// acknowledged event. Pebble also makes a batch readable before its sync
// ends, so a read waits for the commits in flight when it started (at most
// one fsync) and returns the failure if the store failed meanwhile: reads
// never include an unacknowledged event. Checkpoint writes are not synced on
// their own (a lost checkpoint is recomputed from the events).
//
// # Idempotency
//
// An event's identity is its key, so appending it again overwrites it with
// the same value and counts once. Re-appending an identity with a different
// Delta replaces the delta (last write wins); callers retry with the same
// values.
//
// # Last write and checkpoints
//
// LastWrite is the Time of the counter's last event key (one reverse seek),
// so it is updated atomically with every Append at no extra write. When
// retention deletes all of a counter's events it records their last Time in
// the 'w' keyspace, and LastWrite returns the greater of the two.
// SaveCheckpoint is a compare-and-set under one of 256 lock stripes: the
// stored At never moves backwards.
//
// # Retention
//
// Run deletes, every RetentionInterval, the events of each checkpointed
// counter with Time <= min(now - retention, checkpoint.At), with one range
// deletion per counter. Events that no checkpoint covers are never deleted,
// so a rollup never loses input; Sum over windows older than the retention
// returns less than was added.
package pebble

// Package spool is metering's durable local event queue. Append writes a
// batch of counter events to a Pebble database keyed by a sequence number
// and syncs it before returning (concurrent appends share fsyncs). Run's
// shipper reads the oldest committed events in batches, hands them to a
// Sink, and deletes them only after the Sink acknowledged them; failed
// shipments are retried with exponential backoff, so an appended event is
// never lost and may be shipped more than once (Sinks are idempotent by
// event identity). Events left by a crash or an unfinished Close ship after
// the next Open. A batch the Sink keeps rejecting blocks the ones behind
// it; tollgate_metering_ship_errors_total and
// tollgate_metering_ship_lag_seconds show it.
//
// A full disk or an I/O error under the spool (a failed write-ahead log
// write, a memtable flush that cannot be written) fails it for good, as in
// counter/pebble: that Append is not acknowledged, every later Append and
// Flush returns the failure (ErrFailed) and nothing more ships, so a batch
// Pebble left readable though it failed is never shipped. Failed and Fatal
// tell the process to exit; after a restart the synced events ship. Event
// times must be within MinTime and MaxTime (Unix nanoseconds): Append
// refuses others (ErrTimeRange) rather than wrap them.
package spool

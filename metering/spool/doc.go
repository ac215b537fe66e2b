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
package spool

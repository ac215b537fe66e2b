package cassandra

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/tollgate/tollgate/counter"
)

// Event kinds in the events table's kind column.
const (
	kindAdd int8 = iota
	// kindClear is a clear in its home event bucket; it counts as an event.
	kindClear
	// kindClearCopy is a clear copied into the other event buckets of its time
	// bucket so that a read of any one partition sees every clear; it does not
	// count as an event.
	kindClearCopy
)

// directTimeBuckets is the most time buckets a read queries without first
// listing the counter's time buckets that hold events.
const directTimeBuckets = 4

var (
	// minTime and maxTime bound the event times the store keeps: Unix
	// nanoseconds in [0, MaxInt64).
	minTime = time.Unix(0, 0)
	maxTime = time.Unix(0, math.MaxInt64)
)

// unixNanos converts an event or checkpoint time to the stored Unix
// nanoseconds, or reports why it cannot be stored.
func unixNanos(t time.Time) (int64, error) {
	if t.Before(minTime) || !t.Before(maxTime) {
		return 0, fmt.Errorf("time %v is outside 1970-01-01..2262-04-11, the Unix nanoseconds the store keeps", t)
	}
	return t.UnixNano(), nil
}

// openBound converts the exclusive lower bound of a range to nanoseconds,
// clamped to [-1, MaxInt64].
func openBound(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return -1
	case !t.Before(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// closedBound converts the inclusive lower bound of a range to nanoseconds,
// clamped to [0, MaxInt64].
func closedBound(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return 0
	case !t.Before(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// micros is the write timestamp of a time given in nanoseconds.
func micros(nanos int64) int64 { return nanos / 1000 }

// eventBucket is the home event bucket of an event ID.
func eventBucket(id string, buckets int) int16 {
	return int16(xxhash.Sum64String(id) % uint64(buckets))
}

// encodeCheckpoint packs a checkpoint into one cell value, so count and time
// are resolved together; among equal write timestamps Cassandra keeps the
// greater value, which is the one with the later At.
func encodeCheckpoint(atNanos, count int64) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(atNanos))
	binary.BigEndian.PutUint64(b[8:], uint64(count))
	return b
}

// decodeCheckpoint unpacks encodeCheckpoint's value.
func decodeCheckpoint(b []byte) (atNanos, count int64, err error) {
	if len(b) != 16 {
		return 0, 0, fmt.Errorf("stored checkpoint has %d bytes, want 16", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), int64(binary.BigEndian.Uint64(b[8:])), nil
}

// partFold is the fold of one partition's rows of a range, in clustering
// order (Time, then ID).
type partFold struct {
	// sum is the sum of the deltas after the last clear.
	sum int64
	// events counts adds and home clears.
	events int64
	// cleared reports a clear (home or copy) in the range.
	cleared bool
}

// add folds one row.
func (f *partFold) add(delta int64, kind int8) {
	switch kind {
	case kindAdd:
		f.sum += delta
		f.events++
	case kindClear:
		f.sum = 0
		f.cleared = true
		f.events++
	case kindClearCopy:
		f.sum = 0
		f.cleared = true
	}
}

// foldTimeBuckets combines the folds of the partitions of consecutive time
// buckets, in the order partitions returns them. Every partition of a time
// bucket sees the bucket's clears, so a clear in it discards the sum of all
// earlier time buckets.
func foldTimeBuckets(parts []partFold, eventBuckets int) counter.Aggregate {
	var agg counter.Aggregate
	for i := 0; i < len(parts); i += eventBuckets {
		var tb counter.Aggregate
		for _, p := range parts[i : i+eventBuckets] {
			tb.Sum += p.sum
			tb.Events += p.events
			tb.Cleared = tb.Cleared || p.cleared
		}
		agg = agg.Then(tb)
	}
	return agg
}

package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// keyLen is the length of a spool key: a big-endian sequence number, so keys
// sort in append order.
const keyLen = 8

func putKey(dst []byte, seq uint64) { binary.BigEndian.PutUint64(dst, seq) }

func keyOf(seq uint64) []byte {
	k := make([]byte, keyLen)
	putKey(k, seq)
	return k
}

// valueLen returns the encoded length of ev: namespace, counter and ID each
// length-prefixed, then time, delta and spool time as fixed 8 bytes, and a
// clear flag.
func valueLen(ev *counter.Event) int {
	return uvarintLen(len(ev.Namespace)) + len(ev.Namespace) +
		uvarintLen(len(ev.Counter)) + len(ev.Counter) +
		uvarintLen(len(ev.ID)) + len(ev.ID) + 8 + 8 + 8 + 1
}

func uvarintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

// putValue encodes ev, spooled at spooledAt (Unix nanoseconds), into dst,
// which has valueLen(ev) bytes.
func putValue(dst []byte, ev *counter.Event, spooledAt int64) {
	i := 0
	for _, s := range [...]string{ev.Namespace, ev.Counter, ev.ID} {
		i += binary.PutUvarint(dst[i:], uint64(len(s)))
		i += copy(dst[i:], s)
	}
	binary.BigEndian.PutUint64(dst[i:], uint64(ev.Time.UnixNano()))
	binary.BigEndian.PutUint64(dst[i+8:], uint64(ev.Delta))
	binary.BigEndian.PutUint64(dst[i+16:], uint64(spooledAt))
	dst[i+24] = 0
	if ev.Clear {
		dst[i+24] = 1
	}
}

// The event times the spool can hold: those of time.Time.UnixNano, which it
// stores.
var (
	MinTime = time.Unix(0, math.MinInt64).UTC()
	MaxTime = time.Unix(0, math.MaxInt64).UTC()
)

// ErrTimeRange marks an event whose Time the spool cannot hold.
var ErrTimeRange = errors.New("metering/spool: event time out of range")

// checkTimes returns an ErrTimeRange error naming the first event whose Time
// is outside [MinTime, MaxTime].
func checkTimes(events []counter.Event) error {
	for i := range events {
		if t := events[i].Time; t.Before(MinTime) || t.After(MaxTime) {
			return fmt.Errorf("%w: event %d (namespace %q, counter %q) has time %s, outside %s to %s (hint: give events the time they happened; metering records a request at its arrival time when its start is far off)",
				ErrTimeRange, i, events[i].Namespace, events[i].Counter, t.UTC().Format(time.RFC3339Nano), MinTime.Format(time.RFC3339Nano), MaxTime.Format(time.RFC3339Nano))
		}
	}
	return nil
}

// errCorrupt marks a spool value that does not decode.
var errCorrupt = errors.New("metering/spool: corrupt spool record (hint: the spool directory was modified or damaged; move it aside to start empty, losing its events)")

// decodeValue decodes a value written by putValue. Event times come back in
// UTC.
func decodeValue(b []byte) (ev counter.Event, spooledAt int64, err error) {
	var parts [3]string
	for j := range parts {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return ev, 0, errCorrupt
		}
		parts[j] = string(b[w : w+int(n)])
		b = b[w+int(n):]
	}
	if len(b) != 25 {
		return ev, 0, errCorrupt
	}
	ev = counter.Event{
		Namespace: parts[0],
		Counter:   parts[1],
		ID:        parts[2],
		Time:      time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC(),
		Delta:     int64(binary.BigEndian.Uint64(b[8:])),
		Clear:     b[24] == 1,
	}
	return ev, int64(binary.BigEndian.Uint64(b[16:])), nil
}

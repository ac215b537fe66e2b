package spool

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// FuzzCodec encodes arbitrary events: one the codec can hold (checkTimes)
// decodes to itself, in UTC, with its spool time. And it decodes the
// arbitrary bytes as a value: never a panic, and what decodes encodes to a
// value that decodes the same.
func FuzzCodec(f *testing.F) {
	f.Add("ns", "acme", "m/r1", int64(1714521600), int64(7), int64(3), true, int64(1714521601000000000), []byte{})
	f.Add("", "", "", int64(-9223372037), int64(0), int64(-1), false, int64(-1), []byte{2, 'n', 's', 0, 0})
	f.Add("n", "c", "i", int64(32503680000), int64(0), int64(0), false, int64(0), []byte{0x80})
	f.Fuzz(func(t *testing.T, namespace, counterName, id string, sec, nsec, delta int64, clear bool, spooledAt int64, raw []byte) {
		ev := counter.Event{Namespace: namespace, Counter: counterName, ID: id, Time: time.Unix(sec, nsec), Delta: delta, Clear: clear}
		if checkTimes([]counter.Event{ev}) == nil {
			buf := make([]byte, valueLen(&ev))
			putValue(buf, &ev, spooledAt)
			got, at, err := decodeValue(buf)
			want := ev
			want.Time = ev.Time.UTC()
			if err != nil || got != want || at != spooledAt {
				t.Fatalf("decode(encode(%+v, %d)) = %+v, %d, %v", ev, spooledAt, got, at, err)
			}
		} else if !ev.Time.Before(MinTime) && !ev.Time.After(MaxTime) {
			t.Fatalf("checkTimes refused %s, within %s to %s", ev.Time, MinTime, MaxTime)
		}
		dec, at, err := decodeValue(raw)
		if err != nil {
			return
		}
		buf := make([]byte, valueLen(&dec))
		putValue(buf, &dec, at)
		again, at2, err := decodeValue(buf)
		if err != nil || again != dec || at2 != at {
			t.Fatalf("value %x decodes to %+v, %d, whose encoding decodes to %+v, %d, %v", raw, dec, at, again, at2, err)
		}
	})
}

package cassandra

import (
	"strconv"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// kinds returns the kind argument of each event row of g, and -1 for a
// rollup row.
func kinds(g rowGroup) []int8 {
	out := make([]int8, len(g.entries))
	for i, e := range g.entries {
		out[i] = -1
		if len(e.Args) == 9 {
			out[i] = e.Args[7].(int8)
		}
	}
	return out
}

func TestAppendGroups(t *testing.T) {
	s := &Store{opts: Options{EventBuckets: 4}, bucketNanos: int64(time.Minute), q: newQueries("ks")}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(c string, sec int, id string, clear bool) counter.Event {
		return counter.Event{Namespace: "ns", Counter: c, Time: base.Add(time.Duration(sec) * time.Second), ID: id, Delta: 1, Clear: clear}
	}
	t.Run("one add", func(t *testing.T) {
		groups := s.appendGroups([][]counter.Event{{ev("c", 0, "a", false)}})
		if len(groups) != 2 || len(groups[0].entries) != 1 || len(groups[1].entries) != 2 {
			t.Fatalf("groups = %d (%v), want an event row and a rollup group of last-write + index", len(groups), groups)
		}
		if got := groups[1].entries[0].Args; got[0] != int64(1735689600000000) || got[1] != int64(1735689600000000000) {
			t.Errorf("last-write args = %v, want timestamp in µs and value in ns", got)
		}
	})
	t.Run("clear copied into every event bucket", func(t *testing.T) {
		groups := s.appendGroups([][]counter.Event{{ev("c", 0, "x", true)}})
		if len(groups) != 5 {
			t.Fatalf("%d groups, want 4 event buckets + 1 rollup", len(groups))
		}
		home := eventBucket("x", 4)
		for b, g := range groups[:4] {
			want := kindClearCopy
			if int16(b) == home {
				want = kindClear
			}
			if k := kinds(g); len(k) != 1 || k[0] != want || g.entries[0].Args[3] != int16(b) || g.entries[0].Args[6] != int64(0) {
				t.Errorf("bucket %d rows = %v (args %v), want one row of kind %d with delta 0", b, k, g.entries[0].Args, want)
			}
		}
	})
	t.Run("partitions split at maxBatchRows, one index row per time bucket", func(t *testing.T) {
		var events []counter.Event
		for i := range 1000 {
			events = append(events, ev("c", i%120, "e"+strconv.Itoa(i), false))
		}
		groups := s.appendGroups([][]counter.Event{events})
		rows := 0
		for _, g := range groups[:len(groups)-1] {
			if len(g.entries) > maxBatchRows || g.bytes > maxBatchBytes {
				t.Errorf("group of %d rows, %d bytes exceeds the limits", len(g.entries), g.bytes)
			}
			rows += len(g.entries)
		}
		if rows != 1000 {
			t.Errorf("%d event rows, want 1000", rows)
		}
		if k := kinds(groups[len(groups)-1]); len(k) != 3 {
			t.Errorf("rollup group has %d rows, want last-write + 2 time buckets", len(k))
		}
	})
	t.Run("the events of several Appends share partitions and rollup rows", func(t *testing.T) {
		a, b := ev("c", 0, "a", false), ev("c", 5, "a2", false)
		b.ID = "b"
		for eventBucket(b.ID, 4) != eventBucket(a.ID, 4) { // the same event bucket as a
			b.ID += "b"
		}
		groups := s.appendGroups([][]counter.Event{{a}, {b}})
		if len(groups) != 2 || len(groups[0].entries) != 2 || len(groups[1].entries) != 2 {
			t.Fatalf("groups = %v, want one partition with both events and one rollup group", groups)
		}
		if got := groups[1].entries[0].Args[1]; got != b.Time.UnixNano() {
			t.Errorf("last write = %v, want the later event's %d", got, b.Time.UnixNano())
		}
	})
}

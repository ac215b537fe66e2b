package cassandra

import (
	"math"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

func TestUnixNanos(t *testing.T) {
	tests := []struct {
		name    string
		t       time.Time
		want    int64
		wantErr string
	}{
		{"epoch", time.Unix(0, 0), 0, ""},
		{"2025", time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC), 1741064767000000008, ""},
		{"last nanosecond", time.Unix(0, math.MaxInt64-1), math.MaxInt64 - 1, ""},
		{"zero time", time.Time{}, 0, "time 0001-01-01 00:00:00 +0000 UTC is outside 1970-01-01..2262-04-11, the Unix nanoseconds the store keeps"},
		{"before 1970", time.Unix(0, -1).UTC(), 0, "time 1969-12-31 23:59:59.999999999 +0000 UTC is outside 1970-01-01..2262-04-11, the Unix nanoseconds the store keeps"},
		{"max", time.Unix(0, math.MaxInt64).UTC(), 0, "time 2262-04-11 23:47:16.854775807 +0000 UTC is outside 1970-01-01..2262-04-11, the Unix nanoseconds the store keeps"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := unixNanos(tc.t)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("unixNanos(%v) error = %v, want %q", tc.t, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("unixNanos(%v) = %d, %v; want %d", tc.t, got, err, tc.want)
			}
		})
	}
}

func TestBounds(t *testing.T) {
	tests := []struct {
		name         string
		t            time.Time
		open, closed int64
	}{
		{"zero time", time.Time{}, -1, 0},
		{"epoch", time.Unix(0, 0), 0, 0},
		{"inside", time.Unix(0, 42), 42, 42},
		{"far future", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64, math.MaxInt64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := openBound(tc.t); got != tc.open {
				t.Errorf("openBound = %d, want %d", got, tc.open)
			}
			if got := closedBound(tc.t); got != tc.closed {
				t.Errorf("closedBound = %d, want %d", got, tc.closed)
			}
		})
	}
}

func TestCheckpointEncoding(t *testing.T) {
	tests := []struct{ at, count int64 }{{0, 0}, {1741064767000000008, -9}, {math.MaxInt64 - 1, math.MaxInt64}, {5, math.MinInt64}}
	for _, tc := range tests {
		at, count, err := decodeCheckpoint(encodeCheckpoint(tc.at, tc.count))
		if err != nil || at != tc.at || count != tc.count {
			t.Errorf("decode(encode(%d, %d)) = %d, %d, %v", tc.at, tc.count, at, count, err)
		}
	}
	// Equal write timestamps (same microsecond): Cassandra keeps the greater
	// value, which must be the later At.
	a, b := encodeCheckpoint(1000, 99), encodeCheckpoint(1001, -5)
	if string(a) >= string(b) {
		t.Errorf("checkpoint at 1000ns encodes >= checkpoint at 1001ns")
	}
	if _, _, err := decodeCheckpoint([]byte{1, 2}); err == nil || err.Error() != "stored checkpoint has 2 bytes, want 16" {
		t.Errorf("decodeCheckpoint(2 bytes) error = %v", err)
	}
}

func TestEventBucket(t *testing.T) {
	counts := make([]int, 4)
	for i := range 4000 {
		b := eventBucket("id-"+string(rune('a'+i%26))+string(rune(i)), 4)
		if b < 0 || b >= 4 {
			t.Fatalf("eventBucket = %d, want 0..3", b)
		}
		counts[b]++
	}
	for b, n := range counts {
		if n < 800 || n > 1200 {
			t.Errorf("bucket %d got %d of 4000 IDs, want about 1000", b, n)
		}
	}
	// The bucket is part of the on-disk layout: a changed hash would make
	// rows written before it unreachable. These values are pinned.
	pinned := []struct {
		id      string
		buckets int
		want    int16
	}{
		{"x", 4, 3}, {"x", 16, 3}, {"", 4, 1}, {"", 16, 9}, {"id-a", 4, 3}, {"id-a", 16, 15},
		{"event-1", 4, 2}, {"event-1", 16, 10}, {"some/long/idempotency-token", 4, 0},
		{"some/long/idempotency-token", 16, 4}, {"x", 1, 0},
	}
	for _, p := range pinned {
		if got := eventBucket(p.id, p.buckets); got != p.want {
			t.Errorf("eventBucket(%q, %d) = %d, want %d (the on-disk layout)", p.id, p.buckets, got, p.want)
		}
	}
}

func TestFold(t *testing.T) {
	type row struct {
		delta int64
		kind  int8
	}
	tests := []struct {
		name        string
		buckets     int
		parts       [][]row // per partition, time bucket major
		sum, events int64
		cleared     bool
	}{
		{"empty", 2, [][]row{{}, {}}, 0, 0, false},
		{"adds only", 2, [][]row{{{1, kindAdd}, {2, kindAdd}}, {{10, kindAdd}}}, 13, 3, false},
		{
			"clear in home and copy bucket", 2,
			[][]row{{{1, kindAdd}, {0, kindClear}, {5, kindAdd}}, {{10, kindAdd}, {0, kindClearCopy}, {7, kindAdd}}},
			12, 5, true,
		},
		{
			"clear in a later time bucket drops earlier ones", 1,
			[][]row{{{100, kindAdd}}, {{1, kindAdd}, {0, kindClear}, {2, kindAdd}}, {{3, kindAdd}}},
			5, 5, true,
		},
		{
			"clear in an earlier time bucket", 2,
			[][]row{{{0, kindClearCopy}, {4, kindAdd}}, {{0, kindClear}}, {{1, kindAdd}}, {{2, kindAdd}}},
			7, 4, true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parts := make([]partFold, len(tc.parts))
			for i, rows := range tc.parts {
				for _, r := range rows {
					parts[i].add(r.delta, r.kind)
				}
			}
			got := foldTimeBuckets(parts, tc.buckets)
			if want := (counter.Aggregate{Sum: tc.sum, Events: tc.events, Cleared: tc.cleared}); got != want {
				t.Errorf("fold = %+v, want %+v", got, want)
			}
		})
	}
}

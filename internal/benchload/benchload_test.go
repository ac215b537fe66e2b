package benchload

import (
	"testing"
	"time"
)

func TestP99(t *testing.T) {
	lat := make([]time.Duration, 0, 200)
	for i := 200; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	if got := P99(lat); got != 199*time.Millisecond {
		t.Errorf("P99 of 1..200 ms = %v, want 199ms", got)
	}
	if got := P99(nil); got != 0 {
		t.Errorf("P99(nil) = %v, want 0", got)
	}
}

func TestMillis(t *testing.T) {
	if got := Millis(1500 * time.Microsecond); got != 1.5 {
		t.Errorf("Millis(1.5ms) = %v, want 1.5", got)
	}
}

func TestThroughputDoesEveryItemOnce(t *testing.T) {
	res := testing.Benchmark(func(b *testing.B) {
		seen := make([]int32, b.N+1)
		Throughput(b, 8, 3, func(_ int, last int64) error {
			for i := max(last-2, 1); i <= last; i++ {
				seen[i]++ // items of different calls never overlap
			}
			return nil
		})
		for i := 1; i <= b.N-b.N%3; i++ {
			if seen[i] != 1 {
				b.Fatalf("item %d done %d times, want once", i, seen[i])
			}
		}
	})
	if res.N == 0 || res.Extra["events/s"] <= 0 {
		t.Fatalf("result %+v: want items done and an events/s rate", res)
	}
}

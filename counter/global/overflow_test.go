package global

import (
	"strconv"
	"testing"
	"time"
)

// TestEdges: a marked counter is pending until a checkpoint covers its add;
// once maxEdges counters are marked every counter is pending until one is
// covered.
func TestEdges(t *testing.T) {
	var e edges
	at := time.Unix(100, 0)
	k := key{"ns", "c"}
	if e.pending(k, time.Unix(0, 0)) {
		t.Fatal("unmarked counter pending")
	}
	e.mark(k, at)
	if !e.pending(k, at.Add(-time.Nanosecond)) {
		t.Fatal("marked counter not pending before its checkpoint covers the add")
	}
	if e.pending(k, at) || e.pending(k, time.Unix(0, 0)) {
		t.Fatal("counter still pending after a checkpoint covered the add")
	}
	for i := range maxEdges + 1 {
		e.mark(key{"ns", strconv.Itoa(i)}, at)
	}
	if !e.pending(key{"ns", "never-marked"}, at) {
		t.Fatal("full guard lets an unmarked counter take the fast path")
	}
	if e.pending(key{"ns", "0"}, at) { // covered: forgotten, room again
		t.Fatal("covered counter pending")
	}
	if e.pending(key{"ns", "never-marked"}, at) {
		t.Fatal("guard still full after a counter was forgotten")
	}
}

package metering

import (
	"context"
	"sync"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// fakeCounter is a best-effort counter counting every algorithm as an
// epoch-aligned fixed window.
type fakeCounter struct {
	mu     sync.Mutex
	counts map[string]uint64
}

func newFakeCounter() *fakeCounter { return &fakeCounter{counts: map[string]uint64{}} }

func (f *fakeCounter) Apply(_ context.Context, now time.Time, hits []counter.Hit, out []counter.Outcome) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, h := range hits {
		w := h.Window.Nanoseconds()
		start := now.UnixNano() - now.UnixNano()%w
		k := h.Key + "@" + time.Unix(0, start).UTC().Format(time.RFC3339)
		f.counts[k] += h.Hits
		used := f.counts[k]
		out[i] = counter.Outcome{Used: used, Allowed: used <= h.Limit, ResetAfter: time.Unix(0, start+w).Sub(now)}
	}
	return nil
}

package metering

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// quotaCount is the cached count of one tenant's quota counter in the
// current calendar month. The estimate of the month's count is
//
//	base + local - ackedAtRefresh
//
// base is the accurate count read at the last refresh; local counts the
// requests this process reserved this month (spooled, or being spooled);
// acked counts those the Sink acknowledged, and ackedAtRefresh is acked as
// it was just before the last refresh read base. Events acknowledged before
// that read are in base and subtracted once; events acknowledged while the
// read runs may be counted twice, which errs towards denying.
type quotaCount struct {
	namespace string
	// prefix is "<tenant>/<quota>/"; the month ("2006-01") completes the
	// counter name.
	prefix string
	loc    *time.Location

	mu sync.Mutex
	// name is the counter name of the current month; [start, end) its span.
	name           string
	start, end     time.Time
	base           int64
	local          int64
	acked          int64
	ackedAtRefresh int64
	// refreshed is when base was last read successfully; zero: never.
	refreshed time.Time
}

// roll moves the count to the month of now when now is outside the current
// one. Called with mu held.
func (q *quotaCount) roll(now time.Time) {
	if !now.Before(q.start) && now.Before(q.end) {
		return
	}
	t := now.In(q.loc)
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, q.loc)
	q.start, q.end = start, start.AddDate(0, 1, 0)
	q.name = q.monthName(start)
	q.base, q.local, q.acked, q.ackedAtRefresh = 0, 0, 0, 0
}

// monthName returns the counter name of the month t falls in.
func (q *quotaCount) monthName(t time.Time) string {
	return q.prefix + t.In(q.loc).Format("2006-01")
}

// quotaTracker owns every quotaCount.
type quotaTracker struct {
	reader     CountReader
	timeout    time.Duration
	staleAfter time.Duration
	// counts maps namespace + "\x00" + prefix to its count.
	counts map[string]*quotaCount
	list   []*quotaCount
}

func newQuotaTracker(r CountReader, timeout, staleAfter time.Duration) *quotaTracker {
	return &quotaTracker{reader: r, timeout: timeout, staleAfter: staleAfter, counts: map[string]*quotaCount{}}
}

// count returns the shared count of a tenant's quota, creating it.
func (t *quotaTracker) count(tenant string, q *Quota) *quotaCount {
	prefix := tenant + "/" + q.Name + "/"
	key := q.Namespace + "\x00" + prefix
	if c := t.counts[key]; c != nil {
		return c
	}
	c := &quotaCount{namespace: q.Namespace, prefix: prefix, loc: q.Location}
	t.counts[key] = c
	t.list = append(t.list, c)
	return c
}

// lookup returns the count an event belongs to, or nil.
func (t *quotaTracker) lookup(ev *counter.Event) *quotaCount {
	const monthLen = len("2006-01")
	if len(ev.Counter) <= monthLen {
		return nil
	}
	return t.counts[ev.Namespace+"\x00"+ev.Counter[:len(ev.Counter)-monthLen]]
}

// spooled counts a quota event a previous process left in the spool.
func (t *quotaTracker) spooled(now time.Time, ev *counter.Event) {
	if c := t.lookup(ev); c != nil {
		c.mu.Lock()
		c.roll(now)
		if ev.Counter == c.name {
			c.local += ev.Delta
		}
		c.mu.Unlock()
	}
}

// acked counts events the Sink acknowledged; it is the spool's OnAck.
func (t *quotaTracker) acked(events []counter.Event) {
	for i := range events {
		if c := t.lookup(&events[i]); c != nil {
			c.mu.Lock()
			if events[i].Counter == c.name {
				c.acked += events[i].Delta
			}
			c.mu.Unlock()
		}
	}
}

// refresh re-reads every count.
func (t *quotaTracker) refresh(ctx context.Context, now time.Time) error {
	var errs []error
	for _, c := range t.list {
		c.mu.Lock()
		c.roll(now)
		name, acked := c.name, c.acked
		c.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, t.timeout)
		n, err := t.reader.GetCount(rctx, c.namespace, name)
		cancel()
		if err != nil {
			if len(errs) == 0 {
				errs = append(errs, fmt.Errorf("metering: cannot read quota counter %s/%s: %w", c.namespace, name, err))
			}
			continue
		}
		c.mu.Lock()
		if c.name == name {
			c.base, c.ackedAtRefresh, c.refreshed = n, acked, now
		}
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}

// quotaVerdict is the outcome of reserving one request against a quota.
type quotaVerdict uint8

const (
	quotaOK quotaVerdict = iota
	quotaExceeded
	quotaStale
)

// reserve counts one request against the quota of limit requests when it
// fits, and returns the counter name the event goes to and the end of the
// month. A stale count (no successful refresh within staleAfter) reserves
// nothing and says quotaStale.
func (t *quotaTracker) reserve(c *quotaCount, limit int64, now time.Time) (quotaVerdict, string, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.roll(now)
	if c.refreshed.IsZero() || now.Sub(c.refreshed) > t.staleAfter {
		return quotaStale, c.name, c.end
	}
	if c.base+c.local-c.ackedAtRefresh >= limit {
		return quotaExceeded, c.name, c.end
	}
	c.local++
	return quotaOK, c.name, c.end
}

// reserveStale counts one request although the count is stale (failure
// mode allow), so the local estimate stays right.
func (t *quotaTracker) reserveStale(c *quotaCount, now time.Time) {
	c.mu.Lock()
	c.roll(now)
	c.local++
	c.mu.Unlock()
}

// release undoes a reservation of the month named name.
func (t *quotaTracker) release(c *quotaCount, name string) {
	c.mu.Lock()
	if c.name == name {
		c.local--
	}
	c.mu.Unlock()
}

package counter

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// ErrNotFound marks a checkpoint or counter that does not exist.
var ErrNotFound = errors.New("counter: not found")

// DefaultLateAfter is how long after its Time an event may become durable
// and still be on time, unless a store is told otherwise for its namespace
// (see EventStore.LateAfter). A store counts each Append of a late event in
// the counter's LateWrites; an accurate read that sees them unchanged since
// its last read scans only the events since that read's seal (see
// counter/global). Every store of a deployment must agree on a namespace's
// value, like its accept_limit. The metering shipper's default flush
// interval (500 ms) keeps its events on time.
const DefaultLateAfter = time.Second

// LateAfters maps namespaces to their LateAfter (see EventStore.LateAfter);
// a namespace it does not name uses DefaultLateAfter.
type LateAfters map[string]time.Duration

// Of returns the LateAfter of namespace.
func (l LateAfters) Of(namespace string) time.Duration {
	if d, ok := l[namespace]; ok {
		return d
	}
	return DefaultLateAfter
}

// Validate reports the entries that are not positive, by namespace.
func (l LateAfters) Validate() error {
	var errs []error
	for _, ns := range slices.Sorted(maps.Keys(l)) {
		if d := l[ns]; d <= 0 {
			errs = append(errs, fmt.Errorf("LateAfter[%q] %v is not positive (use a positive duration or drop the entry)", ns, d))
		}
	}
	return errors.Join(errs...)
}

// Event is one immutable add or clear of an eventually consistent or accurate
// counter. (Namespace, Counter, Time, ID) is its identity: writing the same
// identity again never counts twice.
type Event struct {
	Namespace string
	Counter   string
	// Time is the idempotency token's generation time, the event time.
	Time time.Time
	// ID is the idempotency token.
	ID string
	// Delta is added to the count; ignored for a clear.
	Delta int64
	// Clear resets the count to 0: events ordered before it (by Time, then ID)
	// no longer count.
	Clear bool
}

// Checkpoint is a rollup result: Count is the count of every event of the
// counter with Time <= At.
type Checkpoint struct {
	Count int64
	At    time.Time
}

// Aggregate is the result of folding a counter's events over a time range.
type Aggregate struct {
	// Sum is the sum of the deltas of the range's events ordered after its last
	// clear (all of them when Cleared is false).
	Sum int64
	// Cleared reports that the range holds a clear: the count after the range
	// is Sum, not the count before it plus Sum.
	Cleared bool
	// Events is how many events the range holds (clears included).
	Events int64
}

// Then returns the fold of a range made of a's range followed by next's.
func (a Aggregate) Then(next Aggregate) Aggregate {
	if next.Cleared {
		next.Events += a.Events
		return next
	}
	return Aggregate{Sum: a.Sum + next.Sum, Cleared: a.Cleared, Events: a.Events + next.Events}
}

// EventStore is the durable event log and rollup store behind the eventually
// consistent and accurate counter types. Implementations: counter/pebble
// (embedded default) and counter/cassandra. All methods are safe for
// concurrent use.
type EventStore interface {
	// Append makes events durable before it returns. Each event also advances its
	// counter's last-write time to at least the event's Time. Appending an
	// identity that is already stored is not an error and changes nothing that
	// counts. On error none, some or all events may be stored; the caller
	// retries with the same identities. After the events are durable, and
	// before it returns, Append changes the LateWrites of every counter that
	// got a late event: one durable more than LateAfter(its namespace) after
	// its Time, by the store's clock once the events are durable.
	Append(ctx context.Context, events []Event) error
	// LateAfter returns how long after its Time an event of the namespace may
	// become durable and still be on time: the store's option for the
	// namespace, else DefaultLateAfter.
	LateAfter(namespace string) time.Duration
	// LateWrites returns a number that changes every time an Append with a
	// late event of the counter has made it durable (0 before the first).
	LateWrites(ctx context.Context, namespace, counterName string) (int64, error)
	// Aggregate folds the counter's events with from < Time <= to.
	Aggregate(ctx context.Context, namespace, counterName string, from, to time.Time) (Aggregate, error)
	// AggregateSplit folds the counter's events with from < Time <= to in one
	// read, split at cut (from <= cut <= to): head folds those with Time <= cut,
	// tail the others.
	AggregateSplit(ctx context.Context, namespace, counterName string, from, cut, to time.Time) (head, tail Aggregate, err error)
	// Sum returns the sum of the deltas of the counter's non-clear events with
	// from <= Time < to; metering uses it for usage per window.
	Sum(ctx context.Context, namespace, counterName string, from, to time.Time) (int64, error)
	// Checkpoint returns the counter's last stored rollup checkpoint, or the
	// zero Checkpoint when there is none.
	Checkpoint(ctx context.Context, namespace, counterName string) (Checkpoint, error)
	// SaveCheckpoint stores cp unless the stored checkpoint has a later At: a
	// checkpoint never moves backwards, whatever the order of concurrent saves.
	SaveCheckpoint(ctx context.Context, namespace, counterName string, cp Checkpoint) error
	// LastWrite returns the greatest event Time appended for the counter, or
	// the zero time when it has none.
	LastWrite(ctx context.Context, namespace, counterName string) (time.Time, error)
	// Close releases the store. It is safe to call more than once.
	Close() error
}

package metering

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// MeterRetention is how long the namespaces of meters and quotas keep
// their events: long enough to bill a past month and export it again well
// after.
const MeterRetention = 400 * 24 * time.Hour

// Namespace is a counter namespace metering writes to, as the counters must
// serve it.
type Namespace struct {
	Name string
	// Accurate says reads must include every event (accurate meters and
	// quotas); else eventual.
	Accurate bool
}

// Namespaces lists the counter namespaces the meters and quotas write to,
// sorted by name: each meter's with its type, each quota's as accurate.
func (c *Config) Namespaces() []Namespace {
	accurate := map[string]bool{}
	for _, m := range c.Meters {
		accurate[m.Namespace] = accurate[m.Namespace] || m.Type == Accurate
	}
	for _, p := range c.Plans {
		for _, q := range p.Quotas {
			accurate[q.Namespace] = true
		}
	}
	out := make([]Namespace, 0, len(accurate))
	for _, name := range slices.Sorted(maps.Keys(accurate)) {
		out = append(out, Namespace{Name: name, Accurate: accurate[name]})
	}
	return out
}

// NamespaceTiming is what metering needs to know of a counter namespace's
// settings.
type NamespaceTiming struct {
	Accurate                          bool
	AcceptLimit, ClockSkew, LateAfter time.Duration
}

// ClosedMargin is how long after its end a usage window closes for export:
// no event can arrive for it any more after the meters' accept limit and
// clock skew, plus the spool's flush interval.
func (c *Config) ClosedMargin(timing func(namespace string) NamespaceTiming) time.Duration {
	var margin time.Duration
	for _, m := range c.Meters {
		t := timing(m.Namespace)
		margin = max(margin, t.AcceptLimit+t.ClockSkew)
	}
	return margin + c.Spool.FlushInterval
}

// LateShipping warns about each accurate namespace metering writes to whose
// late_after is not above the spool's flush interval: its shipped events
// would be late, so reads of its counters would keep reading from their
// checkpoints.
func (c *Config) LateShipping(timing func(namespace string) NamespaceTiming) []string {
	var warnings []string
	for _, n := range c.Namespaces() {
		if t := timing(n.Name); t.Accurate && t.LateAfter <= c.Spool.FlushInterval {
			warnings = append(warnings, fmt.Sprintf("metering ships events later than namespace %q's late_after (%v): raise late_after above the spool's flush_interval (%v), or lower flush_interval", n.Name, t.LateAfter, c.Spool.FlushInterval))
		}
	}
	return warnings
}

// StoreSink ships spooled events straight into the event store: appends
// are idempotent by event identity, and unlike the counter API they are not
// refused for being older than accept_limit, so an event that waited in the
// spool (a restart, a store outage) is never lost to billing.
type StoreSink struct{ Store counter.EventStore }

// Ship appends the events durably.
func (s StoreSink) Ship(ctx context.Context, events []counter.Event) error {
	return s.Store.Append(ctx, events)
}

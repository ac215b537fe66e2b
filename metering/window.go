package metering

import "time"

// startWindow is how far before and after now a request start may be for
// its events to count at that start: the narrowest accept window
// (Options.AcceptWindow) of the namespaces the authz and access_log meters
// and the quotas write to.
type startWindow struct{ past, future time.Duration }

// newStartWindow returns the narrowest accept window of cfg's authz and
// access_log meters and quotas; the default window when there are none.
func (m *Metering) newStartWindow() startWindow {
	w := startWindow{defaultAcceptPast, defaultAcceptFuture}
	first := true
	narrow := func(namespace string) {
		past, future := m.acceptWindow(namespace)
		if first || past < w.past {
			w.past = past
		}
		if first || future < w.future {
			w.future = future
		}
		first = false
	}
	for i := range m.cfg.Meters {
		if s := m.cfg.Meters[i].Source; s == SourceAuthz || s == SourceAccessLog {
			narrow(m.cfg.Meters[i].Namespace)
		}
	}
	for _, p := range m.cfg.Plans {
		for _, q := range p.Quotas {
			narrow(q.Namespace)
		}
	}
	return w
}

// requestStart returns the time the events of a request starting at start
// get: start itself when it is within the start window around now, else now
// (zero included), counted in tollgate_metering_clamped_times_total. The
// request is happening now, whatever the sender's clock says; an out of
// window start must neither wrap in the spool's encoding nor land in a usage
// window that may already be exported.
func (m *Metering) requestStart(start, now time.Time, src Source) time.Time {
	if start.IsZero() {
		return now
	}
	if start.Before(now.Add(-m.window.past)) || start.After(now.Add(m.window.future)) {
		m.metrics.clamped[src].Inc()
		return now
	}
	return start
}

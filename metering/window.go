package metering

import "time"

// startWindow is how far before and after now a request start may be for an
// event of a namespace to keep it: the namespace's accept window
// (Options.AcceptWindow).
type startWindow struct{ past, future time.Duration }

// newStartWindows returns the accept windows of the namespaces of cfg's
// authz and access_log meters and quotas.
func (m *Metering) newStartWindows() map[string]startWindow {
	w := map[string]startWindow{}
	add := func(namespace string) {
		past, future := m.acceptWindow(namespace)
		w[namespace] = startWindow{past, future}
	}
	for i := range m.cfg.Meters {
		if s := m.cfg.Meters[i].Source; s == SourceAuthz || s == SourceAccessLog {
			add(m.cfg.Meters[i].Namespace)
		}
	}
	for _, p := range m.cfg.Plans {
		for _, q := range p.Quotas {
			add(q.Namespace)
		}
	}
	return w
}

// eventTime returns the time an event of namespace for a request starting
// at start gets: start itself when it is within the namespace's accept
// window around now, else now (zero included), counted in
// tollgate_metering_clamped_times_total. The request is happening now,
// whatever the sender's clock says; an out of window start must neither
// wrap in the spool's encoding nor land in a usage window that may already
// be exported.
func (m *Metering) eventTime(start, now time.Time, namespace string, src Source) time.Time {
	if start.IsZero() {
		return now
	}
	w := m.windows[namespace]
	if start.Before(now.Add(-w.past)) || start.After(now.Add(w.future)) {
		m.metrics.clamped[src].Inc()
		return now
	}
	return start
}

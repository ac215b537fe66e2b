package metering

import (
	"fmt"
	"time"
)

// window is one [start, end) span.
type window struct{ start, end time.Time }

// windows validates a range and splits it into windows aligned in tz.
// closed requires every window to be closed for export. scale multiplies
// the window count for the MaxWindows check.
func (r *Reporter) windows(from, to time.Time, w Window, tz string, scale int, closed bool) ([]window, error) {
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil || tz == "Local" {
			return nil, fmt.Errorf("%w: unknown time zone %q (hint: an IANA name such as UTC or Europe/Berlin)", ErrInvalidQuery, tz)
		}
		loc = l
	}
	var next func(time.Time) time.Time
	var aligned func(time.Time) bool
	switch w {
	case WindowHour:
		next = func(t time.Time) time.Time { return t.Add(time.Hour) }
		aligned = func(t time.Time) bool { return t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 }
	case WindowDay:
		next = func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc) }
		aligned = func(t time.Time) bool { return t.Equal(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)) }
	case WindowMonth:
		next = func(t time.Time) time.Time { return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc) }
		aligned = func(t time.Time) bool { return t.Equal(time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)) }
	default:
		return nil, fmt.Errorf("%w: invalid window %q (valid: hour, day, month)", ErrInvalidQuery, w)
	}
	switch {
	case from.IsZero() || to.IsZero():
		return nil, fmt.Errorf("%w: missing from or to (hint: RFC 3339 times such as 2024-05-01T00:00:00Z)", ErrInvalidQuery)
	case !from.Before(to):
		return nil, fmt.Errorf("%w: from %s is not before to %s (hint: swap them or widen the range)", ErrInvalidQuery, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	from, to = from.In(loc), to.In(loc)
	for _, b := range []struct {
		name string
		t    time.Time
	}{{"from", from}, {"to", to}} {
		if !aligned(b.t) {
			return nil, fmt.Errorf("%w: %s %s is not at the start of a%s in %s (hint: use %s)", ErrInvalidQuery,
				b.name, b.t.Format(time.RFC3339), article(w), loc, floor(b.t, w, loc).Format(time.RFC3339))
		}
	}
	var out []window
	for t := from; t.Before(to); {
		n := next(t)
		out = append(out, window{t, n})
		if len(out)*scale > r.opts.MaxWindows {
			return nil, fmt.Errorf("%w: more than %d windows (hint: use a larger window or a shorter range)", ErrInvalidQuery, r.opts.MaxWindows)
		}
		t = n
	}
	if closed {
		limit := r.opts.Now().Add(-r.opts.ClosedMargin)
		for _, win := range out {
			if win.end.After(limit) {
				closes := win.end.Add(r.opts.ClosedMargin)
				return nil, fmt.Errorf("%w: window %s to %s closes for export at %s (its end plus the %s accept margin) (hint: retry after that, or end the range at %s)",
					ErrWindowOpen, win.start.Format(time.RFC3339), win.end.Format(time.RFC3339), closes.In(loc).Format(time.RFC3339), r.opts.ClosedMargin, win.start.Format(time.RFC3339))
			}
		}
	}
	return out, nil
}

func article(w Window) string {
	if w == WindowHour {
		return "n hour"
	}
	return " " + string(w)
}

// floor returns the start of t's window, for hints.
func floor(t time.Time, w Window, loc *time.Location) time.Time {
	switch w {
	case WindowHour:
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
	case WindowDay:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	}
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
}

package metering

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Bounds of TopQuery.Limit.
const (
	// DefaultTopLimit is the number of tenants Top returns when the query
	// sets no limit.
	DefaultTopLimit = 10
	// MaxTopLimit is the largest limit Top accepts.
	MaxTopLimit = 1000
)

// TopQuery asks for the tenants that used a meter most over a range.
type TopQuery struct {
	Meter string
	// Route, for meters grouped by route, selects one identification route
	// prefix; empty sums all routes.
	Route string
	// From and To bound the range, [From, To); both must be boundaries of
	// Window in TZ.
	From, To time.Time
	Window   Window
	// TZ is the IANA zone windows align to. Default: UTC.
	TZ string
	// Limit is the most tenants returned, 1 to MaxTopLimit. Default:
	// DefaultTopLimit.
	Limit int
}

// TopRow is one tenant's usage over a TopQuery's range.
type TopRow struct {
	Tenant   string `json:"tenant"`
	Quantity int64  `json:"quantity"`
}

// Top returns the configured tenants with usage of the meter in [From,
// To), most first (ties by tenant id), at most Limit of them; tenants
// without usage are left out. It reads one sum per tenant and route over
// the whole range.
func (r *Reporter) Top(ctx context.Context, q TopQuery) ([]TopRow, error) {
	if q.Limit == 0 {
		q.Limit = DefaultTopLimit
	}
	if q.Limit < 1 || q.Limit > MaxTopLimit {
		return nil, fmt.Errorf("%w: limit %d is out of range (hint: 1 to %d)", ErrInvalidQuery, q.Limit, MaxTopLimit)
	}
	mt, err := r.meter(q.Meter)
	if err != nil {
		return nil, err
	}
	routes, err := r.routes(mt, q.Route)
	if err != nil {
		return nil, err
	}
	windows, err := r.windows(q.From, q.To, q.Window, q.TZ, 1, false)
	if err != nil {
		return nil, err
	}
	span := []window{{windows[0].start, windows[len(windows)-1].end}}
	var rows []TopRow
	for i := range r.cfg.Tenants {
		id := r.cfg.Tenants[i].ID
		usage, err := r.sum(ctx, mt, id, routes, span)
		if err != nil {
			return nil, err
		}
		if n := usage[0].Quantity; n != 0 {
			rows = append(rows, TopRow{Tenant: id, Quantity: n})
		}
	}
	slices.SortFunc(rows, func(a, b TopRow) int {
		if c := cmp.Compare(b.Quantity, a.Quantity); c != 0 {
			return c
		}
		return cmp.Compare(a.Tenant, b.Tenant)
	})
	return rows[:min(len(rows), q.Limit)], nil
}

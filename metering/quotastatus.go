package metering

import (
	"context"
	"fmt"
	"time"
)

// QuotaStatus is one monthly quota of a tenant's plan in the current
// calendar month of the quota's zone.
type QuotaStatus struct {
	Name string `json:"name"`
	// Limit is the quota's requests per month.
	Limit int64 `json:"limit"`
	// Used is what the quota's accurate counter holds for the month:
	// requests shipped from the spool so far.
	Used     int64  `json:"used"`
	TimeZone string `json:"time_zone"`
	// MonthStart and MonthEnd bound the month, [MonthStart, MonthEnd).
	MonthStart time.Time `json:"month_start"`
	MonthEnd   time.Time `json:"month_end"`
	// Exhausted says Used reached Limit.
	Exhausted bool `json:"exhausted"`
	// ProjectedExhaustion is when Used reaches Limit if requests keep
	// arriving at the month's average rate so far; nil when the quota is
	// exhausted already, unused, or would last past MonthEnd at that rate.
	ProjectedExhaustion *time.Time `json:"projected_exhaustion"`
}

// QuotaStatusReport is the quotas of a tenant's plan at one instant.
type QuotaStatusReport struct {
	Tenant string        `json:"tenant"`
	Plan   string        `json:"plan"`
	At     time.Time     `json:"at"`
	Quotas []QuotaStatus `json:"quotas"`
}

// QuotaStatus returns each quota of the tenant's plan, in config order,
// as of now (Reporter's clock), reading each quota's counter of the month.
func (r *Reporter) QuotaStatus(ctx context.Context, tenant string) (QuotaStatusReport, error) {
	if err := r.tenant(tenant); err != nil {
		return QuotaStatusReport{}, err
	}
	t := r.cfg.tenants[tenant]
	plan := r.cfg.plans[t.Plan]
	now := r.opts.Now()
	rep := QuotaStatusReport{Tenant: tenant, Plan: t.Plan, At: now.UTC(), Quotas: make([]QuotaStatus, 0, len(plan.Quotas))}
	for i := range plan.Quotas {
		q := &plan.Quotas[i]
		local := now.In(q.Location)
		start := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, q.Location)
		end := start.AddDate(0, 1, 0)
		c := &quotaCount{prefix: tenant + "/" + q.Name + "/", loc: q.Location}
		used, err := r.opts.Reader.Sum(ctx, q.Namespace, c.monthName(start), start, end)
		if err != nil {
			return QuotaStatusReport{}, fmt.Errorf("metering: cannot read quota %q of tenant %q: %w", q.Name, tenant, err)
		}
		st := QuotaStatus{Name: q.Name, Limit: q.RequestsPerMonth, Used: used, TimeZone: q.Location.String(),
			MonthStart: start, MonthEnd: end, Exhausted: used >= q.RequestsPerMonth}
		st.ProjectedExhaustion = projectExhaustion(used, q.RequestsPerMonth, start, end, now)
		rep.Quotas = append(rep.Quotas, st)
	}
	return rep, nil
}

// projectExhaustion returns when used reaches limit at the average rate of
// [start, now), or nil when it has already, nothing was used, or it would
// not before end.
func projectExhaustion(used, limit int64, start, end, now time.Time) *time.Time {
	elapsed := now.Sub(start)
	if used <= 0 || used >= limit || elapsed <= 0 {
		return nil
	}
	secs := elapsed.Seconds() * float64(limit) / float64(used)
	if secs >= end.Sub(start).Seconds() {
		return nil
	}
	at := start.Add(time.Duration(secs * float64(time.Second))).Truncate(time.Second)
	return &at
}

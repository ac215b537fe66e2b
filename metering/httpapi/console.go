package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/tollgate/tollgate/metering"
)

// ConsoleQuerier answers the usage console's queries; *metering.Reporter
// satisfies it.
type ConsoleQuerier interface {
	Top(ctx context.Context, q metering.TopQuery) ([]metering.TopRow, error)
	QuotaStatus(ctx context.Context, tenant string) (metering.QuotaStatusReport, error)
	Catalog() metering.Catalog
}

// TopHandler returns the handler of
//
//	GET /v1/usage/top?meter=M&from=RFC3339&to=RFC3339&window=hour|day|month[&tz=Zone][&route=/prefix/][&limit=N]
//
// It answers {"meter","window","time_zone","from","to","tenants":
// [{"tenant","quantity"}]}: the tenants with usage in [from, to), most
// first, at most limit (default 10, at most 1000).
func TopHandler(q ConsoleQuerier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isGet(w, r) {
			return
		}
		v := r.URL.Query()
		from, to, err := bounds(v)
		if err != nil {
			writeError(w, err)
			return
		}
		tq := metering.TopQuery{Meter: v.Get("meter"), Route: v.Get("route"), From: from, To: to,
			Window: metering.Window(v.Get("window")), TZ: v.Get("tz")}
		if s := v.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				writeError(w, &paramError{`limit "` + s + `" is not a positive integer (hint: 1 to ` + strconv.Itoa(metering.MaxTopLimit) + `)`})
				return
			}
			tq.Limit = n
		}
		rows, err := q.Top(r.Context(), tq)
		if err != nil {
			writeError(w, err)
			return
		}
		tz := tq.TZ
		if tz == "" {
			tz = "UTC"
		}
		writeJSON(w, struct {
			Meter    string            `json:"meter"`
			Window   metering.Window   `json:"window"`
			TimeZone string            `json:"time_zone"`
			From     string            `json:"from"`
			To       string            `json:"to"`
			Tenants  []metering.TopRow `json:"tenants"`
		}{tq.Meter, tq.Window, tz, v.Get("from"), v.Get("to"), nonNil(rows)})
	})
}

// QuotaHandler returns the handler of GET /v1/quota?tenant=T. It answers
// {"tenant","plan","at","quotas":[{"name","limit","used","time_zone",
// "month_start","month_end","exhausted","projected_exhaustion"}]}, one
// entry per quota of the tenant's plan; projected_exhaustion is null when
// the quota is used up, unused, or lasts the month at its rate so far.
func QuotaHandler(q ConsoleQuerier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isGet(w, r) {
			return
		}
		rep, err := q.QuotaStatus(r.Context(), r.URL.Query().Get("tenant"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, rep)
	})
}

// CatalogHandler returns the handler of GET /v1/catalog. It answers
// {"meters":[{"name","unit","source","type"}],"tenants":[{"id","plan"}]};
// a nil q (no metering section) answers both lists empty.
func CatalogHandler(q ConsoleQuerier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isGet(w, r) {
			return
		}
		c := metering.Catalog{Meters: []metering.CatalogMeter{}, Tenants: []metering.CatalogTenant{}}
		if q != nil {
			c = q.Catalog()
		}
		writeJSON(w, c)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// nonNil makes an empty answer a JSON [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

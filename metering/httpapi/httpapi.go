// Package httpapi serves metering's usage and billing-export queries over
// HTTP. The sidecar mounts the handlers on its HTTP listener:
//
//	GET /v1/usage?meter=M&tenant=T&from=RFC3339&to=RFC3339&window=hour|day|month[&tz=Zone][&route=/prefix/]
//	GET /v1/export?meter=M&from=RFC3339&to=RFC3339&window=day|month[&format=csv|jsonl|parquet][&tz=Zone]
//
// Usage answers {"meter","tenant","window","time_zone","rows":[{"window_start",
// "window_end","quantity"}]}; export answers text/csv (the default) or
// application/x-ndjson. Errors are {"error":{"code","message"}}: 400 with
// code invalid_query, unknown_meter or unknown_tenant; 409 window_open (the
// message says when the window closes); 405 for other methods; 500 internal
// for store failures.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/tollgate/tollgate/internal/httperr"
	"github.com/tollgate/tollgate/metering"
)

// Querier answers usage and export queries; *metering.Reporter satisfies it.
type Querier interface {
	Usage(ctx context.Context, q metering.UsageQuery) ([]metering.UsageRow, error)
	Export(ctx context.Context, q metering.ExportQuery, format metering.Format, w io.Writer) error
}

// UsageHandler returns the handler of GET /v1/usage.
func UsageHandler(q Querier) http.Handler {
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
		uq := metering.UsageQuery{Meter: v.Get("meter"), Tenant: v.Get("tenant"), Route: v.Get("route"),
			From: from, To: to, Window: metering.Window(v.Get("window")), TZ: v.Get("tz")}
		rows, err := q.Usage(r.Context(), uq)
		if err != nil {
			writeError(w, err)
			return
		}
		tz := uq.TZ
		if tz == "" {
			tz = "UTC"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Meter    string              `json:"meter"`
			Tenant   string              `json:"tenant"`
			Window   metering.Window     `json:"window"`
			TimeZone string              `json:"time_zone"`
			Rows     []metering.UsageRow `json:"rows"`
		}{uq.Meter, uq.Tenant, uq.Window, tz, rows})
	})
}

// ExportHandler returns the handler of GET /v1/export.
func ExportHandler(q Querier) http.Handler {
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
		format := metering.Format(v.Get("format"))
		if format == "" {
			format = metering.FormatCSV
		}
		eq := metering.ExportQuery{Meter: v.Get("meter"), From: from, To: to, Window: metering.Window(v.Get("window")), TZ: v.Get("tz")}
		// Render into memory so a failure still gets a JSON error.
		var buf bytes.Buffer
		if err := q.Export(r.Context(), eq, format, &buf); err != nil {
			writeError(w, err)
			return
		}
		switch format {
		case metering.FormatJSONL:
			w.Header().Set("Content-Type", "application/x-ndjson")
		case metering.FormatParquet:
			w.Header().Set("Content-Type", "application/vnd.apache.parquet")
		default:
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		}
		_, _ = w.Write(buf.Bytes())
	})
}

func isGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	httperr.Write(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed (hint: use GET)")
	return false
}

// bounds parses from and to as RFC 3339 times other than the zero time.
func bounds(v url.Values) (from, to time.Time, err error) {
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		s := v.Get(p.name)
		if s == "" {
			return from, to, &paramError{p.name + " is missing (hint: an RFC 3339 time such as 2024-05-01T00:00:00Z)"}
		}
		t, perr := time.Parse(time.RFC3339, s)
		if perr != nil {
			return from, to, &paramError{p.name + " " + `"` + s + `" is not an RFC 3339 time (hint: such as 2024-05-01T00:00:00Z; encode "+" as %2B)`}
		}
		if t.IsZero() {
			return from, to, &paramError{p.name + " " + `"` + s + `" is the zero time, which stands for a missing bound (hint: a real time such as 2024-05-01T00:00:00Z)`}
		}
		*p.dst = t
	}
	return from, to, nil
}

// paramError is a malformed query parameter.
type paramError struct{ msg string }

func (e *paramError) Error() string { return e.msg }

// writeError maps query errors to statuses and codes.
func writeError(w http.ResponseWriter, err error) {
	var pe *paramError
	switch {
	case errors.As(err, &pe):
		httperr.Write(w, http.StatusBadRequest, "invalid_query", pe.msg)
	case errors.Is(err, metering.ErrUnknownMeter):
		httperr.Write(w, http.StatusBadRequest, "unknown_meter", err.Error())
	case errors.Is(err, metering.ErrUnknownTenant):
		httperr.Write(w, http.StatusBadRequest, "unknown_tenant", err.Error())
	case errors.Is(err, metering.ErrInvalidQuery):
		httperr.Write(w, http.StatusBadRequest, "invalid_query", err.Error())
	case errors.Is(err, metering.ErrWindowOpen):
		httperr.Write(w, http.StatusConflict, "window_open", err.Error())
	default:
		httperr.Write(w, http.StatusInternalServerError, "internal", err.Error())
	}
}

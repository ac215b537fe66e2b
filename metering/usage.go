package metering

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sentinels of query errors; messages say what to fix. The HTTP handlers
// answer 400 for the first three and 409 for ErrWindowOpen.
var (
	// ErrInvalidQuery marks a malformed query: a missing or bad parameter,
	// from not before to, unaligned bounds, too many windows.
	ErrInvalidQuery = errors.New("metering: invalid query")
	// ErrUnknownMeter marks a meter that is not configured.
	ErrUnknownMeter = errors.New("metering: unknown meter")
	// ErrUnknownTenant marks a tenant that is not configured.
	ErrUnknownTenant = errors.New("metering: unknown tenant")
	// ErrWindowOpen marks an export that reaches a window not closed yet.
	ErrWindowOpen = errors.New("metering: window still open")
)

// UsageReader sums a counter's event deltas with from <= Time < to;
// counter.EventStore.Sum satisfies it.
type UsageReader interface {
	Sum(ctx context.Context, namespace, counterName string, from, to time.Time) (int64, error)
}

// Window is the length of usage windows.
type Window string

// Windows.
const (
	WindowHour  Window = "hour"
	WindowDay   Window = "day"
	WindowMonth Window = "month"
)

// Format is an export format.
type Format string

// Export formats.
const (
	// FormatCSV is RFC 4180 CSV with a header line.
	FormatCSV Format = "csv"
	// FormatJSONL is one JSON object per line.
	FormatJSONL Format = "jsonl"
	// FormatParquet is an Apache Parquet file with the CSV's columns;
	// window bounds are UTC timestamps in milliseconds.
	FormatParquet Format = "parquet"
)

// DefaultMaxWindows bounds the windows of one query.
const DefaultMaxWindows = 10000

// ReporterOptions configures NewReporter.
type ReporterOptions struct {
	// Config is the parsed metering section. Required.
	Config *Config
	// Reader sums the meters' counters. Required.
	Reader UsageReader
	// ClosedMargin is how long after its end a window is closed for export:
	// the durable counters' accept limit plus the allowed clock skew, so no
	// event can still arrive for it. Default: 0.
	ClosedMargin time.Duration
	// MaxWindows bounds the windows of one query (times tenants for
	// exports). Default: DefaultMaxWindows.
	MaxWindows int
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Reporter answers usage queries and billing exports. It is safe for
// concurrent use.
type Reporter struct {
	opts ReporterOptions
	cfg  *Config
}

// NewReporter returns a Reporter.
func NewReporter(opts ReporterOptions) (*Reporter, error) {
	var errs []error
	if opts.Config == nil {
		errs = append(errs, errors.New("metering: ReporterOptions.Config is nil (hint: pass the result of ParseConfig)"))
	}
	if opts.Reader == nil {
		errs = append(errs, errors.New("metering: ReporterOptions.Reader is nil (hint: pass the durable counter store)"))
	}
	if opts.ClosedMargin < 0 || opts.MaxWindows < 0 {
		errs = append(errs, errors.New("metering: ReporterOptions.ClosedMargin and MaxWindows must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.MaxWindows == 0 {
		opts.MaxWindows = DefaultMaxWindows
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Reporter{opts: opts, cfg: opts.Config}, nil
}

// UsageQuery asks for a meter's usage by one tenant per window.
type UsageQuery struct {
	Meter, Tenant string
	// Route, for meters grouped by route, selects one identification route
	// prefix; empty sums all routes.
	Route string
	// From and To bound the query, [From, To); both must be window
	// boundaries in TZ.
	From, To time.Time
	Window   Window
	// TZ is the IANA zone windows align to. Default: UTC.
	TZ string
}

// UsageRow is one window of usage; times are in the query's zone.
type UsageRow struct {
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Quantity    int64     `json:"quantity"`
}

// Usage returns one row per window of [From, To), oldest first, zero rows
// included. Open windows report what is stored so far.
func (r *Reporter) Usage(ctx context.Context, q UsageQuery) ([]UsageRow, error) {
	mt, err := r.meter(q.Meter)
	if err != nil {
		return nil, err
	}
	if err := r.tenant(q.Tenant); err != nil {
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
	return r.sum(ctx, mt, q.Tenant, routes, windows)
}

// ExportQuery asks for a billing export of one meter: every configured
// tenant, every window of [From, To).
type ExportQuery struct {
	Meter    string
	From, To time.Time
	// Window is day or month.
	Window Window
	// TZ is the IANA zone windows align to. Default: UTC.
	TZ string
	// Tenants, when not empty, keeps only these tenants' rows (ids that are
	// not configured match nothing): the export of a tenant-restricted
	// credential. Default: every configured tenant.
	Tenants []string
}

// ExportRow is one row of a billing export.
type ExportRow struct {
	Tenant      string    `json:"tenant"`
	Meter       string    `json:"meter"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Quantity    int64     `json:"quantity"`
	Unit        string    `json:"unit"`
	// RowID is a stable hash of tenant, meter and window, for idempotent
	// import.
	RowID string `json:"row_id"`
}

// Export writes one row per configured tenant (sorted by id) and window to
// w in format. Every window must be closed: its end at most now minus
// ClosedMargin; otherwise the error wraps ErrWindowOpen and says when the
// first open window closes. Nothing is written when the query fails.
func (r *Reporter) Export(ctx context.Context, q ExportQuery, format Format, w io.Writer) error {
	if format != FormatCSV && format != FormatJSONL && format != FormatParquet {
		return fmt.Errorf("%w: invalid format %q (valid: csv, jsonl, parquet)", ErrInvalidQuery, format)
	}
	if q.Window != WindowDay && q.Window != WindowMonth {
		return fmt.Errorf("%w: invalid export window %q (valid: day, month)", ErrInvalidQuery, q.Window)
	}
	mt, err := r.meter(q.Meter)
	if err != nil {
		return err
	}
	tenants := make([]string, 0, len(r.cfg.tenants))
	for id := range r.cfg.tenants {
		if len(q.Tenants) == 0 || slices.Contains(q.Tenants, id) {
			tenants = append(tenants, id)
		}
	}
	sort.Strings(tenants)
	windows, err := r.windows(q.From, q.To, q.Window, q.TZ, max(1, len(tenants)), true)
	if err != nil {
		return err
	}
	routes, _ := r.routes(mt, "")
	var rows []ExportRow
	for _, t := range tenants {
		usage, err := r.sum(ctx, mt, t, routes, windows)
		if err != nil {
			return err
		}
		for _, u := range usage {
			rows = append(rows, ExportRow{Tenant: t, Meter: mt.Name, WindowStart: u.WindowStart, WindowEnd: u.WindowEnd,
				Quantity: u.Quantity, Unit: mt.Unit, RowID: rowID(t, mt.Name, u.WindowStart, u.WindowEnd)})
		}
	}
	switch format {
	case FormatParquet:
		return writeParquet(w, rows)
	case FormatJSONL:
		enc := json.NewEncoder(w)
		for i := range rows {
			if err := enc.Encode(&rows[i]); err != nil {
				return fmt.Errorf("metering: cannot write export: %w", err)
			}
		}
		return nil
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"tenant", "meter", "window_start", "window_end", "quantity", "unit", "row_id"})
	for _, row := range rows {
		_ = cw.Write([]string{row.Tenant, row.Meter, row.WindowStart.Format(time.RFC3339), row.WindowEnd.Format(time.RFC3339),
			strconv.FormatInt(row.Quantity, 10), row.Unit, row.RowID})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("metering: cannot write export: %w", err)
	}
	return nil
}

// rowID hashes tenant, meter and the window's bounds (as UTC instants).
func rowID(tenant, meter string, start, end time.Time) string {
	h := sha256.Sum256([]byte(tenant + "\x00" + meter + "\x00" + start.UTC().Format(time.RFC3339) + "\x00" + end.UTC().Format(time.RFC3339)))
	return hex.EncodeToString(h[:16])
}

func (r *Reporter) meter(name string) (*Meter, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: missing meter (hint: one of %s)", ErrInvalidQuery, r.meterNames())
	}
	mt := r.cfg.meters[name]
	if mt == nil {
		return nil, fmt.Errorf("%w %q (hint: one of %s)", ErrUnknownMeter, name, r.meterNames())
	}
	return mt, nil
}

func (r *Reporter) meterNames() string {
	names := make([]string, 0, len(r.cfg.Meters))
	for _, m := range r.cfg.Meters {
		names = append(names, m.Name)
	}
	if len(names) == 0 {
		return "the meters in config (none configured)"
	}
	return strings.Join(names, ", ")
}

func (r *Reporter) tenant(id string) error {
	if id == "" {
		return fmt.Errorf("%w: missing tenant (hint: the tenant id from config)", ErrInvalidQuery)
	}
	if r.cfg.tenants[id] == nil {
		return fmt.Errorf("%w %q (hint: use a tenant id from config)", ErrUnknownTenant, id)
	}
	return nil
}

// routes returns the route prefixes whose counters a query sums: [""]
// (the tenant counter) for meters not grouped by route.
func (r *Reporter) routes(mt *Meter, route string) ([]string, error) {
	if !mt.GroupByRoute {
		if route != "" {
			return nil, fmt.Errorf("%w: meter %q is not grouped by route (hint: drop route)", ErrInvalidQuery, mt.Name)
		}
		return []string{""}, nil
	}
	all := r.cfg.routes()
	if route == "" {
		return all, nil
	}
	for _, p := range all {
		if p == route {
			return []string{p}, nil
		}
	}
	return nil, fmt.Errorf("%w: unknown route %q (hint: one of the identification path prefixes: %s)", ErrInvalidQuery, route, strings.Join(all, ", "))
}

// routes returns every route prefix events can carry: the identification
// prefixes, and "" when no rule covers "/".
func (c *Config) routes() []string {
	var out []string
	root := false
	for _, r := range c.Identification {
		out = append(out, r.PathPrefix)
		root = root || r.PathPrefix == "/"
	}
	if !root {
		out = append(out, "")
	}
	return out
}

// sum reads a tenant's usage per window.
func (r *Reporter) sum(ctx context.Context, mt *Meter, tenant string, routes []string, windows []window) ([]UsageRow, error) {
	rows := make([]UsageRow, 0, len(windows))
	for _, w := range windows {
		var total int64
		for _, route := range routes {
			n, err := r.opts.Reader.Sum(ctx, mt.Namespace, mt.counterName(tenant, route), w.start, w.end)
			if err != nil {
				return nil, fmt.Errorf("metering: cannot read usage of meter %q for tenant %q: %w", mt.Name, tenant, err)
			}
			total += n
		}
		rows = append(rows, UsageRow{WindowStart: w.start, WindowEnd: w.end, Quantity: total})
	}
	return rows, nil
}

package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/counter"
)

// Defaults of Options.
const (
	DefaultBatchSize       = 500
	DefaultFlushInterval   = 500 * time.Millisecond
	DefaultRetryMinBackoff = 100 * time.Millisecond
	DefaultRetryMaxBackoff = 30 * time.Second
	DefaultShipTimeout     = 10 * time.Second
	DefaultCloseTimeout    = 5 * time.Second
)

// Options configures Open. The zero value of a field means its default.
type Options struct {
	// Dir is the spool's directory. Required.
	Dir string
	// FS is the filesystem; tests pass vfs.NewMem() or an errorfs wrapper.
	// Default: vfs.Default (the OS filesystem).
	FS vfs.FS
	// Sink receives the spooled events. Required.
	Sink Sink
	// BatchSize is the most events per Sink.Ship call. Default:
	// DefaultBatchSize.
	BatchSize int
	// FlushInterval is how long an event waits at most before the shipper
	// runs; a full batch starts it at once. Default: DefaultFlushInterval.
	FlushInterval time.Duration
	// RetryMinBackoff is the wait after the first failed shipment; it doubles
	// per failure up to RetryMaxBackoff. Defaults: DefaultRetryMinBackoff,
	// DefaultRetryMaxBackoff.
	RetryMinBackoff time.Duration
	RetryMaxBackoff time.Duration
	// ShipTimeout bounds one Sink.Ship call. Default: DefaultShipTimeout.
	ShipTimeout time.Duration
	// CloseTimeout bounds the final flush of Run and Close.
	// Default: DefaultCloseTimeout.
	CloseTimeout time.Duration
	// OnAck, when set, is called by the shipper after the Sink acknowledged
	// events and before they are deleted; it must not keep the slice.
	OnAck func(events []counter.Event)
	// Now is the clock for the lag metric. Default: time.Now.
	Now func() time.Time
	// Logger receives ship errors (at most one per backoff step).
	// Default: a logger that discards.
	Logger *slog.Logger
	// Registerer receives the spool's metrics. Default: a private registry.
	Registerer prometheus.Registerer
	// TracerProvider, when set, makes a span of each shipment
	// (tollgate.metering.spool.ship), the parent of the Sink's spans.
	// Default: nil, no spans.
	TracerProvider trace.TracerProvider
}

// EnsureDefaults fills the zero fields of o with their defaults.
func (o *Options) EnsureDefaults() {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.RetryMinBackoff == 0 {
		o.RetryMinBackoff = DefaultRetryMinBackoff
	}
	if o.RetryMaxBackoff == 0 {
		o.RetryMaxBackoff = DefaultRetryMaxBackoff
	}
	if o.ShipTimeout == 0 {
		o.ShipTimeout = DefaultShipTimeout
	}
	if o.CloseTimeout == 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
}

// Validate reports every problem of o in one error. Call it after
// EnsureDefaults.
func (o *Options) Validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("metering/spool: Options.Dir is empty (hint: a directory under the data directory)"))
	}
	if o.Sink == nil {
		errs = append(errs, errors.New("metering/spool: Options.Sink is nil (hint: pass the durable counter writer)"))
	}
	if o.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("metering/spool: Options.BatchSize %d is negative (hint: 0 for the default %d)", o.BatchSize, DefaultBatchSize))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"FlushInterval", o.FlushInterval}, {"RetryMinBackoff", o.RetryMinBackoff}, {"RetryMaxBackoff", o.RetryMaxBackoff},
		{"ShipTimeout", o.ShipTimeout}, {"CloseTimeout", o.CloseTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("metering/spool: Options.%s %s is negative (hint: 0 for the default)", d.name, d.v))
		}
	}
	if o.RetryMaxBackoff < o.RetryMinBackoff {
		errs = append(errs, fmt.Errorf("metering/spool: Options.RetryMaxBackoff %s is below RetryMinBackoff %s", o.RetryMaxBackoff, o.RetryMinBackoff))
	}
	return errors.Join(errs...)
}

package tracing

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"
)

// DefaultShutdownTimeout is the default of Options.ShutdownTimeout.
const DefaultShutdownTimeout = 5 * time.Second

// Options configure New.
type Options struct {
	// Endpoint is the OTLP/gRPC collector as host:port. Required unless
	// Exporter is set.
	Endpoint string
	// TLS secures the connection to the collector. Default: nil, plaintext.
	TLS *tls.Config
	// SamplingRatio is the share of root spans kept, from 0 (none) to 1
	// (all); spans with a parent follow the parent's decision. The zero
	// value keeps no root span: callers fill in their own default.
	SamplingRatio float64
	// ServiceName is the resource attribute service.name. Default: tollgate.
	ServiceName string
	// ServiceVersion is the resource attribute service.version. Default:
	// none.
	ServiceVersion string
	// ShutdownTimeout bounds Close's last export. Default:
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Exporter replaces the OTLP exporter (tests pass
	// tracetest.NewInMemoryExporter()). Default: OTLP/gRPC to Endpoint.
	Exporter sdktrace.SpanExporter
}

// EnsureDefaults fills the zero fields of o with their defaults.
func (o *Options) EnsureDefaults() {
	if o.ServiceName == "" {
		o.ServiceName = "tollgate"
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
}

// Validate reports every problem of o in one error. Call it after
// EnsureDefaults.
func (o *Options) Validate() error {
	var errs []error
	if o.Endpoint == "" && o.Exporter == nil {
		errs = append(errs, errors.New("tracing: Options.Endpoint is empty (hint: the collector's host:port, such as otel-collector:4317)"))
	}
	if !(o.SamplingRatio >= 0 && o.SamplingRatio <= 1) { // also refuses NaN
		errs = append(errs, fmt.Errorf("tracing: Options.SamplingRatio %v is not from 0 to 1 (hint: 0.01 keeps one root span in 100)", o.SamplingRatio))
	}
	if o.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("tracing: Options.ShutdownTimeout %s is negative (hint: 0 for the default %s)", o.ShutdownTimeout, DefaultShutdownTimeout))
	}
	return errors.Join(errs...)
}

// Provider is the sidecar's tracer provider and its exporter. It is safe
// for concurrent use.
type Provider struct {
	tp      *sdktrace.TracerProvider
	timeout time.Duration

	closeOnce sync.Once
	closeErr  error
}

// New builds a provider that exports to opts.Endpoint. It does not wait
// for the collector: spans that cannot be exported are dropped, and the
// SDK reports the failure to its error handler.
func New(opts Options) (*Provider, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	exp := opts.Exporter
	if exp == nil {
		creds := otlptracegrpc.WithInsecure()
		if opts.TLS != nil {
			creds = otlptracegrpc.WithTLSCredentials(credentials.NewTLS(opts.TLS))
		}
		var err error
		// New only builds the client: the connection is made lazily.
		if exp, err = otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(opts.Endpoint), creds); err != nil {
			return nil, fmt.Errorf("tracing: cannot build the OTLP exporter for %s: %w", opts.Endpoint, err)
		}
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", opts.ServiceName)}
	if opts.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", opts.ServiceVersion))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(opts.SamplingRatio))),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
	)
	return &Provider{tp: tp, timeout: opts.ShutdownTimeout}, nil
}

// TracerProvider returns the provider to pass to the components.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tp }

// Close exports the spans still queued, within Options.ShutdownTimeout,
// and stops the exporter. Later calls return the first call's error.
func (p *Provider) Close() error {
	p.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
		defer cancel()
		if err := p.tp.Shutdown(ctx); err != nil {
			p.closeErr = fmt.Errorf("tracing: cannot flush the last spans: %w", err)
		}
	})
	return p.closeErr
}

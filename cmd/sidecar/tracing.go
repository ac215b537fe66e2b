package main

import (
	"log/slog"
	"runtime/debug"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate/tollgate/internal/lifecycle"
	"github.com/tollgate/tollgate/internal/settings"
	"github.com/tollgate/tollgate/internal/tracing"
)

// tracingOptions translates the tracing section; nil when tracing is off.
// Reading the TLS files here makes bad ones fail check-config too.
func tracingOptions(t *settings.Tracing) (*tracing.Options, error) {
	if !t.On() {
		return nil, nil
	}
	tlsCfg, err := t.TLSConfig()
	if err != nil {
		return nil, err
	}
	opts := &tracing.Options{Endpoint: t.OTLPEndpoint, TLS: tlsCfg, SamplingRatio: t.Ratio(), ServiceName: t.ServiceName}
	if bi, ok := debug.ReadBuildInfo(); ok {
		opts.ServiceVersion = bi.Main.Version
	}
	return opts, nil
}

// startTracing builds the planned tracer provider and adds it to g first,
// so it closes last and exports the spans of the drain; it returns nil
// when tracing is off, and the components then make no spans. The SDK
// reports failed exports to the process's OpenTelemetry error handler,
// which logs them.
func startTracing(p *plan, g *lifecycle.Group, logger *slog.Logger) (trace.TracerProvider, error) {
	if p.tracing == nil {
		return nil, nil
	}
	log := logger.With("component", "tracing")
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("cannot export spans", "err", err) }))
	prov, err := tracing.New(*p.tracing)
	if err != nil {
		return nil, err
	}
	g.Defer("tracing", prov.Close)
	log.Info("exporting traces", "otlp_endpoint", p.tracing.Endpoint, "tls", p.tracing.TLS != nil, "sampling_ratio", p.tracing.SamplingRatio)
	return prov.TracerProvider(), nil
}

package settings

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Tracing configures the OpenTelemetry traces, exported over OTLP/gRPC.
type Tracing struct {
	// OTLPEndpoint is the collector's OTLP/gRPC address, host:port.
	// Default: empty, and tracing is off.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// Insecure sends the spans in plaintext. Default: false (TLS).
	Insecure bool `yaml:"insecure"`
	// TLS configures the TLS connection to the collector. Default: the
	// system's roots, no client certificate.
	TLS ClientTLS `yaml:"tls"`
	// SamplingRatio is the share of root spans kept, from 0 to 1; a span
	// whose parent came from Envoy follows Envoy's decision. Default: 1.
	SamplingRatio *Ratio `yaml:"sampling_ratio"`
	// ServiceName is the service.name of the spans. Default: tollgate.
	ServiceName string `yaml:"service_name"`
}

// DefaultSamplingRatio is the default of Tracing.SamplingRatio: every
// root span, as the OpenTelemetry SDK's default sampler.
const DefaultSamplingRatio = 1.0

// Ratio is a number from 0 to 1.
type Ratio float64

// UnmarshalText reads a decimal number from 0 to 1.
func (r *Ratio) UnmarshalText(text []byte) error {
	v, err := strconv.ParseFloat(string(text), 64)
	if err != nil || !(v >= 0 && v <= 1) {
		return fmt.Errorf("must be a number from 0 to 1, got %q (hint: 0.01 keeps one root span in 100, 1 keeps all)", text)
	}
	*r = Ratio(v)
	return nil
}

// On reports whether tracing is on: a collector is set.
func (t *Tracing) On() bool { return t.OTLPEndpoint != "" }

// Ratio returns the sampling ratio, DefaultSamplingRatio when unset.
func (t *Tracing) Ratio() float64 {
	if t.SamplingRatio == nil {
		return DefaultSamplingRatio
	}
	return float64(*t.SamplingRatio)
}

// TLSConfig returns the TLS configuration of the collector connection,
// with its files loaded, or nil when Insecure. Errors name the setting.
func (t *Tracing) TLSConfig() (*tls.Config, error) {
	switch {
	case t.Insecure && t.TLS.set():
		return nil, errors.New("tracing.tls: " + tracingTLSInsecure)
	case t.Insecure:
		return nil, nil
	}
	return t.TLS.config("tracing.tls")
}

// tracingTLSInsecure is the problem of tracing.tls settings with
// tracing.insecure.
const tracingTLSInsecure = "set while tracing.insecure is true, which sends spans in plaintext (hint: remove tracing.insecure to use TLS, or remove tracing.tls)"

// check reports the problems of the tracing section.
func (t *Tracing) check(report func(path, msg string)) {
	if !t.On() {
		if t.Insecure || t.TLS.set() || t.SamplingRatio != nil || t.ServiceName != "" {
			report("tracing.otlp_endpoint", "missing while other tracing settings are set, so tracing is off (hint: the collector's OTLP/gRPC host:port, such as otel-collector:4317)")
		}
		return
	}
	if problem := endpointProblem(t.OTLPEndpoint); problem != "" {
		report("tracing.otlp_endpoint", problem)
	}
	if t.Insecure && t.TLS.set() {
		report("tracing.tls", tracingTLSInsecure)
	}
	t.TLS.check("tracing.tls", report)
}

// endpointProblem describes what is wrong with a collector address, or
// returns "" when it is a good host:port.
func endpointProblem(ep string) string {
	if strings.Contains(ep, "://") {
		return fmt.Sprintf("%q has a scheme; write host:port (hint: otel-collector:4317; set tracing.insecure: true for plaintext)", ep)
	}
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		return fmt.Sprintf("%q is not host:port (hint: otel-collector:4317, or [::1]:4317 for IPv6)", ep)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("%q has port %q, want a number from 1 to 65535 (hint: OTLP/gRPC listens on 4317)", ep, port)
	}
	if host == "" {
		return fmt.Sprintf("%q has no host (hint: 127.0.0.1%s for a collector on this machine)", ep, ep)
	}
	return ""
}

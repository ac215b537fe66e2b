package settings

import (
	"path/filepath"
	"testing"
)

func TestLoadTracing(t *testing.T) {
	f := func(body string, wantOn bool, wantRatio float64) *Settings {
		t.Helper()
		s, err := Load(writeFile(t, body))
		if err != nil {
			t.Fatal(err)
		}
		if s.Tracing.On() != wantOn || s.Tracing.Ratio() != wantRatio {
			t.Errorf("%q: On %v Ratio %v, want %v %v", body, s.Tracing.On(), s.Tracing.Ratio(), wantOn, wantRatio)
		}
		return s
	}
	f("grpc_addr: 127.0.0.1:9999\n", false, DefaultSamplingRatio)
	f("tracing:\n  otlp_endpoint: otel:4317\n", true, 1)
	f("tracing:\n  otlp_endpoint: otel:4317\n  sampling_ratio: 0\n", true, 0)
	s := f("tracing:\n  otlp_endpoint: '[::1]:4317'\n  insecure: true\n  sampling_ratio: 0.25\n  service_name: edge\n", true, 0.25)
	if cfg, err := s.Tracing.TLSConfig(); cfg != nil || err != nil || s.Tracing.ServiceName != "edge" {
		t.Errorf("insecure: TLSConfig() = %v, %v; service name %q", cfg, err, s.Tracing.ServiceName)
	}
	s = f("tracing:\n  otlp_endpoint: otel:4317\n  tls:\n    ca_file: ca.pem\n", true, 1)
	if want := filepath.Join(filepath.Dir(s.File), "ca.pem"); s.Tracing.TLS.CAFile != want {
		t.Errorf("tracing.tls.ca_file = %q, want %q (relative to the file)", s.Tracing.TLS.CAFile, want)
	}
	if _, err := s.Tracing.TLSConfig(); err == nil || err.Error() != "tracing.tls.ca_file: cannot read the CA bundle: open "+s.Tracing.TLS.CAFile+": no such file or directory (hint: a PEM file of the CA certificates that sign the server's certificate)" {
		t.Errorf("TLSConfig() error = %v", err)
	}
}

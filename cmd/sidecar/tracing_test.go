package main

import (
	"context"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	rlcommon "github.com/envoyproxy/go-control-plane/envoy/extensions/common/ratelimit/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/tollgate/tollgate/internal/settings"
	"github.com/tollgate/tollgate/internal/sidecartest"
)

// collector is an OTLP/gRPC trace collector on loopback that keeps every
// span it receives, with its resource's service.name.
type collector struct {
	collectorpb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []collected
}

// collected is one received span.
type collected struct {
	service string
	span    *tracepb.Span
}

func (c *collector) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				c.spans = append(c.spans, collected{service, sp})
			}
		}
	}
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

// named returns the received spans named name.
func (c *collector) named(name string) []collected {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []collected
	for _, s := range c.spans {
		if s.span.GetName() == name {
			out = append(out, s)
		}
	}
	return out
}

// startCollector serves a collector on a free loopback port until the
// test ends.
func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	srv := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(srv, c)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return c, lis.Addr().String()
}

// TestTracesExported runs the built sidecar with tracing on, to a
// collector in the test: one RLS call and one Check, each in a trace
// Envoy started, reach the collector as spans of those traces (on the
// drain's flush), with the backend's span under the decision's.
func TestTracesExported(t *testing.T) {
	bin, cleanup, err := sidecartest.Build()
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	col, addr := startCollector(t)
	quickstart, err := os.ReadFile(filepath.Join(sidecartest.RepoRoot, "examples/quickstart/sidecar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(quickstart), "config: ../ratelimit", "config: "+filepath.Join(sidecartest.RepoRoot, "examples/ratelimit"), 1) +
		"\ntracing:\n  otlp_endpoint: " + addr + "\n  insecure: true\n  sampling_ratio: 0\n"
	cfgPath := filepath.Join(t.TempDir(), "sidecar.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := sidecartest.Start(t, bin, cfgPath)
	conn, err := grpc.NewClient(p.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// Sampling ratio 0: only the calls in a trace Envoy sampled make spans.
	const (
		rlsTrace, rlsParent     = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
		checkTrace, checkParent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "traceparent", "00-"+rlsTrace+"-"+rlsParent+"-01")
	req := &rlsv3.RateLimitRequest{Domain: "quickstart", Descriptors: []*rlcommon.RateLimitDescriptor{{
		Entries: []*rlcommon.RateLimitDescriptor_Entry{{Key: "remote_address", Value: "10.0.0.1"}},
	}}}
	if _, err := rlsv3.NewRateLimitServiceClient(conn).ShouldRateLimit(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := rlsv3.NewRateLimitServiceClient(conn).ShouldRateLimit(t.Context(), req); err != nil { // unsampled root
		t.Fatal(err)
	}
	check := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Id: "req-1", Method: "GET", Path: "/v1/things", Headers: map[string]string{
			"x-api-key": "acme-demo-key", "x-request-id": "req-1", "traceparent": "00-" + checkTrace + "-" + checkParent + "-01",
		}},
	}}}
	resp, err := authv3.NewAuthorizationClient(conn).Check(t.Context(), check)
	if err != nil || resp.GetStatus().GetCode() != 0 {
		t.Fatalf("Check = %v, %v; want allowed", resp.GetStatus(), err)
	}
	p.Stop(t, syscall.SIGTERM) // the drain flushes the queued spans

	hexID := func(b []byte) string { return hex.EncodeToString(b) }
	rls := col.named("envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit")
	if len(rls) != 1 || hexID(rls[0].span.GetTraceId()) != rlsTrace || hexID(rls[0].span.GetParentSpanId()) != rlsParent || rls[0].service != "tollgate" {
		t.Fatalf("RLS spans %v, want one in trace %s under %s from service tollgate", rls, rlsTrace, rlsParent)
	}
	applies := col.named("tollgate.besteffort.Apply")
	var underRLS int
	for _, a := range applies {
		if hexID(a.span.GetParentSpanId()) == hexID(rls[0].span.GetSpanId()) {
			underRLS++
		}
	}
	if underRLS != 1 {
		t.Errorf("%d backend spans under the RLS span, want 1 (of %d)", underRLS, len(applies))
	}
	checks := col.named("envoy.service.auth.v3.Authorization/Check")
	if len(checks) != 1 || hexID(checks[0].span.GetTraceId()) != checkTrace || hexID(checks[0].span.GetParentSpanId()) != checkParent {
		t.Fatalf("Check spans %v, want one in trace %s under %s", checks, checkTrace, checkParent)
	}
	var tenant string
	for _, kv := range checks[0].span.GetAttributes() {
		if kv.GetKey() == "tollgate.tenant" {
			tenant = kv.GetValue().GetStringValue()
		}
	}
	if tenant != "acme" {
		t.Errorf("Check span tenant %q, want acme", tenant)
	}
}

// TestTracingPlan: tracing is planned only with an endpoint, and a TLS
// file that does not load fails the plan (so check-config) with the
// setting's name.
func TestTracingPlan(t *testing.T) {
	f := func(tr settings.Tracing) (*plan, error) {
		t.Helper()
		s := &settings.Settings{DataDir: t.TempDir(), Tracing: tr}
		s.EnsureDefaults()
		return newPlan(s)
	}
	p, err := f(settings.Tracing{})
	if err != nil || p.tracing != nil {
		t.Errorf("no endpoint: plan %+v, %v; want tracing off", p.tracing, err)
	}
	half := settings.Ratio(0.5)
	p, err = f(settings.Tracing{OTLPEndpoint: "otel:4317", Insecure: true, SamplingRatio: &half, ServiceName: "edge"})
	if err != nil || p.tracing == nil || p.tracing.Endpoint != "otel:4317" || p.tracing.TLS != nil || p.tracing.SamplingRatio != 0.5 || p.tracing.ServiceName != "edge" {
		t.Errorf("insecure: plan %+v, %v", p.tracing, err)
	}
	p, err = f(settings.Tracing{OTLPEndpoint: "otel:4317"})
	if err != nil || p.tracing == nil || p.tracing.TLS == nil || p.tracing.SamplingRatio != 1 {
		t.Errorf("TLS by default: plan %+v, %v", p.tracing, err)
	}
	_, err = f(settings.Tracing{OTLPEndpoint: "otel:4317", TLS: settings.ClientTLS{CAFile: "/nonexistent/ca.pem"}})
	want := "tracing.tls.ca_file: cannot read the CA bundle: open /nonexistent/ca.pem: no such file or directory (hint: a PEM file of the CA certificates that sign the server's certificate)"
	if err == nil || err.Error() != want {
		t.Errorf("missing CA file: %v, want %q", err, want)
	}
}

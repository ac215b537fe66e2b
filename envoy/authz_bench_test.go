package envoy

import (
	"context"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/tollgate/tollgate/internal/tracing"
	"github.com/tollgate/tollgate/metering"
)

// staticAuthorizer allows every request for tenant acme, as a metering
// Check that identified it does.
type staticAuthorizer struct{}

var staticHeaders = []metering.Header{{Key: "x-tenant-id", Value: "acme"}, {Key: "x-tollgate-plan", Value: "demo"}}

func (staticAuthorizer) Check(_ context.Context, _ *metering.CheckRequest, res *metering.CheckResult) {
	*res = metering.CheckResult{Allowed: true, Status: 200, TenantID: "acme", Plan: "demo", UpstreamHeaders: staticHeaders}
}

// checkBenchRequest is a Check of a request in a trace Envoy sampled.
func checkBenchRequest() *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Id: "req-1", Method: "GET", Path: "/v1/things", Headers: map[string]string{
			"x-api-key": "acme-demo-key", "x-request-id": "req-1", "traceparent": "00-" + envoyTrace + "-" + envoySpan + "-01",
		}},
	}}}
}

// checkAllocs are the allocations of one Check without tracing: the
// response, its messages and the slice of its two upstream headers.
const checkAllocs = 10

// BenchmarkCheckAdapter measures the ext_authz translation around a
// decision that costs nothing, without tracing and with every span kept
// (ratio 1, the batch processor, an exporter that drops the batches).
func BenchmarkCheckAdapter(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchCheck(b, NewAuthorizationServer(staticAuthorizer{}, nil)) })
	b.Run("on_ratio_1", func(b *testing.B) {
		p, err := tracing.New(tracing.Options{SamplingRatio: 1, Exporter: tracetest.NewNoopExporter()})
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		benchCheck(b, NewAuthorizationServer(staticAuthorizer{}, p.TracerProvider()))
	})
}

func benchCheck(b *testing.B, s *AuthorizationServer) {
	in := checkBenchRequest()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Check(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

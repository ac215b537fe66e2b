package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	alsv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rlqsv3 "github.com/envoyproxy/go-control-plane/envoy/service/rate_limit_quota/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"github.com/prometheus/client_golang/prometheus"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	"github.com/tollgate/tollgate/counter/counterpb"
	"github.com/tollgate/tollgate/internal/apiauth"
	"github.com/tollgate/tollgate/internal/lifecycle"
	"github.com/tollgate/tollgate/internal/tlsconf"
	"github.com/tollgate/tollgate/metering"
)

// newGuard builds the API guard of the settings: tokens and client
// certificate identities, the namespaces the meters and quotas own, the
// audit log on logger.
func newGuard(p *plan, logger *slog.Logger) (*apiauth.Guard, error) {
	return apiauth.New(p.settings.APIAuth, apiauth.Options{
		PeerIdentities: tlsconf.PeerIdentities,
		Logger:         logger,
		BillingOwner: func(ns string) (string, bool) {
			owner, ok := p.billingOwners[ns]
			return owner, ok
		},
	})
}

// startTLS loads a listener's certificates when its block turns TLS on,
// watches them for rotation in g and returns the server TLS config; nil
// when TLS is off.
func startTLS(cfg tlsconf.Config, listener string, g *lifecycle.Group, logger *slog.Logger, reg prometheus.Registerer) (*tls.Config, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	src, err := tlsconf.New(tlsconf.Options{Config: cfg, Listener: listener, Logger: logger, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", listener, err)
	}
	g.Go(listener+" tls", src.Run, src.Close)
	return src.TLSConfig(), nil
}

// grpcNeeds is what each gRPC service needs of its caller: the counter
// API checks each namespace's scope itself, the Envoy-facing services
// take the Envoy identities, health and reflection are open. Any other
// service is refused.
var grpcNeeds = apiauth.ByService(map[string]apiauth.Need{
	counterpb.CounterService_ServiceDesc.ServiceName:           apiauth.Credential,
	rlsv3.RateLimitService_ServiceDesc.ServiceName:             apiauth.EnvoyPeer,
	rlqsv3.RateLimitQuotaService_ServiceDesc.ServiceName:       apiauth.EnvoyPeer,
	authv3.Authorization_ServiceDesc.ServiceName:               apiauth.EnvoyPeer,
	alsv3.AccessLogService_ServiceDesc.ServiceName:             apiauth.EnvoyPeer,
	healthpb.Health_ServiceDesc.ServiceName:                    apiauth.Open,
	reflectionv1.ServerReflection_ServiceDesc.ServiceName:      apiauth.Open,
	reflectionv1alpha.ServerReflection_ServiceDesc.ServiceName: apiauth.Open,
})

// need returns a route's constant need.
func need(n apiauth.Need) func(*http.Request) apiauth.Need {
	return func(*http.Request) apiauth.Need { return n }
}

// usageNeed: /v1/usage needs usage:read of the tenant asked for.
func usageNeed(r *http.Request) apiauth.Need {
	return apiauth.Needs(apiauth.UsageScope(r.URL.Query().Get("tenant")))
}

// exportNeed: /v1/export needs an export scope of the meter asked for;
// the rows are then narrowed to the caller's tenants (guardedReporter).
func exportNeed(r *http.Request) apiauth.Need {
	return apiauth.Needs(apiauth.ExportScope(r.URL.Query().Get("meter"), ""))
}

// guardedReporter narrows each export to the tenants the caller may see
// and writes an audit line for it.
type guardedReporter struct {
	*metering.Reporter
	guard *apiauth.Guard
}

// Export runs q with only the rows of the caller's tenants.
func (r guardedReporter) Export(ctx context.Context, q metering.ExportQuery, format metering.Format, w io.Writer) error {
	tenants, all := apiauth.FromContext(ctx).ExportTenants(q.Meter)
	if !all {
		if len(tenants) == 0 {
			// Only a query without a meter gets here (exportNeed admitted it).
			return fmt.Errorf("%w: meter is missing (hint: meter=<name>)", metering.ErrInvalidQuery)
		}
		q.Tenants = tenants
	}
	scope := "*"
	if !all {
		scope = strings.Join(tenants, ",")
	}
	r.guard.Audit(ctx, apiauth.ActionExport, slog.String("meter", q.Meter), slog.String("tenants", scope),
		slog.Time("from", q.From), slog.Time("to", q.To), slog.String("window", string(q.Window)), slog.String("format", string(format)))
	return r.Reporter.Export(ctx, q, format, w)
}

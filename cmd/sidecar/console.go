package main

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/console"
	"github.com/tollgate/tollgate/internal/apiauth"
	"github.com/tollgate/tollgate/metering/httpapi"
)

// mountConsole mounts the usage console on the HTTP mux: the page under
// /ui/ and the process metrics it shows at /v1/stats (open, as /metrics
// is), the catalog of meters and tenants at /v1/catalog and, with metering
// (meter not nil), the top tenants at /v1/usage/top (these two list every
// tenant: usage:read:*), and a tenant's quota status at /v1/quota
// (usage:read of that tenant).
func mountConsole(mux *http.ServeMux, meter *meteringService, g prometheus.Gatherer, guard *apiauth.Guard) {
	mux.Handle(console.Prefix, console.Handler())
	mux.Handle("/v1/stats", console.StatsHandler(g, time.Now))
	allTenants := need(apiauth.Needs(apiauth.UsageScope("*")))
	if meter == nil {
		mux.Handle("/v1/catalog", guard.Require(httpapi.CatalogHandler(nil), allTenants))
		return
	}
	mux.Handle("/v1/catalog", guard.Require(httpapi.CatalogHandler(meter.reporter), allTenants))
	mux.Handle("/v1/usage/top", guard.Require(httpapi.TopHandler(meter.reporter), allTenants))
	mux.Handle("/v1/quota", guard.Require(httpapi.QuotaHandler(meter.reporter), usageNeed))
}

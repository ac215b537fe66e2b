package main

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/console"
	"github.com/tollgate/tollgate/metering/httpapi"
)

// mountConsole mounts the usage console on the HTTP mux: the page under
// /ui/, the process metrics it shows at /v1/stats, the catalog of meters
// and tenants at /v1/catalog, and, with metering (meter not nil), the top
// tenants at /v1/usage/top and the quota status at /v1/quota.
func mountConsole(mux *http.ServeMux, meter *meteringService, g prometheus.Gatherer) {
	mux.Handle(console.Prefix, console.Handler())
	mux.Handle("/v1/stats", console.StatsHandler(g, time.Now))
	if meter == nil {
		mux.Handle("/v1/catalog", httpapi.CatalogHandler(nil))
		return
	}
	mux.Handle("/v1/catalog", httpapi.CatalogHandler(meter.reporter))
	mux.Handle("/v1/usage/top", httpapi.TopHandler(meter.reporter))
	mux.Handle("/v1/quota", httpapi.QuotaHandler(meter.reporter))
}

package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/internal/apiauth"
)

// TestMountConsoleWithoutMetering: without a metering section the page, the
// stats and an empty catalog are served, and the metering-only APIs are not.
func TestMountConsoleWithoutMetering(t *testing.T) {
	mux := http.NewServeMux()
	guard, err := apiauth.New(apiauth.Config{}, apiauth.Options{}) // no api_auth: open, as on loopback
	if err != nil {
		t.Fatal(err)
	}
	mountConsole(mux, nil, prometheus.NewRegistry(), guard)
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/ui/", 200, ""},
		{"/v1/stats", 200, ""},
		{"/v1/catalog", 200, `{"meters":[],"tenants":[]}` + "\n"},
		{"/v1/usage/top", 404, "404 page not found\n"},
		{"/v1/quota", 404, "404 page not found\n"},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.status || (tc.body != "" && rec.Body.String() != tc.body) {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, rec.Code, rec.Body.String(), tc.status, tc.body)
		}
	}
}

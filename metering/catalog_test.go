package metering

import (
	"reflect"
	"testing"
	"time"
)

func TestCatalog(t *testing.T) {
	r := usageReporter(t, time.Now())
	want := Catalog{
		Meters: []CatalogMeter{
			{Name: "requests", Unit: "request", Source: "authz", Type: "accurate"},
			{Name: "egress_bytes", Unit: "byte", Source: "access_log", Type: "eventual"},
		},
		Tenants: []CatalogTenant{{ID: "beta", Plan: "p"}, {ID: "acme", Plan: "p"}},
	}
	if got := r.Catalog(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

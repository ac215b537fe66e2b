package metering

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestRefundNotServed checks that a request Check admitted but Envoy did not
// serve (a later filter answered 429) is billed by no meter and uses no
// quota, that a replayed entry refunds once, and that entries Check never
// admitted refund nothing.
func TestRefundNotServed(t *testing.T) {
	h := newHarness(t, quickstart(t), time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC))
	start := h.clock.Now()
	const admitted, rejected = 9, 4
	var entries []AccessLogEntry
	for i := range admitted {
		id := "r" + strconv.Itoa(i)
		if res := h.check(t, "GET", "/v1/things", id, acmeKey); !res.Allowed {
			t.Fatalf("check %d denied: %d %s", i, res.Status, res.Body)
		}
		e := AccessLogEntry{Tenant: "acme", Plan: "demo", Method: "GET", Path: "/v1/things", Status: 200,
			ResponseBodyBytes: 100, RequestID: id, Start: start}
		if i >= admitted-rejected {
			e.Status, e.ResponseBodyBytes, e.NotServed = 429, 18, true
		}
		entries = append(entries, e)
	}
	forged := []AccessLogEntry{
		// Rejected before any Check: no plan header, or a plan the tenant is not on.
		{Tenant: "acme", Method: "GET", Path: "/v1/things", Status: 429, RequestID: "f1", Start: start, NotServed: true},
		{Tenant: "acme", Plan: "gold", Method: "GET", Path: "/v1/things", Status: 429, RequestID: "f2", Start: start, NotServed: true},
	}
	for range 2 { // the second time is a replay
		if err := h.m.RecordAccessLog(t.Context(), append(entries, forged...)...); err != nil {
			t.Fatal(err)
		}
	}
	h.flush(t)
	const served = admitted - rejected
	if got := h.sum(t, "requests", "acme"); got != served {
		t.Errorf("requests = %d, want %d", got, served)
	}
	if got := h.sum(t, DefaultQuotaNamespace, "acme/monthly/2024-05"); got != served {
		t.Errorf("quota count = %d, want %d", got, served)
	}
	if got := h.sum(t, "egress_bytes", "acme"); got != served*100 {
		t.Errorf("egress_bytes = %d, want %d (local replies are not billed)", got, served*100)
	}
}

// TestRefundFreesQuota checks that a refund gives the request back to the
// quota at once, before the next refresh.
func TestRefundFreesQuota(t *testing.T) {
	h := newHarness(t, fmt.Sprintf(quotaDoc, 3, "UTC"), time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC))
	if allowed, _ := h.checkN(t, 3, "a"); allowed != 3 {
		t.Fatalf("allowed %d of 3", allowed)
	}
	if res := h.check(t, "POST", "/v1/x", "b0", acmeKey); res.Status != 429 {
		t.Fatalf("fourth check = %d, want 429", res.Status)
	}
	e := AccessLogEntry{Tenant: "acme", Plan: "p", Method: "POST", Path: "/v1/x", Status: 429, RequestID: "a0",
		Start: h.clock.Now(), NotServed: true}
	if err := h.m.RecordAccessLog(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if res := h.check(t, "POST", "/v1/x", "b1", acmeKey); !res.Allowed {
		t.Fatalf("check after the refund = %d %s, want allowed", res.Status, res.Body)
	}
	h.flush(t)
	if got := h.sum(t, DefaultQuotaNamespace, "acme/monthly/2024-05"); got != 3 {
		t.Errorf("quota count = %d, want 3", got)
	}
	if res := h.check(t, "POST", "/v1/x", "b2", acmeKey); res.Status != 429 {
		t.Errorf("check after refresh = %d, want 429", res.Status)
	}
}

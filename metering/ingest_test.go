package metering

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate/tollgate/ratelimit/rlqs"
)

const ingestDoc = `metering:
  tenants:
    - {id: acme, plan: p, api_keys: ["sha256:8676d15d94dabdd1283e6c407e2bb08a7b5c13b4e3667d4795c17172e080a3d4"]}
    - {id: beta, plan: p}
  plans: [{name: p}]
  meters:
    - {name: llm_tokens, source: events, event_type: com.example.llm, value: $.usage.tokens, unit: token}
    - {name: llm_calls, source: events, event_type: com.example.llm, value: requests}
    - {name: mesh_requests, source: rlqs, value: requests, domain: quickstart}
`

func TestRecordEvents(t *testing.T) {
	h := newHarness(t, ingestDoc, time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	now := h.clock.Now()
	ok := func(id, tenant string, tokens int) IngestEvent {
		return IngestEvent{ID: id, Source: "svc-a", Type: "com.example.llm", Subject: tenant, Time: now.Add(-time.Second),
			Data: []byte(fmt.Sprintf(`{"usage":{"tokens":%d}}`, tokens))}
	}
	batch := []IngestEvent{
		ok("e1", "acme", 100),
		ok("e2", "acme", 50),
		{ID: "e3", Source: "svc-a", Type: "com.example.other", Subject: "acme", Time: now},
		ok("e4", "nobody", 7),
		{ID: "e5", Source: "svc-a", Type: "com.example.llm", Subject: "acme", Time: now.Add(-time.Minute), Data: []byte(`{"usage":{"tokens":1}}`)},
		{ID: "e6", Source: "svc-a", Type: "com.example.llm", Subject: "acme", Time: now, Data: []byte(`{"usage":{"tokens":1.5}}`)},
		{ID: "e7", Source: "svc-a", Type: "com.example.llm", Subject: "acme", Time: now, Data: []byte(`{"other":1}`)},
		{ID: "e8", Source: "svc-a", Type: "com.example.llm", Subject: "acme"},
		ok("e9", "beta", 30),
		{ID: "e10", Source: "svc-a", Type: "com.example.llm", Subject: "acme", Time: now.Add(time.Minute), Data: []byte(`{"usage":{"tokens":1}}`)},
	}
	want := []EventError{
		{Index: 2, ID: "e3", Code: "unknown_type", Message: `no meter counts events of type "com.example.other" (hint: one of "com.example.llm")`},
		{Index: 3, ID: "e4", Code: "unknown_tenant", Message: `subject "nobody" is not a configured tenant`},
		{Index: 4, ID: "e5", Code: "time_out_of_range", Message: `time 2026-12-03T11:59:00Z is more than 5s before now, the accept_limit of namespace "llm_tokens" (hint: send events sooner, or raise counters.namespaces.llm_tokens.accept_limit)`},
		{Index: 5, ID: "e6", Code: "invalid_data", Message: `meter "llm_tokens": $.usage.tokens is 1.5, not a whole number from 0 to 2^53`},
		{Index: 6, ID: "e7", Code: "invalid_data", Message: `meter "llm_tokens": data has no $.usage`},
		{Index: 7, ID: "e8", Code: "missing_time", Message: "missing time (hint: set the event's time: with id and source it makes a resent event count once)"},
		{Index: 9, ID: "e10", Code: "time_out_of_range", Message: `time 2026-12-03T12:01:00Z is more than 1s after now, the future_limit of namespace "llm_tokens" (hint: check the sender's clock)`},
	}
	for range 2 { // the second time is a resend: it counts once
		got, err := h.m.RecordEvents(t.Context(), batch)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("errors\n got %+v\nwant %+v", got, want)
		}
	}
	h.flush(t)
	for _, c := range []struct {
		ns, tenant string
		want       int64
	}{{"llm_tokens", "acme", 150}, {"llm_calls", "acme", 2}, {"llm_tokens", "beta", 30}, {"llm_calls", "beta", 1}, {"llm_tokens", "nobody", 0}} {
		if got := h.sum(t, c.ns, c.tenant); got != c.want {
			t.Errorf("%s/%s = %d, want %d", c.ns, c.tenant, got, c.want)
		}
	}
}

// TestRecordEventsWindow: the accept window comes from Options.AcceptWindow
// per namespace.
func TestRecordEventsWindow(t *testing.T) {
	h := newHarness(t, ingestDoc, time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), func(o *Options) {
		o.AcceptWindow = func(string) (time.Duration, time.Duration) { return time.Hour, time.Minute }
	})
	now := h.clock.Now()
	got, err := h.m.RecordEvents(t.Context(), []IngestEvent{
		{ID: "a", Source: "s", Type: "com.example.llm", Subject: "acme", Time: now.Add(-59 * time.Minute), Data: []byte(`{"usage":{"tokens":3}}`)},
		{ID: "b", Source: "s", Type: "com.example.llm", Subject: "acme", Time: now.Add(-61 * time.Minute), Data: []byte(`{"usage":{"tokens":3}}`)},
	})
	if err != nil || len(got) != 1 || got[0].Index != 1 || got[0].Code != "time_out_of_range" {
		t.Fatalf("got %+v, %v; want only event 1 refused as time_out_of_range", got, err)
	}
	h.flush(t)
	if n := h.sum(t, "llm_tokens", "acme"); n != 3 {
		t.Errorf("llm_tokens = %d, want 3", n)
	}
}

// TestRecordRLQS: what RLQS reports allowed becomes one event per bucket and
// report, for the tenant in the bucket; a report handed over twice counts
// once; other domains and unknown tenants count nothing.
func TestRecordRLQS(t *testing.T) {
	h := newHarness(t, ingestDoc, time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	now := h.clock.Now()
	usage := []rlqs.Allowed{
		{Domain: "quickstart", Bucket: map[string]string{"tenant": "acme", "path": "/a"}, Requests: 40, Stream: "s1", Seq: 1, Time: now},
		{Domain: "quickstart", Bucket: map[string]string{"tenant": "acme", "path": "/b"}, Requests: 2, Stream: "s1", Seq: 1, Time: now},
		{Domain: "quickstart", Bucket: map[string]string{"tenant": "acme", "path": "/a"}, Requests: 10, Stream: "s1", Seq: 2, Time: now.Add(5 * time.Second)},
		{Domain: "quickstart", Bucket: map[string]string{"tenant": "acme", "path": "/a"}, Requests: 5, Stream: "s2", Seq: 1, Time: now},
		{Domain: "other", Bucket: map[string]string{"tenant": "acme"}, Requests: 1000, Stream: "s1", Seq: 1, Time: now},
		{Domain: "quickstart", Bucket: map[string]string{"tenant": "nobody"}, Requests: 1000, Stream: "s1", Seq: 1, Time: now},
	}
	for range 2 {
		if err := h.m.RecordRLQS(t.Context(), usage); err != nil {
			t.Fatal(err)
		}
	}
	h.flush(t)
	if got := h.sum(t, "mesh_requests", "acme"); got != 57 {
		t.Errorf("mesh_requests/acme = %d, want 57", got)
	}
}

func TestIngestMeterConfigErrors(t *testing.T) {
	_, err := parseSection(t, "sidecar.yaml", `metering:
  tenants: [{id: acme, plan: p}]
  plans: [{name: p}]
  meters:
    - {name: a, source: events, value: $.tokens}
    - {name: b, source: events, event_type: t, value: "$.x[0]"}
    - {name: c, source: rlqs, value: response_bytes}
    - {name: d, source: authz, value: requests, event_type: t}
    - {name: e, source: events, event_type: t, value: requests, filters: {methods: [GET]}}
`)
	want := `sidecar.yaml:5:7: metering.meters[0]: missing event_type (hint: the CloudEvents type this meter counts, such as com.example.llm.completion)
sidecar.yaml:6:55: metering.meters[1].value: invalid value "$.x[0]" for an events meter (valid: requests, or a path such as $.tokens or $.usage.output_tokens)
sidecar.yaml:7:38: metering.meters[2].value: invalid value "response_bytes" for an rlqs meter (valid: requests: RLQS reports count requests)
sidecar.yaml:8:61: metering.meters[3].event_type: event_type applies only to source events
sidecar.yaml:9:74: metering.meters[4].filters: filters applies only to sources authz and access_log (hint: an events meter counts every event of its tenant)`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
}

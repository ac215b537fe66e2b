package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/metering"
)

// fakeRecorder accepts every event but those whose subject is "refuse".
type fakeRecorder struct{ got []metering.IngestEvent }

func (f *fakeRecorder) RecordEvents(_ context.Context, events []metering.IngestEvent) ([]metering.EventError, error) {
	f.got = append(f.got, events...)
	var bad []metering.EventError
	for i, e := range events {
		if e.Subject == "refuse" {
			bad = append(bad, metering.EventError{Index: i, ID: e.ID, Code: "unknown_tenant", Message: `subject "refuse" is not a configured tenant`})
		}
	}
	return bad, nil
}

func ce(id, subject string) string {
	return `{"specversion":"1.0","id":"` + id + `","source":"svc","type":"t","subject":"` + subject + `","time":"2026-12-03T12:00:00Z","datacontenttype":"application/json","data":{"tokens":5}}`
}

func TestEventsHandler(t *testing.T) {
	for _, tc := range []struct {
		name, method, ctype, body string
		status                    int
		answer                    string
		recorded                  int
	}{
		{"one event", "POST", "application/cloudevents+json", ce("e1", "acme"), 200, `{"accepted":1}`, 1},
		{"a batch, two refused", "POST", "application/cloudevents-batch+json",
			"[" + ce("e1", "acme") + `,{"id":"e2","source":"svc","type":"t"},` + ce("e3", "refuse") + "," + ce("e4", "acme") + "]", 400,
			`{"error":{"code":"invalid_events","message":"2 of 4 events refused, listed in errors by index; the others are accepted (hint: fix and resend them; resending accepted ones counts them once)"},"accepted":2,"errors":[{"index":1,"code":"invalid_event","message":"not a CloudEvents 1.0 event: specversion: no specversion"},{"index":2,"id":"e3","code":"unknown_tenant","message":"subject \"refuse\" is not a configured tenant"}]}`, 3},
		{"a JSON array as application/json", "POST", "application/json", "[" + ce("e1", "acme") + "]", 200, `{"accepted":1}`, 1},
		{"malformed", "POST", "application/cloudevents-batch+json", "[{", 400,
			`{"error":{"code":"invalid_json","message":"the body is not a JSON array of events: unexpected end of JSON input (hint: a batch is [event, ...])"}}`, 0},
		{"wrong type", "POST", "text/plain", ce("e1", "acme"), 415,
			`{"error":{"code":"unsupported_media_type","message":"content type \"text/plain\" is not CloudEvents JSON (hint: application/cloudevents+json for one event, application/cloudevents-batch+json for a batch)"}}`, 0},
		{"too many", "POST", "application/cloudevents-batch+json", "[" + strings.Repeat("{},", MaxEventsBatch) + "{}]", 413,
			`{"error":{"code":"batch_too_large","message":"1001 events in one batch, at most 1000 (hint: send smaller batches)"}}`, 0},
		{"too big", "POST", "application/cloudevents+json", `{"data":"` + strings.Repeat("x", MaxEventsBody) + `"}`, 413,
			`{"error":{"code":"body_too_large","message":"the body is over 4194304 bytes (hint: send smaller batches)"}}`, 0},
		{"GET", "GET", "", "", 405, `{"error":{"code":"method_not_allowed","message":"GET is not allowed (hint: use POST)"}}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fakeRecorder{}
			req := httptest.NewRequest(tc.method, "/v1/events", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			w := httptest.NewRecorder()
			EventsHandler(rec).ServeHTTP(w, req)
			if w.Code != tc.status || strings.TrimSpace(w.Body.String()) != tc.answer || len(rec.got) != tc.recorded {
				t.Fatalf("got %d %s (%d recorded)\nwant %d %s (%d recorded)", w.Code, w.Body.String(), len(rec.got), tc.status, tc.answer, tc.recorded)
			}
			if tc.status == http.StatusOK && rec.got[0].Subject != "acme" || (tc.recorded > 0 && string(rec.got[0].Data) != `{"tokens":5}`) {
				t.Errorf("recorded %+v", rec.got[0])
			}
		})
	}
}

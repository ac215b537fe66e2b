package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/counter/global"
	"github.com/tollgate/tollgate/internal/httperr"
)

// fakeCounters answers every call with count 7.
type fakeCounters struct{}

func (fakeCounters) AddCount(context.Context, string, string, int64, global.IdempotencyToken) error {
	return nil
}
func (fakeCounters) AddAndGetCount(context.Context, string, string, int64, global.IdempotencyToken) (int64, error) {
	return 7, nil
}
func (fakeCounters) GetCount(context.Context, string, string) (int64, error) { return 7, nil }
func (fakeCounters) ClearCount(context.Context, string, string, global.IdempotencyToken) error {
	return nil
}
func (fakeCounters) BatchAdd(context.Context, []global.AddRequest) error { return nil }

// serve sends one request to the HTTP API over fakeCounters.
func serve(method, path, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	NewServer(fakeCounters{}, Options{}).Handler().ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec
}

func TestHTTPErrors(t *testing.T) {
	f := func(name, method, path, body string, status int, allow, code, message string) {
		t.Helper()
		rec := serve(method, path, body)
		want := string(httperr.Body(code, message)) + "\n"
		if rec.Code != status || rec.Body.String() != want || rec.Header().Get("Allow") != allow {
			t.Errorf("%s: %d Allow %q %s\nwant %d Allow %q %s", name, rec.Code, rec.Header().Get("Allow"), rec.Body, status, allow, want)
		}
	}
	f("GET on a POST endpoint", http.MethodGet, "/v1/counter/add", "", 405, "POST", "method_not_allowed",
		"GET /v1/counter/add is not served; use POST with a JSON body")
	f("unknown operation", http.MethodPost, "/v1/counter/nope", "{}", 404, "", "not_found",
		"no counter operation POST /v1/counter/nope; use POST /v1/counter/add, addAndGet, get, clear or batchAdd")
	f("body over the limit", http.MethodPost, "/v1/counter/batchAdd", `{"requests":[`+strings.Repeat(" ", maxBody)+`]}`, 413, "", "body_too_large",
		"body too large: the body is over the limit of 8388608 bytes (split a batch into smaller ones)")
	f("malformed", http.MethodPost, "/v1/counter/get", `{"namespace":1}`, 400, "", "invalid_argument",
		"bad request: malformed JSON body: json: cannot unmarshal number into Go struct field jsonRequest.namespace of type string")
}

package envoy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzJSONHandler posts arbitrary bodies to /json: each gets a JSON answer
// with 200, 400 or 429, and never a panic.
func FuzzJSONHandler(f *testing.F) {
	f.Add([]byte(`{"domain":"bench","descriptors":[{"entries":[{"key":"hot","value":"k"}]}]}`))
	f.Add([]byte(`{"domain":"bench","descriptors":[{"entries":[{"key":"over","value":"x"}],"limit":{"requests_per_unit":1,"unit":"SECOND"},"hits_addend":7}],"hits_addend":2}`))
	h := newTestServer(f).JSONHandler()
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/json", bytes.NewReader(body)))
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusTooManyRequests:
		default:
			t.Fatalf("/json %q: status %d %s", body, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("/json %q: answer %q is not JSON", body, rec.Body)
		}
	})
}

package api

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzHTTPBodies posts arbitrary bodies to every operation: each gets a
// JSON answer with a status the API documents, and never a panic.
func FuzzHTTPBodies(f *testing.F) {
	f.Add(uint8(0), []byte(`{"namespace":"n","counter_name":"c","delta":1,"idempotency_token":{"token":"t","generation_time":"2026-01-01T00:00:00Z"}}`))
	f.Add(uint8(4), []byte(`{"requests":[{"namespace":"n","counter_name":"c","delta":-9223372036854775808}]}`))
	paths := []string{"add", "addAndGet", "get", "clear", "batchAdd"}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		path := "/v1/counter/" + paths[int(op)%len(paths)]
		rec := serve(http.MethodPost, path, string(body))
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest:
		default:
			t.Fatalf("POST %s %q: status %d", path, body, rec.Code)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("POST %s %q: answer %q is not JSON", path, body, rec.Body)
		}
	})
}

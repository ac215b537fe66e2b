package httperr

import (
	"net/http/httptest"
	"testing"
)

func TestBodyAndWrite(t *testing.T) {
	if got := string(Body("not_found", `no "x" <here>`)); got != `{"error":{"code":"not_found","message":"no \"x\" \u003chere\u003e"}}` {
		t.Fatalf("Body = %s", got)
	}
	rec := httptest.NewRecorder()
	Write(rec, 404, "not_found", "gone")
	if rec.Code != 404 || rec.Header().Get("Content-Type") != "application/json" ||
		rec.Body.String() != `{"error":{"code":"not_found","message":"gone"}}`+"\n" {
		t.Fatalf("Write = %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
}

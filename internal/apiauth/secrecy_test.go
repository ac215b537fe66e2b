package apiauth

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// No token or hash appears in an error body, an audit line or a
// validation error, whatever the caller sends.
func TestNoSecretsInOutput(t *testing.T) {
	g, log := newTestGuard(t, testConfig)
	var out bytes.Buffer
	h := testMux(g)
	tokens := []string{tokOps, tokReader, tokAcme, tokExporter, tokBilling, "wrong-token-0123456789abcdef"}
	for _, tok := range tokens {
		for _, authz := range []string{"Bearer " + tok, tok, "Basic " + tok, "Bearer " + tok + " x", "Bearer  " + tok} {
			for _, target := range []string{"/v1/usage?tenant=zzz", "/v1/export?meter=m", "/json", "/v2/x", "/v1/counter/clear"} {
				req := httptest.NewRequest(http.MethodGet, target, nil)
				req.Header.Set("Authorization", authz)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code >= 400 {
					out.Write(rec.Body.Bytes())
				}
				if p, err := g.Authenticate(authz, nil); err != nil {
					out.WriteString(err.Error())
				} else {
					ctx := WithPrincipal(context.Background(), p)
					for _, ns := range []string{"requests", "plain"} {
						if err := g.CheckCounter(ctx, CounterClear, ns, "c"); err != nil {
							out.WriteString(err.Error())
						}
					}
					g.Audit(ctx, ActionExport, slog.String("meter", "requests"))
				}
			}
		}
	}
	bad := Config{Tokens: []Token{{Name: "a", Hash: tokOps, Scopes: []string{"admin"}}, {Name: "b", ClearText: tokAcme, Hash: "sha256:" + tokReader, Scopes: []string{"admin"}}}}
	out.WriteString(bad.Validate().Error())
	if log.Len() == 0 || out.Len() == 0 {
		t.Fatal("nothing was written")
	}
	all := out.String() + log.String()
	for _, tok := range tokens {
		hash := HashToken(tok)
		for _, secret := range []string{tok, hash, strings.TrimPrefix(hash, "sha256:")[:16]} {
			if strings.Contains(all, secret) {
				t.Errorf("output holds %q", secret)
			}
		}
	}
}

func TestAudit(t *testing.T) {
	g, log := newTestGuard(t, testConfig)
	p, _ := g.Authenticate("Bearer "+tokExporter, nil)
	g.Audit(WithPrincipal(context.Background(), p), ActionExport, slog.String("meter", "requests"), slog.String("window", "month"))
	g.Audit(context.Background(), ActionExport, slog.String("meter", "bytes"))
	want := "time=2026-12-01T10:30:00.000Z level=INFO msg=audit component=audit action=export principal=exporter meter=requests window=month\n" +
		"time=2026-12-01T10:30:00.000Z level=INFO msg=audit component=audit action=export principal=(none) meter=bytes\n"
	if log.String() != want {
		t.Fatalf("audit:\n%s\nwant\n%s", log, want)
	}
	// A logger above INFO writes nothing.
	var quiet bytes.Buffer
	q, err := New(testConfig, Options{Logger: slog.New(slog.NewTextHandler(&quiet, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	q.Audit(context.Background(), ActionExport)
	if quiet.Len() != 0 {
		t.Fatalf("quiet logger got %q", quiet.String())
	}
}

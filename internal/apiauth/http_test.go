package apiauth

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/httperr"
)

// Clear-text test tokens; the guard is configured with their hashes.
const (
	tokOps      = "ops-token-0123456789abcdef"
	tokReader   = "reader-token-0123456789ab"
	tokAcme     = "acme-token-0123456789abcd"
	tokExporter = "exporter-token-0123456789"
	tokBilling  = "billing-token-0123456789a"
)

var testConfig = Config{
	Tokens: []Token{
		{Name: "ops", Hash: HashToken(tokOps), Scopes: []string{"admin"}},
		{Name: "reader", Hash: HashToken(tokReader), Scopes: []string{"counters:read:*"}},
		{Name: "acme", Hash: HashToken(tokAcme), Scopes: []string{"usage:read:acme", "export:requests:acme"}},
		{Name: "exporter", Hash: HashToken(tokExporter), Scopes: []string{"export:*"}},
		{Name: "billing", Hash: HashToken(tokBilling), Scopes: []string{"counters:write:*", "counters:clear:requests", "counters:write-billing"}},
	},
	Identities: []Identity{
		{Identity: "spiffe://example.org/ns/tenants/*", Scopes: []string{"usage:read:*"}},
		{Identity: "reader.internal", Scopes: []string{"counters:read:*"}},
	},
	EnvoyIdentities: []string{"spiffe://example.org/ns/edge/sa/envoy"},
}

// fakePeer reads a test connection's peer identities from its ServerName
// (space-separated), standing in for the TLS layer's PeerIdentities.
func fakePeer(cs *tls.ConnectionState) []string { return strings.Fields(cs.ServerName) }

var testNow = time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)

func newTestGuard(t *testing.T, cfg Config) (*Guard, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	g, err := New(cfg, Options{
		PeerIdentities: fakePeer,
		Logger:         slog.New(slog.NewTextHandler(&log, nil)),
		Now:            func() time.Time { return testNow },
		BillingOwner: func(ns string) (string, bool) {
			switch ns {
			case "requests":
				return `meter "requests"`, true
			case "quotas":
				return "the quotas", true
			}
			return "", false
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return g, &log
}

// testMux is the sidecar's routes behind g, with handlers that echo the
// principal and its tenant view.
func testMux(g *Guard) http.Handler {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := FromContext(r.Context())
		u, uAll := p.UsageTenants()
		e, eAll := p.ExportTenants(r.URL.Query().Get("meter"))
		fmt.Fprintf(w, "principal=%s usage=%v/%v export=%v/%v\n", p.Name(), u, uAll, e, eAll)
	})
	mux := http.NewServeMux()
	mux.Handle("/healthz", g.Require(echo, func(*http.Request) Need { return Open }))
	mux.Handle("/v1/usage", g.Require(echo, func(r *http.Request) Need { return Needs(UsageScope(r.URL.Query().Get("tenant"))) }))
	mux.Handle("/v1/export", g.Require(echo, func(r *http.Request) Need { return Needs(ExportScope(r.URL.Query().Get("meter"), "")) }))
	mux.Handle("/v1/counter/", g.Require(echo, func(*http.Request) Need { return Credential }))
	mux.Handle("/json", g.Require(echo, func(*http.Request) Need { return Needs(Admin) }))
	mux.Handle("/", g.Require(echo, func(*http.Request) Need { return Need{} }))
	return mux
}

type httpCase struct {
	name   string
	target string
	authz  []string // Authorization header values
	peer   string   // space-separated client certificate identities; "" is no TLS
	status int
	body   string // exact body; for errors the message of the JSON error body
}

func runHTTPCases(t *testing.T, h http.Handler, cases []httpCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, c.target, nil)
			for _, a := range c.authz {
				req.Header.Add("Authorization", a)
			}
			if c.peer != "" {
				req.TLS = &tls.ConnectionState{ServerName: c.peer}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			want := c.body
			wantAuthn := ""
			switch c.status {
			case http.StatusUnauthorized:
				want = string(httperr.Body("unauthenticated", c.body)) + "\n"
				wantAuthn = `Bearer realm="tollgate"`
			case http.StatusForbidden:
				want = string(httperr.Body("permission_denied", c.body)) + "\n"
			}
			if rec.Code != c.status || rec.Body.String() != want || rec.Header().Get("WWW-Authenticate") != wantAuthn {
				t.Errorf("%s: %d %q (WWW-Authenticate %q)\nwant %d %q (%q)", c.target, rec.Code, rec.Body.String(),
					rec.Header().Get("WWW-Authenticate"), c.status, want, wantAuthn)
			}
			if c.status >= 400 && rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", rec.Header().Get("Content-Type"))
			}
		})
	}
}

const (
	msgNoCreds   = `no credentials: send "Authorization: Bearer <token>" or a client certificate api_auth lists`
	msgMalformed = `the Authorization header is not "Bearer <token>" (one space, then one token of visible ASCII characters)`
	msgBadToken  = `the bearer token is not one api_auth.tokens lists`
	msgBadCert   = `the client certificate's identity is not one api_auth.identities lists`
)

func TestRequire(t *testing.T) {
	g, _ := newTestGuard(t, testConfig)
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	runHTTPCases(t, testMux(g), []httpCase{
		{"open route, no credentials", "/healthz", nil, "", 200, "principal=(none) usage=[]/false export=[]/false\n"},
		{"open route, bad token ignored", "/healthz", bearer("nope"), "", 200, "principal=(none) usage=[]/false export=[]/false\n"},
		{"no credentials", "/v1/usage?tenant=acme", nil, "", 401, msgNoCreds},
		{"empty header", "/v1/usage?tenant=acme", []string{""}, "", 401, msgNoCreds},
		{"basic scheme", "/v1/usage?tenant=acme", []string{"Basic dXNlcjpwYXNz"}, "", 401, msgMalformed},
		{"two spaces", "/v1/usage?tenant=acme", []string{"Bearer  " + tokAcme}, "", 401, msgMalformed},
		{"two tokens", "/v1/usage?tenant=acme", []string{"Bearer " + tokAcme + " " + tokOps}, "", 401, msgMalformed},
		{"two headers", "/v1/usage?tenant=acme", []string{"Bearer " + tokAcme, "Bearer " + tokAcme}, "", 401, "2 Authorization values; send one"},
		{"unknown token", "/v1/usage?tenant=acme", bearer("acme-token-0123456789abcX"), "", 401, msgBadToken},
		{"own tenant", "/v1/usage?tenant=acme", []string{"bearer " + tokAcme}, "", 200, "principal=acme usage=[acme]/false export=[]/false\n"},
		{"other tenant", "/v1/usage?tenant=globex", bearer(tokAcme), "", 403, `credential "acme" lacks the scope usage:read:globex`},
		{"cross-tenant view narrowed", "/v1/usage", bearer(tokAcme), "", 200, "principal=acme usage=[acme]/false export=[]/false\n"},
		{"tenant export", "/v1/export?meter=requests", bearer(tokAcme), "", 200, "principal=acme usage=[acme]/false export=[acme]/false\n"},
		{"tenant export, other meter", "/v1/export?meter=bytes", bearer(tokAcme), "", 403, `credential "acme" lacks the scope export:bytes:<tenant>`},
		{"exporter", "/v1/export?meter=bytes", bearer(tokExporter), "", 200, "principal=exporter usage=[]/false export=[]/true\n"},
		{"exporter reads no usage", "/v1/usage?tenant=acme", bearer(tokExporter), "", 403, `credential "exporter" lacks the scope usage:read:acme`},
		{"reader, usage", "/v1/usage", bearer(tokReader), "", 403, `credential "reader" lacks the scope usage:read:<tenant>`},
		{"reader, counter API", "/v1/counter/get", bearer(tokReader), "", 200, "principal=reader usage=[]/false export=[]/false\n"},
		{"counter API, no credentials", "/v1/counter/get", nil, "", 401, msgNoCreds},
		{"admin", "/v1/usage?tenant=globex", bearer(tokOps), "", 200, "principal=ops usage=[]/true export=[]/true\n"},
		{"admin, json", "/json", bearer(tokOps), "", 200, "principal=ops usage=[]/true export=[]/true\n"},
		{"non-admin, json", "/json", bearer(tokBilling), "", 403, `credential "billing" lacks the scope admin`},
		{"unclassified route", "/v2/anything", bearer(tokOps), "", 403, "this endpoint is not open to any credential"},
		{"certificate, prefix match", "/v1/usage?tenant=globex", nil, "spiffe://example.org/ns/tenants/sa/dash", 200,
			"principal=spiffe://example.org/ns/tenants/sa/dash usage=[]/true export=[]/false\n"},
		{"certificate, second SAN matches", "/v1/counter/get", nil, "spiffe://other.org/x reader.internal", 200,
			"principal=reader.internal usage=[]/false export=[]/false\n"},
		{"certificate, prefix alone", "/v1/usage", nil, "spiffe://example.org/ns/tenants/", 401, msgBadCert},
		{"certificate, unlisted", "/v1/usage", nil, "spiffe://example.org/ns/other/sa/x", 401, msgBadCert},
		{"certificate, lacks scope", "/v1/export?meter=requests", nil, "reader.internal", 403, `credential "reader.internal" lacks the scope export:requests:<tenant>`},
		{"bad token beats good certificate", "/v1/counter/get", bearer("nope"), "reader.internal", 401, msgBadToken},
		{"token beats certificate", "/v1/usage?tenant=acme", bearer(tokAcme), "reader.internal", 200, "principal=acme usage=[acme]/false export=[]/false\n"},
	})
}

func TestRequireOpenAPI(t *testing.T) {
	g, _ := newTestGuard(t, Config{EnvoyIdentities: []string{"envoy.internal"}})
	if !g.Open() {
		t.Fatal("a config with only envoy_identities must leave the APIs open")
	}
	runHTTPCases(t, testMux(g), []httpCase{
		{"usage", "/v1/usage?tenant=acme", nil, "", 200, "principal=anonymous usage=[]/true export=[]/true\n"},
		{"any header", "/v1/counter/get", []string{"Basic x"}, "", 200, "principal=anonymous usage=[]/true export=[]/true\n"},
		{"two headers", "/v1/counter/get", []string{"Basic x", "Bearer y"}, "", 200, "principal=anonymous usage=[]/true export=[]/true\n"},
		{"unclassified route", "/v2/anything", nil, "", 403, "this endpoint is not open to any credential"},
	})
}

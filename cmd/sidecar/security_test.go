package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tollgate/tollgate/counter/counterpb"
	"github.com/tollgate/tollgate/internal/apiauth"
	"github.com/tollgate/tollgate/internal/settings"
	"github.com/tollgate/tollgate/internal/testcerts"
)

// testTokens are the clear-text bearer tokens of withTokens, by name.
var testTokens = map[string]string{
	"admin":         "tok-admin-7Hq2",
	"counters":      "tok-counters-Xk81",
	"acme-usage":    "tok-acme-usage-Pz33",
	"acme-export":   "tok-acme-export-Lm09",
	"events":        "tok-events-Qa54",
	"billing-fixer": "tok-billing-fixer-Rt67",
}

// withTokens configures api_auth with one token per testTokens entry.
func withTokens(s *settings.Settings) {
	scopes := map[string][]string{
		"admin":         {"admin"},
		"counters":      {"counters:read:*", "counters:write:eventual", "counters:clear:eventual"},
		"acme-usage":    {"usage:read:acme"},
		"acme-export":   {"export:requests:acme"},
		"events":        {"events:write"},
		"billing-fixer": {"counters:write:requests", "counters:write-billing"},
	}
	for name, tok := range testTokens {
		s.APIAuth.Tokens = append(s.APIAuth.Tokens, apiauth.Token{Name: name, Hash: apiauth.HashToken(tok), Scopes: scopes[name]})
	}
}

// doAuth sends one request with the named test token ("" for none) and
// returns the status, body and headers.
func doAuth(t *testing.T, c *http.Client, method, url, token, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		tok, ok := testTokens[token]
		if !ok {
			tok = token // a token that is not configured
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// syncBuffer is a log sink safe for the sidecar's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// usageQuery is the /v1/usage query of meter requests for tenant over the
// current hour.
func usageQuery(tenant string, now time.Time) string {
	hour := now.UTC().Truncate(time.Hour)
	return "/v1/usage?" + url.Values{"meter": {"requests"}, "tenant": {tenant}, "window": {"hour"},
		"from": {hour.Format(time.RFC3339)}, "to": {hour.Add(time.Hour).Format(time.RFC3339)}}.Encode()
}

// hourQuantity polls acme's requests this hour until it is want.
func hourQuantity(t *testing.T, base string, now time.Time, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body, _ := doAuth(t, http.DefaultClient, "GET", base+usageQuery("acme", now), "admin", "")
		var resp struct{ Rows []struct{ Quantity int64 } }
		if code == 200 && json.Unmarshal([]byte(body), &resp) == nil && len(resp.Rows) == 1 && resp.Rows[0].Quantity == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("acme's requests this hour = %d %s, want quantity %d", code, body, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAPIAuthHTTP: each HTTP endpoint answers each credential with the
// exact status its scopes call for.
func TestAPIAuthHTTP(t *testing.T) {
	var log syncBuffer
	sc := startSidecarLog(t, func(s *settings.Settings) { withMetering(t)(s); withTokens(s) }, &log)
	base := "http://" + sc.addrs.HTTP
	now := time.Now()
	day := now.UTC().Truncate(24 * time.Hour)
	export := "/v1/export?" + url.Values{"meter": {"requests"}, "window": {"day"},
		"from": {day.Add(-48 * time.Hour).Format(time.RFC3339)}, "to": {day.Add(-24 * time.Hour).Format(time.RFC3339)}}.Encode()
	get := `{"namespace":"eventual","counter_name":"c"}`
	add := addBody("eventual", "c", 1, "auth-add", now)
	clear := `{"namespace":"eventual","counter_name":"c","idempotency_token":{"token":"auth-clear","generation_time":"` + now.UTC().Format(time.RFC3339Nano) + `"}}`
	jsonReq := `{"domain":"it","descriptors":[{"entries":[{"key":"user","value":"auth"}]}]}`
	top := "/v1/usage/top?" + url.Values{"meter": {"requests"}, "window": {"day"},
		"from": {day.Format(time.RFC3339)}, "to": {day.Add(24 * time.Hour).Format(time.RFC3339)}}.Encode()
	for _, c := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/healthz", "", "", 200},
		{"GET", "/readyz", "", "", 200},
		{"GET", "/metrics", "", "", 200},
		{"POST", "/json", "", jsonReq, 401},
		{"POST", "/json", "counters", jsonReq, 403},
		{"POST", "/json", "admin", jsonReq, 200},
		{"POST", "/v1/counter/get", "", get, 401},
		{"POST", "/v1/counter/get", "not-a-token", get, 401},
		{"POST", "/v1/counter/get", "acme-usage", get, 403},
		{"POST", "/v1/counter/get", "counters", get, 200},
		{"POST", "/v1/counter/add", "counters", add, 200},
		{"POST", "/v1/counter/add", "acme-usage", add, 403},
		{"POST", "/v1/counter/clear", "counters", clear, 200},
		{"POST", "/v1/counter/clear", "billing-fixer", clear, 403},
		{"GET", usageQuery("acme", now), "", "", 401},
		{"GET", usageQuery("acme", now), "acme-usage", "", 200},
		{"GET", usageQuery("beta", now), "acme-usage", "", 403},
		{"GET", usageQuery("acme", now), "counters", "", 403},
		{"GET", usageQuery("beta", now), "admin", "", 200},
		{"GET", export, "", "", 401},
		{"GET", export, "acme-usage", "", 403},
		{"GET", export, "acme-export", "", 200},
		{"GET", export, "admin", "", 200},
		{"POST", "/v1/events", "", "[]", 401},
		{"POST", "/v1/events", "acme-usage", "[]", 403},
		{"POST", "/v1/events", "events", "[]", 415}, // admitted; the handler wants a CloudEvents content type
		{"GET", "/v1/quota?tenant=acme", "", "", 401},
		{"GET", "/v1/quota?tenant=acme", "acme-usage", "", 200},
		{"GET", "/v1/quota?tenant=beta", "acme-usage", "", 403},
		{"GET", top, "acme-usage", "", 403}, // ranks every tenant
		{"GET", top, "admin", "", 200},
		{"GET", "/v1/catalog", "acme-usage", "", 403},
		{"GET", "/v1/catalog", "admin", "", 200},
		{"GET", "/ui/", "", "", 200},
	} {
		code, body, hdr := doAuth(t, http.DefaultClient, c.method, base+c.path, c.token, c.body)
		if code != c.want {
			t.Errorf("%s %s with %q = %d %s, want %d", c.method, c.path, c.token, code, body, c.want)
		}
		switch code {
		case 401:
			if hdr.Get("WWW-Authenticate") != `Bearer realm="tollgate"` || !strings.Contains(body, `"code":"unauthenticated"`) {
				t.Errorf("%s %s with %q: 401 without the challenge or code: %v %s", c.method, c.path, c.token, hdr, body)
			}
		case 403:
			if !strings.Contains(body, `"code":"permission_denied"`) {
				t.Errorf("%s %s with %q: 403 body %s", c.method, c.path, c.token, body)
			}
		}
	}

	t.Run("tenant-scoped export", func(t *testing.T) {
		_, own, _ := doAuth(t, http.DefaultClient, "GET", base+export, "acme-export", "")
		_, all, _ := doAuth(t, http.DefaultClient, "GET", base+export, "admin", "")
		lines := strings.Split(strings.TrimSpace(own), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[1], "acme,requests,") {
			t.Errorf("acme's export:\n%s\nwant the header and one acme row", own)
		}
		if n := strings.Count(all, "\n"); n != 3 || !strings.Contains(all, "\nbeta,requests,") {
			t.Errorf("admin's export:\n%s\nwant the header, acme and beta", all)
		}
		if !strings.Contains(log.String(), "action=export principal=acme-export meter=requests tenants=acme") {
			t.Errorf("no audit line of acme-export's export in the log:\n%s", log.String())
		}
	})

	t.Run("billing namespace is read-only", func(t *testing.T) {
		authz := authv3.NewAuthorizationClient(sc.conn)
		if resp := check(t, authz, "acme-demo-key", "billing-"+now.Format("150405.000000"), now); resp.GetOkResponse() == nil {
			t.Fatalf("Check with acme's key = %v", resp)
		}
		hourQuantity(t, base, now, 1)
		steal := `{"namespace":"requests","counter_name":"acme","delta":-1000000}`
		code, body, _ := doAuth(t, http.DefaultClient, "POST", base+"/v1/counter/add", "admin", steal)
		want := `{"error":{"code":"permission_denied","message":"namespace \"requests\" is owned by meter \"requests\": writes and clears through the counter API are refused (hint: only a credential holding the scope counters:write-billing may correct billing counters)"}}` + "\n"
		if code != 403 || body != want {
			t.Fatalf("admin's add to the billing namespace = %d %s\nwant 403 %s", code, body, want)
		}
		if code, body, _ := doAuth(t, http.DefaultClient, "POST", base+"/v1/counter/clear", "admin", `{"namespace":"requests","counter_name":"acme"}`); code != 403 {
			t.Fatalf("admin's clear of the billing namespace = %d %s", code, body)
		}
		hourQuantity(t, base, now, 1)
		fix := `{"namespace":"requests","counter_name":"acme","delta":2,"idempotency_token":{"token":"fix-1","generation_time":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}}`
		if code, body, _ := doAuth(t, http.DefaultClient, "POST", base+"/v1/counter/add", "billing-fixer", fix); code != 200 {
			t.Fatalf("billing-fixer's correction = %d %s", code, body)
		}
		hourQuantity(t, base, now, 3)
		for _, line := range []string{
			"action=billing_write principal=admin namespace=requests counter=acme outcome=refused",
			"action=billing_clear principal=admin namespace=requests counter=acme outcome=refused",
			"action=billing_write principal=billing-fixer namespace=requests counter=acme outcome=allowed",
			"action=counter_clear principal=counters namespace=eventual counter=c outcome=allowed",
		} {
			if !strings.Contains(log.String(), line) {
				t.Errorf("the log lacks the audit line %q", line)
			}
		}
	})
}

// TestClientCommandsSendToken: the counter and usage commands send the
// token of TOLLGATE_API_TOKEN.
func TestClientCommandsSendToken(t *testing.T) {
	sc := startSidecar(t, func(s *settings.Settings) { withMetering(t)(s); withTokens(s) })
	now := time.Now().UTC().Truncate(time.Hour)
	usage := []string{"usage", "--addr", sc.addrs.HTTP, "--meter", "requests", "--tenant", "acme", "--window", "hour",
		"--from", now.Format(time.RFC3339), "--to", now.Add(time.Hour).Format(time.RFC3339)}
	get := []string{"counter", "get", "--addr", sc.addrs.HTTP, "--namespace", "eventual", "--name", "c"}
	for _, c := range []struct {
		token string
		args  []string
		code  int
		out   string
	}{
		{"", get, 1, "401 Unauthorized"},
		{testTokens["counters"], get, 0, `{"count":0}`},
		{testTokens["counters"], usage, 1, "403 Forbidden"},
		{testTokens["acme-usage"], usage, 0, `"tenant":"acme"`},
	} {
		t.Setenv(tokenEnv, c.token)
		if code, out := captureRun(t, c.args); code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("%v with token %q = %d %q, want %d with %q", c.args[:2], c.token, code, out, c.code, c.out)
		}
	}
}

// bearer is per-call gRPC credentials carrying a test token.
func bearer(name string) grpc.CallOption {
	return grpc.PerRPCCredsCallOption{Creds: bearerCreds(testTokens[name])}
}

type bearerCreds string

func (b bearerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearerCreds) RequireTransportSecurity() bool { return false }

// TestAPIAuthGRPC: the counter service needs a credential with the
// namespace's scope; the Envoy-facing services and health stay open.
func TestAPIAuthGRPC(t *testing.T) {
	sc := startSidecar(t, func(s *settings.Settings) { fastNamespaces(s); withTokens(s) })
	ctx := context.Background()
	counters := counterpb.NewCounterServiceClient(sc.conn)
	get := &counterpb.GetCountRequest{Namespace: "eventual", CounterName: "c"}
	for _, c := range []struct {
		opts []grpc.CallOption
		want codes.Code
	}{
		{nil, codes.Unauthenticated},
		{[]grpc.CallOption{bearer("acme-usage")}, codes.PermissionDenied},
		{[]grpc.CallOption{bearer("counters")}, codes.OK},
	} {
		if _, err := counters.GetCount(ctx, get, c.opts...); status.Code(err) != c.want {
			t.Errorf("GetCount = %v, want %v", err, c.want)
		}
	}
	_, err := counters.AddCount(ctx, &counterpb.AddCountRequest{Namespace: "accurate", CounterName: "c", Delta: 1}, bearer("counters"))
	if status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != `credential "counters" lacks the scope counters:write:accurate` {
		t.Errorf("AddCount outside the token's namespaces = %v", err)
	}
	if _, err := sc.client.ShouldRateLimit(ctx, request("it", "user", "grpc-auth")); err != nil {
		t.Errorf("ShouldRateLimit without credentials = %v, want OK (envoy_identities is empty)", err)
	}
	if _, err := healthpb.NewHealthClient(sc.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health = %v", err)
	}
}

// TestTLSListeners serves both listeners over TLS with client certificates
// required: a plaintext client and a client without a certificate fail the
// handshake; a client certificate api_auth.identities lists gets its
// scopes.
func TestTLSListeners(t *testing.T) {
	certs := testcerts.NewSet(t, t.TempDir())
	f := certs.Files
	sc := startSidecar(t, func(s *settings.Settings) {
		s.TLS.CertFile, s.TLS.KeyFile, s.TLS.ClientCAFile, s.TLS.ClientAuth = f.ServerCert, f.ServerKey, f.CA, "require"
		s.APIAuth.Identities = []apiauth.Identity{{Identity: testcerts.ClientURI, Scopes: []string{"counters:read:*"}}}
	})
	clientTLS := func(withCert bool) *tls.Config {
		c := &tls.Config{RootCAs: certs.CA.Pool(), MinVersion: tls.VersionTLS12}
		if withCert {
			c.Certificates = []tls.Certificate{certs.Client.TLS(t)}
		}
		return c
	}
	httpsClient := func(withCert bool) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS(withCert)}}
	}
	base := "https://" + sc.addrs.HTTP

	if code, body, _ := doAuth(t, http.DefaultClient, "GET", "http://"+sc.addrs.HTTP+"/healthz", "", ""); code != 400 ||
		body != "Client sent an HTTP request to an HTTPS server.\n" {
		t.Errorf("plaintext HTTP to the TLS listener = %d %q, want 400 from the TLS layer", code, body)
	}
	if _, err := httpsClient(false).Get(base + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("HTTPS without a client certificate = %v, want a certificate required alert", err)
	}
	mtls := httpsClient(true)
	if code, body, _ := doAuth(t, mtls, "GET", base+"/healthz", "", ""); code != 200 || body != "ok\n" {
		t.Errorf("/healthz over mTLS = %d %q", code, body)
	}
	if code, body, _ := doAuth(t, mtls, "POST", base+"/v1/counter/get", "", `{"namespace":"eventual","counter_name":"c"}`); code != 200 || body != `{"count":0}`+"\n" {
		t.Errorf("get with the client certificate's scopes = %d %s", code, body)
	}
	code, body, _ := doAuth(t, mtls, "POST", base+"/v1/counter/add", "", `{"namespace":"eventual","counter_name":"c","delta":1}`)
	if want := fmt.Sprintf(`credential \"%s\" lacks the scope counters:write:eventual`, testcerts.ClientURI); code != 403 || !strings.Contains(body, want) {
		t.Errorf("add with a read-only certificate = %d %s, want 403 %s", code, body, want)
	}
	_, metrics, _ := doAuth(t, mtls, "GET", base+"/metrics", "", "")
	for _, want := range []string{`tollgate_tls_reloads_total{listener="grpc",result="success"}`, `tollgate_tls_reloads_total{listener="http",result="success"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	ctx := context.Background()
	dial := func(creds credentials.TransportCredentials) *grpc.ClientConn {
		conn, err := grpc.NewClient(sc.addrs.GRPC, grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	for name, creds := range map[string]credentials.TransportCredentials{
		"plaintext": insecure.NewCredentials(), "TLS without a client certificate": credentials.NewTLS(clientTLS(false)),
	} {
		if _, err := healthpb.NewHealthClient(dial(creds)).Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
			t.Errorf("gRPC %s = %v, want Unavailable", name, err)
		}
	}
	conn := dial(credentials.NewTLS(clientTLS(true)))
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("gRPC health over mTLS = %v", err)
	}
	counters := counterpb.NewCounterServiceClient(conn)
	if _, err := counters.GetCount(ctx, &counterpb.GetCountRequest{Namespace: "eventual", CounterName: "c"}); err != nil {
		t.Errorf("GetCount with the certificate's scopes = %v", err)
	}
	if _, err := counters.ClearCount(ctx, &counterpb.ClearCountRequest{Namespace: "eventual", CounterName: "c"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("ClearCount with a read-only certificate = %v, want PermissionDenied", err)
	}
	md := metadata.Pairs("authorization", "Bearer nope")
	if _, err := counters.GetCount(metadata.NewOutgoingContext(ctx, md), &counterpb.GetCountRequest{Namespace: "eventual", CounterName: "c"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetCount with a wrong token beside the certificate = %v, want Unauthenticated (a token decides alone)", err)
	}
}

// TestSecretsStayOut runs a sidecar with tokens, tenant API keys and a
// Redis password, exercises it with right and wrong credentials, and looks
// for every secret (and every token's hash) in its log, /metrics, the
// answers and check-config's output: none may appear.
func TestSecretsStayOut(t *testing.T) {
	const redisPassword = "redis-pw-Zx19-secret"
	const apiKey, apiKeyHash = "acme-demo-key", "8676d15d94dabdd1283e6c407e2bb08a7b5c13b4e3667d4795c17172e080a3d4"
	secrets := []string{redisPassword, apiKey, apiKeyHash}
	for _, tok := range testTokens {
		secrets = append(secrets, tok, strings.TrimPrefix(apiauth.HashToken(tok), "sha256:"))
	}
	var seen strings.Builder
	var log syncBuffer
	redisDown := closedAddr(t)
	sc := startSidecarLog(t, func(s *settings.Settings) {
		withMetering(t)(s)
		withTokens(s)
		s.Backend, s.Redis.URL, s.Redis.Password, s.Redis.Timeout = "redis", "redis://"+redisDown, redisPassword, 50*time.Millisecond
	}, &log)
	base := "http://" + sc.addrs.HTTP
	get := `{"namespace":"eventual","counter_name":"c"}`
	admin := testTokens["admin"]
	for _, token := range []string{"admin", admin + "x", apiauth.HashToken(admin), strings.TrimPrefix(apiauth.HashToken(admin), "sha256:"), apiKey, redisPassword, "acme-usage"} {
		for _, path := range []string{"/v1/counter/get", "/json", "/v1/usage?tenant=acme&meter=requests"} {
			method := "POST"
			if strings.HasPrefix(path, "/v1/usage") {
				method = "GET"
			}
			_, body, hdr := doAuth(t, http.DefaultClient, method, base+path, token, get)
			fmt.Fprintln(&seen, body, hdr)
		}
	}
	req, _ := http.NewRequest("POST", base+"/v1/counter/get", strings.NewReader(get))
	req.Header.Set("Authorization", "Basic "+admin)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintln(&seen, string(b))
	}
	authz := authv3.NewAuthorizationClient(sc.conn)
	now := time.Now()
	for i, key := range []string{apiKey, apiKey + "x", admin} {
		fmt.Fprintln(&seen, check(t, authz, key, fmt.Sprintf("secrets-%d-%d", now.UnixNano(), i), now))
	}
	counters := counterpb.NewCounterServiceClient(sc.conn)
	for _, tok := range []string{admin + "x", apiKey} {
		md := metadata.Pairs("authorization", "Bearer "+tok)
		_, err := counters.GetCount(metadata.NewOutgoingContext(context.Background(), md), &counterpb.GetCountRequest{Namespace: "eventual", CounterName: "c"})
		fmt.Fprintln(&seen, err)
	}
	_, metrics, _ := doAuth(t, http.DefaultClient, "GET", base+"/metrics", "", "")
	_, ready, _ := doAuth(t, http.DefaultClient, "GET", base+"/readyz", "", "")

	// check-config of the same settings, good and with clear-text tokens.
	dir := t.TempDir()
	var tokens strings.Builder
	for name, tok := range testTokens {
		fmt.Fprintf(&tokens, "    - {name: %s, hash: %s, scopes: [admin]}\n", name, apiauth.HashToken(tok))
	}
	good := "backend: redis\nredis: {url: redis://" + redisDown + ", password: " + redisPassword + "}\napi_auth:\n  tokens:\n" + tokens.String() + testMeteringYAML
	bad := "redis: {password: " + redisPassword + "}\napi_auth:\n  tokens:\n    - {name: a, token: " + admin + ", scopes: [admin]}\n    - {name: b, hash: " + admin + ", scopes: [admin]}\n" +
		"    - {name: c, hash: sha256:" + admin + ", scopes: [admin]}\n"
	var checkOut strings.Builder
	for name, body := range map[string]string{"good.yaml": good, "bad.yaml": bad} {
		path := dir + "/" + name
		testcerts.WriteFile(t, path, []byte(body))
		code, out := captureRun(t, []string{"check-config", "--config", path})
		if want := map[string]int{"good.yaml": 0, "bad.yaml": 1}[name]; code != want {
			t.Errorf("check-config %s = %d %s, want exit %d", name, code, out, want)
		}
		checkOut.WriteString(out)
	}
	if !strings.Contains(checkOut.String(), "api_auth.tokens[0].token: clear-text tokens are not accepted") {
		t.Errorf("check-config of clear-text tokens:\n%s", checkOut.String())
	}

	for where, text := range map[string]string{"log": log.String(), "/metrics": metrics, "/readyz": ready,
		"answers": seen.String(), "check-config": checkOut.String()} {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s holds the secret %q", where, s)
			}
		}
	}
	if !strings.Contains(seen.String(), "the bearer token is not one api_auth.tokens lists") || !strings.Contains(log.String(), "sidecar serving") {
		t.Errorf("the exercise did not reach the guard or the log is empty:\n%s\n%s", seen.String(), log.String())
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestEnvoyIdentities: with api_auth.envoy_identities set, the Envoy-facing
// services take only a client certificate it lists; with client_auth
// request, a client without a certificate connects but is refused there,
// while health stays open.
func TestEnvoyIdentities(t *testing.T) {
	certs := testcerts.NewSet(t, t.TempDir())
	f := certs.Files
	for _, c := range []struct {
		name     string
		listed   string
		withCert bool
		want     codes.Code
	}{
		{"listed certificate", testcerts.ClientURI, true, codes.OK},
		{"unlisted certificate", "spiffe://tollgate.test/other", true, codes.PermissionDenied},
		{"no certificate", testcerts.ClientURI, false, codes.Unauthenticated},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc := startSidecar(t, func(s *settings.Settings) {
				s.TLS.CertFile, s.TLS.KeyFile, s.TLS.ClientCAFile, s.TLS.ClientAuth = f.ServerCert, f.ServerKey, f.CA, "request"
				s.APIAuth.Identities = []apiauth.Identity{{Identity: "ops.internal", Scopes: []string{"admin"}}}
				s.APIAuth.EnvoyIdentities = []string{c.listed}
			})
			cfg := &tls.Config{RootCAs: certs.CA.Pool(), MinVersion: tls.VersionTLS12}
			if c.withCert {
				cfg.Certificates = []tls.Certificate{certs.Client.TLS(t)}
			}
			conn, err := grpc.NewClient(sc.addrs.GRPC, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx := context.Background()
			if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatalf("health = %v", err)
			}
			_, err = rlsv3.NewRateLimitServiceClient(conn).ShouldRateLimit(ctx, request("it", "user", "envoy-ids"))
			if status.Code(err) != c.want {
				t.Errorf("ShouldRateLimit = %v, want %v", err, c.want)
			}
		})
	}
}

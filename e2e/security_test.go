package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/envoytest"
	"github.com/tollgate/tollgate/internal/sidecartest"
	"github.com/tollgate/tollgate/internal/testcerts"
)

// TestEnvoyForgedTenantBillsNothing: a client without an API key that sends
// its own x-tenant-id: acme and asks for large responses is refused by
// ext_authz, and its access log entries bill acme nothing: Envoy drops the
// client's x-tenant-id before ext_authz, so the entries carry no tenant.
func TestEnvoyForgedTenantBillsNothing(t *testing.T) {
	s := startSidecar(t)
	up := startUpstream(t)
	_, base := startEnvoy(t, up, s)
	c := newClient(base, "127.0.4.1")
	const n = 4
	for range n {
		if r := c.get(t, "/v1/big?size=1000000", "x-tenant-id: acme"); r.Status != 401 {
			t.Fatalf("forged tenant without a key: %d %s, want 401", r.Status, r.Body)
		}
	}
	s.settled(t, n)
	if served, _, _ := up.served(); served != 0 {
		t.Errorf("upstream served %d requests, want 0", served)
	}
	for _, meter := range []string{"requests", "egress_bytes"} {
		if got := s.usage(t, meter, "acme"); got != 0 {
			t.Errorf("acme's %s = %d after forged requests, want 0", meter, got)
		}
	}
}

// TestEnvoyMTLSToSidecar runs examples/envoy/envoy-mtls.yaml (its
// certificate files generated) in front of the real sidecar whose gRPC
// listener serves TLS and requires client certificates: requests pass. The
// same Envoy without its client certificate cannot reach the sidecar, and
// ext_authz answers 503 (status_on_error).
func TestEnvoyMTLSToSidecar(t *testing.T) {
	envoytest.Binary(t)
	dir := t.TempDir()
	certs := testcerts.NewSet(t, dir)
	certs.Client.Write(t, dir, "envoy")
	certs.Server.Write(t, dir, "tollgate")
	example, err := os.ReadFile(filepath.Join(sidecartest.RepoRoot, "examples/envoy/envoy-mtls.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	envoyConfig := filepath.Join(dir, "envoy-mtls.yaml")
	testcerts.WriteFile(t, envoyConfig, []byte(strings.ReplaceAll(string(example), "/etc/tollgate/tls/", dir+"/")))

	// The quickstart settings with the gRPC listener on TLS, client
	// certificates required. The HTTP listener stays plaintext on loopback
	// for the harness's readiness, usage and metrics reads.
	quickstart, err := os.ReadFile(filepath.Join(sidecartest.RepoRoot, "examples/quickstart/sidecar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	settings := strings.Replace(string(quickstart), "config: ../ratelimit", "config: "+filepath.Join(sidecartest.RepoRoot, "examples/ratelimit"), 1) +
		"\ngrpc_tls:\n  cert_file: tollgate.crt\n  key_file: tollgate.key\n  client_ca_file: ca.crt\n  client_auth: require\n"
	settingsFile := filepath.Join(dir, "sidecar.yaml")
	testcerts.WriteFile(t, settingsFile, []byte(settings))
	s := &sidecar{sidecartest.Start(t, sidecarBin, settingsFile)}
	up := startUpstream(t)

	start := func(withClientCert bool) (*envoytest.Envoy, string) {
		b := envoytest.Load(t, envoyConfig)
		b.SetListenerPort(t, "ingress", 0)
		b.SetClusterAddr(t, "app", strings.TrimPrefix(up.URL, "http://"))
		b.SetClusterAddr(t, "tollgate", s.GRPC)
		if !withClientCert {
			b.Edit(func(m map[string]any) {
				for _, c := range m["static_resources"].(map[string]any)["clusters"].([]any) {
					if c := c.(map[string]any); c["name"] == "tollgate" {
						ctx := c["transport_socket"].(map[string]any)["typed_config"].(map[string]any)["common_tls_context"].(map[string]any)
						if _, ok := ctx["tls_certificates"]; !ok {
							t.Fatal("the tollgate cluster has no tls_certificates to remove")
						}
						delete(ctx, "tls_certificates")
					}
				}
			})
		}
		e := envoytest.Start(t, b)
		return e, "http://" + e.ListenerAddr(t, "ingress")
	}

	e, base := start(true)
	c := newClient(base, "127.0.4.2")
	if r := c.get(t, "/v1/things", apiKey); r.Status != http.StatusOK {
		t.Fatalf("through Envoy with mTLS: %d %s, want 200", r.Status, r.Body)
	}
	if r := c.get(t, "/v1/things"); r.Status != http.StatusUnauthorized {
		t.Fatalf("through Envoy with mTLS, no key: %d %s, want 401 from the sidecar", r.Status, r.Body)
	}
	if n := e.Stat(t, "cluster.tollgate.ssl.handshake"); n < 1 {
		t.Errorf("cluster.tollgate.ssl.handshake = %d, want at least 1", n)
	}
	s.settled(t, 2) // the access log comes over mTLS too
	if got := s.usage(t, "requests", "acme"); got != 1 {
		t.Errorf("acme's requests = %d, want 1", got)
	}

	_, base = start(false)
	c = newClient(base, "127.0.4.3")
	if r := c.get(t, "/v1/things", apiKey); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("through Envoy without its client certificate: %d %s, want 503 (ext_authz status_on_error)", r.Status, r.Body)
	}
	if served, _, _ := up.served(); served != 1 {
		t.Errorf("upstream served %d requests, want 1 (the refused Envoy's request must not pass)", served)
	}
}

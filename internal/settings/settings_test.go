package settings

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/internal/tlsconf"
	"github.com/tollgate/tollgate/internal/yamlconf"
	"github.com/tollgate/tollgate/ratelimit"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sidecar.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadAndDefaults(t *testing.T) {
	p := writeFile(t, "grpc_addr: 127.0.0.1:9999\nbackend: redis\nredis:\n  url: redis://127.0.0.1:6390\n  timeout: 20ms\n")
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	s.EnsureDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.GRPCAddr != "127.0.0.1:9999" || s.HTTPAddr != "127.0.0.1:8080" || s.Backend != "redis" ||
		s.Redis.Timeout != 20*time.Millisecond || s.Redis.Mode != "single" || s.RateLimit.FailureMode != ratelimit.FailOpen {
		t.Fatalf("unexpected settings %+v", s)
	}
	addrs, err := s.Redis.Addrs()
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.1:6390" {
		t.Fatalf("Addrs() = %v, %v", addrs, err)
	}
}

// TestLoadNamespace checks that a namespace's tuning keys are read, as the
// README's hot-counter example writes them.
func TestLoadNamespace(t *testing.T) {
	p := writeFile(t, "counters:\n  namespaces:\n    api_calls:\n      type: accurate\n      late_after: 100ms\n      clock_skew: 100ms\n")
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Namespace{Type: "accurate", LateAfter: 100 * time.Millisecond, ClockSkew: 100 * time.Millisecond}
	if got := s.Counters.Namespaces["api_calls"]; got != want {
		t.Errorf("namespace api_calls = %+v, want %+v", got, want)
	}
}

// TestLoadValues checks the values the decoder converts: the failure mode,
// a case-insensitive consistency level, YAML 1.1 booleans, lists and maps,
// and the metering section kept as a node.
func TestLoadValues(t *testing.T) {
	p := writeFile(t, "ratelimit:\n  failure_mode: fail_closed\n  shadow_mode: yes\ncounters:\n  store: cassandra\n  cassandra:\n    hosts: [a, b:9043]\n    consistency: local_one\n    datacenters: {dc1: 3}\nmetering:\n  plans: []\n")
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	c := s.Counters.Cassandra
	if s.RateLimit.FailureMode != ratelimit.FailClosed || !s.RateLimit.ShadowMode || len(c.Hosts) != 2 || c.Hosts[1] != "b:9043" ||
		c.Consistency != "local_one" || c.DataCenters["dc1"] != 3 || s.Metering.Line != 11 {
		t.Fatalf("unexpected settings %+v", s)
	}
}

func TestLoadErrors(t *testing.T) {
	f := func(body, want string) {
		t.Helper()
		p := writeFile(t, body)
		_, err := Load(p)
		if err == nil {
			t.Fatalf("Load(%q) succeeded, want error %q", body, want)
		}
		var errs yamlconf.Errors
		if !errors.As(err, &errs) {
			t.Fatalf("Load(%q) error is %T, want yamlconf.Errors", body, err)
		}
		if got := err.Error(); got != p+":"+want {
			t.Fatalf("Load(%q) error\n got %q\nwant %q", body, got, p+":"+want)
		}
	}
	f("grpc_addr: a\nbakend: redis\n", `2:1: unknown key "bakend" (allowed: grpc_addr, http_addr, data_dir, log_level, log_format, ratelimit, backend, redis, counters, tls, grpc_tls, http_tls, allow_insecure_listeners, api_auth, tracing, metering)`)
	f("grpc_addr: [a\n", "1: invalid YAML: did not find expected ',' or ']'")
	f("redis:\n  timeout: soon\n", `2:12: redis.timeout: invalid duration "soon" (hint: a Go duration with a unit, such as 500ms, 5s or 1m)`)
	f("counters:\n  cassandra:\n    consistency: LOCAL_QUROUM\n", `3:18: counters.cassandra.consistency: "LOCAL_QUROUM" is not one of ANY, ONE, TWO, THREE, QUORUM, ALL, LOCAL_QUORUM, EACH_QUORUM, LOCAL_ONE (hint: a Cassandra consistency level, in any case)`)
	f("counters:\n  namespaces:\n    x: {retention: 1h}\n", `3:8: counters.namespaces.x.type: missing (hint: add "type: best_effort", eventual or accurate)`)
	f("backend: redis\nredis: {url: \"a:1,b:2\"}\n", `2:14: redis.url: single mode takes one address, got 2 (hint: set redis.mode to cluster or ring for several)`)
}

func TestValidate(t *testing.T) {
	s := Settings{Backend: "memcached", Redis: Redis{Mode: "single"}}
	s.EnsureDefaults()
	s.LogLevel = "loud"
	s.LogFormat = "yaml"
	err := s.Validate()
	want := `backend: "memcached" is not one of memory, redis` + "\n" +
		`log_level: "loud" is not one of debug, info, warn, error` + "\n" +
		`log_format: "yaml" is not one of text, json`
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v, want %q", err, want)
	}
	s = Settings{Backend: "redis", Redis: Redis{URL: "127.0.0.1:1,127.0.0.1:2"}}
	s.EnsureDefaults()
	err = s.Validate()
	want = "redis.url: single mode takes one address, got 2 (hint: set redis.mode to cluster or ring for several)"
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v, want %q", err, want)
	}
	s.Redis.URL = "http://x"
	if err := s.Validate(); err == nil || err.Error() != `redis.url: "http://x" is not redis://host:port or rediss://host:port (hint: a comma list for cluster or ring)` {
		t.Fatalf("Validate() = %v", err)
	}
	if _, err := s.Redis.Addrs(); err == nil || err.Error() != `redis.url: "http://x" is not redis://host:port or rediss://host:port (hint: a comma list for cluster or ring)` {
		t.Fatalf("Addrs() = %v", err)
	}
	s.Redis.URL = "redis://127.0.0.1:1"
	s.Counters.Cassandra.Consistency = "quorum"
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate() with consistency quorum = %v", err)
	}
}

// TestLoadSecurity reads the TLS blocks and api_auth: relative certificate
// paths are taken from the settings file's directory, an override block
// that is absent stays nil.
func TestLoadSecurity(t *testing.T) {
	hash := "sha256:" + strings.Repeat("ab", 32)
	p := writeFile(t, "tls:\n  cert_file: tls/tls.crt\n  key_file: /abs/tls.key\n  client_ca_file: ca.crt\n  client_auth: require\n"+
		"http_tls:\n  client_auth: none\nallow_insecure_listeners: yes\n"+
		"api_auth:\n  tokens:\n    - name: ops\n      hash: "+hash+"\n      scopes: [admin]\n"+
		"  identities:\n    - identity: spiffe://example.org/ns/billing/sa/exporter\n      scopes: [\"export:*\"]\n"+
		"  envoy_identities: [envoy.internal]\n")
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	want := tlsconf.Config{CertFile: filepath.Join(dir, "tls/tls.crt"), KeyFile: "/abs/tls.key",
		ClientCAFile: filepath.Join(dir, "ca.crt"), ClientAuth: "require"}
	if s.TLS != want {
		t.Errorf("tls = %+v, want %+v", s.TLS, want)
	}
	if s.GRPCTLS != nil || s.HTTPTLS == nil || *s.HTTPTLS != (tlsconf.Config{ClientAuth: "none"}) || !s.AllowInsecureListeners {
		t.Errorf("grpc_tls = %+v, http_tls = %+v, allow_insecure_listeners = %v", s.GRPCTLS, s.HTTPTLS, s.AllowInsecureListeners)
	}
	tr := s.Transport()
	if got := tr.HTTP(); got.ClientAuth != "none" || got.CertFile != want.CertFile {
		t.Errorf("resolved http block = %+v", got)
	}
	a := s.APIAuth
	if len(a.Tokens) != 1 || a.Tokens[0].Name != "ops" || a.Tokens[0].Hash != hash || len(a.Identities) != 1 ||
		a.Identities[0].Scopes[0] != "export:*" || len(a.EnvoyIdentities) != 1 || a.EnvoyIdentities[0] != "envoy.internal" {
		t.Errorf("api_auth = %+v", a)
	}
}

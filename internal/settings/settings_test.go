package settings

import (
	"os"
	"path/filepath"
	"testing"
	"time"
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
		s.Redis.Timeout != 20*time.Millisecond || s.Redis.Mode != "single" || s.RateLimit.FailureMode != "fail_open" {
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

func TestLoadErrors(t *testing.T) {
	f := func(body, want string) {
		t.Helper()
		p := writeFile(t, body)
		_, err := Load(p)
		if err == nil {
			t.Fatalf("Load(%q) succeeded, want error %q", body, want)
		}
		if got := err.Error(); got != p+":"+want {
			t.Fatalf("Load(%q) error\n got %q\nwant %q", body, got, p+":"+want)
		}
	}
	f("grpc_addr: a\nbakend: redis\n", `2: unknown key "bakend" (see the configuration reference in README.md)`)
	f("grpc_addr: [a\n", "1: did not find expected ',' or ']'")
	f("redis:\n  timeout: soon\n", "2: cannot unmarshal !!str `soon` into time.Duration")
}

func TestValidate(t *testing.T) {
	s := Settings{Backend: "memcached", Redis: Redis{Mode: "single"}}
	s.EnsureDefaults()
	s.RateLimit.FailureMode = "maybe"
	err := s.Validate()
	want := `backend: "memcached" is not one of memory, redis` + "\n" +
		`ratelimit.failure_mode: "maybe" is not one of fail_open, fail_closed`
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v, want %q", err, want)
	}
	s = Settings{Backend: "redis", Redis: Redis{URL: "127.0.0.1:1,127.0.0.1:2"}}
	s.EnsureDefaults()
	err = s.Validate()
	want = "redis.url: single mode takes one address, got 2; set redis.mode to cluster or ring for several"
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v, want %q", err, want)
	}
	s.Redis.URL = "http://x"
	if err := s.Validate(); err == nil || err.Error() != `redis.url: "http://x" is not redis://host:port (a comma list for cluster or ring)` {
		t.Fatalf("Validate() = %v", err)
	}
}

package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"
)

// readAll decodes every length-prefixed message of path with newMsg.
func readAll[M proto.Message](t *testing.T, path string, newMsg func() M) []M {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var out []M
	for {
		m := newMsg()
		err := protodelim.UnmarshalFrom(r, m)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("message %d: %v", len(out), err)
		}
		out = append(out, m)
	}
}

func TestUniqueKeysAreDistinct(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.bin")
	if err := write("unique_keys", 1000, path); err != nil {
		t.Fatal(err)
	}
	reqs := readAll(t, path, func() *rlsv3.RateLimitRequest { return new(rlsv3.RateLimitRequest) })
	if len(reqs) != 1000 {
		t.Fatalf("got %d messages, want 1000", len(reqs))
	}
	seen := map[string]bool{}
	for i, r := range reqs {
		if r.Domain != "bench" || len(r.Descriptors) != 1 || r.Descriptors[0].Entries[0].Key != "user" {
			t.Fatalf("message %d = %v, want domain bench with one user descriptor", i, r)
		}
		seen[r.Descriptors[0].Entries[0].Value] = true
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct values, want 1000", len(seen))
	}
}

func TestThreeDescriptors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.bin")
	if err := write("three_descr", 1, path); err != nil {
		t.Fatal(err)
	}
	reqs := readAll(t, path, func() *rlsv3.RateLimitRequest { return new(rlsv3.RateLimitRequest) })
	if len(reqs) != 1 || len(reqs[0].Descriptors) != 3 {
		t.Fatalf("got %v, want one request with 3 descriptors", reqs)
	}
	for i, want := range []string{"a", "b", "c"} {
		if got := reqs[0].Descriptors[i].Entries[0].Key; got != want {
			t.Errorf("descriptor %d key = %q, want %q", i, got, want)
		}
	}
}

func TestAuthzRequestIDsAreDistinct(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.bin")
	if err := write("authz", 50, path); err != nil {
		t.Fatal(err)
	}
	reqs := readAll(t, path, func() *authv3.CheckRequest { return new(authv3.CheckRequest) })
	seen := map[string]bool{}
	for _, r := range reqs {
		h := r.GetAttributes().GetRequest().GetHttp()
		if h.GetHeaders()["x-api-key"] != "bench-key" || h.GetHeaders()["x-request-id"] != h.GetId() {
			t.Fatalf("request %v: want x-api-key bench-key and x-request-id equal to the id", h)
		}
		seen[h.GetId()] = true
	}
	if len(reqs) != 50 || len(seen) != 50 {
		t.Fatalf("%d requests with %d distinct ids, want 50 and 50", len(reqs), len(seen))
	}
}

func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		scenario, out string
		n             int
		want          string
	}{
		{"nope", filepath.Join(dir, "x"), 1, `unknown -scenario "nope"; want hot_key, unique_keys, three_descr, over_limit, authz or noop`},
		{"hot_key", "", 1, "-out is required"},
		{"hot_key", filepath.Join(dir, "x"), 0, "-n must be at least 1, got 0"},
	} {
		err := write(c.scenario, c.n, c.out)
		if err == nil || err.Error() != c.want {
			t.Errorf("write(%q, %d, %q) = %v, want %q", c.scenario, c.n, c.out, err, c.want)
		}
	}
}

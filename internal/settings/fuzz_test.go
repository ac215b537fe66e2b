package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad loads arbitrary YAML as a settings file: it never panics,
// returns settings or an error naming the file, never both.
func FuzzLoad(f *testing.F) {
	for _, path := range []string{"../../examples/quickstart/sidecar.yaml", "../../examples/bench/sidecar.yaml"} {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("grpc_addr: 127.0.0.1:8081\nbackend: memory\n"))
	path := filepath.Join(f.TempDir(), "sidecar.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Load(path)
		if (s == nil) == (err == nil) {
			t.Fatalf("Load(%q) = %v, %v: want settings or an error", data, s, err)
		}
		if err != nil && !strings.Contains(err.Error(), "sidecar.yaml") {
			t.Fatalf("Load(%q): error %q does not name the file", data, err)
		}
	})
}

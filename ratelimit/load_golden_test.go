package ratelimit

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite the .err files of testdata/bad from the errors LoadConfig returns")

// TestBadConfigs loads each testdata/bad entry (a file, or a directory of
// files loaded together) and compares the whole error text with the entry's
// .err file. Run with -update to rewrite the .err files after a deliberate
// change, and review the diff.
func TestBadConfigs(t *testing.T) {
	entries, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && filepath.Ext(name) != ".yaml" {
			continue
		}
		n++
		path := filepath.Join("testdata/bad", name)
		golden := strings.TrimSuffix(path, ".yaml") + ".err"
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(path)
			testkit.ErrorGolden(t, err, golden, *update, "TestBadConfigs")
		})
	}
	if n < 12 {
		t.Errorf("found %d bad configs in testdata/bad, want at least 12", n)
	}
}

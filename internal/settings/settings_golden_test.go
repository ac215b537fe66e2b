package settings

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/internal/testkit"
)

var update = flag.Bool("update", false, "rewrite the .err files of testdata/bad from the errors Load returns")

// TestBadSettings loads each testdata/bad/*.yaml and compares the whole
// error text with the file's .err file. Run with -update to rewrite the
// .err files after a deliberate change, and review the diff.
func TestBadSettings(t *testing.T) {
	paths, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 10 {
		t.Errorf("found %d bad settings files in testdata/bad, want at least 10", len(paths))
	}
	for _, path := range paths {
		golden := strings.TrimSuffix(path, ".yaml") + ".err"
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, err := Load(path)
			testkit.ErrorGolden(t, err, golden, *update, "TestBadSettings")
		})
	}
}

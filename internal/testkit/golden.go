package testkit

import (
	"os"
	"testing"
)

// ErrorGolden checks a bad-config fixture: err must be non-nil, and its text
// plus a newline must equal the content of the file golden. With update it
// rewrites golden instead, for a deliberate change whose diff is reviewed.
// test names the test, for the hint to rerun it with -update.
func ErrorGolden(t testing.TB, err error, golden string, update bool, test string) {
	t.Helper()
	if err == nil {
		t.Fatal("loaded without an error, want one")
	}
	got := err.Error() + "\n"
	if update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, rerr := os.ReadFile(golden)
	if rerr != nil {
		t.Fatalf("%v (hint: run go test -run %s -update)", rerr, test)
	}
	if got != string(want) {
		t.Errorf("errors:\n%s\nwant (%s):\n%s", got, golden, want)
	}
}

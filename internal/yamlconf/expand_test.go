package yamlconf

import (
	"strings"
	"testing"
)

// aliasBomb returns a document whose last key names 10^levels scalars
// through anchors and aliases, in a few hundred bytes.
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= levels; i++ {
		prev := "*a" + string(rune('0'+i-1))
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.Repeat(prev+", ", 9) + prev + "]\n")
	}
	return b.String()
}

// TestDocumentRefusesAliasBombs checks that a document naming more than
// MaxNodes nodes through its aliases is refused before anything walks it,
// and that one below the bound decodes.
func TestDocumentRefusesAliasBombs(t *testing.T) {
	d := NewDecoder("bomb.yaml")
	if n := d.Document([]byte(aliasBomb(8))); n != nil {
		t.Fatal("Document of 10^9 nodes through aliases returned a node, want nil")
	}
	const want = "bomb.yaml:1:1: the document names more than 1000000 nodes once its aliases are followed (hint: write the repeated parts out, or alias fewer times)"
	if err := d.Err(); err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
	d = NewDecoder("small.yaml")
	if n := d.Document([]byte(aliasBomb(4))); n == nil || d.Err() != nil {
		t.Errorf("Document of about 10^5 nodes through aliases = %v, %v; want the node", n, d.Err())
	}
}

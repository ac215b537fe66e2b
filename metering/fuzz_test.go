package metering

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParseConfig parses arbitrary YAML as the metering section: it never
// panics, returns a config or an error naming the file, never both.
func FuzzParseConfig(f *testing.F) {
	if data, err := os.ReadFile("testdata/quickstart.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("metering:\n  tenants: [{id: a, plan: p}]\n  plans: [{name: p}]\n  meters: [{name: m, source: events, event_type: t, value: $.n}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var root yaml.Node
		if yaml.Unmarshal(data, &root) != nil {
			return
		}
		node := &root
		if len(root.Content) > 0 {
			node = root.Content[0]
			for i := 0; i+1 < len(node.Content); i += 2 {
				if node.Content[i].Value == "metering" {
					node = node.Content[i+1]
					break
				}
			}
		}
		cfg, err := ParseConfig("fuzz.yaml", node)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("ParseConfig(%q) = %v, %v: want a config or an error", data, cfg, err)
		}
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Fatalf("ParseConfig(%q): error %q does not name the file", data, err)
		}
	})
}

package ratelimit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/counter"
)

// writeFiles writes name → content files under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadString loads YAML from a file named a.yaml.
func loadString(t testing.TB, yaml string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": yaml})
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""))
	}
	return cfg, nil
}

func mustLoad(t testing.TB, yaml string) *Config {
	t.Helper()
	cfg, err := loadString(t, yaml)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	return cfg
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"malformed YAML", "domain: d\ndescriptors:\n  - key: a\n   value: b\n",
			"a.yaml:2: invalid YAML: did not find expected '-' indicator"},
		{"empty file", "",
			"a.yaml: missing domain: the file is empty (hint: start it with \"domain: <name>\")"},
		{"missing domain", "descriptors: []\n",
			"a.yaml:1:1: domain: missing (hint: add \"domain: <name>\" at the top level)"},
		{"empty domain", "domain: \"\"\n",
			"a.yaml:1:9: domain: missing (hint: add \"domain: <name>\" at the top level)"},
		{"root not mapping", "- a\n",
			"a.yaml:1:1: must be a mapping of keys to values, got a list"},
		{"unknown root key", "domain: d\ndescriptor: []\n",
			"a.yaml:2:1: unknown key \"descriptor\" (allowed: domain, descriptors)"},
		{"unknown descriptor key", "domain: d\ndescriptors:\n  - key: a\n    ratelimit: {unit: second, requests_per_unit: 1}\n",
			"a.yaml:4:5: descriptors[0]: unknown key \"ratelimit\" (allowed: key, value, rate_limit, rate_limits, descriptors, shadow_mode, quota_mode, detailed_metric, value_to_metric, share_threshold, metadata)"},
		{"unknown rate_limit key", "domain: d\ndescriptors:\n  - key: a\n    rate_limit:\n      units: second\n      unit: second\n      requests_per_unit: 1\n",
			"a.yaml:5:7: descriptors[0].rate_limit: unknown key \"units\" (allowed: unit, requests_per_unit, unlimited, name, replaces, algorithm, window)"},
		{"repeated key", "domain: d\ndomain: e\n",
			"a.yaml:2:1: key \"domain\" repeated, first at line 1 (hint: keep one)"},
		{"bad unit", "domain: d\ndescriptors:\n  - key: a\n    rate_limit:\n      unit: fortnight\n      requests_per_unit: 1\n",
			"a.yaml:5:13: descriptors[0].rate_limit.unit: \"fortnight\" is not one of second, minute, hour, day, week, month, year"},
		{"missing unit", "domain: d\ndescriptors:\n  - key: a\n    rate_limit:\n      requests_per_unit: 1\n",
			"a.yaml:5:7: descriptors[0].rate_limit: missing unit or window (hint: add \"unit: minute\" or \"window: 30s\")"},
		{"missing requests_per_unit", "domain: d\ndescriptors:\n  - key: a\n    rate_limit:\n      unit: second\n",
			"a.yaml:5:7: descriptors[0].rate_limit: missing requests_per_unit (hint: the number of requests allowed per unit, 0 blocks all)"},
		{"negative requests_per_unit", "domain: d\ndescriptors:\n  - key: a\n    rate_limit: {unit: second, requests_per_unit: -1}\n",
			"a.yaml:4:51: descriptors[0].rate_limit.requests_per_unit: must be a whole number from 0 to 4294967295, got \"-1\""},
		{"unlimited with unit", "domain: d\ndescriptors:\n  - key: a\n    rate_limit:\n      unlimited: true\n      unit: day\n      requests_per_unit: 25\n",
			"a.yaml:6:13: descriptors[0].rate_limit.unit: cannot be set when unlimited is true (hint: remove unit or unlimited)\na.yaml:7:26: descriptors[0].rate_limit.requests_per_unit: cannot be set when unlimited is true (hint: remove requests_per_unit or unlimited)"},
		{"unlimited among limits", "domain: d\ndescriptors:\n  - key: a\n    rate_limit: {unlimited: true}\n    rate_limits:\n      - {unit: second, requests_per_unit: 1}\n",
			"a.yaml:4:17: descriptors[0].rate_limit: unlimited: true cannot be combined with other limits on the same descriptor (hint: keep only the unlimited one)"},
		{"replaces itself", "domain: d\ndescriptors:\n  - key: a\n    rate_limit:\n      name: self\n      replaces:\n        - name: self\n      unit: second\n      requests_per_unit: 5\n",
			"a.yaml:7:11: descriptors[0].rate_limit.replaces[0]: rate_limit \"self\" replaces itself (hint: remove \"self\" from replaces)"},
		{"empty replaces", "domain: d\ndescriptors:\n  - key: a\n    rate_limit:\n      replaces:\n        - name: \"\"\n      unit: second\n      requests_per_unit: 5\n",
			"a.yaml:6:11: descriptors[0].rate_limit.replaces[0]: missing name (hint: write \"- name: <rate_limit name>\")"},
		{"duplicate descriptor", "domain: d\ndescriptors:\n  - key: a\n    value: b\n  - key: a\n    value: b\n",
			"a.yaml:5:5: descriptors[1]: duplicate descriptor key \"a\" value \"b\" at this level, first at line 3 (hint: merge the two entries)"},
		{"duplicate default descriptor", "domain: d\ndescriptors:\n  - key: a\n    descriptors:\n      - key: x\n      - key: x\n",
			"a.yaml:6:9: descriptors[0].descriptors[1]: duplicate descriptor key \"x\" without value at this level, first at line 5 (hint: merge the two entries)"},
		{"empty key", "domain: d\ndescriptors:\n  - value: b\n",
			"a.yaml:3:5: descriptors[0]: missing key (hint: add \"key: <descriptor key>\")"},
		{"share_threshold without wildcard", "domain: d\ndescriptors:\n  - key: a\n    value: b\n    share_threshold: true\n",
			"a.yaml:5:22: descriptors[0].share_threshold: needs a wildcard value (containing '*'), but value is \"b\" (hint: use a value such as \"prefix*\" or remove share_threshold)"},
		{"bad bool", "domain: d\ndescriptors:\n  - key: a\n    shadow_mode: maybe\n",
			"a.yaml:4:18: descriptors[0].shadow_mode: must be true or false, got \"maybe\""},
		{"metadata not mapping", "domain: d\ndescriptors:\n  - key: a\n    metadata: [1]\n",
			"a.yaml:4:15: descriptors[0].metadata: must be a mapping of keys to values, got a list"},
		{"descriptors not list", "domain: d\ndescriptors: {key: a}\n",
			"a.yaml:2:14: descriptors: must be a list (items start with \"- \"), got a mapping"},
		{"bad algorithm", "domain: d\ndescriptors:\n  - key: a\n    rate_limit: {unit: second, requests_per_unit: 1, algorithm: leaky}\n",
			"a.yaml:4:65: descriptors[0].rate_limit.algorithm: \"leaky\" is not one of fixed_window, sliding_window, token_bucket"},
		{"bad window", "domain: d\ndescriptors:\n  - key: a\n    rate_limit: {window: 1500ms, requests_per_unit: 1}\n",
			"a.yaml:4:26: descriptors[0].rate_limit.window: must be a whole number of seconds, at least 1s, got 1.5s (hint: such as 30s, 5m or 36h)"},
		{"unit and window", "domain: d\ndescriptors:\n  - key: a\n    rate_limit: {unit: minute, window: 30s, requests_per_unit: 1}\n",
			"a.yaml:4:40: descriptors[0].rate_limit.window: unit and window are both set (hint: keep window and drop unit; Envoy is told the nearest unit)"},
		{"second document", "domain: d\n---\ndomain: e\n",
			"a.yaml:2:1: more than one YAML document (hint: keep one document per file)"},
		{"all errors collected", "domain: d\ndescriptors:\n  - key: a\n    rate_limit: {unit: sec, requests_per_unit: 1}\n  - key: b\n    bogus: 1\n",
			"a.yaml:4:24: descriptors[0].rate_limit.unit: \"sec\" is not one of second, minute, hour, day, week, month, year\na.yaml:6:5: descriptors[1]: unknown key \"bogus\" (allowed: key, value, rate_limit, rate_limits, descriptors, shadow_mode, quota_mode, detailed_metric, value_to_metric, share_threshold, metadata)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadString(t, tt.yaml)
			if err == nil {
				t.Fatal("LoadConfig succeeded, want an error")
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

func TestLoadConfigErrorType(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": "domain: d\nx: 1\n"})
	_, err := LoadConfig(dir)
	var ces ConfigErrors
	if !errors.As(err, &ces) {
		t.Fatalf("error %T, want ConfigErrors", err)
	}
	want := ConfigError{File: filepath.Join(dir, "a.yaml"), Line: 2, Col: 1, Msg: `unknown key "x" (allowed: domain, descriptors)`}
	if len(ces) != 1 || ces[0] != want {
		t.Errorf("errors %+v, want [%+v]", ces, want)
	}
}

func TestLoadConfigDuplicateDomain(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": "domain: d\n", "b.yml": "# comment\ndomain: d\n"})
	_, err := LoadConfig(dir)
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yml")
	want := b + `:2:9: domain: duplicate domain "d", also defined at ` + a + ":1 (hint: each domain must be defined in one file only)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

func TestLoadConfigDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"a.yaml":           "domain: a\n",
		"b.yml":            "domain: b\n",
		"notes.txt":        "not yaml",
		".hidden.yaml":     "domain: hidden\n",
		"sub/c.yaml":       "domain: sub\n",
		"..2026_01/d.yaml": "domain: d\n",
	})
	if err := os.Symlink("..2026_01", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "d.yaml"), filepath.Join(dir, "d.yaml")); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(cfg.Domains(), ","), "a,b,d"; got != want {
		t.Errorf("domains %s, want %s", got, want)
	}
	want := []string{filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yml"), filepath.Join(dir, "d.yaml")}
	if got := cfg.Files(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("files %v, want %v", got, want)
	}

	// Several paths, a file among them.
	other := filepath.Join(t.TempDir(), "e.yaml")
	writeFiles(t, filepath.Dir(other), map[string]string{"e.yaml": "domain: e\n"})
	cfg, err = LoadConfig(dir, other)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Domains(), ","); got != "a,b,d,e" {
		t.Errorf("domains %s, want a,b,d,e", got)
	}

	empty, err := LoadConfig(t.TempDir())
	if err != nil || len(empty.Domains()) != 0 {
		t.Errorf("empty dir: %v, %v; want no domains", empty.Domains(), err)
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing")); err == nil || !strings.HasPrefix(err.Error(), "ratelimit: cannot load config: stat ") {
		t.Errorf("missing path: %v", err)
	}
}

func TestLoadConfigModel(t *testing.T) {
	cfg := mustLoad(t, `
domain: d
descriptors:
  - key: a
    value: "1"
    shadow_mode: yes
    rate_limit: {unit: MINUTE, requests_per_unit: 10, name: n1, replaces: [{name: n2}]}
  - key: b
    rate_limit: {window: 90m, requests_per_unit: 3, algorithm: token_bucket}
    rate_limits:
      - {unit: day, requests_per_unit: 100, algorithm: sliding_window}
  - key: c
    rate_limit: {unlimited: true}
    metadata: {team: {name: x}}
  - key: w
    value: "foo*"
    descriptors:
      - key: z
        rate_limit: {unit: second, requests_per_unit: 0}
`)
	root := cfg.domains["d"].root
	a := root.children[entryKey{"a", "1"}]
	if !a.shadowMode || len(a.limits) != 1 {
		t.Fatalf("a: %+v", a)
	}
	if got, want := a.limits[0].info, (LimitInfo{Name: "n1", RequestsPerUnit: 10, Unit: UnitMinute, Window: time.Minute}); got != want {
		t.Errorf("a limit %+v, want %+v", got, want)
	}
	if a.limits[0].name != "n1" || strings.Join(a.limits[0].replaces, ",") != "n2" {
		t.Errorf("a name/replaces %q %q", a.limits[0].name, a.limits[0].replaces)
	}
	b := root.children[entryKey{"b", ""}]
	if len(b.limits) != 2 {
		t.Fatalf("b limits %d, want 2", len(b.limits))
	}
	if got, want := b.limits[0].info, (LimitInfo{RequestsPerUnit: 3, Unit: UnitHour, Window: 90 * time.Minute}); got != want {
		t.Errorf("b[0] %+v, want %+v", got, want)
	}
	if b.limits[0].algorithm != counter.TokenBucket || b.limits[1].algorithm != counter.SlidingWindow {
		t.Errorf("b algorithms %v %v", b.limits[0].algorithm, b.limits[1].algorithm)
	}
	if b.limits[0].keySuffix != "|3/5400s/token_bucket" {
		t.Errorf("b key suffix %q", b.limits[0].keySuffix)
	}
	c := root.children[entryKey{"c", ""}]
	if !c.limits[0].unlimited {
		t.Errorf("c %+v", c)
	}
	if len(root.wildcards) != 1 || root.wildcards[0].value != "foo*" {
		t.Errorf("wildcards %+v", root.wildcards)
	}
	z := root.wildcards[0].children[entryKey{"z", ""}]
	if z.path != "w_foo*.z" || z.limits[0].info.RequestsPerUnit != 0 {
		t.Errorf("z %+v", z)
	}
}

func TestUnitFor(t *testing.T) {
	tests := []struct {
		window time.Duration
		want   Unit
	}{
		{time.Second, UnitSecond}, {30 * time.Second, UnitSecond}, {time.Minute, UnitMinute},
		{5 * time.Minute, UnitMinute}, {90 * time.Minute, UnitHour}, {36 * time.Hour, UnitDay},
		{8 * 24 * time.Hour, UnitWeek}, {45 * 24 * time.Hour, UnitMonth}, {400 * 24 * time.Hour, UnitYear},
	}
	for _, tt := range tests {
		if got := unitFor(tt.window); got != tt.want {
			t.Errorf("unitFor(%v) = %v, want %v", tt.window, got, tt.want)
		}
	}
}

func TestFailureModeText(t *testing.T) {
	for _, m := range []FailureMode{FailOpen, FailClosed} {
		b, err := m.MarshalText()
		var back FailureMode
		if err != nil || back.UnmarshalText(b) != nil || back != m {
			t.Errorf("%v: MarshalText = %q, %v; read back %v", m, b, err, back)
		}
	}
	f := func(in, want string) {
		t.Helper()
		var m FailureMode
		if err := m.UnmarshalText([]byte(in)); err == nil || err.Error() != want {
			t.Errorf("UnmarshalText(%q) = %v, want %s", in, err, want)
		}
	}
	f("allow", `"allow" is not one of fail_open, fail_closed (hint: allow is now written fail_open)`)
	f("deny", `"deny" is not one of fail_open, fail_closed (hint: deny is now written fail_closed)`)
	f("open", `"open" is not one of fail_open, fail_closed`)
}

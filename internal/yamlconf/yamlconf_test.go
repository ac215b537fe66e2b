package yamlconf

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestErrorFormat(t *testing.T) {
	f := func(e Error, want string) {
		t.Helper()
		if got := e.Error(); got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
	}
	f(Error{File: "a.yaml", Line: 3, Col: 5, Path: "x.y", Msg: "bad (hint: fix)"}, "a.yaml:3:5: x.y: bad (hint: fix)")
	f(Error{File: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad")
	f(Error{File: "a.yaml", Msg: "empty"}, "a.yaml: empty")
	f(Error{Path: "backend", Msg: "bad"}, "backend: bad")
	l := Errors{{File: "a", Line: 1, Msg: "x"}, {File: "b", Line: 2, Col: 1, Msg: "y"}}
	if got, want := l.Error(), "a:1: x\nb:2:1: y"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

// decodeErr decodes doc into a fresh value of into's type and returns the
// value and the error text.
func decodeErr(t *testing.T, doc string, into any) string {
	t.Helper()
	d := NewDecoder("f.yaml")
	if root := d.Document([]byte(doc)); root != nil {
		d.Decode(root, "", into)
	}
	if err := d.Err(); err != nil {
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("Err() is %T, want Errors", err)
		}
		return err.Error()
	}
	return ""
}

type mode int

func (m *mode) UnmarshalText(b []byte) error {
	if string(b) != "on_fire" {
		return fmt.Errorf("%s (hint: only on_fire)", NotOneOf(string(b), "on_fire"))
	}
	*m = 1
	return nil
}

type inner struct {
	Name  string        `yaml:"name"`
	Wait  time.Duration `yaml:"wait"`
	Count uint8         `yaml:"count"`
}

type outer struct {
	On      bool             `yaml:"on"`
	N       int              `yaml:"n"`
	Inner   inner            `yaml:"inner"`
	List    []string         `yaml:"list"`
	Map     map[string]inner `yaml:"map"`
	Mode    mode             `yaml:"mode"`
	Raw     yaml.Node        `yaml:"raw"`
	Skipped string           `yaml:"-"`
}

func TestDecode(t *testing.T) {
	var o outer
	doc := "on: Yes\nn: -3\ninner: &i {name: x, wait: 250ms, count: 255}\nlist: [a, 1, true]\nmap: {b: *i, a: {name: y}}\nmode: on_fire\nraw: {anything: [1]}\n"
	if got := decodeErr(t, doc, &o); got != "" {
		t.Fatalf("errors: %s", got)
	}
	want := outer{On: true, N: -3, Inner: inner{"x", 250 * time.Millisecond, 255}, List: []string{"a", "1", "true"},
		Map: map[string]inner{"b": {"x", 250 * time.Millisecond, 255}, "a": {Name: "y"}}, Mode: 1}
	raw := o.Raw
	o.Raw = yaml.Node{}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("decoded %+v, want %+v", o, want)
	}
	if raw.Kind != yaml.MappingNode || raw.Line != 7 || raw.Column != 6 {
		t.Errorf("raw node kind %v at %d:%d, want a mapping at 7:6", raw.Kind, raw.Line, raw.Column)
	}
	d := NewDecoder("f.yaml")
	d.Decode(d.Document([]byte(doc)), "", &outer{})
	if n := d.Node("map.a.name"); n == nil || n.Line != 5 || n.Column != 24 {
		t.Errorf("Node(map.a.name) = %+v, want line 5 column 24", n)
	}
	if n := d.Node("inner.missing"); n != nil {
		t.Errorf("Node of an unset path = %+v, want nil", n)
	}
}

func TestDecodeErrors(t *testing.T) {
	f := func(doc, want string) {
		t.Helper()
		if got := decodeErr(t, doc, &outer{}); got != want {
			t.Errorf("decode %q:\n got %s\nwant %s", doc, got, want)
		}
	}
	const allowed = "(allowed: on, n, inner, list, map, mode, raw)"
	f("", "")
	f("on: ~\nn: null\n", "")
	f("of: true\n", `f.yaml:1:1: unknown key "of" `+allowed)
	f("n: 1\nn: 2\n", `f.yaml:2:1: key "n" repeated, first at line 1 (hint: keep one)`)
	f("[a]: 1\n", `f.yaml:1:1: a key must be a plain name, got a list `+allowed)
	f("map: {[x]: {}}\n", `f.yaml:1:7: map: a key must be a plain name, got a list`)
	f("on: maybe\n", `f.yaml:1:5: on: must be true or false, got "maybe"`)
	f("n: 1.5\n", `f.yaml:1:4: n: must be a whole number, got "1.5"`)
	f("inner: {count: 256}\n", `f.yaml:1:16: inner.count: must be a whole number from 0 to 255, got "256"`)
	f("inner: {wait: 5}\n", `f.yaml:1:15: inner.wait: invalid duration "5" (hint: a Go duration with a unit, such as 500ms, 5s or 1m)`)
	f("inner: {name: [a]}\n", `f.yaml:1:15: inner.name: must be a string, got a list`)
	f("inner: [a]\n", `f.yaml:1:8: inner: must be a mapping of keys to values, got a list`)
	f("list: a\n", `f.yaml:1:7: list: must be a list (items start with "- "), got "a"`)
	f("mode: off\n", `f.yaml:1:7: mode: "off" is not one of on_fire (hint: only on_fire)`)
	f("n: [\n", "f.yaml:1: invalid YAML: did not find expected node content")
	f("n: 1\n---\nn: 2\n", "f.yaml:2:1: more than one YAML document (hint: keep one document per file)")
	// Every problem, in line and column order.
	f("mode: x\nn: y\ninner: {count: -1, wait: z}\n",
		`f.yaml:1:7: mode: "x" is not one of on_fire (hint: only on_fire)`+"\n"+
			`f.yaml:2:4: n: must be a whole number, got "y"`+"\n"+
			`f.yaml:3:16: inner.count: must be a whole number from 0 to 255, got "-1"`+"\n"+
			`f.yaml:3:26: inner.wait: invalid duration "z" (hint: a Go duration with a unit, such as 500ms, 5s or 1m)`)
}

func TestBool(t *testing.T) {
	d := NewDecoder("f.yaml")
	for _, s := range []string{"true", "TRUE", "yes", "On", "y", "Y"} {
		if !d.Bool(&yaml.Node{Kind: yaml.ScalarNode, Value: s}, "b", false) {
			t.Errorf("Bool(%q) = false", s)
		}
	}
	for _, s := range []string{"false", "No", "off", "n", "N"} {
		if d.Bool(&yaml.Node{Kind: yaml.ScalarNode, Value: s}, "b", true) {
			t.Errorf("Bool(%q) = true", s)
		}
	}
	if !d.Bool(nil, "b", true) || d.Count() != 0 {
		t.Errorf("Bool(nil, def true) = false or recorded %d problems", d.Count())
	}
}

func TestOneOf(t *testing.T) {
	d := NewDecoder("f.yaml")
	if s, ok := d.OneOf(&yaml.Node{Kind: yaml.ScalarNode, Value: "b"}, "x", "a", "b"); !ok || s != "b" {
		t.Errorf("OneOf(b) = %q, %v", s, ok)
	}
	if _, ok := d.OneOf(&yaml.Node{Kind: yaml.ScalarNode, Value: "c", Line: 2, Column: 4}, "x", "a", "b"); ok {
		t.Error("OneOf(c) ok")
	}
	if got, want := d.Err().Error(), `f.yaml:2:4: x: "c" is not one of a, b`; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

type withPointers struct {
	Block *inner `yaml:"block"`
	Other *inner `yaml:"other"`
	Empty *inner `yaml:"empty"`
	Null  *inner `yaml:"null"`
	N     *int   `yaml:"n"`
}

// TestDecodePointers: a present value allocates its pointer (an empty
// mapping too), an absent or null one leaves it nil, and errors inside keep
// their paths and positions.
func TestDecodePointers(t *testing.T) {
	var p withPointers
	if got := decodeErr(t, "block: {name: x, wait: 1s}\nempty: {}\nnull: ~\nn: 7\n", &p); got != "" {
		t.Fatalf("errors: %s", got)
	}
	if p.Block == nil || *p.Block != (inner{Name: "x", Wait: time.Second}) {
		t.Errorf("block = %+v, want {x 1s 0}", p.Block)
	}
	if p.Empty == nil || *p.Empty != (inner{}) {
		t.Errorf("empty = %+v, want a zero inner", p.Empty)
	}
	if p.Other != nil || p.Null != nil {
		t.Errorf("other = %+v, null = %+v; want both nil", p.Other, p.Null)
	}
	if p.N == nil || *p.N != 7 {
		t.Errorf("n = %v, want 7", p.N)
	}
	if got, want := decodeErr(t, "block: {count: x}\n", &withPointers{}), `f.yaml:1:16: block.count: must be a whole number from 0 to 255, got "x"`; got != want {
		t.Errorf("error = %s, want %s", got, want)
	}
}

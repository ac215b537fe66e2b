// Package yamlconf decodes Tollgate's YAML config files (the settings file,
// the rate-limit rules, the metering section) with the positions of their
// nodes, so every problem is reported as "file:line:col: path: message
// (hint)".
//
// A Decoder walks the yaml.Node tree of one file. Its helpers check the
// shape of each node (mapping, list, scalar), reject unknown, repeated and
// non-scalar keys, parse scalars the same way for every file, and collect
// every problem instead of stopping at the first; Err returns them all.
// Decode fills a struct through its yaml tags with the same helpers.
//
// # Scalars
//
// Strings are taken as written, so numbers and booleans are strings where a
// string is expected (as envoyproxy/ratelimit reads them). Booleans are
// true/false, yes/no, on/off or y/n in any case, the YAML 1.1 spellings
// envoyproxy/ratelimit accepts. Whole numbers are decimal. Durations are Go
// durations with a unit (500ms, 5s, 1m). A null value counts as absent.
package yamlconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Decoder collects the problems of one file. It is not safe for concurrent
// use.
type Decoder struct {
	file string
	errs Errors
	// nodes holds the value node of each path Decode filled.
	nodes map[string]*yaml.Node
}

// NewDecoder returns a Decoder whose errors name file.
func NewDecoder(file string) *Decoder {
	return &Decoder{file: file, nodes: map[string]*yaml.Node{}}
}

// Errorf records a problem with the node n (nil: no position) at path.
func (d *Decoder) Errorf(n *yaml.Node, path, format string, args ...any) {
	e := Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

// Count returns how many problems were recorded so far.
func (d *Decoder) Count() int { return len(d.errs) }

// Errors returns the problems recorded so far, in line and column order.
func (d *Decoder) Errors() Errors {
	d.errs.sortByPosition()
	return d.errs
}

// Err returns Errors as an error, or nil when there is no problem.
func (d *Decoder) Err() error {
	if len(d.errs) == 0 {
		return nil
	}
	return d.Errors()
}

// Node returns the value node Decode filled path from, or nil when the file
// did not set it.
func (d *Decoder) Node(path string) *yaml.Node { return d.nodes[path] }

// Document parses data as one YAML document and returns its top node, or
// nil when the file is empty or not valid YAML (then a problem is
// recorded). A second document is a problem.
func (d *Decoder) Document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.syntaxError(err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.Errorf(&extra, "", "more than one YAML document (hint: keep one document per file)")
	} else if !errors.Is(err, io.EOF) {
		d.syntaxError(err)
		return nil
	}
	if len(doc.Content) == 0 || !d.checkSize(doc.Content[0]) {
		return nil
	}
	return doc.Content[0]
}

// MaxNodes bounds the nodes a document may name once its aliases are
// followed: a few lines of anchors and aliases can name billions, which
// decoding a recursive structure (rate-limit descriptors) would walk one by
// one.
const MaxNodes = 1_000_000

// checkSize reports whether n names at most MaxNodes nodes, its aliases
// followed; otherwise it records a problem at n.
func (d *Decoder) checkSize(n *yaml.Node) bool {
	if expandedSize(n, map[*yaml.Node]int{}) <= MaxNodes {
		return true
	}
	d.Errorf(n, "", "the document names more than %d nodes once its aliases are followed (hint: write the repeated parts out, or alias fewer times)", MaxNodes)
	return false
}

// expandedSize returns the number of nodes n names, aliases followed,
// or MaxNodes+1 when that is more; seen memoizes the aliased nodes.
func expandedSize(n *yaml.Node, seen map[*yaml.Node]int) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return 1
		}
		size, ok := seen[n.Alias]
		if !ok {
			size = expandedSize(n.Alias, seen)
			seen[n.Alias] = size
		}
		return size
	}
	size := 1
	for _, c := range n.Content {
		if size += expandedSize(c, seen); size > MaxNodes {
			return MaxNodes + 1
		}
	}
	return size
}

// syntaxError records a YAML syntax error, taking its line from the message
// (yaml.v3 does not give the column).
func (d *Decoder) syntaxError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	}
	d.errs = append(d.errs, Error{File: d.file, Line: line, Msg: "invalid YAML: " + msg})
}

// Resolve follows aliases to the node they name.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is absent or a null scalar.
func IsNull(n *yaml.Node) bool {
	n = Resolve(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// KindName describes n for messages: "a mapping", "a list" or its quoted
// scalar value.
func KindName(n *yaml.Node) string {
	switch Resolve(n).Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(Resolve(n).Value)
}

// Join appends key to a dotted path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index appends a list index to a path: path[i].
func Index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// Fields are a mapping's values by key, with the mapping node for
// positions (nil when the mapping is absent).
type Fields struct {
	// Node is the mapping node, or nil or a null scalar when it is absent.
	Node *yaml.Node
	m    map[string]*yaml.Node
	keys []string
}

// Get returns the value node of key, or nil when the key is absent.
func (f Fields) Get(key string) *yaml.Node { return f.m[key] }

// Keys returns the good keys in file order.
func (f Fields) Keys() []string { return f.keys }

// Mapping checks that n is a mapping whose keys are scalars, each once, and
// among allowed (any key when allowed is empty); a problem names the
// allowed keys. It returns the values of the good keys, and false when n is
// not a mapping. An absent or null n is an empty mapping.
func (d *Decoder) Mapping(n *yaml.Node, path string, allowed ...string) (Fields, bool) {
	n = Resolve(n)
	f := Fields{Node: n, m: map[string]*yaml.Node{}}
	if IsNull(n) {
		return f, true
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "must be a mapping of keys to values, got %s", KindName(n))
		return f, false
	}
	lines := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		rk := Resolve(k)
		switch {
		case rk.Kind != yaml.ScalarNode:
			d.Errorf(k, path, "a key must be a plain name, got %s%s", KindName(rk), allowedHint(allowed))
		case len(allowed) > 0 && !contains(allowed, rk.Value):
			d.Errorf(k, path, "unknown key %q%s", rk.Value, allowedHint(allowed))
		case lines[rk.Value] != 0:
			d.Errorf(k, path, "key %q repeated, first at line %d (hint: keep one)", rk.Value, lines[rk.Value])
		default:
			lines[rk.Value] = k.Line
			f.m[rk.Value] = v
			f.keys = append(f.keys, rk.Value)
		}
	}
	return f, true
}

func allowedHint(allowed []string) string {
	if len(allowed) == 0 {
		return ""
	}
	return " (allowed: " + strings.Join(allowed, ", ") + ")"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// List returns the items of the sequence n; an absent or null n is an empty
// list.
func (d *Decoder) List(n *yaml.Node, path string) []*yaml.Node {
	n = Resolve(n)
	if IsNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, path, "must be a list (items start with \"- \"), got %s", KindName(n))
		return nil
	}
	return n.Content
}

// scalar returns the scalar n as written ("" for null); false when n is a
// mapping or a list.
func scalar(n *yaml.Node) (string, bool) {
	n = Resolve(n)
	if IsNull(n) {
		return "", true
	}
	return n.Value, n.Kind == yaml.ScalarNode
}

// String returns the scalar n as written ("" for null); false, with a
// problem recorded, when n is a mapping or a list.
func (d *Decoder) String(n *yaml.Node, path string) (string, bool) {
	s, ok := scalar(n)
	if !ok {
		d.Errorf(n, path, "must be a string, got %s", KindName(n))
	}
	return s, ok
}

// Strings returns the scalars of the list n.
func (d *Decoder) Strings(n *yaml.Node, path string) []string {
	var out []string
	for i, item := range d.List(n, path) {
		if s, ok := d.String(item, Index(path, i)); ok {
			out = append(out, s)
		}
	}
	return out
}

// Bool returns the boolean n, or def when n is absent, null or invalid.
func (d *Decoder) Bool(n *yaml.Node, path string, def bool) bool {
	if IsNull(n) {
		return def
	}
	s, _ := scalar(n)
	switch strings.ToLower(s) {
	case "true", "yes", "on", "y":
		return true
	case "false", "no", "off", "n":
		return false
	}
	d.Errorf(n, path, "must be true or false, got %s", KindName(n))
	return def
}

// Int returns the decimal whole number n, which must lie in [lo, hi]
// (the message leaves out the range when it is all of int64).
func (d *Decoder) Int(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	s, _ := scalar(n)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		if lo == math.MinInt64 && hi == math.MaxInt64 {
			d.Errorf(n, path, "must be a whole number, got %s", KindName(n))
		} else {
			d.Errorf(n, path, "must be a whole number from %d to %d, got %s", lo, hi, KindName(n))
		}
		return 0, false
	}
	return v, true
}

// Duration returns the Go duration n (such as 500ms, 5s or 1m).
func (d *Decoder) Duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, _ := scalar(n)
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Errorf(n, path, "invalid duration %s (hint: a Go duration with a unit, such as 500ms, 5s or 1m)", KindName(n))
		return 0, false
	}
	return v, true
}

// OneOf returns the scalar n, which must be one of valid.
func (d *Decoder) OneOf(n *yaml.Node, path string, valid ...string) (string, bool) {
	s, ok := scalar(n)
	if !ok || !contains(valid, s) {
		d.Errorf(n, path, "%s is not one of %s", KindName(n), strings.Join(valid, ", "))
		return "", false
	}
	return s, true
}

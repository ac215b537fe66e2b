package ratelimit

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tollgate/tollgate/internal/yamlconf"
)

// ConfigError is one config problem: "file:line:col: path: message (hint)".
type ConfigError = yamlconf.Error

// ConfigErrors is every problem found, each file's in line order; its Error
// returns one ConfigError per line.
type ConfigErrors = yamlconf.Errors

// LoadConfig loads envoyproxy/ratelimit YAML (plus Tollgate's extensions)
// from each path: a file, or a directory whose top-level *.yaml and *.yml
// entries are loaded in name order. In a directory, entries whose names start
// with '.' and subdirectories are skipped and symlinks are followed, so a
// Kubernetes ConfigMap mount (x.yaml -> ..data/x.yaml) loads each file once.
// An empty directory gives a Config with no domains.
//
// All problems are collected; the error is then a ConfigErrors. A path that
// cannot be read gives a plain error.
func LoadConfig(paths ...string) (*Config, error) {
	var files []string
	for _, p := range paths {
		fs, err := configFiles(p)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	l := loader{cfg: &Config{domains: map[string]*domainConfig{}, files: files}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: cannot read config file: %w", err)
		}
		l.loadFile(f, data)
	}
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return l.cfg, nil
}

// ParseConfig loads one domain's YAML from memory, as LoadConfig loads a
// file; errors name the given file name. Generated configs use it.
func ParseConfig(name string, data []byte) (*Config, error) {
	l := loader{cfg: &Config{domains: map[string]*domainConfig{}, files: []string{name}}}
	l.loadFile(name, data)
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return l.cfg, nil
}

// configFiles lists the files to load for one path.
func configFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: cannot load config: %w (hint: pass a YAML file or a directory of them)", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: cannot list config directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		ext := filepath.Ext(name)
		if ext != ".yaml" && ext != ".yml" {
			continue
		}
		full := filepath.Join(path, name)
		st, err := os.Stat(full)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: cannot load config: %w", err)
		}
		if st.IsDir() {
			continue
		}
		files = append(files, full)
	}
	sort.Strings(files)
	return files, nil
}

// loader accumulates domains and errors over the files of one load.
type loader struct {
	cfg  *Config
	errs ConfigErrors
	// d decodes the file being loaded.
	d *yamlconf.Decoder
}

// Allowed keys at each level, in the order the hints list them.
var (
	rootKeys       = []string{"domain", "descriptors"}
	descriptorKeys = []string{"key", "value", "rate_limit", "rate_limits", "descriptors", "shadow_mode", "quota_mode", "detailed_metric", "value_to_metric", "share_threshold", "metadata"}
	rateLimitKeys  = []string{"unit", "requests_per_unit", "unlimited", "name", "replaces", "algorithm", "window"}
	replacesKeys   = []string{"name"}
)

// loadFile loads the domain of one file and appends the file's problems.
func (l *loader) loadFile(file string, data []byte) {
	l.d = yamlconf.NewDecoder(file)
	defer func() { l.errs = append(l.errs, l.d.Errors()...) }()
	root := l.d.Document(data)
	if root == nil {
		if l.d.Count() == 0 {
			l.d.Errorf(nil, "", `missing domain: the file is empty (hint: start it with "domain: <name>")`)
		}
		return
	}
	fields, ok := l.d.Mapping(root, "", rootKeys...)
	if !ok {
		return
	}
	domainNode := fields.Get("domain")
	domain, _ := l.d.String(domainNode, "domain")
	if domain == "" {
		at := root
		if domainNode != nil {
			at = domainNode
		}
		l.d.Errorf(at, "domain", `missing (hint: add "domain: <name>" at the top level)`)
	}
	dc := &domainConfig{name: domain, file: file, line: root.Line, root: l.newNode()}
	if domainNode != nil {
		dc.line = domainNode.Line
	}
	l.descriptors(dc.root, fields.Get("descriptors"), "descriptors", "")
	if domain == "" {
		return
	}
	if prev, dup := l.cfg.domains[domain]; dup {
		l.d.Errorf(domainNode, "domain", "duplicate domain %q, also defined at %s:%d (hint: each domain must be defined in one file only)", domain, prev.file, prev.line)
		return
	}
	l.cfg.domains[domain] = dc
}

func (l *loader) newNode() *node {
	n := &node{id: l.cfg.nodes, children: map[entryKey]*node{}}
	l.cfg.nodes++
	return n
}

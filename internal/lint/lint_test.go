// Package lint holds the module's house rules as ordinary tests: they parse
// every Go file of the module with go/parser and fail with file:line and how
// to fix each violation.
package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// goFile is one parsed Go file of the module.
type goFile struct {
	path string // slash-separated, relative to the module root
	file *ast.File
	test bool
}

// exempt reports whether the process-wide clock, logger and registry are
// f's to use: in tests; in test support (a non-test file that imports
// "testing", as counter/storetest or internal/benchload); in programs
// (package main: cmd/ and the tools under scripts/), which own the process;
// and in generated code.
func (f *goFile) exempt() bool {
	return f.test || importName(f.file, "testing") != "" || f.file.Name.Name == "main" || ast.IsGenerated(f.file)
}

// moduleFiles parses every .go file of the module, skipping testdata and
// hidden directories.
func moduleFiles(t *testing.T) (*token.FileSet, []goFile) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s, the module root this test expects: %v", root, err)
	}
	fset := token.NewFileSet()
	var files []goFile
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		// Parsed under its module-relative name, so positions read
		// "envoy/authz.go:12:3".
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution|parser.ParseComments)
		if err != nil {
			return err
		}
		files = append(files, goFile{path: rel, file: f, test: strings.HasSuffix(name, "_test.go")})
		return nil
	})
	if err != nil {
		t.Fatalf("cannot parse the module's Go files: %v", err)
	}
	if len(files) < 50 {
		t.Fatalf("found %d Go files under %s, want the whole module", len(files), root)
	}
	return fset, files
}

// importName returns the name file f uses for the package at path, or "" if
// f does not import it.
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == path {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return path[strings.LastIndexByte(path, '/')+1:]
		}
	}
	return ""
}

// violation is one broken rule at a position.
type violation struct {
	pos  token.Position
	what string
}

// allowed lists the violations the rules accept, by "path: rule" (rule is
// clock, logger, registry, tracer or grpc), each with the reason. An entry that
// matches nothing fails the test, so the list only shrinks. It is empty: the
// tree follows every rule.
var allowed = map[string]string{}

// report fails t with every violation not in allowed, and with every allowed
// entry that matched nothing.
func report(t *testing.T, rule string, vs []violation, fix string) {
	t.Helper()
	used := map[string]bool{}
	var lines []string
	for _, v := range vs {
		key := v.pos.Filename + ": " + rule
		if _, ok := allowed[key]; ok {
			used[key] = true
			continue
		}
		lines = append(lines, v.pos.String()+": "+v.what)
	}
	for key := range allowed {
		if strings.HasSuffix(key, ": "+rule) && !used[key] {
			lines = append(lines, "allow-list entry "+strconv.Quote(key)+" matches nothing: remove it from internal/lint/lint_test.go")
		}
	}
	if len(lines) > 0 {
		sort.Strings(lines)
		t.Errorf("%s:\n\t%s\nhow to fix: %s", rule, strings.Join(lines, "\n\t"), fix)
	}
}

// selectors calls visit for every pkg.Name selector of file f whose pkg is
// the package imported from path.
func selectors(f *ast.File, path string, visit func(sel *ast.SelectorExpr, parent ast.Node)) {
	name := importName(f, path)
	if name == "" || name == "_" || name == "." {
		return
	}
	var stack []ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == name {
				var parent ast.Node
				if len(stack) > 0 {
					parent = stack[len(stack)-1]
				}
				visit(sel, parent)
			}
		}
		stack = append(stack, n)
		return true
	})
}

// TestNoProcessGlobals: library code takes its clock, logger, metrics
// registry and tracer provider from its Options; only programs (package
// main) and tests reach for the process-wide ones.
func TestNoProcessGlobals(t *testing.T) {
	fset, files := moduleFiles(t)
	var clock, logger, registry, tracer []violation
	for i := range files {
		f := &files[i]
		if f.exempt() {
			continue
		}
		selectors(f.file, "time", func(sel *ast.SelectorExpr, parent ast.Node) {
			// time.Now as a value is how Options default their clock
			// (Now: time.Now); calling it reads the process clock.
			if call, ok := parent.(*ast.CallExpr); ok && call.Fun == sel && sel.Sel.Name == "Now" {
				clock = append(clock, violation{fset.Position(sel.Pos()), "time.Now() called in a library package"})
			}
		})
		selectors(f.file, "log/slog", func(sel *ast.SelectorExpr, _ ast.Node) {
			if sel.Sel.Name == "Default" || sel.Sel.Name == "SetDefault" {
				logger = append(logger, violation{fset.Position(sel.Pos()), "slog." + sel.Sel.Name + " in a library package"})
			}
		})
		selectors(f.file, "github.com/prometheus/client_golang/prometheus", func(sel *ast.SelectorExpr, _ ast.Node) {
			if slices.Contains([]string{"DefaultRegisterer", "DefaultGatherer", "MustRegister", "Register", "Unregister"}, sel.Sel.Name) {
				registry = append(registry, violation{fset.Position(sel.Pos()), "prometheus." + sel.Sel.Name + " uses the process-wide registry"})
			}
		})
		selectors(f.file, "github.com/prometheus/client_golang/prometheus/promauto", func(sel *ast.SelectorExpr, _ ast.Node) {
			if sel.Sel.Name != "With" {
				registry = append(registry, violation{fset.Position(sel.Pos()), "promauto." + sel.Sel.Name + " registers on the process-wide registry"})
			}
		})
		selectors(f.file, "go.opentelemetry.io/otel", func(sel *ast.SelectorExpr, _ ast.Node) {
			if slices.Contains([]string{"Tracer", "GetTracerProvider", "SetTracerProvider", "GetTextMapPropagator", "SetTextMapPropagator", "SetErrorHandler"}, sel.Sel.Name) {
				tracer = append(tracer, violation{fset.Position(sel.Pos()), "otel." + sel.Sel.Name + " uses the process-wide tracer provider"})
			}
		})
	}
	report(t, "clock", clock, "take the time from the component's injected clock (an Options.Now field whose default is time.Now), so tests can drive it")
	report(t, "logger", logger, "log through the *slog.Logger of the component's Options (default: slog.New(slog.DiscardHandler)); only cmd/ picks the process logger")
	report(t, "registry", registry, "register on the prometheus.Registerer of the component's Options (promauto.With(reg), or reg.Register); only cmd/ exposes a registry")
	report(t, "tracer", tracer, "take a trace.TracerProvider from the component's Options or constructor (nil: no spans) and use internal/tracing.Tracer; only cmd/ builds the provider")
}

// grpcAdapters are the paths that may map errors to gRPC codes: the Envoy
// adapters, the counter API, the programs and the gRPC interceptors of
// internal/apiauth. Tests may read codes as any gRPC client does.
var grpcAdapters = []string{"envoy/", "counter/api/", "cmd/", "internal/apiauth/grpc.go"}

// TestGRPCCodesOnlyInAdapters: only the adapters turn domain errors into gRPC
// codes and statuses; the domain packages return errors with sentinels.
func TestGRPCCodesOnlyInAdapters(t *testing.T) {
	fset, files := moduleFiles(t)
	var vs []violation
	for i := range files {
		f := &files[i]
		if f.test || ast.IsGenerated(f.file) || slices.ContainsFunc(grpcAdapters, func(dir string) bool { return strings.HasPrefix(f.path, dir) }) {
			continue
		}
		for _, imp := range f.file.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "google.golang.org/grpc/codes" || p == "google.golang.org/grpc/status" {
				vs = append(vs, violation{fset.Position(imp.Pos()), "imports " + p + " outside the adapters (" + strings.Join(grpcAdapters, ", ") + ")"})
			}
		}
	}
	report(t, "grpc", vs, "return an error wrapping a package sentinel (e.g. counter.ErrUnavailable) and map it to a code in the adapter (envoy/, counter/api)")
}

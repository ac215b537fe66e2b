// Package examples holds the Envoy and Tollgate example configurations; its
// tests prove that every example loads and validates.
package examples

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	// Typed configs the Envoy examples use, registered so Any fields resolve.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/grpc/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rate_limit_quota/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"gopkg.in/yaml.v3"

	"github.com/tollgate/tollgate/internal/envoytest"
)

// validateEnvoyYAML loads an Envoy bootstrap from YAML as Envoy does (unknown
// fields and unknown types are errors) and runs the protoc-gen-validate rules
// of the bootstrap and of every typed config nested in it.
func validateEnvoyYAML(data []byte) error {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	var b bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(js, &b); err != nil {
		return err
	}
	return validateTree(&b)
}

type validator interface{ ValidateAll() error }

// validateTree validates m and, recursively, every message inside it,
// unpacking Any fields so typed configs are validated too.
func validateTree(m proto.Message) error {
	if v, ok := m.(validator); ok {
		if err := v.ValidateAll(); err != nil {
			return err
		}
	}
	if a, ok := m.(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			return err
		}
		return validateTree(inner)
	}
	var err error
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len() && err == nil; i++ {
				err = validateTree(v.List().Get(i).Message().Interface())
			}
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					err = validateTree(mv.Message().Interface())
					return err == nil
				})
			}
		default:
			err = validateTree(v.Message().Interface())
		}
		return err == nil
	})
	return err
}

func TestEnvoyExamplesValidate(t *testing.T) {
	files, err := filepath.Glob("envoy/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Envoy examples found: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := validateEnvoyYAML(data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestEnvoyValidationCatchesTypos proves the check is not vacuous: a
// misspelled field, a misspelled type and a rule violation each fail.
func TestEnvoyValidationCatchesTypos(t *testing.T) {
	data, err := os.ReadFile("envoy/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, from, to, want string }{
		{"unknown field", "stat_prefix:", "stats_prefix:", `unknown field "stats_prefix"`},
		{"unknown type", "filters.http.router.v3.Router", "filters.http.router.v3.Routr", "unable to resolve"},
		{"rule violation", "domain: quickstart", `domain: ""`, "Domain: value length must be at least 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			broken := strings.Replace(string(data), c.from, c.to, 1)
			if broken == string(data) {
				t.Fatalf("%q not found in envoy.yaml", c.from)
			}
			err := validateEnvoyYAML([]byte(broken))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestRealEnvoyValidatesExamples runs the real Envoy's `--mode validate`
// on every Envoy example (the Kubernetes example mounts envoy/envoy.yaml)
// and bench bootstrap, and on a broken copy to prove the check can fail.
func TestRealEnvoyValidatesExamples(t *testing.T) {
	files, err := filepath.Glob("envoy/*.yaml")
	bench, _ := filepath.Glob("bench/envoy*.yaml") // a valid constant pattern: no error
	files = append(files, bench...)
	if err != nil || len(files) == 0 {
		t.Fatalf("no Envoy examples found: %v", err)
	}
	for _, f := range files {
		if f == mtlsExample {
			continue // reads certificate files: TestRealEnvoyValidatesMTLS writes them
		}
		if out, err := envoytest.Validate(t, f); err != nil || !strings.Contains(out, "OK") {
			t.Errorf("envoy --mode validate %s: %v\n%s", f, err, out)
		}
	}
	data, err := os.ReadFile("envoy/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(data), "cluster: app", "cluster: ap", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := envoytest.Validate(t, broken)
	if err == nil || !strings.Contains(out, "unknown cluster 'ap'") {
		t.Errorf("a route to an unknown cluster validated: %v\n%s", err, out)
	}
}

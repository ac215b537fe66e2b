package apiauth

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const validYAML = `
tokens:
  - name: ops
    hash: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    scopes: [admin]
  - name: acme-dashboard
    hash: sha256:60303AE22B998861BCE3B28F33EEC1BE758A213C86C93C076DBE9F558C11C752
    scopes: ["usage:read:acme", "export:requests:acme"]
identities:
  - identity: spiffe://example.org/ns/billing/*
    scopes: ["export:*"]
  - identity: ops.internal
    scopes: ["counters:read:*"]
envoy_identities: [spiffe://example.org/ns/edge/sa/envoy]
`

func TestConfigValid(t *testing.T) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(validYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate = %v", err)
	}
	if !c.Configured() || len(c.Tokens) != 2 || len(c.Identities) != 2 || len(c.EnvoyIdentities) != 1 {
		t.Fatalf("decoded %+v", c)
	}
	if (&Config{EnvoyIdentities: []string{"envoy.internal"}}).Configured() {
		t.Fatal("envoy_identities alone must not configure credentials")
	}
}

func TestConfigValidateErrors(t *testing.T) {
	const h = " (hint: tokens are stored only as hashes; run `sidecar hash-key` and paste the token on its standard input)"
	const idForms = " (hint: a SPIFFE ID such as spiffe://example.org/ns/prod/sa/envoy, a prefix such as spiffe://example.org/*, or a DNS name such as envoy.internal)"
	good := HashToken("good")
	c := Config{
		Tokens: []Token{
			{Name: "ops", Hash: good, Scopes: []string{"admin"}},
			{Name: "ops", Hash: good, Scopes: []string{"counters:delete:x", "admin"}},
			{Hash: "s3cr3t-token-value", Scopes: nil},
			{Name: "bad name", Hash: "sha256:abc", ClearText: "s3cr3t-token-value", Scopes: []string{"admin"}},
			{Name: "x", Hash: "sha256:" + strings.Repeat("z", 64), Scopes: []string{"admin"}},
			{Name: "y", Scopes: []string{"admin"}},
		},
		Identities: []Identity{
			{Identity: "spiffe://example.org/a", Scopes: []string{"admin"}},
			{Identity: "spiffe://example.org/a", Scopes: []string{"admin"}},
			{Identity: "", Scopes: []string{"admin"}},
			{Identity: "spiffe://example.org/a*", Scopes: []string{"admin"}},
			{Identity: "https://example.org/*", Scopes: []string{"admin"}},
			{Identity: "*.example.org", Scopes: []string{"admin"}},
			{Identity: "spiffe:///x", Scopes: []string{"admin"}},
			{Identity: "spiffe://example.org/*/x", Scopes: []string{"admin"}},
			{Identity: "envoy internal"},
		},
		EnvoyIdentities: []string{"envoy.internal", "envoy.internal", "bad_host!"},
	}
	want := strings.Join([]string{
		`api_auth.tokens[1].name: "ops" is also the name of tokens[0] (hint: names must be unique)`,
		`api_auth.tokens[1].hash: the same hash as tokens[0] (hint: give each credential its own token)`,
		`api_auth.tokens[1].scopes[0]: scope "counters:delete:x" has an unknown counters operation "delete" (valid forms: ` + validForms + `)`,
		`api_auth.tokens[2].name: missing (hint: a name for the audit log, e.g. billing-exporter)`,
		`api_auth.tokens[2].hash: not a sha256:<64 hex digits> hash; a clear-text token is not accepted` + h,
		`api_auth.tokens[2].scopes: missing (hint: list at least one scope, e.g. counters:read:*)`,
		`api_auth.tokens[3].name: "bad name" is not 1 to 64 letters, digits, '.', '_' or '-'`,
		"api_auth.tokens[3].token: clear-text tokens are not accepted (hint: run `sidecar hash-key`, paste the token on its standard input, and put the sha256:<hex> it prints in hash instead)",
		`api_auth.tokens[3].hash: sha256: must be followed by 64 hex digits, got 3 characters` + h,
		`api_auth.tokens[4].hash: sha256: must be followed by 64 hex digits (0-9, a-f), got another character` + h,
		`api_auth.tokens[5].hash: missing` + h,
		`api_auth.identities[1].identity: "spiffe://example.org/a" is also identities[0] (hint: list each identity once with all its scopes)`,
		`api_auth.identities[2].identity: missing` + idForms,
		`api_auth.identities[3].identity: "spiffe://example.org/a*": only the form spiffe://<trust domain>/<path>/* may end in '*'` + idForms,
		`api_auth.identities[4].identity: "https://example.org/*": only the form spiffe://<trust domain>/<path>/* may end in '*'` + idForms,
		`api_auth.identities[5].identity: "*.example.org" is not a DNS name (letters, digits and '-' in dot-separated labels) nor a URI` + idForms,
		`api_auth.identities[6].identity: "spiffe:///x" is not a SPIFFE ID (spiffe://<trust domain>/<path>)` + idForms,
		`api_auth.identities[7].identity: "spiffe://example.org/*/x" has a '*' that is not its last character` + idForms,
		`api_auth.identities[8].identity: "envoy internal" holds white space, control characters or invalid UTF-8` + idForms,
		`api_auth.identities[8].scopes: missing (hint: list at least one scope, e.g. counters:read:*)`,
		`api_auth.envoy_identities[1]: "envoy.internal" is also envoy_identities[0]`,
		`api_auth.envoy_identities[2]: "bad_host!" is not a DNS name (letters, digits and '-' in dot-separated labels) nor a URI` + idForms,
	}, "\n")
	err := c.Validate()
	if err == nil || err.Error() != want {
		t.Fatalf("Validate =\n%v\nwant\n%s", err, want)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatal("a validation error quotes a clear-text token")
	}
	if _, err := New(c, Options{}); err == nil || err.Error() != want {
		t.Fatalf("New error = %v", err)
	}
}

// A clear-text "token:" key decodes into ClearText so Validate can say how
// to hash it (a strict decoder would otherwise only say "unknown key").
func TestConfigClearTextTokenKey(t *testing.T) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader("tokens:\n  - name: a\n    token: hunter2\n    scopes: [admin]\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "api_auth.tokens[0].token: clear-text tokens are not accepted (hint: run `sidecar hash-key`") ||
		strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Validate = %v", err)
	}
}

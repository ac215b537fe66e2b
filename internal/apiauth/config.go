package apiauth

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Config is the api_auth settings block: who may call the sidecar's APIs
// and with which scopes. The zero Config configures nothing: the APIs are
// open, which CheckOpen allows only on loopback listeners.
type Config struct {
	// Tokens are the bearer-token credentials.
	Tokens []Token `yaml:"tokens"`
	// Identities are the client-certificate credentials (mTLS).
	Identities []Identity `yaml:"identities"`
	// EnvoyIdentities are the client-certificate identities allowed on the
	// Envoy-facing gRPC services (rate limit, ext_authz, access log, RLQS).
	// Default: empty, and those services take any client the listener
	// accepts.
	EnvoyIdentities []string `yaml:"envoy_identities"`
}

// Token is one bearer-token credential.
type Token struct {
	// Name names the credential in the audit log and in errors; 1 to 64
	// letters, digits, '.', '_' or '-', unique.
	Name string `yaml:"name"`
	// Hash is the token's SHA-256 as "sha256:<64 hex digits>", as
	// `sidecar hash-key` prints it. The token itself is never stored.
	Hash string `yaml:"hash"`
	// ClearText is never valid: it exists so that a clear-text "token:" key
	// gets an error saying how to hash it.
	ClearText string `yaml:"token"`
	// Scopes are what the credential may do (see ParseScope); at least one.
	Scopes []string `yaml:"scopes"`
}

// Identity is one client-certificate credential.
type Identity struct {
	// Identity is a URI SAN (a SPIFFE ID such as spiffe://example.org/ns/billing/sa/exporter,
	// or spiffe://example.org/* for every ID of a trust domain or path
	// prefix) or a DNS SAN (billing.internal), matched exactly.
	Identity string `yaml:"identity"`
	// Scopes are what the credential may do (see ParseScope); at least one.
	Scopes []string `yaml:"scopes"`
}

// Configured reports whether any credential is configured, i.e. whether
// the APIs require one.
func (c *Config) Configured() bool { return len(c.Tokens) > 0 || len(c.Identities) > 0 }

// Validate reports every problem at once, each as "api_auth.<field>:
// problem (hint)". Texts never quote a hash or a token.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("api_auth.%s: %s", path, fmt.Sprintf(format, args...)))
	}
	scopes := func(path string, ss []string) {
		if len(ss) == 0 {
			bad(path, "missing (hint: list at least one scope, e.g. counters:read:*)")
		}
		for i, s := range ss {
			if _, err := ParseScope(s); err != nil {
				bad(fmt.Sprintf("%s[%d]", path, i), "%v", err)
			}
		}
	}
	names := map[string]int{}
	hashes := map[string]int{}
	for i, t := range c.Tokens {
		p := fmt.Sprintf("tokens[%d]", i)
		switch first, dup := names[t.Name]; {
		case t.Name == "":
			bad(p+".name", "missing (hint: a name for the audit log, e.g. billing-exporter)")
		case !validTokenName(t.Name):
			bad(p+".name", "%q is not 1 to 64 letters, digits, '.', '_' or '-'", t.Name)
		case dup:
			bad(p+".name", "%q is also the name of tokens[%d] (hint: names must be unique)", t.Name, first)
		default:
			names[t.Name] = i
		}
		if t.ClearText != "" {
			bad(p+".token", "clear-text tokens are not accepted (hint: run `sidecar hash-key`, paste the token on its standard input, and put the sha256:<hex> it prints in hash instead)")
		}
		sum, err := parseHash(t.Hash)
		switch first, dup := hashes[string(sum)]; {
		case err != nil:
			bad(p+".hash", "%v", err)
		case dup:
			bad(p+".hash", "the same hash as tokens[%d] (hint: give each credential its own token)", first)
		default:
			hashes[string(sum)] = i
		}
		scopes(p+".scopes", t.Scopes)
	}
	ids := map[string]int{}
	for i, id := range c.Identities {
		p := fmt.Sprintf("identities[%d]", i)
		if err := checkIdentity(id.Identity); err != nil {
			bad(p+".identity", "%v", err)
		} else if first, dup := ids[id.Identity]; dup {
			bad(p+".identity", "%q is also identities[%d] (hint: list each identity once with all its scopes)", id.Identity, first)
		} else {
			ids[id.Identity] = i
		}
		scopes(p+".scopes", id.Scopes)
	}
	envoy := map[string]int{}
	for i, id := range c.EnvoyIdentities {
		p := fmt.Sprintf("envoy_identities[%d]", i)
		if err := checkIdentity(id); err != nil {
			bad(p, "%v", err)
		} else if first, dup := envoy[id]; dup {
			bad(p, "%q is also envoy_identities[%d]", id, first)
		} else {
			envoy[id] = i
		}
	}
	return errors.Join(errs...)
}

// parseHash decodes "sha256:<64 hex digits>"; its errors never quote h,
// which may be a clear-text token.
func parseHash(h string) ([]byte, error) {
	const hint = " (hint: tokens are stored only as hashes; run `sidecar hash-key` and paste the token on its standard input)"
	hexPart, ok := strings.CutPrefix(h, hashPrefix)
	switch {
	case h == "":
		return nil, errors.New("missing" + hint)
	case !ok:
		return nil, errors.New("not a sha256:<64 hex digits> hash; a clear-text token is not accepted" + hint)
	}
	if len(hexPart) != 64 {
		return nil, fmt.Errorf("sha256: must be followed by 64 hex digits, got %d characters%s", len(hexPart), hint)
	}
	sum, err := hex.DecodeString(hexPart)
	if err != nil {
		return nil, errors.New("sha256: must be followed by 64 hex digits (0-9, a-f), got another character" + hint)
	}
	return sum, nil
}

func validTokenName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// checkIdentity checks the syntax of a configured identity: a URI with a
// scheme (a "spiffe://<trust domain>/…/*" prefix form allowed) or a DNS
// name.
func checkIdentity(id string) error {
	const forms = " (hint: a SPIFFE ID such as spiffe://example.org/ns/prod/sa/envoy, a prefix such as spiffe://example.org/*, or a DNS name such as envoy.internal)"
	if id == "" {
		return errors.New("missing" + forms)
	}
	if !validName(id) {
		return fmt.Errorf("%q holds white space, control characters or invalid UTF-8%s", id, forms)
	}
	if !strings.Contains(id, ":") {
		for _, label := range strings.Split(id, ".") {
			if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
				return fmt.Errorf("%q is not a DNS name (letters, digits and '-' in dot-separated labels) nor a URI%s", id, forms)
			}
		}
		return nil
	}
	prefix, wild := strings.CutSuffix(id, "*")
	u, err := url.Parse(prefix)
	switch {
	case err != nil || u.Scheme == "":
		return fmt.Errorf("%q is not a URI%s", id, forms)
	case strings.Contains(prefix, "*"):
		return fmt.Errorf("%q has a '*' that is not its last character%s", id, forms)
	case wild && (u.Scheme != "spiffe" || u.Host == "" || !strings.HasSuffix(prefix, "/")):
		return fmt.Errorf("%q: only the form spiffe://<trust domain>/<path>/* may end in '*'%s", id, forms)
	case u.Scheme == "spiffe" && (u.Host == "" || u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != ""):
		return fmt.Errorf("%q is not a SPIFFE ID (spiffe://<trust domain>/<path>)%s", id, forms)
	}
	return nil
}

// identityMatches reports whether the peer identity got matches the
// configured identity want (exactly, or by prefix for a form ending in "/*").
func identityMatches(want, got string) bool {
	if prefix, ok := strings.CutSuffix(want, "*"); ok {
		return len(got) > len(prefix) && strings.HasPrefix(got, prefix)
	}
	return want == got
}

package tlsconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Values of Config.ClientAuth.
const (
	// ClientAuthNone asks no client certificate.
	ClientAuthNone = "none"
	// ClientAuthRequest asks for a client certificate and verifies it when
	// one is sent; clients without one are let in, without an identity.
	ClientAuthRequest = "request"
	// ClientAuthRequire refuses clients without a certificate verified
	// against client_ca_file.
	ClientAuthRequire = "require"
)

// Values of Config.MinVersion.
const (
	// TLS12 is TLS 1.2, the default minimum.
	TLS12 = "1.2"
	// TLS13 is TLS 1.3.
	TLS13 = "1.3"
)

// Config is one TLS block of the settings (tls, grpc_tls or http_tls). An
// empty field takes the default, or in an override block the shared
// block's value (see Resolve). Paths are used as given: resolve relative
// ones before.
type Config struct {
	// CertFile is the server certificate chain (PEM, leaf first). Setting
	// it turns TLS on; KeyFile must be set with it. Default: none (no TLS).
	CertFile string `yaml:"cert_file"`
	// KeyFile is CertFile's private key (PEM).
	KeyFile string `yaml:"key_file"`
	// ClientCAFile is the bundle (PEM) client certificates are verified
	// against. Required when ClientAuth is request or require; unused
	// when it is none.
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuth is none, request or require (see ClientAuthNone and
	// others). Default: none.
	ClientAuth string `yaml:"client_auth"`
	// MinVersion is the oldest TLS version accepted: "1.2" or "1.3".
	// Default: 1.2.
	MinVersion string `yaml:"min_version"`
}

// Enabled reports whether c turns TLS on (names a certificate).
func (c *Config) Enabled() bool { return c.CertFile != "" }

// Resolve returns the block a listener uses: shared with every non-empty
// field of override replacing shared's. Either may be nil.
func Resolve(shared, override *Config) Config {
	var out Config
	if shared != nil {
		out = *shared
	}
	if override == nil {
		return out
	}
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&out.CertFile, override.CertFile},
		{&out.KeyFile, override.KeyFile},
		{&out.ClientCAFile, override.ClientCAFile},
		{&out.ClientAuth, override.ClientAuth},
		{&out.MinVersion, override.MinVersion},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	return out
}

// Validate reports every problem of c as the block a listener uses, each
// naming the field (relative to the block) and a fix.
func (c *Config) Validate() error {
	return joinProblems(append(c.valueProblems(), c.useProblems()...))
}

// valueProblems are the problems of the block's own fields: bad values,
// and half a key pair (an override replaces the pair as a whole).
func (c *Config) valueProblems() []string {
	var out []string
	oneOf := func(field, v string, allowed ...string) {
		if v == "" {
			return
		}
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		out = append(out, fmt.Sprintf("%s: %q is not one of %s", field, v, strings.Join(allowed, ", ")))
	}
	oneOf("client_auth", c.ClientAuth, ClientAuthNone, ClientAuthRequest, ClientAuthRequire)
	oneOf("min_version", c.MinVersion, TLS12, TLS13)
	switch {
	case c.CertFile != "" && c.KeyFile == "":
		out = append(out, "key_file: empty but cert_file is set; set both to turn TLS on")
	case c.CertFile == "" && c.KeyFile != "":
		out = append(out, "cert_file: empty but key_file is set; set both to turn TLS on")
	}
	return out
}

// useProblems are the problems of a resolved block as a whole.
func (c *Config) useProblems() []string {
	var out []string
	auth := c.ClientAuth == ClientAuthRequest || c.ClientAuth == ClientAuthRequire
	if !c.Enabled() && c.KeyFile == "" {
		for _, f := range []struct{ name, v string }{
			{"client_ca_file", c.ClientCAFile}, {"client_auth", c.ClientAuth}, {"min_version", c.MinVersion},
		} {
			if f.v != "" {
				out = append(out, fmt.Sprintf("%s: set but TLS is off; set cert_file and key_file, or remove %s", f.name, f.name))
			}
		}
		return out
	}
	if auth && c.ClientCAFile == "" {
		out = append(out, fmt.Sprintf("client_ca_file: empty but client_auth is %s; set the CA bundle client certificates are verified against", c.ClientAuth))
	}
	return out
}

// Settings is the transport-security part of the sidecar settings, meant
// to be embedded inline (`yaml:",inline"`) in the top-level settings.
type Settings struct {
	// TLS is the block both listeners use.
	TLS Config `yaml:"tls"`
	// GRPCTLS overrides TLS for the gRPC listener.
	GRPCTLS *Config `yaml:"grpc_tls"`
	// HTTPTLS overrides TLS for the HTTP listener.
	HTTPTLS *Config `yaml:"http_tls"`
	// AllowInsecureListeners lets a listener on a non-loopback address
	// serve without TLS (see CheckExposure). Default: false.
	AllowInsecureListeners bool `yaml:"allow_insecure_listeners"`
}

// GRPC returns the block the gRPC listener uses.
func (s *Settings) GRPC() Config { return Resolve(&s.TLS, s.GRPCTLS) }

// HTTP returns the block the HTTP listener uses.
func (s *Settings) HTTP() Config { return Resolve(&s.TLS, s.HTTPTLS) }

// Validate reports every problem of the three blocks, each naming the
// field by its full path (tls.client_auth, grpc_tls.cert_file) and a fix.
// A listener's problems are reported under its override block when it has
// one, else under tls.
func (s *Settings) Validate() error {
	var out []string
	add := func(prefix string, problems []string) {
		for _, p := range problems {
			p = prefix + p
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	add("tls.", s.TLS.valueProblems())
	for _, l := range []struct {
		name     string
		override *Config
	}{{"grpc_tls", s.GRPCTLS}, {"http_tls", s.HTTPTLS}} {
		prefix := "tls."
		if l.override != nil {
			prefix = l.name + "."
			add(prefix, l.override.valueProblems())
		}
		r := Resolve(&s.TLS, l.override)
		add(prefix, r.useProblems())
	}
	return joinProblems(out)
}

func joinProblems(problems []string) error {
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = errors.New(p)
	}
	return errors.Join(errs...)
}

// version returns c's minimum TLS version.
func (c *Config) version() uint16 {
	if c.MinVersion == TLS13 {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

// clientAuth returns c's client authentication policy. request verifies a
// certificate when one is sent: an unverifiable one fails the handshake.
func (c *Config) clientAuth() tls.ClientAuthType {
	switch c.ClientAuth {
	case ClientAuthRequest:
		return tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		return tls.RequireAndVerifyClientCert
	}
	return tls.NoClientCert
}

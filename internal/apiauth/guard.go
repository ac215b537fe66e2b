package apiauth

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Sentinel classes of the errors Guard returns; callers map them to 401 or
// Unauthenticated and to 403 or PermissionDenied.
var (
	// ErrUnauthenticated: no valid credential came with the call.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied: the caller's credential lacks what the call needs.
	ErrPermissionDenied = errors.New("permission denied")
)

// authError is a refusal: its text is the message for the caller, its
// class ErrUnauthenticated or ErrPermissionDenied.
type authError struct {
	class error
	msg   string
}

func (e *authError) Error() string { return e.msg }
func (e *authError) Unwrap() error { return e.class }

func refuse(class error, format string, args ...any) error {
	return &authError{class, fmt.Sprintf(format, args...)}
}

// Options are a Guard's collaborators.
type Options struct {
	// PeerIdentities returns the identities (URI and DNS SANs) of a
	// verified client certificate. Default: nil, and certificates
	// authenticate no one (mTLS off).
	PeerIdentities func(*tls.ConnectionState) []string
	// Logger receives the audit lines. Default: a logger that discards.
	Logger *slog.Logger
	// Now is the audit clock. Default: time.Now.
	Now func() time.Time
	// BillingOwner returns what owns a counter namespace when a meter or
	// the quotas own it, e.g. `meter "requests"` or "the quotas". Default:
	// no namespace is owned.
	BillingOwner func(namespace string) (owner string, owned bool)
}

// EnsureDefaults fills unset fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BillingOwner == nil {
		o.BillingOwner = func(string) (string, bool) { return "", false }
	}
}

// Guard authenticates calls against api_auth, checks their scopes and
// writes the audit log. It is immutable and safe for concurrent use.
type Guard struct {
	open       bool
	tokens     tokenTable
	identities []identityPrincipal
	envoy      []string
	opts       Options
	audit      *slog.Logger
}

type identityPrincipal struct {
	pattern string
	scopes  []Scope
}

// New returns the Guard of cfg, which must pass Validate.
func New(cfg Config, opts Options) (*Guard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts.EnsureDefaults()
	g := &Guard{open: !cfg.Configured(), envoy: slices.Clone(cfg.EnvoyIdentities), opts: opts,
		audit: opts.Logger.With("component", "audit")}
	for _, t := range cfg.Tokens {
		sum, _ := parseHash(t.Hash) // validated
		g.tokens.sums = append(g.tokens.sums, [32]byte(sum))
		g.tokens.owners = append(g.tokens.owners, &Principal{name: t.Name, scopes: mustScopes(t.Scopes)})
	}
	for _, id := range cfg.Identities {
		g.identities = append(g.identities, identityPrincipal{id.Identity, mustScopes(id.Scopes)})
	}
	return g, nil
}

func mustScopes(ss []string) []Scope {
	out := make([]Scope, len(ss))
	for i, s := range ss {
		sc, err := ParseScope(s)
		if err != nil {
			panic("apiauth: scope passed Validate but not ParseScope: " + err.Error())
		}
		out[i] = sc
	}
	return out
}

// Open reports whether no credential is configured, so every caller is the
// anonymous principal.
func (g *Guard) Open() bool { return g.open }

// Authenticate returns the principal of a call from its Authorization value
// (authorization, "" when absent) and its verified peer identities. A
// bearer token, when sent, decides alone; otherwise the first configured
// identity (in api_auth order) that one of the peer identities matches
// does, and the principal is named after that peer identity. Errors wrap
// ErrUnauthenticated and never quote the token.
func (g *Guard) Authenticate(authorization string, peer []string) (*Principal, error) {
	if g.open {
		return anonymous, nil
	}
	tok, err := ParseAuthorization(authorization)
	switch {
	case err == nil:
		if p := g.tokens.lookup(tok); p != nil {
			return p, nil
		}
		return nil, refuse(ErrUnauthenticated, "the bearer token is not one api_auth.tokens lists")
	case !errors.Is(err, ErrNoCredentials):
		return nil, refuse(ErrUnauthenticated, "%v", err)
	}
	for _, id := range g.identities {
		for _, got := range peer {
			if identityMatches(id.pattern, got) {
				return &Principal{name: got, scopes: id.scopes}, nil
			}
		}
	}
	if len(peer) > 0 {
		return nil, refuse(ErrUnauthenticated, "the client certificate's identity is not one api_auth.identities lists")
	}
	return nil, refuse(ErrUnauthenticated, "%v", ErrNoCredentials)
}

// identitiesOf returns the verified peer identities of a TLS connection.
func (g *Guard) identitiesOf(cs *tls.ConnectionState) []string {
	if cs == nil || g.opts.PeerIdentities == nil {
		return nil
	}
	return g.opts.PeerIdentities(cs)
}

// Need is what a call requires of its caller. The zero Need refuses every
// call, so a method or route nobody classified stays closed.
type Need struct {
	kind  needKind
	scope Scope
}

type needKind uint8

const (
	needDeny needKind = iota
	needOpen
	needCredential
	needEnvoy
	needScope
)

var (
	// Open needs nothing: health, readiness, metrics, reflection.
	Open = Need{kind: needOpen}
	// Credential needs any valid credential; the handler checks scopes
	// itself (the counter API, whose namespaces are in the body, through
	// Guard.CheckCounter).
	Credential = Need{kind: needCredential}
	// EnvoyPeer needs a client certificate whose identity api_auth's
	// envoy_identities lists; with that list empty it needs nothing.
	EnvoyPeer = Need{kind: needEnvoy}
)

// Needs returns the Need of a valid credential holding a scope that grants
// s.
func Needs(s Scope) Need { return Need{kind: needScope, scope: s} }

// free reports whether need admits every call without looking at it: Open,
// and EnvoyPeer while envoy_identities is empty. The transports test it
// first so that those calls (every Envoy request) cost no allocation.
func (g *Guard) free(need Need) bool {
	return need.kind == needOpen || need.kind == needEnvoy && len(g.envoy) == 0
}

// check decides a call from its Authorization values (HTTP headers or gRPC
// metadata; more than one is refused) and its TLS state: the principal to
// put in its context, or an error wrapping ErrUnauthenticated or
// ErrPermissionDenied.
func (g *Guard) check(need Need, authz []string, cs *tls.ConnectionState) (*Principal, error) {
	if g.free(need) {
		return nil, nil
	}
	switch need.kind {
	case needEnvoy:
		peer := g.identitiesOf(cs)
		for _, want := range g.envoy {
			for _, got := range peer {
				if identityMatches(want, got) {
					return nil, nil
				}
			}
		}
		if len(peer) == 0 {
			return nil, refuse(ErrUnauthenticated, "the Envoy-facing services need a client certificate whose identity api_auth.envoy_identities lists")
		}
		return nil, refuse(ErrPermissionDenied, "the client certificate's identity is not one api_auth.envoy_identities lists")
	case needCredential, needScope:
		if len(authz) > 1 && !g.open {
			return nil, refuse(ErrUnauthenticated, "%d Authorization values; send one", len(authz))
		}
		var first string
		if len(authz) == 1 {
			first = authz[0]
		}
		p, err := g.Authenticate(first, g.identitiesOf(cs))
		if err != nil {
			return nil, err
		}
		if need.kind == needScope && !p.Allows(need.scope) {
			return nil, refuse(ErrPermissionDenied, "credential %q lacks the scope %s", p.Name(), need.scope)
		}
		return p, nil
	}
	return nil, refuse(ErrPermissionDenied, "this endpoint is not open to any credential")
}

package apiauth

import "context"

// Principal is an authenticated caller: a credential's name and scopes.
// A Principal is immutable and safe for concurrent use. A nil *Principal
// is no caller at all and allows nothing.
type Principal struct {
	name   string
	scopes []Scope
}

// anonymous is the principal of every call while api_auth configures no
// credential: the APIs are open (see CheckOpen), except that writes to
// billing namespaces still need counters:write-billing.
var anonymous = &Principal{name: "anonymous", scopes: []Scope{Admin}}

// Name is the credential's name (a token's name, or the peer identity a
// certificate presented), for the audit log.
func (p *Principal) Name() string {
	if p == nil {
		return "(none)"
	}
	return p.name
}

// Allows reports whether p holds a scope that grants need.
func (p *Principal) Allows(need Scope) bool {
	if p == nil {
		return false
	}
	for _, s := range p.scopes {
		if s.covers(need) {
			return true
		}
	}
	return false
}

// UsageTenants returns the tenants whose usage p may read: all is true for
// usage:read:* (or admin), else tenants lists them (none when p may read no
// usage). Handlers of cross-tenant views keep only these tenants' rows.
func (p *Principal) UsageTenants() (tenants []string, all bool) {
	return p.tenants(func(s Scope) bool { return s.kind == kindUsageRead })
}

// ExportTenants returns the tenants whose rows of meter's export p may
// receive: all is true for export:<meter or *>:* (or admin), else tenants
// lists them. The export handler keeps only these tenants' rows.
func (p *Principal) ExportTenants(meter string) (tenants []string, all bool) {
	return p.tenants(func(s Scope) bool { return s.kind == kindExport && (s.name == "*" || s.name == meter) })
}

func (p *Principal) tenants(match func(Scope) bool) (tenants []string, all bool) {
	if p == nil {
		return nil, false
	}
	for _, s := range p.scopes {
		switch {
		case s.kind == kindAdmin, match(s) && s.tenant == "*":
			return nil, true
		case match(s):
			tenants = append(tenants, s.tenant)
		}
	}
	return tenants, false
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal the middleware or interceptor put in
// ctx, or nil when there is none (a handler reached without them).
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

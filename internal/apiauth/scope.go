package apiauth

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// validForms lists the grammar for parse errors and the docs.
const validForms = "counters:read:<namespace|*>, counters:write:<namespace|*>, counters:clear:<namespace|*>, " +
	"counters:write-billing, usage:read:<tenant|*>, export:<meter|*>, export:<meter|*>:<tenant|*>, events:write, admin"

type kind uint8

const (
	kindCounterRead kind = iota + 1
	kindCounterWrite
	kindCounterClear
	kindWriteBilling
	kindUsageRead
	kindExport
	kindEventsWrite
	kindAdmin
)

// Scope is one permission: held by a credential (parsed from api_auth) or
// needed by a call (built with UsageScope, ExportScope or by CheckCounter).
// In a held scope every parameter is a name or "*"; in a needed scope an
// empty tenant or meter means "some tenant" or "some meter", for calls whose
// rows the handler narrows to what the principal may see. The zero Scope is
// invalid and allows nothing.
type Scope struct {
	kind kind
	// name is the namespace (counters:*) or the meter (export).
	name string
	// tenant is the tenant (usage:read, export).
	tenant string
}

// Admin is the scope that implies every other scope except
// counters:write-billing.
var Admin = Scope{kind: kindAdmin}

// WriteBilling is counters:write-billing: with it, a counter write or clear
// may touch a namespace a meter or quota owns. No other scope implies it.
var WriteBilling = Scope{kind: kindWriteBilling}

// UsageScope is the need usage:read:<tenant>; tenant "" means some tenant
// (the handler then narrows rows with Principal.UsageTenants).
func UsageScope(tenant string) Scope { return Scope{kind: kindUsageRead, tenant: tenant} }

// ExportScope is the need export:<meter>:<tenant>; tenant "" means some
// tenant (the handler then narrows rows with Principal.ExportTenants).
func ExportScope(meter, tenant string) Scope {
	return Scope{kind: kindExport, name: meter, tenant: tenant}
}

// counterScope is the need of a counter operation on namespace ns.
func counterScope(op CounterOp, ns string) Scope {
	return Scope{kind: kindCounterRead + kind(op), name: ns}
}

// EventsWrite is events:write: with it, a caller may post usage events
// (POST /v1/events) for any tenant.
var EventsWrite = Scope{kind: kindEventsWrite}

// ParseScope parses one scope of the grammar:
//
//	counters:read:<namespace|*>   counters:write:<namespace|*>   counters:clear:<namespace|*>
//	counters:write-billing        usage:read:<tenant|*>
//	export:<meter|*>              export:<meter|*>:<tenant|*>    events:write
//	admin
//
// export:<meter> is export:<meter>:*. Names are non-empty and hold no
// white space, control characters or invalid UTF-8; a meter holds no ':'.
func ParseScope(s string) (Scope, error) {
	bad := func(why string) (Scope, error) {
		return Scope{}, errors.New("scope " + strconv.Quote(s) + " " + why + " (valid forms: " + validForms + ")")
	}
	switch {
	case s == "admin":
		return Admin, nil
	case s == "counters:write-billing":
		return WriteBilling, nil
	case s == "events:write":
		return EventsWrite, nil
	case strings.HasPrefix(s, "counters:"):
		op, ns, ok := strings.Cut(s[len("counters:"):], ":")
		k := map[string]kind{"read": kindCounterRead, "write": kindCounterWrite, "clear": kindCounterClear}[op]
		switch {
		case k == 0:
			return bad("has an unknown counters operation " + strconv.Quote(op))
		case !ok || ns == "":
			return bad("lacks a namespace")
		case !validName(ns):
			return bad("has a namespace with white space, control characters or invalid UTF-8")
		}
		return Scope{kind: k, name: ns}, nil
	case strings.HasPrefix(s, "usage:"):
		op, t, _ := strings.Cut(s[len("usage:"):], ":")
		switch {
		case op != "read":
			return bad("has an unknown usage operation " + strconv.Quote(op))
		case t == "":
			return bad("lacks a tenant")
		case !validName(t):
			return bad("has a tenant with white space, control characters or invalid UTF-8")
		}
		return UsageScope(t), nil
	case strings.HasPrefix(s, "export:"):
		meter, tenant, hasTenant := strings.Cut(s[len("export:"):], ":")
		switch {
		case meter == "":
			return bad("lacks a meter")
		case !validName(meter):
			return bad("has a meter with white space, control characters or invalid UTF-8")
		case hasTenant && tenant == "":
			return bad("lacks a tenant after the second ':'")
		case hasTenant && !validName(tenant):
			return bad("has a tenant with white space, control characters or invalid UTF-8")
		case !hasTenant:
			tenant = "*"
		}
		return ExportScope(meter, tenant), nil
	}
	return bad("is not one of the valid forms")
}

// validName reports whether s is a usable namespace, meter or tenant in a
// scope: non-empty, no white space, no control characters.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// String renders the scope in the grammar; in a need, an empty meter or
// tenant shows as <meter> or <tenant>.
func (s Scope) String() string {
	or := func(v, placeholder string) string {
		if v == "" {
			return placeholder
		}
		return v
	}
	switch s.kind {
	case kindCounterRead:
		return "counters:read:" + s.name
	case kindCounterWrite:
		return "counters:write:" + s.name
	case kindCounterClear:
		return "counters:clear:" + s.name
	case kindWriteBilling:
		return "counters:write-billing"
	case kindUsageRead:
		return "usage:read:" + or(s.tenant, "<tenant>")
	case kindExport:
		return "export:" + or(s.name, "<meter>") + ":" + or(s.tenant, "<tenant>")
	case kindEventsWrite:
		return "events:write"
	case kindAdmin:
		return "admin"
	}
	return "<invalid scope>"
}

// covers reports whether the held scope h grants the needed scope n.
func (h Scope) covers(n Scope) bool {
	if n.kind == 0 {
		return false
	}
	if h.kind == kindAdmin {
		return n.kind != kindWriteBilling
	}
	if h.kind != n.kind {
		return false
	}
	switch n.kind {
	case kindCounterRead, kindCounterWrite, kindCounterClear:
		return h.name == "*" || h.name == n.name
	case kindUsageRead:
		return h.tenant == "*" || n.tenant == "" || h.tenant == n.tenant
	case kindExport:
		return (h.name == "*" || n.name == "" || h.name == n.name) &&
			(h.tenant == "*" || n.tenant == "" || h.tenant == n.tenant)
	}
	return true // counters:write-billing, events:write, admin
}

package apiauth

import "testing"

func TestParseScope(t *testing.T) {
	ok := func(in, want string) {
		t.Helper()
		s, err := ParseScope(in)
		if err != nil || s.String() != want {
			t.Errorf("ParseScope(%q) = %v, %v; want %s", in, s, err, want)
		}
	}
	ok("admin", "admin")
	ok("counters:write-billing", "counters:write-billing")
	ok("events:write", "events:write")
	ok("counters:read:*", "counters:read:*")
	ok("counters:write:requests", "counters:write:requests")
	ok("counters:clear:a:b", "counters:clear:a:b")
	ok("usage:read:acme", "usage:read:acme")
	ok("usage:read:*", "usage:read:*")
	ok("export:requests", "export:requests:*")
	ok("export:*:acme", "export:*:acme")
	ok("export:requests:acme:eu", "export:requests:acme:eu")

	const forms = " (valid forms: counters:read:<namespace|*>, counters:write:<namespace|*>, counters:clear:<namespace|*>, counters:write-billing, usage:read:<tenant|*>, export:<meter|*>, export:<meter|*>:<tenant|*>, events:write, admin)"
	bad := func(in, want string) {
		t.Helper()
		if _, err := ParseScope(in); err == nil || err.Error() != want+forms {
			t.Errorf("ParseScope(%q) error = %v\nwant %s", in, err, want+forms)
		}
	}
	bad("", `scope "" is not one of the valid forms`)
	bad("Admin", `scope "Admin" is not one of the valid forms`)
	bad("counters:write-billing:x", `scope "counters:write-billing:x" has an unknown counters operation "write-billing"`)
	bad("counters:delete:x", `scope "counters:delete:x" has an unknown counters operation "delete"`)
	bad("counters:read", `scope "counters:read" lacks a namespace`)
	bad("counters:read:", `scope "counters:read:" lacks a namespace`)
	bad("counters:read:a b", `scope "counters:read:a b" has a namespace with white space, control characters or invalid UTF-8`)
	bad("usage:write:acme", `scope "usage:write:acme" has an unknown usage operation "write"`)
	bad("usage:read", `scope "usage:read" lacks a tenant`)
	bad("usage:read:\x00", `scope "usage:read:\x00" has a tenant with white space, control characters or invalid UTF-8`)
	bad("export:", `scope "export:" lacks a meter`)
	bad("export::acme", `scope "export::acme" lacks a meter`)
	bad("export:requests:", `scope "export:requests:" lacks a tenant after the second ':'`)
	bad("export:re quests", `scope "export:re quests" has a meter with white space, control characters or invalid UTF-8`)
	bad("export:requests:\xff", `scope "export:requests:\xff" has a tenant with white space, control characters or invalid UTF-8`)
}

func TestAllows(t *testing.T) {
	p := func(scopes ...string) *Principal { return &Principal{name: "p", scopes: mustScopes(scopes)} }
	f := func(pr *Principal, need Scope, want bool) {
		t.Helper()
		if got := pr.Allows(need); got != want {
			t.Errorf("%v.Allows(%s) = %v, want %v", pr.scopes, need, got, want)
		}
	}
	admin := p("admin")
	f(admin, counterScope(CounterClear, "x"), true)
	f(admin, ExportScope("m", "t"), true)
	f(admin, WriteBilling, false)
	f(admin, EventsWrite, true)
	f(p("events:write"), EventsWrite, true)
	f(p("events:write"), UsageScope("acme"), false)
	f(p("usage:read:*"), EventsWrite, false)
	f(p("counters:write:*"), WriteBilling, false)
	f(p("counters:write-billing"), WriteBilling, true)
	f(p("counters:write-billing"), counterScope(CounterWrite, "requests"), false)
	f(p("counters:read:*"), counterScope(CounterRead, "a"), true)
	f(p("counters:read:*"), counterScope(CounterWrite, "a"), false)
	f(p("counters:write:a"), counterScope(CounterWrite, "a"), true)
	f(p("counters:write:a"), counterScope(CounterWrite, "b"), false)
	f(p("counters:write:a"), counterScope(CounterWrite, ""), false)
	f(p("counters:write:a"), counterScope(CounterClear, "a"), false)
	f(p("usage:read:acme"), UsageScope("acme"), true)
	f(p("usage:read:acme"), UsageScope("globex"), false)
	f(p("usage:read:acme"), UsageScope(""), true)
	f(p("usage:read:*"), UsageScope("globex"), true)
	f(p("export:requests:acme"), ExportScope("requests", ""), true)
	f(p("export:requests:acme"), ExportScope("requests", "acme"), true)
	f(p("export:requests:acme"), ExportScope("requests", "globex"), false)
	f(p("export:requests:acme"), ExportScope("bytes", ""), false)
	f(p("export:*"), ExportScope("bytes", "globex"), true)
	f(p("export:requests"), ExportScope("", ""), true)
	f(p("usage:read:*"), ExportScope("requests", ""), false)
	f(p("admin"), Scope{}, false)
	f(nil, UsageScope("acme"), false)
}

func TestTenants(t *testing.T) {
	f := func(pr *Principal, got []string, all bool, want []string, wantAll bool) {
		t.Helper()
		if all != wantAll || len(got) != len(want) {
			t.Errorf("%v: tenants %q all %v, want %q all %v", pr, got, all, want, wantAll)
			return
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%v: tenants %q, want %q", pr, got, want)
			}
		}
	}
	p := &Principal{name: "p", scopes: mustScopes([]string{"usage:read:acme", "export:requests:acme", "export:*:globex", "usage:read:initech", "export:bytes"})}
	u, all := p.UsageTenants()
	f(p, u, all, []string{"acme", "initech"}, false)
	u, all = p.ExportTenants("requests")
	f(p, u, all, []string{"acme", "globex"}, false)
	u, all = p.ExportTenants("bytes")
	f(p, u, all, nil, true)
	u, all = p.ExportTenants("calls")
	f(p, u, all, []string{"globex"}, false)
	u, all = anonymous.UsageTenants()
	f(anonymous, u, all, nil, true)
	u, all = (*Principal)(nil).UsageTenants()
	f(nil, u, all, nil, false)
}

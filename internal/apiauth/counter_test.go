package apiauth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestCheckCounter(t *testing.T) {
	g, log := newTestGuard(t, testConfig)
	who := func(tok string) context.Context {
		p, err := g.Authenticate("Bearer "+tok, nil)
		if err != nil {
			t.Fatal(err)
		}
		return WithPrincipal(context.Background(), p)
	}
	const billingRefusal = `namespace "requests" is owned by meter "requests": writes and clears through the counter API are refused (hint: only a credential holding the scope counters:write-billing may correct billing counters)`
	f := func(ctx context.Context, op CounterOp, ns, wantErr string) {
		t.Helper()
		err := g.CheckCounter(ctx, op, ns, "c1")
		if wantErr == "" {
			if err != nil {
				t.Errorf("CheckCounter(%d, %q) = %v, want nil", op, ns, err)
			}
			return
		}
		if err == nil || err.Error() != wantErr || !errors.Is(err, ErrPermissionDenied) {
			t.Errorf("CheckCounter(%d, %q) = %v\nwant %s", op, ns, err, wantErr)
		}
	}
	ops, reader, billing := who(tokOps), who(tokReader), who(tokBilling)
	f(context.Background(), CounterRead, "plain", "the call carries no principal: the counter API is not behind the guard's middleware or interceptors")
	f(reader, CounterRead, "plain", "")
	f(reader, CounterRead, "requests", "")
	f(reader, CounterWrite, "plain", `credential "reader" lacks the scope counters:write:plain`)
	f(reader, CounterClear, "plain", `credential "reader" lacks the scope counters:clear:plain`)
	f(ops, CounterWrite, "plain", "")
	f(ops, CounterClear, "plain", "")
	f(ops, CounterRead, "requests", "")
	f(ops, CounterWrite, "requests", billingRefusal)
	f(ops, CounterClear, "requests", billingRefusal)
	f(ops, CounterWrite, "quotas", `namespace "quotas" is owned by the quotas: writes and clears through the counter API are refused (hint: only a credential holding the scope counters:write-billing may correct billing counters)`)
	f(billing, CounterWrite, "requests", "")
	f(billing, CounterClear, "requests", "")
	f(billing, CounterClear, "quotas", `credential "billing" lacks the scope counters:clear:quotas`)
	f(billing, CounterRead, "requests", `credential "billing" lacks the scope counters:read:requests`)

	// Open APIs: anonymous may do anything but touch billing namespaces.
	open, openLog := newTestGuard(t, Config{})
	anon, err := open.Authenticate("", nil)
	if err != nil {
		t.Fatal(err)
	}
	actx := WithPrincipal(context.Background(), anon)
	if err := open.CheckCounter(actx, CounterClear, "plain", "c1"); err != nil {
		t.Errorf("open clear = %v", err)
	}
	if err := open.CheckCounter(actx, CounterWrite, "requests", "c1"); err == nil || err.Error() != billingRefusal {
		t.Errorf("open billing write = %v", err)
	}

	const at = `time=2026-12-01T10:30:00.000Z level=INFO msg=audit component=audit `
	wantLog := strings.Join([]string{
		at + `action=counter_clear principal=ops namespace=plain counter=c1 outcome=allowed`,
		at + `action=billing_write principal=ops namespace=requests counter=c1 outcome=refused`,
		at + `action=billing_clear principal=ops namespace=requests counter=c1 outcome=refused`,
		at + `action=billing_write principal=ops namespace=quotas counter=c1 outcome=refused`,
		at + `action=billing_write principal=billing namespace=requests counter=c1 outcome=allowed`,
		at + `action=billing_clear principal=billing namespace=requests counter=c1 outcome=allowed`,
	}, "\n") + "\n"
	if log.String() != wantLog {
		t.Errorf("audit log:\n%s\nwant\n%s", log, wantLog)
	}
	wantOpen := at + "action=counter_clear principal=anonymous namespace=plain counter=c1 outcome=allowed\n" +
		at + "action=billing_write principal=anonymous namespace=requests counter=c1 outcome=refused\n"
	if openLog.String() != wantOpen {
		t.Errorf("open audit log:\n%s\nwant\n%s", openLog, wantOpen)
	}
}

func TestCheckOpen(t *testing.T) {
	f := func(configured bool, addrs []string, want string) {
		t.Helper()
		err := CheckOpen(configured, addrs...)
		if (err == nil) != (want == "") || (err != nil && err.Error() != want) {
			t.Errorf("CheckOpen(%v, %q) = %v\nwant %s", configured, addrs, err, want)
		}
	}
	f(false, []string{"127.0.0.1:8080", "localhost:8081", "[::1]:9000", "127.1.2.3:1", "127.0.0.1"}, "")
	f(true, []string{"0.0.0.0:8080", ":8081"}, "")
	f(false, nil, "")
	const hint = " could clear counters and export billing data (hint: add api_auth.tokens or api_auth.identities, or listen on 127.0.0.1 only)"
	f(false, []string{"127.0.0.1:8080", "0.0.0.0:8081"}, `api_auth configures no credential, so anyone who reaches "0.0.0.0:8081"`+hint)
	f(false, []string{":8080", "10.0.0.5:8081", "sidecar.local:1", "0.0.0.0"}, `api_auth configures no credential, so anyone who reaches ":8080", "10.0.0.5:8081", "sidecar.local:1", "0.0.0.0"`+hint)
}

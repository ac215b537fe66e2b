package apiauth

import (
	"context"
	"log/slog"
)

// CounterOp is a kind of counter API call.
type CounterOp uint8

// The counter API's operations and the scope each needs.
const (
	// CounterRead is get: counters:read:<namespace>.
	CounterRead CounterOp = iota
	// CounterWrite is add, addAndGet and every add of batchAdd:
	// counters:write:<namespace>.
	CounterWrite
	// CounterClear is clear: counters:clear:<namespace>.
	CounterClear
)

// CheckCounter decides one counter API operation on namespace (counter is
// its name, for the audit log) for the principal in ctx, which Require or
// the interceptors put there. Besides the operation's scope, a write or
// clear of a namespace BillingOwner reports owned needs
// counters:write-billing, which nothing else implies (not admin, not *,
// not an open API). Every clear and every write to an owned namespace,
// admitted or refused, gets an audit line. Errors wrap ErrPermissionDenied.
func (g *Guard) CheckCounter(ctx context.Context, op CounterOp, namespace, counter string) error {
	p := FromContext(ctx)
	if p == nil {
		return refuse(ErrPermissionDenied, "the call carries no principal: the counter API is not behind the guard's middleware or interceptors")
	}
	if need := counterScope(op, namespace); !p.Allows(need) {
		return refuse(ErrPermissionDenied, "credential %q lacks the scope %s", p.Name(), need)
	}
	if op == CounterRead {
		return nil
	}
	action := ActionCounterClear
	owner, owned := g.opts.BillingOwner(namespace)
	if owned {
		action = ActionBillingWrite
		if op == CounterClear {
			action = ActionBillingClear
		}
	}
	what := []slog.Attr{slog.String("namespace", namespace), slog.String("counter", counter)}
	if owned && !p.Allows(WriteBilling) {
		g.Audit(ctx, action, append(what, slog.String("outcome", "refused"))...)
		return refuse(ErrPermissionDenied,
			"namespace %q is owned by %s: writes and clears through the counter API are refused (hint: only a credential holding the scope %s may correct billing counters)",
			namespace, owner, WriteBilling)
	}
	if owned || op == CounterClear {
		g.Audit(ctx, action, append(what, slog.String("outcome", "allowed"))...)
	}
	return nil
}

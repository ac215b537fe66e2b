package apiauth

import (
	"context"
	"log/slog"
)

// Audit actions: the value of the "action" key of an audit line.
const (
	// ActionCounterClear is a clear of a counter no meter or quota owns.
	ActionCounterClear = "counter_clear"
	// ActionBillingWrite is an add to a namespace a meter or quota owns.
	ActionBillingWrite = "billing_write"
	// ActionBillingClear is a clear in a namespace a meter or quota owns.
	ActionBillingClear = "billing_clear"
	// ActionExport is a billing export.
	ActionExport = "export"
)

// Audit writes one audit line at level INFO: msg "audit", the time from
// Options.Now, component=audit, action, principal (the name of the
// principal in ctx, "(none)" without one) and the attributes of what (the
// object: meter, namespace, counter, window...). It never writes a secret:
// callers must not put tokens in what.
func (g *Guard) Audit(ctx context.Context, action string, what ...slog.Attr) {
	h := g.audit.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(g.opts.Now(), slog.LevelInfo, "audit", 0)
	r.AddAttrs(slog.String("action", action), slog.String("principal", FromContext(ctx).Name()))
	r.AddAttrs(what...)
	_ = h.Handle(ctx, r)
}

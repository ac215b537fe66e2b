package main

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/global"
	"github.com/tollgate/tollgate/internal/settings"
	"github.com/tollgate/tollgate/metering"
	"github.com/tollgate/tollgate/ratelimit"
)

// parseMetering parses the settings' metering section, or returns nil when
// there is none.
func parseMetering(s *settings.Settings) (*metering.Config, error) {
	if s.Metering.Kind == 0 {
		return nil, nil
	}
	file := s.File
	if file == "" {
		file = "settings"
	}
	return metering.ParseConfig(file, &s.Metering)
}

// meterRetention keeps metering events long enough to bill a past month
// and re-export it well after.
const meterRetention = 400 * 24 * time.Hour

// meteringNamespaces adds the counter namespaces the meters and quotas write
// to, unless the settings configure them already: meters' namespaces with
// their type, quotas' as accurate, all keeping events for meterRetention.
func meteringNamespaces(mc *metering.Config, ns map[string]global.NamespaceOptions) {
	if mc == nil {
		return
	}
	add := func(name string, typ global.Type) {
		if _, ok := ns[name]; !ok {
			ns[name] = global.NamespaceOptions{Type: typ, Retention: meterRetention}
		}
	}
	for _, m := range mc.Meters {
		typ := global.Eventual
		if m.Type == metering.Accurate {
			typ = global.Accurate
		}
		add(m.Namespace, typ)
	}
	for _, p := range mc.Plans {
		for _, q := range p.Quotas {
			add(q.Namespace, global.Accurate)
		}
	}
}

// storeSink ships spooled metering events straight into the event store:
// appends are idempotent by event identity, and unlike the counter API they
// are not refused for being older than accept_limit, so an event that waited
// in the spool (a restart, a store outage) is never lost to billing.
type storeSink struct{ store counter.EventStore }

// Ship appends the events durably.
func (s storeSink) Ship(ctx context.Context, events []counter.Event) error {
	return s.store.Append(ctx, events)
}

// meteringService is metering with its own rate limiter and reporter.
type meteringService struct {
	*metering.Metering
	reporter *metering.Reporter
}

// warnLateShipping warns about each accurate namespace that metering writes
// to whose late_after is not above the spool's flush interval: its shipped
// events would be late, so reads of its counters would keep reading from
// their checkpoints.
func warnLateShipping(mc *metering.Config, ns map[string]global.NamespaceOptions, logger *slog.Logger) {
	names := make(map[string]bool)
	for _, m := range mc.Meters {
		names[m.Namespace] = true
	}
	for _, p := range mc.Plans {
		for _, q := range p.Quotas {
			names[q.Namespace] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		if n := ns[name]; n.Type == global.Accurate && n.LateAfter <= mc.Spool.FlushInterval {
			logger.Warn("metering ships events later than the namespace's late_after: raise late_after above the spool's flush_interval, or lower flush_interval",
				"namespace", name, "late_after", n.LateAfter, "flush_interval", mc.Spool.FlushInterval)
		}
	}
}

// openMetering builds metering on the counters and the best-effort backend.
func openMetering(mc *metering.Config, s *settings.Settings, counters *durableCounters, backend ratelimit.Counter,
	logger *slog.Logger, reg prometheus.Registerer) (*meteringService, error) {
	// The plans' rate limits get their own service on the shared registry:
	// its decisions show under domain tollgate_authz.
	limiter, err := ratelimit.New(ratelimit.Options{
		Counter: backend, Now: time.Now, Logger: logger.With("limiter", "authz"), FailureMode: mc.FailureMode, Registerer: reg,
	}, mc.RateLimitConfig())
	if err != nil {
		return nil, err
	}
	m, err := metering.Open(metering.Options{
		Config: mc, DataDir: s.DataDir, Sink: storeSink{counters.store}, Counts: counters, RateLimiter: limiter,
		AcceptWindow: func(ns string) (time.Duration, time.Duration) {
			n := counters.namespaces[ns]
			return n.AcceptLimit, n.FutureLimit
		},
		Now: time.Now, Logger: logger, Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	// A window closes for export when no event can arrive for it any more:
	// the meters' accept limit and clock skew, plus the spool's flush interval.
	var margin time.Duration
	for _, meter := range mc.Meters {
		n := counters.namespaces[meter.Namespace]
		margin = max(margin, n.AcceptLimit+n.ClockSkew)
	}
	warnLateShipping(mc, counters.namespaces, logger)
	rep, err := metering.NewReporter(metering.ReporterOptions{
		Config: mc, Reader: counters.store, ClosedMargin: margin + mc.Spool.FlushInterval, Now: time.Now,
	})
	if err != nil {
		m.Close()
		return nil, err
	}
	return &meteringService{Metering: m, reporter: rep}, nil
}

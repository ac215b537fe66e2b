package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/counter/cassandra"
	"github.com/tollgate/tollgate/counter/global"
	"github.com/tollgate/tollgate/counter/pebble"
	"github.com/tollgate/tollgate/counter/redis"
	"github.com/tollgate/tollgate/internal/apiauth"
	"github.com/tollgate/tollgate/internal/settings"
	"github.com/tollgate/tollgate/internal/tlsconf"
	"github.com/tollgate/tollgate/internal/tracing"
	"github.com/tollgate/tollgate/metering"
	"github.com/tollgate/tollgate/ratelimit"
)

// plan is every translation of the settings into component options,
// validated, with nothing opened: check-config stops after it, serve opens
// what it says. Its loggers, registries and clocks are filled in by serve.
type plan struct {
	settings *settings.Settings
	// rateLimit is the loaded rate-limit config (no domains without one).
	rateLimit *ratelimit.Config
	// metering is the parsed metering section, nil without one.
	metering *metering.Config
	// counters are the counter namespaces' options, metering's included,
	// with defaults filled in; Store, Now, Logger and Registerer are not set.
	counters global.Options
	// pebble or cassandra is the event store's options, by counters.store.
	pebble    *pebble.Options
	cassandra *cassandra.Options
	// redis is the best-effort backend's options when backend is redis.
	redis *redis.Options
	// closedMargin is how long after its end a usage window closes for
	// export: the meters' accept limit and clock skew plus the spool's
	// flush interval.
	closedMargin time.Duration
	// grpcTLS and httpTLS are the TLS blocks the listeners use (TLS is off
	// on a listener whose block names no certificate).
	grpcTLS, httpTLS tlsconf.Config
	// billingOwners maps each counter namespace a meter or the quotas own
	// to its owners, e.g. `meter "requests"`: the counter API refuses
	// writes to them without counters:write-billing.
	billingOwners map[string]string
	// tracing is the tracer provider's options; nil when tracing is off.
	tracing *tracing.Options
	// warnings are problems that do not stop the sidecar.
	warnings []string
}

// newPlan translates and validates s; the error lists every problem.
func newPlan(s *settings.Settings) (*plan, error) {
	p := &plan{settings: s}
	var errs []error
	var err error
	if p.rateLimit, err = ratelimit.LoadConfig(rateLimitPaths(s)...); err != nil {
		errs = append(errs, err)
	}
	if s.Metering.Kind != 0 {
		file := s.File
		if file == "" {
			file = "settings"
		}
		if p.metering, err = metering.ParseConfig(file, &s.Metering); err != nil {
			errs = append(errs, err)
		}
	}
	p.counters.Namespaces = make(map[string]global.NamespaceOptions, len(s.Counters.Namespaces))
	for name, n := range s.Counters.Namespaces {
		typ, err := global.ParseType(n.Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("counters.namespaces.%s.type: %w", name, err))
			continue
		}
		p.counters.Namespaces[name] = global.NamespaceOptions{
			Type: typ, AcceptLimit: n.AcceptLimit, FutureLimit: n.FutureLimit, ClockSkew: n.ClockSkew, LateAfter: n.LateAfter,
			CoalesceWindow: n.CoalesceWindow, Retention: n.Retention, MaxReadGap: n.MaxReadGap,
		}
	}
	p.addMeteringNamespaces()
	p.counters.Now = time.Now
	p.counters.EnsureDefaults()
	if err := p.counters.Check(); err != nil {
		errs = append(errs, err)
	}
	if err := p.storeOptions(); err != nil {
		errs = append(errs, err)
	}
	if s.Backend == "redis" {
		addrs, err := s.Redis.Addrs()
		tlsCfg, tlsErr := s.Redis.TLSConfig() // reads the certificate files: bad ones fail check-config too
		switch {
		case err != nil || tlsErr != nil:
			errs = append(errs, err, tlsErr)
		default:
			p.redis = &redis.Options{Mode: redis.Mode(s.Redis.Mode), Addrs: addrs, Username: s.Redis.Username, Password: s.Redis.Password,
				TLS: tlsCfg, Timeout: s.Redis.Timeout, PoolSize: s.Redis.PoolSize}
			p.redis.EnsureDefaults()
			if err := p.redis.Validate(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if p.metering != nil {
		p.meteringChecks()
	}
	if p.tracing, err = tracingOptions(&s.Tracing); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, p.exposure()...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// exposure resolves each listener's TLS block, checks that its files load,
// and applies the loopback rules: a listener off loopback serves TLS
// (unless allow_insecure_listeners), and the APIs need api_auth
// credentials.
func (p *plan) exposure() []error {
	s := p.settings
	t := s.Transport()
	p.grpcTLS, p.httpTLS = t.GRPC(), t.HTTP()
	var errs []error
	if err := tlsconf.CheckExposure(s.GRPCAddr, p.grpcTLS.Enabled(), s.AllowInsecureListeners); err != nil {
		errs = append(errs, fmt.Errorf("grpc_addr: %w", err))
	}
	if err := tlsconf.CheckExposure(s.HTTPAddr, p.httpTLS.Enabled(), s.AllowInsecureListeners); err != nil {
		errs = append(errs, fmt.Errorf("http_addr: %w", err))
	}
	if err := apiauth.CheckOpen(s.APIAuth.Configured(), s.GRPCAddr, s.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("api_auth: %w", err))
	}
	for _, l := range []struct {
		name string
		cfg  tlsconf.Config
	}{{"grpc", p.grpcTLS}, {"http", p.httpTLS}} {
		if l.cfg.Enabled() {
			errs = append(errs, loadable(l.name, l.cfg))
		}
	}
	return errs
}

// loadable reports whether a listener's certificate, key and client CA
// files load, as serve will load them (on a private registry); nil if so.
func loadable(listener string, cfg tlsconf.Config) error {
	src, err := tlsconf.New(tlsconf.Options{Config: cfg, Listener: listener})
	if err != nil {
		return err
	}
	return src.Close()
}

// addMeteringNamespaces adds the counter namespaces the meters and quotas
// write to (metering.Config.Namespaces), unless the settings configure them
// already, keeping events for metering.MeterRetention.
func (p *plan) addMeteringNamespaces() {
	if p.metering == nil {
		return
	}
	for _, n := range p.metering.Namespaces() {
		if _, ok := p.counters.Namespaces[n.Name]; ok {
			continue
		}
		typ := global.Eventual
		if n.Accurate {
			typ = global.Accurate
		}
		p.counters.Namespaces[n.Name] = global.NamespaceOptions{Type: typ, Retention: metering.MeterRetention}
	}
	// Who owns each billing namespace, for the counter API's refusals.
	p.billingOwners = map[string]string{}
	own := func(name, owner string) {
		switch prev := p.billingOwners[name]; {
		case prev == "":
			p.billingOwners[name] = owner
		case !strings.Contains(prev, owner):
			p.billingOwners[name] = prev + " and " + owner
		}
	}
	for _, m := range p.metering.Meters {
		own(m.Namespace, fmt.Sprintf("meter %q", m.Name))
	}
	for _, pl := range p.metering.Plans {
		for _, q := range pl.Quotas {
			own(q.Namespace, "the quotas")
		}
	}
}

// storeOptions translates counters.store and its settings.
func (p *plan) storeOptions() error {
	s := p.settings
	if s.Counters.Store != "cassandra" {
		p.pebble = &pebble.Options{Dir: filepath.Join(s.DataDir, "events"), Now: time.Now,
			NamespaceRetention: p.counters.Retentions(), LateAfter: p.counters.LateAfters()}
		return nil
	}
	c := s.Counters.Cassandra
	consistency := gocql.LocalQuorum
	if c.Consistency != "" {
		var err error
		if consistency, err = gocql.ParseConsistencyWrapper(strings.ToUpper(c.Consistency)); err != nil {
			return fmt.Errorf("counters.cassandra.consistency: %q is not a Cassandra consistency level (e.g. LOCAL_QUORUM)", c.Consistency)
		}
	}
	tlsCfg, err := c.TLSConfig()
	if err != nil {
		return err
	}
	p.cassandra = &cassandra.Options{
		Hosts: c.Hosts, Keyspace: c.Keyspace, LocalDC: c.LocalDC, Consistency: consistency, Timeout: c.Timeout,
		Username: c.Username, Password: c.Password, TLS: tlsCfg,
		Replication: cassandra.Replication{Factor: c.ReplicationFactor, DataCenters: c.DataCenters},
		Retention:   maxRetention(p.counters.Retentions()),
		LateAfter:   p.counters.LateAfters(),
	}
	p.cassandra.EnsureDefaults()
	if err := p.cassandra.Validate(); err != nil {
		return fmt.Errorf("counters.cassandra: %w", err)
	}
	return nil
}

// meteringChecks computes the export margin and the late-shipping
// warnings with metering's rules, from the namespaces' settings.
func (p *plan) meteringChecks() {
	timing := func(ns string) metering.NamespaceTiming {
		n := p.counters.Namespaces[ns]
		return metering.NamespaceTiming{Accurate: n.Type == global.Accurate, AcceptLimit: n.AcceptLimit, ClockSkew: n.ClockSkew, LateAfter: n.LateAfter}
	}
	p.closedMargin = p.metering.ClosedMargin(timing)
	p.warnings = append(p.warnings, p.metering.LateShipping(timing)...)
}

// maxRetention is the longest of the namespaces' retentions (Cassandra keeps
// one TTL for the whole event table).
func maxRetention(r map[string]time.Duration) time.Duration {
	var m time.Duration
	for _, v := range r {
		m = max(m, v)
	}
	return m
}

// rateLimitPaths returns the configured rate-limit config path, if any.
func rateLimitPaths(s *settings.Settings) []string {
	if s.RateLimit.Config == "" {
		return nil
	}
	return []string{s.RateLimit.Config}
}

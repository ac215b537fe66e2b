package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/gocql/gocql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate/tollgate/counter"
	"github.com/tollgate/tollgate/counter/cassandra"
	"github.com/tollgate/tollgate/counter/global"
	"github.com/tollgate/tollgate/counter/pebble"
	"github.com/tollgate/tollgate/internal/settings"
)

// durableCounters are the counter namespaces with their event store, running
// until Close.
type durableCounters struct {
	*global.Counters
	store counter.EventStore
	// namespaces are the namespaces' options with defaults filled in.
	namespaces map[string]global.NamespaceOptions
	stop       context.CancelFunc
	done       chan struct{}
}

// namespaceOptions translates the settings' namespaces.
func namespaceOptions(s *settings.Settings) (map[string]global.NamespaceOptions, error) {
	out := make(map[string]global.NamespaceOptions, len(s.Counters.Namespaces))
	for name, n := range s.Counters.Namespaces {
		typ, err := global.ParseType(n.Type)
		if err != nil {
			return nil, fmt.Errorf("counters.namespaces.%s.type: %w", name, err)
		}
		out[name] = global.NamespaceOptions{
			Type: typ, AcceptLimit: n.AcceptLimit, FutureLimit: n.FutureLimit, ClockSkew: n.ClockSkew, LateAfter: n.LateAfter,
			CoalesceWindow: n.CoalesceWindow, Retention: n.Retention, MaxReadGap: n.MaxReadGap,
		}
	}
	return out, nil
}

// openCounters opens the configured event store and the counter namespaces
// nsOpts on it.
func openCounters(ctx context.Context, s *settings.Settings, nsOpts map[string]global.NamespaceOptions, logger *slog.Logger, reg prometheus.Registerer) (*durableCounters, error) {
	gopts := global.Options{Namespaces: nsOpts, Now: time.Now, Logger: logger, Registerer: reg}
	gopts.EnsureDefaults()
	runCtx, stop := context.WithCancel(context.Background())
	d := &durableCounters{namespaces: gopts.Namespaces, stop: stop, done: make(chan struct{})}
	switch s.Counters.Store {
	case "cassandra":
		c := s.Counters.Cassandra
		consistency := gocql.LocalQuorum
		if c.Consistency != "" {
			if err := consistency.UnmarshalText([]byte(strings.ToUpper(c.Consistency))); err != nil {
				stop()
				return nil, fmt.Errorf("counters.cassandra.consistency: %q is not a Cassandra consistency level (e.g. LOCAL_QUORUM)", c.Consistency)
			}
		}
		st, err := cassandra.Open(ctx, cassandra.Options{
			Hosts: c.Hosts, Keyspace: c.Keyspace, LocalDC: c.LocalDC, Consistency: consistency, Timeout: c.Timeout,
			Replication: cassandra.Replication{Factor: c.ReplicationFactor, DataCenters: c.DataCenters},
			Retention:   maxRetention(gopts.Retentions()),
			LateAfter:   gopts.LateAfters(),
			Logger:      logger,
		})
		if err != nil {
			stop()
			return nil, err
		}
		d.store = st
		close(d.done)
	default:
		st, err := pebble.Open(pebble.Options{
			Dir: filepath.Join(s.DataDir, "events"), Logger: logger, Now: time.Now,
			NamespaceRetention: gopts.Retentions(), LateAfter: gopts.LateAfters(),
		})
		if err != nil {
			stop()
			return nil, err
		}
		d.store = st
		go func() {
			defer close(d.done)
			_ = st.Run(runCtx) // returns nil when runCtx ends
		}()
	}
	gopts.Store = d.store
	c, err := global.New(gopts)
	if err != nil {
		d.closeStore()
		return nil, err
	}
	d.Counters = c
	return d, nil
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

func (d *durableCounters) closeStore() {
	d.stop()
	<-d.done
	_ = d.store.Close()
}

// Close drains the rollups, then closes the store.
func (d *durableCounters) Close() error {
	err := d.Counters.Close()
	d.closeStore()
	return err
}

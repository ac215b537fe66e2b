package cassandra

import (
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/tollgate/tollgate/counter"
)

func TestEnsureDefaults(t *testing.T) {
	o := Options{Hosts: []string{"127.0.0.1:9142", "127.0.0.2:9142"}}
	o.EnsureDefaults()
	if o.Port != 9142 || o.Keyspace != "tollgate" || o.Replication.Factor != 1 || o.Consistency != gocql.LocalQuorum ||
		o.Timeout != 2*time.Second || o.ConnectTimeout != 5*time.Second || o.TimeBucket != 10*time.Minute ||
		o.EventBuckets != 4 || o.Retention != 7*24*time.Hour || o.MaxConcurrency != 32 || o.Logger == nil {
		t.Errorf("EnsureDefaults = %+v", o)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("Validate after EnsureDefaults: %v", err)
	}
}

func TestHostsPort(t *testing.T) {
	tests := []struct {
		hosts []string
		want  int
	}{
		{nil, 9042},
		{[]string{"127.0.0.1"}, 9042},
		{[]string{"127.0.0.1:9142"}, 9142},
		{[]string{"127.0.0.1:9142", "127.0.0.2:9142"}, 9142},
		{[]string{"127.0.0.1:9142", "127.0.0.2:9143"}, 9042},
		{[]string{"127.0.0.1:9142", "127.0.0.2"}, 9042},
		{[]string{"[::1]:9150"}, 9150},
	}
	for _, tc := range tests {
		if got := hostsPort(tc.hosts); got != tc.want {
			t.Errorf("hostsPort(%q) = %d, want %d", tc.hosts, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{
			"everything wrong",
			Options{
				Hosts: []string{" "}, Port: 70000, Keyspace: "1ks", Replication: Replication{DataCenters: map[string]int{"d'c": -1}},
				Timeout: -1, ConnectTimeout: -1, TimeBucket: 1500 * time.Millisecond, EventBuckets: 65, Retention: time.Millisecond, MaxConcurrency: -1,
				LateAfter: counter.LateAfters{"ns": 0},
			},
			"counter/cassandra: invalid options: Hosts holds an empty host\n" +
				"Port 70000 is not a TCP port\n" +
				"Keyspace \"1ks\" is not a valid keyspace name (a letter, then up to 47 letters, digits or _)\n" +
				"Replication.DataCenters: data center name \"d'c\" is empty or holds a quote or backslash\n" +
				"Replication.DataCenters[\"d'c\"] = -1 is negative\n" +
				"Timeout -1ns is negative\n" +
				"ConnectTimeout -1ns is negative\n" +
				"TimeBucket 1.5s is not a whole number of seconds >= 1s\n" +
				"EventBuckets 65 is outside 1..64\n" +
				"Retention 1ms is outside 1s..175200h0m0s (Cassandra's TTL range)\n" +
				"MaxConcurrency -1 is below 1\n" +
				"LateAfter[\"ns\"] 0s is not positive (use a positive duration or drop the entry)",
		},
		{
			"no hosts",
			Options{},
			"counter/cassandra: invalid options: Hosts is empty: name at least one node, e.g. 127.0.0.1:9042",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.EnsureDefaults()
			err := tc.opts.Validate()
			if err == nil || err.Error() != tc.want {
				t.Errorf("Validate() = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestReplicationCQL(t *testing.T) {
	tests := []struct {
		r    Replication
		want string
	}{
		{Replication{Factor: 3}, "{'class': 'SimpleStrategy', 'replication_factor': 3}"},
		{Replication{DataCenters: map[string]int{"dc2": 1, "dc1": 3}}, "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 1}"},
	}
	for _, tc := range tests {
		if got := tc.r.replicationCQL(); got != tc.want {
			t.Errorf("replicationCQL(%+v) = %s, want %s", tc.r, got, tc.want)
		}
	}
}

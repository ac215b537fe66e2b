package cassandra

import (
	"context"
	"fmt"
	"time"

	"github.com/gocql/gocql"
)

// layoutID is the key of the layout table's only row.
const layoutID = 0

// schemaCQL returns the statements that create the keyspace and its tables.
func schemaCQL(o *Options) []string {
	ks := o.Keyspace
	return []string{
		fmt.Sprintf("CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s", ks, o.Replication.replicationCQL()),
		// One partition per counter, time bucket and event bucket; rows in event
		// order. Rows expire by TTL, and TWCS drops whole expired SSTables.
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.events (
	namespace blob, counter blob, time_bucket bigint, event_bucket smallint,
	event_time bigint, event_id blob, delta bigint, kind tinyint,
	PRIMARY KEY ((namespace, counter, time_bucket, event_bucket), event_time, event_id)
) WITH compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'DAYS', 'compaction_window_size': 1}
	AND gc_grace_seconds = 10800`, ks),
		// One partition per counter: the checkpoint and last-write time as static
		// cells resolved by write timestamp, and one row per time bucket that
		// holds events (expiring with them) so wide reads visit only those.
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.rollups (
	namespace blob, counter blob, time_bucket bigint,
	checkpoint blob static, last_write bigint static,
	PRIMARY KEY ((namespace, counter), time_bucket)
) WITH gc_grace_seconds = 10800`, ks),
		// How many late events each counter got (counter.EventStore.LateWrites).
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.late_writes (
	namespace blob, counter blob, late counter,
	PRIMARY KEY ((namespace, counter))
)`, ks),
		// The partitioning every store of the keyspace must share.
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.layout (
	id int PRIMARY KEY, time_bucket_seconds bigint, event_buckets int
)`, ks),
	}
}

// ensureSchema creates the keyspace and tables when missing and checks that
// the keyspace's partitioning matches the options.
func ensureSchema(ctx context.Context, session *gocql.Session, o *Options) error {
	for _, stmt := range schemaCQL(o) {
		if err := session.Query(stmt).WithContext(ctx).Exec(); err != nil {
			return fmt.Errorf("counter/cassandra: cannot create the schema of keyspace %q: %w (check that the nodes are up and the replication names existing data centers)", o.Keyspace, err)
		}
	}
	want := map[string]any{}
	applied, err := session.Query(
		fmt.Sprintf("INSERT INTO %s.layout (id, time_bucket_seconds, event_buckets) VALUES (?, ?, ?) IF NOT EXISTS", o.Keyspace),
		layoutID, int64(o.TimeBucket/time.Second), o.EventBuckets,
	).WithContext(ctx).SerialConsistency(gocql.LocalSerial).MapScanCAS(want)
	if err != nil {
		return fmt.Errorf("counter/cassandra: cannot read the layout of keyspace %q: %w", o.Keyspace, err)
	}
	if applied {
		return nil
	}
	tb, _ := want["time_bucket_seconds"].(int64)
	eb, _ := want["event_buckets"].(int)
	if time.Duration(tb)*time.Second != o.TimeBucket || eb != o.EventBuckets {
		return fmt.Errorf("counter/cassandra: keyspace %q is partitioned with TimeBucket %v and EventBuckets %d, the options say %v and %d: use the keyspace's values or another keyspace",
			o.Keyspace, time.Duration(tb)*time.Second, eb, o.TimeBucket, o.EventBuckets)
	}
	return nil
}

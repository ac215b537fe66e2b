// Package storetest is the conformance suite for counter.EventStore
// implementations (counter/pebble, counter/cassandra). Its suite is one
// file of about 500 lines on purpose: each case reads as the contract it
// checks, beside the others, and none is used alone.
//
// # Use
//
// Call Run from a test of the implementation with a constructor that returns
// a ready store and registers its cleanup:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, time.Now, func(t *testing.T) counter.EventStore { return openStore(t) })
//	}
//
// Run calls the constructor once per subtest. Every subtest writes to its own
// random namespaces, so the constructor may return stores that share data
// (one Cassandra keyspace for all subtests).
//
// # What it checks
//
// Exact sums and event counts of Aggregate over (from, to] and of Sum over
// [from, to); AggregateSplit against two Aggregates at every split point;
// LateWrites changing after each Append of a late event (by the clock given
// to Run) and only then; idempotent re-appends (across calls and inside one batch);
// clears ordered by Time then ID; the never-backwards Checkpoint under
// concurrent saves; LastWrite as the max event Time under concurrent,
// out-of-order appends; isolation of namespaces and counters whose names are
// prefixes of each other or contain separators and NUL bytes; large batches;
// and exact totals under 50 concurrent appenders.
//
// Event times in the suite are whole milliseconds, so a store may keep
// millisecond precision.
package storetest

// Package faults proves that the sidecar survives faults with nothing
// acknowledged lost: kill -9 at random moments during each ingest path, a
// retry storm, SIGTERM under load, Redis (single and cluster) frozen and
// stopped under load, a Cassandra node and a whole datacenter down under
// metering load, a full disk and a read-only data dir. `make faults` runs
// it verbosely (each scenario logs its figures); `make test` runs it alone,
// after every other package, because its Cassandra scenarios stop nodes of
// the shared cluster.
package faults

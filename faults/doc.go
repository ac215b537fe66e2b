// Package faults proves that the sidecar survives faults with nothing
// acknowledged lost: kill -9 at random moments during each ingest path, a
// retry storm, SIGTERM under load. `make faults` runs it verbosely (each
// scenario logs its figures); `make test` runs it too.
package faults

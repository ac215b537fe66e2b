// Package bestefforttest is the conformance suite every best-effort counter
// backend (counter/memory, counter/redis) runs from its tests, so all of
// them count, admit and report reset times the same way.
//
// Run drives a backend through fixed sequences of single hits at fake times
// (aligned to T0) and checks every Outcome exactly, then a multi-hit call, an
// invalid hit, and 200 concurrent calls on a 5-per-minute key that must admit
// exactly 5 for each algorithm. Keys are unique to each run, so a backend
// that keeps state between runs (Redis) needs no cleanup.
package bestefforttest

// Package e2e runs Tollgate behind a real Envoy (scripts/envoy.sh fetches
// it): the examples as users copy them, real HTTP in, a real upstream
// behind. Its tests fail under `make test` when Envoy is missing.
package e2e

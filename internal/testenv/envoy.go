package testenv

// Envoy is the path of the real Envoy binary (scripts/envoy.sh prints it);
// tests run it through internal/envoytest.
const Envoy = "TOLLGATE_TEST_ENVOY"

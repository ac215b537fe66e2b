package testenv

// Chromium is the path of the chromium binary (scripts/chromium.sh prints
// it); the usage console's browser test drives it headless.
const Chromium = "TOLLGATE_TEST_CHROMIUM"

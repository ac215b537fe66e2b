package testenv

// Python is a python3 that has pyarrow (scripts/test.sh installs it), for
// tests that read files back with another reader.
const Python = "TOLLGATE_TEST_PYTHON"

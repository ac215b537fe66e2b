# run-dir.sh is sourced by test.sh and redis.sh (and read by cassandra.sh
# through the export): TOLLGATE_RUN_DIR, where the test servers keep their
# pid files, logs and data, defaults to a directory of this checkout's own,
# /tmp/tollgate-test-<cksum of the checkout's path>, so two checkouts on one
# machine never stop or reuse each other's servers.
if [[ -z "${TOLLGATE_RUN_DIR:-}" ]]; then
	TOLLGATE_RUN_DIR="/tmp/tollgate-test-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P | cksum | cut -d' ' -f1)"
fi
export TOLLGATE_RUN_DIR

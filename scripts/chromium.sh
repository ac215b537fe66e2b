#!/usr/bin/env bash
# chromium.sh — the browser the usage console's test drives headless.
#
#   bash scripts/chromium.sh path   # install once (Debian's chromium), then print the binary's path
#   bash scripts/chromium.sh env    # print the export line for internal/testenv (TOLLGATE_TEST_CHROMIUM)
#
# Installs Debian's chromium package with apt-get when no chromium is on PATH.
set -euo pipefail

log() { printf '[chromium.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

find_bin() { command -v chromium || command -v chromium-browser || true; }

install() {
	[ -n "$(find_bin)" ] && return 0
	log "chromium not found; installing Debian's chromium with apt-get (once)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 && apt-get install -y -qq chromium >/dev/null ||
		die "apt-get could not install chromium"
	[ -n "$(find_bin)" ] || die "chromium installed but not on PATH"
}

case "${1:-path}" in
path) install; find_bin ;;
env) install; echo "export TOLLGATE_TEST_CHROMIUM=$(find_bin)" ;;
*) die "usage: chromium.sh path|env" ;;
esac

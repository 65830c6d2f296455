#!/usr/bin/env bash
# Installs the system programs the test suite drives (Debian packages) when they are missing.
# Usage: test/system-deps.sh PROGRAM=PACKAGE ...   e.g. chromium=chromium redis-server=redis-server
set -euo pipefail
missing=()
for pair in "$@"; do
  prog=${pair%%=*}; pkg=${pair#*=}
  command -v "$prog" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing test dependencies: ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Installs the Debian packages buzzradar needs to build, test, lint and run.
# Only what is missing is installed (apt-get, with sudo when not root). Exit 0 when
# everything is present afterwards, non-zero with a message otherwise.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config
  librdkafka-dev libhiredis-dev libcjson-dev libopenblas-dev libstemmer-dev zlib1g-dev
  libmicrohttpd-dev libcmocka-dev
  redis-server redis-tools kcat curl python3-yaml
  clang-format cppcheck
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: not root and no sudo: install ${missing[*]} by hand" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Debian starts a system redis-server on install where systemd runs; the tests never
# use it (they start their own on a unix socket), so it is left as the system has it.

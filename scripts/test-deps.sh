#!/usr/bin/env bash
# What `npm test` needs from Debian's packages: installed when missing (as root), or a stop naming them.
set -euo pipefail

missing=()
command -v tmux >/dev/null || missing+=(tmux)
command -v openssl >/dev/null || missing+=(openssl)
# The dashboard's browser tests drive Debian's Chromium through playwright-core (no download).
command -v chromium >/dev/null || missing+=(chromium)
# Debian keeps initdb and pg_ctl out of PATH, under /usr/lib/postgresql/<major>/bin.
if [ "${SEKUIRE_TEST_SKIP_POSTGRES:-}" != "1" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
  && ! command -v initdb >/dev/null; then
  missing+=(postgresql)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need these Debian packages: ${missing[*]}." >&2
  echo "Install them (sudo apt-get install -y ${missing[*]}), then run npm test again." >&2
  [[ " ${missing[*]} " == *" postgresql "* ]] && echo "Or set SEKUIRE_TEST_SKIP_POSTGRES=1 to skip the PostgreSQL tests." >&2
  exit 1
fi
echo "Installing what the tests need: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

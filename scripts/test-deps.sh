#!/usr/bin/env bash
# What `npm test` needs from Debian's packages: installed when missing (as root), or a stop naming them.
set -euo pipefail

missing=()
command -v tmux >/dev/null || missing+=(tmux)
command -v openssl >/dev/null || missing+=(openssl)
# The dashboard's browser tests drive Debian's Chromium through playwright-core (no download).
command -v chromium >/dev/null || missing+=(chromium)
# The proxy tests put Debian's nginx in front of the server (started by the tests, never as a service).
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
# Debian keeps initdb and pg_ctl out of PATH, under /usr/lib/postgresql/<major>/bin.
if [ "${SEKUIRE_TEST_SKIP_POSTGRES:-}" != "1" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
  && ! command -v initdb >/dev/null; then
  missing+=(postgresql)
fi
# The device-key stores (test/cli/key-store-*): OpenSSH's ssh-agent and ssh-add with a throwaway
# P-256 key; swtpm as the TPM, which openssl's tpm2 provider (tpm2-openssl) signs with and
# tpm2-tools inspects; gnome-keyring's Secret Service on a session dbus-daemon as the OS keyring.
command -v ssh-agent >/dev/null || missing+=(openssh-client)
command -v swtpm >/dev/null || missing+=(swtpm)
command -v tpm2_createprimary >/dev/null || missing+=(tpm2-tools)
ls /usr/lib/*/ossl-modules/tpm2.so >/dev/null 2>&1 || missing+=(tpm2-openssl)
command -v gnome-keyring-daemon >/dev/null || missing+=(gnome-keyring)
command -v dbus-daemon >/dev/null || missing+=(dbus-daemon)
command -v dbus-send >/dev/null || missing+=(dbus-bin)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "The tests need these Debian packages: ${missing[*]}." >&2
  echo "Install them (sudo apt-get install -y ${missing[*]}), then run npm test again." >&2
  [[ " ${missing[*]} " == *" postgresql "* ]] && echo "Or set SEKUIRE_TEST_SKIP_POSTGRES=1 to skip the PostgreSQL tests." >&2
  exit 1
fi
echo "Installing what the tests need: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's nginx (and postgresql) start a service on install: nginx would then hold port 80.
# policy-rc.d answering 101 is how invoke-rc.d is told not to start anything (invoke-rc.d(8));
# containers often have one already. Ours is removed again once the packages are in.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

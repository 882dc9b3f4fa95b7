#!/usr/bin/env bash
# Times `onedump slow` against pt-query-digest (and mysqldumpslow when installed) on one generated
# MySQL 8 slow log, and checks that onedump and pt-query-digest agree on every per-fingerprint count.
#
#   bench/slow.sh [SIZE_MB=500] [PEER_SIZE_MB=SIZE_MB]
#
# PEER_SIZE_MB lets the slow peers run on a smaller prefix-sized log (same generator, same seed)
# when the full size would take too long for them; onedump then runs on both sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-500}
PEER_SIZE=${2:-$SIZE}
WORK=${BENCH_DIR:-.tmp/bench-slow}
mkdir -p "$WORK"
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time: apt-get install -y time" >&2; exit 1; }
command -v pt-query-digest >/dev/null || { echo "needs pt-query-digest: apt-get install -y percona-toolkit" >&2; exit 1; }

# The V8 flags the single executable and the Docker image start with (docs/development.md, DESIGN-notes); NODE_FLAGS= to run without.
NODE_FLAGS=${NODE_FLAGS---initial-old-space-size=96 --max-semi-space-size=4}
# The CLI and, beside it, the slow-log worker (src/slow/pool.ts finds worker.mjs next to the bundle).
rm -rf .tmp/bundle
npx esbuild src/cli/onedump.ts src/slow/worker.ts --bundle --platform=node --format=esm --outdir=.tmp/bundle \
  --entry-names='[name]' --out-extension:.js=.mjs --packages=external --log-level=warning

gen() { # size -> path
  local f="$WORK/slow-$1mb.log"
  [ -s "$f" ] || node bench/gen-slowlog.mjs "$f" "$1"
  echo "$f"
}

# run NAME FILE CMD...: prints one row; keeps stdout in $WORK/NAME.out
run() {
  local name=$1 file=$2; shift 2
  local mb; mb=$(awk -v b="$(stat -c %s "$file")" 'BEGIN{printf "%.1f", b/1048576}')
  /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/{printf "%.0f", $2/1024}' "$WORK/$name.time")
  printf '%-26s %8s MB %9.2f s %9.1f MB/s %7s MB peak RSS\n' "$name" "$mb" "$wall" "$(awk -v m="$mb" -v w="$wall" 'BEGIN{print (w>0? m/w : 0)}')" "$rss"
  echo "$wall" >"$WORK/$name.wall"
}

FULL=$(gen "$SIZE")
PEER=$(gen "$PEER_SIZE")

echo "# onedump slow vs peers ($(nproc) CPUs, node $(node --version), $(pt-query-digest --version))"
run "onedump-${SIZE}mb" "$FULL" node $NODE_FLAGS .tmp/bundle/onedump.mjs slow "$FULL" --format json
run "onedump-2threads-${SIZE}mb" "$FULL" node $NODE_FLAGS .tmp/bundle/onedump.mjs slow "$FULL" --format json --threads 2
cmp -s "$WORK/onedump-${SIZE}mb.out" "$WORK/onedump-2threads-${SIZE}mb.out" || { echo "two threads and one thread differ" >&2; exit 1; }
[ "$PEER" = "$FULL" ] || run "onedump-${PEER_SIZE}mb" "$PEER" node $NODE_FLAGS .tmp/bundle/onedump.mjs slow "$PEER" --format json
run "pt-query-digest-${PEER_SIZE}mb" "$PEER" pt-query-digest --output json --limit 100%:100000 "$PEER"
if command -v mysqldumpslow >/dev/null; then
  run "mysqldumpslow-${PEER_SIZE}mb" "$PEER" mysqldumpslow -s c "$PEER"
fi

ours=$(cat "$WORK/onedump-${PEER_SIZE}mb.wall"); pt=$(cat "$WORK/pt-query-digest-${PEER_SIZE}mb.wall")
echo "throughput ratio onedump / pt-query-digest on ${PEER_SIZE} MB: $(awk -v a="$pt" -v b="$ours" 'BEGIN{printf "%.1fx", a/b}')"

node -e '
const fs = require("fs");
const ours = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const pt = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const a = new Map(ours.results.map((r) => [r.fingerprint_id, r.count]));
const b = new Map(pt.classes.map((c) => [c.checksum.slice(-16), c.query_count]));
let bad = 0;
for (const [id, n] of b) if (a.get(id) !== n) { bad++; console.log("differs", id, "pt", n, "onedump", a.get(id)); }
for (const id of a.keys()) if (!b.has(id)) { bad++; console.log("only onedump", id); }
console.log(bad === 0 ? `per-fingerprint counts agree: ${b.size} groups, ${ours.entries} entries` : `${bad} groups differ`);
process.exit(bad === 0 ? 0 : 1);
' "$WORK/onedump-${PEER_SIZE}mb.out" "$WORK/pt-query-digest-${PEER_SIZE}mb.out"

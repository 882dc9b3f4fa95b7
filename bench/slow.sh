#!/usr/bin/env bash
# Times `onedump slow` (one and two threads) against pt-query-digest (and mysqldumpslow when installed)
# on three logs, each peer on the same file in the same run, and compares the per-fingerprint counts:
#   regular   bench/gen-slowlog.mjs: MySQL 8, ~60 shapes, no pt-query-digest defect cases
#   varied    bench/gen-slowlog-varied.mjs: MySQL 8 / MariaDB / Percona headers, ~2,500 shapes, 10-100 KB
#             statements, comments, escapes, raw and invalid UTF-8 bytes
#   fixtures  bench/gen-slowlog-fixtures.mjs: the real logs of test/fixtures/slowlogs/, repeated with shifted times
# bench/slow-compare.ts lists every class where pt-query-digest is wrong with the reason, and fails on
# any difference it cannot explain.
#
#   bench/slow.sh [REGULAR_MB=500] [VARIED_MB=100] [FIXTURES_MB=100]     (0 skips a log)
set -euo pipefail
cd "$(dirname "$0")/.."
REGULAR=${1:-500}
VARIED=${2:-100}
FIXTURES=${3:-100}
WORK=${BENCH_DIR:-.tmp/bench-slow}
mkdir -p "$WORK"
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time: apt-get install -y time" >&2; exit 1; }
command -v pt-query-digest >/dev/null || { echo "needs pt-query-digest: apt-get install -y percona-toolkit" >&2; exit 1; }

# The V8 flags the single executable and the Docker image start with (development.md, DESIGN-notes); NODE_FLAGS= to run without.
NODE_FLAGS=${NODE_FLAGS---initial-old-space-size=96 --max-semi-space-size=4}
# The CLI and, beside it, the slow-log worker (src/slow/pool.ts finds worker.mjs next to the bundle).
rm -rf .tmp/bundle
npx esbuild src/cli/onedump.ts src/slow/worker.ts --bundle --platform=node --format=esm --outdir=.tmp/bundle \
  --entry-names='[name]' --out-extension:.js=.mjs --packages=external --log-level=warning

gen() { # generator size -> path
  local f="$WORK/$1-$2mb.log"
  [ -s "$f" ] || node "bench/gen-slowlog${3:-}.mjs" "$f" "$2"
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

echo "# onedump slow vs peers ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), node $(node --version), $(pt-query-digest --version))"
ONEDUMP=(node $NODE_FLAGS .tmp/bundle/onedump.mjs slow)
status=0
bench() { # NAME FILE
  local name=$1 file=$2
  run "$name-onedump" "$file" "${ONEDUMP[@]}" "$file" --format json --threads 1
  run "$name-onedump-2threads" "$file" "${ONEDUMP[@]}" "$file" --format json --threads 2
  cmp -s "$WORK/$name-onedump.out" "$WORK/$name-onedump-2threads.out" || { echo "$name: two threads and one thread differ" >&2; status=1; }
  run "$name-pt-query-digest" "$file" pt-query-digest --output json --limit 100%:100000 "$file"
  if [ "$name" = regular ] && command -v mysqldumpslow >/dev/null; then
    run "$name-mysqldumpslow" "$file" mysqldumpslow -s c "$file"
  fi
  local pt one two
  pt=$(cat "$WORK/$name-pt-query-digest.wall"); one=$(cat "$WORK/$name-onedump.wall"); two=$(cat "$WORK/$name-onedump-2threads.wall")
  echo "$name: throughput ratio onedump / pt-query-digest: $(awk -v a="$pt" -v b="$one" 'BEGIN{printf "%.1fx", a/b}') (1 thread), $(awk -v a="$pt" -v b="$two" 'BEGIN{printf "%.1fx", a/b}') (2 threads)"
  npx tsx bench/slow-compare.ts "$WORK/$name-onedump.out" "$WORK/$name-pt-query-digest.out" "$name" || status=1
}
[ "$REGULAR" = 0 ] || bench regular "$(gen slow "$REGULAR")"
[ "$VARIED" = 0 ] || bench varied "$(gen slow-varied "$VARIED" -varied)"
[ "$FIXTURES" = 0 ] || bench fixtures "$(gen slow-fixtures "$FIXTURES" -fixtures)"
exit $status

#!/usr/bin/env bash
# Times `onedump slow` (the default, threads auto, and one thread) against pt-query-digest (and
# mysqldumpslow with MYSQLDUMPSLOW=1) on three logs, the peers taking turns on the same file in each of
# RUNS rounds (default 3; rows give the median wall time and the highest peak RSS), and compares the
# per-fingerprint counts:
#   regular   bench/gen-slowlog.mjs: MySQL 8, ~60 shapes, no pt-query-digest defect cases
#   varied    bench/gen-slowlog-varied.mjs: MySQL 8 / MariaDB / Percona headers, ~2,500 shapes, 10-100 KB
#             statements, comments, escapes, raw and invalid UTF-8 bytes
#   fixtures  bench/gen-slowlog-fixtures.mjs: the real logs of test/fixtures/slowlogs/, repeated with shifted times
# bench/slow-compare.ts lists every class where pt-query-digest is wrong with the reason, and fails on
# any difference it cannot explain.
#
#   [RUNS=3] bench/slow.sh [REGULAR_MB=500] [VARIED_MB=100] [FIXTURES_MB=100]     (0 skips a log)
set -euo pipefail
cd "$(dirname "$0")/.."
REGULAR=${1:-500}
VARIED=${2:-100}
FIXTURES=${3:-100}
RUNS=${RUNS:-3}
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

# run NAME FILE CMD...: one timed run; appends its wall time and peak RSS to $WORK/NAME.walls / .rss,
# keeps stdout in $WORK/NAME.out
run() {
  local name=$1 file=$2; shift 2
  /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/$name.time" >>"$WORK/$name.walls"
  awk -F': ' '/Maximum resident set size/{printf "%.0f\n", $2/1024}' "$WORK/$name.time" >>"$WORK/$name.rss"
}
median() { sort -n "$1" | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
row() { # NAME FILE: one row from the runs' median wall time and highest peak RSS
  local name=$1 file=$2 mb wall rss
  mb=$(awk -v b="$(stat -L -c %s "$file")" 'BEGIN{printf "%.1f", b/1048576}')
  wall=$(median "$WORK/$name.walls"); rss=$(sort -n "$WORK/$name.rss" | tail -1)
  printf '%-30s %7s MB %8.2f s %8.1f MB/s %6s MB peak RSS   (runs: %s s)\n' "$name" "$mb" "$wall" \
    "$(awk -v m="$mb" -v w="$wall" 'BEGIN{print (w>0? m/w : 0)}')" "$rss" "$(paste -sd' ' "$WORK/$name.walls")"
}

echo "# onedump slow vs peers ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), node $(node --version), $(pt-query-digest --version)), median of $RUNS runs"
ONEDUMP=(node $NODE_FLAGS .tmp/bundle/onedump.mjs slow)
status=0
bench() { # NAME FILE
  local name=$1 file=$2
  rm -f "$WORK/$name"-*.walls "$WORK/$name"-*.rss
  # The peers take turns within each round, so that a change in the machine's load hits all of them.
  for ((r = 1; r <= RUNS; r++)); do
    run "$name-onedump" "$file" "${ONEDUMP[@]}" "$file" --format json
    run "$name-onedump-1thread" "$file" "${ONEDUMP[@]}" "$file" --format json --threads 1
    cmp -s "$WORK/$name-onedump.out" "$WORK/$name-onedump-1thread.out" || { echo "$name: the default (threads auto) and one thread differ" >&2; status=1; }
    if [ "$name" = varied ]; then
      # The same log gzipped: inflating runs on libuv's thread pool beside the parse; it must not set the pace.
      [ -s "$file.gz" ] || gzip -6 -c "$file" >"$file.gz"
      run "$name-onedump-gzip" "$file" "${ONEDUMP[@]}" "$file.gz" --format json
      cmp -s "$WORK/$name-onedump.out" "$WORK/$name-onedump-gzip.out" || { echo "$name: the gzip copy gives another report" >&2; status=1; }
    fi
    run "$name-pt-query-digest" "$file" pt-query-digest --output json --limit 100%:100000 "$file"
    if [ "$name" = regular ] && [ -n "${MYSQLDUMPSLOW:-}" ] && command -v mysqldumpslow >/dev/null; then
      run "$name-mysqldumpslow" "$file" mysqldumpslow -s c "$file"
    fi
  done
  row "$name-onedump" "$file"
  row "$name-onedump-1thread" "$file"
  [ -s "$WORK/$name-onedump-gzip.walls" ] && row "$name-onedump-gzip" "$file"
  row "$name-pt-query-digest" "$file"
  [ -s "$WORK/$name-mysqldumpslow.walls" ] && row "$name-mysqldumpslow" "$file"
  local pt one two
  pt=$(median "$WORK/$name-pt-query-digest.walls"); two=$(median "$WORK/$name-onedump.walls"); one=$(median "$WORK/$name-onedump-1thread.walls")
  echo "$name: throughput ratio onedump / pt-query-digest: $(awk -v a="$pt" -v b="$two" 'BEGIN{printf "%.1fx", a/b}') (default, threads auto), $(awk -v a="$pt" -v b="$one" 'BEGIN{printf "%.1fx", a/b}') (1 thread)"
  npx tsx bench/slow-compare.ts "$WORK/$name-onedump.out" "$WORK/$name-pt-query-digest.out" "$name" || status=1
}
[ "$REGULAR" = 0 ] || bench regular "$(gen slow "$REGULAR")"
[ "$VARIED" = 0 ] || bench varied "$(gen slow-varied "$VARIED" -varied)"
[ "$FIXTURES" = 0 ] || bench fixtures "$(gen slow-fixtures "$FIXTURES" -fixtures)"
exit $status

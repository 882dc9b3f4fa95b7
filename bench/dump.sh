#!/usr/bin/env bash
# Native dumper vs mysqldump vs mydumper on the same throwaway MariaDB: wall time, MB/s and peak RSS, at ~0.1 GB
# and >= 1 GB; then the compressed dumps (native zstd and gzip on Node 24, mysqldump | gzip -6 and | zstd -3 -T2). Usage: bench/dump.sh [GB_ROWS] (default 2000000 rows ~ 1.1 GB of dump; 1/10 of that for the small run).
# Needs: mariadb-server, mariadb-client, mydumper, zstd, /usr/bin/time (apt-get install time). Figures: bench/RESULTS-dump.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIG_ROWS=${1:-2000000}
# REPEAT rounds in which the contenders take turns; best and median wall time, largest peak RSS (a shared 2-core
# machine is noisy). ONEDUMP_BIN=dist/onedump measures the single executable instead of the bundle.
REPEAT=${REPEAT:-2}
SMALL_ROWS=$((BIG_ROWS / 10))
WORK=$(mktemp -d /tmp/onedump-bench.XXXXXX)
DBPID=""
cleanup() {
  [ -n "$DBPID" ] && kill "$DBPID" 2>/dev/null && wait "$DBPID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== starting a throwaway MariaDB" >&2
node --import tsx bench/start-mariadb.mts > "$WORK/db.json" 2>"$WORK/db.err" &
DBPID=$!
for _ in $(seq 1 120); do [ -s "$WORK/db.json" ] && break; sleep 0.5; done
PORT=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$WORK/db.json','utf8')).port)")
PW=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$WORK/db.json','utf8')).password)")
umask 077
printf '[client]\nuser=root\npassword=%s\nhost=127.0.0.1\nport=%s\nprotocol=TCP\n' "$PW" "$PORT" > "$WORK/my.cnf"
DSN="root:${PW}@tcp(127.0.0.1:${PORT})"
SQL="mariadb --defaults-extra-file=$WORK/my.cnf"

build() { # db rows
  echo "== building $1 ($2 rows)" >&2
  $SQL -e "CREATE DATABASE $1; CREATE TABLE $1.t (id BIGINT PRIMARY KEY, n INT, d DECIMAL(20,6), f DOUBLE, fl FLOAT, dt DATETIME(6),
    s VARCHAR(255), tx TEXT, b VARBINARY(64), j JSON) ENGINE=InnoDB"
  local done=0
  while [ "$done" -lt "$2" ]; do
    local n=$(( $2 - done < 200000 ? $2 - done : 200000 ))
    $SQL -e "INSERT INTO $1.t SELECT $done + seq, seq * 7 % 100000, seq / 7, seq * 1.1, seq / 3, '2024-01-01' + INTERVAL seq SECOND,
      CONCAT('name ', seq, ' it''s \"quoted\" \\\\ ', MD5(seq)), REPEAT(CONCAT(MD5(seq), ' '), 12), UNHEX(SHA2(seq, 256)),
      JSON_OBJECT('k', seq, 'v', MD5(seq)) FROM $1.seq_1_to_$n"
    done=$((done + n))
  done
}
build bsmall "$SMALL_ROWS"
build bbig "$BIG_ROWS"

# The V8 flags the single executable and the Docker image start with (development.md, DESIGN-notes).
NODE_FLAGS=${NODE_FLAGS---initial-old-space-size=96 --max-semi-space-size=4}
# Split at the dynamic imports, so what only some commands use (the daemon's metrics, notifiers…) loads when used, as
# with the npm package (tsc output) and the single executable. An unsplit ESM bundle with external packages hoists
# every package import to the top and loads them all at start-up (0.69 s vs 0.58 s for --version here).
echo "== bundling the CLI (as the release does)" >&2
mkdir -p "$WORK/cli"
npx esbuild src/cli/main.ts --bundle --splitting --platform=node --format=esm --packages=external --outdir="$WORK/cli" --log-level=warning
echo '{"type":"module"}' > "$WORK/cli/package.json"
ln -s "$PWD/node_modules" "$WORK/cli/node_modules"

# One run of one contender: appends "label<TAB>db<TAB>bytes<TAB>wall<TAB>rss" to results.tsv.
run_once() { # label db outfile-or-dir command...
  local label=$1 db=$2 out=$3; shift 3
  rm -rf "$out"; [ "$label" = "mydumper (2 threads)" ] && mkdir -p "$out"
  sync
  /usr/bin/time -v -o "$WORK/time.txt" "$@" > "$WORK/stdout.txt" 2>"$WORK/stderr.txt" || { echo "$label failed:" >&2; tail -5 "$WORK/stderr.txt" >&2; return 1; }
  local wall rss bytes
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
  bytes=$(du -sb "$out" | cut -f1)
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$db" "$bytes" "$wall" "$rss" >> "$WORK/results.tsv"
  rm -rf "$out"
}

# The native dumper with two connections (--threads=2); the plain row runs with the default, --threads=auto (one
# connection here: the server shares this machine's cores, see autoConnections in src/dump/mysql-native/dumper.ts).
cat > "$WORK/threads.yml" <<EOF
jobs:
  - name: native-threads
    dbdriver: mysql
    dbdsn: \${ONEDUMP_DSN}
    options: [--threads=2]
    storage:
      local: [{ path: $WORK/threads.sql }]
EOF

# ONEDUMP_BIN=dist/onedump runs the single executable (what releases ship) instead of the bundle.
if [ -n "${ONEDUMP_BIN:-}" ]; then ONEDUMP=("$(readlink -f "$ONEDUMP_BIN")"); else ONEDUMP=(node $NODE_FLAGS "$WORK/cli/main.js"); fi

# Compression (issue 18): zstd needs a Node with zstd in node:zlib (22.15+); the single executable has it. The zstd,
# gzip and uncompressed native rows all run on that Node, so their ratios compare compressors, not runtimes.
if [ -n "${ONEDUMP_BIN:-}" ]; then ONEDUMP24=("${ONEDUMP[@]}"); else ONEDUMP24=("$(bash scripts/node24.sh)" $NODE_FLAGS "$WORK/cli/main.js"); fi
compression_rows() { # db
  run_once "n24 native" "$1" "$WORK/n24.sql" env ONEDUMP_DSN="$DSN/$1" "${ONEDUMP24[@]}" dump --dsn - --driver mysql --to "$WORK/n24.sql"
  run_once "n24 native zstd" "$1" "$WORK/z.sql.zst" env ONEDUMP_DSN="$DSN/$1" "${ONEDUMP24[@]}" dump --dsn - --driver mysql --compression zstd --to "$WORK/z.sql"
  run_once "n24 native gzip" "$1" "$WORK/g.sql.gz" env ONEDUMP_DSN="$DSN/$1" "${ONEDUMP24[@]}" dump --dsn - --driver mysql --compression gzip --to "$WORK/g.sql"
  run_once "mysqldump|gzip -6" "$1" "$WORK/md.sql.gz" sh -c "mysqldump --defaults-extra-file=$WORK/my.cnf --single-transaction --quick --hex-blob $1 | gzip -6 > $WORK/md.sql.gz"
  run_once "mysqldump|zstd -3 -T2" "$1" "$WORK/md.sql.zst" sh -c "mysqldump --defaults-extra-file=$WORK/my.cnf --single-transaction --quick --hex-blob $1 | zstd -q -3 -T2 > $WORK/md.sql.zst"
}

# The contenders take turns, REPEAT rounds, so a machine whose speed drifts during the bench (a shared VM) does not
# favour whoever ran in its fast minutes.
: > "$WORK/results.tsv"
for db in bsmall bbig; do
  for round in $(seq 1 "$REPEAT"); do
    echo "== $db round $round/$REPEAT" >&2
    run_once "onedump native" "$db" "$WORK/native.sql" env ONEDUMP_DSN="$DSN/$db" "${ONEDUMP[@]}" dump --dsn - --driver mysql --to "$WORK/native.sql"
    run_once "onedump native -t2" "$db" "$WORK/threads.sql" env ONEDUMP_DSN="$DSN/$db" "${ONEDUMP[@]}" dump -c "$WORK/threads.yml"
    run_once "mysqldump" "$db" "$WORK/mysqldump.sql" sh -c "mysqldump --defaults-extra-file=$WORK/my.cnf --single-transaction --quick --hex-blob $db > $WORK/mysqldump.sql"
    # onedump's dumps are on disk when it exits (fsync before the rename); mysqldump's are in the page cache. The
    # same guarantee for mysqldump: its file synced before the clock stops.
    run_once "mysqldump + sync" "$db" "$WORK/mysqldump.sql" sh -c "mysqldump --defaults-extra-file=$WORK/my.cnf --single-transaction --quick --hex-blob $db > $WORK/mysqldump.sql && sync $WORK/mysqldump.sql"
    run_once "onedump mysqldump" "$db" "$WORK/wrapped.sql" env ONEDUMP_DSN="$DSN/$db" "${ONEDUMP[@]}" dump --dsn - --driver mysqldump --to "$WORK/wrapped.sql"
    run_once "mydumper (2 threads)" "$db" "$WORK/mydumper" mydumper --defaults-file="$WORK/my.cnf" -h 127.0.0.1 -P "$PORT" -u root -B "$db" -o "$WORK/mydumper" -t 2 -r 100000
    compression_rows "$db"
  done
done

# Best and median wall time of the rounds, MB/s of the median, the largest peak RSS; then each tool's median
# against mysqldump's.
printf '%-22s %-7s %10s %9s %9s %9s %10s %9s\n' TOOL DB "DUMP MB" "BEST s" "MEDIAN s" "MB/s" "PEAK MB" "vs mysqldump"
awk -F'\t' '
  $1 ~ /^(n24 native|mysqldump\|)/ { next }  # the compression rows have their own table below
  { k = $1 "\t" $2; if (!(k in n)) order[++m] = k; n[k]++; w[k, n[k]] = $4; if ($5 > r[k]) r[k] = $5; b[k] = $3 }
  function median(k,   i, j, t, c) {
    c = n[k]; for (i = 1; i <= c; i++) s[i] = w[k, i]
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
    return c % 2 ? s[(c + 1) / 2] : (s[c / 2] + s[c / 2 + 1]) / 2
  }
  END {
    for (i = 1; i <= m; i++) { k = order[i]; med[k] = median(k); best[k] = s[1] }
    for (i = 1; i <= m; i++) {
      k = order[i]; split(k, p, "\t"); ref = "mysqldump\t" p[2]
      printf "%-22s %-7s %10.1f %9.2f %9.2f %9.1f %10.1f %8.2fx\n", p[1], p[2], b[k] / 1e6, best[k], med[k], b[k] / 1e6 / med[k], r[k] / 1024, med[ref] / med[k]
    }
    # Throughput between the two sizes (the extra bytes over the extra median time): what each tool does per MB once
    # running, without its fixed cost (process start-up, connecting, loading modules) that the small table shows.
    printf "\n%-22s %16s %13s\n", "TOOL", "MB/s bsmall→bbig", "vs mysqldump"
    for (i = 1; i <= m; i++) {
      k = order[i]; split(k, p, "\t"); if (p[2] != "bbig" || !((p[1] "\tbsmall") in med)) continue
      ks = p[1] "\tbsmall"; dt = med[k] - med[ks]; if (dt <= 0) continue
      rate[p[1]] = (b[k] - b[ks]) / 1e6 / dt
    }
    for (i = 1; i <= m; i++) {
      k = order[i]; split(k, p, "\t"); if (p[2] != "bbig" || !(p[1] in rate)) continue
      printf "%-22s %16.1f %12.2fx\n", p[1], rate[p[1]], rate[p[1]] / rate["mysqldump"]
    }
    # Target (issue 18): the native uncompressed dump at >= 1.0x mydumper -t 2 (wall time, median) on the big database.
    my = med["mydumper (2 threads)\tbbig"]
    if (my) printf "\nbbig: mydumper -t 2 wall / native wall: auto %.2fx, -t2 %.2fx (target >= 1.0x)\n", my / med["onedump native\tbbig"], my / med["onedump native -t2\tbbig"]
  }' "$WORK/results.tsv"

# Compression: throughput as dump (SQL) MB per second of wall time, so compressed and uncompressed rows compare; the
# ratio is the SQL's size over the file's ("n24 native" is the SQL). Targets (issue 18): zstd >= 0.9x uncompressed
# native and >= 3x mysqldump|gzip -6, peak RSS < 200 MB.
printf '\n%-22s %-7s %10s %9s %11s %8s %10s\n' TOOL DB "FILE MB" "MEDIAN s" "SQL MB/s" "RATIO" "PEAK MB"
awk -F'\t' '
  $1 ~ /^(n24 native|mysqldump\|)/ { k = $1 "\t" $2; if (!(k in n)) order[++m] = k; n[k]++; w[k, n[k]] = $4; if ($5 > r[k]) r[k] = $5; b[k] = $3 }
  function median(k,   i, j, t, c) {
    c = n[k]; for (i = 1; i <= c; i++) s[i] = w[k, i]
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
    return c % 2 ? s[(c + 1) / 2] : (s[c / 2] + s[c / 2 + 1]) / 2
  }
  END {
    for (i = 1; i <= m; i++) med[order[i]] = median(order[i])
    for (i = 1; i <= m; i++) {
      k = order[i]; split(k, p, "\t"); sql = b["n24 native\t" p[2]]
      printf "%-22s %-7s %10.1f %9.2f %11.1f %7.2fx %10.1f\n", p[1], p[2], b[k] / 1e6, med[k], sql / 1e6 / med[k], sql / b[k], r[k] / 1024
    }
    for (d = 1; d <= 2; d++) {
      db = d == 1 ? "bsmall" : "bbig"; z = med["n24 native zstd\t" db]; if (!z) continue
      printf "\n%s: zstd-native / native-uncompressed %.2fx (target >= 0.9x); zstd-native / mysqldump|gzip -6 %.2fx (target >= 3x); gzip-native / mysqldump|gzip -6 %.2fx\n", db,
        med["n24 native\t" db] / z, med["mysqldump|gzip -6\t" db] / z, med["mysqldump|gzip -6\t" db] / med["n24 native gzip\t" db]
    }
  }' "$WORK/results.tsv"

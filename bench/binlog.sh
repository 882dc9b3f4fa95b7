#!/usr/bin/env bash
# Time to find the stop position for --stop-datetime in >= 500 MB of binlogs: onedump's native reader (CRC32
# verified) vs `mysqlbinlog --stop-datetime … > /dev/null`, on the same files, side by side.
# Needs mariadb-server and mariadb-client (mariadbd, mariadb-install-db, mariadb, mysqlbinlog). Run from the repo root.
set -euo pipefail
SIZE_MB=${SIZE_MB:-520}
cd "$(dirname "$0")/.."
base=$(mktemp -d /tmp/onedump-bench-binlog-XXXXXX)
datadir=$base/data; sock=$base/sock; bl=$base/binlog
mkdir -p "$datadir" "$bl"
asroot=()
if [ "$(id -u)" = 0 ]; then chown -R mysql:mysql "$base"; asroot=(--user=mysql); fi
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$base"; }
trap cleanup EXIT
mariadb-install-db --no-defaults --datadir="$datadir" --auth-root-authentication-method=normal --skip-test-db "${asroot[@]}" >/dev/null
mariadbd --no-defaults --datadir="$datadir" --socket="$sock" --skip-networking --log-bin="$bl/mysql-bin" --server-id=1 \
  --binlog-format=ROW --max-binlog-size=128M --innodb-buffer-pool-size=256M --innodb-log-file-size=256M \
  --log-error="$base/error.log" --pid-file="$base/pid" "${asroot[@]}" &
pid=$!
for _ in $(seq 60); do mariadb -uroot -S "$sock" -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
q() { mariadb -uroot -S "$sock" -e "$1"; }
q "CREATE DATABASE b; CREATE TABLE b.t (id INT PRIMARY KEY, v VARCHAR(1000)) ENGINE=InnoDB;"
T0=1800000000
rounds=$(( (SIZE_MB + 99) / 100 ))
echo "generating ~${SIZE_MB} MB of binlogs in $rounds rounds of 100k rows..."
for r in $(seq 0 $((rounds - 1))); do
  q "SET TIMESTAMP=$((T0 + r * 60)); USE b; INSERT INTO t SELECT seq + $((r * 100000)), REPEAT(CHAR(65 + $r % 26), 1000) FROM seq_1_to_100000;"
done
q "FLUSH BINARY LOGS"
total=$(du -cb "$bl"/mysql-bin.0* | tail -1 | cut -f1)
files=$(ls "$bl"/mysql-bin.0* | wc -l)
# Stop at the last round: both tools must read almost everything.
STOP=$((T0 + (rounds - 1) * 60))
STOP_TXT=$(TZ=UTC date -d "@$STOP" '+%Y-%m-%d %H:%M:%S')
echo "binlogs: $files files, $((total / 1048576)) MB; stop at $STOP_TXT UTC"
cat "$bl"/mysql-bin.0* > /dev/null # warm the page cache for both

s=$(date +%s.%N)
ours=$(node --import tsx bench/binlog-stop.ts "$bl" mysql-bin.000001 "$STOP")
e=$(date +%s.%N)
ours_s=$(echo "$e - $s" | bc)

s=$(date +%s.%N)
TZ=UTC mysqlbinlog --stop-datetime="$STOP_TXT" "$bl"/mysql-bin.0* > /dev/null
e=$(date +%s.%N)
theirs_s=$(echo "$e - $s" | bc)

printf '%-44s %8s\n' tool seconds
printf '%-44s %8.2f   %s\n' "onedump native reader (incl. node start-up)" "$ours_s" "$ours"
printf '%-44s %8.2f\n' "mysqlbinlog --stop-datetime > /dev/null" "$theirs_s"
printf 'ratio mysqlbinlog / onedump: %.2fx\n' "$(echo "$theirs_s / $ours_s" | bc -l)"

#!/usr/bin/env bash
# The sync test's 300-file folder (0 B to 50 MB, nested, unicode names; ~95 MB) sent by `onedump sync` and by
# `rclone copy` to a local OpenSSH sshd (SFTP) and to a local s3rver (S3), side by side: MB/s and ratio.
# Each tool runs RUNS times per destination into a fresh folder; the best run counts. onedump runs as the single
# executable users download (dist/onedump, built here by scripts/build-binary.sh; BUNDLE=1 runs the esbuild bundle
# with the current node instead). Two figures for onedump: wall time including start-up (about 0.16 s for the
# executable, 0.26 s for the bundle on Node 20) and the transfer alone (duration_ms of --json: listing, planning and
# sending), against rclone's wall time. rclone's SFTP backend also hashes every file on the server with
# md5sum over SSH by default, so it is measured both ways (default, and --sftp-disable-hashcheck).
# Needs openssh-server, rclone, and the dev dependencies (s3rver). Run from the repo root.
# ONLY=s3 or ONLY=sftp measures one destination.
set -euo pipefail
RUNS=${RUNS:-3}
ONLY=${ONLY:-}
PARALLEL=${PARALLEL:-10}
cd "$(dirname "$0")/.."
base=$(mktemp -d /tmp/onedump-bench-sync-XXXXXX)
tree=$base/tree
info=$base/servers.json
if [ -n "${BUNDLE:-}" ]; then
  npx esbuild src/cli/onedump.ts --bundle --platform=node --target=node20 --format=cjs \
    --inject:scripts/import-meta-url-shim.js --define:import.meta.url=importMetaUrl --loader:.node=empty \
    --outfile="$base/onedump.cjs" --log-level=error
  od=(node "$base/onedump.cjs")
else
  bash scripts/build-binary.sh
  od=("$PWD/dist/onedump")
fi
node --import tsx bench/sync-servers.ts "$tree" > "$info" &
spid=$!
cleanup() { kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true; rm -rf "$base"; }
trap cleanup EXIT
for _ in $(seq 120); do [ -s "$info" ] && break; sleep 0.5; done
[ -s "$info" ] || { echo "servers did not start" >&2; exit 1; }
get() { node -e "process.stdout.write(String(JSON.parse(require('fs').readFileSync('$info','utf8')).$1))"; }
port=$(get port); user=$(get user); key=$(get key); kh=$(get knownHosts); dir=$(get dir); ep=$(get endpoint)
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
files=$(find "$tree" -type f | wc -l)
echo "tree: $files files, $((bytes / 1048576)) MB; $RUNS runs each, best counts; onedump --parallel $PARALLEL, run as: ${od[*]}"

export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
export RCLONE_CONFIG_BSFTP_TYPE=sftp RCLONE_CONFIG_BSFTP_HOST=127.0.0.1 RCLONE_CONFIG_BSFTP_PORT=$port \
  RCLONE_CONFIG_BSFTP_USER=$user RCLONE_CONFIG_BSFTP_KEY_FILE=$key \
  RCLONE_CONFIG_BS3_TYPE=s3 RCLONE_CONFIG_BS3_PROVIDER=Other RCLONE_CONFIG_BS3_ENDPOINT=$ep \
  RCLONE_CONFIG_BS3_ACCESS_KEY_ID=S3RVER RCLONE_CONFIG_BS3_SECRET_ACCESS_KEY=S3RVER RCLONE_CONFIG_BS3_FORCE_PATH_STYLE=true \
  RCLONE_CONFIG_BS3_REGION=us-east-1
s3q="endpoint=$(node -p "encodeURIComponent('$ep')")&forcepathstyle=true&checksums=when_required&region=us-east-1"

xfer=$base/xfer
best() { # best wall time in seconds of RUNS runs of "$@" (the run number appended); onedump's best transfer time in $xfer
  local b="" x=""
  for r in $(seq "$RUNS"); do
    local s e t
    s=$(date +%s.%N)
    "$@" "$r" >"$base/out" 2>"$base/err" || { cat "$base/err" >&2; exit 1; }
    e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
    if grep -q duration_ms "$base/out"; then
      local d
      d=$(node -e "process.stdout.write(String(JSON.parse(require('fs').readFileSync('$base/out','utf8')).duration_ms/1000))")
      if [ -z "$x" ] || [ "$(echo "$d < $x" | bc -l)" = 1 ]; then x=$d; fi
    fi
  done
  echo "$x" > "$xfer"
  echo "$b"
}
od_sftp() { "${od[@]}" sync "$tree" "sftp://$user@127.0.0.1:$port$dir/od-$1/?sshknownhosts=$kh" -r --parallel "$PARALLEL" --ssh-key "$key" --json; }
rc_sftp() { env -u AWS_CA_BUNDLE rclone copy "$tree" "bsftp:$dir/rc-$1"; }
rc_sftp_nh() { env -u AWS_CA_BUNDLE rclone copy --sftp-disable-hashcheck "$tree" "bsftp:$dir/rcnh-$1"; }
od_s3() { "${od[@]}" sync "$tree" "s3://bench/od-$1/?$s3q" -r --parallel "$PARALLEL" --json; }
rc_s3() { env -u AWS_CA_BUNDLE rclone copy "$tree" "bs3:bench/rc-$1"; }

mbs() { echo "scale=1; $bytes / 1048576 / $1" | bc -l; }
row() { printf '%-34s %8.2f s %8s MB/s\n' "$1" "$2" "$(mbs "$2")"; }
ratio() { printf '  onedump / %-22s %6.2fx\n' "$1" "$(echo "$3 / $2" | bc -l)"; }

if [ "$ONLY" != s3 ]; then
echo "== SFTP (OpenSSH sshd on loopback)"
t1=$(best od_sftp); x1=$(cat "$xfer"); row "onedump sync (wall)" "$t1"; row "onedump sync (transfer)" "$x1"
t2=$(best rc_sftp); row "rclone copy" "$t2"
t3=$(best rc_sftp_nh); row "rclone copy --sftp-disable-hashcheck" "$t3"
ratio "rclone copy (wall)" "$t1" "$t2"
ratio "rclone nohash (wall)" "$t1" "$t3"
ratio "rclone nohash (xfer)" "$x1" "$t3"
fi
if [ "$ONLY" != sftp ]; then
echo "== S3 (s3rver on loopback)"
t4=$(best od_s3); x4=$(cat "$xfer"); row "onedump sync (wall)" "$t4"; row "onedump sync (transfer)" "$x4"
t5=$(best rc_s3); row "rclone copy" "$t5"
ratio "rclone copy (wall)" "$t4" "$t5"
ratio "rclone copy (xfer)" "$x4" "$t5"
fi

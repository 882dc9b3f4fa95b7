#!/usr/bin/env bash
# Upload throughput of onedump's sftp and s3 storages next to OpenSSH sftp/scp and rclone, on local servers.
# Usage: bench/upload.sh [SIZE_MIB=1024] [RUNS=2]    Needs: openssh-server, openssh-client, rclone.
set -euo pipefail
cd "$(dirname "$0")/.."
for bin in sshd sftp scp rclone; do
  command -v "$bin" >/dev/null || [ -x "/usr/sbin/$bin" ] || { echo "bench/upload.sh: $bin is not installed (apt-get install openssh-server openssh-client rclone)" >&2; exit 1; }
done
# The V8 flags the single executable and the Docker image start with (development.md, DESIGN-notes); NODE_FLAGS= to run without.
exec node ${NODE_FLAGS---initial-old-space-size=96 --max-semi-space-size=4} --import tsx bench/upload.ts "$@"

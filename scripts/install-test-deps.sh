#!/usr/bin/env bash
# Installs the Debian packages the tests start or call (run as root): database servers and clients, OpenSSH for the
# SFTP/SSH tests, pt-query-digest for the slow-log comparison, age (decrypts encrypted backups in the tests), zstd (the
# tests check that the zstd tool reads onedump's .zst backups), the peer tools bench/ measures against, and a real
# Prometheus Pushgateway and node-exporter for the one-shot metrics tests, zsh and fish (the completion scripts are
# loaded into them).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(mariadb-server mariadb-client postgresql postgresql-client openssh-server openssh-client
      percona-toolkit pigz zstd rclone mydumper time procps age
      prometheus-pushgateway prometheus-node-exporter zsh fish)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

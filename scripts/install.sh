#!/usr/bin/env bash
# Installs berth on Debian 12 (as root): Debian packages, npm packages (building the native
# addon and the container monitor), the TypeScript build, the `berth`/`berthd` commands in
# /usr/local/bin, and the busybox:latest image built from Debian's busybox-static.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
if [ "$(id -u)" != 0 ]; then
  echo "berth: install as root" >&2
  exit 1
fi
bash scripts/install-deps.sh
npm ci --no-audit --no-fund
npm run build
# the native launcher itself: no shell in front of every command (bin/berth is the same)
ln -sf "$repo/build/Release/berth-cli" /usr/local/bin/berth
ln -sf "$repo/bin/berthd" /usr/local/bin/berthd
berth image bootstrap busybox

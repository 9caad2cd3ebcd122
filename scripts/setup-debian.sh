#!/usr/bin/env bash
# Installs what isolab needs on Debian 12 and builds the project. Safe to repeat.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential   # gcc and libc.a for the native helper and static workloads
  busybox-static    # the minimal root filesystem for containers
  crun runc         # peers for bench/container-run
  stress-ng
  iproute2          # ip -batch for bridges and veth pairs
  nftables          # forward-drop and published-port rules
  util-linux        # nsenter, to configure a container's network namespace
  default-jre-headless  # Java for allure-commandline (`npm run report`)
)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund

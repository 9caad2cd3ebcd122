#!/usr/bin/env bash
# Installs what isolab needs on Debian 12 and builds the project. Safe to repeat.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential   # gcc and libc.a for the native helper and static workloads
  busybox-static    # the minimal root filesystem for containers
  crun runc         # peers for bench/container-run
  iproute2          # ip -batch for bridges and veth pairs
  nftables          # forward-drop and published-port rules
  util-linux        # nsenter, to configure a container's network namespace
  default-jre-headless  # Java for allure-commandline (`npm run report`)
  qemu-system-x86   # the disposable VMs of vm/ (QEMU with TCG or KVM)
  openssh-server    # the guest's sshd, run from the shared host root (never started on the host)
  kmod              # depmod for fetched kernels, and modprobe inside the guest
  xz-utils zstd     # unpack the kernels (xz: 5.10 and 6.1, zstd: 6.12) and xz modules
)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  apt-get update -qq
  # openssh-server must not start an sshd on the host: a policy-rc.d that
  # exits 101 tells the package scripts not to start services.
  policy=/usr/sbin/policy-rc.d
  made_policy=false
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    made_policy=true
    trap 'rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if $made_policy; then rm -f "$policy"; trap - EXIT; fi
fi

npm ci --no-audit --no-fund

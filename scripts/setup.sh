#!/usr/bin/env bash
# Installs the Debian packages Sluice needs to build, test and demo, only when missing.
# Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail

packages=(
  pkg-config
  libnftnl-dev libmnl-dev libipset-dev   # the C libraries Sluice links
  nftables                               # `nft` for round-trip tests and `sluice diff` checks
  iptables ipset conntrack               # comparison benchmarks, UDP conntrack cleanup
  iproute2 kmod procps                   # network namespaces, veth pairs in tests
  python3                                # the small TCP listeners and clients of packet tests
  qemu-system-x86 busybox-static         # the IPVS tests boot a Debian kernel (Tests/vm/run.sh)
  ipvsadm                                # IPVS readback cross-check and the ipvsadm --restore figure
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

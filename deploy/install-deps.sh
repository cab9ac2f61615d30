#!/usr/bin/env bash
# Install everything bypass needs to build, test and run its demo, from
# Debian's packages.  Idempotent; run as root on Debian 12.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "install-deps: run as root (sudo $0)" >&2; exit 1; }

PKGS=(
	build-essential cmake pkg-config
	libdpdk-dev dpdk libnuma-dev libev-dev libprotobuf-c-dev protobuf-c-compiler
	libcriterion-dev
	iproute2 ethtool iputils-ping netcat-openbsd socat curl python3 procps bc
)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PKGS[@]} packages present"
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"

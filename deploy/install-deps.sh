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
	redis-server redis-tools memcached nginx-light wrk
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
# redis, memcached and nginx are test subjects, not services of this host:
# keep their packages from starting system daemons (Debian's policy-rc.d)
added_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	added_policy=1
fi
rc=0
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
[ "$added_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
[ "$rc" -eq 0 ] || { echo "install-deps: apt-get install failed ($rc)" >&2; exit "$rc"; }
echo "install-deps: done"

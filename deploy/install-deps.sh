#!/usr/bin/env bash
# Install everything bypass needs to build, test and run its demo, from
# Debian's packages.  Idempotent; run as root on Debian 12.
set -euo pipefail
usage() {
	cat <<EOF
usage: $0 [-h|--help]

Install, with apt-get, the Debian 12 packages bypass needs to build, test
and run its demo (compilers, DPDK, protobuf-c, criterion, the test and
benchmark tools).  Packages already installed are left alone, and one the
apt sources do not have is skipped with a warning.  The services some of
them bring (redis, memcached, nginx, prometheus) are kept from starting,
or stopped and disabled.  Run as root: sudo $0
EOF
}
if [ $# -gt 0 ]; then
	case "$1" in
	-h | --help)
		[ $# -gt 1 ] || { usage; exit 0; }
		shift
		;;
	esac
	echo "install-deps: unknown argument '$1' (it takes only -h or --help)" >&2
	usage >&2
	exit 2
fi
[ "$(id -u)" -eq 0 ] || { echo "install-deps: run as root (sudo $0)" >&2; exit 1; }

PKGS=(
	build-essential cmake pkg-config
	libdpdk-dev dpdk libnuma-dev libev-dev libprotobuf-c-dev protobuf-c-compiler
	libcriterion-dev
	# libdpdk-dev's own -dev dependencies, named so a trimmed mirror fails early
	libbsd-dev libpcap-dev libelf-dev libbpf-dev libxdp-dev
	iproute2 ethtool iputils-ping netcat-openbsd socat curl python3 procps bc util-linux
	kmod iperf3 # modprobe vfio-pci for a real NIC; iperf3 for measuring by hand
	# real programs the socket-shim tests run over bypass, and their load tools
	redis-server redis-tools memcached nginx-light wrk libmemcached-tools
	# bench/run.sh: plots and the profiles in its report; tcpdump for debugging by hand
	gnuplot-nox linux-perf tcpdump
	# hostile-peer tests: crafted packets, the peer kernel's own RSTs
	# dropped, a second real uid, the stuck-close mix (ab)
	python3-scapy iptables passwd apache2-utils
	# bypassctl capture's test: its pcapng must open in Wireshark's reader
	tshark
	# promtool (in Debian's prometheus package): test_metrics.sh runs
	# `promtool check metrics` on bypassctl metrics and GET /metrics (the
	# issue's check; prom_check.py stays as the fallback where it is
	# missing).  Its server is kept from starting like redis's, below.
	prometheus
	# fuzzers (tests/fuzz): clang's libFuzzer and sanitizer runtimes
	clang libclang-rt-14-dev llvm
	# bench/rpc_compare.sh's gRPC baseline (bench/grpc, issue 13): gRPC C++,
	# protoc and its gRPC plugin (g++ comes with build-essential)
	libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
)
# package -> the system service its postinst starts (and enables)
declare -A SERVICE=([redis-server]=redis-server [memcached]=memcached [nginx-light]=nginx
	[prometheus]=prometheus)
# service -> pidfiles its init script writes, and the process name behind them
declare -A PIDFILES=(
	[redis-server]="/run/redis/redis-server.pid"
	[memcached]="/run/memcached/memcached.pid /run/memcached.pid"
	[nginx]="/run/nginx.pid"
	[prometheus]="/run/prometheus/prometheus.pid /run/prometheus.pid"
)
declare -A COMM=([redis-server]=redis-server [memcached]=memcached [nginx]=nginx
	[prometheus]=prometheus)

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

# a package this system's sources do not have is skipped with a warning (the
# build or the test that needs it then says what is missing)
avail=()
for p in "${missing[@]}"; do
	policy=$(apt-cache policy "$p" 2>/dev/null || true)
	if grep -q 'Candidate: [^(]' <<<"$policy"; then
		avail+=("$p")
	else
		echo "install-deps: warning: no package $p in the apt sources, skipping it" >&2
	fi
done
missing=(${avail[@]+"${avail[@]}"})
[ ${#missing[@]} -gt 0 ] || { echo "install-deps: nothing installable"; exit 0; }

# redis, memcached, nginx and prometheus are test subjects or tools, not services of this host:
# keep their packages from starting system daemons while they install
# (Debian's policy-rc.d: exit 101 = action forbidden).  Ours only, and
# removed however this script ends.
added_policy=0
remove_policy() { [ "$added_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; added_policy=0; }
trap remove_policy EXIT
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	added_policy=1
fi
rc=0
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
remove_policy
[ "$rc" -eq 0 ] || { echo "install-deps: apt-get install failed ($rc)" >&2; exit "$rc"; }

# stop_pidfile SERVICE: stop what the package's init script started, by
# the PID in its pidfile, and only if that PID is still that program
stop_pidfile() {
	local svc=$1 f pid
	for f in ${PIDFILES[$svc]}; do
		[ -s "$f" ] || continue
		pid=$(tr -dc '0-9' <"$f")
		[ -n "$pid" ] || continue
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "${COMM[$svc]}" ] || continue
		echo "install-deps: stopping $svc (pid $pid, started by its package)"
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
		rm -f "$f"
	done
}

# The packages we just installed also enabled their services.  If a service
# started anyway (a policy-rc.d that was already there allowed it): under
# systemd, disable and stop it; without systemd (containers), stop the
# daemon its postinst started.
for p in "${missing[@]}"; do
	svc=${SERVICE[$p]:-}
	[ -n "$svc" ] || continue
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		systemctl disable --now "$svc" >/dev/null 2>&1 ||
			echo "install-deps: warning: could not disable $svc" >&2
	else
		stop_pidfile "$svc"
	fi
done
echo "install-deps: done"

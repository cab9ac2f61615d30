#!/usr/bin/env bash
# fastpathd on net_af_xdp (the kernel's XDP socket on a veth) against the
# Linux TCP stack: bulk both ways byte-exact, then connection churn long
# enough to cycle every buffer of the pool through the XDP rings.  (A pool
# laid out one buffer per page put half the buffers outside the UMEM the PMD
# registers; the first of them stalled transmit for good after ~3,600
# connections.)
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_topo_up bpixdp 30
BP_FP_PORT="net_af_xdp0,iface=$BP_DEV"
bp_start_fastpathd
grep -q "fastpathd: ready port=net_af_xdp" "$BP_FP_LOG" || bp_die "fastpathd is not on net_af_xdp: $(cat "$BP_FP_LOG")"
bp_make_tmp
dir=$BP_TMP

# 1. 64 MiB each way, sha256-checked
head -c 64M /dev/urandom >"$dir/in"
bp_bulk_both_ways "$dir/in" 5001
echo "ok: 64 MiB each way over net_af_xdp"

# 2. churn: 40,000 connections (~280,000 frames, 17x the pool)
bp_bg env BYPASS_SOCKET="$BYPASS_SOCKET" "$BP_BUILD/bench/bp_echo_srv" --stack bypass -p 7000 >"$dir/srv.log" 2>&1
bp_wait_listening "$dir/srv.log"
bp_peer sysctl -qw net.ipv4.tcp_tw_reuse=1
want_conns=40000
out=$(bp_peer timeout -k 5 120 "$BP_BUILD/bench/bp_load" --stack linux --server "$BP_IP" --port 7000 \
	--conns 16 --count "$want_conns" --duration 100 --warmup 0 --connect-timeout 10 cps) ||
	bp_die "bp_load cps failed: $out"
got=$(echo "$out" | cut -d, -f7)
fails=$(echo "$out" | cut -d, -f16)
bp_log "cps: $out"
bp_log "pool: $(bp_stat status mbufs_available) of $(bp_stat status mbufs_total) buffers free; tx_packets $(bp_stat status tx_packets)"
[ "$got" -ge "$want_conns" ] || bp_die "only $got of $want_conns connections completed within 100 s (transmit stalled?)"
[ "$fails" = 0 ] || bp_die "$fails connections failed"
[ "$(bp_stat status port_tx_errors)" = 0 ] || bp_die "the PMD dropped $(bp_stat status port_tx_errors) frames on transmit"
echo "PASS: net_af_xdp: bulk both ways byte-exact; $got connections, $(echo "$out" | cut -d, -f8) per s"

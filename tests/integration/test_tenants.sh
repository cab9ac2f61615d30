#!/usr/bin/env bash
# Tenants ([tenant NAME] sections), with real processes under two real uids
# (bptn1 in tenant t1, bptn2 in tenant t2; root is in t1 too) and a real
# Linux peer:
#  a) the control socket is root:bptn 0660 ([daemon] socket_group); a uid
#     no tenant lists is refused (EACCES, [tenants] unknown = refuse)
#  b) t2 cannot listen on port 80 nor on a port it was not granted, cannot
#     join t1's shared listener, cannot adopt t1's connection: EACCES each,
#     through the shim (Python sees OSError) or libbypass, and counted
#  c) t2 at max_flows gets ENOBUFS, at max_apps EMFILE, while t1 still
#     attaches and connects to the Linux peer
#  d) SIGHUP raising t2's max_flows lets it connect, its connections intact;
#     an invalid file (SIGHUP or bypassctl config reload) changes nothing;
#     a reload taking a port from t2 refuses new connections to its
#     listener there (connections it has stay), and giving it back
#     restores them; an app's own connection may not change tenants
#  e) removing t2 resets its flows, disconnects its apps and drops its RPC
#     call counts from bypassctl rpc
#  f) a new tenant t4, on t2's freed id, starts every count from zero
set -euo pipefail
# shellcheck source=tests/integration/shim_lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/shim_lib.sh"
bp_need_root
[ -f "$SHIM" ] || bp_die "shim not built: $SHIM"
case "$(ldd "$SHIM" 2>/dev/null)" in *libasan*)
	bp_die "a sanitizer build's shim cannot be preloaded into python: run this test on a normal build (ctest -LE shim skips it)" ;;
esac
HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT=$HERE/tenant_client.py
TOOL=$BP_BUILD/tests/bp_owner
CTL=$BP_BUILD/cli/bypassctl
# the users cannot run root's python (pyenv shims under /root)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
[ -x "$TOOL" ] || bp_die "no $TOOL: build first"

cleanup_users() {
	userdel bptn1 2>/dev/null || true
	userdel bptn2 2>/dev/null || true
	groupdel bptn 2>/dev/null || true
}
# bp_cleanup exits, so the users go first: after our processes (some run as
# them) are stopped, and with the test's exit status kept for bp_cleanup
finish() {
	local rc=$?
	set +e # a failed step, or (exit 1) below, would end the trap here
	bp_stop_all || rc=1
	cleanup_users
	(exit "$rc")
	bp_cleanup
}
trap finish EXIT
cleanup_users
groupadd -r bptn || bp_die "groupadd bptn failed"
useradd -r -M -s /usr/sbin/nologin -G bptn bptn1 || bp_die "useradd bptn1 failed"
useradd -r -M -s /usr/sbin/nologin -G bptn bptn2 || bp_die "useradd bptn2 failed"
G=$(getent group bptn | cut -d: -f3)
U1=$(id -u bptn1)
U2=$(id -u bptn2)
bp_make_tmp
dir=$BP_TMP
chmod 755 "$dir"
chmod 755 "$HERE" 2>/dev/null || true

# write_conf MAXFLOWS2 [WITH_T2] [WITH_T4] [T2_PORTS]
write_conf() {
	cat >"$dir/fp.conf.new" <<EOC
[daemon]
socket_group = bptn
[tcp]
time_wait_ms = 100
[tenants]
unknown = refuse
[tenant t1]
uids = bptn1, root
listen_ports = 7402, 7501-7509
EOC
	[ "${2:-1}" = 1 ] && cat >>"$dir/fp.conf.new" <<EOC
[tenant t2]
uids = bptn2
listen_ports = ${4:-7402, 7510-7519}
connect = 198.18.0.0/15
max_apps = 2
max_flows = $1
rate = 200mbit
EOC
	[ "${3:-0}" = 1 ] && cat >>"$dir/fp.conf.new" <<EOC
[tenant t4]
uids = bptn2
listen_ports = 7520
EOC
	mv "$dir/fp.conf.new" "$dir/fp.conf"
}
write_conf 3

bp_topo_up bptenant 150
BP_FP_ARGS=(--config "$dir/fp.conf")
bp_start_fastpathd
sock=$BYPASS_SOCKET
# a uid's process in the bypass namespace: primary group bptn, no others
as_u() { local u=$1; shift; ip netns exec "$BP_NS_DP" setpriv --reuid="$u" --regid="$G" --clear-groups "$@"; }
shim_as() { local u=$1; shift; as_u "$u" env LD_PRELOAD="$SHIM" BYPASS_SOCKET="$sock" timeout 60 "$PY" "$CLIENT" "$@"; }
tenant_line() { "$CTL" status | awk -v t="$1" '$1 == "tenant" && $2 == t'; }
denied() { bp_stat stats "tenant.$1.denied_$2" 0; }

bp_bg bp_peer python3 "$(dirname "$0")/peer_echo.py" 7401
bp_wait_peer_listen 7401

# ---------------------------------------------------------------- (a)
bp_log "(a) socket group and unknown callers"
perm=$(stat -c '%U:%G %a' "$sock")
echo "  control socket: $perm"
[ "$perm" = "root:bptn 660" ] || bp_die "socket_group: the socket is $perm, want root:bptn 660"
out=$(as_u 65534 "$PY" "$CLIENT" attach "$sock" 1 0) || bp_die "attach as nobody failed: $out"
echo "  uid 65534 (no tenant): $out"
[ "$out" = "attach 0 EACCES" ] || bp_die "an unknown uid was not refused with EACCES: $out"
out=$(as_u "$U1" "$PY" "$CLIENT" attach "$sock" 1 0)
[ "$out" = "attach 0 0" ] || bp_die "bptn1 (tenant t1, through the group) could not attach: $out"
tenant_line default | grep -q "refused=1" || bp_die "the refusal was not counted: $(tenant_line default)"
echo "ok: (a) root:bptn 0660; unknown uid refused with EACCES and counted"

# ---------------------------------------------------------------- (b)
bp_log "(b) authorization"
# the kernel would refuse port 80 to a non-root uid itself; let it, so the
# refusal seen is the daemon's
ip netns exec "$BP_NS_DP" sysctl -qw net.ipv4.ip_unprivileged_port_start=0
for p in 80 7505; do
	out=$(shim_as "$U2" listen "$p" 2)
	echo "  bptn2 listen $p: $out"
	[ "$out" = "listen $p EACCES" ] || bp_die "t2 listening on $p: $out (want EACCES)"
done
out=$(shim_as "$U2" listen 7512 1)
[ "$out" = "listen 7512 ok" ] || bp_die "t2 could not listen on its own port 7512: $out"
[ "$(denied t2 port)" -ge 2 ] || bp_die "port denials not counted: $("$CTL" stats | grep tenant.t2)"
# t1's shared listener (the shim always shares, presenting its kernel socket)
shim_as "$U1" listen 7402 8 >"$dir/t1_listen.log" 2>&1 &
t1l=$!
BP_PIDS+=("$t1l")
for i in $(seq 50); do [ "$(tenant_line t1 | awk '{print $6}' | cut -d/ -f1)" != "" ] && \
	"$CTL" stats | grep -q "^tenant.t1.apps [1-9]" && break; sleep 0.1; done
sleep 1
out=$(shim_as "$U2" listen 7402 2)
echo "  bptn2 joining t1's listener on 7402: $out"
[ "$out" = "listen 7402 EACCES" ] || bp_die "t2 joined t1's shared listener: $out"
[ "$(denied t2 join)" -ge 1 ] || bp_die "the join denial was not counted"
wait "$t1l" || true
# adoption: root (t1) owns a connection, bptn2 knows its key
"$TOOL" adopt-test "$BP_PEER_IP" 7401 "$U2" "$G" >"$dir/adopt.log" 2>&1 ||
	bp_die "adopt-test failed: $(cat "$dir/adopt.log")"
grep "uid $U2 " "$dir/adopt.log" | sed 's/^/  /'
grep -q "uid $U2 pid [0-9]* adopt: Permission denied" "$dir/adopt.log" ||
	bp_die "t2 adopting t1's connection did not get EACCES: $(cat "$dir/adopt.log")"
[ "$(denied t2 adopt)" -ge 1 ] || bp_die "the adopt denial was not counted"
# t2 may connect only into 198.18.0.0/15; 10.9.8.7 has no route (no gateway):
# t1 gets ENETUNREACH, t2 EACCES, which is checked first
out=$(shim_as "$U2" echo 10.9.8.7 7401)
echo "  bptn2 connecting to 10.9.8.7: $out"
[ "$out" = "echo EACCES" ] || bp_die "t2 connected outside its CIDRs: $out"
out=$(shim_as "$U1" echo 10.9.8.7 7401)
[ "$out" != "echo EACCES" ] || bp_die "t1 (no connect limit) got EACCES: $out"
[ "$(denied t2 connect)" -ge 1 ] || bp_die "the connect denial was not counted"
echo "ok: (b) port 80, an ungranted port, t1's listener, t1's connection, a CIDR: EACCES, counted"

# ---------------------------------------------------------------- (c) (d)
bp_log "(c) quotas"
rm -f "$dir/go"
shim_as "$U2" conns "$BP_PEER_IP" 7401 10 "$dir/go" >"$dir/t2_conns.log" 2>&1 &
t2c=$!
BP_PIDS+=("$t2c")
for i in $(seq 100); do grep -q opened "$dir/t2_conns.log" && break; sleep 0.1; done
out=$(head -1 "$dir/t2_conns.log")
echo "  t2 (max_flows 3): $out"
[ "$out" = "opened 3 ENOBUFS" ] || bp_die "t2 at max_flows: $out (want 3 then ENOBUFS)"
# t2's one app is attached; its max_apps is 2
out=$(as_u "$U2" "$PY" "$CLIENT" attach "$sock" 2 0 | tr '\n' ' ')
echo "  t2 (max_apps 2, 1 attached) attaching twice: $out"
[ "$out" = "attach 0 0 attach 1 EMFILE " ] || bp_die "t2 at max_apps: $out"
[ "$(denied t2 apps)" -ge 1 ] && [ "$(denied t2 flows)" -ge 1 ] ||
	bp_die "quota denials not counted: $("$CTL" stats | grep tenant.t2)"
out=$(shim_as "$U1" echo "$BP_PEER_IP" 7401)
[ "$out" = "echo ok" ] || bp_die "t1 could not connect while t2 is at its limits: $out"
out=$(as_u "$U1" "$PY" "$CLIENT" attach "$sock" 3 0 | tr '\n' ' ')
[ "$out" = "attach 0 0 attach 1 0 attach 2 0 " ] || bp_die "t1 could not attach: $out"
tenant_line t2 | sed 's/^/  /'
echo "ok: (c) t2 gets ENOBUFS and EMFILE at its quotas; t1 attaches and connects"

bp_log "(d) live reload"
cp "$dir/fp.conf" "$dir/fp.conf.good"
printf '[tenant t3]\nweight = 0\n' >>"$dir/fp.conf"
kill -HUP "$BP_FP_PID"
for i in $(seq 50); do grep -q "reload:.*weight" "$BP_FP_LOG" && break; sleep 0.1; done
grep "reload:" "$BP_FP_LOG" | tail -1 | sed 's/^/  /'
grep -q "reload:.*\[tenant t3\] weight.*keeping the previous" "$BP_FP_LOG" ||
	bp_die "an invalid reload was not refused with its field named"
if out=$("$CTL" config reload 2>&1); then bp_die "bypassctl config reload accepted a bad file"; fi
echo "  bypassctl config reload: $out"
echo "$out" | grep -q "\[tenant t3\] weight" || bp_die "config reload's error does not name the field"
tenant_line t2 | grep -q "flows 3/3" || bp_die "the invalid reload changed t2: $(tenant_line t2)"
write_conf 5
kill -HUP "$BP_FP_PID"
for i in $(seq 50); do tenant_line t2 | grep -q "flows 3/5" && break; sleep 0.1; done
tenant_line t2 | grep -q "flows 3/5" || bp_die "SIGHUP did not raise t2's max_flows: $(tenant_line t2)"
touch "$dir/go"
wait "$t2c" || true
out=$(tail -1 "$dir/t2_conns.log")
echo "  t2 after the reload: $out"
[ "$out" = "after-go ok 4" ] || bp_die "after raising max_flows: $out (want a 4th connection, all echoing)"
# a port taken from t2 by a reload: its listener there takes no new
# connection (refused, as if nobody listened) until the port is granted again
bp_bg as_u "$U2" env BYPASS_SOCKET="$sock" "$BP_BUILD/rpc/rpc_bench" server --stack bypass-msg \
	-p 7511 >"$dir/t2_7511.log" 2>&1
t2l=$BP_LAST_PID
bp_wait_listening "$dir/t2_7511.log"
peer_connects() { bp_peer timeout 5 bash -c "exec 3<>/dev/tcp/$BP_IP/$1" 2>/dev/null; }
peer_connects 7511 || bp_die "the peer cannot connect to t2's listener on 7511"
write_conf 5 1 0 "7402, 7510"
"$CTL" config reload >/dev/null || bp_die "bypassctl config reload refused taking 7511 from t2"
grep -q "tenant t2 no longer grants port 7511" "$BP_FP_LOG" ||
	bp_die "the reload did not say t2's listener on 7511 lost its grant"
if peer_connects 7511; then bp_die "t2's listener on 7511 still takes connections after the reload"; fi
write_conf 5
"$CTL" config reload >/dev/null || bp_die "bypassctl config reload refused giving 7511 back"
peer_connects 7511 || bp_die "t2's listener on 7511 takes no connection once the port is granted again"
bp_stop_pid "$t2l"
echo "  a reload taking 7511 from t2 refused new connections to its listener there; giving it back restored them"
# root may change tenants, but not on an attached app's own connection
# (deleting its own tenant t1 would end that connection mid-request)
for q in "del t1" reload; do
	# shellcheck disable=SC2086 # two words: the request and its tenant
	out=$("$PY" "$CLIENT" app-admin "$sock" $q)
	[ "$out" = "app-admin EPERM" ] || bp_die "root's app asked to $q on its own connection: $out"
done
[ -n "$(tenant_line t1)" ] || bp_die "t1 is gone after its app asked to delete it"
echo "ok: (d) a bad file changes nothing; SIGHUP raises the quota, connections intact;" \
	"an app's own connection may not change tenants"

# ---------------------------------------------------------------- (e)
bp_log "(e) removing a tenant"
# (d)'s app has exited: its 4 connections close with a FIN exchange each
# before they leave t2's count, and this app needs 2 of the 5
for i in $(seq 100); do tenant_line t2 | grep -q " flows 0/" && break; sleep 0.1; done
tenant_line t2 | grep -q " flows 0/" || bp_die "(d)'s connections still count: $(tenant_line t2)"
t2tx=$(bp_stat stats tenant.t2.tx_bytes)
t2id=$(bp_stat stats tenant.t2.id)
[ "$t2tx" -gt 0 ] 2>/dev/null || bp_die "t2 sent nothing so far: tx_bytes $t2tx"
[ "$(bp_stat stats tenant.t2.denied)" -gt 0 ] || bp_die "t2 was refused nothing so far"
# t2 serves RPC sessions framed by fastpathd, so it has calls counted per
# method; they must go with it
bp_bg as_u "$U2" env BYPASS_SOCKET="$sock" "$BP_BUILD/rpc/rpc_bench" server --stack bypass-msg \
	-p 7510 >"$dir/t2_rpc.log" 2>&1
bp_wait_listening "$dir/t2_rpc.log"
bp_peer timeout 30 "$BP_BUILD/rpc/rpc_bench" client --stack kernel --server "$BP_IP" -p 7510 \
	--conns 1 --duration 0.3 --warmup 0 >"$dir/t2_rpcc.log" 2>&1 ||
	bp_die "rpc_bench against t2's server: $(cat "$dir/t2_rpcc.log")"
rpc_rows() { "$CTL" rpc --json | python3 -c 'import json,sys
print(sum(1 for e in json.load(sys.stdin).get("methods", []) if e["tenant"] == sys.argv[1]))' "$1"; }
[ "$(rpc_rows t2)" -ge 1 ] || bp_die "t2's RPC calls are not in bypassctl rpc: $("$CTL" rpc)"
rm -f "$dir/go"
shim_as "$U2" conns "$BP_PEER_IP" 7401 2 "$dir/go" >"$dir/t2_rm.log" 2>&1 &
t2r=$!
BP_PIDS+=("$t2r")
for i in $(seq 100); do grep -q opened "$dir/t2_rm.log" && break; sleep 0.1; done
[ "$(head -1 "$dir/t2_rm.log")" = "opened 2 0" ] || bp_die "t2 could not connect: $(cat "$dir/t2_rm.log")"
write_conf 5 0
"$CTL" config reload >/dev/null || bp_die "bypassctl config reload refused a good file"
touch "$dir/go"
wait "$t2r" || true
out=$(tail -1 "$dir/t2_rm.log")
echo "  t2's app after its tenant was removed: $out"
case "$out" in "after-go ok"*) bp_die "t2's connections survived its removal: $out" ;; esac
for i in $(seq 50); do [ -z "$(tenant_line t2)" ] && break; sleep 0.1; done
[ -z "$(tenant_line t2)" ] || bp_die "t2 still listed: $(tenant_line t2)"
out=$(as_u "$U2" "$PY" "$CLIENT" attach "$sock" 1 0)
[ "$out" = "attach 0 EACCES" ] || bp_die "bptn2, now in no tenant, was not refused: $out"
[ "$(rpc_rows t2)" = 0 ] || bp_die "bypassctl rpc still lists removed t2's calls: $("$CTL" rpc)"
echo "ok: (e) a removed tenant's flows reset, its apps and RPC call counts go, its users are unknown"
"$CTL" status | grep '^tenant' | sed 's/^/  /'

# ---------------------------------------------------------------- (f)
bp_log "(f) a new tenant on a removed one's id counts from zero"
# t2's id is free once it is no longer listed (no flow, app or half-open)
write_conf 5 0 1
"$CTL" config reload >/dev/null || bp_die "bypassctl config reload refused t4"
t4id=$(bp_stat stats tenant.t4.id)
[ "$t4id" = "$t2id" ] || bp_die "t4 has id $t4id, not t2's freed $t2id: nothing reused"
for k in tx_bytes tx_pkts rx_bytes rx_pkts throttled denied; do
	v=$(bp_stat stats "tenant.t4.$k")
	[ "$v" = 0 ] || bp_die "new tenant t4 starts with $k $v (t2 sent $t2tx bytes on id $t2id)"
done
[ "$(rpc_rows t4)" = 0 ] || bp_die "new tenant t4 has t2's RPC calls: $("$CTL" rpc)"
m=$("$CTL" metrics) || bp_die "bypassctl metrics failed"
grep -q '^bypass_tenant_tx_payload_bytes_total{tenant="t4"} 0$' <<<"$m" ||
	bp_die "t4's metrics do not start from zero: $(grep 'tenant="t4"' <<<"$m" | head -5)"
echo "ok: (f) t4 on id $t2id starts from zero (t2 had sent $t2tx bytes)"
bp_stop_fastpathd || bp_die "fastpathd did not stop cleanly"
echo "PASS"

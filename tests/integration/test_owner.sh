#!/usr/bin/env bash
# Connections belong to their owner, with the control socket open to every
# user (mode 0666) and processes of two real uids (root and bypasstest):
#  a) another uid cannot join a shared listener (natively, with the
#     listener's own share descriptor, or through the shim), nor can a
#     same-uid process without the listener's kernel object; the owner gets
#     all 20 of 20 new connections; fork-shared workers still join
#  b) only a registered holder of the owner's uid adopts a connection, and
#     its key changes at every move (a stale key adopts nothing)
#  c) FORKED for pid 1 or a non-child is refused: the reporter's flows are
#     reset when it exits, not pinned
#  d) orphans (owner gone, a fork child holds them) are bounded per uid
#     ([apps] max_orphans) and in lifetime ([apps] orphan_timeout_ms)
#  e) an owner's close that crossed an adoption lets go of the flow
#  f) no other uid can reach a fastpath core's kick socket (only apps'
#     sockets the daemon connected can wake it)
set -euo pipefail
# shellcheck source=deploy/lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
bp_make_tmp
dir=$BP_TMP
chmod 755 "$dir" # the second uid reaches the control socket in here
TOOL=$BP_BUILD/tests/bp_owner
SHIM=$BP_BUILD/client-lib/libbypass-shim.so
[ -x "$TOOL" ] || bp_die "no $TOOL: build first"
# the second uid: made for this run and deleted after it (a bypasstest
# that was already there is left alone)
made_user=0
if ! id -u bypasstest >/dev/null 2>&1; then
	useradd -r -M -s /usr/sbin/nologin bypasstest ||
		bp_die "cannot create user bypasstest (useradd -r -M bypasstest)"
	made_user=1
fi
# bp_cleanup exits: stop our processes (some run as the user) first, delete
# the user, then hand bp_cleanup the test's verdict
finish() {
	local rc=$?
	set +e # a failed step, or (exit 1) below, would end the trap here
	bp_stop_all || rc=1
	[ "$made_user" = 1 ] && userdel bypasstest 2>/dev/null
	(exit "$rc")
	bp_cleanup
}
trap finish EXIT
B_UID=$(id -u bypasstest)
B_GID=$(id -g bypasstest)
as_b() { setpriv --reuid="$B_UID" --regid="$B_GID" --clear-groups "$@"; }
status_flows() { bp_stat status flows; }

cat >"$dir/fp.conf" <<EOF
[apps]
max_orphans = 4
orphan_timeout_ms = 15000
[tcp]
time_wait_ms = 100
EOF
bp_topo_up bpiown 41
BP_FP_ARGS=(--config "$dir/fp.conf")
bp_start_fastpathd
chmod 0666 "$BYPASS_SOCKET" # as the README suggests for workers that drop privileges

# the Linux peer: an echo server that closes when its client does
bp_bg bp_peer python3 "$(dirname "$0")/peer_echo.py" 7401
bp_wait_peer_listen 7401
peer_estab() { bp_peer ss -Htn state established "( sport = :7401 )" | wc -l; }

# ---------------------------------------------------------------- (a)
bp_log "(a) shared listeners"
"$TOOL" listen 7402 20 60 "$dir/grant.sock" >"$dir/owner.log" 2>&1 &
owner=$!
BP_PIDS+=("$owner")
for i in $(seq 100); do [ -S "$dir/grant.sock" ] && break; sleep 0.1; done
[ -S "$dir/grant.sock" ] || bp_die "the owner never started listening: $(cat "$dir/owner.log")"
out=$(as_b "$TOOL" join 7402 8 "$dir/grant.sock") && rc=0 || rc=$?
echo "  uid $B_UID with the owner's own share descriptor: $out"
[ "$rc" = 3 ] || bp_die "uid $B_UID joined root's shared listener (rc $rc): $out"
out=$("$TOOL" join 7402 8) && rc=0 || rc=$?
echo "  root without the listener's kernel object: $out"
[ "$rc" = 3 ] || bp_die "an unrelated root process joined the shared listener (rc $rc): $out"
out=$("$TOOL" raw-join 7402) && rc=0 || rc=$?
echo "  root through the queue, no descriptor: $out"
[ "$rc" = 3 ] || bp_die "a descriptor-less shared listen joined (rc $rc): $out"
# the shim, as uid B: its own kernel socket is not the owner's (not under a
# sanitizer build: an ASan shim cannot be preloaded into python)
shim_ok=1
case "$(ldd "$SHIM" 2>/dev/null)" in *libasan*) shim_ok=0 ;; esac
[ "$shim_ok" = 1 ] || echo "  (sanitizer build: the shim part is skipped)"
[ "$shim_ok" = 1 ] && as_b env LD_PRELOAD="$SHIM" BYPASS_SOCKET="$BYPASS_SOCKET" timeout 20 python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7402)); s.listen(16); s.settimeout(6)
try:
    c, a = s.accept()
    print("ACCEPTED a connection", a); sys.exit(0)
except OSError as e:
    print("refused:", e); sys.exit(3)
' >"$dir/shim_b.log" 2>&1 &
[ "$shim_ok" = 1 ] && shim_b=$!
sleep 1
# 20 new connections from Linux: every one must reach the owner
bp_peer python3 -c '
import socket, sys, time
cs = []
for i in range(20):
    cs.append(socket.create_connection((sys.argv[1], 7402), timeout=5))
    time.sleep(0.02)
time.sleep(1)
' "$BP_IP" || bp_die "the Linux clients could not connect"
rc=3
if [ "$shim_ok" = 1 ]; then
	wait "$shim_b" && rc=0 || rc=$?
	echo "  the shim as uid $B_UID: $(cat "$dir/shim_b.log")"
fi
wait "$owner" || bp_die "owner listener failed: $(cat "$dir/owner.log")"
n=$(awk '/^accepted/ {print $2}' "$dir/owner.log")
echo "  owner accepted $n of 20"
[ "$rc" = 3 ] || bp_die "uid $B_UID joined root's port through the shim (rc $rc)"
[ "$n" = 20 ] || bp_die "the owner received $n of 20 new connections"
echo "ok: (a) another uid cannot join; the owner gets 20 of 20"
# fork-shared workers of one uid still share a port (native libbypass)
"$TOOL" prefork 7404 2 20 60 >"$dir/prefork.log" 2>&1 &
pf=$!
for i in $(seq 300); do grep -q listening "$dir/prefork.log" && break; sleep 0.1; done
grep -q "listening on 7404: 2 workers" "$dir/prefork.log" ||
	bp_die "the prefork workers did not both listen: $(cat "$dir/prefork.log")"
bp_peer python3 -c '
import socket, sys, time
cs = []
for i in range(20):
    cs.append(socket.create_connection((sys.argv[1], 7404), timeout=5)); time.sleep(0.02)
time.sleep(1)
' "$BP_IP" || bp_die "the Linux clients could not connect to the prefork workers: $(cat "$dir/prefork.log")"
wait "$pf" || bp_die "prefork workers failed: $(cat "$dir/prefork.log")"
cat "$dir/prefork.log"
total=$(awk '/accepted/ {s += $4} END {print s + 0}' "$dir/prefork.log")
[ "$total" = 20 ] || bp_die "prefork workers accepted $total of 20"
echo "ok: (a) sibling workers sharing the parent's share socket both listen"

# ---------------------------------------------------------------- (b)
bp_log "(b) adopting a connection"
"$TOOL" adopt-test "$BP_PEER_IP" 7401 "$B_UID" "$B_GID" | tee "$dir/adopt.log" ||
	bp_die "adoption rules (see above)"
echo "ok: (b) only registered holders of the same uid adopt, with the current key"

# ---------------------------------------------------------------- (c)
bp_log "(c) FORKED reports"
before=$(peer_estab)
"$TOOL" forked-test "$BP_PEER_IP" 7401 50 >"$dir/forked.log" 2>&1 &
rep=$!
for i in $(seq 100); do grep -q reported "$dir/forked.log" && break; sleep 0.1; done
cat "$dir/forked.log"
mid=$(($(peer_estab) - before))
[ "$mid" = 50 ] || bp_die "forked-test: $mid of its 50 flows established"
wait "$rep" || bp_die "forked-test failed: $(cat "$dir/forked.log")"
left=""
end=$((${EPOCHREALTIME/./} + 5000000)) # 5 s, well before orphan_timeout_ms (15 s)
while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do
	left=$(peer_estab)
	[ "$left" -le "$before" ] && break
	sleep 0.1
done
echo "  Linux peer: $left connections established after the reporter exited (before: $before)"
[ "$left" -le "$before" ] || bp_die "$((left - before)) flows stay pinned after their reporter exited"
echo "ok: (c) FORKED and per-flow FORKED naming pid 1 or a non-child are refused; nothing stays pinned"

# ---------------------------------------------------------------- (d)
bp_log "(d) orphans"
before=$(peer_estab)
out=$("$TOOL" orphan-test "$BP_PEER_IP" 7401 10) || bp_die "orphan-test failed: $out"
holder=$(echo "$out" | awk '/^holder/ {print $2}')
[ -n "$holder" ] || bp_die "orphan-test printed no holder: $out"
BP_PIDS+=("$holder")
for _ in $(seq 100); do # the daemon resets the orphans over the bound
	n1=$(($(peer_estab) - before))
	[ "$n1" -le 4 ] && break
	sleep 0.1
done
echo "  10 flows, owner gone, child $holder holds them: $n1 still established (bound 4)"
[ "$n1" -le 4 ] || bp_die "$n1 orphans of one uid live on; [apps] max_orphans is 4"
[ "$n1" -ge 1 ] || bp_die "no orphan lived: the fork child's hold was not honoured"
t0=${EPOCHREALTIME/./}
end=$((t0 + 40000000))
while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do
	n2=$(($(peer_estab) - before))
	[ "$n2" -le 0 ] && break
	sleep 0.2
done
took=$(((${EPOCHREALTIME/./} - t0) / 1000000))
kill -0 "$holder" 2>/dev/null || bp_die "the holding child exited early"
echo "  orphan_timeout_ms is 15 s: with the holder alive, $n2 established after $took s more"
[ "$n2" -le 0 ] || bp_die "orphans outlived [apps] orphan_timeout_ms"
[ "$took" -ge 8 ] || bp_die "orphans closed after $took s, long before orphan_timeout_ms"
echo "ok: (d) orphans bounded in number and lifetime"

# ---------------------------------------------------------------- (e)
bp_log "(e) a close that crossed an adoption"
before=$(peer_estab)
"$TOOL" stale-close-test "$BP_PEER_IP" 7401 8 >"$dir/stale.log" 2>&1 &
sc=$!
for i in $(seq 100); do grep -q "adopter gone\|FAIL" "$dir/stale.log" && break; sleep 0.1; done
grep -q "adopter gone" "$dir/stale.log" || bp_die "stale-close-test: $(cat "$dir/stale.log")"
t0=${EPOCHREALTIME/./}
while [ $((${EPOCHREALTIME/./} - t0)) -lt 4000000 ]; do
	n=$(($(peer_estab) - before))
	[ "$n" -le 0 ] && break
	sleep 0.1
done
echo "  owner alive, its close crossed the child's adoption, child gone: $n established"
[ "$n" -le 0 ] || bp_die "the flow outlived the child that adopted it: the owner's close kept its hold"
wait "$sc" || bp_die "stale-close-test failed: $(cat "$dir/stale.log")"
echo "ok: (e) an owner's close that crossed an adoption lets go of the flow"

# ---------------------------------------------------------------- (f)
bp_log "(f) the cores' kick sockets: only the daemon connects to them"
kick=$BYPASS_SOCKET.kick/0
[ -S "$kick" ] || bp_die "no kick socket $kick"
[ "$(stat -c %a "$BYPASS_SOCKET.kick")" = 700 ] ||
	bp_die "$BYPASS_SOCKET.kick is mode $(stat -c %a "$BYPASS_SOCKET.kick"), want 700"
out=$(as_b /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    s.connect(sys.argv[1]); s.send(b"x" * 8)
except PermissionError:
    print("refused"); sys.exit(0)
print("connected"); sys.exit(1)' "$kick") || bp_die "uid $B_UID reached $kick: $out"
echo "ok: (f) another uid cannot reach a core's kick socket ($out)"
echo "PASS: connections belong to their owner"

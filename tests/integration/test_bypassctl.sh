#!/usr/bin/env bash
# bypassctl against a live daemon, real connections and real users
# (bpctl1 in tenant t1 with root, bpctl2 in t2, bpctla in [daemon]
# admin_group and in no tenant):
#  a) every command's --help exits 0, an unknown command 2, a bad filter 2,
#     an absent daemon 3 with how to start it
#  b) flows lists the same connections as the Linux peer's `ss -tn`
#     (tuples, states); the filters (state, sport, dport, port, dst, tenant)
#     select what they say
#  c) every command's --json parses and has its documented fields
#  d) bpctl2 sees only t2 (flows, apps, tenants, status) and gets exit 1
#     with a message for another tenant and for tenant set/del and config
#     reload; bpctla (admin_group) may change tenants
#  e) tenant set rate changes live (tenants and status show it); tenant
#     add/set with a bad key changes nothing; tenant del resets the flows
#  f) the control protocol version: hand-crafted frames (ctl_version_probe.py)
#     from a newer major are refused with both versions and what to do;
#     status and --version show both sides' versions
#  g) half-open connections: SYNs from the peer whose SYN-ACKs the peer
#     drops (iptables) are listed as syn-recv, text and JSON, with the
#     tuples the peer's ss shows in SYN-SENT
#  h) flows ... kill (ss -K): refused to bpctl2 and without a filter; an
#     admin's kill of one connection resets it (the peer's ss loses it,
#     the app gets ECONNABORTED as after Linux's ss -K) and no other
#  i) timers, as ss -o: an idle connection's is off, one with SO_KEEPALIVE
#     shows keepalive, one whose data the peer drops shows on with backoffs
# (c) reads every command's JSON fields from bypassctl(8): see bypassctl_json.py.
# BYPASSCTL_TOPO_IDX: the topology index (default 140), to run side by side.
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
JSON=$HERE/bypassctl_json.py
CTL=$BP_BUILD/cli/bypassctl
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
[ -x "$CTL" ] || bp_die "no $CTL: build first"

cleanup_users() {
	local u
	for u in bpctl1 bpctl2 bpctla; do userdel "$u" 2>/dev/null || true; done
	groupdel bpctl 2>/dev/null || true
	groupdel bpctladm 2>/dev/null || true
}
finish() {
	local rc=$?
	set +e # a failed step, or (exit 1) below, would end the trap here
	bp_stop_all
	cleanup_users
	(exit "$rc")
	bp_cleanup
}
trap finish EXIT
cleanup_users
groupadd -r bpctl || bp_die "groupadd bpctl failed"
groupadd -r bpctladm || bp_die "groupadd bpctladm failed"
for u in bpctl1 bpctl2 bpctla; do
	useradd -r -M -s /usr/sbin/nologin -G bpctl "$u" || bp_die "useradd $u failed"
done
G=$(getent group bpctl | cut -d: -f3)
GA=$(getent group bpctladm | cut -d: -f3)
U1=$(id -u bpctl1)
U2=$(id -u bpctl2)
UA=$(id -u bpctla)
bp_make_tmp
dir=$BP_TMP
chmod 755 "$dir"
chmod 755 "$HERE" 2>/dev/null || true
cat >"$dir/fp.conf" <<EOC
[daemon]
socket_group = bpctl
admin_group = bpctladm
[tcp]
time_wait_ms = 100
[tenants]
unknown = refuse
[tenant t1]
uids = bpctl1, root
[tenant t2]
uids = bpctl2
connect = 198.18.0.0/15
max_flows = 10
rate = 100mbit
EOC

IDX=${BYPASSCTL_TOPO_IDX:-140}
bp_topo_up bpctl "$IDX"
BP_FP_ARGS=(--config "$dir/fp.conf")
bp_start_fastpathd
sock=$BYPASS_SOCKET
as_u() { local u=$1; shift; setpriv --reuid="$u" --regid="$G" --clear-groups "$@"; }
as_admin() { setpriv --reuid="$UA" --regid="$G" --groups="$GA" "$@"; }
shim_as() { local u=$1; shift; ip netns exec "$BP_NS_DP" setpriv --reuid="$u" --regid="$G" --clear-groups env LD_PRELOAD="$SHIM" BYPASS_SOCKET="$sock" timeout 120 "$PY" "$CLIENT" "$@"; }
# jq-like: run CMD --json as root, check its fields, print EXPR
jget() { local kind=$1 expr=$2; shift 2; "$CTL" "$@" --json | "$PY" "$JSON" "$kind" "$expr"; }
# expect_rc RC WHAT CMD...: CMD exits RC; its stderr in $ERR
expect_rc() {
	local want=$1 what=$2 rc=0
	shift 2
	ERR=$("$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = "$want" ] || bp_die "$what: exit $rc, want $want (stderr: $ERR)"
	echo "  $what: exit $rc${ERR:+: $(echo "$ERR" | head -1)}"
}

# ---------------------------------------------------------------- (a)
bp_log "(a) help, usage errors, exit codes"
for c in status stats apps tenants tenant flows arp route cores config s a t f n r; do
	"$CTL" "$c" --help >/dev/null || bp_die "bypassctl $c --help exited $?"
done
"$CTL" --help | grep -q "flows \[f\]" || bp_die "bypassctl --help does not list flows [f]"
expect_rc 2 "unknown command" "$CTL" frobnicate
expect_rc 2 "flows with a bad filter" "$CTL" flows state established dport notaport
expect_rc 2 "tenant with no op" "$CTL" tenant
expect_rc 2 "status with an argument" "$CTL" status extra
expect_rc 3 "no daemon" "$CTL" -S "$dir/nothing.sock" flows
echo "$ERR" | grep -q "Start the daemon" || bp_die "no daemon: the message does not say how to start it: $ERR"
expect_rc 1 "flows state bogus" "$CTL" flows state bogus
echo "ok: (a) --help 0, unknown command and bad usage 2, no daemon 3, a refused request 1"

# ---------------------------------------------------------------- (b)
bp_log "(b) flows against the peer's ss"
bp_bg bp_peer "$PY" "$HERE/peer_echo.py" 7401
bp_wait_peer_listen 7401
rm -f "$dir/go"
# own process groups (bp_bg), so a failed run stops the clients too and
# their users can be deleted
bp_bg shim_as 0 conns "$BP_PEER_IP" 7401 3 "$dir/go" >"$dir/t1.log" 2>&1
bp_bg shim_as "$U2" conns "$BP_PEER_IP" 7401 2 "$dir/go" >"$dir/t2.log" 2>&1
t2pid=$BP_LAST_PID
for i in $(seq 100); do grep -q opened "$dir/t1.log" && grep -q opened "$dir/t2.log" && break; sleep 0.1; done
[ "$(head -1 "$dir/t1.log")" = "opened 3 0" ] || bp_die "t1 could not connect: $(cat "$dir/t1.log")"
[ "$(head -1 "$dir/t2.log")" = "opened 2 0" ] || bp_die "t2 could not connect: $(cat "$dir/t2.log")"
"$CTL" flows | sed 's/^/  /'
# the peer's view: its local is our remote; ss says ESTAB
peer=$(bp_peer ss -tnH state established "( sport = :7401 )" | awk '{print $4 " " $3}' | sort)
ours=$(jget flows "'\n'.join(sorted(f['local'] + ' ' + f['remote'] for f in d['flows']))" \
	flows state established dport 7401 | "$PY" -c 'import json,sys; print(json.load(sys.stdin))')
echo "  peer ss (remote local): $(echo "$peer" | tr '\n' ';')"
echo "  bypassctl flows:        $(echo "$ours" | tr '\n' ';')"
[ "$(echo "$peer" | wc -l)" = 5 ] || bp_die "the peer sees $(echo "$peer" | wc -l) connections, want 5"
[ "$peer" = "$ours" ] || bp_die "bypassctl flows and the peer's ss disagree"
[ "$(jget flows "d['matched']" flows state established dport 7401)" = 5 ] || bp_die "matched != 5"
[ "$(jget flows "len(d['flows'])" flows tenant t2)" = 2 ] || bp_die "flows tenant t2 is not 2 flows"
[ "$(jget flows "sorted(set(f['tenant'] for f in d['flows']))" flows tenant t1)" = '["t1"]' ] ||
	bp_die "flows tenant t1 shows other tenants"
[ "$(jget flows "len(d['flows'])" flows dport 9)" = 0 ] || bp_die "flows dport 9 is not empty"
[ "$(jget flows "len(d['flows'])" flows state time-wait)" = 0 ] || bp_die "time-wait flows without a close"
one=$(echo "$ours" | head -1 | awk '{print $1}')
[ "$(jget flows "[f['local'] for f in d['flows']]" flows sport "${one##*:}")" = "[\"$one\"]" ] ||
	bp_die "flows sport ${one##*:} does not select $one alone"
[ "$(jget flows "len(d['flows'])" flows port 7401)" = 5 ] || bp_die "flows port 7401 is not 5"
[ "$(jget flows "len(d['flows'])" flows dst "$BP_PEER_IP")" = 5 ] || bp_die "flows dst $BP_PEER_IP is not 5"
[ "$(jget flows "len(d['flows'])" flows dst 198.18.1.99)" = 0 ] || bp_die "flows dst 198.18.1.99 is not empty"
expect_rc 2 "flows with a bad dst" "$CTL" flows dst 300.1.2.3
[ "$(jget flows "len(d['flows'])" flows limit 2)" = 2 ] || bp_die "flows limit 2 did not show 2"
# pages of 2 (three requests): the same flows, each once
[ "$(jget flows "sorted(f['id'] for f in d['flows'])" flows page 2)" = "$(jget flows "sorted(f['id'] for f in d['flows'])" flows)" ] ||
	bp_die "flows in pages of 2 differ from one page: $("$CTL" flows page 2)"
[ "$(jget flows "len(d['flows'])" flows page 2)" = 5 ] || bp_die "flows page 2 did not show 5 flows"
"$CTL" flows limit 2 | grep -q "3 more flows match" || bp_die "flows limit 2 does not say 3 more match"
jget flows "all(f['pid'] > 0 and f['cwnd'] > 0 and f['cc'] for f in d['flows'])" flows | grep -q true ||
	bp_die "an established flow without pid, cwnd or cc: $("$CTL" flows --json)"
"$CTL" f state established dport 7401 >/dev/null || bp_die "short form f failed"
echo "ok: (b) flows == the peer's ss -tn (5 tuples, established); filters select"

# ---------------------------------------------------------------- (c)
bp_log "(c) --json of every command"
# the man page documents JSON for exactly the commands bypassctl has
documented=$("$PY" "$JSON" --list)
have=$("$CTL" --help | awk '/^commands/ {on = 1; next} on && NF == 0 {exit} on {print $1}' | sort | xargs)
[ "$documented" = "$have" ] ||
	bp_die "bypassctl(8) documents JSON for '$documented', bypassctl has '$have'"
for c in status stats apps tenants flows arp route cores metrics rpc; do
	"$CTL" "$c" --json | "$PY" "$JSON" "$c" || bp_die "$c --json"
done
[ "$(jget metrics "any(m['name'] == 'bypass_rx_payload_bytes_total' and m['value'] >= 0 for m in d['metrics'])" metrics)" = true ] ||
	bp_die "metrics --json lacks bypass_rx_payload_bytes_total"
# capture's counts go to stderr (stdout may be the capture); SIGINT ends it
rc=0
timeout --preserve-status -s INT 1 "$CTL" capture -w "$dir/c.pcapng" --json 2>"$dir/cap.json" || rc=$?
[ "$rc" = 0 ] || bp_die "capture ended by SIGINT exited $rc: $(cat "$dir/cap.json")"
"$PY" "$JSON" capture <"$dir/cap.json" || bp_die "capture --json"
"$CTL" --json tenants show t2 | "$PY" "$JSON" tenants || bp_die "tenants show --json"
[ "$(jget arp "[e['ip'] for e in d['entries']]" arp)" = "[\"$BP_PEER_IP\"]" ] ||
	bp_die "arp does not hold the peer: $("$CTL" arp)"
[ "$(jget route "d['routes'][0]['dst']" route)" = "\"198.18.$IDX.0/24\"" ] || bp_die "route: $("$CTL" route)"
[ "$(jget apps "sorted(a['tenant'] for a in d['apps'])" apps)" = '["t1", "t2"]' ] ||
	bp_die "apps: $("$CTL" apps)"
[ "$(jget apps "[a['flows'] for a in d['apps']]" apps tenant t2)" = '[2]' ] || bp_die "apps tenant t2: $("$CTL" apps)"
[ "$(jget stats "d['tenants']['t1']['flows']" stats)" = 3 ] || bp_die "stats: t1 flows"
jget stats "d['counters']['port_rx_packets'] > 0 and 'core0.rx_pkts' in d['counters']" stats | grep -q true ||
	bp_die "stats lacks per-port or per-core counters"
"$CTL" config reload --json | "$PY" "$JSON" config || bp_die "config reload --json"
echo "ok: (c) $documented: JSON with exactly the fields bypassctl(8) documents"

# ---------------------------------------------------------------- (d)
bp_log "(d) an unprivileged user"
[ "$(as_u "$U2" "$CTL" flows --json | "$PY" "$JSON" flows "sorted(set(f['tenant'] for f in d['flows'])), len(d['flows'])")" = '[["t2"], 2]' ] ||
	bp_die "bpctl2 sees other flows: $(as_u "$U2" "$CTL" flows)"
[ "$(as_u "$U2" "$CTL" tenants --json | "$PY" "$JSON" tenants "[t['name'] for t in d['tenants']]")" = '["t2"]' ] ||
	bp_die "bpctl2 sees other tenants"
[ "$(as_u "$U2" "$CTL" status --json | "$PY" "$JSON" status "[t['name'] for t in d['tenants']]")" = '["t2"]' ] ||
	bp_die "bpctl2's status shows other tenants"
[ "$(as_u "$U2" "$CTL" apps --json | "$PY" "$JSON" apps "sorted(set(a['tenant'] for a in d['apps']))")" = '["t2"]' ] ||
	bp_die "bpctl2 sees other apps"
expect_rc 1 "bpctl2: tenants show t1" as_u "$U2" "$CTL" tenants show t1
expect_rc 1 "bpctl2: flows tenant t1" as_u "$U2" "$CTL" flows tenant t1
# ... with the same answer as for a tenant that does not exist: trying
# names teaches bpctl2 none
for cmd in "tenants show" "flows tenant"; do
	# shellcheck disable=SC2086 # two words: the command and its filter
	a=$(as_u "$U2" "$CTL" $cmd t1 2>&1 | sed 's/t1/NAME/g') || true
	# shellcheck disable=SC2086
	b=$(as_u "$U2" "$CTL" $cmd nosuch 2>&1 | sed 's/nosuch/NAME/g') || true
	[ "$a" = "$b" ] || bp_die "bpctl2 can tell t1 exists from '$cmd': '$a' vs '$b'"
done
expect_rc 1 "bpctl2: tenant set t2 rate 1g" as_u "$U2" "$CTL" tenant set t2 rate 1g
echo "$ERR" | grep -q "admin_group" || bp_die "the refusal does not say who may: $ERR"
expect_rc 1 "bpctl2: tenant del t1" as_u "$U2" "$CTL" tenant del t1
expect_rc 1 "bpctl2: config reload" as_u "$U2" "$CTL" config reload
expect_rc 1 "bpctl2: cores set 1" as_u "$U2" "$CTL" cores set 1
[ "$(jget tenants "d['tenants'][0]['rate_bps']" tenants show t2)" = 100000000 ] ||
	bp_die "a refused tenant set changed t2"
expect_rc 0 "bpctla (admin_group): tenant set t2 weight 2" as_admin "$CTL" tenant set t2 weight 2
[ "$(as_admin "$CTL" tenants --json | "$PY" "$JSON" tenants "len(d['tenants'])")" -ge 3 ] ||
	bp_die "an admin_group member does not see every tenant"
echo "ok: (d) bpctl2 sees t2 only and may change nothing; admin_group may"

# ---------------------------------------------------------------- (e)
bp_log "(e) live tenant changes"
out=$("$CTL" tenant set t2 rate 200mbit) || bp_die "tenant set t2 rate 200mbit failed"
echo "  $out"
[ "$(jget tenants "d['tenants'][0]['rate_bps']" tenants show t2)" = 200000000 ] || bp_die "rate not changed"
[ "$(jget status "[t['rate_bps'] for t in d['tenants'] if t['name'] == 't2']" status)" = '[200000000]' ] ||
	bp_die "status does not show the new rate"
[ "$(jget tenants "d['tenants'][0]['weight']" tenants show t2)" = 2 ] || bp_die "weight 2 lost"
[ "$(jget flows "len(d['flows'])" flows tenant t2)" = 2 ] || bp_die "tenant set dropped t2's flows"
expect_rc 1 "tenant set t2 rate fast" "$CTL" tenant set t2 rate fast weight 5
echo "$ERR" | grep -q "\[tenant t2\] rate" || bp_die "the error does not name the field: $ERR"
[ "$(jget tenants "d['tenants'][0]['weight']" tenants show t2)" = 2 ] || bp_die "a refused set changed weight"
expect_rc 1 "tenant add t1" "$CTL" tenant add t1 weight 3
expect_rc 1 "tenant set nosuch" "$CTL" tenant set nosuch weight 3
"$CTL" tenant add t3 uids bpctla max_flows 7 class bulk --json | "$PY" "$JSON" tenant || bp_die "tenant add t3"
[ "$(jget tenants "[d['tenants'][0][k] for k in ('max_flows', 'class')]" tenants show t3)" = '[7, "bulk"]' ] ||
	bp_die "t3 not as added"
"$CTL" tenant del t3 >/dev/null || bp_die "tenant del t3"
expect_rc 1 "tenants show t3 after del" "$CTL" tenants show t3
"$CTL" tenant del t2 --json | "$PY" "$JSON" tenant || bp_die "tenant del t2"
for i in $(seq 50); do [ "$(jget flows "len(d['flows'])" flows tenant t2 2>/dev/null || echo 0)" = 0 ] && break; sleep 0.1; done
touch "$dir/go"
wait "$t2pid" || true
out=$(tail -1 "$dir/t2.log")
echo "  t2's app after tenant del t2: $out"
case "$out" in "after-go ok"*) bp_die "t2's connections survived tenant del: $out" ;; esac
# the file still has t2: a reload brings it back, as the help says
"$CTL" config reload >/dev/null || bp_die "config reload"
[ "$(jget tenants "d['tenants'][0]['rate_bps']" tenants show t2)" = 100000000 ] ||
	bp_die "config reload did not restore the file's t2"
echo "ok: (e) live rate change shown by tenants and status; bad keys change nothing; del resets flows; reload restores the file"

# ---------------------------------------------------------------- (f)
bp_log "(f) control protocol versions"
"$PY" "$HERE/ctl_version_probe.py" "$sock" | sed 's/^/  /'
[ "${PIPESTATUS[0]}" = 0 ] || bp_die "the version check failed (above)"
out=$("$CTL" --version) || bp_die "bypassctl --version exited $?"
echo "$out" | sed 's/^/  /'
echo "$out" | grep -q "^bypassctl .* (control protocol 1\.[0-9]*)$" || bp_die "--version lacks bypassctl's protocol"
echo "$out" | grep -q "^fastpathd .* (control protocol 1\.[0-9]*) at " || bp_die "--version lacks fastpathd's protocol"
expect_rc 3 "--version with no daemon" "$CTL" -S "$dir/nothing.sock" --version
"$CTL" status | grep -q "^protocol 1\.[0-9]*$" || bp_die "status does not show fastpathd's protocol"
"$CTL" status | grep -q "^bypassctl_protocol 1\.[0-9]*$" || bp_die "status does not show bypassctl's protocol"
[ "$(jget status "[d['protocol'], d['bypassctl_protocol']]" status)" = "$(jget status "[d['bypassctl_protocol']] * 2" status)" ] ||
	bp_die "status --json: the protocols differ though both are this build's"
echo "ok: (f) a newer major is refused with both versions; status and --version show both"

# ---------------------------------------------------------------- (g)
bp_log "(g) half-open connections (SYN-RECV)"
# backlog 16: room for every half-open one (beyond it, SYN cookies, no state)
bp_bg "$BP_BUILD/client-lib/bpcat" -v -l -b 16 -p 7402 >/dev/null 2>"$dir/listen.log"
lpid=$BP_LAST_PID
bp_wait_listening "$dir/listen.log"
# the peer's kernel never sees our SYN-ACKs: its connects stay in SYN-SENT,
# retransmitting the SYN, and ours stay half-open in the SYN queue
bp_peer iptables -I INPUT -p tcp --sport 7402 --tcp-flags SYN,ACK SYN,ACK -j DROP ||
	bp_die "iptables in the peer namespace failed"
bp_bg bp_peer "$PY" -c '
import socket, sys, time
ss = []
for _ in range(3):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((sys.argv[1], 7402))
    ss.append(s)
time.sleep(90)' "$BP_IP"
synpid=$BP_LAST_PID
want=3
for i in $(seq 30); do
	[ "$(jget flows "len(d['flows'])" flows state syn-recv)" = $want ] && break
	sleep 0.2
done
"$CTL" flows state syn-recv | sed 's/^/  /'
peer=$(bp_peer ss -tnH state syn-sent "( dport = :7402 )" | awk '{print $4 " " $3}' | sort)
ours=$(jget flows "'\n'.join(sorted(f['local'] + ' ' + f['remote'] for f in d['flows']))" \
	flows state syn-recv | "$PY" -c 'import json,sys; print(json.load(sys.stdin))')
echo "  peer ss SYN-SENT (remote local): $(echo "$peer" | tr '\n' ';')"
echo "  bypassctl flows syn-recv:        $(echo "$ours" | tr '\n' ';')"
[ "$(echo "$peer" | grep -c .)" = $want ] || bp_die "the peer has $(echo "$peer" | grep -c .) SYN-SENT, want $want"
[ "$peer" = "$ours" ] || bp_die "bypassctl flows state syn-recv and the peer's ss disagree"
[ "$(jget flows "sorted(set((f['state'], f['half_open'], f['tenant'], f.get('pid', 0) > 0) for f in d['flows']))" flows state syn-recv)" = '[["syn-recv", true, "t1", true]]' ] ||
	bp_die "syn-recv entries lack state, half_open, tenant or the listener's pid: $("$CTL" flows state syn-recv --json)"
[ "$("$CTL" flows state syn-recv | grep -c '^syn-recv ')" = $want ] || bp_die "text output: not $want syn-recv lines"
[ "$(jget flows "d['matched']" flows state syn-recv port 7402)" = $want ] || bp_die "syn-recv port 7402: matched != $want"
[ "$(jget flows "sum(f['state'] == 'syn-recv' for f in d['flows'])" flows)" = $want ] || bp_die "flows (all) lacks the syn-recv entries"
[ "$(jget flows "sum(f['state'] == 'syn-recv' for f in d['flows'])" flows state established)" = 0 ] || bp_die "state established shows syn-recv"
[ "$(jget flows "len(d['flows'])" flows state syn-recv dport 9)" = 0 ] || bp_die "syn-recv dport 9 is not empty"
# pages of one: every entry once, the same as in one page
[ "$(jget flows "sorted(f['remote'] for f in d['flows'])" flows state syn-recv page 1)" = "$(jget flows "sorted(f['remote'] for f in d['flows'])" flows state syn-recv)" ] ||
	bp_die "syn-recv in pages of 1 differ from one page"
[ "$(jget tenants "d['tenants'][0]['half_open']" tenants show t1)" = $want ] || bp_die "tenant t1 does not count $want half-open"
[ "$(as_u "$U2" "$CTL" flows state syn-recv --json | "$PY" "$JSON" flows "len(d['flows'])")" = 0 ] ||
	bp_die "bpctl2 (t2) sees t1's half-open connections"
# kill drops a half-open one (the peer's next SYN may bring it back)
one=$(echo "$ours" | head -1 | awk '{print $2}')
[ "$(jget flows "[d['killed'], [(f['remote'], f['half_open']) for f in d['flows']]]" flows state syn-recv dport "${one##*:}" kill)" = "[1, [[\"$one\", true]]]" ] ||
	bp_die "flows state syn-recv dport ${one##*:} kill did not drop the one half-open connection"
# gone: its tuple is listed no more, or anew (the peer's SYN came again:
# no SYN-ACK resent yet)
[[ "$(jget flows "[f['retrans'] for f in d['flows']]" flows state syn-recv dport "${one##*:}")" =~ ^\[(0)?\]$ ]] ||
	bp_die "the killed half-open connection is still there: $("$CTL" flows state syn-recv dport "${one##*:}")"
bp_peer iptables -D INPUT -p tcp --sport 7402 --tcp-flags SYN,ACK SYN,ACK -j DROP
bp_stop_pid "$synpid"
bp_stop_pid "$lpid"
echo "ok: (g) $want half-open connections: syn-recv in text and JSON, the peer's SYN-SENT tuples"

# ---------------------------------------------------------------- (h)
bp_log "(h) flows kill"
rm -f "$dir/go"
bp_bg shim_as 0 killwait "$BP_PEER_IP" 7401 2 "$dir/go" >"$dir/kill.log" 2>&1
killpid=$BP_LAST_PID
for i in $(seq 100); do grep -q opened "$dir/kill.log" && break; sleep 0.1; done
read -r word n p1 p2 <"$dir/kill.log"
[ "$word $n" = "opened 2" ] || bp_die "the killwait client could not connect: $(cat "$dir/kill.log")"
peer_has() { bp_peer ss -tnH state established "( sport = :7401 and dport = :$1 )" | grep -c .; }
[ "$(peer_has "$p1")$(peer_has "$p2")" = 11 ] || bp_die "the peer does not see both connections"
expect_rc 1 "bpctl2: flows sport $p1 kill" as_u "$U2" "$CTL" flows sport "$p1" kill
echo "$ERR" | grep -q "admin_group" || bp_die "the refusal does not say who may: $ERR"
expect_rc 1 "flows kill without a filter" "$CTL" flows kill
echo "$ERR" | grep -q "needs a filter" || bp_die "kill without a filter: $ERR"
[ "$(peer_has "$p1")$(peer_has "$p2")" = 11 ] || bp_die "a refused kill reset a connection"
out=$("$CTL" flows sport "$p1" kill) || bp_die "flows sport $p1 kill failed: $out"
echo "$out" | sed 's/^/  /'
echo "$out" | grep -q "^killed 1 connection$" || bp_die "kill does not say it killed 1 connection"
echo "$out" | grep -q ":$p1 " || bp_die "kill does not list the connection it reset"
for i in $(seq 50); do [ "$(peer_has "$p1")" = 0 ] && break; sleep 0.1; done
[ "$(peer_has "$p1")$(peer_has "$p2")" = 01 ] ||
	bp_die "after the kill the peer has $(peer_has "$p1") connection(s) from :$p1 (want 0) and $(peer_has "$p2") from :$p2 (want 1)"
[ "$(jget flows "d['killed']" flows sport "$p1" kill)" = 0 ] || bp_die "a second kill found the flow again"
touch "$dir/go"
wait "$killpid" || true
out=$(tail -1 "$dir/kill.log")
echo "  the app after the kill: $out"
# the same probe on the Linux stack (the peer's namespace, over loopback)
linux=$(bp_peer timeout 20 "$PY" -c '
import errno, socket, subprocess
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen()
c = socket.create_connection(ls.getsockname(), timeout=5)
s, _ = ls.accept()
port = c.getsockname()[1]
subprocess.run(["ss", "-K", "-tnH", "state", "established", "( sport = :%d )" % port],
               check=True, stdout=subprocess.DEVNULL)
try:
    c.sendall(b"ping")
    print("ok" if c.recv(4) else "eof")
except OSError as e:
    print(errno.errorcode[e.errno])') || bp_die "the Linux ss -K probe failed: $linux"
echo "  Linux, the same probe after ss -K: $linux"
if [ "$linux" = ok ]; then
	# a kernel without CONFIG_INET_DIAG_DESTROY: ss -K kills nothing
	echo "  (this kernel cannot ss -K: comparing with ECONNABORTED, what one that can gives)"
	linux=ECONNABORTED
fi
[ "$out" = "after-go $linux ok" ] ||
	bp_die "want $linux on the killed connection (as Linux's ss -K) and ok on the other: $out"
echo "ok: (h) kill refused to bpctl2 and without a filter; resets exactly the flow selected (RST, ECONNABORTED)"

# ---------------------------------------------------------------- (i)
bp_log "(i) timers"
rm -f "$dir/tgo" "$dir/tgo.end"
bp_bg shim_as 0 timers "$BP_PEER_IP" 7401 "$dir/tgo" >"$dir/timers.log" 2>&1
tpid=$BP_LAST_PID
for i in $(seq 100); do grep -q opened "$dir/timers.log" && break; sleep 0.1; done
read -r word ka busy <"$dir/timers.log"
[ "$word" = opened ] || bp_die "the timers client could not connect: $(cat "$dir/timers.log")"
timer_of() { jget flows "[(f['timer'], f['timer_ms'] > 0, f['timer_retries'] > 0) for f in d['flows']]" flows sport "$1"; }
[ "$(timer_of "$busy")" = '[["off", false, false]]' ] || bp_die "an idle connection's timer: $(timer_of "$busy")"
for i in $(seq 30); do [ "$(timer_of "$ka")" = '[["keepalive", true, false]]' ] && break; sleep 0.1; done
[ "$(timer_of "$ka")" = '[["keepalive", true, false]]' ] || bp_die "SO_KEEPALIVE: timer $(timer_of "$ka")"
# the peer drops what we send on the second: its retransmission timer backs off
bp_peer iptables -I INPUT -p tcp --sport "$busy" -j DROP || bp_die "iptables in the peer namespace failed"
touch "$dir/tgo"
for i in $(seq 50); do [ "$(timer_of "$busy")" = '[["on", true, true]]' ] && break; sleep 0.1; done
got=$(timer_of "$busy")
text=$("$CTL" flows sport "$busy")
bp_peer iptables -D INPUT -p tcp --sport "$busy" -j DROP
echo "$text" | sed 's/^/  /'
[ "$got" = '[["on", true, true]]' ] || bp_die "unacknowledged data: timer $got, want on, due later, backed off"
echo "$text" | grep -q " timer:(on,[0-9]*ms,[1-9][0-9]*) " || bp_die "the text form lacks timer:(on,...)"
touch "$dir/tgo.end"
wait "$tpid" || true
echo "ok: (i) timers: off when idle, keepalive with SO_KEEPALIVE, on with backoffs while the peer drops our data"

bp_stop_fastpathd || bp_die "fastpathd did not stop cleanly"
echo "PASS"

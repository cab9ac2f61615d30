#!/usr/bin/env bash
# Unmodified Python programs over bypass through the LD_PRELOAD shim:
#  - server side: http.server (selectors + accept) serving 20 MiB to curl on Linux
#  - client side: urllib fetching from a Linux http.server
#  - fork: a pre-fork server whose workers accept on the master's listener,
#    on a fixed port and on the port a bind(port 0) got (getsockname())
#  - reset: what a connection the peer reset says (errors, poll, SIOCINQ and
#    SIOCOUTQ), as on Linux (same probe); TCP_INFO; a signal during a
#    blocking recv (SA_RESTART); shutdown() on a listener; a blocking
#    connect under SO_SNDTIMEO
set -euo pipefail
source "$(dirname "$0")/../../deploy/lib.sh"
bp_need_root
trap bp_cleanup EXIT
SHIM=$BP_BUILD/client-lib/libbypass-shim.so
[ -f "$SHIM" ] || bp_die "shim not built: $SHIM"
bp_topo_up bpishpy 16
bp_start_fastpathd
bp_make_tmp
dir=$BP_TMP
mkdir "$dir/www"
head -c 20M /dev/urandom >"$dir/www/blob"
want=$(sha256sum <"$dir/www/blob" | cut -d' ' -f1)
shim() { ip netns exec "$BP_NS_DP" env LD_PRELOAD="$SHIM" BYPASS_SOCKET="$BYPASS_SOCKET" "$@"; }

# server side
bp_bg shim python3 -m http.server 8000 --bind 0.0.0.0 --directory "$dir/www" >"$dir/srv.log" 2>&1
bp_wait_port "$BP_IP" 8000
got=$(bp_peer timeout 60 curl -sf "http://$BP_IP:8000/blob" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || bp_die "http.server under the shim served different bytes"
echo "ok: python http.server under the shim -> curl on Linux, 20 MiB sha256 identical"

# client side
bp_bg bp_peer python3 -m http.server 8001 --bind "$BP_PEER_IP" --directory "$dir/www" >"$dir/peer.log" 2>&1
bp_peer bash -c 'for i in $(seq 100); do ss -ltn | grep -q ":8001 " && exit 0; sleep 0.1; done; exit 1'
got=$(shim timeout 60 python3 -c "
import hashlib, urllib.request
print(hashlib.sha256(urllib.request.urlopen('http://$BP_PEER_IP:8001/blob', timeout=30).read()).hexdigest())")
[ "$got" = "$want" ] || bp_die "urllib under the shim received different bytes"
if shim timeout 10 python3 -c "
import socket; socket.create_connection(('$BP_PEER_IP', 8009), timeout=5)" 2>"$dir/refused"; then
	bp_die "connect to a closed Linux port succeeded"
fi
grep -q "ConnectionRefusedError" "$dir/refused" || bp_die "want ECONNREFUSED, got: $(cat "$dir/refused")"
echo "ok: python client under the shim -> Linux http.server; closed port refused"

# os.closerange() (close_range() in libc) closes a bypass socket as close()
# does: a pipe given the same number afterwards is the pipe
got=$(shim timeout 30 python3 -c "
import os, socket
s = socket.create_connection(('$BP_PEER_IP', 8001), timeout=10)
fd = s.detach()
os.closerange(fd, fd + 1)
r, w = os.pipe()
if r != fd:  # the kernel took a lower free number: give it fd's
    os.dup2(r, fd)
    r = fd
os.write(w, b'pipe')
print(os.read(r, 4).decode())") || bp_die "os.closerange() under the shim failed: $got"
[ "$got" = pipe ] || bp_die "after os.closerange() the number still named the socket: $got"
echo "ok: os.closerange() closes a bypass socket; its number is then the next owner's"

# pre-fork: workers accept on the master's listener
prefork_calls() { # port: 40 connections at once, each answered by a worker listening there
	local replies n
	replies=$(bp_peer timeout 60 python3 -c "
import socket, threading
out = []
def one(i):
    s = socket.create_connection(('$BP_IP', $1), timeout=10)
    s.sendall(b'req%d' % i)
    out.append(s.recv(100).decode())
ts = [threading.Thread(target=one, args=(i,)) for i in range(40)]
[t.start() for t in ts]; [t.join() for t in ts]
print('\n'.join(out))")
	n=$(echo "$replies" | grep -c "^worker[0-9]*@$1:")
	[ "$n" -eq 40 ] || bp_die "pre-fork server on port $1 answered $n of 40: $replies"
	echo "$replies" | cut -d: -f1 | sort -u | tr '\n' ' '
}
bp_bg shim python3 "$(dirname "$0")/prefork_server.py" 9000 2 >"$dir/pf.log" 2>&1
bp_wait_listening "$dir/pf.log"
echo "ok: pre-fork server: 40 connections served by $(prefork_calls 9000)"
# bind(port 0): getsockname() names the port at once, as on Linux; the
# bound port refuses connections until listen(); the master never accepts,
# so every connection must reach its workers on that same port
bp_bg shim python3 "$(dirname "$0")/prefork_server.py" 0 2 "$dir/pf0.go" >"$dir/pf0.log" 2>&1
for _ in $(seq 100); do grep -q "^bound on" "$dir/pf0.log" && break; sleep 0.1; done
port=$(sed -n 's/^bound on \([0-9]*\)$/\1/p' "$dir/pf0.log")
if [ -z "$port" ] || [ "$port" -eq 0 ]; then
	bp_die "bind(port 0): getsockname() said '$(cat "$dir/pf0.log")'"
fi
probe=$(bp_peer timeout 10 python3 -c "
import socket
try:
    socket.create_connection(('$BP_IP', $port), timeout=5); print('connected')
except ConnectionRefusedError:
    print('refused')" 2>&1)
[ "$probe" = refused ] || bp_die "bound, not listening port $port: want refused, got '$probe'"
touch "$dir/pf0.go"
bp_wait_listening "$dir/pf0.log"
grep -q "^listening on $port " "$dir/pf0.log" || bp_die "port 0: listens on another port: $(cat "$dir/pf0.log")"
echo "ok: bind(port 0): getsockname() said $port before listen(); refused until listen(); 40 connections served by $(prefork_calls "$port")"
# a connection the peer reset: the same probe on kernel sockets and through
# the shim must see the same results (the error once, then EPIPE and EOF)
bp_bg bp_peer python3 "$(dirname "$0")/reset_probe.py" server 9100 >"$dir/rst.log" 2>&1
bp_wait_listening "$dir/rst.log"
for ops in rrs ssr esr ees prp pep; do
	linux=$(bp_peer timeout 20 python3 "$(dirname "$0")/reset_probe.py" probe 127.0.0.1 9100 $ops)
	ours=$(shim timeout 20 python3 "$(dirname "$0")/reset_probe.py" probe "$BP_PEER_IP" 9100 $ops)
	[ "$ours" = "$linux" ] || bp_die "after a reset, $ops: Linux says '$linux', the shim '$ours'"
	echo "ok: after a reset, as on Linux: $ours"
done
# bytes that came before the reset are read first (an error page a server
# sent just before it aborted)
bp_bg bp_peer python3 "$(dirname "$0")/reset_probe.py" server 9101 last-words >"$dir/rst2.log" 2>&1
bp_wait_listening "$dir/rst2.log"
for ops in rrrs qrq prrp; do
	linux=$(bp_peer timeout 20 python3 "$(dirname "$0")/reset_probe.py" probe 127.0.0.1 9101 $ops)
	ours=$(shim timeout 20 python3 "$(dirname "$0")/reset_probe.py" probe "$BP_PEER_IP" 9101 $ops)
	[ "$ours" = "$linux" ] || bp_die "data, then a reset, $ops: Linux says '$linux', the shim '$ours'"
	echo "ok: data, then a reset, as on Linux: $ours"
done
# TCP_INFO and TCP_MAXSEG of a connection that moved 1 MiB, and of a
# listener, as kernel sockets answer them (the same facts, not the values)
bp_bg bp_peer python3 "$(dirname "$0")/tcpinfo_probe.py" sink 9103 >"$dir/ti.log" 2>&1
bp_wait_listening "$dir/ti.log"
linux=$(bp_peer timeout 20 python3 "$(dirname "$0")/tcpinfo_probe.py" probe 127.0.0.1 9103)
ours=$(shim timeout 20 python3 "$(dirname "$0")/tcpinfo_probe.py" probe "$BP_PEER_IP" 9103)
[ "$ours" = "$linux" ] || bp_die "TCP_INFO: Linux says '$linux', the shim '$ours'"
echo "ok: TCP_INFO and TCP_MAXSEG as on Linux: $ours"
# a signal handler runs during a blocking recv(): restarted under
# SA_RESTART, EINTR without it or under SO_RCVTIMEO, as on Linux (signal(7))
bp_bg bp_peer python3 -c "
import socket, threading, time
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('0.0.0.0', 9105))
l.listen(16)
print('listening', flush=True)
def late(c):
    time.sleep(1)
    c.sendall(b'hello')
    time.sleep(0.5)
    c.close()
while True:
    threading.Thread(target=late, args=(l.accept()[0],), daemon=True).start()
" >"$dir/late.log" 2>&1
bp_wait_listening "$dir/late.log"
for mode in restart plain timeo oneshot; do
	linux=$(bp_peer timeout 20 "$BP_BUILD/tests/sig_restart" 127.0.0.1 9105 $mode)
	ours=$(shim timeout 20 "$BP_BUILD/tests/sig_restart" "$BP_PEER_IP" 9105 $mode)
	[ "$ours" = "$linux" ] || bp_die "signal during recv ($mode): Linux says '$linux', the shim '$ours'"
	echo "ok: a signal during a blocking recv ($mode), as on Linux: $ours"
done
# shutdown(SHUT_RD) on a listener wakes a thread blocked in accept()
linux=$(bp_peer timeout 20 python3 "$(dirname "$0")/listen_shut_probe.py" 127.0.0.1)
ours=$(shim timeout 20 python3 "$(dirname "$0")/listen_shut_probe.py" "$BP_IP")
[ "$ours" = "$linux" ] || bp_die "listener shut for reading: Linux says '$linux', the shim '$ours'"
echo "ok: a listener shut for reading, as on Linux: $ours"
# SO_SNDTIMEO bounds a blocking connect to a peer that never answers: Linux
# returns EINPROGRESS when it runs out (net/ipv4/af_inet.c)
bp_peer iptables -I INPUT -p tcp --dport 9104 --syn -j DROP || bp_die "iptables in the peer namespace failed"
got=$(shim timeout 20 python3 -c "
import socket, struct, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack('ll', 0, 500000))
t0 = time.monotonic()
try:
    s.connect(('$BP_PEER_IP', 9104)); print('connected')
except OSError as e:
    print(e.strerror, '%.1f' % (time.monotonic() - t0))")
case $got in
"Operation now in progress 0.5" | "Operation now in progress 0.6") ;;
*) bp_die "blocking connect with SO_SNDTIMEO 0.5 s to a silent peer: '$got'" ;;
esac
echo "ok: blocking connect with SO_SNDTIMEO 0.5 s to a silent peer: $got s"
echo "PASS: python programs over the shim"

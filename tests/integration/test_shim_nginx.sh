#!/usr/bin/env bash
# nginx with its default master/worker processes, unmodified, under the
# shim: the master listens, two forked workers accept.  A 50 MiB file to curl
# byte-exact, then wrk: no socket errors, only 200s, both workers serving.
set -euo pipefail
# shellcheck source=tests/integration/shim_lib.sh source-path=SCRIPTDIR/../..
source "$(dirname "$0")/shim_lib.sh"
shim_setup bpishng 19
shim_require_symbol bypass_shim_fork_support "fork support (nginx's workers are forked)"
dir=$BP_TMP
mkdir -p "$dir/www"
head -c 50M /dev/urandom >"$dir/www/big.bin"
echo "hello from nginx over bypass" >"$dir/www/small.html"
cat >"$dir/nginx.conf" <<CONF
user root;  # workers attach to fastpathd's socket (see [daemon] socket_mode)
worker_processes 2;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  log_format bp '\$pid \$status \$connection';
  access_log $dir/access.log bp;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  sendfile on;     # Debian's default nginx.conf: the shim must handle sendfile()
  tcp_nopush on;
  server { listen 80; root $dir/www; }
}
CONF
shim_run nginx "$dir/nginx.out" nginx -c "$dir/nginx.conf" -p "$dir"
shim_wait_port 80
workers=$({ pgrep -P "$SHIM_PID" || true; } | wc -l)
[ "$workers" -eq 2 ] || bp_die "want 2 nginx workers under the master, found $workers"

bp_peer timeout 120 curl -sSf --max-time 110 -o "$dir/got.bin" "http://$BP_IP/big.bin" ||
	bp_die "curl from the Linux host failed"
cmp -s "$dir/got.bin" "$dir/www/big.bin" ||
	bp_die "50 MiB file differs ($(stat -c %s "$dir/got.bin") bytes received)"
[ "$(sha256sum <"$dir/got.bin")" = "$(sha256sum <"$dir/www/big.bin")" ] || bp_die "sha256 differs"
echo "  50 MiB file: sha256 identical"

out=$(bp_peer timeout 60 wrk -t2 -c16 -d5s "http://$BP_IP/small.html" 2>&1) || bp_die "wrk failed: $out"
echo "$out" | grep -E "Requests/sec|requests in" | sed 's/^/  /'
grep -q "Socket errors" <<<"$out" && bp_die "wrk saw socket errors: $out"
grep -q "Non-2xx" <<<"$out" && bp_die "wrk saw non-200 responses: $out"
n=$(echo "$out" | sed -nE 's/^ *([0-9]+) requests in .*/\1/p')
[ "${n:-0}" -gt 0 ] || bp_die "wrk completed no requests: $out"

# every logged response a 200 (499: a request wrk abandoned when it stopped);
# both workers took connections
bad=$(awk '$2 != 200 && $2 != 499' "$dir/access.log" | head -3)
[ -z "$bad" ] || bp_die "non-200 in nginx's access log: $bad"
per_worker=$(awk '{req[$1]++; if (!seen[$1 " " $3]++) conn[$1]++}
	END {for (p in req) printf "  nginx worker pid %s: %d connections, %d requests\n", p, conn[p], req[p]}' "$dir/access.log")
[ "$(wc -l <<<"$per_worker")" -ge 2 ] || bp_die "one worker served everything: $per_worker"
echo "$per_worker"
if grep -E "\[(alert|crit|emerg)\]" "$dir/error.log"; then
	bp_die "nginx logged alerts (above)"
fi
shim_no_shim_errors "$dir/nginx.out"
echo "PASS: nginx master/worker under the shim"

#!/usr/bin/env bash
# nginx with its default master/worker processes, unmodified, under the
# shim: a 50 MiB file to curl byte-exact, then wrk without socket errors.
set -euo pipefail
source "$(dirname "$0")/shim_lib.sh"
shim_setup bpishng 19
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
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server { listen 80; root $dir/www; }
}
CONF
shim_run "$dir/nginx.out" nginx -c "$dir/nginx.conf" -p "$dir"
bp_wait_port "$BP_IP" 80

want=$(sha256sum <"$dir/www/big.bin" | cut -d' ' -f1)
got=$(bp_peer timeout 120 curl -sf "http://$BP_IP/big.bin" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || bp_die "50 MiB file differs"
echo "  50 MiB file: sha256 identical"
out=$(bp_peer timeout 60 wrk -t2 -c16 -d5s "http://$BP_IP/small.html" 2>&1)
echo "$out" | grep -E "Requests/sec|requests in" | sed 's/^/  /'
echo "$out" | grep -q "Socket errors" && bp_die "wrk saw socket errors: $out"
echo "$out" | grep -q "Non-2xx" && bp_die "wrk saw non-200 responses: $out"
echo "$out" | grep -q "requests in" || bp_die "wrk did not run: $out"
echo "PASS: nginx master/worker under the shim"

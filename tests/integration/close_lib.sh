# shellcheck shell=bash
# Helpers for the data-at-close tests (test_close_no_loss.sh,
# test_shim_close.sh): senders on the bypass host write a stream and exit at
# once; close_sink.py on the Linux peer records the length, sha256 and end
# (FIN or RST) of every connection it accepts.  Call after the topology and
# fastpathd are up (BP_TMP set).

# the sizes every round sends: 1 byte to 64 MiB, around segment (1460) and
# ring (256 KiB) boundaries, where a lost tail would hide
CL_SIZES=(1 2 100 1460 1461 4096 65536 65537 200000 262143 262144 262145
	524288 1000003 4194304 8388615 16777216 33554432 67108864)
CL_N=0    # connections the sink has accepted so far
# the interpreter itself: a version manager's wrapper script (pyenv) costs
# seconds per start on a loaded machine
CL_PY=$(python3 -c 'import sys; print(sys.executable)')
CL_OK=0   # transfers verified

# cl_setup PORT: 64 MiB of random data, the sha256 of each size's prefix,
# and the sink listening on the Linux peer
cl_setup() {
	CL_PORT=$1
	CL_DATA=$BP_TMP/close-data
	CL_OUT=$BP_TMP/close-sink.out
	head -c 64M /dev/urandom >"$CL_DATA"
	declare -gA CL_SHA
	local sz
	for sz in "${CL_SIZES[@]}"; do
		CL_SHA[$sz]=$(head -c "$sz" "$CL_DATA" | sha256sum | cut -d' ' -f1)
	done
	: >"$CL_OUT"
	bp_bg bp_peer "$CL_PY" "$(dirname "${BASH_SOURCE[0]}")/close_sink.py" "$CL_PORT" "$CL_OUT"
	bp_wait_peer_listen "$CL_PORT"
}

# cl_file SIZE: the first SIZE bytes of the data in a file of their own
# (for senders that open a file); prints its path
cl_file() {
	head -c "$1" "$CL_DATA" >"$BP_TMP/close-cur"
	echo "$BP_TMP/close-cur"
}

# cl_next LABEL: wait (120 s at most) for the sink's verdict on the next
# connection: CL_LINE="<bytes> <sha256> eof|reset|timeout"
cl_next() {
	local end=$((SECONDS + 120))
	CL_N=$((CL_N + 1))
	while [ "$(wc -l <"$CL_OUT")" -lt "$CL_N" ]; do
		[ "$SECONDS" -lt "$end" ] || bp_die "$1: the Linux receiver saw no end of connection $CL_N within 120 s"
		sleep 0.05
	done
	CL_LINE=$(sed -n "${CL_N}p" "$CL_OUT")
}

# cl_check LABEL SIZE: the sink's verdict on the next connection, compared
# with SIZE bytes of the data
cl_check() {
	local label=$1 sz=$2 n sha how
	cl_next "$label"
	read -r n sha how <<<"$CL_LINE"
	if [ "$n" != "$sz" ] || [ "$sha" != "${CL_SHA[$sz]}" ] || [ "$how" != eof ]; then
		bp_die "$label: sent $sz bytes, the Linux receiver got $n ending with $how, not FIN" \
			"(sha256 $([ "$sha" = "${CL_SHA[$sz]}" ] && echo same || echo different))"
	fi
	CL_OK=$((CL_OK + 1))
}

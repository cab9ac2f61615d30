// SPDX-License-Identifier: MIT
/*
 * shim_tcpinfo.c - getsockopt(TCP_INFO) and TCP_MAXSEG on bypass sockets,
 * from what the daemon knows of the connection (bp_flow_stats()): iperf3
 * reads its retransmissions, RTT and window this way, nginx its $tcpinfo_*.
 *
 * Linux's struct tcp_info (linux/tcp.h, the kernel's full layout; glibc's
 * netinet/tcp.h has an older prefix of it, so this file includes only the
 * former).  Like Linux, as many bytes as the caller has room for are
 * copied and *len says how many.  Fields bypass does not track stay 0.
 */
#include <errno.h>
#include <string.h>
#include <linux/tcp.h>

#include "shim.h"

/* TCP states as Linux numbers them (include/net/tcp_states.h) */
static const struct { const char *name; uint8_t linux_state; } states[] = {
	{ "established", 1 }, { "syn-sent", 2 }, { "syn-recv", 3 }, { "fin-wait-1", 4 },
	{ "fin-wait-2", 5 }, { "time-wait", 6 }, { "closed", 7 }, { "close-wait", 8 },
	{ "last-ack", 9 }, { "closing", 11 },
};
#define LINUX_TCP_CLOSE 7
#define LINUX_TCP_LISTEN 10
#define LINUX_TCP_MSS_DEFAULT 536 /* what Linux says before the handshake */

static uint8_t linux_state(const char *name)
{
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (!strcmp(states[i].name, name))
			return states[i].linux_state;
	return LINUX_TCP_CLOSE;
}

/* the connection's stats, or 0 if the daemon cannot tell (gone, listener) */
static int stats_of(struct shim_sock *s, struct bp_flow_stats *st)
{
	struct bp_ctx *c = shim_ctx();
	if (!c || s->listener || s->h < 0)
		return -ENOTCONN;
	return bp_flow_stats(c, s->h, st);
}

/**
 * shim_tcp_info - getsockopt(IPPROTO_TCP, TCP_INFO) on bypass socket @s,
 * NULL for a listener not converted yet (it listens as far as the program
 * can tell).  Return: 0, or -1 with errno.
 */
int shim_tcp_info(struct shim_sock *s, void *val, socklen_t *len)
{
	struct tcp_info ti;
	struct bp_flow_stats st;

	if (!val || !len) {
		errno = EFAULT;
		return -1;
	}
	memset(&ti, 0, sizeof(ti));
	int r = !s || s->listener ? 0 : stats_of(s, &st);
	if (r == -ENOENT || r == -EBADF || r == -ENOTCONN) {
		ti.tcpi_state = LINUX_TCP_CLOSE; /* the daemon no longer lists it */
	} else if (r) {
		errno = -r; /* no answer (ETIMEDOUT ...): say so, never "closed" */
		return -1;
	} else if (!s || s->listener) {
		ti.tcpi_state = s && s->listen_shut ? LINUX_TCP_CLOSE : LINUX_TCP_LISTEN;
	} else {
		uint32_t mss = st.mss ? st.mss : LINUX_TCP_MSS_DEFAULT;

		ti.tcpi_state = linux_state(st.state);
		ti.tcpi_rto = st.rto_ms * 1000;
		ti.tcpi_snd_mss = ti.tcpi_rcv_mss = ti.tcpi_advmss = mss;
		/* two counters read one after the other: never wrap */
		ti.tcpi_unacked = st.bytes_sent > st.bytes_acked ?
			(uint32_t)((st.bytes_sent - st.bytes_acked + mss - 1) / mss) : 0;
		ti.tcpi_rtt = st.srtt_us;
		ti.tcpi_rttvar = st.rttvar_us;
		ti.tcpi_snd_cwnd = (st.cwnd + mss - 1) / mss;
		ti.tcpi_snd_ssthresh = 0x7fffffff; /* Linux's "infinite": not tracked */
		ti.tcpi_total_retrans = st.retrans;
		ti.tcpi_pacing_rate = st.pacing_bps ? st.pacing_bps / 8 : ~0ull;
		ti.tcpi_max_pacing_rate = ~0ull;
		ti.tcpi_bytes_acked = st.bytes_acked;
		ti.tcpi_bytes_received = st.bytes_received;
		ti.tcpi_bytes_sent = st.bytes_sent;
		ti.tcpi_notsent_bytes = (uint32_t)(st.tx_queue > st.bytes_sent - st.bytes_acked ?
			st.tx_queue - (st.bytes_sent - st.bytes_acked) : 0);
		ti.tcpi_snd_wnd = st.peer_wnd;
	}
	socklen_t n = *len < sizeof(ti) ? *len : (socklen_t)sizeof(ti);
	memcpy(val, &ti, n);
	*len = n;
	return 0;
}

/**
 * shim_tcp_congestion - TCP_CONGESTION on bypass socket @s: the algorithm
 * the daemon runs for the connection ("dctcp", "cubic" ...); for a
 * listener, the daemon's default, as "" would be for Linux's.
 */
int shim_tcp_congestion(struct shim_sock *s, void *val, socklen_t *len)
{
	struct bp_flow_stats st;
	char name[16] = "";

	if (!val || !len) {
		errno = EFAULT;
		return -1;
	}
	if (!stats_of(s, &st))
		memcpy(name, st.cc, sizeof(name));
	/* Linux copies up to its name size (16), NUL-padded */
	socklen_t n = *len < sizeof(name) ? *len : (socklen_t)sizeof(name);
	memcpy(val, name, n);
	*len = n;
	return 0;
}

/** shim_tcp_maxseg - TCP_MAXSEG on bypass socket @s: the connection's MSS. */
int shim_tcp_maxseg(struct shim_sock *s)
{
	struct bp_flow_stats st;

	return !stats_of(s, &st) && st.mss ? (int)st.mss : LINUX_TCP_MSS_DEFAULT;
}

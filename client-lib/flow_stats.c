// SPDX-License-Identifier: MIT
/*
 * flow_stats.c - what the daemon knows of one of our connections (RTT,
 * congestion window, MSS, retransmissions): the shim's TCP_INFO and
 * TCP_MAXSEG.
 *
 * The app's region holds positions, not the daemon's TCP state, so this
 * asks the slowpath on the control socket, with the request `bypassctl
 * flows sport P dport Q` sends, and picks our own flow out of the reply
 * (this app, these addresses).  A round trip to the slowpath: for
 * occasional questions, never the data path.  Requests from several
 * threads take turns on the socket (one outstanding at a time), and a
 * daemon that does not answer within ASK_TIMEOUT_MS fails the call
 * instead of hanging it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "bp_internal.h"
#include "ctl_wire.h"

#define ASK_TIMEOUT_MS 2000
#define ASK_PAGES 8 /* a daemon with more than 8 * 256k flow ids: give up */

static pthread_mutex_t ask_lock = PTHREAD_MUTEX_INITIALIZER;

/* one FlowsRequest and its reply; the caller frees *@out */
static int ask(struct bp_ctx *ctx, Bypass__FlowsRequest *req, Bypass__CtlMsg **out)
{
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	struct pollfd p = { .fd = ctx->sock_fd, .events = POLLIN };
	int r;

	m.msg_case = BYPASS__CTL_MSG__MSG_FLOWS_REQ;
	m.flows_req = req;
	r = ctl_send(ctx->sock_fd, &m, NULL, 0);
	while (!r) {
		r = poll(&p, 1, ASK_TIMEOUT_MS);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return -errno;
		r = ctl_recv(ctx->sock_fd, out, NULL, NULL, 0);
		if (r)
			return r;
		if ((*out)->msg_case == BYPASS__CTL_MSG__MSG_FLOWS_REPLY && (*out)->flows_reply)
			return 0;
		bypass__ctl_msg__free_unpacked(*out, NULL); /* not ours: nothing else is asked */
	}
	return r;
}

static void copy_stats(const Bypass__FlowInfo *f, struct bp_flow_stats *st)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->state, sizeof(st->state), "%s", f->state);
	st->mss = f->mss;
	st->cwnd = f->cwnd;
	st->srtt_us = f->srtt_us;
	st->rttvar_us = f->rttvar_us;
	st->rto_ms = f->rto_ms;
	st->retrans = f->retrans;
	st->timeouts = f->timeouts;
	st->rx_queue = f->rx_queue;
	st->tx_queue = f->tx_queue;
	st->peer_wnd = f->peer_wnd;
	st->bytes_acked = f->bytes_acked;
	st->bytes_sent = f->bytes_sent;
	st->bytes_received = f->bytes_received;
	st->pacing_bps = f->pacing_bps;
}

BP_API int bp_flow_stats(struct bp_ctx *ctx, int h, struct bp_flow_stats *st)
{
	Bypass__FlowsRequest req = BYPASS__FLOWS_REQUEST__INIT;
	struct bp_flow_info fi;
	char local[32], remote[32], lip[INET_ADDRSTRLEN], rip[INET_ADDRSTRLEN];
	int r;

	if (!ctx || !st)
		return -EINVAL;
	r = bp_flow_info(ctx, h, &fi);
	if (r)
		return r;
	if (!fi.remote_port)
		return -ENOTCONN; /* a listener: the daemon lists connections */
	inet_ntop(AF_INET, &fi.local_ip, lip, sizeof(lip));
	inet_ntop(AF_INET, &fi.remote_ip, rip, sizeof(rip));
	snprintf(local, sizeof(local), "%s:%u", lip, fi.local_port);
	snprintf(remote, sizeof(remote), "%s:%u", rip, fi.remote_port);
	req.has_sport = req.has_dport = 1;
	req.sport = fi.local_port;
	req.dport = fi.remote_port;

	pthread_mutex_lock(&ask_lock);
	r = -ENOENT;
	for (int page = 0; page < ASK_PAGES; page++) {
		Bypass__CtlMsg *reply = NULL;
		int a = ask(ctx, &req, &reply);
		if (a) {
			r = a;
			break;
		}
		const Bypass__FlowsReply *rep = reply->flows_reply;
		if (rep->status) {
			r = rep->status;
		} else {
			for (size_t i = 0; i < rep->n_flows; i++) {
				const Bypass__FlowInfo *f = rep->flows[i];
				if (f->has_app_id && f->app_id == ctx->hdr->app_id && !f->half_open &&
				    f->local && f->remote && !strcmp(f->local, local) &&
				    !strcmp(f->remote, remote)) {
					copy_stats(f, st);
					r = 0;
					break;
				}
			}
		}
		bool more = !rep->status && r == -ENOENT && rep->next_cursor;
		req.has_cursor = 1;
		req.cursor = rep->next_cursor;
		bypass__ctl_msg__free_unpacked(reply, NULL);
		if (!more)
			break;
	}
	pthread_mutex_unlock(&ask_lock);
	return r;
}

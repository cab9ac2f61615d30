// SPDX-License-Identifier: MIT
/*
 * flow_stats.c - what the daemon knows of one of our connections (RTT,
 * congestion window, MSS, retransmissions): the shim's TCP_INFO and
 * TCP_MAXSEG.
 *
 * The app's region holds positions, not the daemon's TCP state, so this
 * asks the slowpath, as `bypassctl flows` does: on a control connection of
 * its own, opened for the question and closed after the answer.  The app's
 * attach connection is never used: a reply that came late (a timeout, a
 * signal) would be taken for the answer to the next question there, and
 * nothing else on it would need to wait.  The request names the flow's
 * 4-tuple (FlowsRequest.remote_ip, sport, dport), which the daemon looks
 * up instead of scanning its table; the reply is checked against our app
 * id and addresses.  A round trip to the slowpath: for occasional
 * questions, never the data path.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "bp_internal.h"
#include "ctl_wire.h"

#define ASK_TIMEOUT_S 2
/* questions of one process in flight at once: the daemon holds at most a
 * few unanswered connections per uid and drops the oldest beyond that,
 * which could be another process's attach */
#define ASK_MAX_INFLIGHT 4

static int inflight;

static void copy_stats(const Bypass__FlowInfo *f, struct bp_flow_stats *st)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->state, sizeof(st->state), "%s", f->state);
	snprintf(st->cc, sizeof(st->cc), "%s", f->cc ? f->cc : "");
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

/* one FlowsRequest on a fresh connection; the caller frees *@out */
static int ask(const char *path, Bypass__FlowsRequest *req, Bypass__CtlMsg **out)
{
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	struct timeval tv = { .tv_sec = ASK_TIMEOUT_S };
	char err[512];
	int fd, r;

	fd = ctl_client_connect(path, err, sizeof(err));
	if (fd < 0)
		return -ENETDOWN; /* not -ENOENT: that would say the flow is gone */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	m.msg_case = BYPASS__CTL_MSG__MSG_FLOWS_REQ;
	m.flows_req = req;
	r = ctl_send(fd, &m, NULL, 0);
	if (!r)
		r = ctl_recv(fd, out, NULL, NULL, 0);
	close(fd);
	if (r == -EAGAIN)
		return -ETIMEDOUT;
	if (!r && ((*out)->msg_case != BYPASS__CTL_MSG__MSG_FLOWS_REPLY || !(*out)->flows_reply)) {
		bypass__ctl_msg__free_unpacked(*out, NULL);
		return -EPROTO; /* a daemon that does not know the question */
	}
	return r;
}

BP_API int bp_flow_stats(struct bp_ctx *ctx, int h, struct bp_flow_stats *st)
{
	Bypass__FlowsRequest req = BYPASS__FLOWS_REQUEST__INIT;
	Bypass__CtlMsg *reply = NULL;
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
	req.has_sport = req.has_dport = req.has_remote_ip = 1;
	req.sport = fi.local_port;
	req.dport = fi.remote_port;
	req.remote_ip = fi.remote_ip;

	for (int waited_ms = 0; __atomic_add_fetch(&inflight, 1, __ATOMIC_ACQ_REL) >
				ASK_MAX_INFLIGHT; waited_ms++) {
		__atomic_sub_fetch(&inflight, 1, __ATOMIC_ACQ_REL);
		if (waited_ms >= ASK_TIMEOUT_S * 1000)
			return -ETIMEDOUT;
		usleep(1000);
	}
	r = ask(ctx->sock_path, &req, &reply);
	__atomic_sub_fetch(&inflight, 1, __ATOMIC_ACQ_REL);
	if (r)
		return r;
	const Bypass__FlowsReply *rep = reply->flows_reply;
	r = rep->status ? rep->status : -ENOENT;
	for (size_t i = 0; !rep->status && i < rep->n_flows; i++) {
		const Bypass__FlowInfo *f = rep->flows[i];
		/* a daemon older than protocol 1.4 scans instead: its first
		 * page covers a table of up to 256k flows */
		if (f->has_app_id && f->app_id == ctx->hdr->app_id && !f->half_open && f->local &&
		    f->remote && !strcmp(f->local, local) && !strcmp(f->remote, remote)) {
			copy_stats(f, st);
			r = 0;
			break;
		}
	}
	bypass__ctl_msg__free_unpacked(reply, NULL);
	return r;
}

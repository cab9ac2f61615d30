// SPDX-License-Identifier: MIT
/*
 * cmd_flows.c - bypassctl flows [FILTER]... [kill]: connections like
 * ss -tino, and like ss -K resets them.  The daemon answers a page at a
 * time (one reply must fit a control frame); this asks for pages until the
 * end or --limit.  A kill is one request: the daemon resets every match.
 */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "bypassctl.h"

static const char usage[] =
	"usage: bypassctl flows [state STATE] [sport N] [dport N] [port N] [dst IP]\n"
	"                       [tenant NAME] [limit N] [page N] [kill] [--json]\n"
	"  every connection, like ss -tino: state, local and remote address, tenant,\n"
	"  app pid, the timer it waits on (as ss -o: on, persist, keepalive,\n"
	"  timewait; when it fires; its backoffs), and for established flows cwnd,\n"
	"  mss, srtt/rttvar, rto, retransmissions (fast retransmits + timeouts),\n"
	"  bytes acked/received, receive and send queues, pacing rate, congestion\n"
	"  control, core.\n"
	"  STATE (ss's names): established, syn-sent, syn-recv, fin-wait-1,\n"
	"  fin-wait-2, time-wait, close-wait, last-ack, closing, closed,\n"
	"  connected (all but syn-* and closed), all (the default).\n"
	"  sport/dport: local/remote port; port: either; dst: the peer's address.\n"
	"  limit N: show at most N, then say how many more match.  page N: at most N\n"
	"  flows per request (default: as many as one reply holds).  Half-open\n"
	"  passive connections (SYN received, SYN-ACK sent, the SYN queue) are listed\n"
	"  in state syn-recv with their tenant, addresses, the listening app and\n"
	"  SYN-ACK resends (retrans), as ss lists SYN-RECV.  Non-admins see their own\n"
	"  tenant's flows only.\n"
	"  e.g. bypassctl flows state established dport 6379\n"
	"  kill: reset every connection the filters select, as ss -K: RST to the\n"
	"  peer, ECONNABORTED to the app (a connect() in progress fails so); lists\n"
	"  them as they were (one reply's worth; limit and page bound the list, not\n"
	"  the kill) and says how many.  Needs a filter (`state connected`\n"
	"  selects every connection) and root, fastpathd's user or [daemon]\n"
	"  admin_group.  Half-open SYN-queue entries are dropped (no RST, as Linux);\n"
	"  TIME_WAIT is left alone.\n"
	"  e.g. bypassctl flows dport 6379 state established kill\n"
	"  --json: {flows: [{id, state, local, remote, tenant, pid, app_id, uid,\n"
	"  cwnd, mss, srtt_us, rttvar_us, rto_ms, retrans, timeouts, bytes_acked,\n"
	"  bytes_sent, bytes_received, rx_queue, tx_queue, pacing_bps, cc, core,\n"
	"  peer_wnd, timer, timer_ms, timer_retries, half_open}], matched, shown,\n"
	"  killed}  (killed: with kill only; timer is off if none runs;\n"
	"  fields of flows not established are absent when they do not exist yet;\n"
	"  half_open: true for syn-recv entries of the SYN queue, whose id is only a\n"
	"  page cursor)\n";

static void flow_json(const Bypass__FlowInfo *f)
{
	j_obj(NULL);
	j_u64("id", f->id);
	j_str("state", f->state);
	j_str("local", f->local);
	j_str("remote", f->remote);
	j_str("tenant", f->tenant);
	if (f->has_pid) {
		j_i64("pid", f->pid);
		j_u64("app_id", f->app_id);
		j_u64("uid", f->uid);
	}
	if (f->has_cwnd) {
		j_u64("cwnd", f->cwnd);
		j_u64("mss", f->mss);
		j_u64("srtt_us", f->srtt_us);
		j_u64("rttvar_us", f->rttvar_us);
	}
	j_u64("rto_ms", f->rto_ms);
	if (f->has_retrans)
		j_u64("retrans", f->retrans);
	j_u64("timeouts", f->timeouts);
	if (f->has_bytes_acked) {
		j_u64("bytes_acked", f->bytes_acked);
		j_u64("bytes_sent", f->bytes_sent);
		j_u64("bytes_received", f->bytes_received);
		j_u64("rx_queue", f->rx_queue);
		j_u64("tx_queue", f->tx_queue);
		j_u64("pacing_bps", f->pacing_bps);
		j_u64("core", f->core);
		j_u64("peer_wnd", f->peer_wnd);
	}
	j_str("cc", f->cc);
	if (f->timer) {
		j_str("timer", f->timer);
		j_u64("timer_ms", f->timer_ms);
		j_u64("timer_retries", f->timer_retries);
	}
	j_bool("half_open", f->half_open);
	j_end_obj();
}

/* ss -tino: a line of the tuple, then an indented line of the details */
static void flow_text(const Bypass__FlowInfo *f)
{
	char r[24];

	printf("%-12s %-6u %-6u %-22s %-22s tenant:%s", f->state, f->has_rx_queue ? f->rx_queue : 0,
	       f->has_tx_queue ? f->tx_queue : 0, f->local, f->remote, f->tenant ? f->tenant : "-");
	if (f->has_pid)
		printf(" pid:%d uid:%u", f->pid, f->uid);
	printf("\n\t");
	if (f->half_open) {
		/* no flow yet: only what the SYN queue knows */
		printf(" half-open (SYN queue) synack_resends:%u\n", f->retrans);
		return;
	}
	if (f->cc)
		printf(" %s", f->cc);
	if (f->has_cwnd)
		printf(" mss:%u cwnd:%u rtt:%.3f/%.3f", f->mss, f->cwnd, f->srtt_us / 1000.0,
		       f->rttvar_us / 1000.0);
	/* as ss -o: which timer, when it fires, its backoffs (or probes) */
	if (f->timer && strcmp(f->timer, "off"))
		printf(" timer:(%s,%ums,%u)", f->timer, f->timer_ms, f->timer_retries);
	printf(" rto:%u", f->rto_ms);
	if (f->has_retrans)
		printf(" retrans:%u timeouts:%u", f->retrans, f->timeouts);
	if (f->has_bytes_acked)
		printf(" bytes_acked:%llu bytes_sent:%llu bytes_received:%llu pacing_rate:%s"
		       " snd_wnd:%u core:%u", (unsigned long long)f->bytes_acked,
		       (unsigned long long)f->bytes_sent, (unsigned long long)f->bytes_received,
		       cli_rate(r, sizeof(r), f->pacing_bps), f->peer_wnd, f->core);
	printf(" id:%u\n", f->id);
}

/** cmd_flows - bypassctl flows. */
int cmd_flows(int argc, char **argv)
{
	Bypass__FlowsRequest req = BYPASS__FLOWS_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;
	uint32_t limit = UINT32_MAX, shown = 0, matched = 0, killed = 0;
	struct in_addr dst;
	int rc = cli_opts(&argc, argv, usage);

	if (rc >= 0)
		return rc;
	for (int i = 1; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(k, "kill")) {
			req.has_kill = req.kill = 1;
			i--; /* a word alone, no value */
			continue;
		}
		if (!v)
			return cli_usage_error(usage, "flows: '%s' needs a value", k);
		if (!strcmp(k, "state"))
			req.state = (char *)v;
		else if (!strcmp(k, "sport") && cli_u32(v, 1, 65535, &req.sport))
			req.has_sport = 1;
		else if (!strcmp(k, "dport") && cli_u32(v, 1, 65535, &req.dport))
			req.has_dport = 1;
		else if (!strcmp(k, "port") && cli_u32(v, 1, 65535, &req.port))
			req.has_port = 1;
		else if (!strcmp(k, "tenant"))
			req.tenant = (char *)v;
		else if (!strcmp(k, "dst") && inet_pton(AF_INET, v, &dst) == 1)
			req.has_remote_ip = 1, req.remote_ip = dst.s_addr;
		else if (!strcmp(k, "limit") && cli_u32(v, 0, UINT32_MAX, &limit))
			;
		else if (!strcmp(k, "page") && cli_u32(v, 1, UINT32_MAX, &req.max))
			req.has_max = 1;
		else
			return cli_usage_error(usage, "flows: bad filter '%s %s'", k, v);
	}
	m.msg_case = BYPASS__CTL_MSG__MSG_FLOWS_REQ;
	m.flows_req = &req;
	for (bool first = true;; first = false) {
		rc = cli_ask(&m, BYPASS__CTL_MSG__MSG_FLOWS_REPLY, &reply);
		if (rc && first)
			return rc;
		if (rc)
			break;
		const Bypass__FlowsReply *r = reply->flows_reply;
		if (r->status) {
			rc = cli_refused("flows", r->status, r->error);
			bypass__ctl_msg__free_unpacked(reply, NULL);
			if (first)
				return cli_done(rc);
			break;
		}
		/* cli_ask() noted the version the daemon's reply stated */
		bool old = cli_daemon_major == 1 && cli_daemon_minor < 5;
		bool dst_alone = req.has_remote_ip && !(req.has_sport && req.has_dport);
		if ((req.kill && !r->has_killed) || (dst_alone && old)) {
			/* a daemon before protocol 1.5 skips the unknown field
			 * (and filters by dst only with both ports): it would
			 * only list, or list too much; say so, do not pretend */
			bypass__ctl_msg__free_unpacked(reply, NULL);
			fprintf(stderr, "bypassctl: flows %s: this fastpathd cannot %s (control "
				"protocol before 1.5): upgrade fastpathd\n", req.kill ? "kill" : "dst",
				req.kill ? "reset connections" : "filter by the peer's address");
			return cli_done(1);
		}
		killed = r->killed;
		if (first && cli_json) {
			j_obj(NULL);
			j_arr("flows");
		} else if (first) {
			printf("%-12s %-6s %-6s %-22s %-22s %s\n", "State", "Recv-Q", "Send-Q",
			       "Local Address:Port", "Peer Address:Port", "Process");
		}
		matched = r->matched;
		for (size_t i = 0; i < r->n_flows && shown < limit; i++, shown++) {
			if (cli_json)
				flow_json(r->flows[i]);
			else
				flow_text(r->flows[i]);
		}
		req.has_cursor = 1;
		req.cursor = r->next_cursor;
		bypass__ctl_msg__free_unpacked(reply, NULL);
		if (!req.cursor || shown >= limit)
			break;
	}
	if (cli_json) {
		j_end_arr();
		j_u64("matched", matched);
		j_u64("shown", shown);
		if (req.kill)
			j_u64("killed", killed);
		j_end_obj();
		j_end();
		/* a later page's failure leaves valid JSON on stdout, the reason on stderr */
	} else if (!rc && req.kill) {
		printf("killed %u connection%s", killed, killed == 1 ? "" : "s");
		if (killed > shown)
			printf(" (%u not listed: one reply's worth, or limit)", killed - shown);
		printf("\n");
	} else if (!rc && matched > shown) {
		printf("(%u more flows match; not shown because of limit %u)\n", matched - shown,
		       limit);
	}
	return cli_done(rc);
}

// SPDX-License-Identifier: MIT
/*
 * metrics.c - every counter the daemon keeps, gathered into one series
 * list (metrics.h) on the slowpath thread, and bypassctl metrics.
 *
 * Names follow Prometheus conventions: bypass_ prefix, base units
 * (_bytes, ratios 0..1), counters end in _total, the port, core and tenant
 * as labels.  The fastpath's counters keep the names bypassctl status
 * shows (fastpathd/stats.c), so a counter added there appears here too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "sp_internal.h"
#include "ctl_sock.h"
#include "metrics.h"
#include "metrics_sp.h"

#define C MT_COUNTER
#define G MT_GAUGE

/* what each fastpath counter (enum dp_counter) means, for HELP */
static const char *const dpc_help[DPC_MAX] = {
	[DPC_RX_PKTS] = "Frames received from the port.",
	[DPC_TX_PKTS] = "Frames sent on the port.",
	[DPC_RX_BYTES] = "TCP payload bytes received.",
	[DPC_TX_BYTES] = "TCP payload bytes sent (retransmissions included).",
	[DPC_RX_DROP_BAD] = "Frames dropped as invalid (by reason: bypass_rx_invalid_packets_total).",
	[DPC_RX_DROP_NOFLOW] = "Segments for no known connection.",
	[DPC_RX_OOO] = "Out-of-order segments held.",
	[DPC_RX_OOO_DROP] = "Out-of-order segments that could not be held.",
	[DPC_RX_DUP] = "Fully duplicate segments.",
	[DPC_TX_RETX] = "Segments retransmitted.",
	[DPC_FAST_RETX] = "Fast retransmissions.",
	[DPC_LOST_RETX] = "Times a recovery found its resends lost and resent its holes again.",
	[DPC_RTO] = "Retransmission timeouts (zero-window probes not counted).",
	[DPC_RTO_SPURIOUS] = "Retransmission timeouts an ACK showed needless (F-RTO).",
	[DPC_ARP_REPLIES] = "ARP replies sent.",
	[DPC_ICMP_ECHO] = "ICMP echo replies sent.",
	[DPC_APP_BAD_ENTRY] = "Malformed entries in app queues.",
	[DPC_EVQ_OVERFLOW] = "App event queue overflows.",
	[DPC_EV_COALESCED] = "Events not posted because the flow's previous event was still unread.",
	[DPC_TX_NOMBUF] = "Frames not sent for want of an mbuf.",
	[DPC_TX_FULL] = "Frames dropped because the transmit backlog was full.",
	[DPC_TX_DEFERRED] = "Frames the port refused, sent later from the backlog.",
	[DPC_CHALLENGE_ACK] = "RFC 5961 challenge ACKs sent.",
	[DPC_SYN_COOKIE_SENT] = "SYN-ACKs carrying a SYN cookie.",
	[DPC_SYN_COOKIE_OK] = "Connections a valid SYN cookie created.",
	[DPC_SYN_COOKIE_BAD] = "ACKs with a forged or expired SYN cookie.",
	[DPC_SYN_DROPPED] = "SYNs dropped (bogus source, every backlog full).",
	[DPC_FORWARDED] = "Frames received on one core's queue for another core.",
	[DPC_RX_FWD_IN] = "Frames another core passed on and this one kept.",
	[DPC_RX_KEPT] = "Frames from a core's own queue it did not pass on.",
	[DPC_PARKED] = "Frames and messages held while their bucket moved.",
	[DPC_PARK_DROP] = "Frames dropped because too many waited for a move.",
	[DPC_FLOWS_MOVED] = "Flows that changed core.",
	[DPC_WRONG_CORE] = "Flows about to be processed off their core (must stay 0).",
	[DPC_TX_TSO] = "Frames of several segments the port segmented (TSO).",
	[DPC_TX_PREPARE_DROP] = "Frames the port's tx_prepare refused; must stay 0.",
	[DPC_SP_BACKLOG] = "Slowpath messages that waited on their core for room in its ring.",
	[DPC_SP_OUTBOX] = "Messages the slowpath held back while a core's inbox was full.",
	[DPC_SP_TX_DROP] = "Frames the slowpath dropped while the fastpath's inbox was full.",
	[DPC_PORT_WAKEUPS] = "Fastpath sleeps ended by the port (rx interrupt or the PMD's socket).",
	[DPC_ICMP_ERR] = "ICMP errors (unreachable, time exceeded, parameter problem) about our TCP.",
	[DPC_ICMP_ERR_LIMITED] = "ICMP errors dropped: more than 10,000 a second on a core.",
	[DPC_PMTU_LOWERED] =
		"Path MTU news connections took up: a smaller MSS, DF cleared, or a resend after following.",
	[DPC_ICMP_CONNECT_FAILED] = "Connects that an ICMP error ended.",
	[DPC_ICMP_ERR_IGNORED] =
		"ICMP errors ignored: no segment of ours in flight, no smaller MTU, or past the handshake.",
	[DPC_RX_DROP_OTHERHOST] = "Frames to another host's unicast MAC (not ours).",
	[DPC_NEIGH_FOLLOWED] = "Connections that followed their next hop to a new MAC.",
	[DPC_ICMP_HALF_OPEN_DROPPED] =
		"Half-open connections an ICMP error about our SYN-ACK ended.",
	[DPC_IP_FRAGS] = "IP fragments addressed to us, sent to the slowpath to reassemble.",
	[DPC_IP_FRAGS_LIMITED] =
		"IP fragments dropped: over the 64,000 a second the cores share (bursts of 1,024).",
	[DPC_IP_REASM_OK] = "IP datagrams reassembled from fragments and taken.",
	[DPC_IP_REASM_FAILED] =
		"IP datagrams dropped in reassembly: overlap, too long, timed out, evicted, or not ours.",
};
static struct mt_family dpc_fam[DPC_MAX];
static char dpc_name[DPC_MAX][64];

static const struct mt_family
	f_info = { "bypass_info", "The daemon's version (value 1).", G, MT_GLOBAL, "version" },
	f_invalid = { "bypass_rx_invalid_packets_total", "Frames dropped as invalid, by reason.", C, MT_GLOBAL, "reason" },
	f_apps = { "bypass_apps", "Attached apps.", G, MT_GLOBAL, NULL },
	f_flows = { "bypass_flows", "Connections by state.", G, MT_GLOBAL, "state" },
	f_timed = { "bypass_flows_timed", "Connections waiting on a timer.", G, MT_GLOBAL, NULL },
	f_half_open = { "bypass_half_open", "Half-open connections in the SYN queue.", G, MT_GLOBAL, NULL },
	f_mbufs = { "bypass_mbufs", "Mbufs in the pool.", G, MT_GLOBAL, NULL },
	f_mbufs_free = { "bypass_mbufs_available", "Mbufs free in the pool.", G, MT_GLOBAL, NULL },
	f_ctl_pending = { "bypass_ctl_pending_connections", "Control connections not attached.", G, MT_GLOBAL, NULL },
	f_ctl_acc = { "bypass_ctl_accepted_total", "Control connections accepted.", C, MT_GLOBAL, NULL },
	f_ctl_evict = { "bypass_ctl_evicted_total", "Control connections closed to make room under the caps.", C, MT_GLOBAL, NULL },
	f_ctl_ftmo = { "bypass_ctl_frame_timeouts_total", "Control frames that did not complete in time.", C, MT_GLOBAL, NULL },
	f_region_lost = { "bypass_apps_region_lost_total",
			  "Apps let go: their huge-page region lost pages.", C, MT_GLOBAL, NULL },
	f_ctl_itmo = { "bypass_ctl_idle_timeouts_total", "Control connections closed idle.", C, MT_GLOBAL, NULL },
	f_ctl_slow = { "bypass_ctl_slow_readers_total", "Control clients dropped for not reading replies.", C, MT_GLOBAL, NULL },
	f_ctl_bad = { "bypass_ctl_bad_frames_total", "Control frames that did not decode.", C, MT_GLOBAL, NULL },
	f_ctl_aerr = { "bypass_ctl_accept_errors_total", "Control accepts that failed (EMFILE, ENFILE, ENOMEM).", C, MT_GLOBAL, NULL },
	f_http_req = { "bypass_metrics_http_requests_total", "Requests to the metrics listener, by outcome.", C, MT_GLOBAL, "code" },
	f_http_drop = { "bypass_metrics_http_dropped_total", "Metrics connections closed early, by reason.", C, MT_GLOBAL, "reason" },
	f_omitted = { "bypass_metrics_tenants_omitted", "Tenants left out of this reply for lack of room.", G, MT_GLOBAL, NULL },
	f_cores_active = { "bypass_cores_active", "Fastpath cores that own flows.", G, MT_GLOBAL, NULL },
	f_cores = { "bypass_cores", "Fastpath cores started ([fastpath] cores).", G, MT_GLOBAL, NULL },
	f_core_rx = { "bypass_core_rx_packets_total", "Frames processed by the core.", C, MT_CORE, NULL },
	f_core_tx = { "bypass_core_tx_packets_total", "Frames sent by the core.", C, MT_CORE, NULL },
	f_core_flows = { "bypass_core_flows", "Flows the core owns.", G, MT_CORE, NULL },
	f_core_busy = { "bypass_core_busy_ratio", "Smoothed busy fraction of the core (0..1).", G, MT_CORE, NULL },
	f_port_info = { "bypass_port_info", "The DPDK device behind the port (value 1).", G, MT_PORT, "device" },
	f_port_rxp = { "bypass_port_rx_packets_total", "Frames the port received (PMD).", C, MT_PORT, NULL },
	f_port_txp = { "bypass_port_tx_packets_total", "Frames the port sent (PMD).", C, MT_PORT, NULL },
	f_port_rxb = { "bypass_port_rx_bytes_total", "Bytes the port received (PMD).", C, MT_PORT, NULL },
	f_port_txb = { "bypass_port_tx_bytes_total", "Bytes the port sent (PMD).", C, MT_PORT, NULL },
	f_port_miss = { "bypass_port_rx_missed_packets_total", "Frames the port dropped: queues full.", C, MT_PORT, NULL },
	f_port_rxerr = { "bypass_port_rx_errors_total", "Erroneous frames received.", C, MT_PORT, NULL },
	f_port_nombuf = { "bypass_port_rx_no_mbuf_total", "Receive mbuf allocation failures.", C, MT_PORT, NULL },
	f_port_txerr = { "bypass_port_tx_errors_total", "Frames the port failed to send.", C, MT_PORT, NULL },
	f_t_cfg = { "bypass_tenant_configured", "1 while the tenant is configured, 0 once removed with flows still closing.", G, MT_TENANT, NULL },
	f_t_apps = { "bypass_tenant_apps", "Attached apps of the tenant.", G, MT_TENANT, NULL },
	f_t_max_apps = { "bypass_tenant_max_apps", "The tenant's app limit (0 = none).", G, MT_TENANT, NULL },
	f_t_flows = { "bypass_tenant_flows", "Connections of the tenant (half-open not included).", G, MT_TENANT, NULL },
	f_t_max_flows = { "bypass_tenant_max_flows", "The tenant's connection limit (0 = none).", G, MT_TENANT, NULL },
	f_t_half = { "bypass_tenant_half_open", "Half-open connections on the tenant's listeners.", G, MT_TENANT, NULL },
	f_t_buf = { "bypass_tenant_buffer_bytes", "Flow buffer bytes the tenant holds.", G, MT_TENANT, NULL },
	f_t_max_buf = { "bypass_tenant_max_buffer_bytes", "The tenant's buffer limit (0 = none).", G, MT_TENANT, NULL },
	f_t_txb = { "bypass_tenant_tx_payload_bytes_total", "TCP payload bytes the tenant sent.", C, MT_TENANT, NULL },
	f_t_rxb = { "bypass_tenant_rx_payload_bytes_total", "TCP payload bytes the tenant received.", C, MT_TENANT, NULL },
	f_t_txs = { "bypass_tenant_tx_segments_total", "Data segments the tenant sent.", C, MT_TENANT, NULL },
	f_t_rxs = { "bypass_tenant_rx_segments_total", "Data segments the tenant received.", C, MT_TENANT, NULL },
	f_t_thr = { "bypass_tenant_throttled_total", "Times a flow of the tenant waited for its rate or the port.", C, MT_TENANT, NULL },
	f_t_denied = { "bypass_tenant_denied_total", "Requests of the tenant refused, by reason.", C, MT_TENANT, "reason" },
	f_t_rpc = { "bypass_rpc_calls_total", "RPC requests the tenant's sessions received (fastpathd frames them), by method id (other: not named).", C, MT_TENANT, "method" };

/* every family above, for sp_metrics_families() */
static const struct mt_family *const all_families[] = {
	&f_info, &f_invalid, &f_apps, &f_flows, &f_timed, &f_half_open, &f_mbufs, &f_mbufs_free,
	&f_ctl_pending, &f_ctl_acc, &f_ctl_evict, &f_region_lost, &f_ctl_ftmo, &f_ctl_itmo, &f_ctl_slow,
	&f_ctl_bad, &f_ctl_aerr, &f_http_req, &f_http_drop, &f_omitted, &f_cores_active,
	&f_cores, &f_core_rx, &f_core_tx, &f_core_flows, &f_core_busy, &f_port_info,
	&f_port_rxp, &f_port_txp, &f_port_rxb, &f_port_txb, &f_port_miss, &f_port_rxerr,
	&f_port_nombuf, &f_port_txerr, &f_t_cfg, &f_t_apps, &f_t_max_apps, &f_t_flows,
	&f_t_max_flows, &f_t_half, &f_t_buf, &f_t_max_buf, &f_t_txb, &f_t_rxb, &f_t_txs,
	&f_t_rxs, &f_t_thr, &f_t_denied, &f_t_rpc,
};

static const char *const denial_names[SPT_DENY_MAX] = {
	[SPT_DENY_PORT] = "port", [SPT_DENY_CONNECT] = "connect", [SPT_DENY_JOIN] = "join",
	[SPT_DENY_ADOPT] = "adopt", [SPT_DENY_ATTACH] = "refused", [SPT_DENY_APPS] = "apps",
	[SPT_DENY_FLOWS] = "flows", [SPT_DENY_SYN] = "syn", [SPT_DENY_BUF] = "buf",
};

/* the fastpath counters' families, named from dp_counter_name() */
static void dpc_families(void)
{
	if (dpc_fam[0].name)
		return;
	for (int i = 0; i < DPC_MAX; i++) {
		snprintf(dpc_name[i], sizeof(dpc_name[i]), "bypass_%s_total", dp_counter_name(i));
		dpc_fam[i] = (struct mt_family){ dpc_name[i], dpc_help[i] ? dpc_help[i] : "Fastpath counter.",
						 MT_COUNTER, MT_GLOBAL, NULL };
	}
}

/**
 * sp_metrics_families - every family the daemon may report, for tests of
 * the naming rules: up to @max pointers into @out.  Return: how many exist.
 */
size_t sp_metrics_families(const struct mt_family **out, size_t max)
{
	size_t n = 0;

	dpc_families();
	for (int i = 0; i < DPC_MAX; i++, n++)
		if (n < max)
			out[n] = &dpc_fam[i];
	for (size_t i = 0; i < sizeof(all_families) / sizeof(all_families[0]); i++, n++)
		if (n < max)
			out[n] = all_families[i];
	return n;
}

static void collect_global(struct sp *sp, struct mt_set *set)
{
	struct dataplane *dp = sp->dp;

	mt_add(set, &f_info, NULL, BYPASS_VERSION, 1, 0);
	for (int i = 0; i < DPC_MAX; i++)
		mt_add(set, &dpc_fam[i], NULL, NULL, sp_fp_counter(sp, i), 0);
	for (int v = 1; v < PKT_VERDICT_MAX; v++)
		mt_add(set, &f_invalid, NULL, pkt_verdict_name(v), sp_fp_drop_reason(sp, v), 0);
	mt_add(set, &f_apps, NULL, NULL, sp->napps, 0);
	uint64_t by_state[SPS_DELETING + 1] = { 0 };
	for (uint32_t i = 0; i < sp->nconns; i++) {
		uint8_t st = sp->conns[sp->active[i]].state;
		if (st <= SPS_DELETING)
			by_state[st]++;
	}
	mt_add(set, &f_flows, NULL, "handshake",
	       by_state[SPS_ARP_WAIT] + by_state[SPS_SYN_SENT] + by_state[SPS_SYN_RCVD], 0);
	mt_add(set, &f_flows, NULL, "established", by_state[SPS_ESTABLISHED], 0);
	mt_add(set, &f_flows, NULL, "time_wait", by_state[SPS_TIME_WAIT], 0);
	mt_add(set, &f_flows, NULL, "deleting", by_state[SPS_DELETING], 0);
	mt_add(set, &f_timed, NULL, NULL, sp->conn_wheel.nqueued, 0);
	mt_add(set, &f_half_open, NULL, NULL, sp_synq_count(sp), 0);
	if (dp->pool) {
		mt_add(set, &f_mbufs, NULL, NULL, dp->pool->size, 0);
		mt_add(set, &f_mbufs_free, NULL, NULL, rte_mempool_avail_count(dp->pool), 0);
	}
	struct ctl_stats cs;
	sp_ctl_get_stats(sp, &cs);
	mt_add(set, &f_ctl_pending, NULL, NULL, cs.pending, 0);
	mt_add(set, &f_ctl_acc, NULL, NULL, cs.accepted, 0);
	mt_add(set, &f_ctl_evict, NULL, NULL, cs.evicted, 0);
	mt_add(set, &f_region_lost, NULL, NULL, sp->region_lost_apps, 0);
	mt_add(set, &f_ctl_ftmo, NULL, NULL, cs.frame_timeouts, 0);
	mt_add(set, &f_ctl_itmo, NULL, NULL, cs.idle_timeouts, 0);
	mt_add(set, &f_ctl_slow, NULL, NULL, cs.slow_readers, 0);
	mt_add(set, &f_ctl_bad, NULL, NULL, cs.bad_frames, 0);
	mt_add(set, &f_ctl_aerr, NULL, NULL, cs.accept_errors, 0);
	struct sp_metrics_http_stats hs;
	if (sp_metrics_http_stats(sp, &hs) == 0) {
		mt_add(set, &f_http_req, NULL, "200", hs.ok, 0);
		mt_add(set, &f_http_req, NULL, "400", hs.bad_request, 0);
		mt_add(set, &f_http_req, NULL, "404", hs.not_found, 0);
		mt_add(set, &f_http_req, NULL, "405", hs.bad_method, 0);
		mt_add(set, &f_http_req, NULL, "431", hs.too_large, 0);
		mt_add(set, &f_http_drop, NULL, "timeout", hs.timeouts, 0);
		mt_add(set, &f_http_drop, NULL, "evicted", hs.evicted, 0);
		mt_add(set, &f_http_drop, NULL, "refused", hs.refused, 0);
	}
}

static void collect_cores_port(struct sp *sp, struct mt_set *set)
{
	struct dataplane *dp = sp->dp;
	char k_s[12];

	mt_add(set, &f_cores_active, NULL, NULL, sp->cores.active, 0);
	mt_add(set, &f_cores, NULL, NULL, dp->ncores, 0);
	for (uint32_t k = 0; k < dp->ncores; k++) {
		struct sp_fp_core_stat cst = sp_fp_core_stat(sp, k);
		snprintf(k_s, sizeof(k_s), "%u", k);
		mt_add(set, &f_core_rx, k_s, NULL, cst.rx_pkts, 0);
		mt_add(set, &f_core_tx, k_s, NULL, cst.tx_pkts, 0);
		mt_add(set, &f_core_flows, k_s, NULL, cst.flows, 0);
		mt_add(set, &f_core_busy, k_s, NULL, cst.busy_pct, 100);
	}
	struct rte_eth_stats es;
	if (!dp->pool || rte_eth_stats_get(dp->port_id, &es) != 0)
		return;
	snprintf(k_s, sizeof(k_s), "%u", dp->port_id);
	mt_add(set, &f_port_info, k_s, dp->cfg.port_dev, 1, 0);
	mt_add(set, &f_port_rxp, k_s, NULL, es.ipackets, 0);
	mt_add(set, &f_port_txp, k_s, NULL, es.opackets, 0);
	mt_add(set, &f_port_rxb, k_s, NULL, es.ibytes, 0);
	mt_add(set, &f_port_txb, k_s, NULL, es.obytes, 0);
	mt_add(set, &f_port_miss, k_s, NULL, es.imissed, 0);
	mt_add(set, &f_port_rxerr, k_s, NULL, es.ierrors, 0);
	mt_add(set, &f_port_nombuf, k_s, NULL, es.rx_nombuf, 0);
	mt_add(set, &f_port_txerr, k_s, NULL, es.oerrors, 0);
}

/* @rpc: the RPC call counts of every tenant (sp_rpc_sum()), @nrpc rows */
static void collect_tenant(struct sp *sp, struct mt_set *set, uint16_t id,
			   const struct dp_rpc_stat *rpc, int nrpc)
{
	const struct sp_tenant *t = &sp->tenants[id];
	const char *n = t->cfg.name;
	struct dp_tenant_core tc;

	sp_tenant_traffic(sp, id, &tc);
	mt_add(set, &f_t_cfg, n, NULL, t->in_use, 0);
	mt_add(set, &f_t_apps, n, NULL, t->apps, 0);
	mt_add(set, &f_t_max_apps, n, NULL, t->cfg.max_apps, 0);
	mt_add(set, &f_t_flows, n, NULL, t->flows, 0);
	mt_add(set, &f_t_max_flows, n, NULL, t->cfg.max_flows, 0);
	mt_add(set, &f_t_half, n, NULL, t->half_open, 0);
	mt_add(set, &f_t_buf, n, NULL, sp_tenant_buf_bytes(sp, t), 0);
	mt_add(set, &f_t_max_buf, n, NULL, (uint64_t)t->cfg.max_buf_mb << 20, 0);
	mt_add(set, &f_t_txb, n, NULL, tc.tx_bytes, 0);
	mt_add(set, &f_t_rxb, n, NULL, tc.rx_bytes, 0);
	mt_add(set, &f_t_txs, n, NULL, tc.tx_pkts, 0);
	mt_add(set, &f_t_rxs, n, NULL, tc.rx_pkts, 0);
	mt_add(set, &f_t_thr, n, NULL, tc.throttled, 0);
	for (int d = 0; d < SPT_DENY_MAX; d++)
		mt_add(set, &f_t_denied, n, denial_names[d], t->denied[d], 0);
	for (int i = 0; i < nrpc; i++) {
		char m[16];

		if (rpc[i].tenant != id)
			continue;
		if (rpc[i].method == DP_RPC_OTHER)
			snprintf(m, sizeof(m), "other");
		else
			snprintf(m, sizeof(m), "%u", rpc[i].method);
		mt_add(set, &f_t_rpc, n, m, rpc[i].calls, 0);
	}
}

uint32_t sp_metrics_collect(struct sp *sp, struct mt_set *set, int tenant, uint32_t max_tenants)
{
	uint32_t n = sp_tenant_count(sp), taken = 0, omitted = 0;

	DP_ASSERT_SP();
	struct dp_rpc_stat *rpc;
	int nrpc = sp_rpc_sum(sp, &rpc);

	dpc_families();
	collect_global(sp, set);
	collect_cores_port(sp, set);
	for (uint16_t id = 0; id < n; id++) {
		const struct sp_tenant *t = &sp->tenants[id];
		if (!sp_tenant_live(t))
			continue;
		if (tenant >= 0 && id != tenant)
			continue;
		if (taken == max_tenants) {
			omitted++;
			continue;
		}
		collect_tenant(sp, set, id, rpc, nrpc);
		taken++;
	}
	mt_add(set, &f_omitted, NULL, NULL, omitted, 0);
	free(rpc);
	return omitted;
}

/* text per reply frame, whole lines: well under CTL_MAX_FRAME */
#define METRICS_CHUNK (48u * 1024u)
/* what one bypassctl reply may queue (ctl_sock.c drops a client that
 * leaves more than CTL_MAX_OUT unread); about 1.8 KB per tenant */
#define METRICS_CTL_TENANTS 96

/**
 * sp_ctl_metrics - bypassctl metrics on @cc: the Prometheus text, in
 * pieces of whole lines, the last flagged.  An admin (sp_ctl_admin())
 * sees every tenant; anyone else the global series and its own tenant's.
 */
void sp_ctl_metrics(struct sp *sp, struct ctl_conn *cc, const Bypass__MetricsRequest *req)
{
	struct mt_set set = { 0 };
	struct mt_buf out = { 0 };
	int tenant = -1;

	if (!sp_ctl_admin(cc)) {
		tenant = sp_tenant_lookup(sp, &cc->ident); /* a read, not an attach refused */
		if (tenant < 0)
			tenant = DP_MAX_TENANTS; /* none of them */
	}
	sp_metrics_collect(sp, &set, tenant, METRICS_CTL_TENANTS);
	mt_render_prom(&set, &out);
	bool oom = set.oom || out.oom || !out.p;
	mt_set_free(&set);

	Bypass__MetricsReply rep = BYPASS__METRICS_REPLY__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_METRICS_REPLY;
	m.metrics_reply = &rep;
	rep.has_last = 1;
	if (oom) {
		rep.status = -ENOMEM;
		rep.error = (char *)"the daemon is out of memory; try again later";
		rep.last = 1;
		sp_ctl_send(cc, &m, NULL, 0);
		mt_buf_free(&out);
		return;
	}
	size_t off = 0;
	do {
		size_t len = out.len - off;
		if (len > METRICS_CHUNK) {
			len = METRICS_CHUNK;
			while (len > 0 && out.p[off + len - 1] != '\n')
				len--;
			if (!len) /* no line is this long; never loop on one */
				len = METRICS_CHUNK;
		}
		char saved = out.p[off + len];
		out.p[off + len] = '\0';
		rep.text = out.p + off;
		off += len;
		rep.last = off >= out.len;
		int rc = sp_ctl_send(cc, &m, NULL, 0);
		out.p[off] = saved;
		if (rc)
			break;
	} while (off < out.len);
	mt_buf_free(&out);
}

int sp_metrics_start(struct sp *sp, char *err, size_t errlen)
{
	if (sp_metrics_http_start(sp, err, errlen))
		return -1;
	return sp_metrics_tel_start(sp);
}

void sp_metrics_stop(struct sp *sp)
{
	sp_metrics_tel_stop(sp);
	sp_metrics_http_stop(sp);
}

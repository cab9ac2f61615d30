// SPDX-License-Identifier: MIT
/*
 * status.c - the daemon's status for bypassctl: address, apps, flows and
 * every counter (the fastpath's through sp_fp.c).
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>
#include <arpa/inet.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "sp_internal.h"
#include "ctl_wire.h"
#include "ctl_sock.h"

static void add_counter(Bypass__Counter **arr, Bypass__Counter *store, size_t *n, const char *name,
			uint64_t v)
{
	Bypass__Counter c = BYPASS__COUNTER__INIT;
	store[*n] = c;
	store[*n].name = (char *)name;
	store[*n].value = v;
	arr[*n] = &store[*n];
	(*n)++;
}

/**
 * sp_ctl_status - answer a STATUS request on @cc: the daemon, its counters
 * and the tenants from id @req->tenant_from on, as many as fit the frame.
 */
void sp_ctl_status(struct sp *sp, struct ctl_conn *cc, const Bypass__StatusRequest *req)
{
	struct dataplane *dp = sp->dp;
	char ip[32];
	inet_ntop(AF_INET, &dp->ip, ip, INET_ADDRSTRLEN);
	size_t iplen = strlen(ip);
	snprintf(ip + iplen, sizeof(ip) - iplen, "/%u", dp->cfg.prefix_len);
	Bypass__StatusReply rep = BYPASS__STATUS_REPLY__INIT;
	rep.version = (char *)BYPASS_VERSION;
	rep.port = dp->cfg.port_dev;
	rep.local_ip = ip;
	rep.has_apps = rep.has_flows = 1;
	rep.apps = sp->napps;
	rep.flows = sp->nconns;
	Bypass__Counter store[2 * DPC_MAX + PKT_VERDICT_MAX + 33 + 4 * DP_MAX_CORES];
	Bypass__Counter *arr[2 * DPC_MAX + PKT_VERDICT_MAX + 33 + 4 * DP_MAX_CORES];
	size_t n = 0;
	for (int i = 0; i < DPC_MAX; i++)
		add_counter(arr, store, &n, dp_counter_name(i), sp_fp_counter(sp, i));
	for (int v = 1; v < PKT_VERDICT_MAX; v++)
		add_counter(arr, store, &n, pkt_verdict_name(v), sp_fp_drop_reason(sp, v));
	/* gauges and the PMD's own counters: a pool running dry or a port
	 * that misses frames shows here before it shows as stalled flows */
	if (dp->pool) {
		add_counter(arr, store, &n, "mbufs_total", dp->pool->size);
		add_counter(arr, store, &n, "mbufs_available", rte_mempool_avail_count(dp->pool));
	}
	struct rte_eth_stats es;
	if (dp->pool && rte_eth_stats_get(dp->port_id, &es) == 0) {
		add_counter(arr, store, &n, "port_rx_packets", es.ipackets);
		add_counter(arr, store, &n, "port_tx_packets", es.opackets);
		add_counter(arr, store, &n, "port_rx_bytes", es.ibytes);
		add_counter(arr, store, &n, "port_tx_bytes", es.obytes);
		add_counter(arr, store, &n, "port_rx_missed", es.imissed);
		add_counter(arr, store, &n, "port_rx_errors", es.ierrors);
		add_counter(arr, store, &n, "port_rx_no_mbuf", es.rx_nombuf);
		add_counter(arr, store, &n, "port_tx_errors", es.oerrors);
	}
	/* connections by state (as ss -s), and how many wait on a timer */
	uint64_t by_state[SPS_DELETING + 1] = { 0 };
	for (uint32_t i = 0; i < sp->nconns; i++) {
		uint8_t st = sp->conns[sp->active[i]].state;
		if (st <= SPS_DELETING)
			by_state[st]++;
	}
	add_counter(arr, store, &n, "flows_handshake",
		    by_state[SPS_ARP_WAIT] + by_state[SPS_SYN_SENT] + by_state[SPS_SYN_RCVD]);
	add_counter(arr, store, &n, "flows_established", by_state[SPS_ESTABLISHED]);
	add_counter(arr, store, &n, "flows_time_wait", by_state[SPS_TIME_WAIT]);
	add_counter(arr, store, &n, "flows_deleting", by_state[SPS_DELETING]);
	add_counter(arr, store, &n, "flows_timed", sp->conn_wheel.nqueued);
	/* control-socket clients: what the limits of ctl_sock.c turned away */
	struct ctl_stats cs;
	sp_ctl_get_stats(sp, &cs);
	add_counter(arr, store, &n, "ctl_pending", cs.pending);
	add_counter(arr, store, &n, "ctl_accepted", cs.accepted);
	add_counter(arr, store, &n, "ctl_evicted", cs.evicted);
	add_counter(arr, store, &n, "ctl_frame_timeouts", cs.frame_timeouts);
	add_counter(arr, store, &n, "ctl_idle_timeouts", cs.idle_timeouts);
	add_counter(arr, store, &n, "ctl_slow_readers", cs.slow_readers);
	add_counter(arr, store, &n, "ctl_bad_frames", cs.bad_frames);
	add_counter(arr, store, &n, "ctl_accept_errors", cs.accept_errors);
	add_counter(arr, store, &n, "apps_region_lost", sp->region_lost_apps);
	/* the cores: what bypassctl cores and the load monitor look at */
	static char core_names[DP_MAX_CORES][4][24];
	static const char *const what[4] = { "rx_pkts", "tx_pkts", "flows", "busy_pct" };
	add_counter(arr, store, &n, "fp_cores_active", sp->cores.active);
	add_counter(arr, store, &n, "fp_cores_max", dp->ncores);
	for (uint32_t k = 0; k < dp->ncores; k++) {
		struct sp_fp_core_stat cst = sp_fp_core_stat(sp, k);
		uint64_t v[4] = { cst.rx_pkts, cst.tx_pkts, cst.flows, cst.busy_pct };
		for (int j = 0; j < 4; j++) {
			snprintf(core_names[k][j], sizeof(core_names[k][j]), "core%u.%s", k, what[j]);
			add_counter(arr, store, &n, core_names[k][j], v[j]);
		}
	}
	/* a non-admin sees its own tenant only (and nothing if it has none) */
	struct sp_tenant_list tl = { 0 };
	int scope = sp_ctl_read_scope(cc);
	uint32_t omitted = 0;
	if (scope >= 0 || scope == SP_CTL_ALL)
		omitted = sp_tenant_status_fill(sp, &tl, scope, NULL,
						req && req->has_tenant_from ? req->tenant_from : 0);
	rep.n_tenants = tl.n;
	rep.tenants = tl.arr;
	rep.has_tenant_next = tl.has_next;
	rep.tenant_next = tl.next;
	/* no room in one frame: the rest is one more request away */
	add_counter(arr, store, &n, "tenants_omitted", omitted);
	rep.n_counters = n;
	rep.counters = arr;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_STATUS_REPLY;
	m.status_reply = &rep;
	sp_ctl_send(cc, &m, NULL, 0);
	sp_tenant_status_free(&tl);
}

/**
 * sp_ctl_cores - answer bypassctl cores [set N | auto] on @cc.  Changing
 * the count is for root or fastpathd's own user; anyone may ask.
 */
void sp_ctl_cores(struct sp *sp, struct ctl_conn *cc, const Bypass__CoresRequest *req)
{
	Bypass__CoresReply rep = BYPASS__CORES_REPLY__INIT;
	bool change = req->has_set_active || (req->has_automatic && req->automatic);
	if (change && !sp_ctl_admin(cc)) {
		rep.status = -EPERM;
		rep.error = (char *)"changing the active cores needs root, fastpathd's own user "
				    "or a member of [daemon] admin_group";
	} else if (change) {
		rep.status = sp_cores_set(sp, req->has_set_active ? req->set_active : 0,
					  !req->has_set_active);
		if (rep.status)
			rep.error = (char *)"the count must be between 1 and [fastpath] cores";
	}
	rep.has_active = rep.has_max = rep.has_automatic = rep.has_moving = 1;
	rep.active = sp->cores.pending_active ? sp->cores.pending_active : sp->cores.active;
	rep.max = sp->dp->ncores;
	rep.automatic = sp->cores.automatic;
	rep.moving = sp->cores.moving;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_CORES_REPLY;
	m.cores_reply = &rep;
	sp_ctl_send(cc, &m, NULL, 0);
}

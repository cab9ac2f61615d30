// SPDX-License-Identifier: MIT
/*
 * ctl_query.c - bypassctl apps, arp and route: read-only views of the
 * slowpath's tables.  Apps are scoped like every read (sp_ctl_read_scope():
 * a non-admin sees its own tenant's); the neighbour cache and the routes
 * are the port's, the same for everyone allowed to attach.
 *
 * A reply must fit one control frame (CTL_MAX_FRAME): what does not is
 * counted in `omitted`, never sent in a second frame the client does not
 * expect.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "sp_internal.h"
#include "ctl_sock.h"

#define APP_BUDGET (CTL_MAX_FRAME - 1024)

/* per app: its flows and their bytes, one pass over the connections */
struct app_sums {
	uint32_t flows;
	uint64_t tx, rx;
};

static void sum_flows(struct sp *sp, struct app_sums *sums, uint32_t napps)
{
	for (uint32_t i = 0; i < sp->nconns; i++) {
		uint32_t id = sp->active[i];
		const struct sp_conn *c = &sp->conns[id];
		struct sp_fp_flow_view v;
		struct sp_fp_flow_info in;

		if (c->app_id >= napps)
			continue;
		sums[c->app_id].flows++;
		if (c->state != SPS_ESTABLISHED)
			continue;
		sp_fp_flow_read(sp, id, &v);
		sp_fp_flow_read_info(sp, id, &in);
		sums[c->app_id].tx += v.tx_acked;
		sums[c->app_id].rx += in.rx_pos;
	}
}

static bool app_visible(struct sp *sp, const struct dp_app *app, int scope,
			const Bypass__AppsRequest *req)
{
	const struct sp_app *sa = app->sp_priv;

	if (!app->in_use)
		return false;
	if (scope != SP_CTL_ALL && app->tenant != scope)
		return false;
	if (req->tenant && strcmp(sp->tenants[app->tenant].cfg.name, req->tenant))
		return false;
	if (req->has_pid && (!sa || sa->pid != (int32_t)req->pid))
		return false;
	return true;
}

/** sp_ctl_apps - bypassctl apps on @cc. */
void sp_ctl_apps(struct sp *sp, struct ctl_conn *cc, const Bypass__AppsRequest *req)
{
	Bypass__AppsReply rep = BYPASS__APPS_REPLY__INIT;
	uint32_t napps = sp->dp->max_apps;
	struct app_sums *sums = calloc(napps, sizeof(*sums));
	Bypass__AppInfo *info = calloc(napps, sizeof(*info));
	Bypass__AppInfo **arr = calloc(napps, sizeof(*arr));
	int scope = sp_ctl_read_scope(cc);
	size_t budget = APP_BUDGET;

	if (scope < 0 && scope != SP_CTL_ALL) {
		rep.status = -EACCES;
		rep.error = (char *)"you belong to no tenant ([tenants] unknown = refuse): "
				    "ask the operator to list your uid or group in one";
	} else if (!sums || !info || !arr) {
		rep.status = -ENOMEM;
		rep.error = (char *)"fastpathd is out of memory";
	} else {
		sum_flows(sp, sums, napps);
		rep.has_omitted = 1;
		for (uint32_t a = 0; a < napps; a++) {
			const struct dp_app *app = &sp->dp->apps[a];
			const struct sp_app *sa = app->sp_priv;
			Bypass__AppInfo *o = &info[rep.n_apps];

			if (!app_visible(sp, app, scope, req))
				continue;
			bypass__app_info__init(o);
			o->app_id = app->app_id;
			o->name = (char *)app->name;
			o->has_pid = o->has_uid = o->has_flows = o->has_max_flows = 1;
			o->has_region_bytes = o->has_buf_bytes = o->has_slots_used = 1;
			o->has_bad_entries = o->has_tx_bytes = o->has_rx_bytes = o->has_dying = 1;
			o->pid = sa ? sa->pid : 0;
			o->uid = sp_app_uid(app);
			o->tenant = sp->tenants[app->tenant].cfg.name;
			o->flows = sums[a].flows;
			o->max_flows = app->max_flows;
			o->region_bytes = app->region_size;
			/* mapped-in rings; on huge pages all is reserved at attach */
			o->buf_bytes = !sa ? 0 : sp->dp->cfg.app_hugepages ? sa->reserved :
				       (uint64_t)sa->npopulated *
					       (app->rx_buf_size + app->tx_buf_size);
			o->slots_used = app->slots_used;
			o->bad_entries = __atomic_load_n(&app->bad_entries, __ATOMIC_RELAXED);
			o->tx_bytes = sums[a].tx;
			o->rx_bytes = sums[a].rx;
			o->dying = sa && sa->dying;
			/* its exact size, with the tag and length that embed it */
			size_t need = bypass__app_info__get_packed_size(o) + 4;
			if (need > budget) {
				rep.omitted++;
				continue;
			}
			budget -= need;
			arr[rep.n_apps++] = o;
		}
		rep.apps = arr;
	}
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_APPS_REPLY;
	m.apps_reply = &rep;
	sp_ctl_send(cc, &m, NULL, 0);
	free(sums);
	free(info);
	free(arr);
}

/** sp_ctl_arp - bypassctl arp on @cc: the valid neighbour entries. */
void sp_ctl_arp(struct sp *sp, struct ctl_conn *cc)
{
	Bypass__ArpReply rep = BYPASS__ARP_REPLY__INIT;
	Bypass__ArpEntry e[SP_ARP_SIZE], *arr[SP_ARP_SIZE];
	char ips[SP_ARP_SIZE][INET_ADDRSTRLEN], macs[SP_ARP_SIZE][18];
	uint64_t now = rte_rdtsc(), hz = sp->dp->tsc_hz ? sp->dp->tsc_hz : 1;

	for (int i = 0; i < SP_ARP_SIZE; i++) {
		const struct sp_arp_entry *a = &sp->arp[i];
		size_t k = rep.n_entries;
		struct in_addr ip = { .s_addr = a->ip };

		if (!a->valid)
			continue;
		bypass__arp_entry__init(&e[k]);
		inet_ntop(AF_INET, &ip, ips[k], sizeof(ips[k]));
		snprintf(macs[k], sizeof(macs[k]), "%02x:%02x:%02x:%02x:%02x:%02x",
			 a->mac.addr_bytes[0], a->mac.addr_bytes[1], a->mac.addr_bytes[2],
			 a->mac.addr_bytes[3], a->mac.addr_bytes[4], a->mac.addr_bytes[5]);
		e[k].ip = ips[k];
		e[k].mac = macs[k];
		e[k].has_age_ms = 1;
		e[k].age_ms = now > a->updated ? (uint32_t)((now - a->updated) * 1000 / hz) : 0;
		arr[rep.n_entries++] = &e[k];
	}
	rep.entries = arr;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_ARP_REPLY;
	m.arp_reply = &rep;
	sp_ctl_send(cc, &m, NULL, 0);
}

/**
 * sp_ctl_route - bypassctl route on @cc: the port's subnet (on-link) and,
 * with [port] gateway, the default route; sp_next_hop() decides the same.
 */
void sp_ctl_route(struct sp *sp, struct ctl_conn *cc)
{
	const struct bp_config *c = &sp->dp->cfg;
	Bypass__RouteReply rep = BYPASS__ROUTE_REPLY__INIT;
	Bypass__Route r[2], *arr[2];
	char net[32], src[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
	uint32_t mask = c->prefix_len ? htonl(~0u << (32 - c->prefix_len)) : 0;
	struct in_addr a = { .s_addr = sp->dp->ip & mask };

	inet_ntop(AF_INET, &a, net, INET_ADDRSTRLEN);
	snprintf(net + strlen(net), sizeof(net) - strlen(net), "/%u", c->prefix_len);
	a.s_addr = sp->dp->ip;
	inet_ntop(AF_INET, &a, src, sizeof(src));
	for (int i = 0; i < 2; i++) {
		bypass__route__init(&r[i]);
		r[i].dev = (char *)c->port_dev;
		r[i].src = src;
		r[i].has_mtu = 1;
		r[i].mtu = c->mtu;
		arr[i] = &r[i];
	}
	r[0].dst = net;
	rep.n_routes = 1;
	if (c->gateway) {
		a.s_addr = c->gateway;
		inet_ntop(AF_INET, &a, gw, sizeof(gw));
		r[1].dst = (char *)"default";
		r[1].via = gw;
		rep.n_routes = 2;
	}
	rep.routes = arr;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;
	m.msg_case = BYPASS__CTL_MSG__MSG_ROUTE_REPLY;
	m.route_reply = &rep;
	sp_ctl_send(cc, &m, NULL, 0);
}

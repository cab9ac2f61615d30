/* SPDX-License-Identifier: MIT */
/*
 * tenant.h - tenants as the slowpath sees them: stable ids, what each
 * uses (apps, flows, half-open connections, buffer bytes), what it was
 * refused, and the checks every request goes through.
 *
 * Slowpath thread only.  The fastpath sees a tenant only as
 * dp->tenants[id] (its policy, via sp_fp_tenant_set()) and fp_flow.tenant.
 */
#ifndef SP_TENANT_H
#define SP_TENANT_H

#include <stdbool.h>
#include <stdint.h>

#include "config_tenant.h"

struct sp;
struct dp_app;
struct dp_tenant_core;
struct sp_listener;

/* what a tenant was refused (each a counter, bypassctl status) */
enum sp_tenant_denial {
	SPT_DENY_PORT,        /* listen on a port not granted: EACCES */
	SPT_DENY_CONNECT,     /* connect outside its CIDRs: EACCES */
	SPT_DENY_JOIN,        /* join another tenant's shared listener: EACCES */
	SPT_DENY_ADOPT,       /* adopt another tenant's connection: EACCES */
	SPT_DENY_ATTACH,      /* unknown caller refused: EACCES */
	SPT_DENY_APPS,        /* max_apps: EMFILE */
	SPT_DENY_FLOWS,       /* max_flows (active opens): ENOBUFS */
	SPT_DENY_SYN,         /* max_flows: a SYN or final ACK not taken */
	SPT_DENY_BUF,         /* max_buf_mb: ENOBUFS */
	SPT_DENY_MAX,
};

/**
 * struct sp_ident - who a control-socket peer is, read at accept.
 * @groups: supplementary groups (/proc/PID/status Groups:).
 * @cgroup: cgroup v2 path ("0::" line of /proc/PID/cgroup), "" unknown.
 */
struct sp_ident {
	uint32_t uid, gid;
	int32_t pid;
	uint32_t ngroups;
	uint32_t groups[32];
	char cgroup[BP_TENANT_CGROUP];
};

struct sp_tenant {
	bool in_use;                  /* configured now */
	struct bp_tenant_cfg cfg;
	uint32_t apps;
	uint32_t flows;               /* every sp_conn, TIME_WAIT included */
	uint32_t half_open;           /* SYN queue entries of its listeners */
	uint64_t reserved_bytes;      /* its apps reserve at attach (max_buf_mb): RPC message
				       * heaps and send areas; on huge pages whole regions */
	uint64_t denied[SPT_DENY_MAX];
	/* the id's fastpath counts when this tenant took it: an id is
	 * reused, its rows in every core are never cleared */
	struct sp_tenant_traffic {
		uint64_t tx_bytes, tx_pkts, rx_bytes, rx_pkts, throttled;
	} traffic_base;
};

/**
 * sp_tenants_init - build the table from dp->cfg.tenants and publish every
 * tenant's policy to the fastpath (id 0 = "default").
 * Return: 0, or -1 with @err set.
 */
int sp_tenants_init(struct sp *sp, char *err, size_t errlen);
void sp_tenants_fini(struct sp *sp);

/** sp_tenant_publish - give tenant @id's policy to the fastpath. */
void sp_tenant_publish(struct sp *sp, uint16_t id);

/** sp_tenants_set_unknown - apply [tenants] unknown from @ts. */
void sp_tenants_set_unknown(struct sp *sp, const struct bp_tenants *ts);

/* why an attached app's own connection may not change tenants or reload
 * (sp_ctl_tenant_change(), sp_ctl_config()) */
#define SP_CTL_NOT_ON_APP                                                                 \
	"an app's own control connection may not change tenants or reload the "           \
	"configuration (a tenant removed would end it mid-request): run bypassctl"

/**
 * sp_tenant_live - @t is configured, or a removed tenant whose apps, flows
 * or half-open connections are still going: status, /metrics and
 * bypassctl rpc show it, and a reload may not give its id to another.
 */
static inline bool sp_tenant_live(const struct sp_tenant *t)
{
	return t->in_use || t->apps || t->flows || t->half_open;
}

/** sp_tenant_get - the tenant with id @id (always valid for an app's id). */
struct sp_tenant *sp_tenant_get(struct sp *sp, uint16_t id);

/** sp_tenant_count - ids in use + 1 (the highest id + 1), for status. */
uint32_t sp_tenant_count(struct sp *sp);

/* tenant_match.c */

/** sp_ident_read - fill @id from SO_PEERCRED @uid/@gid/@pid and /proc/@pid. */
void sp_ident_read(struct sp_ident *id, uint32_t uid, uint32_t gid, int32_t pid);

/**
 * sp_tenant_identify - the tenant @id belongs to.
 * Return: its tenant id, or -EACCES if it is unknown and [tenants]
 * unknown = refuse (counted against the default tenant).
 */
int sp_tenant_identify(struct sp *sp, const struct sp_ident *id);

/** sp_tenant_lookup - as sp_tenant_identify(), without counting a refusal. */
int sp_tenant_lookup(struct sp *sp, const struct sp_ident *id);

/* checks: each returns 0 or a negative errno and counts the denial */

/** sp_tenant_attach - may one more app of tenant @tid attach?  (-EMFILE) */
int sp_tenant_attach(struct sp *sp, uint16_t tid);
void sp_tenant_detach(struct sp *sp, uint16_t tid);

/** sp_tenant_listen_ok - port grant (@uid 0 exempt): -EACCES. */
int sp_tenant_listen_ok(struct sp *sp, const struct dp_app *app, uint32_t uid, uint16_t port);

/** sp_tenant_connect_ok - CIDR grant (@uid 0 exempt): -EACCES. */
int sp_tenant_connect_ok(struct sp *sp, const struct dp_app *app, uint32_t uid, uint32_t ip);

/** sp_tenant_same - may @app join/adopt what tenant @owner holds?  -EACCES. */
int sp_tenant_same(struct sp *sp, const struct dp_app *app, uint16_t owner,
		   enum sp_tenant_denial what);

/**
 * sp_tenant_flow_take - account one new flow of @tid, if max_flows and
 * max_buf_mb allow.  @passive: a handshake completing (denials count as
 * SPT_DENY_SYN).  Return: 0 or -ENOBUFS.
 */
int sp_tenant_flow_take(struct sp *sp, uint16_t tid, bool passive);
void sp_tenant_flow_put(struct sp *sp, uint16_t tid);

/** sp_tenant_syn_ok - may @tid's listener queue one more half-open? */
bool sp_tenant_syn_ok(struct sp *sp, uint16_t tid);
void sp_tenant_half_open(struct sp *sp, uint16_t tid, int delta);

/** sp_tenant_buf_bytes - flow buffer bytes tenant @t holds. */
uint64_t sp_tenant_buf_bytes(struct sp *sp, const struct sp_tenant *t);

/**
 * sp_tenant_traffic - tenant @id's traffic counts (bytes, segments,
 * throttled waits) since it took its id, summed over the cores.
 */
void sp_tenant_traffic(struct sp *sp, uint16_t id, struct dp_tenant_core *out);

/**
 * sp_tenant_fresh_start - new tenants take the free ids marked in
 * @fresh[DP_MAX_TENANTS]: every count they show (denials, traffic, RPC
 * calls) starts from zero and their egress buckets full, not from what
 * their ids' last owners left.  Such an id holds no flow or app
 * (id_free()), so nothing counts into its rows while they are read.
 */
void sp_tenant_fresh_start(struct sp *sp, const bool *fresh);

/* tenant_reload.c */

/**
 * sp_tenants_reload - re-read dp->cfg.config_path and apply its tenants
 * atomically, or keep everything and log the error.
 * @err: why the file was refused.
 * Return: 0 or -1.
 */
int sp_tenants_reload(struct sp *sp, char *err, size_t errlen);

/**
 * sp_tenants_apply - make @ts (every tenant section and [tenants]) the
 * tenants in force, as a reload does, or change nothing.  @ts is emptied
 * on success (its list moves into sp->tenant_cfg).
 * Return: 0 or -1 with @err set.
 */
int sp_tenants_apply(struct sp *sp, struct bp_tenants *ts, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * config_tenant.h - the [tenants] and [tenant NAME] sections of the config
 * file: who a tenant is (uids, gids, a cgroup prefix), what it may do
 * (listen ports, connect CIDRs), its quotas and its QoS policy.
 *
 * The parser only describes; slowpath/tenant.c gives the tenants ids and
 * enforces them.  See ISSUE12/README "Tenants" for the syntax.
 */
#ifndef FP_CONFIG_TENANT_H
#define FP_CONFIG_TENANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BP_TENANT_NAME 32        /* [A-Za-z0-9_.-]{1,31} */
#define BP_TENANT_LIST 64        /* entries per list field (uids, ports ...) */
#define BP_TENANT_CGROUP 256
#define BP_TENANTS_MAX 1024      /* == DP_MAX_TENANTS, the default included */
#define BP_TENANT_DEFAULT_NAME "default"
#define BP_TENANT_MIN_RATE 1000       /* bit/s; 0 = no limit */
#define BP_TENANT_MIN_BURST 1500      /* bytes: one full segment */
#define BP_TENANT_MAX_BURST_S 86400   /* a burst fills in a day at most */

struct bp_port_range {
	uint16_t lo, hi;
};

struct bp_cidr {
	uint32_t net, mask;      /* network order; net is already masked */
};

/* enum dp_prio's values, spelled here so config.c needs no dataplane.h */
enum bp_tenant_class { BP_CLASS_LATENCY = 0, BP_CLASS_NORMAL = 1, BP_CLASS_BULK = 2 };

/**
 * struct bp_tenant_cfg - one [tenant NAME] section.
 * @nports: 0 = listen_ports not given: 1024-65535.
 * @nconnect: 0 = connect not given: anywhere.
 * @max_apps, @max_flows, @max_buf_mb: 0 = no limit.
 * @rate_bps, @rx_rate_bps: bits per second, 0 = none.
 * @burst_bytes: 0 = not given: max(64 KiB, 2 ms at @rate_bps)
 *               (bp_tenant_burst()).
 */
struct bp_tenant_cfg {
	char name[BP_TENANT_NAME];
	uint32_t uids[BP_TENANT_LIST];
	uint32_t nuids;
	uint32_t gids[BP_TENANT_LIST];
	uint32_t ngids;
	char cgroup[BP_TENANT_CGROUP];    /* "" = none */
	struct bp_port_range ports[BP_TENANT_LIST];
	uint32_t nports;
	struct bp_cidr connect[BP_TENANT_LIST];
	uint32_t nconnect;
	uint32_t max_apps;
	uint32_t max_flows;
	uint32_t max_buf_mb;
	uint64_t rate_bps;
	uint64_t burst_bytes;
	uint32_t weight;
	uint8_t class_;                   /* enum bp_tenant_class */
	uint64_t rx_rate_bps;
};

/**
 * struct bp_tenants - every tenant of the file, in file order.
 * @unknown: the tenant callers no section lists belong to ("default"
 *           unless [tenants] unknown says otherwise), or "" = refuse them.
 */
struct bp_tenants {
	struct bp_tenant_cfg *t;
	uint32_t n;
	char unknown[BP_TENANT_NAME];
	bool unknown_set;
};

/** bp_tenant_defaults - an empty section's values, named @name. */
void bp_tenant_defaults(struct bp_tenant_cfg *t, const char *name);

/** bp_tenant_burst - @t's token bucket depth in bytes, the default applied. */
uint64_t bp_tenant_burst(const struct bp_tenant_cfg *t);

/**
 * config_tenant_section - a "[tenants]" or "[tenant NAME]" header.
 * Return: 1 if @section is one of ours (a tenant is created for a new
 * NAME), 0 if not ours, -1 with @err set (bad name, duplicate section).
 */
int config_tenant_section(struct bp_tenants *ts, const char *section, char *err, size_t errlen);

/**
 * config_tenant_set - one "key = value" in a tenant section.
 * Return: 1 if stored, 0 if @section is not a tenant section, -1 with @err
 * naming the section, the field and what to write instead.
 */
int config_tenant_set(struct bp_tenants *ts, const char *section, const char *key,
		      const char *val, char *err, size_t errlen);

/**
 * config_tenants_validate - cross-tenant checks: a uid, gid or cgroup
 * listed by two tenants (a tie), [tenants] unknown naming no tenant.
 */
int config_tenants_validate(const struct bp_tenants *ts, char *err, size_t errlen);

/**
 * config_tenant_find - index of the tenant called @name, or -1.
 */
int config_tenant_find(const struct bp_tenants *ts, const char *name);

/**
 * config_tenant_match - which tenant a caller belongs to: the tenant
 * listing @uid, else the one listing @gid, else the first of @groups
 * (supplementary, in order) some tenant lists, else the longest cgroup
 * prefix of @cgroup (whole path components).
 * @cgroup: the caller's cgroup v2 path, NULL or "" if unknown.
 * Return: the index in @ts, or -1 if no tenant lists the caller.
 */
int config_tenant_match(const struct bp_tenants *ts, uint32_t uid, uint32_t gid,
			const uint32_t *groups, uint32_t ngroups, const char *cgroup);

/** bp_tenant_port_ok - may tenant @t listen on @port (ignoring uid 0)? */
bool bp_tenant_port_ok(const struct bp_tenant_cfg *t, uint16_t port);

/** bp_tenant_connect_ok - may tenant @t connect to @ip (network order)? */
bool bp_tenant_connect_ok(const struct bp_tenant_cfg *t, uint32_t ip);

/** config_tenants_free - free the list; @ts is empty afterwards. */
void config_tenants_free(struct bp_tenants *ts);

/** config_tenants_move - give @src's list to @dst (freed first); @src empties. */
void config_tenants_move(struct bp_tenants *dst, struct bp_tenants *src);

/** config_tenant_print_fields - the tenant keys, for --help-config. */
void config_tenant_print_fields(FILE *out);

#endif

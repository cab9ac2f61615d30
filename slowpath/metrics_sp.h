/* SPDX-License-Identifier: MIT */
/*
 * metrics_sp.h - the daemon side of metrics (metrics.h): collecting on
 * the slowpath thread, the Prometheus HTTP listener (metrics_http.c) and
 * the DPDK telemetry commands (metrics_tel.c).
 */
#ifndef SP_METRICS_SP_H
#define SP_METRICS_SP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctl_wire.h"
#include "metrics.h"

struct sp;
struct ctl_conn;

/**
 * sp_metrics_collect - every counter of the daemon into @set.  Slowpath
 * thread only.
 * @tenant: -1 = every tenant, else only this tenant's per-tenant series
 *          (an id no tenant has: none of them).
 * @max_tenants: at most this many tenants (the rest counted in
 *               bypass_metrics_tenants_omitted).
 * Return: how many tenants were left out.
 */
uint32_t sp_metrics_collect(struct sp *sp, struct mt_set *set, int tenant, uint32_t max_tenants);

size_t sp_metrics_families(const struct mt_family **out, size_t max);

/** sp_ctl_metrics - answer bypassctl metrics on @cc (metrics.c). */
void sp_ctl_metrics(struct sp *sp, struct ctl_conn *cc, const Bypass__MetricsRequest *req);

/* what the HTTP listener answered and refused (bypass_metrics_http_*) */
struct sp_metrics_http_stats {
	uint64_t ok, bad_request, not_found, bad_method, too_large;
	uint64_t timeouts, evicted, refused;
};

/**
 * sp_metrics_start - open the [metrics] listen address (if set) on the
 * slowpath's loop, and start the telemetry snapshot and commands.
 * Return: 0, or -1 with @err saying what to change.
 */
int sp_metrics_start(struct sp *sp, char *err, size_t errlen);

/** sp_metrics_stop - close the listener and its connections. */
void sp_metrics_stop(struct sp *sp);

/** sp_metrics_http_stats - the listener's counters; -1 if it is off. */
int sp_metrics_http_stats(struct sp *sp, struct sp_metrics_http_stats *st);

/* metrics_http.c: the [metrics] listen endpoint */
int sp_metrics_http_start(struct sp *sp, char *err, size_t errlen);
void sp_metrics_http_stop(struct sp *sp);

/**
 * sp_metrics_addr - parse a [metrics] listen value into @ss: "unix:/path",
 * "A.B.C.D:PORT" or "[v6]:PORT", numeric only; refused off loopback unless
 * @allow_remote.  Return: 0, or -1 with @err saying what to write.
 */
int sp_metrics_addr(const char *v, bool allow_remote, struct sockaddr_storage *ss,
		    socklen_t *sl, char *err, size_t errlen);

/* metrics_tel.c: DPDK telemetry reads a snapshot the slowpath refreshes */
int sp_metrics_tel_start(struct sp *sp);
void sp_metrics_tel_stop(struct sp *sp);

#endif /* SP_METRICS_SP_H */

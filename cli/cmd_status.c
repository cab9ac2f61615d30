// SPDX-License-Identifier: MIT
/*
 * cmd_status.c - bypassctl status and stats: one StatusRequest, shown
 * whole (status) or as counters only (stats).  Scripts parse the text
 * ("name value" lines, "tenant NAME ..." lines): keep it stable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bypassctl.h"

static const char status_usage[] =
	"usage: bypassctl status [--json]\n"
	"  daemon version and control protocol, bypassctl's own version and protocol,\n"
	"  port, local_ip, apps, flows, then every counter as\n"
	"  \"name value\" and one line per tenant you may see:\n"
	"  tenant NAME id N apps A/MAX flows F/MAX half_open H buf_mib B/MAX denied D\n"
	"  [reason=count ...] (MAX \"-\": no limit).  Non-admins see their own tenant.\n"
	"  --json: {version, protocol, bypassctl_version, bypassctl_protocol, port,\n"
	"  local_ip, apps, flows, counters: {name: value},\n"
	"  tenants: [tenant objects as in bypassctl tenants --json]}\n";

static const char stats_usage[] =
	"usage: bypassctl stats [--json]\n"
	"  every counter, one \"name value\" per line: the port's (port_*), the\n"
	"  fastpath's and slowpath's, per core (coreK.*), per tenant\n"
	"  (tenant.NAME.FIELD: apps, flows, half_open, buf_bytes, tx_bytes, tx_pkts,\n"
	"  rx_bytes, rx_pkts, throttled, denied, denied_REASON).\n"
	"  --json: {counters: {name: value}, tenants: {NAME: {field: value}}}\n";

static void tenant_line(const Bypass__TenantStatus *t)
{
	unsigned long long denied = cli_tenant_denied(t), mib = (t->buf_bytes + (1 << 20) - 1) >> 20;
	char a[24], f[24], b[24];

	printf("tenant %s id %u apps %u/%s flows %u/%s half_open %u buf_mib %llu/%s denied %llu",
	       t->name, t->id, t->apps, cli_limit(a, sizeof(a), t->max_apps), t->flows,
	       cli_limit(f, sizeof(f), t->max_flows), t->half_open, mib, cli_limit(b, sizeof(b), t->max_buf_mb),
	       denied);
	for (size_t i = 0; i < t->n_denied; i++)
		printf(" %s=%llu", t->denied[i]->name, (unsigned long long)t->denied[i]->value);
	printf("%s\n", t->removed ? " (removed, closing)" : "");
}

static void tenant_counters(const Bypass__TenantStatus *t)
{
	const char *n = t->name;
	unsigned long long denied = cli_tenant_denied(t);
	const struct { const char *k; uint64_t v; } f[] = {
		{ "id", t->id }, { "apps", t->apps }, { "flows", t->flows },
		{ "half_open", t->half_open }, { "buf_bytes", t->buf_bytes },
		{ "tx_bytes", t->tx_bytes }, { "tx_pkts", t->tx_pkts },
		{ "rx_bytes", t->rx_bytes }, { "rx_pkts", t->rx_pkts },
		{ "throttled", t->throttled },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		printf("tenant.%s.%s %llu\n", n, f[i].k, (unsigned long long)f[i].v);
	printf("tenant.%s.denied %llu\n", n, denied);
	for (size_t i = 0; i < t->n_denied; i++)
		printf("tenant.%s.denied_%s %llu\n", n, t->denied[i]->name,
		       (unsigned long long)t->denied[i]->value);
}

static void status_json(const Bypass__StatusReply *s, bool counters_only)
{
	char dp[24], cp[24];

	j_obj(NULL);
	if (!counters_only) {
		j_str("version", s->version);
		j_str("protocol", cli_protocol(dp, sizeof(dp), cli_daemon_major, cli_daemon_minor));
		j_str("bypassctl_version", BYPASS_VERSION);
		j_str("bypassctl_protocol", cli_protocol(cp, sizeof(cp), CTL_PROTO_MAJOR,
							 CTL_PROTO_MINOR));
		j_str("port", s->port);
		j_str("local_ip", s->local_ip);
		j_u64("apps", s->apps);
		j_u64("flows", s->flows);
	}
	j_obj("counters");
	for (size_t i = 0; i < s->n_counters; i++)
		j_u64(s->counters[i]->name, s->counters[i]->value);
	j_end_obj();
	if (counters_only) {
		j_obj("tenants");
		for (size_t i = 0; i < s->n_tenants; i++)
			j_tenant(s->tenants[i]->name, s->tenants[i]);
		j_end_obj();
	} else {
		j_arr("tenants");
		for (size_t i = 0; i < s->n_tenants; i++)
			j_tenant(NULL, s->tenants[i]);
		j_end_arr();
	}
	j_end_obj();
	j_end();
}

/* 1,024 tenants at about 400 a frame; more would be a daemon bug */
#define MAX_STATUS_PAGES 16

static int status_common(int argc, char **argv, bool counters_only)
{
	const char *usage = counters_only ? stats_usage : status_usage;
	Bypass__StatusRequest req = BYPASS__STATUS_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;
	int rc = cli_opts(&argc, argv, usage);

	if (rc >= 0)
		return rc;
	if (argc > 1)
		return cli_usage_error(usage, "%s takes no arguments", argv[0]);
	/*
	 * One frame holds about 400 tenants: ask page after page (from the
	 * id the daemon says to resume at) and print them as one reply, the
	 * header and counters from the last page.
	 */
	Bypass__CtlMsg *pages[MAX_STATUS_PAGES];
	size_t npages = 0, ntenants = 0;
	m.msg_case = BYPASS__CTL_MSG__MSG_STATUS_REQ;
	m.status_req = &req;
	req.has_tenant_from = 1;
	req.tenant_from = 0;
	for (;;) {
		rc = cli_ask(&m, BYPASS__CTL_MSG__MSG_STATUS_REPLY, &reply);
		if (rc)
			break;
		pages[npages++] = reply;
		ntenants += reply->status_reply->n_tenants;
		const Bypass__StatusReply *p = reply->status_reply;
		if (!p->has_tenant_next || p->tenant_next <= req.tenant_from ||
		    npages == MAX_STATUS_PAGES)
			break;
		req.tenant_from = p->tenant_next;
	}
	if (!npages)
		return rc;
	Bypass__StatusReply *s = pages[npages - 1]->status_reply;
	Bypass__TenantStatus **all = calloc(ntenants ? ntenants : 1, sizeof(*all));
	Bypass__TenantStatus **own = s->tenants;
	size_t nown = s->n_tenants;
	if (!all) {
		fprintf(stderr, "bypassctl %s: out of memory\n", argv[0]);
		rc = EX_FAIL;
		goto out;
	}
	ntenants = 0;
	for (size_t p = 0; p < npages; p++)
		for (size_t i = 0; i < pages[p]->status_reply->n_tenants; i++)
			all[ntenants++] = pages[p]->status_reply->tenants[i];
	s->tenants = all;
	s->n_tenants = ntenants;
	if (cli_json) {
		status_json(s, counters_only);
	} else {
		if (!counters_only) {
			char dp[24], cp[24];

			printf("version %s\n", s->version ? s->version : "?");
			printf("protocol %s\n", cli_protocol(dp, sizeof(dp), cli_daemon_major,
							      cli_daemon_minor));
			printf("bypassctl_version %s\n", BYPASS_VERSION);
			printf("bypassctl_protocol %s\n", cli_protocol(cp, sizeof(cp), CTL_PROTO_MAJOR,
									CTL_PROTO_MINOR));
			printf("port %s\n", s->port ? s->port : "-");
			printf("local_ip %s\n", s->local_ip ? s->local_ip : "-");
			if (s->has_apps)
				printf("apps %u\n", s->apps);
			if (s->has_flows)
				printf("flows %u\n", s->flows);
		}
		for (size_t i = 0; i < s->n_counters; i++)
			printf("%s %llu\n", s->counters[i]->name,
			       (unsigned long long)s->counters[i]->value);
		for (size_t i = 0; i < s->n_tenants; i++) {
			if (counters_only)
				tenant_counters(s->tenants[i]);
			else
				tenant_line(s->tenants[i]);
		}
	}
	s->tenants = own;
	s->n_tenants = nown;
	free(all);
out:
	for (size_t p = 0; p < npages; p++)
		bypass__ctl_msg__free_unpacked(pages[p], NULL);
	return rc ? rc : cli_done(EX_OK);
}

/** cmd_status - bypassctl status. */
int cmd_status(int argc, char **argv)
{
	return status_common(argc, argv, false);
}

/** cmd_stats - bypassctl stats. */
int cmd_stats(int argc, char **argv)
{
	return status_common(argc, argv, true);
}

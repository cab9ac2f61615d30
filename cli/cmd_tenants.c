// SPDX-License-Identifier: MIT
/* cmd_tenants.c - bypassctl tenants [list | show NAME]. */
#include <stdio.h>
#include <string.h>

#include "bypassctl.h"

static const char usage[] =
	"usage: bypassctl tenants [list | show NAME] [--json]\n"
	"  list (the default): one line per tenant: name, id, apps, flows, half-open,\n"
	"  buffer memory, each against its limit (\"-\": none), rate, weight, class,\n"
	"  and how often it was refused.  show NAME: everything about one tenant,\n"
	"  denials by reason.  Non-admins see their own tenant only.\n"
	"  --json: {tenants: [{name, id, apps, max_apps, flows, max_flows, half_open,\n"
	"  buf_bytes, max_buf_mb, rate_bps, rx_rate_bps, burst_bytes, weight, class,\n"
	"  tx_bytes, tx_pkts, rx_bytes, rx_pkts, throttled, removed,\n"
	"  denied: {reason: count}}], omitted}.  Lists longer than one reply are\n"
	"  fetched page by page and shown whole (omitted: 0 unless fastpathd is too\n"
	"  old to page).\n";

static void show(const Bypass__TenantStatus *t)
{
	char a[32], b[32];

	printf("tenant %s (id %u)%s\n", t->name, t->id, t->removed ? " removed, closing" : "");
	printf("  apps       %u / %s\n", t->apps, cli_limit(a, sizeof(a), t->max_apps));
	printf("  flows      %u / %s (half-open %u)\n", t->flows, cli_limit(a, sizeof(a), t->max_flows),
	       t->half_open);
	printf("  buffers    %s / %s MiB\n", cli_bytes(a, sizeof(a), t->buf_bytes),
	       cli_limit(b, sizeof(b), t->max_buf_mb));
	printf("  rate       %s (burst %llu bytes)  rx_rate %s\n", cli_rate(a, sizeof(a), t->rate_bps),
	       (unsigned long long)t->burst_bytes, cli_rate(b, sizeof(b), t->rx_rate_bps));
	printf("  weight     %u  class %s\n", t->weight, t->class_ ? t->class_ : "?");
	printf("  tx         %llu bytes %llu segments\n", (unsigned long long)t->tx_bytes,
	       (unsigned long long)t->tx_pkts);
	printf("  rx         %llu bytes %llu segments\n", (unsigned long long)t->rx_bytes,
	       (unsigned long long)t->rx_pkts);
	printf("  throttled  %llu\n", (unsigned long long)t->throttled);
	printf("  denied    ");
	if (!t->n_denied)
		printf(" none");
	for (size_t i = 0; i < t->n_denied; i++)
		printf(" %s=%llu", t->denied[i]->name, (unsigned long long)t->denied[i]->value);
	printf("\n");
}

static void line(const Bypass__TenantStatus *t)
{
	char a[24], f[24], b[24], r[24], mib[24];
	unsigned long long denied = cli_tenant_denied(t);

	snprintf(mib, sizeof(mib), "%llu", (unsigned long long)((t->buf_bytes + (1 << 20) - 1) >> 20));
	printf("%-16s %-4u %5u/%-6s %7u/%-8s %-6u %6s/%-7s %-12s %-6u %-8s %llu%s\n", t->name, t->id,
	       t->apps, cli_limit(a, sizeof(a), t->max_apps), t->flows, cli_limit(f, sizeof(f), t->max_flows),
	       t->half_open, mib, cli_limit(b, sizeof(b), t->max_buf_mb),
	       cli_rate(r, sizeof(r), t->rate_bps), t->weight, t->class_ ? t->class_ : "?", denied,
	       t->removed ? " (removed)" : "");
}

/* 1,024 tenants at about 400 a frame; more would be a daemon bug */
#define MAX_TENANT_PAGES 16

/** cmd_tenants - bypassctl tenants. */
int cmd_tenants(int argc, char **argv)
{
	Bypass__TenantsRequest req = BYPASS__TENANTS_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *pages[MAX_TENANT_PAGES];
	size_t npages = 0;
	uint32_t omitted = 0;
	int rc = cli_opts(&argc, argv, usage);

	if (rc >= 0)
		return rc;
	if (argc == 3 && !strcmp(argv[1], "show"))
		req.name = argv[2];
	else if (argc > 2 || (argc == 2 && strcmp(argv[1], "list")))
		return cli_usage_error(usage, "tenants: say `tenants`, `tenants list` or "
				       "`tenants show NAME`");
	m.msg_case = BYPASS__CTL_MSG__MSG_TENANTS_REQ;
	m.tenants_req = &req;
	/*
	 * One frame holds about 400 tenants: ask page after page from the id
	 * the daemon says to resume at, and print them as one list.  A 1.0
	 * daemon ignores tenant_from and counts the rest in omitted.
	 */
	req.has_tenant_from = 1;
	req.tenant_from = 0;
	for (;;) {
		Bypass__CtlMsg *reply;

		rc = cli_ask(&m, BYPASS__CTL_MSG__MSG_TENANTS_REPLY, &reply);
		if (rc)
			break;
		pages[npages++] = reply;
		const Bypass__TenantsReply *r = reply->tenants_reply;
		if (r->status) {
			rc = cli_refused("tenants", r->status, r->error);
			break;
		}
		omitted = r->omitted;
		if (!r->has_tenant_next || r->tenant_next <= req.tenant_from)
			break;
		if (npages == MAX_TENANT_PAGES) {
			fprintf(stderr, "bypassctl tenants: fastpathd keeps paging past %d "
				"replies; showing what came (report this as a bug)\n",
				MAX_TENANT_PAGES);
			break;
		}
		req.tenant_from = r->tenant_next;
	}
	if (rc)
		goto out;
	if (cli_json) {
		j_obj(NULL);
		j_arr("tenants");
		for (size_t p = 0; p < npages; p++)
			for (size_t i = 0; i < pages[p]->tenants_reply->n_tenants; i++)
				j_tenant(NULL, pages[p]->tenants_reply->tenants[i]);
		j_end_arr();
		j_u64("omitted", omitted);
		j_end_obj();
		j_end();
	} else if (req.name) {
		for (size_t p = 0; p < npages; p++)
			for (size_t i = 0; i < pages[p]->tenants_reply->n_tenants; i++)
				show(pages[p]->tenants_reply->tenants[i]);
	} else {
		printf("%-16s %-4s %12s %16s %-6s %14s %-12s %-6s %-8s %s\n", "tenant", "id",
		       "apps/max", "flows/max", "h-open", "buf_mib/max", "rate", "weight", "class",
		       "denied");
		for (size_t p = 0; p < npages; p++)
			for (size_t i = 0; i < pages[p]->tenants_reply->n_tenants; i++)
				line(pages[p]->tenants_reply->tenants[i]);
		if (omitted)
			printf("(%u more tenants not shown: fastpathd is older than this "
			       "bypassctl and cannot page; use tenants show NAME)\n", omitted);
	}
out:
	for (size_t p = 0; p < npages; p++)
		bypass__ctl_msg__free_unpacked(pages[p], NULL);
	return rc ? rc : cli_done(EX_OK);
}

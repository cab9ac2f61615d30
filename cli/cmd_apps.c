// SPDX-License-Identifier: MIT
/* cmd_apps.c - bypassctl apps [tenant NAME] [pid PID]. */
#include <stdio.h>
#include <string.h>

#include "bypassctl.h"
#include "log_esc.h"

static const char usage[] =
	"usage: bypassctl apps [tenant NAME] [pid PID] [--json]\n"
	"  attached apps, one per line: id, pid, uid, tenant, flows/max, buffer\n"
	"  memory mapped in, region size, payload bytes acked (tx) and received\n"
	"  (rx) on its open flows, malformed queue entries rejected, name.\n"
	"  Non-admins see their own tenant's apps only.\n"
	"  --json: {apps: [{app_id, name, pid, uid, tenant, flows, max_flows,\n"
	"  region_bytes, buf_bytes, slots_used, bad_entries, tx_bytes, rx_bytes,\n"
	"  dying}], omitted}\n";

/** cmd_apps - bypassctl apps. */
int cmd_apps(int argc, char **argv)
{
	Bypass__AppsRequest req = BYPASS__APPS_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;
	int rc = cli_opts(&argc, argv, usage);

	if (rc >= 0)
		return rc;
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			return cli_usage_error(usage, "apps: '%s' needs a value", argv[i]);
		if (!strcmp(argv[i], "tenant"))
			req.tenant = argv[i + 1];
		else if (!strcmp(argv[i], "pid") && cli_u32(argv[i + 1], 1, INT32_MAX, &req.pid))
			req.has_pid = 1;
		else
			return cli_usage_error(usage, "apps: bad filter '%s %s'", argv[i], argv[i + 1]);
	}
	m.msg_case = BYPASS__CTL_MSG__MSG_APPS_REQ;
	m.apps_req = &req;
	rc = cli_ask(&m, BYPASS__CTL_MSG__MSG_APPS_REPLY, &reply);
	if (rc)
		return rc;
	const Bypass__AppsReply *r = reply->apps_reply;
	if (r->status) {
		rc = cli_refused("apps", r->status, r->error);
	} else if (cli_json) {
		j_obj(NULL);
		j_arr("apps");
		for (size_t i = 0; i < r->n_apps; i++) {
			const Bypass__AppInfo *a = r->apps[i];
			j_obj(NULL);
			j_u64("app_id", a->app_id);
			j_str("name", a->name);
			j_i64("pid", a->pid);
			j_u64("uid", a->uid);
			j_str("tenant", a->tenant);
			j_u64("flows", a->flows);
			j_u64("max_flows", a->max_flows);
			j_u64("region_bytes", a->region_bytes);
			j_u64("buf_bytes", a->buf_bytes);
			j_u64("slots_used", a->slots_used);
			j_u64("bad_entries", a->bad_entries);
			j_u64("tx_bytes", a->tx_bytes);
			j_u64("rx_bytes", a->rx_bytes);
			j_bool("dying", a->dying);
			j_end_obj();
		}
		j_end_arr();
		j_u64("omitted", r->omitted);
		j_end_obj();
		j_end();
	} else {
		char b1[24], b2[24];
		printf("%-5s %-8s %-6s %-12s %-11s %-9s %-9s %-14s %-14s %s\n", "id", "pid",
		       "uid", "tenant", "flows", "buf", "region", "tx_bytes", "rx_bytes", "name");
		for (size_t i = 0; i < r->n_apps; i++) {
			const Bypass__AppInfo *a = r->apps[i];
			/* an app names itself: no escape sequence reaches the
			 * operator's terminal */
			char fl[24], name[LOG_ESC_SIZE(64)];
			snprintf(fl, sizeof(fl), "%u/%u", a->flows, a->max_flows);
			log_esc(name, sizeof(name), a->name && *a->name ? a->name : "-");
			printf("%-5u %-8d %-6u %-12s %-11s %-9s %-9s %-14llu %-14llu %s%s\n",
			       a->app_id, a->pid, a->uid, a->tenant ? a->tenant : "-", fl,
			       cli_bytes(b1, sizeof(b1), a->buf_bytes),
			       cli_bytes(b2, sizeof(b2), a->region_bytes),
			       (unsigned long long)a->tx_bytes, (unsigned long long)a->rx_bytes,
			       name, a->dying ? " (detaching)" : "");
			if (a->bad_entries)
				printf("      bad_entries %llu\n", (unsigned long long)a->bad_entries);
		}
		if (r->omitted)
			printf("(%u more apps not shown: no room in one reply; filter by tenant)\n",
			       r->omitted);
	}
	bypass__ctl_msg__free_unpacked(reply, NULL);
	return cli_done(rc);
}

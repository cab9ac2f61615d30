// SPDX-License-Identifier: MIT
/* cmd_tenant.c - bypassctl tenant add|set|del NAME [KEY VALUE]... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bypassctl.h"

static const char usage[] =
	"usage: bypassctl tenant add NAME [KEY VALUE]... [--json]\n"
	"       bypassctl tenant set NAME KEY VALUE [KEY VALUE]... [--json]\n"
	"       bypassctl tenant del NAME [--json]\n"
	"  change tenants while the daemon runs.  KEY is any key of the config\n"
	"  file's [tenant NAME] section, with the same values and checks:\n"
	"    uids, gids, cgroup, listen_ports, connect (lists: \"80,8000-8999\"),\n"
	"    max_apps, max_flows, max_buf_mb (0 = no limit),\n"
	"    rate, rx_rate (200mbit, 1g; 0 = none), burst (256k), weight (1..1000),\n"
	"    class (latency, normal, bulk)\n"
	"  e.g. bypassctl tenant set web rate 200mbit weight 3\n"
	"  The change is applied atomically, as config reload applies the file (a bad\n"
	"  key changes nothing); set keeps the tenant's flows; del resets its flows\n"
	"  and disconnects its apps.  The config file is not written: the next\n"
	"  config reload or SIGHUP replaces live changes with the file's sections.\n"
	"  Needs root, fastpathd's user or a member of [daemon] admin_group.\n"
	"  --json: {op, name, tenant: {as bypassctl tenants --json}} (del: no tenant)\n";

/** cmd_tenant - bypassctl tenant add|set|del. */
int cmd_tenant(int argc, char **argv)
{
	Bypass__TenantChangeRequest req = BYPASS__TENANT_CHANGE_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;
	Bypass__KeyValue kv[64], *kvp[64];
	int rc = cli_opts(&argc, argv, usage);

	if (rc >= 0)
		return rc;
	if (argc < 3)
		return cli_usage_error(usage, "tenant: say add, set or del, and a NAME");
	if (strcmp(argv[1], "add") && strcmp(argv[1], "set") && strcmp(argv[1], "del"))
		return cli_usage_error(usage, "tenant: '%s' is not add, set or del", argv[1]);
	if ((argc - 3) % 2)
		return cli_usage_error(usage, "tenant %s: '%s' has no value", argv[1], argv[argc - 1]);
	if ((argc - 3) / 2 > 64)
		return cli_usage_error(usage, "tenant %s: more than 64 keys", argv[1]);
	if (!strcmp(argv[1], "del") && argc > 3)
		return cli_usage_error(usage, "tenant del takes only a NAME");
	if (!strcmp(argv[1], "set") && argc == 3)
		return cli_usage_error(usage, "tenant set: give KEY VALUE pairs");
	req.op = argv[1];
	req.name = argv[2];
	for (int i = 3; i + 1 < argc; i += 2) {
		size_t k = req.n_set++;
		bypass__key_value__init(&kv[k]);
		kv[k].key = argv[i];
		kv[k].value = argv[i + 1];
		kvp[k] = &kv[k];
	}
	req.set = kvp;
	m.msg_case = BYPASS__CTL_MSG__MSG_TENANT_CHANGE_REQ;
	m.tenant_change_req = &req;
	rc = cli_ask(&m, BYPASS__CTL_MSG__MSG_TENANT_CHANGE_REPLY, &reply);
	if (rc)
		return rc;
	const Bypass__TenantChangeReply *r = reply->tenant_change_reply;
	if (r->status) {
		rc = cli_refused(!strcmp(req.op, "add") ? "tenant add" :
				 !strcmp(req.op, "set") ? "tenant set" : "tenant del",
				 r->status, r->error);
	} else if (cli_json) {
		j_obj(NULL);
		j_str("op", req.op);
		j_str("name", req.name);
		if (r->tenant)
			j_tenant("tenant", r->tenant);
		j_end_obj();
		j_end();
	} else {
		char a[24];
		printf("tenant %s: %s", req.name, !strcmp(req.op, "del") ? "removed" : "applied");
		if (r->tenant)
			printf(" (rate %s weight %u class %s max_flows %u)", cli_rate(a, sizeof(a),
			       r->tenant->rate_bps), r->tenant->weight,
			       r->tenant->class_ ? r->tenant->class_ : "?", r->tenant->max_flows);
		printf("; a config reload replaces it with the file's sections\n");
	}
	bypass__ctl_msg__free_unpacked(reply, NULL);
	return cli_done(rc);
}

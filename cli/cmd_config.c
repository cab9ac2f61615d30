// SPDX-License-Identifier: MIT
/* cmd_config.c - bypassctl config reload. */
#include <stdio.h>
#include <string.h>

#include "bypassctl.h"

static const char usage[] =
	"usage: bypassctl config reload [--json]\n"
	"  re-read the config file's tenant sections, as SIGHUP does: kept tenants\n"
	"  take the new limits and policy, new ones start, removed ones have their\n"
	"  flows reset.  It replaces live changes made with bypassctl tenant.  A bad\n"
	"  file changes nothing and the error names its line and field.  Needs root,\n"
	"  fastpathd's user or [daemon] admin_group.\n"
	"  --json: {reloaded: true} or {reloaded: false, error}\n";

/** cmd_config - bypassctl config reload. */
int cmd_config(int argc, char **argv)
{
	Bypass__ConfigRequest req = BYPASS__CONFIG_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;
	int rc = cli_opts(&argc, argv, usage);

	if (rc >= 0)
		return rc;
	if (argc != 2 || strcmp(argv[1], "reload"))
		return cli_usage_error(usage, "config: say `config reload`");
	req.has_reload = req.reload = 1;
	m.msg_case = BYPASS__CTL_MSG__MSG_CONFIG_REQ;
	m.config_req = &req;
	rc = cli_ask(&m, BYPASS__CTL_MSG__MSG_CONFIG_REPLY, &reply);
	if (rc)
		return rc;
	const Bypass__ConfigReply *r = reply->config_reply;
	if (r->status)
		rc = cli_refused("config reload", r->status, r->error);
	if (cli_json) {
		j_obj(NULL);
		j_bool("reloaded", !r->status);
		if (r->status)
			j_str("error", r->error);
		j_end_obj();
		j_end();
	} else if (!r->status) {
		printf("reloaded\n");
	}
	bypass__ctl_msg__free_unpacked(reply, NULL);
	return cli_done(rc);
}

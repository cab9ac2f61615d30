// SPDX-License-Identifier: MIT
/* cmd_cores.c - bypassctl cores [set N | auto]. */
#include <stdio.h>
#include <string.h>

#include "bypassctl.h"

static const char usage[] =
	"usage: bypassctl cores [set N | auto] [--json]\n"
	"  without arguments: \"active A max M mode auto|manual moving K\"\n"
	"  set N   run on N fastpath cores (1..[fastpath] cores); their flows move\n"
	"          without loss; load-driven scaling stops\n"
	"  auto    hand the core count back to the load monitor ([fastpath] scale)\n"
	"  Changes need root, fastpathd's user or [daemon] admin_group.\n"
	"  --json: {active, max, mode, moving}\n";

/** cmd_cores - bypassctl cores. */
int cmd_cores(int argc, char **argv)
{
	Bypass__CoresRequest req = BYPASS__CORES_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;
	int rc = cli_opts(&argc, argv, usage);

	if (rc >= 0)
		return rc;
	if (argc == 3 && !strcmp(argv[1], "set")) {
		if (!cli_u32(argv[2], 1, 64, &req.set_active))
			return cli_usage_error(usage, "cores set: '%s' is not a core count", argv[2]);
		req.has_set_active = 1;
	} else if (argc == 2 && !strcmp(argv[1], "auto")) {
		req.has_automatic = req.automatic = 1;
	} else if (argc > 1) {
		return cli_usage_error(usage, "cores: unexpected '%s'", argv[1]);
	}
	m.msg_case = BYPASS__CTL_MSG__MSG_CORES_REQ;
	m.cores_req = &req;
	rc = cli_ask(&m, BYPASS__CTL_MSG__MSG_CORES_REPLY, &reply);
	if (rc)
		return rc;
	const Bypass__CoresReply *r = reply->cores_reply;
	if (r->status)
		rc = cli_refused("cores", r->status, r->error);
	if (cli_json) {
		j_obj(NULL);
		j_u64("active", r->active);
		j_u64("max", r->max);
		j_str("mode", r->automatic ? "auto" : "manual");
		j_u64("moving", r->moving);
		j_end_obj();
		j_end();
	} else {
		printf("active %u max %u mode %s moving %u\n", r->active, r->max,
		       r->automatic ? "auto" : "manual", r->moving);
	}
	bypass__ctl_msg__free_unpacked(reply, NULL);
	return cli_done(rc);
}

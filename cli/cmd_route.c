// SPDX-License-Identifier: MIT
/* cmd_route.c - bypassctl route: what the daemon's port routes. */
#include <stdio.h>

#include "bypassctl.h"

static const char usage[] =
	"usage: bypassctl route [--json]\n"
	"  the routes of the daemon's port, as ip route: its subnet on-link\n"
	"  ([port] ip) and the default route via [port] gateway if set.\n"
	"  --json: {routes: [{dst, via, dev, src, mtu}]} (via absent: on-link)\n";

/** cmd_route - bypassctl route. */
int cmd_route(int argc, char **argv)
{
	Bypass__RouteRequest req = BYPASS__ROUTE_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;
	int rc = cli_opts(&argc, argv, usage);

	if (rc >= 0)
		return rc;
	if (argc > 1)
		return cli_usage_error(usage, "route takes no arguments");
	m.msg_case = BYPASS__CTL_MSG__MSG_ROUTE_REQ;
	m.route_req = &req;
	rc = cli_ask(&m, BYPASS__CTL_MSG__MSG_ROUTE_REPLY, &reply);
	if (rc)
		return rc;
	const Bypass__RouteReply *r = reply->route_reply;
	if (r->status) {
		rc = cli_refused("route", r->status, r->error);
	} else if (cli_json) {
		j_obj(NULL);
		j_arr("routes");
		for (size_t i = 0; i < r->n_routes; i++) {
			const Bypass__Route *x = r->routes[i];
			j_obj(NULL);
			j_str("dst", x->dst);
			if (x->via)
				j_str("via", x->via);
			j_str("dev", x->dev);
			j_str("src", x->src);
			j_u64("mtu", x->mtu);
			j_end_obj();
		}
		j_end_arr();
		j_end_obj();
		j_end();
	} else {
		for (size_t i = 0; i < r->n_routes; i++) {
			const Bypass__Route *x = r->routes[i];
			if (x->via)
				printf("%s via %s dev %s src %s mtu %u\n", x->dst, x->via, x->dev,
				       x->src, x->mtu);
			else
				printf("%s dev %s scope link src %s mtu %u\n", x->dst, x->dev,
				       x->src, x->mtu);
		}
	}
	bypass__ctl_msg__free_unpacked(reply, NULL);
	return cli_done(rc);
}

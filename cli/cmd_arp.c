// SPDX-License-Identifier: MIT
/* cmd_arp.c - bypassctl arp: the daemon's neighbour cache. */
#include <stdio.h>

#include "bypassctl.h"

static const char usage[] =
	"usage: bypassctl arp [--json]\n"
	"  the daemon's neighbour cache, as ip neigh: address, MAC, seconds since\n"
	"  it was learned or confirmed.  The kernel's `ip neigh` does not see it.\n"
	"  --json: {entries: [{ip, mac, age_ms}]}\n";

/** cmd_arp - bypassctl arp. */
int cmd_arp(int argc, char **argv)
{
	Bypass__ArpRequest req = BYPASS__ARP_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;
	int rc = cli_opts(&argc, argv, usage);

	if (rc >= 0)
		return rc;
	if (argc > 1)
		return cli_usage_error(usage, "arp takes no arguments");
	m.msg_case = BYPASS__CTL_MSG__MSG_ARP_REQ;
	m.arp_req = &req;
	rc = cli_ask(&m, BYPASS__CTL_MSG__MSG_ARP_REPLY, &reply);
	if (rc)
		return rc;
	const Bypass__ArpReply *r = reply->arp_reply;
	if (r->status) {
		rc = cli_refused("arp", r->status, r->error);
	} else if (cli_json) {
		j_obj(NULL);
		j_arr("entries");
		for (size_t i = 0; i < r->n_entries; i++) {
			j_obj(NULL);
			j_str("ip", r->entries[i]->ip);
			j_str("mac", r->entries[i]->mac);
			j_u64("age_ms", r->entries[i]->age_ms);
			j_end_obj();
		}
		j_end_arr();
		j_end_obj();
		j_end();
	} else {
		for (size_t i = 0; i < r->n_entries; i++)
			printf("%s lladdr %s age %.1fs\n", r->entries[i]->ip, r->entries[i]->mac,
			       r->entries[i]->age_ms / 1000.0);
	}
	bypass__ctl_msg__free_unpacked(reply, NULL);
	return cli_done(rc);
}

// SPDX-License-Identifier: MIT
/* cmd_rpc.c - bypassctl rpc: calls of RPC sessions per tenant and method. */
#include <stdio.h>

#include "bypassctl.h"

static const char usage[] =
	"usage: bypassctl rpc [--json]\n"
	"  calls of RPC sessions (connections opened with BP_LISTEN_RPC or\n"
	"  bp_connect_rpc(), which fastpathd frames itself), per tenant and method:\n"
	"  requests received, responses received OK and with another status.\n"
	"  Method \"other\": calls the daemon's per-core tables had no room to name;\n"
	"  tenant \"(table full)\": calls not even a tenant's \"other\" row had room for.\n"
	"  Non-admins see their own tenant only.\n"
	"  --json: {methods: [{tenant, method, calls, resp_ok, resp_err}], omitted,\n"
	"          messages, protocol_errors, stalls, bad_returns, tx_frames, tx_overtakes,\n"
	"          tx_refused (admins only)}\n";

/** cmd_rpc - bypassctl rpc. */
int cmd_rpc(int argc, char **argv)
{
	Bypass__RpcRequest req = BYPASS__RPC_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;
	int rc = cli_opts(&argc, argv, usage);

	if (rc >= 0)
		return rc;
	if (argc > 1)
		return cli_usage_error(usage, "rpc takes no arguments");
	m.msg_case = BYPASS__CTL_MSG__MSG_RPC_REQ;
	m.rpc_req = &req;
	rc = cli_ask(&m, BYPASS__CTL_MSG__MSG_RPC_REPLY, &reply);
	if (rc)
		return rc;
	const Bypass__RpcReply *r = reply->rpc_reply;
	if (r->status) {
		rc = cli_refused("rpc", r->status, r->error);
	} else if (cli_json) {
		j_obj(NULL);
		j_arr("methods");
		for (size_t i = 0; i < r->n_methods; i++) {
			const Bypass__RpcMethodStat *e = r->methods[i];

			j_obj(NULL);
			j_str("tenant", e->tenant);
			if (e->method > 0xffff)
				j_str("method", "other");
			else
				j_u64("method", e->method);
			j_u64("calls", e->calls);
			j_u64("resp_ok", e->resp_ok);
			j_u64("resp_err", e->resp_err);
			j_end_obj();
		}
		j_end_arr();
		j_u64("omitted", r->omitted);
		if (r->has_messages) {
			j_u64("messages", r->messages);
			j_u64("protocol_errors", r->protocol_errors);
			j_u64("stalls", r->stalls);
			j_u64("bad_returns", r->bad_returns);
			j_u64("tx_frames", r->tx_frames);
			j_u64("tx_overtakes", r->tx_overtakes);
			j_u64("tx_refused", r->tx_refused);
		}
		j_end_obj();
		j_end();
	} else {
		printf("%-16s %8s %12s %12s %12s\n", "TENANT", "METHOD", "CALLS", "RESP_OK",
		       "RESP_ERR");
		for (size_t i = 0; i < r->n_methods; i++) {
			const Bypass__RpcMethodStat *e = r->methods[i];
			char meth[16];

			if (e->method > 0xffff)
				snprintf(meth, sizeof(meth), "other");
			else
				snprintf(meth, sizeof(meth), "%u", e->method);
			printf("%-16s %8s %12llu %12llu %12llu\n", e->tenant, meth,
			       (unsigned long long)e->calls, (unsigned long long)e->resp_ok,
			       (unsigned long long)e->resp_err);
		}
		if (r->omitted)
			printf("(%u more entries did not fit)\n", r->omitted);
		if (r->has_messages) {
			printf("messages %llu, protocol errors %llu, stalls %llu, bad returns %llu\n",
			       (unsigned long long)r->messages,
			       (unsigned long long)r->protocol_errors,
			       (unsigned long long)r->stalls, (unsigned long long)r->bad_returns);
			printf("sent frames %llu (%llu ahead of earlier ones by class), refused %llu\n",
			       (unsigned long long)r->tx_frames, (unsigned long long)r->tx_overtakes,
			       (unsigned long long)r->tx_refused);
		}
	}
	bypass__ctl_msg__free_unpacked(reply, NULL);
	return cli_done(rc);
}

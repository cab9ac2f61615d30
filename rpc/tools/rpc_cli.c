// SPDX-License-Identifier: MIT
/*
 * rpc_cli.c - command-line helpers of rpc/'s programs (see rpc_cli.h).
 */
#include <stdio.h>
#include <string.h>

#include "rpc_cli.h"

int rpc_cli_transport(const char *prog, const char *arg, struct rpc_endpoint_opts *o)
{
	if (!strcmp(arg, "bypass")) {
		o->transport = RPC_TRANSPORT_BYPASS;
		return 0;
	}
	if (!strcmp(arg, "bypass-msg")) { /* fastpathd frames: whole messages */
		o->transport = RPC_TRANSPORT_BYPASS_MSG;
		return 0;
	}
	if (!strcmp(arg, "kernel") || !strcmp(arg, "linux")) {
		o->transport = RPC_TRANSPORT_KERNEL;
		return 0;
	}
	fprintf(stderr, "%s: transport '%s': kernel, bypass or bypass-msg\n", prog, arg);
	return -1;
}

int rpc_cli_hostport(char *buf, size_t len, const char *host, long port)
{
	int n;

	if (strchr(host, ':') || port < 0)
		n = snprintf(buf, len, "%s", host);
	else
		n = snprintf(buf, len, "%s:%ld", host, port);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

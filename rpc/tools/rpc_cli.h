/* SPDX-License-Identifier: MIT */
/*
 * rpc_cli.h - command-line pieces shared by rpc/'s programs (rpc_bench,
 * kv_server, kv_client), so each option is spelled and parsed one way.
 */
#ifndef BYPASS_RPC_CLI_H
#define BYPASS_RPC_CLI_H

#include <stddef.h>

#include "bypass/rpc.h"

/* what every program's --help says about the transport option */
#define RPC_CLI_TRANSPORT_HELP \
	"kernel (Linux sockets; \"linux\" too), bypass (fastpathd at $BYPASS_SOCKET) or\n" \
	"                           bypass-msg (bypass, and fastpathd frames the messages)"

/**
 * rpc_cli_transport - parse a --transport/--stack value into @o->transport.
 * @arg: "kernel", "linux" (the benchmarks' name for it), "bypass" or
 *       "bypass-msg".
 * Return: 0, or -1 (with a message on stderr naming @prog) if unknown.
 */
int rpc_cli_transport(const char *prog, const char *arg, struct rpc_endpoint_opts *o);

/**
 * rpc_cli_hostport - "HOST:PORT" from @host and @port into @buf.  A @host
 * that already has a ":PORT" is taken as it is; @port < 0 then too.
 * Return: 0, or -1 if it does not fit.
 */
int rpc_cli_hostport(char *buf, size_t len, const char *host, long port);

#endif /* BYPASS_RPC_CLI_H */

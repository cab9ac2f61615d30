// SPDX-License-Identifier: MIT
/*
 * bypassctl - operator CLI for fastpathd, over its Unix control socket,
 * in the style of ip(8): `bypassctl [OPTIONS] COMMAND [ARGS]`, commands
 * by name, short form or any unambiguous-first prefix (`bypassctl f` is
 * flows), --json and --help on every command.  The commands live in
 * cli/cmd_NAME.c; this file only finds them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bypass/bypass.h"
#include "bypassctl.h"

struct command {
	const char *name;
	const char *alias;    /* short form, or NULL */
	const char *help;     /* one line */
	int (*fn)(int argc, char **argv);
};

/* order matters: a prefix picks the first command it matches, as in ip */
static const struct command commands[] = {
	{ "status", "s", "daemon version, address, apps, flows, counters, tenants", cmd_status },
	{ "stats", NULL, "every counter: port, per core, per tenant (name value)", cmd_stats },
	{ "apps", "a", "attached apps: pid, uid, tenant, flows, memory, bytes", cmd_apps },
	{ "tenants", "t", "tenants [show NAME]: usage, limits, policy, denials", cmd_tenants },
	{ "tenant", NULL, "tenant add|set|del NAME [KEY VALUE]...: change tenants live", cmd_tenant },
	{ "flows", "f", "connections like ss -tino; filters: state, sport, dport, port, tenant", cmd_flows },
	{ "arp", "n", "the neighbour cache (ip neigh)", cmd_arp },
	{ "route", "r", "the routes of the daemon's port", cmd_route },
	{ "rpc", NULL, "RPC sessions framed by the daemon: calls per tenant and method", cmd_rpc },
	{ "cores", NULL, "fastpath cores [set N | auto]", cmd_cores },
	{ "config", NULL, "config reload: re-read the config file's tenants", cmd_config },
#ifdef BYPASSCTL_HAVE_CAPTURE
	{ "capture", "cap", "capture bypass traffic as pcapng (tcpdump filters)", cmd_capture },
#endif
#ifdef BYPASSCTL_HAVE_METRICS
	{ "metrics", "m", "every counter in Prometheus text format", cmd_metrics },
#endif
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bypassctl [-S PATH] [-j] COMMAND [ARGS] [--json] [--help]\n"
		"\n"
		"commands (short form in brackets; any prefix picks the first match):\n");
	for (size_t i = 0; i < NCOMMANDS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "%s%s%s%s", commands[i].name,
			 commands[i].alias ? " [" : "", commands[i].alias ? commands[i].alias : "",
			 commands[i].alias ? "]" : "");
		fprintf(out, "  %-14s %s\n", name, commands[i].help);
	}
	fprintf(out,
		"\n"
		"options:\n"
		"  -S, --socket PATH   fastpathd control socket (default: $%s or %s)\n"
		"  -j, --json          JSON output (every command)\n"
		"  -h, --help          this help; `bypassctl COMMAND --help` for a command's\n"
		"  -V, --version       bypassctl's version and control protocol, and the\n"
		"                      running fastpathd's\n"
		"\n"
		"Anyone allowed to open the socket may read, but sees only their own tenant's\n"
		"apps, flows and tenant; changes need root, fastpathd's user or a member of\n"
		"[daemon] admin_group.\n"
		"exit status: 0 ok, 1 the command failed, 2 usage error, 3 fastpathd not\n"
		"reachable.  See bypassctl(8).\n",
		BP_SOCKET_ENV, BP_DEFAULT_SOCKET);
}

static const struct command *find(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(name, commands[i].name) ||
		    (commands[i].alias && !strcmp(name, commands[i].alias)))
			return &commands[i];
	for (size_t i = 0; n && i < NCOMMANDS; i++)
		if (!strncmp(name, commands[i].name, n))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = NULL;
	const struct command *cmd;
	bool version = false;
	int c;

	while ((c = getopt_long(argc, argv, "+S:jhV", opts, NULL)) != -1) {
		switch (c) {
		case 'S': socket_path = optarg; break;
		case 'j': cli_json = true; break;
		case 'h': usage(stdout); return EX_OK;
		case 'V': version = true; break;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (version) {
		cli_socket = ctl_socket_path(socket_path);
		return cli_version();
	}
	if (optind >= argc) {
		fprintf(stderr, "bypassctl: missing command\n");
		usage(stderr);
		return EX_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		usage(stdout);
		return EX_OK;
	}
	cmd = find(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "bypassctl: '%s': unknown command (see bypassctl --help)\n",
			argv[optind]);
		return EX_USAGE;
	}
	cli_socket = ctl_socket_path(socket_path);
	if (socket_path) /* commands that read $BYPASS_SOCKET see --socket too */
		setenv(BP_SOCKET_ENV, socket_path, 1);
	argv[optind] = (char *)cmd->name;
	return cmd->fn(argc - optind, argv + optind);
}

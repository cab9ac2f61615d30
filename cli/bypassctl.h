/* SPDX-License-Identifier: MIT */
/*
 * bypassctl.h - the commands of bypassctl and what they share.
 *
 * Each command lives in cli/cmd_NAME.c as int cmd_NAME(int argc, char
 * **argv): argv[0] is the command's name, the rest its arguments, with the
 * global options (--socket, --json) already taken out; --json and --help
 * may also follow the command (cli_opts()).  It returns the exit status:
 */
#ifndef BYPASSCTL_H
#define BYPASSCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl_wire.h"

#define EX_OK 0          /* done */
#define EX_FAIL 1        /* the command failed (refused, not found, ...) */
#define EX_USAGE 2       /* bad command line */
#define EX_NODAEMON 3    /* fastpathd not reachable (the message says how to start it) */

int cmd_status(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_apps(int argc, char **argv);
int cmd_tenants(int argc, char **argv);
int cmd_tenant(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_arp(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_cores(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_capture(int argc, char **argv);  /* cli/cmd_capture.c (capture helper) */
int cmd_metrics(int argc, char **argv);  /* cli/cmd_metrics.c (metrics helper) */
int cmd_rpc(int argc, char **argv);      /* cli/cmd_rpc.c (rpcd helper) */

/* ------------------------------------------------ ctl_client.c */

/* global options, set by main() */
extern const char *cli_socket;   /* ctl_socket_path() applied */
extern bool cli_json;
/* the control protocol version of the daemon that answered cli_ask() last */
extern uint32_t cli_daemon_major, cli_daemon_minor;

/**
 * cli_opts - take --json/-j and --help/-h out of a command's arguments
 * (anywhere, as ip takes keywords), leaving the rest in order.
 * @usage: the command's help, printed for --help.
 * Return: -1 to go on, else the exit status to return at once (--help: 0,
 * an unknown option: 2).
 */
int cli_opts(int *argc, char **argv, const char *usage);

/**
 * cli_ask - one request, one reply on a fresh connection.
 * @req: the request.
 * @want: the reply's message case.
 * @reply: the reply; free with bypass__ctl_msg__free_unpacked(*reply, NULL).
 *
 * Prints why on failure (with how to start the daemon if it is not there).
 * Return: 0, EX_NODAEMON or EX_FAIL.
 */
int cli_ask(const Bypass__CtlMsg *req, Bypass__CtlMsg__MsgCase want, Bypass__CtlMsg **reply);

/**
 * cli_refused - print a reply's error (status -errno, error text) for
 * command @cmd.  Return: EX_FAIL.
 */
int cli_refused(const char *cmd, int32_t status, const char *error);

/** cli_usage_error - print "bypassctl CMD: WHY" and the usage. Return: EX_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** cli_u32 - parse a decimal in lo..hi; false if it is not one. */
bool cli_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out);

/** cli_done - flush stdout; EX_FAIL if that fails (a closed pipe), else @rc. */
int cli_done(int rc);

/*
 * A small JSON writer: values go to stdout, commas and escaping are its
 * business.  Keys are NULL inside arrays.  Strings are escaped so the
 * output is valid JSON whatever bytes a client sent (bytes over 0x7f are
 * written as \u00XX).
 */
void j_obj(const char *key);
void j_end_obj(void);
void j_arr(const char *key);
void j_end_arr(void);
void j_str(const char *key, const char *v);   /* NULL: null */
void j_u64(const char *key, uint64_t v);
void j_i64(const char *key, int64_t v);
void j_num(const char *key, const char *raw);  /* @raw must be a JSON number */
void j_bool(const char *key, bool v);
void j_end(void);                             /* the final newline */

/* human output helpers */
const char *cli_rate(char *buf, size_t len, uint64_t bps);   /* 200Mbit, "-" for 0 */
const char *cli_bytes(char *buf, size_t len, uint64_t b);    /* 1.5MiB */
const char *cli_limit(char *buf, size_t len, uint64_t v);    /* a limit: "-" for 0 (none) */
const char *cli_protocol(char *buf, size_t len, uint32_t major, uint32_t minor); /* "1.1" */

/**
 * cli_version - bypassctl --version: its own version and control protocol,
 * then the daemon's (one StatusRequest) when it answers.
 * Return: 0, or EX_NODAEMON if the daemon did not answer (its line then
 * says so on stderr; bypassctl's own line is printed anyway).
 */
int cli_version(void);

/* every refusal a tenant met, all reasons together */
unsigned long long cli_tenant_denied(const Bypass__TenantStatus *t);

/* a TenantStatus as JSON (shared by status, tenants and tenant set) */
void j_tenant(const char *key, const Bypass__TenantStatus *t);

#endif /* BYPASSCTL_H */

// SPDX-License-Identifier: MIT
/*
 * ctl_client.c - what every bypassctl command shares: the daemon
 * connection (one request, one reply, bounded in time), error messages
 * that say what to do, option handling and the JSON writer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bypassctl.h"

/* a daemon that accepts but never answers must not hang the operator */
#define REPLY_TIMEOUT_S 5

const char *cli_socket;
bool cli_json;
uint32_t cli_daemon_major, cli_daemon_minor;

int cli_opts(int *argc, char **argv, const char *usage)
{
	int n = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--json") || !strcmp(a, "-j")) {
			cli_json = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help")) {
			fputs(usage, stdout);
			return EX_OK;
		} else if (a[0] == '-' && a[1] && !(a[1] >= '0' && a[1] <= '9')) {
			return cli_usage_error(usage, "unknown option '%s'", a);
		} else {
			argv[n++] = argv[i];
		}
	}
	*argc = n;
	argv[n] = NULL;
	return -1;
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("bypassctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fputs(usage, stderr);
	return EX_USAGE;
}

int cli_refused(const char *cmd, int32_t status, const char *error)
{
	int e = status < 0 ? -status : status;

	if (error)
		fprintf(stderr, "bypassctl %s: %s (%s)\n", cmd, error, strerror(e));
	else
		fprintf(stderr, "bypassctl %s: fastpathd refused: %s\n", cmd, strerror(e));
	return EX_FAIL;
}

bool cli_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = (uint32_t)v;
	return true;
}

int cli_done(int rc)
{
	if (fflush(stdout) || ferror(stdout))
		return EX_FAIL;
	return rc;
}

int cli_ask(const Bypass__CtlMsg *req, Bypass__CtlMsg__MsgCase want, Bypass__CtlMsg **reply)
{
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
	char err[512];
	int fd, r;

	fd = ctl_client_connect(cli_socket, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "bypassctl: %s\n", err);
		return EX_NODAEMON;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	r = ctl_send(fd, req, NULL, 0);
	if (!r)
		r = ctl_recv(fd, reply, NULL, NULL, 0);
	close(fd);
	if (r == -EAGAIN || r == -ETIMEDOUT) {
		fprintf(stderr, "bypassctl: fastpathd at %s did not answer within %d s; is it "
			"stuck? (its log says more; `systemctl status fastpathd` if it runs "
			"as a service)\n", cli_socket, REPLY_TIMEOUT_S);
		return EX_NODAEMON;
	}
	if (r == -ECONNRESET) {
		fprintf(stderr, "bypassctl: fastpathd at %s closed the connection without an "
			"answer: it may be older than this bypassctl (upgrade it) or stopping\n",
			cli_socket);
		return EX_FAIL;
	}
	if (r) {
		fprintf(stderr, "bypassctl: request to fastpathd at %s failed: %s\n", cli_socket,
			strerror(-r));
		return EX_FAIL;
	}
	/* absent: a daemon from before the protocol had a version (1.0) */
	cli_daemon_major = (*reply)->has_proto_major ? (*reply)->proto_major : 1;
	cli_daemon_minor = (*reply)->has_proto_major ? (*reply)->proto_minor : 0;
	if ((*reply)->msg_case == BYPASS__CTL_MSG__MSG_CTL_ERROR && (*reply)->ctl_error) {
		const Bypass__CtlError *e = (*reply)->ctl_error;
		int st = e->status < 0 ? -e->status : e->status;

		fprintf(stderr, "bypassctl: fastpathd at %s refused: %s (%s)\n", cli_socket,
			e->error ? e->error : "no reason given", strerror(st));
		bypass__ctl_msg__free_unpacked(*reply, NULL);
		*reply = NULL;
		return EX_FAIL;
	}
	if ((*reply)->msg_case != want) {
		fprintf(stderr, "bypassctl: fastpathd at %s sent an unexpected reply (message "
			"type %d); is it older than this bypassctl?\n", cli_socket,
			(int)(*reply)->msg_case);
		bypass__ctl_msg__free_unpacked(*reply, NULL);
		*reply = NULL;
		return EX_FAIL;
	}
	return 0;
}

/* ------------------------------------------------------------ JSON */

static int j_depth;
static bool j_first[32] = { true };

/* a comma before every value but the first of its object or array */
static void j_sep(void)
{
	if (!j_first[j_depth])
		putchar(',');
	j_first[j_depth] = false;
}

static void j_raw_str(const char *v)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* the separator, then "key": unless in an array */
static void j_key(const char *key)
{
	j_sep();
	if (key) {
		j_raw_str(key);
		putchar(':');
	}
}

void j_str(const char *key, const char *v)
{
	j_key(key);
	if (v)
		j_raw_str(v);
	else
		fputs("null", stdout);
}

static void j_open(const char *key, char c)
{
	j_key(key);
	putchar(c);
	if (j_depth < 31)
		j_depth++;
	j_first[j_depth] = true;
}

void j_obj(const char *key) { j_open(key, '{'); }
void j_arr(const char *key) { j_open(key, '['); }

void j_end_obj(void)
{
	putchar('}');
	if (j_depth)
		j_depth--;
}

void j_end_arr(void)
{
	putchar(']');
	if (j_depth)
		j_depth--;
}

void j_u64(const char *key, uint64_t v)
{
	j_key(key);
	printf("%llu", (unsigned long long)v);
}

void j_num(const char *key, const char *raw)
{
	j_key(key);
	fputs(raw, stdout);
}

void j_i64(const char *key, int64_t v)
{
	j_key(key);
	printf("%lld", (long long)v);
}

void j_bool(const char *key, bool v)
{
	j_key(key);
	fputs(v ? "true" : "false", stdout);
}

void j_end(void)
{
	putchar('\n');
	j_depth = 0;
	j_first[0] = true;
}

/* ------------------------------------------------------------ human units */

const char *cli_rate(char *buf, size_t len, uint64_t bps)
{
	if (!bps)
		return "-";
	if (bps >= 1000000000ull && bps % 1000000000ull == 0)
		snprintf(buf, len, "%llugbit", (unsigned long long)(bps / 1000000000ull));
	else if (bps >= 1000000ull)
		snprintf(buf, len, "%.4gmbit", bps / 1e6);
	else if (bps >= 1000ull)
		snprintf(buf, len, "%.4gkbit", bps / 1e3);
	else
		snprintf(buf, len, "%llubit", (unsigned long long)bps);
	return buf;
}

const char *cli_bytes(char *buf, size_t len, uint64_t b)
{
	if (b >= (1ull << 30))
		snprintf(buf, len, "%.1fGiB", b / (double)(1ull << 30));
	else if (b >= (1ull << 20))
		snprintf(buf, len, "%.1fMiB", b / (double)(1ull << 20));
	else if (b >= (1ull << 10))
		snprintf(buf, len, "%.1fKiB", b / 1024.0);
	else
		snprintf(buf, len, "%lluB", (unsigned long long)b);
	return buf;
}

const char *cli_protocol(char *buf, size_t len, uint32_t major, uint32_t minor)
{
	snprintf(buf, len, "%u.%u", major, minor);
	return buf;
}

const char *cli_limit(char *buf, size_t len, uint64_t v)
{
	if (!v)
		return "-";
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

unsigned long long cli_tenant_denied(const Bypass__TenantStatus *t)
{
	unsigned long long denied = 0;

	for (size_t i = 0; i < t->n_denied; i++)
		denied += t->denied[i]->value;
	return denied;
}

void j_tenant(const char *key, const Bypass__TenantStatus *t)
{
	j_obj(key);
	j_str("name", t->name);
	j_u64("id", t->id);
	j_u64("apps", t->apps);
	j_u64("max_apps", t->max_apps);
	j_u64("flows", t->flows);
	j_u64("max_flows", t->max_flows);
	j_u64("half_open", t->half_open);
	j_u64("buf_bytes", t->buf_bytes);
	j_u64("max_buf_mb", t->max_buf_mb);
	j_u64("rate_bps", t->rate_bps);
	j_u64("rx_rate_bps", t->rx_rate_bps);
	j_u64("burst_bytes", t->burst_bytes);
	j_u64("weight", t->weight);
	j_str("class", t->class_);
	j_u64("tx_bytes", t->tx_bytes);
	j_u64("tx_pkts", t->tx_pkts);
	j_u64("rx_bytes", t->rx_bytes);
	j_u64("rx_pkts", t->rx_pkts);
	j_u64("throttled", t->throttled);
	j_bool("removed", t->removed);
	j_obj("denied");
	for (size_t i = 0; i < t->n_denied; i++)
		j_u64(t->denied[i]->name, t->denied[i]->value);
	j_end_obj();
	j_end_obj();
}

int cli_version(void)
{
	Bypass__StatusRequest req = BYPASS__STATUS_REQUEST__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT, *reply;
	char p[24];
	int rc;

	printf("bypassctl %s (control protocol %s)\n", BYPASS_VERSION,
	       cli_protocol(p, sizeof(p), CTL_PROTO_MAJOR, CTL_PROTO_MINOR));
	fflush(stdout);
	m.msg_case = BYPASS__CTL_MSG__MSG_STATUS_REQ;
	m.status_req = &req;
	rc = cli_ask(&m, BYPASS__CTL_MSG__MSG_STATUS_REPLY, &reply);
	if (rc)
		return rc;
	printf("fastpathd %s (control protocol %s) at %s\n",
	       reply->status_reply->version ? reply->status_reply->version : "?",
	       cli_protocol(p, sizeof(p), cli_daemon_major, cli_daemon_minor), cli_socket);
	bypass__ctl_msg__free_unpacked(reply, NULL);
	return cli_done(EX_OK);
}

// SPDX-License-Identifier: MIT
/*
 * bp_httpd - a tiny HTTP/1.1 server over libbypass.
 *
 *   GET /          a short text page
 *   GET /bytes/N   N bytes, byte i = 'a' + i % 26
 *   anything else  404 (405 for methods other than GET/HEAD)
 *
 * Keep-alive and pipelining work; "Connection: close" (or HTTP/1.0
 * without keep-alive) closes after the response.  One thread, one event
 * loop, bounded work per connection per pass.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bypass/bypass.h"
#include "server_common.h"

#define REQ_MAX 8192            /* request head limit */
#define CHUNK (64 * 1024)       /* body bytes per bp_send() */
#define TURN_ROUNDS 8
#define IDLE_WAIT_MS 1000       /* bounds how late a signal is noticed */

static const char index_page[] =
	"bp_httpd: hello from the bypass dataplane\n"
	"\n"
	"GET /bytes/N returns N bytes of a..z repeated.\n";

/* 'a'..'z' repeated, long enough to serve CHUNK bytes from any phase */
static uint8_t pattern[CHUNK + 26];

struct hconn {
	int h;
	char in[REQ_MAX];
	size_t in_len;
	char head[512];         /* response head being sent */
	size_t head_len, head_off;
	const uint8_t *body;    /* static body, or NULL for the pattern */
	uint64_t body_len, body_off;
	bool responding, close_after, peer_eof;
};

static volatile sig_atomic_t stop;
static uint64_t total_requests, total_conns;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bp_httpd -p PORT [-s ADDR] [--max-conns N] [--socket PATH] [-q]\n"
		"\n"
		"Minimal HTTP/1.1 server over the bypass dataplane:\n"
		"  GET /          short text page\n"
		"  GET /bytes/N   N bytes of a..z repeated (byte i = 'a' + i %% 26)\n"
		"Prints the request count when stopped (SIGINT/SIGTERM).\n"
		"\n"
		"options:\n"
		"  -p, --port PORT       port to listen on (0: let the daemon pick)\n"
		"  -s, --source ADDR     local IPv4 address (default: any)\n"
		"  -m, --max-conns N     connections served at once (default 1024)\n"
		"      --socket PATH     fastpathd control socket (default: $%s or %s)\n"
		"  -q, --quiet           no startup message\n"
		"  -h, --help            this help\n",
		BP_SOCKET_ENV, BP_DEFAULT_SOCKET);
}

/* Value of header @name in the head [p, end), or NULL. */
static const char *find_header(const char *p, const char *end, const char *name, size_t *len)
{
	size_t nl = strlen(name);

	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);

		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nl && p[nl] == ':' && !strncasecmp(p, name, nl)) {
			const char *v = p + nl + 1;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*len = (size_t)(eol - v);
			while (*len && (v[*len - 1] == ' ' || v[*len - 1] == '\t'))
				(*len)--;
			return v;
		}
		p = eol + 2;
	}
	return NULL;
}

static bool has_token(const char *v, size_t len, const char *tok)
{
	size_t tl = strlen(tok);

	for (size_t i = 0; i + tl <= len; i++)
		if (!strncasecmp(v + i, tok, tl) && (i + tl == len || v[i + tl] == ',' ||
						     v[i + tl] == ' '))
			return true;
	return false;
}

static void respond(struct hconn *c, int code, const char *reason, const uint8_t *body,
		    uint64_t len, bool head_only, const char *extra)
{
	c->head_len = (size_t)snprintf(c->head, sizeof(c->head),
		"HTTP/1.1 %d %s\r\nServer: bp_httpd\r\nContent-Type: %s\r\n"
		"Content-Length: %" PRIu64 "\r\nConnection: %s\r\n%s\r\n",
		code, reason, body ? "text/plain; charset=utf-8" : "application/octet-stream",
		len, c->close_after ? "close" : "keep-alive", extra ? extra : "");
	c->head_off = 0;
	c->body = body;
	c->body_len = head_only ? 0 : len;
	c->body_off = 0;
	c->responding = true;
}

static void respond_text(struct hconn *c, int code, const char *reason, const char *text,
			 bool head_only, const char *extra)
{
	respond(c, code, reason, (const uint8_t *)text, strlen(text), head_only, extra);
}

/* Parse one request from the input buffer; true if a response was set up. */
static bool parse_request(struct hconn *c)
{
	char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	char *line_end, *sp1, *sp2, *path;
	const char *v;
	size_t head_len, vlen;
	bool head_only, http10;

	if (!end) {
		if (c->in_len == sizeof(c->in)) {
			c->close_after = true;
			respond_text(c, 431, "Request Header Fields Too Large", "too large\n",
				     false, NULL);
			c->in_len = 0;
			return true;
		}
		return false;
	}
	head_len = (size_t)(end - c->in) + 4;
	line_end = memmem(c->in, head_len, "\r\n", 2);
	*line_end = '\0';
	sp1 = strchr(c->in, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
		c->close_after = true;
		respond_text(c, 400, "Bad Request", "bad request\n", false, NULL);
		c->in_len = 0;
		return true;
	}
	*sp1 = *sp2 = '\0';
	path = sp1 + 1;
	http10 = !strcmp(sp2 + 1, "HTTP/1.0");
	head_only = !strcmp(c->in, "HEAD");

	v = find_header(line_end + 2, end + 2, "Connection", &vlen);
	if (v && has_token(v, vlen, "close"))
		c->close_after = true;
	else if (http10 && !(v && has_token(v, vlen, "keep-alive")))
		c->close_after = true;
	/* No request bodies here; we could not tell where the next request
	 * starts, so refuse and close. */
	if (find_header(line_end + 2, end + 2, "Transfer-Encoding", &vlen) ||
	    ((v = find_header(line_end + 2, end + 2, "Content-Length", &vlen)) &&
	     strtoull(v, NULL, 10) > 0)) {
		c->close_after = true;
		respond_text(c, 413, "Content Too Large", "request bodies not supported\n",
			     head_only, NULL);
	} else if (strcmp(c->in, "GET") && !head_only) {
		respond_text(c, 405, "Method Not Allowed", "method not allowed\n", false,
			     "Allow: GET, HEAD\r\n");
	} else if (!strcmp(path, "/")) {
		respond_text(c, 200, "OK", index_page, head_only, NULL);
	} else if (!strncmp(path, "/bytes/", 7) && isdigit((unsigned char)path[7]) &&
		   strspn(path + 7, "0123456789") == strlen(path + 7) && strlen(path + 7) <= 15) {
		respond(c, 200, "OK", NULL, strtoull(path + 7, NULL, 10), head_only, NULL);
	} else {
		respond_text(c, 404, "Not Found", "not found\n", head_only, NULL);
	}
	memmove(c->in, c->in + head_len, c->in_len - head_len);
	c->in_len -= head_len;
	total_requests++;
	return true;
}

/* Send what we can of the response; true once it is complete. */
static int send_response(struct bp_ctx *ctx, struct hconn *c)
{
	while (c->head_off < c->head_len || c->body_off < c->body_len) {
		const void *p;
		size_t len;
		ssize_t n;

		if (c->head_off < c->head_len) {
			p = c->head + c->head_off;
			len = c->head_len - c->head_off;
		} else if (c->body) {
			p = c->body + c->body_off;
			len = (size_t)(c->body_len - c->body_off);
		} else {
			p = pattern + c->body_off % 26;
			len = c->body_len - c->body_off < CHUNK ? (size_t)(c->body_len - c->body_off)
								 : CHUNK;
		}
		n = bp_send(ctx, c->h, p, len);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		if (c->head_off < c->head_len)
			c->head_off += (size_t)n;
		else
			c->body_off += (uint64_t)n;
	}
	c->responding = false;
	return 1;
}

/* One bounded turn; 1: wants another pass now, 0: would block, -1: gone. */
static int serve(struct bp_ctx *ctx, struct hconn *c)
{
	for (int i = 0; i < TURN_ROUNDS; i++) {
		ssize_t n;

		if (c->responding) {
			int r = send_response(ctx, c);

			if (r < 0)
				goto reset;
			if (!r)
				return 0;
			if (c->close_after)
				goto close;
			continue;
		}
		if (parse_request(c))
			continue;
		if (c->peer_eof)
			goto close;
		n = bp_recv(ctx, c->h, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			goto reset;
		if (n == 0)
			c->peer_eof = true;
		c->in_len += (size_t)n;
	}
	return 1;
close:
	bp_close(ctx, c->h); /* the rest of the response still goes out, then FIN */
	return -1;
reset:
	bp_abort(ctx, c->h);
	return -1;
}

int main(int argc, char **argv)
{
	struct server_opts o;
	struct hconn **conns;
	struct bp_ctx *ctx;
	int l, n = 0, timeout = IDLE_WAIT_MS;
	int rc = server_parse(argc, argv, "bp_httpd", usage, &o);

	if (rc >= 0)
		return rc;
	long max = o.max_conns;
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)('a' + i % 26);
	ctx = server_start("bp_httpd", &o, on_signal, &l);
	if (!ctx)
		return 1;
	conns = calloc((size_t)max, sizeof(*conns));
	if (!conns) {
		fprintf(stderr, "bp_httpd: out of memory\n");
		return 1;
	}

	while (!stop) {
		int r = bp_wait(ctx, timeout), h;

		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "bp_httpd: lost fastpathd: %s\n", strerror(-r));
			break;
		}
		while (n < max && (h = bp_accept(ctx, l)) >= 0) {
			conns[n] = calloc(1, sizeof(**conns));
			if (!conns[n]) {
				bp_abort(ctx, h);
				break;
			}
			conns[n++]->h = h;
			total_conns++;
		}
		timeout = IDLE_WAIT_MS;
		for (int i = 0; i < n;) {
			r = serve(ctx, conns[i]);
			if (r < 0) {
				free(conns[i]);
				conns[i] = conns[--n];
				continue;
			}
			if (r > 0)
				timeout = 0;
			i++;
		}
	}

	fprintf(stderr, "bp_httpd: %llu requests on %llu connections\n",
		(unsigned long long)total_requests, (unsigned long long)total_conns);
	for (int i = 0; i < n; i++) {
		bp_close(ctx, conns[i]->h);
		free(conns[i]);
	}
	free(conns);
	bp_close(ctx, l);
	bp_detach(ctx);
	return 0;
}

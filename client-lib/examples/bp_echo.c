// SPDX-License-Identifier: MIT
/*
 * bp_echo - multi-connection echo server over libbypass.
 *
 *   bp_echo -p PORT [-s ADDR] [--max-conns N] [--socket PATH]
 *
 * A single thread: bp_wait() for anything, then give every connection a
 * bounded turn (flush what is pending, read more).  A connection whose
 * peer closed is closed once everything it sent has been echoed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bypass/bypass.h"
#include "server_common.h"

#define BUF_SIZE (64 * 1024)
/* buffers a connection may echo per turn, for fairness */
#define TURN_ROUNDS 8
/*
 * A signal landing just before bp_wait() sleeps is only noticed at the
 * next wakeup; this bounds how late that can be.
 */
#define IDLE_WAIT_MS 1000

struct conn {
	int h;
	uint8_t *buf;
	size_t off, len;        /* received, not yet echoed */
	bool peer_eof;
};

static volatile sig_atomic_t stop;
static uint64_t total_conns, total_bytes;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bp_echo -p PORT [-s ADDR] [--max-conns N] [--socket PATH] [-q]\n"
		"\n"
		"Echo server over the bypass dataplane: every byte received is sent back;\n"
		"a connection is closed after its peer closed and all was echoed.\n"
		"Prints connection and byte counts when stopped (SIGINT/SIGTERM).\n"
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

static void drop(struct bp_ctx *ctx, struct conn *c, bool reset)
{
	if (reset)
		bp_abort(ctx, c->h);
	else
		bp_close(ctx, c->h); /* the daemon still delivers what is queued */
	free(c->buf);
	c->buf = NULL;
	c->h = -1;
}

/*
 * One turn of a connection.  Returns 1 if it used up its turn and wants
 * another pass without sleeping, 0 if it would block, -1 if it is gone.
 */
static int serve(struct bp_ctx *ctx, struct conn *c)
{
	for (int i = 0; i < TURN_ROUNDS; i++) {
		ssize_t n;

		while (c->len) {
			n = bp_send(ctx, c->h, c->buf + c->off, c->len);
			if (n == -EAGAIN)
				return 0; /* a TX event will bring us back */
			if (n < 0) {
				drop(ctx, c, true);
				return -1;
			}
			c->off += (size_t)n;
			c->len -= (size_t)n;
		}
		if (c->peer_eof) {
			drop(ctx, c, false);
			return -1;
		}
		n = bp_recv(ctx, c->h, c->buf, BUF_SIZE);
		if (n == -EAGAIN)
			return 0;
		if (n < 0) {
			drop(ctx, c, true);
			return -1;
		}
		if (n == 0) {
			c->peer_eof = true;
			continue;
		}
		c->off = 0;
		c->len = (size_t)n;
		total_bytes += (uint64_t)n;
	}
	return 1;
}

static void accept_all(struct bp_ctx *ctx, int l, struct conn *conns, int max, int *n)
{
	while (*n < max) {
		int h = bp_accept(ctx, l);

		if (h < 0)
			return;
		conns[*n].buf = malloc(BUF_SIZE);
		if (!conns[*n].buf) {
			bp_abort(ctx, h);
			return;
		}
		conns[*n].h = h;
		conns[*n].off = conns[*n].len = 0;
		conns[*n].peer_eof = false;
		(*n)++;
		total_conns++;
	}
}

int main(int argc, char **argv)
{
	struct server_opts o;
	struct conn *conns;
	struct bp_ctx *ctx;
	int l, n = 0, timeout = IDLE_WAIT_MS;
	int rc = server_parse(argc, argv, "bp_echo", usage, &o);

	if (rc >= 0)
		return rc;
	long max = o.max_conns;
	ctx = server_start("bp_echo", &o, on_signal, &l);
	if (!ctx)
		return 1;
	conns = calloc((size_t)max, sizeof(*conns));
	if (!conns) {
		fprintf(stderr, "bp_echo: out of memory\n");
		return 1;
	}

	while (!stop) {
		int r = bp_wait(ctx, timeout);

		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "bp_echo: lost fastpathd: %s\n", strerror(-r));
			break;
		}
		accept_all(ctx, l, conns, (int)max, &n);
		timeout = IDLE_WAIT_MS;
		for (int i = 0; i < n;) {
			r = serve(ctx, &conns[i]);
			if (r < 0) {
				conns[i] = conns[--n]; /* order does not matter */
				continue;
			}
			if (r > 0)
				timeout = 0; /* out of turn, not out of work */
			i++;
		}
	}

	fprintf(stderr, "bp_echo: %llu connections, %llu bytes echoed\n",
		(unsigned long long)total_conns, (unsigned long long)total_bytes);
	for (int i = 0; i < n; i++)
		drop(ctx, &conns[i], false);
	free(conns);
	bp_close(ctx, l);
	bp_detach(ctx);
	return 0;
}

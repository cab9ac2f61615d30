// SPDX-License-Identifier: MIT
/*
 * bpcat - netcat over libbypass.
 *
 *   bpcat [options] HOST PORT          connect, then copy stdin <-> connection
 *   bpcat -l [-s ADDR] -p PORT         accept one connection, same copying
 *
 * One thread, one poll(): stdin and the library's wake fd.  On stdin EOF
 * we half-close and keep reading until the peer's FIN, like `nc -N`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bypass/bypass.h"

#define BUF_SIZE (64 * 1024)
/* recv rounds per loop, so a fast sender cannot starve our stdin side */
#define RECV_ROUNDS 16

static const char *prog = "bpcat";
static bool quiet, verbose;
static int backlog = 1;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [options] HOST PORT       connect to HOST:PORT\n"
		"       %s -l [-s ADDR] -p PORT      accept one connection on PORT\n"
		"\n"
		"Copies stdin to the connection and the connection to stdout over the\n"
		"bypass dataplane (fastpathd).  At stdin EOF the sending side is shut\n"
		"down and bpcat exits once the peer has closed its side too.\n"
		"\n"
		"options:\n"
		"  -l, --listen        listen instead of connecting\n"
		"  -s, --source ADDR   local IPv4 address to listen on (default: any)\n"
		"  -p, --port PORT     port to listen on (0: let the daemon pick)\n"
		"  -b, --backlog N     half-open and unaccepted connections the listener\n"
		"                      holds (default 1; more get SYN cookies)\n"
		"      --socket PATH   fastpathd control socket (default: $%s or %s)\n"
		"  -q, --quiet         no informational messages on stderr\n"
		"  -v, --verbose       print bytes, elapsed time and throughput at exit\n"
		"  -h, --help          this help\n",
		prog, prog, BP_SOCKET_ENV, BP_DEFAULT_SOCKET);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint16_t parse_port(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v > 65535) {
		fprintf(stderr, "%s: invalid port '%s'\n", prog, s);
		exit(2);
	}
	return (uint16_t)v;
}

/* Dotted quad or a name the system resolver knows; network order. */
static uint32_t resolve(const char *host)
{
	struct addrinfo hints = { .ai_family = AF_INET }, *res;
	struct in_addr a;
	uint32_t ip;
	int r;

	if (inet_pton(AF_INET, host, &a) == 1)
		return a.s_addr;
	r = getaddrinfo(host, NULL, &hints, &res);
	if (r) {
		fprintf(stderr, "%s: cannot resolve %s: %s\n", prog, host, gai_strerror(r));
		exit(2);
	}
	ip = ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr;
	freeaddrinfo(res);
	return ip;
}

static const char *ipstr(uint32_t ip, char *buf)
{
	return inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write to stdout: %s", strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
}

static int do_listen(struct bp_ctx *ctx, uint32_t ip, uint16_t port, char *peer, size_t plen)
{
	struct bp_flow_info fi;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	int l, h;

	l = bp_listen(ctx, ip, port, backlog);
	if (l < 0)
		die("listen on %s:%u: %s", ipstr(ip ? ip : bp_local_ip(ctx), a), port,
		    strerror(-l));
	if (!bp_flow_info(ctx, l, &fi))
		port = fi.local_port;
	note("listening on %s:%u", ipstr(ip ? ip : bp_local_ip(ctx), a), port);
	while ((h = bp_accept(ctx, l)) == -EAGAIN) {
		int r = bp_wait(ctx, -1);

		if (r < 0 && r != -EINTR)
			die("waiting for a connection: %s", strerror(-r));
	}
	if (h < 0)
		die("accept: %s", strerror(-h));
	bp_close(ctx, l); /* one connection only */
	snprintf(peer, plen, "peer");
	if (!bp_flow_info(ctx, h, &fi)) {
		snprintf(peer, plen, "%s:%u", ipstr(fi.remote_ip, a), fi.remote_port);
		note("connection from %s to %s:%u", peer, ipstr(fi.local_ip, b), fi.local_port);
	}
	return h;
}

static int do_connect(struct bp_ctx *ctx, const char *host, uint32_t ip, uint16_t port)
{
	int h = bp_connect(ctx, ip, port), st;

	if (h < 0)
		die("connect to %s:%u: %s", host, port, strerror(-h));
	while ((st = bp_connect_status(ctx, h)) == -EINPROGRESS) {
		int r = bp_wait(ctx, -1);

		if (r < 0 && r != -EINTR)
			die("connect to %s:%u: %s", host, port, strerror(-r));
	}
	if (st < 0)
		die("connect to %s:%u: %s", host, port, strerror(-st));
	return h;
}

struct pump {
	struct bp_ctx *ctx;
	int h;
	const char *peer;
	uint8_t *in, *out;      /* stdin -> conn, conn -> stdout */
	size_t in_off, in_len;
	bool in_eof, shut, peer_eof;
	uint64_t sent, rcvd;
};

/* conn -> stdout; returns true if anything moved */
static bool pump_rx(struct pump *p)
{
	bool moved = false;

	for (int i = 0; i < RECV_ROUNDS && !p->peer_eof; i++) {
		ssize_t n = bp_recv(p->ctx, p->h, p->out, BUF_SIZE);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			die("connection to %s: %s", p->peer, strerror((int)-n));
		if (n == 0) {
			p->peer_eof = true;
			moved = true;
			break;
		}
		write_all(STDOUT_FILENO, p->out, (size_t)n);
		p->rcvd += (uint64_t)n;
		moved = true;
	}
	return moved;
}

/* stdin buffer -> conn; returns true if anything moved */
static bool pump_tx(struct pump *p)
{
	bool moved = false;

	while (p->in_len) {
		ssize_t n = bp_send(p->ctx, p->h, p->in + p->in_off, p->in_len);

		if (n == -EAGAIN)
			break;
		if (n < 0)
			die("connection to %s: %s", p->peer, strerror((int)-n));
		p->in_off += (size_t)n;
		p->in_len -= (size_t)n;
		p->sent += (uint64_t)n;
		moved = true;
	}
	if (p->in_eof && !p->in_len && !p->shut) {
		int r = bp_shutdown(p->ctx, p->h);

		if (r < 0 && r != -EPIPE)
			die("shutdown: %s", strerror(-r));
		p->shut = true;
		moved = true;
	}
	return moved;
}

static void run(struct pump *p)
{
	struct pollfd pfd[2];

	while (!(p->shut && p->peer_eof)) {
		bool moved;
		int r, n = 0;

		/* Processes events and arms the wake fd for the poll below. */
		r = bp_wait(p->ctx, 0);
		if (r < 0)
			die("lost fastpathd: %s", strerror(-r));
		moved = pump_rx(p);
		moved |= pump_tx(p);
		if (p->shut && p->peer_eof)
			break;
		pfd[n++] = (struct pollfd){ .fd = bp_wait_fd(p->ctx), .events = POLLIN };
		if (!p->in_eof && !p->in_len)
			pfd[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		r = poll(pfd, (nfds_t)n, moved ? 0 : -1);
		if (r < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (n == 2 && pfd[1].revents) {
			ssize_t got = read(STDIN_FILENO, p->in, BUF_SIZE);

			if (got > 0) {
				p->in_off = 0;
				p->in_len = (size_t)got;
			} else if (got == 0) {
				p->in_eof = true;
			} else if (errno != EINTR && errno != EAGAIN) {
				die("read from stdin: %s", strerror(errno));
			}
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", no_argument, NULL, 'l' },
		{ "source", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "backlog", required_argument, NULL, 'b' },
		{ "socket", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bp_attach_opts ao = { .app_name = "bpcat" };
	struct pump p = { 0 };
	const char *host = NULL, *port_s = NULL, *src = NULL;
	char err[512], peer[300];
	bool listen_mode = false;
	struct bp_ctx *ctx;
	uint32_t ip = 0;
	uint16_t port;
	double t0, dt;
	int c;

	while ((c = getopt_long(argc, argv, "ls:p:b:qvh", opts, NULL)) != -1) {
		switch (c) {
		case 'l': listen_mode = true; break;
		case 's': src = optarg; break;
		case 'p': port_s = optarg; break;
		case 'b':
			backlog = (int)strtol(optarg, NULL, 10);
			if (backlog < 1 || backlog > 65535)
				die("backlog '%s': 1..65535", optarg);
			break;
		case 'S': ao.socket_path = optarg; break;
		case 'q': quiet = true; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (listen_mode) {
		if (!port_s || optind != argc) {
			fprintf(stderr, "%s: listen mode needs -p PORT and no HOST\n", prog);
			usage(stderr);
			return 2;
		}
		ip = src ? resolve(src) : 0;
	} else {
		if (argc - optind != 2 || src) {
			fprintf(stderr, "%s: need HOST and PORT (or -l -p PORT)\n", prog);
			usage(stderr);
			return 2;
		}
		host = argv[optind];
		port_s = argv[optind + 1];
		ip = resolve(host);
	}
	port = parse_port(port_s);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout is reported by write() */

	ctx = bp_attach(&ao, err, sizeof(err));
	if (!ctx)
		die("%s", err);
	p.ctx = ctx;
	p.in = malloc(BUF_SIZE);
	p.out = malloc(BUF_SIZE);
	if (!p.in || !p.out)
		die("out of memory");
	if (listen_mode) {
		p.h = do_listen(ctx, ip, port, peer, sizeof(peer));
	} else {
		p.h = do_connect(ctx, host, ip, port);
		snprintf(peer, sizeof(peer), "%s:%u", host, port);
	}
	p.peer = peer;

	t0 = now_s();
	run(&p);
	dt = now_s() - t0;
	if (verbose)
		fprintf(stderr, "%s: sent %llu bytes, received %llu bytes in %.3f s (%.1f MB/s)\n",
			prog, (unsigned long long)p.sent, (unsigned long long)p.rcvd, dt,
			dt > 0 ? (double)(p.sent + p.rcvd) / dt / 1e6 : 0.0);
	bp_close(ctx, p.h);
	bp_detach(ctx);
	free(p.in);
	free(p.out);
	return 0;
}

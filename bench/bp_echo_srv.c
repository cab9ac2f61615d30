// SPDX-License-Identifier: MIT
/*
 * bp_echo_srv - the benchmark server, over Linux sockets or over libbypass.
 *
 *   bp_echo_srv --stack linux|bypass [-p BASE] [--socket PATH]
 *
 * One thread, three listeners:
 *   BASE     echo: every byte received is sent back
 *   BASE+1   sink: received bytes are counted and dropped; at the peer's
 *            EOF the count goes back as 8 bytes (little endian), then close
 *   BASE+2   one-shot: the first read is echoed, then the server closes
 *            (connection-rate test: connect, one request, close)
 * Both stacks run the same per-connection logic; only the I/O calls and
 * the wait differ (epoll for Linux, bp_poll for bypass: both name the
 * connections that are ready).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"
#include "bypass/bypass.h"

#define SCRATCH (64 * 1024)
#define TURN_ROUNDS 8          /* reads per connection per turn, for fairness */
#define IDLE_WAIT_MS 200       /* bounds how late a stop signal is noticed */
#define MAX_CONNS (1 << 20)

enum kind { K_ECHO, K_SINK, K_ONESHOT };

struct conn {
	int h;                  /* fd or bypass handle */
	enum kind kind;
	uint8_t *pend;          /* bytes still to send (partial writes) */
	size_t poff, plen, pcap;
	uint64_t count;         /* sink: bytes received */
	bool close_after;       /* close once pend is flushed */
	bool out_armed;         /* linux: waiting for EPOLLOUT */
	bool busy;              /* bypass: on the busy list (input left after its turn) */
	bool dead;              /* bypass: closed while on the busy list */
};

struct srv;

struct stack {
	ssize_t (*recv)(struct srv *s, int h, void *buf, size_t len);
	ssize_t (*send)(struct srv *s, int h, const void *buf, size_t len);
	void (*close)(struct srv *s, int h, bool reset);
};

struct srv {
	const struct stack *st;
	struct bp_ctx *ctx;
	int epfd;
	int lis[3];
	struct conn **byh;      /* bypass: handle -> connection */
	struct conn **busy;     /* bypass: served again without waiting */
	struct conn **busy_next;
	unsigned nconns, nbusy;
	uint8_t scratch[SCRATCH];
	uint64_t accepted, bytes_in, bytes_out;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* ---------------------------------------------------------------- stacks */

static ssize_t lx_recv(struct srv *s, int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	return n < 0 ? -errno : n;
}

static ssize_t lx_send(struct srv *s, int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	return n < 0 ? -errno : n;
}

static void lx_close(struct srv *s, int fd, bool reset)
{
	if (reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd); /* also leaves the epoll set */
}

static ssize_t bx_recv(struct srv *s, int h, void *buf, size_t len)
{
	return bp_recv(s->ctx, h, buf, len);
}

static ssize_t bx_send(struct srv *s, int h, const void *buf, size_t len)
{
	return bp_send(s->ctx, h, buf, len);
}

static void bx_close(struct srv *s, int h, bool reset)
{
	if (reset)
		bp_abort(s->ctx, h);
	else
		bp_close(s->ctx, h);
}

static const struct stack linux_stack = { lx_recv, lx_send, lx_close };
static const struct stack bypass_stack = { bx_recv, bx_send, bx_close };

/* ------------------------------------------------------ connection logic */

static int stash(struct conn *c, const uint8_t *p, size_t n)
{
	if (c->plen + n > c->pcap) {
		size_t cap = c->pcap ? c->pcap : 4096;
		uint8_t *np;

		while (cap < c->plen + n)
			cap *= 2;
		np = malloc(cap);
		if (!np)
			return -1;
		if (c->plen)
			memcpy(np, c->pend + c->poff, c->plen);
		free(c->pend);
		c->pend = np;
		c->pcap = cap;
		c->poff = 0;
	} else if (c->poff + c->plen + n > c->pcap) {
		memmove(c->pend, c->pend + c->poff, c->plen);
		c->poff = 0;
	}
	memcpy(c->pend + c->poff + c->plen, p, n);
	c->plen += n;
	return 0;
}

/* send @n bytes of @p, keeping what does not fit; <0: connection failed */
static int put(struct srv *s, struct conn *c, const uint8_t *p, size_t n)
{
	while (n && !c->plen) {
		ssize_t w = s->st->send(s, c->h, p, n);

		if (w == -EAGAIN || w == -EWOULDBLOCK)
			break;
		if (w < 0)
			return -1;
		s->bytes_out += (uint64_t)w;
		p += w;
		n -= (size_t)w;
	}
	return n ? stash(c, p, n) : 0;
}

/* send what is pending: 1 all out, 0 would block, <0 failed */
static int flush(struct srv *s, struct conn *c)
{
	while (c->plen) {
		ssize_t w = s->st->send(s, c->h, c->pend + c->poff, c->plen);

		if (w == -EAGAIN || w == -EWOULDBLOCK)
			return 0;
		if (w < 0)
			return -1;
		s->bytes_out += (uint64_t)w;
		c->poff += (size_t)w;
		c->plen -= (size_t)w;
	}
	c->poff = 0;
	return 1;
}

/*
 * One turn of a connection.  Returns 1 if it may have more to do at once,
 * 0 if it would block (c->plen says on what), -1 if it is gone (closed
 * and freed by the caller).
 */
static int serve(struct srv *s, struct conn *c)
{
	for (int round = 0; round < TURN_ROUNDS; round++) {
		int r = flush(s, c);
		ssize_t n;

		if (r < 0)
			goto reset;
		if (!r)
			return 0;
		if (c->close_after)
			goto done;
		n = s->st->recv(s, c->h, s->scratch, SCRATCH);
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return 0;
		if (n < 0)
			goto reset;
		if (n == 0) {
			if (c->kind != K_SINK)
				goto done;
			uint8_t le[8];

			for (int i = 0; i < 8; i++)
				le[i] = (uint8_t)(c->count >> (8 * i));
			c->close_after = true;
			if (put(s, c, le, 8))
				goto reset;
			continue;
		}
		s->bytes_in += (uint64_t)n;
		switch (c->kind) {
		case K_SINK:
			c->count += (uint64_t)n;
			break;
		case K_ONESHOT:
			c->close_after = true;
			/* fall through */
		case K_ECHO:
			if (put(s, c, s->scratch, (size_t)n))
				goto reset;
			break;
		}
	}
	return 1;
done:
	s->st->close(s, c->h, false);
	return -1;
reset:
	s->st->close(s, c->h, true);
	return -1;
}

static void conn_free(struct conn *c)
{
	free(c->pend);
	free(c);
}

static struct conn *conn_new(int h, enum kind k)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c) {
		c->h = h;
		c->kind = k;
	}
	return c;
}

/* ----------------------------------------------------------------- linux */

static int lx_listen(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096)) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* listeners are told apart from connections by a tagged epoll cookie */
#define LIS_TAG(k) ((uint64_t)(k) + 1)

static void lx_arm(struct srv *s, struct conn *c, bool out)
{
	struct epoll_event ev = { .events = out ? EPOLLOUT : EPOLLIN, .data.ptr = c };

	if (c->out_armed == out)
		return;
	c->out_armed = out;
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->h, &ev);
}

static void lx_accept(struct srv *s, enum kind k)
{
	for (int i = 0; i < 256; i++) {
		int one = 1, fd = accept4(s->lis[k], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		struct conn *c;

		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = conn_new(fd, k);
		ev.data.ptr = c;
		if (!c || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		s->accepted++;
	}
}

static int lx_run(struct srv *s, uint16_t base)
{
	struct epoll_event evs[256];

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		return -errno;
	for (int k = 0; k < 3; k++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LIS_TAG(k) };

		s->lis[k] = lx_listen((uint16_t)(base + k));
		if (s->lis[k] < 0) {
			fprintf(stderr, "bp_echo_srv: listen on port %d: %s\n", base + k,
				strerror(-s->lis[k]));
			return s->lis[k];
		}
		epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lis[k], &ev);
	}
	fprintf(stderr, "bp_echo_srv: linux stack listening on ports %u-%u\n", base, base + 2);

	while (!stop) {
		int n = epoll_wait(s->epfd, evs, 256, IDLE_WAIT_MS);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			int r;

			if (evs[i].data.u64 <= 3) {
				lx_accept(s, (enum kind)(evs[i].data.u64 - 1));
				continue;
			}
			r = serve(s, c);
			if (r < 0) {
				conn_free(c);
				continue;
			}
			/* stop reading while output is stuck: backpressure */
			lx_arm(s, c, c->plen != 0);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- bypass */

/*
 * bp_poll() names the handles with news (edge-triggered); a connection
 * that used up its turn with input left is kept on the busy list and
 * served again after the next poll, which then does not block.
 */
static void bx_serve(struct srv *s, struct conn *c)
{
	int r = serve(s, c);

	if (r < 0) {
		s->byh[c->h] = NULL;
		s->nconns--;
		if (c->busy)
			c->dead = true; /* freed when the busy list passes it */
		else
			conn_free(c);
		return;
	}
	if (r > 0 && !c->busy) {
		c->busy = true;
		s->busy[s->nbusy++] = c;
	}
}

static void bx_accept(struct srv *s, enum kind k)
{
	for (;;) {
		int h = bp_accept(s->ctx, s->lis[k]);
		struct conn *c;

		if (h < 0)
			return;
		c = s->nconns < MAX_CONNS && h < MAX_CONNS ? conn_new(h, k) : NULL;
		if (!c) {
			bp_abort(s->ctx, h);
			continue;
		}
		s->byh[h] = c;
		s->nconns++;
		s->accepted++;
		/* bp_poll() reports the new handle by itself */
	}
}

/* one pass over the connections that still had input after their turn */
static void bx_run_busy(struct srv *s)
{
	struct conn **list = s->busy;
	unsigned n = s->nbusy;

	s->busy = s->busy_next; /* serving may queue them again */
	s->busy_next = list;
	s->nbusy = 0;
	for (unsigned i = 0; i < n; i++) {
		struct conn *c = list[i];

		c->busy = false;
		if (c->dead)
			conn_free(c);
		else
			bx_serve(s, c);
	}
}

static int bx_run(struct srv *s, uint16_t base, const char *sock)
{
	struct bp_attach_opts ao = { .socket_path = sock, .app_name = "bp_echo_srv" };
	struct bp_pollev evs[256];
	char err[512];

	s->byh = calloc(MAX_CONNS, sizeof(*s->byh));
	s->busy = calloc(MAX_CONNS, sizeof(*s->busy));
	s->busy_next = calloc(MAX_CONNS, sizeof(*s->busy_next));
	if (!s->byh || !s->busy || !s->busy_next)
		return -ENOMEM;
	s->ctx = bp_attach(&ao, err, sizeof(err));
	if (!s->ctx) {
		fprintf(stderr, "bp_echo_srv: %s\n", err);
		return -1;
	}
	for (int k = 0; k < 3; k++) {
		s->lis[k] = bp_listen(s->ctx, 0, (uint16_t)(base + k), 4096);
		if (s->lis[k] < 0) {
			fprintf(stderr, "bp_echo_srv: listen on port %d: %s\n", base + k,
				strerror(-s->lis[k]));
			return s->lis[k];
		}
	}
	fprintf(stderr, "bp_echo_srv: bypass stack listening on ports %u-%u\n", base, base + 2);

	while (!stop) {
		int n = bp_poll(s->ctx, evs, 256, s->nbusy ? 0 : IDLE_WAIT_MS);

		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "bp_echo_srv: lost fastpathd: %s\n", strerror(-n));
			return n;
		}
		for (int i = 0; i < n; i++) {
			int h = evs[i].h, k;

			for (k = 0; k < 3 && s->lis[k] != h; k++)
				;
			if (k < 3)
				bx_accept(s, (enum kind)k);
			else if (h < MAX_CONNS && s->byh[h])
				bx_serve(s, s->byh[h]);
		}
		bx_run_busy(s);
	}
	for (unsigned h = 0; h < MAX_CONNS; h++)
		if (s->byh[h])
			bp_abort(s->ctx, (int)h);
	bp_detach(s->ctx);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: bp_echo_srv --stack linux|bypass [-p BASE] [--socket PATH]\n"
		"\n"
		"Benchmark server (one thread).  Ports: BASE echo, BASE+1 sink (at EOF\n"
		"the byte count goes back as 8 bytes), BASE+2 one-shot (echo the first\n"
		"read, then close).  Stops on SIGINT/SIGTERM and prints its counters.\n"
		"\n"
		"  -s, --stack S     linux (sockets + epoll) or bypass (libbypass)\n"
		"  -p, --port BASE   base port (default 7000)\n"
		"      --socket PATH fastpathd control socket (bypass; default $%s)\n",
		BP_SOCKET_ENV);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stack", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa = { .sa_handler = on_signal };
	const char *stack = NULL, *sock = NULL;
	static struct srv s;
	long base = 7000;
	int c, r;

	while ((c = getopt_long(argc, argv, "s:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': stack = optarg; break;
		case 'p':
			if (bench_parse_long(optarg, 1, 65533, &base)) {
				fprintf(stderr, "bp_echo_srv: bad port '%s'\n", optarg);
				return 2;
			}
			break;
		case 'S': sock = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!stack || optind != argc ||
	    (strcmp(stack, "linux") && strcmp(stack, "bypass"))) {
		usage(stderr);
		return 2;
	}
	/* no SA_RESTART: the signal must cut the wait short */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	bench_raise_nofile();

	if (!strcmp(stack, "linux")) {
		s.st = &linux_stack;
		r = lx_run(&s, (uint16_t)base);
	} else {
		s.st = &bypass_stack;
		r = bx_run(&s, (uint16_t)base, sock);
	}
	fprintf(stderr, "bp_echo_srv: %llu connections, %llu bytes in, %llu bytes out\n",
		(unsigned long long)s.accepted, (unsigned long long)s.bytes_in,
		(unsigned long long)s.bytes_out);
	return r ? 1 : 0;
}

// SPDX-License-Identifier: MIT
/*
 * bp_load - the benchmark load generator, over Linux sockets or libbypass.
 *
 *   bp_load --stack linux|bypass --server IP [-p BASE] MODE [options]
 *
 * Modes (against bp_echo_srv's three ports, see there):
 *   pingpong   one connection, one request of --size bytes at a time
 *   echo       --conns N connections, each with --depth requests in flight
 *              (closed loop: every response sends the next request)
 *   bulk       one connection sends as fast as it can for --duration, then
 *              half-closes; the sink's byte count gives the goodput
 *   cps        --conns N slots, each: connect, one request, read the
 *              response and the server's close, close, again
 *
 * Timeline: connect (bounded by --connect-timeout), --warmup seconds of
 * traffic, then the measured window of --duration seconds (or --count
 * responses, whichever ends first).  Latencies, rates and CPU times cover
 * the window only.  The result is one CSV line on stdout.
 *
 * CPU: the program reads /proc/PID/stat (user + system time, all threads)
 * of itself, of --cpu-srv PIDS and --cpu-cli PIDS, and /proc/stat for
 * every CPU, at the start and the end of the window.
 *
 * One thread.  Linux: non-blocking sockets and level-triggered epoll.
 * bypass: bp_poll(), which names the handles with news (edge-triggered);
 * connections that still had work after their turn go on a busy list and
 * get another turn without waiting.
 */
#include <arpa/inet.h>
#include <errno.h>
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

#include "bench_csv.h"
#include "bypass/bypass.h"

#define IOBUF (64 * 1024)
#define TURN_ROUNDS 8
#define MAX_CONNS 100000
#define MAX_HANDLES (1 << 20)   /* bypass handles are slot numbers, below max_flows */
#define MAX_DEPTH 1024
#define WAIT_SLICE_MS 10        /* longest sleep: phase changes are checked this often */
#define BULK_REPLY_TIMEOUT_S 20 /* sink's byte count after our FIN */
#define DRAIN_TIMEOUT_S 5       /* answers to requests in flight at the end */

enum mode { M_PINGPONG, M_ECHO, M_BULK, M_CPS };
static const char *const mode_names[] = { "pingpong", "echo", "bulk", "cps" };

enum cstate { CS_FREE, CS_CONNECTING, CS_OPEN, CS_DRAIN };

struct conn {
	int h;
	enum cstate state;
	uint32_t ev;            /* linux: epoll mask now armed */
	uint64_t tx_pend;       /* request bytes to send */
	uint64_t rx_part;       /* bytes of the current response so far */
	uint64_t t_conn;        /* cps: connect start */
	uint64_t *ts;           /* send times of requests in flight (FIFO) */
	unsigned ts_head, ts_n;
	uint8_t reply[8];       /* bulk: the sink's count */
	unsigned reply_n;
	bool busy;              /* bypass: on the busy list */
};

struct load;

struct cstack {
	int (*connect)(struct load *l, struct conn *c);
	int (*status)(struct load *l, struct conn *c);
	ssize_t (*send)(struct load *l, struct conn *c, const void *b, size_t n);
	ssize_t (*recv)(struct load *l, struct conn *c, void *b, size_t n);
	int (*shutdown)(struct load *l, struct conn *c);
	void (*close)(struct load *l, struct conn *c, bool reset);
	void (*want)(struct load *l, struct conn *c); /* linux: epoll mask */
};

struct load {
	/* options */
	const struct cstack *st;
	const char *stack_name;
	enum mode mode;
	struct sockaddr_in dst;
	uint16_t base;
	long conns, size, depth, count, open_batch;
	double duration, warmup, connect_timeout;
	const char *sock;
	struct bench_acct acct;	/* --cpu-srv, --cpu-cli, the CPUs */
	bool header, header_only;

	/* state */
	struct bp_ctx *ctx;
	int epfd;
	struct conn *c;
	struct conn **byh;      /* bypass: handle -> connection */
	struct conn **busy, **busy_next;
	unsigned nbusy;
	long nopen, nconnecting, started;
	bool running;           /* requests are being issued */
	bool stopping;          /* bulk: the window is over, half-close */
	bool measuring;
	bool done;
	uint64_t t_m0, t_m1;    /* the window, once known */
	uint64_t responses, bytes;      /* in the window */
	uint64_t inflight;              /* requests sent, not answered */
	uint64_t errors, conn_fail;
	uint64_t bulk_sent, bulk_count;
	double connect_s;
	struct hist lat;
	struct bench_cpu c0, c1;	/* at the window's start and end */
	uint8_t zero[IOBUF], scratch[IOBUF];
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ----------------------------------------------------------------- linux */

static int lx_connect(struct load *l, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&l->dst, sizeof(l->dst)) && errno != EINPROGRESS) {
		int e = -errno;

		close(fd);
		return e;
	}
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		int e = -errno;

		close(fd);
		return e;
	}
	c->h = fd;
	c->ev = EPOLLOUT;
	return 0;
}

static int lx_status(struct load *l, struct conn *c)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(c->h, SOL_SOCKET, SO_ERROR, &e, &len))
		return -errno;
	if (e)
		return -e;
	/* writable and no error: connected (we only ask after EPOLLOUT) */
	return 0;
}

static ssize_t lx_send(struct load *l, struct conn *c, const void *b, size_t n)
{
	ssize_t r = send(c->h, b, n, MSG_NOSIGNAL);

	return r < 0 ? -errno : r;
}

static ssize_t lx_recv(struct load *l, struct conn *c, void *b, size_t n)
{
	ssize_t r = read(c->h, b, n);

	return r < 0 ? -errno : r;
}

static int lx_shutdown(struct load *l, struct conn *c)
{
	return shutdown(c->h, SHUT_WR) ? -errno : 0;
}

static void lx_close(struct load *l, struct conn *c, bool reset)
{
	if (reset) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->h, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c->h);
}

static void lx_want(struct load *l, struct conn *c)
{
	uint32_t ev = c->state == CS_CONNECTING ? EPOLLOUT : EPOLLIN | (c->tx_pend ? EPOLLOUT : 0);
	struct epoll_event e = { .events = ev, .data.ptr = c };

	if (ev == c->ev)
		return;
	c->ev = ev;
	epoll_ctl(l->epfd, EPOLL_CTL_MOD, c->h, &e);
}

static const struct cstack linux_stack = {
	lx_connect, lx_status, lx_send, lx_recv, lx_shutdown, lx_close, lx_want,
};

/* ---------------------------------------------------------------- bypass */

static int bx_connect(struct load *l, struct conn *c)
{
	int h = bp_connect(l->ctx, l->dst.sin_addr.s_addr, ntohs(l->dst.sin_port));

	if (h < 0)
		return h;
	if (h >= MAX_HANDLES) {
		bp_abort(l->ctx, h);
		return -EMFILE;
	}
	c->h = h;
	l->byh[h] = c;
	return 0;
}

static int bx_status(struct load *l, struct conn *c)
{
	return bp_connect_status(l->ctx, c->h);
}

static ssize_t bx_send(struct load *l, struct conn *c, const void *b, size_t n)
{
	return bp_send(l->ctx, c->h, b, n);
}

static ssize_t bx_recv(struct load *l, struct conn *c, void *b, size_t n)
{
	return bp_recv(l->ctx, c->h, b, n);
}

static int bx_shutdown(struct load *l, struct conn *c)
{
	return bp_shutdown(l->ctx, c->h);
}

static void bx_close(struct load *l, struct conn *c, bool reset)
{
	l->byh[c->h] = NULL;
	if (reset)
		bp_abort(l->ctx, c->h);
	else
		bp_close(l->ctx, c->h);
}

static void bx_want(struct load *l, struct conn *c)
{
}

static const struct cstack bypass_stack = {
	bx_connect, bx_status, bx_send, bx_recv, bx_shutdown, bx_close, bx_want,
};

/* ------------------------------------------------------------- workloads */

/* queue one request on @c */
static void issue(struct load *l, struct conn *c, uint64_t now)
{
	c->tx_pend += (uint64_t)l->size;
	if (c->ts) {
		c->ts[(c->ts_head + c->ts_n) % (unsigned)l->depth] = now;
		c->ts_n++;
	}
	l->inflight++;
}

static void conn_release(struct load *l, struct conn *c, bool reset)
{
	l->st->close(l, c, reset);
	if (l->inflight >= c->ts_n)
		l->inflight -= c->ts_n;
	c->state = CS_FREE;
	c->tx_pend = c->rx_part = 0;
	c->ts_head = c->ts_n = 0;
	c->reply_n = 0;
	l->nopen--;
}

static void on_open(struct load *l, struct conn *c, uint64_t now)
{
	c->state = CS_OPEN;
	l->nconnecting--;
	if (l->mode == M_BULK || !l->running)
		return;
	for (long i = 0; i < l->depth; i++)
		issue(l, c, now);
}

/* one full response on @c at @now */
static void on_response(struct load *l, struct conn *c, uint64_t now)
{
	uint64_t t0 = now;

	if (c->ts && c->ts_n) {
		t0 = c->ts[c->ts_head];
		c->ts_head = (c->ts_head + 1) % (unsigned)l->depth;
		c->ts_n--;
	}
	if (l->inflight)
		l->inflight--;
	if (l->mode == M_CPS)
		return; /* counted when the server's close arrives */
	if (l->measuring) {
		l->responses++;
		l->bytes += (uint64_t)l->size;
		hist_add(&l->lat, now - t0);
	}
	if (l->running)
		issue(l, c, now);
}

static int start_connect(struct load *l, struct conn *c, uint64_t now)
{
	int r = l->st->connect(l, c);

	if (r < 0) {
		l->conn_fail++;
		return r;
	}
	c->state = CS_CONNECTING;
	c->t_conn = now;
	l->nopen++;
	l->nconnecting++;
	l->started++;
	return 0;
}

/*
 * One turn of a connection.  Returns 1 if it may have more to do at once,
 * 0 if it would block.
 */
static int service(struct load *l, struct conn *c, uint64_t now)
{
	int more = 1;

	if (c->state == CS_FREE)
		return 0;
	if (c->state == CS_CONNECTING) {
		int r = l->st->status(l, c);

		if (r == -EINPROGRESS || r == -EAGAIN)
			return 0;
		if (r < 0) {
			l->conn_fail++;
			l->nconnecting--;
			conn_release(l, c, true);
			return 0;
		}
		on_open(l, c, now);
	}
	for (int round = 0; round < TURN_ROUNDS; round++) {
		bool progress = false;
		ssize_t n;

		/* bulk sends until the window ends, then half-closes */
		if (l->mode == M_BULK && c->state == CS_OPEN) {
			if (l->running) {
				c->tx_pend = IOBUF;
			} else if (l->stopping && !c->tx_pend) {
				if (l->st->shutdown(l, c) < 0)
					goto fail;
				c->state = CS_DRAIN;
			}
		}
		while (c->tx_pend) {
			size_t want = c->tx_pend < IOBUF ? (size_t)c->tx_pend : IOBUF;

			n = l->st->send(l, c, l->zero, want);
			if (n == -EAGAIN || n == -EWOULDBLOCK)
				break;
			if (n <= 0)
				goto fail;
			c->tx_pend -= (uint64_t)n;
			if (l->mode == M_BULK)
				l->bulk_sent += (uint64_t)n;
			progress = true;
			if ((size_t)n < want)
				break;
		}
		n = l->st->recv(l, c, l->scratch, IOBUF);
		if (n == -EAGAIN || n == -EWOULDBLOCK) {
			if (!progress) {
				more = 0;
				break;
			}
			continue;
		}
		if (n < 0)
			goto fail;
		if (n == 0) {
			if (l->mode == M_CPS && c->ts_n == 0) {
				/* response in, server closed: one connection done */
				if (l->measuring) {
					l->responses++;
					hist_add(&l->lat, now - c->t_conn);
				}
				conn_release(l, c, false);
				return 0;
			}
			goto fail;
		}
		if (l->mode == M_BULK) {
			/* the sink says nothing until our FIN: 8 bytes of count */
			for (ssize_t i = 0; i < n && c->reply_n < 8; i++)
				c->reply[c->reply_n++] = l->scratch[i];
			if (c->reply_n == 8) {
				for (int i = 7; i >= 0; i--)
					l->bulk_count = (l->bulk_count << 8) | c->reply[i];
				l->t_m1 = now;
				l->done = true;
				conn_release(l, c, false);
				return 0;
			}
			continue;
		}
		c->rx_part += (uint64_t)n;
		while (c->rx_part >= (uint64_t)l->size) {
			c->rx_part -= (uint64_t)l->size;
			on_response(l, c, now);
		}
	}
	if (l->mode == M_BULK && l->running && c->state == CS_OPEN)
		c->tx_pend = IOBUF; /* always more to send: keep asking for room */
	l->st->want(l, c);
	return more;
fail:
	l->errors++;
	if (c->state == CS_CONNECTING)
		l->nconnecting--;
	conn_release(l, c, true);
	return 0;
}

/* keep --open-batch handshakes in flight until --conns are open */
static void open_more(struct load *l, uint64_t now)
{
	for (long i = 0; i < l->conns && l->nconnecting < l->open_batch; i++) {
		struct conn *c = &l->c[i];

		if (c->state != CS_FREE)
			continue;
		/* before the run: open each slot once; cps: reopen all along */
		if (l->mode != M_CPS && l->started >= l->conns)
			return;
		if (start_connect(l, c, now) < 0 && l->conn_fail > (uint64_t)l->conns + 1000)
			return;
	}
}

/* bypass: one turn of @c; back on the busy list if it has more to do */
static void bx_turn(struct load *l, struct conn *c, uint64_t now)
{
	if (service(l, c, now) && !c->busy && c->state != CS_FREE) {
		c->busy = true;
		l->busy[l->nbusy++] = c;
	}
}

/* wait for something, up to @ms; then service what may be ready */
static int poll_once(struct load *l, int ms)
{
	uint64_t now = 0;
	int more = 0;

	if (l->st == &linux_stack) {
		struct epoll_event evs[512];
		int n = epoll_wait(l->epfd, evs, 512, ms);

		for (int i = 0; i < n; i++)
			service(l, evs[i].data.ptr, bench_now_ns());
		return 0; /* level-triggered: epoll reports leftovers again */
	}
	struct bp_pollev evs[512];
	int n = bp_poll(l->ctx, evs, 512, l->nbusy ? 0 : ms);

	if (n < 0 && n != -EINTR && !interrupted) {
		fprintf(stderr, "bp_load: bp_poll: %s\n", strerror(-n));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct conn *c = evs[i].h < MAX_HANDLES ? l->byh[evs[i].h] : NULL;

		/* a fresh clock now and then: a long batch must not age the samples */
		if (!(i & 15))
			now = bench_now_ns();
		if (c)
			bx_turn(l, c, now);
	}
	struct conn **list = l->busy;
	unsigned nb = l->nbusy;

	l->busy = l->busy_next; /* a turn may put them back */
	l->busy_next = list;
	l->nbusy = 0;
	for (unsigned i = 0; i < nb; i++) {
		if (!(i & 15))
			now = bench_now_ns();
		list[i]->busy = false;
		bx_turn(l, list[i], now);
	}
	more = l->nbusy != 0;
	return more;
}

static void window_start(struct load *l, uint64_t now)
{
	l->measuring = true;
	l->t_m0 = now;
	bench_cpu_sample(&l->acct, &l->c0);
}

static void window_end(struct load *l, uint64_t now)
{
	l->measuring = false;
	if (!l->t_m1)
		l->t_m1 = now;
	bench_cpu_sample(&l->acct, &l->c1);
}

static int run(struct load *l)
{
	uint64_t t0 = bench_now_ns(), now = t0, t_run, t_meas, t_end, deadline;
	int more = 0;

	/* 1: connections (cps opens them as its workload) */
	if (l->mode != M_CPS) {
		deadline = t0 + (uint64_t)(l->connect_timeout * 1e9);
		while (!interrupted && (l->nopen < l->conns || l->nconnecting) && now < deadline) {
			open_more(l, now);
			if (poll_once(l, WAIT_SLICE_MS) < 0)
				return -1;
			now = bench_now_ns();
			if (l->conn_fail > (uint64_t)l->conns / 10 + 10)
				break;
		}
		l->connect_s = (double)(now - t0) / 1e9;
		if (l->nopen < l->conns || l->nconnecting) {
			fprintf(stderr, "bp_load: only %ld of %ld connections open after %.1f s "
				"(%llu failed)\n", l->nopen - l->nconnecting, l->conns, l->connect_s,
				(unsigned long long)l->conn_fail);
			return -1;
		}
	}

	/* 2: warmup, then the window */
	l->running = true;
	t_run = now;
	for (long i = 0; i < l->conns && l->mode != M_CPS; i++) {
		for (long d = 0; d < l->depth && l->mode != M_BULK && l->c[i].state == CS_OPEN; d++)
			issue(l, &l->c[i], now);
		more |= service(l, &l->c[i], now); /* send them: epoll waits for input only */
	}
	if (l->mode == M_BULK)
		l->warmup = 0; /* the sink counts everything: time it all */
	t_meas = t_run + (uint64_t)(l->warmup * 1e9);
	t_end = t_meas + (uint64_t)(l->duration * 1e9);
	/* a run never outlives its budget, whatever the peer does */
	deadline = t_end + (uint64_t)BULK_REPLY_TIMEOUT_S * 1000000000ull;

	for (;;) {
		int ms = more ? 0 : WAIT_SLICE_MS;

		now = bench_now_ns();
		if (interrupted || now >= deadline)
			break;
		if (!l->t_m0 && now >= t_meas)
			window_start(l, now);
		if (l->measuring && (now >= t_end ||
				     (l->count && l->responses >= (uint64_t)l->count))) {
			if (l->mode == M_BULK) {
				/* stop sending, wait for the sink's count */
				l->running = false;
				l->stopping = true;
				if (l->done)
					break;
			} else {
				window_end(l, now);
				break;
			}
		}
		if (l->mode == M_BULK && l->done)
			break;
		if (l->mode == M_CPS && l->running)
			open_more(l, now);
		else if (l->stopping)
			for (long i = 0; i < l->conns; i++) /* nudge the FIN out */
				more |= service(l, &l->c[i], now);
		more = poll_once(l, ms);
		if (more < 0)
			return -1;
	}
	if (l->mode == M_BULK) {
		if (!l->done) {
			fprintf(stderr, "bp_load: bulk: no byte count from the sink\n");
			l->errors++;
		}
		window_end(l, now);
		l->bytes = l->bulk_count;
		if (l->bulk_count != l->bulk_sent) {
			fprintf(stderr, "bp_load: bulk: sent %llu bytes, sink counted %llu\n",
				(unsigned long long)l->bulk_sent,
				(unsigned long long)l->bulk_count);
			l->errors++;
		}
	} else if (l->measuring) {
		window_end(l, now);
	}
	if (interrupted)
		return -1;
	return 0;
}

/*
 * After the window: let the requests in flight come back, then close every
 * connection in an orderly way, a batch at a time.  Aborting thousands at
 * once would throw a burst of RSTs at the port, and a lost RST is never
 * sent again: the server would keep those connections.
 */
static void drain_and_close(struct load *l)
{
	uint64_t deadline = bench_now_ns() + DRAIN_TIMEOUT_S * 1000000000ull;
	long i = 0;

	l->running = false;
	l->measuring = false;
	while (!interrupted && l->inflight && bench_now_ns() < deadline)
		if (poll_once(l, 1) < 0)
			break;
	while (i < l->conns) {
		for (long n = 0; i < l->conns && n < l->open_batch; i++) {
			struct conn *c = &l->c[i];

			if (c->state == CS_FREE)
				continue;
			/* unanswered requests left: a close would reset anyway */
			conn_release(l, c, c->ts_n != 0 || interrupted);
			n++;
		}
		if (poll_once(l, 1) < 0)
			break;
	}
}

static void print_csv(struct load *l)
{
	struct bench_result r = {
		.mode = mode_names[l->mode], .stack = l->stack_name, .conns = l->conns,
		.size = l->size, .depth = l->depth, .t0_ns = l->t_m0, .t1_ns = l->t_m1,
		.responses = l->responses, .bytes = l->bytes, .errors = l->errors,
		.conn_fail = l->conn_fail, .connect_s = l->connect_s, .lat = &l->lat,
		.c0 = l->c0, .c1 = l->c1,
	};

	if (l->header)
		bench_csv_header(&l->acct);
	bench_csv_row(&l->acct, &r);
}

static void usage(FILE *out)
{
	fprintf(out,
"usage: bp_load --stack linux|bypass --server IP [options] MODE\n"
"\n"
"MODE: pingpong | echo | bulk | cps   (against bp_echo_srv; see its --help)\n"
"\n"
"  -s, --stack S            linux (sockets + epoll) or bypass (libbypass)\n"
"  -a, --server IP          server address\n"
"  -p, --port BASE          server base port (default 7000)\n"
"  -c, --conns N            connections (echo) or parallel slots (cps); default 1\n"
"  -b, --size BYTES         request = response size (default 64)\n"
"  -D, --depth N            requests in flight per connection (echo; default 1)\n"
"  -d, --duration SEC       measured window (default 5)\n"
"  -w, --warmup SEC         traffic before the window (default 1; bulk: none)\n"
"  -n, --count N            end the window after N responses (default: no limit)\n"
"      --connect-timeout S  time allowed to open every connection (default 60)\n"
"      --open-batch N       handshakes in flight while opening (default 256)\n"
"      --cpu-srv PIDS       server-side processes to account (comma separated)\n"
"      --cpu-cli PIDS       client-side processes besides this one\n"
"      --socket PATH        fastpathd control socket (bypass; default $%s)\n"
"      --header             print the CSV header line first\n"
"      --header-only        print the CSV header line and exit\n"
"\n"
"Prints one CSV line: rates, latency percentiles (us) from a log-linear\n"
"histogram (0.8%% buckets), CPU seconds used in the window.\n",
		BP_SOCKET_ENV);
}

static int parse(struct load *l, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stack", required_argument, NULL, 's' },
		{ "server", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 'b' },
		{ "depth", required_argument, NULL, 'D' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },
		{ "connect-timeout", required_argument, NULL, 'T' },
		{ "open-batch", required_argument, NULL, 'B' },
		{ "cpu-srv", required_argument, NULL, 'P' },
		{ "cpu-cli", required_argument, NULL, 'Q' },
		{ "socket", required_argument, NULL, 'S' },
		{ "header", no_argument, NULL, 'H' },
		{ "header-only", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *stack = NULL, *server = NULL;
	long port = 7000;
	int c, bad = 0;

	l->conns = 1;
	l->size = 64;
	l->depth = 1;
	l->duration = 5;
	l->warmup = 1;
	l->connect_timeout = 60;
	l->open_batch = 256;
	while ((c = getopt_long(argc, argv, "s:a:p:c:b:D:d:w:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': stack = optarg; break;
		case 'a': server = optarg; break;
		case 'p': bad |= bench_parse_long(optarg, 1, 65533, &port); break;
		case 'c': bad |= bench_parse_long(optarg, 1, MAX_CONNS, &l->conns); break;
		case 'b': bad |= bench_parse_long(optarg, 1, 1 << 20, &l->size); break;
		case 'D': bad |= bench_parse_long(optarg, 1, MAX_DEPTH, &l->depth); break;
		case 'd': bad |= bench_parse_double(optarg, 0.01, 3600, &l->duration); break;
		case 'w': bad |= bench_parse_double(optarg, 0, 600, &l->warmup); break;
		case 'n': bad |= bench_parse_long(optarg, 1, 1L << 40, &l->count); break;
		case 'T': bad |= bench_parse_double(optarg, 0.1, 3600, &l->connect_timeout); break;
		case 'B': bad |= bench_parse_long(optarg, 1, MAX_CONNS, &l->open_batch); break;
		case 'P': bad |= (l->acct.nsrv = bench_parse_pids(optarg, l->acct.srv_pids, BENCH_MAX_PIDS)) < 0; break;
		case 'Q': bad |= (l->acct.ncli = bench_parse_pids(optarg, l->acct.cli_pids, BENCH_MAX_PIDS)) < 0; break;
		case 'S': l->sock = optarg; break;
		case 'H': l->header = true; break;
		case 'O': l->header_only = true; return 0;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
		if (bad) {
			/* by its long name: some options have no short one */
			fprintf(stderr, "bp_load: --%s: bad value '%s'\n", bench_opt_name(opts, c),
				optarg);
			return -1;
		}
	}
	if (optind != argc - 1 || !stack || !server) {
		fprintf(stderr, "bp_load: need --stack, --server and one MODE\n");
		return -1;
	}
	for (c = 0; c < 4 && strcmp(argv[optind], mode_names[c]); c++)
		;
	if (c == 4) {
		fprintf(stderr, "bp_load: unknown mode '%s'\n", argv[optind]);
		return -1;
	}
	l->mode = (enum mode)c;
	if (!strcmp(stack, "linux")) {
		l->st = &linux_stack;
	} else if (!strcmp(stack, "bypass")) {
		l->st = &bypass_stack;
	} else {
		fprintf(stderr, "bp_load: --stack linux or bypass, not '%s'\n", stack);
		return -1;
	}
	l->stack_name = stack;
	l->dst.sin_family = AF_INET;
	if (inet_pton(AF_INET, server, &l->dst.sin_addr) != 1) {
		fprintf(stderr, "bp_load: bad server address '%s'\n", server);
		return -1;
	}
	l->base = (uint16_t)port;
	switch (l->mode) {
	case M_PINGPONG:
		l->conns = 1;
		l->depth = 1;
		/* fall through */
	case M_ECHO:
		l->dst.sin_port = htons(BENCH_PORT_ECHO(l->base));
		break;
	case M_BULK:
		l->conns = 1;
		l->depth = 1;
		l->dst.sin_port = htons(BENCH_PORT_SINK(l->base));
		break;
	case M_CPS:
		l->depth = 1;
		l->dst.sin_port = htons(BENCH_PORT_CPS(l->base));
		break;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	static struct load l;
	int r;

	bench_acct_init(&l.acct);
	if (parse(&l, argc, argv)) {
		usage(stderr);
		return 2;
	}
	if (l.header_only) {
		bench_csv_header(&l.acct);
		return 0;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	bench_raise_nofile();
	hist_init(&l.lat);
	if (l.open_batch > l.conns)
		l.open_batch = l.conns;

	l.c = calloc((size_t)l.conns, sizeof(*l.c));
	if (!l.c) {
		fprintf(stderr, "bp_load: out of memory\n");
		return 1;
	}
	for (long i = 0; i < l.conns && l.mode != M_BULK; i++) {
		l.c[i].ts = calloc((size_t)l.depth, sizeof(uint64_t));
		if (!l.c[i].ts) {
			fprintf(stderr, "bp_load: out of memory\n");
			return 1;
		}
	}
	if (l.st == &linux_stack) {
		l.epfd = epoll_create1(EPOLL_CLOEXEC);
		if (l.epfd < 0) {
			perror("bp_load: epoll_create1");
			return 1;
		}
	} else {
		struct bp_attach_opts ao = { .socket_path = l.sock, .app_name = "bp_load" };
		char err[512];

		l.ctx = bp_attach(&ao, err, sizeof(err));
		if (!l.ctx) {
			fprintf(stderr, "bp_load: %s\n", err);
			return 1;
		}
		l.byh = calloc(MAX_HANDLES, sizeof(*l.byh));
		l.busy = calloc((size_t)l.conns, sizeof(*l.busy));
		l.busy_next = calloc((size_t)l.conns, sizeof(*l.busy_next));
		if (!l.byh || !l.busy || !l.busy_next) {
			fprintf(stderr, "bp_load: out of memory\n");
			return 1;
		}
	}

	r = run(&l);
	if (!r)
		print_csv(&l);
	drain_and_close(&l);
	if (l.ctx)
		bp_detach(l.ctx);
	if (r)
		fprintf(stderr, "bp_load: %s %s run failed (%llu errors, %llu failed connects)\n",
			l.stack_name, mode_names[l.mode], (unsigned long long)l.errors,
			(unsigned long long)l.conn_fail);
	return r ? 1 : 0;
}

// SPDX-License-Identifier: MIT
/*
 * rpc_bench - closed-loop RPC benchmark and session-scale driver for the
 * rpc library.
 *
 *   rpc_bench server [--stack kernel|bypass|bypass-msg] [--listen IP] [-p PORT]
 *   rpc_bench client --server IP [-p PORT] [--stack kernel|bypass|bypass-msg]
 *             [--conns N] [--size B] [--depth D] [--duration S] [--warmup S]
 *             [--count N] [--connect-timeout S] [--cpu-srv PIDS]
 *             [--cpu-cli PIDS] [--verify] [--fair F] [--hold-file PATH] [--header]
 *
 * The server answers method 1 with the request's bytes (echo) and reports
 * how many sessions it holds ("rpc_bench: sessions live=N peak=M ..." each
 * time that changed, at most 5 times a second).
 *
 * The client opens N sessions (at most --open-batch still connecting at a
 * time), then keeps D calls outstanding on each, a new call as soon as one
 * completes: --warmup seconds, then the measured window of --duration
 * seconds or --count responses, whichever ends first.  It prints bp_load's
 * CSV line (bench/bench_csv.h), so bench/rpc_compare.sh reads it like
 * bp_load's and grpc_load's.  Each session sends its own byte pattern;
 * --verify compares every response with it byte for byte.  After the window
 * it prints each session's share on stderr ("calls per session in the
 * window: min M mean A max X"); --fair F fails the run when the least
 * served session completed fewer than F times the mean (starvation).
 *
 * --hold-file PATH (scale test): each session makes D calls only; once every
 * session has its answers, "rpc_bench: all N sessions answered" is printed
 * and the sessions stay open (keepalive only) until PATH exists; then all
 * are closed.  A session lost on the way fails the run.
 *
 * Exit: 0, 1 (setup failed, a call failed or a check did not hold), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_csv.h"
#include "bypass/rpc.h"
#include "rpc_cli.h"

#define M_ECHO 1
#define PATTERN 256	/* sessions' patterns differ by their offset into it */
#define DRAIN_S 5	/* answers to calls in flight at the window's end */
#define HOLD_MAX_S 600	/* longest --hold-file wait */
#define ADDR_LEN 64

struct csess {
	struct rpc_session *s;
	unsigned answered;	/* OK responses */
	unsigned in_window;	/* OK responses in the measured window */
	bool up, was_up;
};

struct slot {
	struct csess *cs;
	unsigned off;		/* pattern offset of the call in flight */
	bool parked;		/* its session is down: the next call waits for it */
	uint64_t t0;
};

static struct {
	bool is_server, verify, header;
	const char *stack, *host, *hold_file;
	long port, conns, size, depth, count, open_batch, keepalive_ms, ka_timeout_ms, heap_mb;
	double duration, warmup, connect_timeout, fair;
	struct bench_acct acct;
} opt = {
	.stack = "kernel", .port = 7100, .conns = 1, .size = 64, .depth = 1,
	.open_batch = 256, .duration = 5, .warmup = 1, .connect_timeout = 60,
};

static volatile sig_atomic_t stop;
static struct rpc_endpoint *ep;

/* client state */
static struct csess *cs;
static struct slot *slots;
static uint8_t *pattern;
static struct hist lat;
static bool running, measuring;
static long nup_once, nfailed_connects, nlost, nanswered;
static uint64_t responses, bytes, errors, inflight;

static void on_stop(int sig)
{
	stop = 1;
}

/* ---------------------------------------------------------------- server */

static long live, peak;
static unsigned long accepted, closed;

static void h_echo(struct rpc_req *r, void *arg)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	struct iovec iov = { (void *)m->data, m->len };

	rpc_respond(r, RPC_OK, &iov, 1, NULL, 0);
}

static void srv_sess(struct rpc_session *s, enum rpc_session_event ev, int err, void *arg)
{
	if (ev == RPC_SESS_ACCEPTED) {
		accepted++;
		if (++live > peak)
			peak = live;
	} else if (ev == RPC_SESS_CLOSED) {
		closed++;
		live--;
	}
}

static void srv_report(void)
{
	struct rpc_stats st;

	rpc_endpoint_stats(ep, &st);
	printf("rpc_bench: sessions live=%ld peak=%ld accepted=%lu closed=%lu zc_rx_msgs=%lu\n",
	       live, peak, accepted, closed, (unsigned long)st.zc_rx_msgs);
	fflush(stdout);
}

static int server(const char *addr)
{
	unsigned long seen = 0;
	uint64_t next = 0;
	int r = rpc_register(ep, M_ECHO, "bench.echo", h_echo, NULL);

	if (!r)
		r = rpc_listen(ep, addr, srv_sess, NULL);
	if (r < 0) {
		fprintf(stderr, "rpc_bench: listen %s: %s\n", addr, strerror(-r));
		return 1;
	}
	printf("rpc_bench: listening on port %d\n", rpc_listen_port(ep));
	fflush(stdout);
	while (!stop) {
		uint64_t now;

		r = rpc_run(ep, 100);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "rpc_bench: %s\n", strerror(-r));
			return 1;
		}
		now = bench_now_ns();
		if (accepted + closed != seen && now >= next) {
			seen = accepted + closed;
			next = now + 200000000ull;
			srv_report();
		}
	}
	srv_report();
	return 0;
}

/* ---------------------------------------------------------------- client */

static void issue(struct slot *sl);

static void done(const struct rpc_result *res, void *arg)
{
	struct slot *sl = arg;
	bool ok = res->status == RPC_OK && res->msg.len == (size_t)opt.size &&
		  (!opt.verify || !memcmp(res->msg.data, pattern + sl->off, opt.size));

	inflight--;
	if (!ok) {
		if (errors++ < 5)
			fprintf(stderr, "rpc_bench: call failed: %s, %zu bytes%s\n",
				rpc_status_name(res->status), res->msg.len,
				res->status == RPC_OK ? " (wrong length or bytes)" : "");
	} else {
		if (!sl->cs->answered++)
			nanswered++;
		if (measuring) {
			hist_add(&lat, bench_now_ns() - sl->t0);
			responses++;
			sl->cs->in_window++;
			bytes += res->msg.len;
		}
	}
	/* a session that is down fails every call at once: calling again
	 * right away would spin; wait for the reconnect instead */
	if (running && !stop && !ok && !sl->cs->up)
		sl->parked = true;
	else if (running && !stop)
		issue(sl);
}

static void issue(struct slot *sl)
{
	struct iovec iov = { NULL, opt.size };
	int r;

	sl->off = (sl->off + 1) % PATTERN;
	iov.iov_base = pattern + sl->off;
	sl->t0 = bench_now_ns();
	r = rpc_call(sl->cs->s, M_ECHO, &iov, 1, NULL, done, sl, NULL);
	if (r < 0) {
		if (errors++ < 5)
			fprintf(stderr, "rpc_bench: rpc_call: %s\n", strerror(-r));
		sl->parked = true;
		return;
	}
	inflight++;
}

static void cli_sess(struct rpc_session *s, enum rpc_session_event ev, int err, void *arg)
{
	struct csess *c = arg;

	if (ev == RPC_SESS_CONNECTED) {
		c->up = true;
		if (!c->was_up)
			nup_once++;
		c->was_up = true;
		for (long d = 0; running && !stop && d < opt.depth; d++) {
			struct slot *sl = &slots[(c - cs) * opt.depth + d];

			if (sl->parked) {
				sl->parked = false;
				issue(sl);
			}
		}
	} else if (ev == RPC_SESS_DISCONNECTED) {
		c->up = false;
		if (nlost++ < 5)
			fprintf(stderr, "rpc_bench: session lost: %s\n", strerror(-err));
	} else if (ev == RPC_SESS_FAILED) {
		nfailed_connects++;
	}
}

static int run_until(uint64_t end_ns, bool (*done_fn)(void))
{
	while (!stop && bench_now_ns() < end_ns && !(done_fn && done_fn()))
		if (rpc_run(ep, 10) == -EDEADLK)
			return -1;
	return 0;
}

/* open every session, at most --open-batch connecting at a time */
static int open_all(const char *addr)
{
	uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)(opt.connect_timeout * 1e9);
	long opened = 0;

	while (nup_once < opt.conns && bench_now_ns() < end && !stop) {
		while (opened < opt.conns && opened - nup_once < opt.open_batch) {
			cs[opened].s = rpc_connect(ep, addr, cli_sess, &cs[opened]);
			if (!cs[opened].s) {
				fprintf(stderr, "rpc_bench: connect %s: %s\n", addr, strerror(errno));
				return -1;
			}
			opened++;
		}
		rpc_run(ep, 10);
	}
	if (nup_once < opt.conns) {
		fprintf(stderr, "rpc_bench: only %ld of %ld sessions connected after %.1f s "
			"(%ld failed attempts)\n", nup_once, opt.conns, opt.connect_timeout,
			nfailed_connects);
		return -1;
	}
	return 0;
}

static bool all_answered(void)
{
	return nanswered == opt.conns;
}

static bool no_inflight(void)
{
	return !inflight;
}

static bool window_full(void)
{
	return opt.count && responses >= (uint64_t)opt.count;
}

static bool hold_released(void)
{
	return !access(opt.hold_file, F_OK);
}

static long sessions_up(void)
{
	long n = 0;

	for (long i = 0; i < opt.conns; i++)
		n += cs[i].up;
	return n;
}

/* --hold-file: one round of calls, then all sessions idle until released */
static int hold(void)
{
	uint64_t now = bench_now_ns();

	run_until(now + (uint64_t)(opt.connect_timeout * 1e9), all_answered);
	if (!all_answered() || errors) {
		fprintf(stderr, "rpc_bench: %ld of %ld sessions answered, %lu calls failed\n",
			nanswered, opt.conns, (unsigned long)errors);
		return 1;
	}
	printf("rpc_bench: all %ld sessions answered\n", opt.conns);
	fflush(stdout);
	run_until(bench_now_ns() + HOLD_MAX_S * 1000000000ull, hold_released);
	printf("rpc_bench: hold released: %ld sessions up, %ld lost\n", sessions_up(), nlost);
	fflush(stdout);
	if (!hold_released() || nlost || sessions_up() != opt.conns)
		return 1;
	return 0;
}

static int measure(struct bench_result *res)
{
	uint64_t now = bench_now_ns();

	run_until(now + (uint64_t)(opt.warmup * 1e9), NULL);
	hist_init(&lat);
	responses = bytes = 0;
	measuring = true;
	bench_cpu_sample(&opt.acct, &res->c0);
	res->t0_ns = bench_now_ns();
	run_until(res->t0_ns + (uint64_t)(opt.duration * 1e9), window_full);
	res->t1_ns = bench_now_ns();
	bench_cpu_sample(&opt.acct, &res->c1);
	measuring = false;
	res->responses = responses;
	res->bytes = bytes;
	return 0;
}

/* the least and most served sessions of the window: a starved session
 * shows here long before it shows in p99 */
static int fairness(void)
{
	unsigned lo = UINT_MAX, hi = 0;
	long at = 0;
	double mean = 0;

	for (long i = 0; i < opt.conns; i++) {
		if (cs[i].in_window < lo) {
			lo = cs[i].in_window;
			at = i;
		}
		if (cs[i].in_window > hi)
			hi = cs[i].in_window;
		mean += cs[i].in_window;
	}
	mean /= (double)opt.conns;
	fprintf(stderr, "rpc_bench: calls per session in the window: min %u mean %.1f max %u\n",
		lo, mean, hi);
	if (opt.fair > 0 && lo < opt.fair * mean) {
		fprintf(stderr, "rpc_bench: session %ld completed %u calls, below %.2f x the mean "
			"%.1f (--fair): some sessions are starved\n", at, lo, opt.fair, mean);
		return 1;
	}
	return 0;
}

static int client(const char *addr)
{
	char stack[32];
	struct bench_result res = { .mode = "unary", .stack = stack, .conns = opt.conns,
				    .size = opt.size, .depth = opt.depth, .lat = &lat };
	uint64_t t0;
	int rc = 0;

	snprintf(stack, sizeof(stack), "bprpc-%s", opt.stack);
	cs = calloc((size_t)opt.conns, sizeof(*cs));
	slots = calloc((size_t)(opt.conns * opt.depth), sizeof(*slots));
	pattern = malloc((size_t)opt.size + PATTERN);
	if (!cs || !slots || !pattern) {
		fprintf(stderr, "rpc_bench: out of memory\n");
		return 1;
	}
	srandom((unsigned)getpid());
	for (long i = 0; i < opt.size + PATTERN; i++)
		pattern[i] = (uint8_t)random();
	hist_init(&lat);
	t0 = bench_now_ns();
	if (open_all(addr))
		return 1;
	res.connect_s = (double)(bench_now_ns() - t0) / 1e9;
	running = !opt.hold_file;
	for (long i = 0; i < opt.conns * opt.depth; i++) {
		slots[i].cs = &cs[i / opt.depth];
		slots[i].off = (unsigned)(i * 7);
		issue(&slots[i]);
	}
	if (opt.hold_file)
		rc = hold();
	else
		measure(&res);
	if (!opt.hold_file && fairness())
		rc = 1;
	running = false;
	run_until(bench_now_ns() + DRAIN_S * 1000000000ull, no_inflight);
	res.errors = errors;
	res.conn_fail = (uint64_t)nfailed_connects;
	if (!opt.hold_file) {
		if (opt.header)
			bench_csv_header(&opt.acct);
		bench_csv_row(&opt.acct, &res);
	}
	struct rpc_stats st;

	/* zc_*: how much went through the transport's rings in place (on
	 * stderr: stdout's last line is the CSV row bench scripts read) */
	rpc_endpoint_stats(ep, &st);
	fprintf(stderr, "rpc_bench: zc_tx=%lu zc_rx_bytes=%lu zc_rx_msgs=%lu\n",
		(unsigned long)st.zc_tx, (unsigned long)st.zc_rx_bytes, (unsigned long)st.zc_rx_msgs);
	/* orderly closes: FINs, so the server side ends every session */
	for (long i = 0; i < opt.conns; i++)
		rpc_session_close(cs[i].s);
	rpc_run(ep, 0);
	if (opt.hold_file) {
		printf("rpc_bench: closed %ld sessions\n", opt.conns);
		fflush(stdout);
	}
	if (errors || inflight || (!opt.hold_file && !res.responses))
		rc = 1;
	free(cs);
	free(slots);
	free(pattern);
	return rc;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f,
"usage: rpc_bench server [--stack S] [--listen IP] [-p PORT]\n"
"       rpc_bench client --server IP [-p PORT] [--stack S] [options]\n"
"\n"
"  -s, --stack S            " RPC_CLI_TRANSPORT_HELP "\n"
"                           (--transport is the same)\n"
"  -l, --listen IP          server: address to listen on (default 0.0.0.0)\n"
"  -a, --server IP          client: the server\n"
"  -p, --port PORT          default 7100\n"
"  -c, --conns N            sessions (default 1)\n"
"  -b, --size BYTES         request = response body (default 64, up to 8 MiB)\n"
"  -D, --depth N            calls in flight per session (default 1)\n"
"  -d, --duration SEC       measured window (default 5)\n"
"  -w, --warmup SEC         calls before the window (default 1)\n"
"  -n, --count N            end the window after N responses (default: no limit)\n"
"      --connect-timeout S  time allowed to connect every session (default 60)\n"
"      --open-batch N       sessions connecting at once while opening (default 256)\n"
"      --cpu-srv PIDS       server-side processes to account (comma separated)\n"
"      --cpu-cli PIDS       client-side processes besides this one\n"
"      --keepalive-ms MS    the endpoint's keepalive interval (library default 1000)\n"
"      --keepalive-timeout-ms MS  silence after which a session is dead (library\n"
"                           default: 4 intervals, at least 10000; at least 3 intervals)\n"
"      --msg-heap-mb N      bypass-msg: the message heap (and send area) to ask\n"
"                           fastpathd for (library default 32)\n"
"      --verify             compare every response with the request, byte for byte\n"
"      --fair F             fail if a session completed fewer than F x the mean\n"
"                           calls in the window (0..1; default: only report)\n"
"      --hold-file PATH     one round of calls, then hold every session open until\n"
"                           PATH exists, then close them all (scale tests)\n"
"      --header             print the CSV header line first\n"
"      --header-only        print the CSV header line and exit\n"
"\n"
"The server echoes method 1 and prints its live session count when it changes.\n"
"The client prints bp_load's CSV line (calls: closed loop, latency in us, CPU\n"
"seconds of this process plus --cpu-cli, and of --cpu-srv, in the window).\n");
}

static int parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "stack", required_argument, 0, 's' }, { "transport", required_argument, 0, 's' },
		{ "listen", required_argument, 0, 'l' }, { "server", required_argument, 0, 'a' },
		{ "port", required_argument, 0, 'p' }, { "conns", required_argument, 0, 'c' },
		{ "size", required_argument, 0, 'b' }, { "depth", required_argument, 0, 'D' },
		{ "duration", required_argument, 0, 'd' }, { "warmup", required_argument, 0, 'w' },
		{ "count", required_argument, 0, 'n' }, { "connect-timeout", required_argument, 0, 'T' },
		{ "open-batch", required_argument, 0, 'B' }, { "cpu-srv", required_argument, 0, 'P' },
		{ "cpu-cli", required_argument, 0, 'Q' }, { "keepalive-ms", required_argument, 0, 'K' },
		{ "keepalive-timeout-ms", required_argument, 0, 'k' },
		{ "verify", no_argument, 0, 'V' }, { "hold-file", required_argument, 0, 'F' },
		{ "fair", required_argument, 0, 'R' }, { "msg-heap-mb", required_argument, 0, 'M' },
		{ "header", no_argument, 0, 'H' }, { "header-only", no_argument, 0, 'O' },
		{ "help", no_argument, 0, 'h' }, { 0 } };
	int c, bad = 0;

	while ((c = getopt_long(argc, argv, "s:l:a:p:c:b:D:d:w:n:h", lo, NULL)) != -1) {
		switch (c) {
		case 's': opt.stack = optarg; break;
		case 'l': case 'a': opt.host = optarg; break;
		case 'p': bad |= bench_parse_long(optarg, 0, 65535, &opt.port); break;
		case 'c': bad |= bench_parse_long(optarg, 1, 100000, &opt.conns); break;
		case 'b': bad |= bench_parse_long(optarg, 0, 8 << 20, &opt.size); break;
		case 'D': bad |= bench_parse_long(optarg, 1, 1024, &opt.depth); break;
		case 'd': bad |= bench_parse_double(optarg, 0.1, 3600, &opt.duration); break;
		case 'w': bad |= bench_parse_double(optarg, 0, 3600, &opt.warmup); break;
		case 'n': bad |= bench_parse_long(optarg, 1, 1L << 40, &opt.count); break;
		case 'T': bad |= bench_parse_double(optarg, 0.1, 3600, &opt.connect_timeout); break;
		case 'B': bad |= bench_parse_long(optarg, 1, 100000, &opt.open_batch); break;
		case 'K': bad |= bench_parse_long(optarg, 1, 3600000, &opt.keepalive_ms); break;
		case 'k': bad |= bench_parse_long(optarg, 2, 1L << 31, &opt.ka_timeout_ms); break;
		case 'M': bad |= bench_parse_long(optarg, 1, 1 << 14, &opt.heap_mb); break;
		case 'P':
			opt.acct.nsrv = bench_parse_pids(optarg, opt.acct.srv_pids, BENCH_MAX_PIDS);
			bad |= opt.acct.nsrv < 0;
			break;
		case 'Q':
			opt.acct.ncli = bench_parse_pids(optarg, opt.acct.cli_pids, BENCH_MAX_PIDS);
			bad |= opt.acct.ncli < 0;
			break;
		case 'V': opt.verify = true; break;
		case 'R': bad |= bench_parse_double(optarg, 0, 1, &opt.fair); break;
		case 'F': opt.hold_file = optarg; break;
		case 'H': opt.header = true; break;
		case 'O': bench_csv_header(&opt.acct); exit(0);
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
		if (bad) {
			/* by its long name: some options have no short one */
			fprintf(stderr, "rpc_bench: --%s: bad value '%s'\n", bench_opt_name(lo, c),
				optarg);
			return -1;
		}
	}
	if (optind != argc)
		return -1;
	if (!opt.is_server && !opt.host) {
		fprintf(stderr, "rpc_bench: client needs --server IP\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct rpc_endpoint_opts o = { .bp_opts_app_name = "rpc_bench" };
	char err[512] = "", addr[ADDR_LEN];
	int rc;

	bench_acct_init(&opt.acct);
	if (argc > 1 && !strcmp(argv[1], "--header-only"))
		return bench_csv_header(&opt.acct), 0;
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return usage(stdout), 0;
	if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client")))
		return usage(stderr), 2;
	opt.is_server = !strcmp(argv[1], "server");
	if (parse(argc - 1, argv + 1) || rpc_cli_transport("rpc_bench", opt.stack, &o))
		return usage(stderr), 2;
	if (rpc_cli_hostport(addr, sizeof(addr), opt.host ? opt.host : "0.0.0.0", opt.port))
		return usage(stderr), 2;
	o.keepalive_ms = (uint32_t)opt.keepalive_ms;
	o.keepalive_timeout_ms = (uint32_t)opt.ka_timeout_ms;
	o.bp_msg_heap = (uint64_t)opt.heap_mb << 20;
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	bench_raise_nofile();
	ep = rpc_endpoint_create(&o, err, sizeof(err));
	if (!ep) {
		fprintf(stderr, "rpc_bench: %s\n", err[0] ? err : strerror(errno));
		return 1;
	}
	rc = opt.is_server ? server(addr) : client(addr);
	rpc_endpoint_destroy(ep);
	return rc;
}

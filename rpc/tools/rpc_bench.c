// SPDX-License-Identifier: MIT
/*
 * rpc_bench - closed-loop RPC benchmark for the rpc library.
 *
 *   rpc_bench --server [--listen HOST:PORT] [--transport kernel|bypass|bypass-msg]
 *   rpc_bench --connect HOST:PORT [--sessions N] [--depth D] [--size BYTES]
 *             [--duration S] [--warmup S] [--transport kernel|bypass|bypass-msg]
 *             [--pids PID,...]
 *
 * The server answers method 1 with the request's bytes (echo).  The client
 * keeps D calls outstanding on each of N sessions, each a new call as soon
 * as one completes, for S seconds after a warmup, and prints calls/s, the
 * latency histogram's p50/p99/p99.9 and CPU cost: its own (getrusage) and
 * that of --pids (the server, the daemons: /proc), summed into calls per
 * CPU-second.  One line of key=value pairs goes to stdout ("rpc_bench:"
 * prefix) for scripts.  Exit: 0, 1 (setup failed or a call failed), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_util.h"
#include "bypass/rpc.h"

#define M_ECHO 1
#define MAX_PIDS 8

static volatile sig_atomic_t stop;
static struct rpc_endpoint *ep;
static struct hist hist;
static uint8_t *payload;
static size_t size = 64;
static int depth = 1;
static bool measuring;
static uint64_t ncalls, nfail;
static struct rpc_session **sess;

struct slot {
	int si;
	uint64_t t0;
};

static void on_stop(int sig)
{
	stop = 1;
}

static void h_echo(struct rpc_req *r, void *arg)
{
	const struct rpc_msg_view *m = rpc_req_msg(r);
	struct iovec iov = { (void *)m->data, m->len };

	rpc_respond(r, RPC_OK, &iov, 1, NULL, 0);
}

static void issue(struct slot *sl);

static void done(const struct rpc_result *res, void *arg)
{
	struct slot *sl = arg;

	if (measuring) {
		if (res->status == RPC_OK && res->msg.len == size) {
			hist_add(&hist, bench_now_ns() - sl->t0);
			ncalls++;
		} else {
			nfail++;
		}
	}
	if (!stop)
		issue(sl);
}

static void issue(struct slot *sl)
{
	struct iovec iov = { payload, size };

	sl->t0 = bench_now_ns();
	if (rpc_call(sess[sl->si], M_ECHO, &iov, 1, NULL, done, sl, NULL) < 0)
		nfail++;
}

static double self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rpc_bench --server [--listen HOST:PORT] [--transport kernel|bypass|bypass-msg]\n"
		"       rpc_bench --connect HOST:PORT [--sessions N] [--depth D] [--size BYTES]\n"
		"                 [--duration S] [--warmup S] [--transport kernel|bypass|bypass-msg]\n"
		"                 [--pids PID,...]\n"
		"Closed-loop echo calls (method 1): D outstanding per session on N sessions\n"
		"(default 1 x 1, 64 B, 5 s after 1 s warmup).  Reports calls/s, latency\n"
		"p50/p99/p99.9 and calls per CPU-second of this process plus --pids (the\n"
		"server and daemons: pass their pids to count them).  --transport bypass\n"
		"attaches to fastpathd ($BYPASS_SOCKET).\n");
}

static int server(const char *listen)
{
	int r = rpc_register(ep, M_ECHO, "bench.echo", h_echo, NULL);

	if (!r)
		r = rpc_listen(ep, listen, NULL, NULL);
	if (r < 0) {
		fprintf(stderr, "rpc_bench: listen %s: %s\n", listen, strerror(-r));
		return 1;
	}
	printf("rpc_bench: listening on port %d\n", rpc_listen_port(ep));
	fflush(stdout);
	while (!stop) {
		r = rpc_run(ep, 100);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "rpc_bench: %s\n", strerror(-r));
			return 1;
		}
	}
	return 0;
}

static int client(const char *addr, int nsess, double warm, double dur, int *pids, int npids)
{
	struct slot *slots = calloc((size_t)nsess * (size_t)depth, sizeof(*slots));
	double cpu0[MAX_PIDS], cpu1, self0, secs;
	uint64_t t0, end, up_by;
	int up = 0;

	sess = calloc((size_t)nsess, sizeof(*sess));
	payload = malloc(size ? size : 1);
	memset(payload, 0xab, size);
	for (int i = 0; i < nsess; i++) {
		sess[i] = rpc_connect(ep, addr, NULL, NULL);
		if (!sess[i]) {
			fprintf(stderr, "rpc_bench: bad address %s\n", addr);
			return 2;
		}
	}
	up_by = bench_now_ns() + 30000000000ull;
	while (up < nsess && bench_now_ns() < up_by && !stop) {
		rpc_run(ep, 10);
		up = 0;
		for (int i = 0; i < nsess; i++)
			up += rpc_session_connected(sess[i]);
	}
	if (up < nsess) {
		fprintf(stderr, "rpc_bench: %d of %d sessions connected in 30 s\n", up, nsess);
		return 1;
	}
	for (int i = 0; i < nsess * depth; i++) {
		slots[i].si = i / depth;
		issue(&slots[i]);
	}
	end = bench_now_ns() + (uint64_t)(warm * 1e9);
	while (bench_now_ns() < end && !stop)
		rpc_run(ep, 10);
	hist_init(&hist);
	measuring = true;
	for (int i = 0; i < npids; i++)
		cpu0[i] = bench_proc_cpu(pids[i]);
	self0 = self_cpu();
	t0 = bench_now_ns();
	end = t0 + (uint64_t)(dur * 1e9);
	while (bench_now_ns() < end && !stop)
		rpc_run(ep, 10);
	secs = (double)(bench_now_ns() - t0) / 1e9;
	measuring = false;
	cpu1 = self_cpu() - self0;
	double other = 0;

	for (int i = 0; i < npids; i++) {
		double c = bench_proc_cpu(pids[i]);

		if (c >= 0 && cpu0[i] >= 0)
			other += c - cpu0[i];
	}
	stop = 1;
	printf("rpc_bench: sessions=%d depth=%d size=%zu secs=%.2f calls=%lu failed=%lu "
	       "calls_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f client_cpu_s=%.3f "
	       "other_cpu_s=%.3f calls_per_cpu_s=%.0f\n",
	       nsess, depth, size, secs, (unsigned long)ncalls, (unsigned long)nfail,
	       ncalls / secs, hist_quantile(&hist, 0.5) / 1e3, hist_quantile(&hist, 0.99) / 1e3,
	       hist_quantile(&hist, 0.999) / 1e3, cpu1, other,
	       cpu1 + other > 0 ? ncalls / (cpu1 + other) : 0.0);
	free(slots);
	return nfail || !ncalls ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "server", no_argument, 0, 'S' }, { "listen", required_argument, 0, 'l' },
		{ "connect", required_argument, 0, 'c' }, { "sessions", required_argument, 0, 'n' },
		{ "depth", required_argument, 0, 'D' }, { "size", required_argument, 0, 's' },
		{ "duration", required_argument, 0, 'd' }, { "warmup", required_argument, 0, 'w' },
		{ "transport", required_argument, 0, 't' }, { "pids", required_argument, 0, 'p' },
		{ "help", no_argument, 0, 'h' }, { 0 } };
	struct rpc_endpoint_opts o = { .bp_opts_app_name = "rpc_bench" };
	const char *listen = ":7200", *addr = NULL;
	double dur = 5, warm = 1;
	int pids[MAX_PIDS], npids = 0, c, rc;
	long nsess = 1, v;
	bool is_server = false;
	char err[256] = "";

	while ((c = getopt_long(argc, argv, "Sl:c:n:D:s:d:w:t:p:h", lo, NULL)) != -1) {
		switch (c) {
		case 'S': is_server = true; break;
		case 'l': listen = optarg; break;
		case 'c': addr = optarg; break;
		case 'n':
			if (bench_parse_long(optarg, 1, 100000, &nsess))
				return usage(stderr), 2;
			break;
		case 'D':
			if (bench_parse_long(optarg, 1, 1024, &v))
				return usage(stderr), 2;
			depth = (int)v;
			break;
		case 's':
			if (bench_parse_long(optarg, 0, 8 << 20, &v))
				return usage(stderr), 2;
			size = (size_t)v;
			break;
		case 'd':
			if (bench_parse_double(optarg, 0.1, 3600, &dur))
				return usage(stderr), 2;
			break;
		case 'w':
			if (bench_parse_double(optarg, 0, 3600, &warm))
				return usage(stderr), 2;
			break;
		case 't':
			if (!strcmp(optarg, "bypass"))
				o.transport = RPC_TRANSPORT_BYPASS;
			else if (!strcmp(optarg, "bypass-msg"))
				o.transport = RPC_TRANSPORT_BYPASS_MSG; /* fastpathd frames */
			else if (strcmp(optarg, "kernel"))
				return usage(stderr), 2;
			break;
		case 'p':
			npids = bench_parse_pids(optarg, pids, MAX_PIDS);
			if (npids < 0)
				return usage(stderr), 2;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (is_server == !!addr)
		return usage(stderr), 2;
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	bench_raise_nofile();
	ep = rpc_endpoint_create(&o, err, sizeof(err));
	if (!ep) {
		fprintf(stderr, "rpc_bench: %s\n", err[0] ? err : strerror(errno));
		return 1;
	}
	rc = is_server ? server(listen) : client(addr, (int)nsess, warm, dur, pids, npids);
	rpc_endpoint_destroy(ep);
	return rc;
}

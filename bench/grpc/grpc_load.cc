// SPDX-License-Identifier: MIT
/*
 * grpc_load - the gRPC baseline's load generator: closed-loop unary echo
 * calls on gRPC's async completion-queue API, as gRPC's own benchmark
 * client makes them.
 *
 *   grpc_load --server IP [-p PORT] [--conns N] [--depth N] [--size B] ...
 *
 * --conns channels, each its own TCP connection (a local subchannel pool
 * and a distinct channel argument, so gRPC never shares one connection
 * between them), each with --depth calls in flight: every response sends
 * the next call on its channel.  --conns 1 --depth 1 is a ping-pong.
 *
 * Same flags, timeline and CSV line as bp_load (bench/bp_load.c), so
 * rpc_compare.sh reads gRPC, plain TCP and rpc_bench rows alike: connect
 * (bounded by --connect-timeout), --warmup seconds of calls, then the
 * measured window of --duration seconds or --count responses.  Latency is
 * a call's start to its completion on the queue; CPU is /proc/self/stat of this
 * process (all of gRPC's threads included) plus /proc/PID/stat of
 * --cpu-srv / --cpu-cli PIDS, sampled at the window's start and end.
 *
 * One thread polls the completion queue; gRPC's polling engine does the
 * socket I/O on it.
 */
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "echo.grpc.pb.h"

extern "C" {
#include "bench_csv.h"
}

namespace {

constexpr int WAIT_SLICE_MS = 10;    /* phase changes are noticed this often */
constexpr int DRAIN_TIMEOUT_S = 5;   /* calls in flight after the window */

volatile sig_atomic_t interrupted;

void on_signal(int) { interrupted = 1; }

struct Slot {
	std::unique_ptr<grpc::ClientContext> ctx;
	std::unique_ptr<grpc::ClientAsyncResponseReader<bpbench::EchoMsg>> rpc;
	bpbench::EchoMsg reply;
	grpc::Status status;
	uint64_t t0 = 0;
	size_t chan = 0;
	bool busy = false;
};

struct Load {
	/* options */
	std::string server;
	long port = 7100, conns = 1, size = 64, depth = 1, count = 0;
	double duration = 5, warmup = 1, connect_timeout = 60;
	struct bench_acct acct = {};	/* --cpu-srv, --cpu-cli, the CPUs */
	bool header = false, header_only = false;
	std::vector<std::pair<std::string, int>> args; /* --arg KEY=INT */

	/* state; the queue is declared first so it is destroyed last */
	grpc::CompletionQueue cq;
	std::vector<std::shared_ptr<grpc::Channel>> chans;
	std::vector<std::unique_ptr<bpbench::Echo::Stub>> stubs;
	std::vector<Slot> slots;
	bpbench::EchoMsg req;
	bool running = false, measuring = false;
	uint64_t t_m0 = 0, t_m1 = 0, responses = 0, bytes = 0, errors = 0, inflight = 0;
	unsigned long long conn_fail = 0;
	double connect_s = 0;
	struct hist lat;
	struct bench_cpu c0 = {}, c1 = {};	/* at the window's start and end */
};

void issue(Load &l, Slot &s)
{
	s.ctx = std::make_unique<grpc::ClientContext>();
	s.reply.Clear();
	s.t0 = bench_now_ns();
	s.rpc = l.stubs[s.chan]->PrepareAsyncCall(s.ctx.get(), l.req, &l.cq);
	s.rpc->StartCall();
	s.rpc->Finish(&s.reply, &s.status, &s);
	s.busy = true;
	l.inflight++;
}

void on_done(Load &l, Slot &s, bool ok, uint64_t now)
{
	bool good = ok && s.status.ok() && s.reply.payload().size() == (size_t)l.size;

	s.busy = false;
	l.inflight--;
	if (l.measuring) {
		if (good) {
			l.responses++;
			l.bytes += (uint64_t)l.size;
			hist_add(&l.lat, now - s.t0);
		} else {
			l.errors++;
		}
	}
	if (!good && l.errors <= 3 && l.running)
		fprintf(stderr, "grpc_load: call failed: %d %s\n", (int)s.status.error_code(),
			s.status.error_message().c_str());
	if (l.running)
		issue(l, s);
}

/* one completion, or none within @ms; false once the queue is shut down */
bool poll_once(Load &l, int ms)
{
	void *tag;
	bool ok;
	auto dl = std::chrono::system_clock::now() + std::chrono::milliseconds(ms);

	switch (l.cq.AsyncNext(&tag, &ok, dl)) {
	case grpc::CompletionQueue::GOT_EVENT:
		on_done(l, *static_cast<Slot *>(tag), ok, bench_now_ns());
		return true;
	case grpc::CompletionQueue::TIMEOUT:
		return true;
	default:
		return false;
	}
}

int open_channels(Load &l)
{
	std::string target = l.server + ":" + std::to_string(l.port);
	uint64_t t0 = bench_now_ns();
	auto dl = std::chrono::system_clock::now() +
		  std::chrono::milliseconds((long)(l.connect_timeout * 1000));

	for (long i = 0; i < l.conns; i++) {
		grpc::ChannelArguments args;

		args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
		args.SetInt("bpbench.channel", (int)i);
		args.SetMaxReceiveMessageSize(-1);
		args.SetMaxSendMessageSize(-1);
		for (auto &kv : l.args)
			args.SetInt(kv.first, kv.second);
		l.chans.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
							    args));
		l.stubs.push_back(bpbench::Echo::NewStub(l.chans.back()));
		l.chans.back()->GetState(true); /* start connecting now, all in parallel */
	}
	for (auto &ch : l.chans)
		if (!ch->WaitForConnected(dl))
			l.conn_fail++;
	l.connect_s = (double)(bench_now_ns() - t0) / 1e9;
	if (l.conn_fail) {
		fprintf(stderr, "grpc_load: only %llu of %ld channels connected after %.1f s\n",
			(unsigned long long)l.conns - l.conn_fail, l.conns, l.connect_s);
		return -1;
	}
	return 0;
}

int run(Load &l)
{
	uint64_t t_meas, t_end, now;

	if (open_channels(l) < 0)
		return -1;
	l.slots.resize((size_t)(l.conns * l.depth));
	for (size_t i = 0; i < l.slots.size(); i++)
		l.slots[i].chan = i / (size_t)l.depth;
	now = bench_now_ns();
	t_meas = now + (uint64_t)(l.warmup * 1e9);
	t_end = UINT64_MAX;
	l.running = true;
	for (auto &s : l.slots)
		issue(l, s);
	for (;;) {
		now = bench_now_ns();
		if (interrupted)
			return -1;
		if (!l.t_m0 && now >= t_meas) {
			l.measuring = true;
			l.t_m0 = now;
			/* from the window's real start: one slow poll (1 MiB
			 * messages) must not eat the window */
			t_end = now + (uint64_t)(l.duration * 1e9);
			bench_cpu_sample(&l.acct, &l.c0);
		}
		if (l.measuring &&
		    (now >= t_end || (l.count && l.responses >= (uint64_t)l.count))) {
			l.measuring = false;
			l.t_m1 = now;
			bench_cpu_sample(&l.acct, &l.c1);
			break;
		}
		if (!poll_once(l, WAIT_SLICE_MS))
			return -1;
	}
	return 0;
}

/*
 * Let the calls in flight come back, cancel what is left, shut down.
 * False if calls are still out after that (1,000 sessions of 1 MiB can
 * keep gRPC busy for minutes): the caller then exits without tearing
 * gRPC down, so a run stays bounded in time.
 */
bool drain(Load &l)
{
	uint64_t deadline = bench_now_ns() + DRAIN_TIMEOUT_S * 1000000000ull;
	void *tag;
	bool ok;

	l.running = false;
	while (l.inflight && bench_now_ns() < deadline && poll_once(l, WAIT_SLICE_MS))
		;
	for (auto &s : l.slots)
		if (s.busy)
			s.ctx->TryCancel();
	deadline = bench_now_ns() + DRAIN_TIMEOUT_S * 1000000000ull;
	while (l.inflight && bench_now_ns() < deadline && poll_once(l, WAIT_SLICE_MS))
		;
	if (l.inflight)
		return false; /* gRPC still holds calls: no orderly shutdown */
	l.cq.Shutdown();
	while (l.cq.Next(&tag, &ok))
		;
	return true;
}

void print_csv(const Load &l)
{
	struct bench_result r = {};

	r.mode = "unary";
	r.stack = "grpc";
	r.conns = l.conns;
	r.size = l.size;
	r.depth = l.depth;
	r.t0_ns = l.t_m0;
	r.t1_ns = l.t_m1;
	r.responses = l.responses;
	r.bytes = l.bytes;
	r.errors = l.errors;
	r.conn_fail = l.conn_fail;
	r.connect_s = l.connect_s;
	r.lat = &l.lat;
	r.c0 = l.c0;
	r.c1 = l.c1;
	if (l.header)
		bench_csv_header(&l.acct);
	bench_csv_row(&l.acct, &r);
}

void usage(FILE *out)
{
	fprintf(out,
"usage: grpc_load --server IP [options]\n"
"\n"
"Closed-loop gRPC unary echo load against grpc_echo_srv (async completion\n"
"queue, one polling thread).  Flags and CSV line as bp_load's.\n"
"\n"
"  -a, --server IP          server address\n"
"  -p, --port PORT          server port (default 7100)\n"
"  -c, --conns N            channels, one TCP connection each (default 1)\n"
"  -b, --size BYTES         request = response payload size (default 64)\n"
"  -D, --depth N            calls in flight per channel (default 1: ping-pong)\n"
"  -d, --duration SEC       measured window (default 5)\n"
"  -w, --warmup SEC         calls before the window (default 1)\n"
"  -n, --count N            end the window after N responses (default: no limit)\n"
"      --connect-timeout S  time allowed to connect every channel (default 60)\n"
"      --cpu-srv PIDS       server-side processes to account (comma separated)\n"
"      --cpu-cli PIDS       client-side processes besides this one\n"
"      --arg KEY=INT        an integer gRPC channel argument (repeatable;\n"
"                           default: gRPC's defaults, as shipped)\n"
"      --header             print the CSV header line first\n"
"      --header-only        print the CSV header line and exit\n"
"  -h, --help               this text\n"
"\n"
"Prints one CSV line (mode 'unary', stack 'grpc'): rates, latency percentiles\n"
"(us) from a log-linear histogram (0.8%% buckets), CPU seconds in the window.\n");
}

/* "KEY=INT": one integer channel argument (e.g. grpc.http2.bdp_probe=0) */
int parse_arg(const char *s, std::vector<std::pair<std::string, int>> &out)
{
	const char *eq = strchr(s, '=');
	long v;

	if (!eq || eq == s || bench_parse_long(eq + 1, INT32_MIN, INT32_MAX, &v) < 0)
		return -1;
	out.emplace_back(std::string(s, (size_t)(eq - s)), (int)v);
	return 0;
}

int parse(Load &l, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, nullptr, 'a' },
		{ "port", required_argument, nullptr, 'p' },
		{ "conns", required_argument, nullptr, 'c' },
		{ "size", required_argument, nullptr, 'b' },
		{ "depth", required_argument, nullptr, 'D' },
		{ "duration", required_argument, nullptr, 'd' },
		{ "warmup", required_argument, nullptr, 'w' },
		{ "count", required_argument, nullptr, 'n' },
		{ "connect-timeout", required_argument, nullptr, 'T' },
		{ "cpu-srv", required_argument, nullptr, 'P' },
		{ "cpu-cli", required_argument, nullptr, 'Q' },
		{ "arg", required_argument, nullptr, 'A' },
		{ "header", no_argument, nullptr, 'H' },
		{ "header-only", no_argument, nullptr, 'O' },
		{ "help", no_argument, nullptr, 'h' },
		{ nullptr, 0, nullptr, 0 },
	};
	int c, bad = 0;

	while ((c = getopt_long(argc, argv, "a:p:c:b:D:d:w:n:h", opts, nullptr)) != -1) {
		switch (c) {
		case 'a': l.server = optarg; break;
		case 'p': bad |= bench_parse_long(optarg, 1, 65535, &l.port); break;
		case 'c': bad |= bench_parse_long(optarg, 1, 100000, &l.conns); break;
		case 'b': bad |= bench_parse_long(optarg, 0, 64L << 20, &l.size); break;
		case 'D': bad |= bench_parse_long(optarg, 1, 1024, &l.depth); break;
		case 'd': bad |= bench_parse_double(optarg, 0.01, 3600, &l.duration); break;
		case 'w': bad |= bench_parse_double(optarg, 0, 600, &l.warmup); break;
		case 'n': bad |= bench_parse_long(optarg, 1, 1L << 40, &l.count); break;
		case 'T': bad |= bench_parse_double(optarg, 0.1, 3600, &l.connect_timeout); break;
		case 'P': bad |= (l.acct.nsrv = bench_parse_pids(optarg, l.acct.srv_pids, BENCH_MAX_PIDS)) < 0; break;
		case 'Q': bad |= (l.acct.ncli = bench_parse_pids(optarg, l.acct.cli_pids, BENCH_MAX_PIDS)) < 0; break;
		case 'A': bad |= parse_arg(optarg, l.args); break;
		case 'H': l.header = true; break;
		case 'O': l.header_only = true; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
		if (bad) {
			fprintf(stderr, "grpc_load: bad value for -%c: '%s'\n", c, optarg);
			return -1;
		}
	}
	if (l.header_only)
		return 0;
	if (optind != argc || l.server.empty()) {
		fprintf(stderr, "grpc_load: need --server and no other arguments\n");
		return -1;
	}
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	Load l;

	hist_init(&l.lat);
	bench_acct_init(&l.acct);
	if (parse(l, argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	if (l.header_only) {
		bench_csv_header(&l.acct);
		return 0;
	}
	bench_raise_nofile();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	l.req.set_payload(std::string((size_t)l.size, 'x'));

	int r = run(l);
	bool clean = drain(l);

	if (r == 0)
		print_csv(l);
	else
		fprintf(stderr, "grpc_load: run failed (%llu errors, %llu failed connects)\n",
			(unsigned long long)l.errors, l.conn_fail);
	if (!clean) {
		fprintf(stderr, "grpc_load: %llu calls still in flight %d s after cancelling them\n",
			(unsigned long long)l.inflight, DRAIN_TIMEOUT_S);
		fflush(stdout);
		_exit(r ? 1 : 0);
	}
	return r ? 1 : 0;
}

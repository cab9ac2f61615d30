// SPDX-License-Identifier: MIT
/*
 * grpc_echo_srv - the gRPC baseline's server: unary echo on gRPC's async
 * completion-queue API, the way gRPC's own benchmark server is built.
 *
 *   grpc_echo_srv [--listen IP] [-p PORT] [--threads N] [--prepost N]
 *
 * Each thread polls a completion queue of its own.  Every queue has
 * --prepost calls waiting for a request at all times (a served request is
 * replaced at once), so 1,000 sessions never wait for the server to ask for
 * their call.  The response carries the request's payload back, moved, not
 * copied: the server's cost is gRPC's own.
 *
 * Runs until SIGTERM or SIGINT, then prints one line to stdout:
 *   grpc_echo_srv: calls N cpu_s X user_s U sys_s S
 * (CPU from getrusage of the whole process, all its threads, since start;
 * bench/rpc_compare.sh takes the server's CPU in the measured window from
 * /proc/PID/stat through grpc_load --cpu-srv instead).
 */
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "echo.grpc.pb.h"

extern "C" {
#include "bench_util.h"
}

namespace {

std::atomic<unsigned long long> served{0};

/* One call's life: wait for a request, answer it, go away. */
class Call {
public:
	Call(bpbench::Echo::AsyncService *svc, grpc::ServerCompletionQueue *cq)
		: svc_(svc), cq_(cq), responder_(&ctx_)
	{
		svc_->RequestCall(&ctx_, &req_, &responder_, cq_, cq_, this);
	}

	/* the completion queue returned this call's tag with @ok */
	void proceed(bool ok)
	{
		if (answered_ || !ok) {
			/* sent (or the server is shutting down): done */
			delete this;
			return;
		}
		new Call(svc_, cq_);
		reply_.mutable_payload()->swap(*req_.mutable_payload());
		answered_ = true;
		served.fetch_add(1, std::memory_order_relaxed);
		responder_.Finish(reply_, grpc::Status::OK, this);
	}

private:
	bpbench::Echo::AsyncService *svc_;
	grpc::ServerCompletionQueue *cq_;
	grpc::ServerContext ctx_;
	bpbench::EchoMsg req_, reply_;
	grpc::ServerAsyncResponseWriter<bpbench::EchoMsg> responder_;
	bool answered_ = false;
};

void poll_queue(grpc::ServerCompletionQueue *cq)
{
	void *tag;
	bool ok;

	while (cq->Next(&tag, &ok))
		static_cast<Call *>(tag)->proceed(ok);
}

void usage(FILE *out)
{
	fprintf(out,
"usage: grpc_echo_srv [options]\n"
"\n"
"gRPC unary echo server (async completion queues), the baseline of\n"
"bench/rpc_compare.sh; its client is grpc_load.\n"
"\n"
"  -l, --listen IP      address to listen on (default 0.0.0.0)\n"
"  -p, --port PORT      port (default 7100)\n"
"  -t, --threads N      completion queues, one polling thread each (default 1)\n"
"      --prepost N      calls waiting for a request per queue (default 1024)\n"
"      --arg KEY=INT    an integer gRPC channel argument (repeatable; default:\n"
"                       gRPC's defaults, as shipped)\n"
"  -h, --help           this text\n"
"\n"
"Runs until SIGTERM/SIGINT, then prints to stdout:\n"
"  grpc_echo_srv: calls N cpu_s X user_s U sys_s S\n");
}

double tv_s(const struct timeval &tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

} // namespace

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, nullptr, 'l' },
		{ "port", required_argument, nullptr, 'p' },
		{ "threads", required_argument, nullptr, 't' },
		{ "prepost", required_argument, nullptr, 'P' },
		{ "arg", required_argument, nullptr, 'A' },
		{ "help", no_argument, nullptr, 'h' },
		{ nullptr, 0, nullptr, 0 },
	};
	std::string listen = "0.0.0.0";
	long port = 7100, threads = 1, prepost = 1024;
	std::vector<std::pair<std::string, long>> cargs; /* --arg KEY=INT */
	int c, bad = 0;

	while ((c = getopt_long(argc, argv, "l:p:t:h", opts, nullptr)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 'p': bad |= bench_parse_long(optarg, 1, 65535, &port); break;
		case 't': bad |= bench_parse_long(optarg, 1, 64, &threads); break;
		case 'P': bad |= bench_parse_long(optarg, 1, 100000, &prepost); break;
		case 'A': {
			const char *eq = strchr(optarg, '=');
			long v;

			bad |= !eq || eq == optarg ||
			       bench_parse_long(eq + 1, INT32_MIN, INT32_MAX, &v) < 0;
			if (!bad)
				cargs.emplace_back(std::string(optarg, (size_t)(eq - optarg)), v);
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "grpc_echo_srv: bad value for -%c: '%s'\n", c, optarg);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	bench_raise_nofile();

	/* gRPC's threads inherit this mask: only main sees the stop signal */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, nullptr);

	bpbench::Echo::AsyncService svc;
	grpc::ServerBuilder b;
	int bound = 0;
	std::string addr = listen + ":" + std::to_string(port);

	b.AddListeningPort(addr, grpc::InsecureServerCredentials(), &bound);
	b.RegisterService(&svc);
	b.SetMaxReceiveMessageSize(-1);
	b.SetMaxSendMessageSize(-1);
	for (auto &kv : cargs)
		b.AddChannelArgument(kv.first, (int)kv.second);
	std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
	for (long i = 0; i < threads; i++)
		cqs.push_back(b.AddCompletionQueue());
	std::unique_ptr<grpc::Server> server = b.BuildAndStart();
	if (!server || !bound) {
		fprintf(stderr, "grpc_echo_srv: cannot listen on %s\n", addr.c_str());
		return 1;
	}
	for (auto &cq : cqs)
		for (long i = 0; i < prepost; i++)
			new Call(&svc, cq.get());
	std::vector<std::thread> pollers;
	for (auto &cq : cqs)
		pollers.emplace_back(poll_queue, cq.get());
	fprintf(stderr, "grpc_echo_srv: listening on %s, %ld thread(s)\n", addr.c_str(), threads);

	int sig;
	sigwait(&stop, &sig);
	/* calls still open are cancelled after a second; waiting calls
	 * come back with ok = false and free themselves */
	server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
	for (auto &cq : cqs)
		cq->Shutdown();
	for (auto &t : pollers)
		t.join();

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("grpc_echo_srv: calls %llu cpu_s %.3f user_s %.3f sys_s %.3f\n",
	       served.load(), tv_s(ru.ru_utime) + tv_s(ru.ru_stime), tv_s(ru.ru_utime),
	       tv_s(ru.ru_stime));
	return 0;
}

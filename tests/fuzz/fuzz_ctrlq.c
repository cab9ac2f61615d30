// SPDX-License-Identifier: MIT
/*
 * fuzz_ctrlq - what an app writes into its control queue, as the
 * slowpath reads it (slowpath/ctrlq.c ctrl_request() and everything it
 * calls: listen, connect, shutdown, close, abort, keepalive, fork handoff,
 * adopt, release, exec hold).
 *
 * The real daemon runs in this process (fastpath and slowpath threads, a
 * DPDK ring port), as the scenario tests run it; this thread is both the
 * app, attached through the real libbypass, and the wire: a peer that
 * answers ARP, accepts every SYN the daemon sends, acknowledges FINs, and
 * sends SYNs of its own to the ports the input listens on, so requests
 * meet flows in every state.  Each input attaches a fresh app, pushes its
 * requests into the queue past libbypass's checks (any op, slot,
 * generation, key, pid, address, flags, algorithm name), then detaches:
 * the daemon must clean up whatever the app left, of which libbypass
 * knows nothing.
 *
 * Input: a sequence of ops, one byte each and then that op's bytes (see
 * run_op()); at most MAX_OPS.  A fork handoff may name a real child of
 * this process (forked at start, it only sleeps), and ADOPT, RELEASE and
 * EXEC_HOLD a flow's real handoff key; orphans time out after 100 ms.
 *
 * Checks: the daemon survives every input (sanitizers catch the rest); it
 * drains the queue; the app's slots never show more in use than exist; the
 * detached app is freed within five seconds (nothing the input did can pin
 * it); and the next input attaches again.  FUZZ_CTRLQ_TRACE=1 prints each
 * request pushed (to read a reproducer).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "bp_internal.h"	/* client-lib: its ctrl queue, to push past its checks */
#include "bypass/bypass.h"
#include "fuzz_input.h"
#include "bypass/shm_abi.h"
#include "dataplane.h"
#include "fastpath.h"
#include "pkt.h"
#include "port.h"
#include "slowpath.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "fuzz_ctrlq: %s (line %d)\n", #c, \
					    __LINE__); __builtin_trap(); } } while (0)
#define MAX_OPS 48
#define PEER_ISN 5000000u

static struct dataplane dp;
static struct rte_ring *rx, *tx;	/* rx: to the daemon; tx: from it */
static pthread_t fp_thread;
static uint8_t our_mac[6];
static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static uint32_t our_ip, peer_ip;
static uint16_t ip_id;
static pid_t child = -1;	/* a fork child of ours, for FORKED to name */

/* a byte reader over the input: zeros once it runs out */
static void *fastpath_main(void *arg)
{
	rte_thread_register();
	fp_run(&dp);
	rte_thread_unregister();
	return NULL;
}

static void kick(void)
{
	uint64_t one = 1;
	ssize_t r = write(dp.core[0].kick_fd, &one, sizeof(one)); /* ring ports have no interrupt */

	(void)r;
}

static void inject(const uint8_t *frame, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp.pool);

	if (!m)
		return;
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), frame, len);
	if (rte_ring_enqueue(rx, m))
		rte_pktmbuf_free(m);
	kick();
}

static void peer_send(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags)
{
	struct tcp_hdr_spec h = {
		.src_mac = peer_mac, .dst_mac = our_mac, .saddr = peer_ip, .daddr = our_ip,
		.sport = sport, .dport = dport, .seq = seq, .ack = ack, .wnd = 65535,
		.flags = flags, .ip_id = ip_id++, .opt_wscale = -1,
	};
	uint8_t buf[128] = { 0 };
	size_t hl;

	if (flags & TCPF_SYN) {
		h.opt_mss = 1460;
		h.opt_wscale = 7;
	}
	hl = pkt_tcp_hdr_len(&h);
	pkt_write_tcp(buf, &h, 0);
	inject(buf, hl < 60 ? 60 : hl);
}

/*
 * The wire: what the daemon sent, answered as a simple Linux-like peer
 * would (no state of its own: its ISN is fixed, it never sends data).
 */
static void peer_answer(const uint8_t *f, size_t len)
{
	struct pkt_arp a;
	struct pkt_tcp t;

	if (pkt_classify(f, len) == PKT_ETHTYPE_ARP) {
		uint8_t buf[64];

		if (pkt_arp_parse(f, len, &a) && a.op == PKT_ARP_REQUEST && a.tpa == peer_ip)
			inject(buf, pkt_arp_write(buf, PKT_ARP_REPLY, peer_mac, peer_ip,
						  a.sha, a.spa));
		return;
	}
	if (pkt_classify(f, len) != PKT_PROTO_TCP)
		return;
	CHECK(pkt_parse_tcp(f, len, true, &t) == PKT_OK); /* the daemon sends valid segments */
	if (t.daddr != peer_ip || (t.flags & TCPF_RST))
		return;
	uint32_t end = t.seq + t.payload_len + !!(t.flags & (TCPF_SYN | TCPF_FIN));

	if ((t.flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN)
		peer_send(t.dport, t.sport, PEER_ISN, end, TCPF_SYN | TCPF_ACK);
	else if (t.flags & TCPF_SYN) /* our SYN's answer */
		peer_send(t.dport, t.sport, t.ack, end, TCPF_ACK);
	else if (t.flags & TCPF_FIN)
		peer_send(t.dport, t.sport, t.ack, end, TCPF_FIN | TCPF_ACK);
	else if (t.payload_len)
		peer_send(t.dport, t.sport, t.ack, end, TCPF_ACK);
}

/* answer what the daemon sent until it has been quiet for @ms (0: what is there now) */
static void pump(int ms)
{
	uint64_t hz = rte_get_tsc_hz(), quiet_until = rte_rdtsc() + hz / 1000 * (uint64_t)ms;
	uint64_t give_up = rte_rdtsc() + hz / 4;	/* a chatty daemon still ends the input */

	while (rte_rdtsc() < give_up) {
		struct rte_mbuf *m;

		if (rte_ring_dequeue(tx, (void **)&m)) {
			if (rte_rdtsc() >= quiet_until)
				break;
			usleep(100);
			continue;
		}
		uint8_t f[2048];
		size_t len = rte_pktmbuf_data_len(m);

		if (len > sizeof(f))
			len = sizeof(f);
		memcpy(f, rte_pktmbuf_mtod(m, void *), len);
		rte_pktmbuf_free(m);
		peer_answer(f, len);
		quiet_until = rte_rdtsc() + hz / 1000 * (uint64_t)ms;
	}
}

static void daemon_exit(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	dp.stop = 1;
	kick();
	pthread_join(fp_thread, NULL);
	sp_stop(&dp);
	port_fini(&dp);
	dp_fini(&dp);
	rte_eal_cleanup();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char prefix[64], err[512];

	/* a real child (before any thread): the daemon takes a fork handoff
	 * only for a live child of the app; it dies with us */
	child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	snprintf(prefix, sizeof(prefix), "--file-prefix=fzq%d", getpid());
	char *eal[] = { "fuzz", "-l", "0", "--no-huge", "--no-shconf", "-m", "256", "--no-pci",
			prefix, "--log-level=*:error", "--no-telemetry", NULL };
	CHECK(port_eal_init(11, eal) >= 0);
	rx = rte_ring_create("fq_rx", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	tx = rte_ring_create("fq_tx", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	CHECK(rx && tx);
	CHECK(rte_eth_from_rings("fq_port", &rx, 1, &tx, 1, 0) >= 0);

	struct bp_config *c = &dp.cfg;

	config_defaults(c);
	snprintf(c->port_dev, sizeof(c->port_dev), "net_ring_fq_port");
	CHECK(config_set(c, "port", "ip", "198.18.0.1/24", err, sizeof(err)) == 0);
	snprintf(c->socket_path, sizeof(c->socket_path), "/tmp/bypass-fzq-%d.sock", getpid());
	c->max_flows = 256;
	c->app_max_flows = 16;
	c->rx_buf_size = 16384;
	c->tx_buf_size = 16384;
	c->queue_entries = 64;
	c->mbufs = 4095;
	c->time_wait_ms = 50;
	c->orphan_timeout_ms = 100; /* flows left to the child go soon (5 s check) */
	if (config_validate(c, err, sizeof(err)) || dp_init(&dp, err, sizeof(err)) ||
	    port_init(&dp, err, sizeof(err))) {
		fprintf(stderr, "fuzz_ctrlq: %s\n", err);
		abort();
	}
	g_dp = &dp;
	if (sp_start(&dp, err, sizeof(err))) {
		fprintf(stderr, "fuzz_ctrlq: %s\n", err);
		abort();
	}
	CHECK(pthread_create(&fp_thread, NULL, fastpath_main, NULL) == 0);
	memcpy(our_mac, dp.mac.addr_bytes, 6);
	our_ip = dp.ip;
	inet_pton(AF_INET, "198.18.0.2", &peer_ip);
	atexit(daemon_exit);
	return 0;
}

static struct dp_app *attached_app(void)
{
	for (uint32_t i = 0; i < dp.max_apps; i++)
		if (__atomic_load_n(&dp.apps[i].in_use, __ATOMIC_ACQUIRE))
			return &dp.apps[i];
	return NULL;
}

/* wait (bounded) for the slowpath to take everything queued */
static void drain(struct dp_app *app)
{
	for (int i = 0; i < 2000 && !bp_queue_empty(&app->ctrlq); i++) {
		pump(0);
		usleep(200);
	}
	CHECK(bp_queue_empty(&app->ctrlq));
}

static struct bp_ctx *ctx;	/* the app, attached through libbypass */

/* queue @r as libbypass would, past its checks (its producer index stays
 * its own, so its detach still waits only for what it queued) */
static void push(const struct bp_ctrl_req *r)
{
	int rc;

	if (getenv("FUZZ_CTRLQ_TRACE"))
		fprintf(stderr, "req op %u port %u slot %u gen %u ip %08x backlog %u flags %#x "
			"pid %u key %#llx cc %.16s posted %u\n", r->op, r->port, r->slot, r->gen,
			r->ip, r->backlog, r->flags, r->pid, (unsigned long long)r->key, r->cc,
			r->posted);

	bpi_lock(ctx);
	rc = bpi_ctrl_push(ctx, r, 2000);
	bpi_unlock(ctx);
	CHECK(rc == 0);	/* the slowpath takes every request, whatever it holds */
}

/* (8 bytes each: copied whole into bp_ctrl_req.cc) */
static const char cc_names[6][8] = { "", "newreno", "cubic", "dctcp", "timely", "nope" };
static uint16_t ports[8];	/* ports the input listened on, for the peer's SYNs */

/* one op of the input on @app */
static void run_op(struct dp_app *app, struct fx_in *in)
{
	uint8_t op = fx_u8(in);
	struct bp_ctrl_req r = { .req_id = fx_u8(in) };
	uint8_t b = fx_u8(in);
	uint32_t slot = b % (app->max_flows + 2);	/* the last two: past the end */

	if (b & 0x80)
		slot = fx_u32(in);	/* anything at all */
	switch (op % 13) {
	case 0:
	case 1: /* LISTEN / CONNECT */
		r.op = op % 13 == 0 ? BP_CTRL_LISTEN : BP_CTRL_CONNECT;
		r.port = (uint16_t)(fx_u8(in) % 8 ? 7000 + fx_u8(in) % 8 : fx_u32(in));
		r.ip = (b & 0x40) ? fx_u32(in) : (op % 13 == 0 ? 0 : peer_ip);
		r.backlog = fx_u8(in) % 4 ? fx_u8(in) % 16 : fx_u32(in);
		r.flags = fx_u8(in) % 8;
		if (b & 0x20)
			r.flags = fx_u32(in);
		memcpy(r.cc, cc_names[fx_u8(in) % 6], 8);
		if (b & 0x10)
			for (int i = 0; i < 16; i++)
				r.cc[i] = (char)fx_u8(in);
		if (r.op == BP_CTRL_LISTEN)
			ports[b % 8] = r.port;
		break;
	case 2: case 3: case 4: case 5: /* SHUTDOWN, CLOSE, ABORT, KEEPALIVE or LINGER_RESET */
		r.op = (const uint16_t[]){ BP_CTRL_SHUTDOWN, BP_CTRL_CLOSE, BP_CTRL_ABORT,
					  BP_CTRL_KEEPALIVE }[op % 13 - 2];
		if (r.op == BP_CTRL_KEEPALIVE && (b & 0x20))
			r.op = BP_CTRL_LINGER_RESET;
		r.slot = slot;
		/* the slot's generation as the region shows it, or a forged one */
		r.gen = slot < app->max_flows && !(b & 0x40) ? app->flows[slot].gen : fx_u32(in);
		r.posted = fx_u8(in) % 4 ? 0 : fx_u32(in);
		r.flags = fx_u8(in) % 3;
		break;
	case 6: { /* FORKED: our real child, us, init, anyone */
		uint8_t who = fx_u8(in) % 4;

		r.op = BP_CTRL_FORKED;
		r.pid = who == 0 ? (uint32_t)child : who == 1 ? (uint32_t)getpid() :
			who == 2 ? 1 : fx_u32(in);
		r.key = fx_u8(in) % 2 ? 0 : fx_u32(in);
		break;
	}
	case 7: case 8: case 9: /* ADOPT, RELEASE, EXEC_HOLD */
		r.op = (const uint16_t[]){ BP_CTRL_ADOPT, BP_CTRL_RELEASE,
					  BP_CTRL_EXEC_HOLD }[op % 13 - 7];
		switch (fx_u8(in) % 3) {
		case 0:
			r.key = slot;
			break;
		case 1:
			r.key = (uint64_t)fx_u32(in) << 32;
			r.key |= fx_u32(in);
			break;
		default: /* the flow's real name, as the region shows it */
			r.key = __atomic_load_n(&app->flows[slot % app->max_flows].handoff_key,
						__ATOMIC_RELAXED);
			break;
		}
		r.flags = fx_u8(in) % 2;
		break;
	case 10: /* any 64 bytes */
		for (size_t i = 0; i < sizeof(r); i++)
			((uint8_t *)&r)[i] = fx_u8(in);
		break;
	case 11: /* the peer opens a connection to a port listened on */
		peer_send((uint16_t)(40000 + fx_u8(in)), ports[b % 8] ? ports[b % 8] : 7000,
			  PEER_ISN, 0, TCPF_SYN);
		pump(1);
		return;
	default: /* let the daemon act on what is queued, and the peer answer */
		drain(app);
		pump(1 + fx_u8(in) % 4);
		return;
	}
	push(&r);
	CHECK(app->slots_used <= app->max_flows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* with a message heap: its LISTEN/CONNECT may ask for RPC sessions */
	struct bp_attach_opts o = { .socket_path = dp.cfg.socket_path, .app_name = "fuzz",
				    .msg_heap = 1u << 20, .msg_max = 65536 };
	struct fx_in in = { data, size };
	struct dp_app *app;
	char err[512];

	ctx = bp_attach(&o, err, sizeof(err));
	if (!ctx)
		fprintf(stderr, "fuzz_ctrlq: attach: %s\n", err);
	CHECK(ctx);	/* the last input's app is gone: a fresh one always fits */
	app = attached_app();
	CHECK(app);
	memset(ports, 0, sizeof(ports));
	for (int n = 0; n < MAX_OPS && in.n; n++)
		run_op(app, &in);
	drain(app);
	pump(1);
	bp_detach(ctx);
	ctx = NULL;
	/* the daemon frees the app at its socket's end: nothing it queued may pin it */
	for (int i = 0; i < 5000 && attached_app(); i++) {
		pump(0);
		usleep(1000);
	}
	CHECK(!attached_app());
	return 0;
}

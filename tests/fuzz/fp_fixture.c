// SPDX-License-Identifier: MIT
/*
 * fp_fixture.c - one established flow on the real fastpath, driven by a
 * fuzz input: peer segments into tcp_input(), app reads/writes and
 * doorbells, the slowpath's timer/shutdown/probe/move messages.  See
 * fp_fixture.h.  The flow-work and transmit steps mirror fastpath.c's
 * loop (fp_run_flow, handle_msg) without its thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "fp_fixture.h"
#include "port.h"
#include "ring_copy.h"
#include "seq.h"
#include "bypass/region_layout.h"

struct fx FX;
uint8_t fx_pattern[2][FX_PERIOD + FX_PATTERN_SPAN];

/* app-side views of the app's own queues */
static struct bp_queue_view app_dataq, app_evq;
static bool in_table;
static uint8_t frame[16384];

void fx_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", what, file, line);
	abort();
}


/* region offsets: header, data queue, fastpath event queue, slots, rings */
static struct bp_region_layout lay;

/* the fixture's one flow no longer waits for the port (as fp_qos_run()) */
static void fx_sched_clear(struct fp_ctx *fp)
{
	uint32_t tenant;
	while (fp->sched.nwait)
		tq_sched_pop(&fp->sched, &tenant);
}
static size_t region_size;

/*
 * The context lives in DPDK memory, which LeakSanitizer does not scan: the
 * heap blocks it points to (the port scheduler's tables) would show as
 * leaks at exit.  Free it as fp_run() does when a core stops.
 */
static void fx_exit(void)
{
	if (FX.fp)
		fp_ctx_destroy(FX.fp);
	FX.fp = NULL;
}

void fx_init(void)
{
	/* no hugepages and no shared config (--in-memory needs hugepages):
	 * nothing is left in /var/run/dpdk when the process ends */
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=fuzz%d", getpid());
	char *argv[] = { "fuzz", "-l", "0", "--no-huge", "--no-shconf", "--no-pci", prefix,
			 "-m", "128", "--log-level=*:error", "--no-telemetry", NULL };
	char err[512];
	struct dataplane *dp = &FX.dp;

	/* this thread plays the fastpath (the slowpath's messages are replayed
	 * from it too, as the fastpath would receive them) */
	dp_role_set(DP_ROLE_FP, 0);
	if (port_eal_init(11, argv) < 0)
		fx_fail("rte_eal_init with --no-huge", __FILE__, __LINE__);
	FX.rx = rte_ring_create("fz_rx", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	FX.tx = rte_ring_create("fz_tx", 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	CHECK(FX.rx && FX.tx);
	CHECK(rte_eth_from_rings("fz_port", &FX.rx, 1, &FX.tx, 1, 0) >= 0);

	struct bp_config *c = &dp->cfg;
	config_defaults(c);
	snprintf(c->port_dev, sizeof(c->port_dev), "net_ring_fz_port");
	CHECK(config_set(c, "port", "ip", "198.18.0.1/24", err, sizeof(err)) == 0);
	c->max_flows = 4;
	c->app_max_flows = FX_SLOTS;
	c->rx_buf_size = FX_RING_MAX;
	c->tx_buf_size = FX_RING_MAX;
	c->mbufs = 8191;
	if (config_validate(c, err, sizeof(err)) || dp_init(dp, err, sizeof(err)) ||
	    port_init(dp, err, sizeof(err))) {
		fprintf(stderr, "fuzz fixture: %s\n", err);
		abort();
	}
	g_dp = dp;

	/* core 0's context, as fp_run() sets it up */
	struct fp_ctx *fp = fp_ctx_create(dp, 0);
	CHECK(fp);
	FX.fp = fp;
	atexit(fx_exit);

	/* the app and its region */
	/* the daemon's layout, rings of the largest size fx_reset() picks */
	bp_region_layout(&lay, 1, FX_SLOTS, FX_QUEUE_ENTRIES, FX_RING_MAX, FX_RING_MAX, 0);
	region_size = bp_region_align(lay.size);
	FX.region = aligned_alloc(4096, region_size);
	CHECK(FX.region);
	memset(FX.region, 0, region_size);

	struct dp_app *app = &dp->apps[0];
	FX.app = app;
	app->app_id = 0;
	app->in_use = true;
	app->conn_fd = app->memfd = app->sp_doorbell_fd = -1;
	app->base = FX.region;
	app->region_size = region_size;
	app->max_flows = FX_SLOTS;
	app->buffers_off = lay.buffers_off;
	app->hdr = (struct bp_region_hdr *)FX.region;
	app->flows = (struct bp_flow_shm *)(FX.region + lay.flows_off);
	app->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	CHECK(app->wake_fd >= 0);
	app->slot_flow = malloc(FX_SLOTS * sizeof(uint32_t));
	app->fp_slot_flow = malloc(FX_SLOTS * sizeof(uint32_t));
	CHECK(app->slot_flow && app->fp_slot_flow);
	CHECK(fp_app_add(fp, app) == 0);

	for (uint32_t i = 0; i < FX_PERIOD + FX_PATTERN_SPAN; i++) {
		fx_pattern[0][i] = (uint8_t)((i % FX_PERIOD) * 131 + 7);
		fx_pattern[1][i] = (uint8_t)((i % FX_PERIOD) * 151 + 3);
	}
	FX.f = &dp->flows[0];
	const uint8_t pm[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	memcpy(FX.peer_mac, pm, 6);
	inet_pton(AF_INET, "198.18.0.2", &FX.peer_ip);
}

/* the flow as sp_conn_establish() installs it, parameters from @in */
void fx_reset(struct fx_in *in)
{
	struct dataplane *dp = &FX.dp;
	struct fp_ctx *fp = FX.fp;
	struct dp_app *app = FX.app;
	struct fp_flow *f = FX.f;
	static const uint32_t sizes[4] = { 4096, 16384, 65536, 8192 };

	uint8_t b = fx_u8(in);
	uint32_t rx_size = sizes[(b >> 3) & 3], tx_size = sizes[(b >> 5) & 3];
	bool ws = b & 4;
	uint16_t mss = (uint16_t)(64 + fx_u16(in) % 1397);
	uint8_t snd_ws = fx_u8(in) % 15, rcv_ws = fx_u8(in) % 8;
	uint32_t rx_isn = fx_u32(in), tx_isn = fx_u32(in);
	uint16_t peer_wnd = fx_u16(in);
	uint32_t cwnd = mss * (1u + fx_u8(in) % 32);
	uint8_t pace = fx_u8(in);

	/* the app region: queues empty, slot counters zero */
	memset(FX.region, 0, lay.buffers_off);
	app->rx_buf_size = rx_size;
	app->tx_buf_size = tx_size;
	app->bad_entries = 0;
	app->fp[0].kick_pending = false;
	fp->nkick = 0;
	fp->nearly = 0; /* no doorbell held over from the last input */
	struct bp_queue *dq = (struct bp_queue *)(FX.region + lay.q_off[bp_rq_data(0)]);
	struct bp_queue *eq = (struct bp_queue *)(FX.region + lay.q_off[bp_rq_fp_ev(0)]);
	dq->size = eq->size = FX_QUEUE_ENTRIES;
	dq->elem_size = sizeof(struct bp_doorbell);
	eq->elem_size = sizeof(struct bp_event);
	bp_queue_view_init(&app->dataq[0], dq, FX_QUEUE_ENTRIES, sizeof(struct bp_doorbell), 0);
	bp_queue_view_init(&app->fp_evq[0], eq, FX_QUEUE_ENTRIES, sizeof(struct bp_event), 1);
	bp_queue_view_init(&app_dataq, dq, FX_QUEUE_ENTRIES, sizeof(struct bp_doorbell), 1);
	bp_queue_view_init(&app_evq, eq, FX_QUEUE_ENTRIES, sizeof(struct bp_event), 0);
	for (uint32_t s = 0; s < FX_SLOTS; s++) {
		app->flows[s].gen = 1 + s;
		app->slot_flow[s] = app->fp_slot_flow[s] = DP_INVALID_FLOW;
	}
	app->slot_flow[0] = app->fp_slot_flow[0] = 0;

	struct bp_flow_shm *fs = &app->flows[0];
	memset(f, 0, sizeof(*f));
	f->flow_id = 0;
	f->local_ip = dp->ip;
	f->remote_ip = FX.peer_ip;
	f->local_port = 8080;
	f->remote_port = 40000;
	memcpy(f->remote_mac.addr_bytes, FX.peer_mac, 6);
	f->snd_wscale = ws ? snd_ws : 0;
	f->rcv_wscale = ws ? rcv_ws : 0;
	f->mss = mss;
	f->app_id = 0;
	f->slot = 0;
	f->gen = fs->gen;
	f->shm = fs;
	f->rx_isn = rx_isn;
	f->rx_size = rx_size;
	f->rx_base = app->base + dp_app_slot_rx_off(app, 0);
	f->tx_isn = tx_isn;
	f->tx_size = tx_size;
	f->tx_base = f->rx_base + rx_size;
	f->peer_wnd = peer_wnd;
	if (b & 1)
		f->flags |= FPF_SACK;
	if (b & 2)
		f->flags |= FPF_ECN;
	f->rx_adv_edge = rx_size > 0xffff ? 0xffff : rx_size;
	f->cwnd = cwnd;
	f->pacing_bps = (b & 0x80) ? 1000000ull * (1 + pace) : 0;
	f->flags |= FPF_ACTIVE;
	fs->local_ip = f->local_ip;
	fs->remote_ip = f->remote_ip;
	fs->local_port = f->local_port;
	fs->remote_port = f->remote_port;
	fs->state = BP_FS_ESTABLISHED;
	if (!in_table) {
		CHECK(flow_table_add(fp, f) >= 0);
		in_table = true;
	}

	fp->ntouched = 0;
	fp->npaced = 0;
	fx_sched_clear(fp);
	fp->now = 1000000000000ull;
	f->last_progress_tsc = fp->now;
	FX.ip_id = 0;
	FX.app_written = FX.app_read = 0;
	FX.frames_out = 0;
	FX.bad_app = 0;
}

static size_t put_sack(uint8_t *o, struct fx_in *in, uint32_t una, uint32_t span, unsigned max)
{
	unsigned n = 1 + fx_u8(in) % max;
	o[0] = o[1] = 1; /* NOP NOP */
	o[2] = 5;
	o[3] = (uint8_t)(2 + 8 * n);
	for (unsigned i = 0; i < n; i++) {
		uint32_t l = una + fx_u16(in) % (span + 1);
		uint32_t r = l + fx_u16(in) % (span + 1);
		uint32_t le = htonl(l), re = htonl(r);
		memcpy(o + 4 + 8 * i, &le, 4);
		memcpy(o + 8 + 8 * i, &re, 4);
	}
	return 4 + 8 * n;
}

/*
 * A peer segment.  Byte 0: flags.  Byte 1: how seq, ack, length and
 * options relate to the flow (mostly in the window, sometimes not at
 * all).  The payload bytes are the peer stream's bytes at their sequence
 * numbers, so what reaches the app can be checked.
 */
void fx_segment(struct fx_in *in)
{
	struct fp_flow *f = FX.f;
	uint8_t flags = fx_u8(in), mode = fx_u8(in), extra = fx_u8(in);
	uint32_t rcv_nxt = tcp_rcv_nxt(f);
	uint32_t wnd = f->rx_adv_edge > f->rx_pos ? (uint32_t)(f->rx_adv_edge - f->rx_pos) : 0;
	uint32_t una = f->tx_isn + 1 + (uint32_t)f->tx_acked;
	uint32_t span = (uint32_t)(f->tx_max_sent - f->tx_acked) +
			((f->flags & FPF_TX_FIN_SENT) ? 1 : 0);
	uint32_t seq, ack, len;

	switch (mode & 3) {
	case 0: seq = rcv_nxt + fx_u16(in) % (wnd + 1); break;
	case 1: seq = rcv_nxt - fx_u16(in) % 8192; break;
	case 2: seq = rcv_nxt + (uint32_t)(int32_t)(int16_t)fx_u16(in); break;
	default: seq = fx_u32(in); break;
	}
	switch ((mode >> 2) & 3) {
	case 0: ack = una + fx_u16(in) % (span + 1); break;
	case 1: ack = una - fx_u8(in); break;
	case 2: ack = una + span + fx_u8(in); break;
	default: ack = fx_u32(in); break;
	}
	switch ((mode >> 4) & 3) {
	case 0: len = 0; break;
	case 1: len = fx_u8(in); break;
	case 2: len = fx_u16(in) % 1461; break;
	default: len = fx_u16(in) % 4001; break;
	}
	uint16_t win = fx_u16(in);

	uint8_t opt[40];
	size_t olen = 0;
	bool raw = false;
	switch (mode >> 6) {
	case 0:
		break;
	case 1:
		olen = put_sack(opt, in, una, span, 4);
		break;
	case 2: { /* timestamps, then SACK as Linux sends them */
		opt[0] = opt[1] = 1;
		opt[2] = 8;
		opt[3] = 10;
		uint32_t tv = fx_u32(in), te = fx_u32(in);
		memcpy(opt + 4, &tv, 4);
		memcpy(opt + 8, &te, 4);
		olen = 12 + put_sack(opt + 12, in, una, span, 3);
		break;
	}
	default:
		olen = fx_u8(in) % 41;
		for (size_t i = 0; i < olen; i++)
			opt[i] = fx_u8(in);
		while (olen % 4)
			opt[olen++] = 0; /* EOL padding */
		raw = true;
		break;
	}

	/* Ethernet, IPv4, TCP with the options, payload */
	size_t thl = 20 + olen, hl = PKT_ETH_LEN + PKT_IP_MIN + thl;
	uint8_t *ip = frame + PKT_ETH_LEN, *tcp = ip + PKT_IP_MIN;
	memcpy(frame, FX.dp.mac.addr_bytes, 6);
	memcpy(frame + 6, FX.peer_mac, 6);
	frame[12] = 0x08;
	frame[13] = 0x00;
	memset(ip, 0, PKT_IP_MIN);
	ip[0] = 0x45;
	ip[1] = extra & 3;
	uint16_t tot = htons((uint16_t)(PKT_IP_MIN + thl + len));
	memcpy(ip + 2, &tot, 2);
	uint16_t id = htons(FX.ip_id++);
	memcpy(ip + 4, &id, 2);
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = PKT_PROTO_TCP;
	memcpy(ip + 12, &FX.peer_ip, 4);
	memcpy(ip + 16, &FX.dp.ip, 4);
	uint16_t c = csum_fold(csum_partial(ip, PKT_IP_MIN, 0));
	memcpy(ip + 10, &c, 2);
	uint16_t v16 = htons(f->remote_port);
	memcpy(tcp, &v16, 2);
	v16 = htons(f->local_port);
	memcpy(tcp + 2, &v16, 2);
	uint32_t v32 = htonl(seq);
	memcpy(tcp + 4, &v32, 4);
	v32 = htonl(ack);
	memcpy(tcp + 8, &v32, 4);
	tcp[12] = (uint8_t)((thl / 4) << 4);
	tcp[13] = flags;
	v16 = htons(win);
	memcpy(tcp + 14, &v16, 2);
	tcp[16] = tcp[17] = tcp[18] = tcp[19] = 0;
	memcpy(tcp + 20, opt, olen);
	memcpy(frame + hl, fx_peer_bytes((int32_t)(seq - f->rx_isn - 1)), len);
	c = tcp_csum(FX.peer_ip, FX.dp.ip, tcp, thl + len);
	memcpy(tcp + 16, &c, 2);

	struct pkt_tcp p;
	enum pkt_verdict v = pkt_parse_tcp(frame, hl + len, true, &p);
	if (raw && v != PKT_OK)
		return; /* malformed options: the fastpath drops it */
	CHECK(v == PKT_OK);
	/* as rx_frame(): a SYN without ACK goes to the slowpath */
	if ((p.flags & TCPF_SYN) && !(p.flags & TCPF_ACK))
		return;
	struct fp_flow *lf = flow_table_lookup(FX.fp, p.saddr, p.daddr, p.sport, p.dport);
	if (!lf)
		return;
	CHECK(lf == f);
	FX.fp->cnt[DPC_RX_PKTS]++;
	tcp_input(FX.fp, f, &p);
}

static void push_doorbell(uint16_t op, uint32_t slot, uint32_t gen)
{
	struct bp_doorbell db = { .op = op, .slot = slot, .gen = gen };
	if (bp_queue_push(&app_dataq, &db))
		fp_apps_poll(FX.fp); /* full: let the fastpath take some first */
	bp_queue_push(&app_dataq, &db);
	fp_apps_poll(FX.fp);
}

void fx_app_write(uint32_t len, bool direct)
{
	struct fp_flow *f = FX.f;
	if (!(f->flags & FPF_ACTIVE) || (f->flags & (FPF_TX_FIN_REQ | FPF_DETACHED)))
		return;
	uint64_t base = f->tx_written;
	uint64_t room = f->tx_size - (base - f->tx_acked);
	uint32_t n = len < room ? len : (uint32_t)room;
	/* as libbypass does: everything acknowledged, start over at offset 0 */
	if (__atomic_load_n(&f->shm->tx_acked, __ATOMIC_ACQUIRE) == base)
		f->shm->tx_shift = bp_ring_shift_to_start(base, f->tx_size);
	ring_copy_in(f->tx_base, f->tx_size, f->shm->tx_shift, base, fx_app_bytes((int64_t)base), n);
	FX.app_written = base + n;
	__atomic_store_n(&f->shm->tx_written, base + n, __ATOMIC_RELEASE);
	if (direct) {
		if (!fp_flow_validate_tx(FX.fp, f))
			fp_touch(FX.fp, f, FPP_OUTPUT);
	} else {
		push_doorbell(BP_DB_TX, f->slot, f->gen);
	}
}

void fx_app_read(uint32_t len, bool direct)
{
	struct fp_flow *f = FX.f;
	if (!(f->flags & FPF_ACTIVE) || (f->flags & FPF_DETACHED))
		return;
	uint64_t written = __atomic_load_n(&f->shm->rx_written, __ATOMIC_ACQUIRE);
	uint64_t base = FX.check_data ? FX.app_read : f->rx_consumed;
	if (base > written)
		return;
	uint64_t avail = written - base;
	uint32_t n = len < avail ? len : (uint32_t)avail;
	if (FX.check_data && n) {
		static uint8_t got[FX_RING_MAX];
		ring_copy_out(got, f->rx_base, f->rx_size,
			      __atomic_load_n(&f->shm->rx_shift, __ATOMIC_RELAXED), base, n);
		CHECK(!memcmp(got, fx_peer_bytes((int64_t)base), n));
	}
	FX.app_read = base + n;
	__atomic_store_n(&f->shm->rx_consumed, base + n, __ATOMIC_RELEASE);
	if (direct)
		tcp_window_update(FX.fp, f);
	else
		push_doorbell(BP_DB_RX, f->slot, f->gen);
}

/* DPM_FLOW_MOVE: a fork()ed child adopts the flow into the other slot */
static void move_flow(void)
{
	struct fp_flow *f = FX.f;
	struct dp_app *app = FX.app;
	uint32_t to = f->slot ^ 1;
	struct dp_move mv = { .to = app, .slot = to, .gen = app->flows[to].gen + 2,
			      .from_app = 0, .from_slot = f->slot };
	if (f->flags & FPF_DETACHED)
		return;
	app->flows[to].gen = mv.gen;
	fp_flow_move(FX.fp, f, &mv);
	if (mv.status == 0) {
		CHECK(f->slot == to && f->shm == &app->flows[to]);
		CHECK(f->rx_base == app->base + dp_app_slot_rx_off(app, to));
		app->slot_flow[to] = 0;
		app->slot_flow[to ^ 1] = DP_INVALID_FLOW;
	}
}

void fx_slowpath(struct fx_in *in)
{
	struct fp_ctx *fp = FX.fp;
	struct fp_flow *f = FX.f;
	uint8_t op = fx_u8(in);
	if (!(f->flags & FPF_ACTIVE))
		return;
	switch (op % 9) {
	case 0: /* DPM_FLOW_RETX, judged on the flow as it is or on an older view
		 * (a spare bit of the same byte: the corpora decode as before) */
		tcp_timeout(fp, f, (op / 9) & 1 ? f->tx_acked / 2 : f->tx_acked);
		break;
	case 1: /* DPM_FLOW_SHUTWR */
		if (!(f->flags & FPF_TX_FIN_REQ)) {
			fp_flow_validate_tx(fp, f);
			f->tx_fin_pos = f->tx_written;
			f->flags |= FPF_TX_FIN_REQ;
			fp_touch(fp, f, FPP_OUTPUT);
		}
		break;
	case 2: /* DPM_FLOW_PROBE */
		if (!(f->flags & FPF_RESET))
			tcp_send_probe(fp, f);
		break;
	case 3: { /* congestion control moved cwnd, maybe with DPM_FLOW_CWND */
		uint8_t c = fx_u8(in);
		__atomic_store_n(&f->cwnd, f->mss * (1u + c % 64), __ATOMIC_RELAXED);
		if ((c & 0x40) && !(f->flags & FPF_RESET))
			fp_touch(fp, f, FPP_OUTPUT);
		break;
	}
	case 4: { /* pacing rate changed */
		uint8_t r = fx_u8(in);
		__atomic_store_n(&f->pacing_bps, r ? 1000000ull * r : 0, __ATOMIC_RELAXED);
		break;
	}
	case 5: /* time passes */
		fp->now += (uint64_t)fx_u16(in) * (FX.dp.tsc_hz / 10000);
		break;
	case 6: /* DPM_FLOW_DETACH: TIME_WAIT lets go of the app slot */
		if ((f->flags & (FPF_RX_FIN | FPF_TX_FIN_ACKED)) == (FPF_RX_FIN | FPF_TX_FIN_ACKED) &&
		    !(f->flags & FPF_DETACHED)) {
			struct dp_app *app = FX.app;
			if (app->fp_slot_flow[f->slot] == f->flow_id)
				app->fp_slot_flow[f->slot] = DP_INVALID_FLOW;
			f->shm = &fp->detached_shm;
			f->rx_base = f->tx_base = NULL;
			f->flags |= FPF_DETACHED;
		}
		break;
	case 8: { /* DPM_FLOW_PMTU: a router's ICMP lowered the MSS (or tried to raise
		   * it), maybe with DF off from then on, maybe quietly (another flow's) */
		uint16_t v = fx_u16(in);
		tcp_mss_lowered(fp, f, (uint16_t)(48 + v % 1452), v & 0x8000, !(v & 0x4000));
		break;
	}
	default:
		move_flow();
		break;
	}
}

/* a segment the daemon sent: valid, for this flow, and (for data) the
 * app's bytes at their positions, never past what the app wrote */
static void check_out(const uint8_t *fr, uint16_t len)
{
	struct fp_flow *f = FX.f;
	struct pkt_tcp p;
	CHECK(pkt_classify(fr, len) == PKT_PROTO_TCP);
	CHECK(pkt_parse_tcp(fr, len, true, &p) == PKT_OK);
	CHECK(p.saddr == FX.dp.ip && p.daddr == FX.peer_ip);
	CHECK(p.sport == f->local_port && p.dport == f->remote_port);
	CHECK(!memcmp(p.dst_mac, FX.peer_mac, 6));
	CHECK(!(p.flags & TCPF_SYN));
	if (!(p.flags & TCPF_RST))
		CHECK(p.flags & TCPF_ACK);
	if (p.opts.sack_n)
		CHECK((f->flags & FPF_SACK) && p.opts.sack_n <= TCP_SACK_SEND);
	for (unsigned b = 0; b < p.opts.sack_n; b++)
		CHECK(seq_gt(p.opts.sack[b][1], p.opts.sack[b][0]) &&
		      seq_geq(p.opts.sack[b][0], p.ack));
	if (p.payload_len) {
		uint64_t pos = (uint32_t)(p.seq - f->tx_isn - 1);
		CHECK(p.payload_len <= f->mss);
		CHECK(pos + p.payload_len <= f->tx_written);
		if (FX.check_data)
			CHECK(!memcmp(p.payload, fx_app_bytes((int64_t)pos), p.payload_len));
	}
	if (p.flags & TCPF_FIN) {
		CHECK(f->flags & FPF_TX_FIN_REQ);
		CHECK((uint32_t)(p.seq + p.payload_len - f->tx_isn - 1) == (uint32_t)f->tx_fin_pos);
	}
	FX.frames_out++;
}

static void check_flow(void)
{
	struct fp_flow *f = FX.f;
	if (!(f->flags & FPF_ACTIVE))
		return;
	CHECK(f->tx_acked <= f->tx_max_sent && f->tx_sent <= f->tx_max_sent);
	CHECK(f->tx_acked <= f->tx_sent);
	CHECK(f->tx_max_sent <= f->tx_written);
	CHECK(f->tx_written - f->tx_acked <= f->tx_size);
	/* F-RTO: armed only with SACK, disarmed by any SACK block or recovery */
	if (f->flags & FPF_RTO_UNDO)
		CHECK((f->flags & FPF_SACK) && !f->sacked_n && !(f->flags & FPF_IN_RECOVERY));
	if (f->flags & FPF_TX_FIN_REQ)
		CHECK(f->tx_fin_pos <= f->tx_written && f->tx_max_sent <= f->tx_fin_pos);
	CHECK(f->rx_consumed <= f->rx_pos && f->rx_pos - f->rx_consumed <= f->rx_size);
	/* never a window beyond the free ring space */
	CHECK(f->rx_adv_edge <= f->rx_consumed + f->rx_size);
	CHECK(f->ooo_n <= FP_OOO_MAX && f->sacked_n <= FP_SACK_MAX);
	CHECK(f->ooo_n == 0 || f->ooo_recent < f->ooo_n);
	for (unsigned i = 0; i < f->ooo_n; i++) {
		/* held data sits above rcv_nxt, never over bytes the app has not read */
		CHECK(f->ooo[i].start > f->rx_pos && f->ooo[i].start < f->ooo[i].end);
		CHECK(f->ooo[i].end <= f->rx_consumed + f->rx_size);
		if (i)
			CHECK(f->ooo[i - 1].end < f->ooo[i].start);
	}
	for (unsigned i = 0; i < f->sacked_n; i++) {
		CHECK(f->sacked[i].start >= f->tx_acked && f->sacked[i].start < f->sacked[i].end);
		CHECK(f->sacked[i].end <= f->tx_max_sent);
		if (i)
			CHECK(f->sacked[i - 1].end < f->sacked[i].start);
	}
	if (!(f->flags & FPF_DETACHED)) {
		CHECK(f->shm->rx_written == f->rx_pos);
		CHECK(f->shm->tx_acked == f->tx_acked);
	}
}

/* as handle_msg(DPM_FLOW_DEL, arg 1): what the slowpath does to a flow
 * whose app wrote garbage */
static void delete_flow(void)
{
	struct fp_ctx *fp = FX.fp;
	struct fp_flow *f = FX.f;
	if (f->flags & FPF_ACTIVE) {
		if (!(f->flags & FPF_RESET))
			tcp_send_rst(fp, f);
		flow_table_del(fp, f);
		in_table = false;
		struct dp_app *app = FX.app;
		if (app->fp_slot_flow[f->slot] == f->flow_id)
			app->fp_slot_flow[f->slot] = DP_INVALID_FLOW;
	}
	fp_flow_unlist(fp, f);
	f->flags = FPF_RESET;
	f->pend = 0;
}

static void drain(void)
{
	struct rte_mbuf *m;
	while (rte_ring_dequeue(FX.tx, (void **)&m) == 0) {
		CHECK(m->nb_segs == 1);
		check_out(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m));
		rte_pktmbuf_free(m);
	}
	struct dp_msg msg;
	bool del = false;
	while (rte_ring_dequeue_elem(FX.dp.to_sp, &msg, sizeof(msg)) == 0) {
		CHECK(msg.flow_id == 0);
		switch (msg.type) {
		case DPM_FLOW_BAD_APP:
			FX.bad_app++;
			del = true;
			break;
		case DPM_FLOW_FIN_RCVD:
			CHECK(FX.f->flags & FPF_RX_FIN);
			break;
		case DPM_FLOW_FIN_ACKED:
			CHECK(FX.f->flags & FPF_TX_FIN_ACKED);
			break;
		case DPM_FLOW_RST_RCVD:
			break;
		default:
			CHECK(!"unexpected fastpath -> slowpath message");
		}
	}
	if (del)
		delete_flow();
}

void fx_settle(void)
{
	struct fp_ctx *fp = FX.fp;
	struct fp_flow *f = FX.f;
	for (int round = 0; round < 8; round++) {
		/* as run_paced() and fp_qos_run() */
		if ((f->flags & FPF_PACE_WAIT) &&
		    (!(f->flags & FPF_ACTIVE) || f->pace_next_tsc <= fp->now || !f->pacing_bps)) {
			f->flags &= ~FPF_PACE_WAIT;
			fp->npaced = 0;
			if (f->flags & FPF_ACTIVE)
				fp_touch(fp, f, FPP_OUTPUT);
		}
		if (fp->sched.nwait && fp->bl_count < FP_TX_BACKLOG_HIGH) {
			fx_sched_clear(fp);
			f->flags &= ~FPF_TX_BLOCKED;
			if (f->flags & FPF_ACTIVE)
				fp_touch(fp, f, FPP_OUTPUT);
		}
		if (!fp->ntouched && !fp->ntx && !fp->bl_count && !rte_ring_count(FX.tx) &&
		    !rte_ring_count(FX.dp.to_sp))
			break;
		fp_run_touched(fp);
		fp_tx_flush(fp);
		drain();
	}
	/* wake the app if it sleeps; it reads its events */
	if (fp_apps_kick(fp)) {
		uint64_t v;
		CHECK(read(FX.app->wake_fd, &v, sizeof(v)) == sizeof(v));
	}
	check_flow();
}

/* the app takes its events; each names a slot it holds, or held */
void fx_app_events(void)
{
	struct bp_event ev;
	while (!bp_queue_pop(&app_evq, &ev)) {
		CHECK(ev.type == BP_EV_RX || ev.type == BP_EV_TX);
		CHECK(ev.slot < FX_SLOTS);
	}
}

void fx_end(void)
{
	fx_settle();
	struct fp_ctx *fp = FX.fp;
	/* the port took everything: no frame, no message, no buffer left */
	CHECK(fp->ntx == 0 && fp->bl_count == 0);
	CHECK(rte_ring_count(FX.tx) == 0 && rte_ring_count(FX.dp.to_sp) == 0);
	CHECK(rte_mempool_in_use_count(FX.dp.pool) == 0);
	fp_flow_unlist(fp, FX.f);
	fp->npaced = 0;
	fx_sched_clear(fp);
	fp->ntouched = 0;
	FX.f->pend = 0;
}

// SPDX-License-Identifier: MIT
/*
 * sp_fp.c - the slowpath's half of the fastpath/slowpath contract
 * (fastpathd/dataplane.h): the only slowpath file that sends a dp_msg,
 * receives one, or touches a struct fp_flow.
 *
 * Installed flows: the slowpath fills dp->flows[id] completely and only
 * then queues FLOW_ADD (the ring's release/acquire publishes the whole
 * struct).  After that it writes cwnd and pacing_bps, atomically, and
 * nothing else; everything it reads is a relaxed load of a counter the
 * fastpath publishes for it.  See the ownership table in dataplane.h.
 */
/* rte_pcapng is experimental in DPDK 22.11 (Debian 12) */
#define ALLOW_EXPERIMENTAL_API
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <rte_cycles.h>
#include <rte_ring.h>
#include <rte_pcapng.h>

#include "sp_internal.h"
#include "tenant_sched.h"
#include "rpc_frame_rx.h"

/*
 * The slowpath never blocks on a fastpath core.  A message that finds its
 * core's inbox full (a wedged port, a core behind on a flood) waits in the
 * outbox, and so does every later message for that core, so each core
 * gets its messages in the order they were sent; a core with room gets
 * its own meanwhile.  Messages that go to core 0 for all (RX_REINJECT:
 * after the FLOW_ADD it raced, wherever that went; APP_ADD and APP_DEL,
 * which travel on to the other cores: after the app's flows' messages)
 * also wait for everything before them.  The outbox is flushed before the
 * loop sleeps and on every tick, and the tick runs at its busy rate while
 * it holds anything.  A frame to transmit (DPM_TX_PKT: SYN-ACK, RST, ARP)
 * is not news but a packet, and is dropped as a full wire would drop it;
 * its sender sends again.  While the outbox holds anything, a doorbell
 * for a flow not installed yet does not expire (fp_apps.c).
 */
static bool waits_for_all(uint16_t type)
{
	return type == DPM_RX_REINJECT || type == DPM_APP_ADD || type == DPM_APP_DEL;
}

static void outbox_count(struct sp *sp)
{
	__atomic_store_n(&sp->dp->sp_outbox_len, sp->outbox.n, __ATOMIC_RELEASE);
	__atomic_fetch_add(&sp->dp->sp_outbox_moves, 1, __ATOMIC_RELEASE);
}

/** sp_fp_outbox_flush - send what waits in the outbox and fits, in order per core. */
void sp_fp_outbox_flush(struct sp *sp)
{
	DP_ASSERT_SP();
	struct sp_outbox *o = &sp->outbox;
	if (!o->n)
		return;
	uint64_t blocked = 0; /* cores whose next message did not fit */
	uint32_t kept = 0, mask = o->cap - 1;
	for (uint32_t i = 0; i < o->n; i++) {
		struct dp_msg m = o->q[(o->head + i) & mask];
		uint32_t core = o->core[(o->head + i) & mask];
		uint32_t to = core == SP_OUT_ROUTE ? dp_msg_core(sp->dp, m.type, m.flow_id) : core;
		bool wait = waits_for_all(m.type) ? blocked != 0 : (blocked >> to) & 1;
		if (wait || dp_send_to_core(sp->dp, to, m.type, m.flow_id, m.arg, m.ptr)) {
			blocked |= 1ull << to;
			o->q[(o->head + kept) & mask] = m; /* kept <= i: in place */
			o->core[(o->head + kept) & mask] = core;
			kept++;
		}
	}
	if (kept != o->n) {
		o->n = kept;
		outbox_count(sp);
	}
}

/** sp_fp_outbox_len - messages waiting for room in a fastpath core's inbox. */
uint32_t sp_fp_outbox_len(const struct sp *sp)
{
	return sp->outbox.n;
}

static bool outbox_push(struct sp *sp, const struct dp_msg *m, uint32_t core)
{
	struct sp_outbox *o = &sp->outbox;
	if (o->n == o->cap) {
		uint32_t cap = o->cap ? o->cap * 2 : 256;
		struct dp_msg *q = malloc(sizeof(*q) * cap);
		uint32_t *c = q ? malloc(sizeof(*c) * cap) : NULL;
		if (!c) {
			free(q);
			return false;
		}
		for (uint32_t i = 0; i < o->n; i++) {
			q[i] = o->q[(o->head + i) & (o->cap - 1)];
			c[i] = o->core[(o->head + i) & (o->cap - 1)];
		}
		free(o->q);
		free(o->core);
		o->q = q;
		o->core = c;
		o->cap = cap;
		o->head = 0;
	}
	o->q[(o->head + o->n) & (o->cap - 1)] = *m;
	o->core[(o->head + o->n) & (o->cap - 1)] = core;
	o->n++;
	sp->dp->sp_counters[DPC_SP_OUTBOX]++;
	outbox_count(sp);
	return true;
}

/** sp_fp_outbox_fini - free what never got sent (the fastpath has stopped). */
void sp_fp_outbox_fini(struct sp *sp)
{
	struct sp_outbox *o = &sp->outbox;
	for (; o->n; o->n--, o->head = (o->head + 1) & (o->cap - 1)) {
		struct dp_msg *m = &o->q[o->head];
		if (m->type == DPM_RX_REINJECT)
			rte_pktmbuf_free(m->ptr);
		else if (m->type == DPM_FLOW_MOVE)
			free(m->ptr);
	}
	free(o->q);
	free(o->core);
	o->q = NULL;
	o->core = NULL;
	o->cap = 0;
}

/* @core: SP_OUT_ROUTE, or the core it must go to */
static int send_core(struct sp *sp, uint32_t core, uint16_t type, uint32_t flow_id, uint16_t arg,
		     void *ptr)
{
	DP_ASSERT_SP();
	uint32_t to = core == SP_OUT_ROUTE ? dp_msg_core(sp->dp, type, flow_id) : core;
	if (type == DPM_TX_PKT) {
		if (dp_send_to_core(sp->dp, to, type, flow_id, arg, ptr)) {
			sp->dp->sp_counters[DPC_SP_TX_DROP]++;
			rte_pktmbuf_free(ptr);
		}
		return 0;
	}
	/* behind anything waiting (the flush sorts out which may go) */
	if (!sp->outbox.n && !dp_send_to_core(sp->dp, to, type, flow_id, arg, ptr))
		return 0;
	struct dp_msg m = { .type = type, .arg = arg, .flow_id = flow_id, .ptr = ptr };
	if (outbox_push(sp, &m, core))
		return 0;
	fprintf(stderr, "fastpathd: slowpath: out of memory for %u messages waiting for the "
		"fastpath: message %u lost\n", sp->outbox.n, type);
	return -1;
}

static void send_fp(struct sp *sp, uint16_t type, uint32_t flow_id, uint16_t arg, void *ptr)
{
	if (send_core(sp, SP_OUT_ROUTE, type, flow_id, arg, ptr) && type == DPM_RX_REINJECT)
		rte_pktmbuf_free(ptr);
}

/** sp_tx_mbuf - have the fastpath transmit @m as it is (it owns @m now). */
void sp_tx_mbuf(struct sp *sp, struct rte_mbuf *m)
{
	send_fp(sp, DPM_TX_PKT, 0, 0, m); /* counted in tx_packets when the fastpath sends it */
}

/**
 * sp_fp_reinject - hand a segment that reached the slowpath back to the
 * fastpath, to be processed as received.  Queued after any FLOW_ADD sent
 * before it, so the fastpath has the flow by then.
 */
void sp_fp_reinject(struct sp *sp, struct rte_mbuf *m)
{
	send_fp(sp, DPM_RX_REINJECT, 0, 0, m);
}

/**
 * sp_fp_flow_install - fill dp->flows[@id] from connection @c and @in,
 * completely, then queue FLOW_ADD.
 * @send_ack: the fastpath sends the handshake's final ACK (active open).
 *
 * Nothing may write the flow after this: it is the fastpath's from the
 * moment FLOW_ADD is in the ring (except cwnd and pacing_bps; mss and
 * remote_mac change only by messages, ip_id with every segment the
 * fastpath sends: dataplane.h's table).
 */
void sp_fp_flow_install(struct sp *sp, const struct sp_conn *c, uint32_t id,
			const struct sp_fp_flow_init *in, bool send_ack)
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	struct dp_app *app = &dp->apps[c->app_id];
	struct fp_flow *f = &dp->flows[id];
	struct bp_flow_shm *fs = &app->flows[c->slot];
	bool ws = c->peer_wscale >= 0;

	memset(f, 0, sizeof(*f));
	f->flow_id = id;
	f->local_ip = c->local_ip;
	f->remote_ip = c->remote_ip;
	f->local_port = c->local_port;
	f->remote_port = c->remote_port;
	f->remote_mac = c->mac;
	f->snd_wscale = ws ? (uint8_t)c->peer_wscale : 0;
	f->rcv_wscale = ws ? in->rcv_wscale : 0;
	f->mss = in->mss;
	f->app_id = c->app_id;
	f->tenant = app->tenant;
	f->slot = c->slot;
	f->gen = sp_slot(app, c->slot)->gen;
	f->shm = fs;
	f->rx_isn = c->irs;
	f->rx_size = app->rx_buf_size;
	f->rx_base = app->base + dp_app_slot_rx_off(app, c->slot);
	f->tx_isn = c->iss;
	f->tx_size = app->tx_buf_size;
	f->tx_base = f->rx_base + app->rx_buf_size;
	f->peer_wnd = in->peer_wnd;
	f->bucket = dp_bucket_of(dp_bucket_hash(dp, f->remote_ip, f->local_ip, f->remote_port,
						f->local_port));
	f->core = (uint16_t)dp_steer(dp, f->bucket); /* the owner sets it again at FLOW_ADD */
	fs->fp_queue = f->core;
	if (c->peer_sack)
		f->flags |= FPF_SACK;
	if (c->ecn)
		f->flags |= FPF_ECN;
	if (in->no_df)
		f->flags |= FPF_NO_DF;
	f->ip_id = sp_random_u16(sp); /* as Linux's sockets: a random start */
	f->rx_adv_edge = dp->cfg.rx_buf_size > 0xffff ? 0xffff : dp->cfg.rx_buf_size;
	if ((c->flags & SPC_RPC) && (f->rpc = malloc(sizeof(*f->rpc)))) {
		/* the framer's state: the owning core's until FLOW_DEL_DONE */
		rpc_rx_init(f->rpc);
		f->flags |= FPF_RPC;
	}
	f->cwnd = in->cwnd;
	f->pacing_bps = in->pacing_bps;
	f->last_progress_tsc = sp->now;
	send_fp(sp, DPM_FLOW_ADD, id, send_ack, NULL);
}

/**
 * sp_fp_rpc_stats - copy the RPC call counters of every fastpath core
 * (relaxed loads: a row written meanwhile is off by a call, never torn
 * apart: its key is published with release before its counts move).
 * Return: entries stored in @out (at most @max).
 */
uint32_t sp_fp_rpc_stats(struct sp *sp, struct dp_rpc_stat *out, uint32_t max)
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	uint32_t n = 0;

	for (uint32_t k = 0; k < dp->ncores; k++) {
		const struct dp_rpc_stat *t = dp->core[k].rpc_stats;

		for (uint32_t i = 0; i < DP_RPC_STATS && n < max; i++) {
			if (!__atomic_load_n(&t[i].used, __ATOMIC_ACQUIRE))
				continue;
			out[n] = (struct dp_rpc_stat){
				.used = 1, .tenant = t[i].tenant, .method = t[i].method,
				.calls = __atomic_load_n(&t[i].calls, __ATOMIC_RELAXED),
				.resp_ok = __atomic_load_n(&t[i].resp_ok, __ATOMIC_RELAXED),
				.resp_err = __atomic_load_n(&t[i].resp_err, __ATOMIC_RELAXED),
			};
			n++;
		}
	}
	return n;
}

/**
 * sp_fp_flow_forget - the fastpath let go of flow @id (FLOW_DEL_DONE):
 * free what the install gave it (the RPC framer's state).
 */
void sp_fp_flow_forget(struct sp *sp, uint32_t id)
{
	DP_ASSERT_SP();
	struct fp_flow *f = &sp->dp->flows[id];

	rpc_rx_free(f->rpc);
	f->rpc = NULL;
}

/** sp_fp_flow_del - remove flow @id (RST first if @rst); FLOW_DEL_DONE answers. */
void sp_fp_flow_del(struct sp *sp, uint32_t id, bool rst)
{
	send_fp(sp, DPM_FLOW_DEL, id, rst ? 1 : 0, NULL);
}

/**
 * sp_fp_flow_retx - the retransmission timer fired: go back to snd_una.
 * @acked_seen: the flow's tx_acked in the view the timer was judged on
 * (tcp_timeout() counts one that an ACK of all the data overtook as
 * needless).
 */
void sp_fp_flow_retx(struct sp *sp, uint32_t id, uint64_t acked_seen)
{
	send_fp(sp, DPM_FLOW_RETX, id, 0, (void *)(uintptr_t)acked_seen);
}

/**
 * sp_fp_flow_pmtu - the path to flow @id's peer takes at most @mss payload
 * bytes a segment: the fastpath cuts its segments to that from now on and
 * resends what is in flight if @resend (slowpath/icmp_err.c checked the
 * ICMP message); with @no_df, they go without DF from now on.
 */
void sp_fp_flow_pmtu(struct sp *sp, uint32_t id, uint16_t mss, bool no_df, bool resend)
{
	uint16_t arg = (uint16_t)(mss | (no_df ? DP_PMTU_NO_DF : 0) | (resend ? 0 : DP_PMTU_QUIET));

	send_fp(sp, DPM_FLOW_PMTU, id, arg, NULL);
}

/**
 * sp_fp_flow_neigh - flow @id's next hop moved to @mac (arp.c): the
 * fastpath addresses the flow's frames there from now on.
 */
void sp_fp_flow_neigh(struct sp *sp, uint32_t id, const struct rte_ether_addr *mac)
{
	_Static_assert(sizeof(uintptr_t) >= 8, "a MAC fits in a message's ptr");
	uint64_t v = 0;

	memcpy(&v, mac->addr_bytes, RTE_ETHER_ADDR_LEN);
	send_fp(sp, DPM_FLOW_NEIGH, id, 0, (void *)(uintptr_t)v);
}

/** sp_fp_flow_probe - send a keepalive probe. */
void sp_fp_flow_probe(struct sp *sp, uint32_t id)
{
	send_fp(sp, DPM_FLOW_PROBE, id, 0, NULL);
}

/**
 * sp_fp_flow_shutwr - send a FIN after the buffered data.
 * @how: DP_SHUTWR_LAST_HOLDER (no process will read again: unread or
 *       later data resets), DP_SHUTWR_APP_GONE (the app posts no more).
 * @rpc_posted: an RPC session's app posted this many frames before it
 *              asked (0: none, or not known): the FIN waits for them.
 */
void sp_fp_flow_shutwr(struct sp *sp, uint32_t id, unsigned how, uint32_t rpc_posted)
{
	send_fp(sp, DPM_FLOW_SHUTWR, id, how, (void *)(uintptr_t)rpc_posted);
}

/** sp_fp_flow_detach - TIME_WAIT: stop using the app slot; DETACH_DONE answers. */
void sp_fp_flow_detach(struct sp *sp, uint32_t id)
{
	send_fp(sp, DPM_FLOW_DETACH, id, 0, NULL);
}

/** sp_fp_flow_move - hand flow @id to mv->to; FLOW_MOVE_DONE returns @mv. */
void sp_fp_flow_move(struct sp *sp, uint32_t id, struct dp_move *mv)
{
	send_fp(sp, DPM_FLOW_MOVE, id, 0, mv);
}

/** sp_fp_app_add - start polling @app's data queue (its setup is complete). */
void sp_fp_app_add(struct sp *sp, struct dp_app *app)
{
	send_fp(sp, DPM_APP_ADD, 0, 0, app);
}

/** sp_fp_app_del - stop polling @app, after its flows' FLOW_DELs; APP_DEL_DONE answers. */
void sp_fp_app_del(struct sp *sp, struct dp_app *app)
{
	send_fp(sp, DPM_APP_DEL, 0, 0, app);
}

/** sp_fp_stop - let the fastpath loop end (it checks dp->stop every round). */
void sp_fp_stop(struct sp *sp)
{
	uint64_t one = 1;

	sp->dp->stop = 1;
	for (uint32_t k = 0; k < sp->dp->ncores; k++)
		if (write(sp->dp->core[k].kick_fd, &one, sizeof(one)) < 0)
			continue; /* the counter is huge: that core is awake anyway */
}

/**
 * sp_fp_recv - take up to @n messages the fastpath sent.
 * Return: how many were stored in @msgs.
 */
unsigned int sp_fp_recv(struct sp *sp, struct dp_msg *msgs, unsigned int n)
{
	DP_ASSERT_SP();
	return rte_ring_dequeue_burst_elem(sp->dp->to_sp, msgs, sizeof(msgs[0]), n, NULL);
}

/**
 * sp_fp_flow_read - snapshot the counters and positions the fastpath
 * publishes for installed flow @id.
 */
void sp_fp_flow_read(struct sp *sp, uint32_t id, struct sp_fp_flow_view *v)
{
	DP_ASSERT_SP();
	const struct fp_flow *f = &sp->dp->flows[id];

	v->flags = __atomic_load_n(&f->flags, __ATOMIC_RELAXED);
	/* acquire, before cnt_rto_spurious: tcp_in.c rto_undo_check() */
	v->cnt_acked = __atomic_load_n(&f->cnt_acked, __ATOMIC_ACQUIRE);
	v->tx_acked = __atomic_load_n(&f->tx_acked, __ATOMIC_RELAXED);
	v->tx_max_sent = __atomic_load_n(&f->tx_max_sent, __ATOMIC_RELAXED);
	v->cnt_fast_retx = __atomic_load_n(&f->cnt_fast_retx, __ATOMIC_RELAXED);
	v->cnt_rto_spurious = __atomic_load_n(&f->cnt_rto_spurious, __ATOMIC_RELAXED);
	v->cnt_cwnd_limited = __atomic_load_n(&f->cnt_cwnd_limited, __ATOMIC_RELAXED);
	v->cnt_ecn_acked = __atomic_load_n(&f->cnt_ecn_acked, __ATOMIC_RELAXED);
	v->rtt_us = __atomic_load_n(&f->rtt_us, __ATOMIC_RELAXED);
	v->srtt_us = __atomic_load_n(&f->srtt_us, __ATOMIC_RELAXED);
	v->rttvar_us = __atomic_load_n(&f->rttvar_us, __ATOMIC_RELAXED);
	v->last_progress_tsc = __atomic_load_n(&f->last_progress_tsc, __ATOMIC_RELAXED);
	v->tx_written = __atomic_load_n(&f->tx_written, __ATOMIC_RELAXED);
	v->tx_sent = __atomic_load_n(&f->tx_sent, __ATOMIC_RELAXED);
	v->peer_wnd = __atomic_load_n(&f->peer_wnd, __ATOMIC_RELAXED);
	v->last_rx_tsc = __atomic_load_n(&f->last_rx_tsc, __ATOMIC_RELAXED);
}

/**
 * sp_fp_flow_read_info - for bypassctl flows: the policy the slowpath set
 * and the receive positions of installed flow @id (relaxed loads).
 */
void sp_fp_flow_read_info(struct sp *sp, uint32_t id, struct sp_fp_flow_info *in)
{
	DP_ASSERT_SP();
	const struct fp_flow *f = &sp->dp->flows[id];

	in->cwnd = __atomic_load_n(&f->cwnd, __ATOMIC_RELAXED);
	in->pacing_bps = __atomic_load_n(&f->pacing_bps, __ATOMIC_RELAXED);
	in->rx_pos = __atomic_load_n(&f->rx_pos, __ATOMIC_RELAXED);
	in->rx_consumed = __atomic_load_n(&f->rx_consumed, __ATOMIC_RELAXED);
	in->mss = __atomic_load_n(&f->mss, __ATOMIC_RELAXED); /* DPM_FLOW_PMTU lowers it */
	in->core = __atomic_load_n(&f->core, __ATOMIC_RELAXED);
}

/**
 * sp_fp_flow_set_cwnd - congestion control's window for installed flow @id.
 * Return: the window it replaced.
 */
uint32_t sp_fp_flow_set_cwnd(struct sp *sp, uint32_t id, uint32_t cwnd)
{
	DP_ASSERT_SP();
	uint32_t *p = &sp->dp->flows[id].cwnd;
	uint32_t was = __atomic_load_n(p, __ATOMIC_RELAXED);

	/* unchanged: no store, which would take the line from the core
	 * that reads it for every segment */
	if (was != cwnd)
		__atomic_store_n(p, cwnd, __ATOMIC_RELAXED);
	return was;
}

/**
 * sp_fp_flow_cwnd_opened - the window of flow @id grew: have the fastpath
 * send what it lets go now, not at the next ACK (conn_timer.c says when).
 */
void sp_fp_flow_cwnd_opened(struct sp *sp, uint32_t id)
{
	send_fp(sp, DPM_FLOW_CWND, id, 0, NULL);
}

/** sp_fp_flow_set_rate - congestion control's pacing rate, bits/s (0 = unpaced). */
void sp_fp_flow_set_rate(struct sp *sp, uint32_t id, uint64_t pacing_bps)
{
	DP_ASSERT_SP();
	uint64_t *p = &sp->dp->flows[id].pacing_bps;

	if (__atomic_load_n(p, __ATOMIC_RELAXED) != pacing_bps) /* as above */
		__atomic_store_n(p, pacing_bps, __ATOMIC_RELAXED);
}

/** sp_fp_counter - counter @c, the fastpath's and the slowpath's share added. */
uint64_t sp_fp_counter(struct sp *sp, enum dp_counter c)
{
	return dp_fp_counter(sp->dp, c) + sp->dp->sp_counters[c];
}

/** sp_fp_drop_reason - how many frames the fastpath dropped for pkt verdict @verdict. */
uint64_t sp_fp_drop_reason(struct sp *sp, unsigned int verdict)
{
	return dp_drop_reason(sp->dp, verdict);
}

/* ------------------------------------------------------------ the cores */

/**
 * sp_fp_steer_init - the starting steering table, bucket b to core b mod
 * @active.  Only before the fastpath cores run.
 */
void sp_fp_steer_init(struct sp *sp, uint32_t active)
{
	for (uint32_t b = 0; b < DP_STEER_BUCKETS; b++)
		sp->dp->steer[b] = (uint8_t)(b % active);
}

/** sp_fp_steer - the core dp->steer names for @bucket now. */
uint32_t sp_fp_steer(struct sp *sp, uint16_t bucket)
{
	return dp_steer(sp->dp, bucket % DP_STEER_BUCKETS);
}

/**
 * sp_fp_bucket_out - ask core @from, which owns @bucket, to hand it to core
 * @to (fastpathd/fp_steer.c); the answer is DPM_BUCKET_MOVED.
 * Return: 0 (sent, or waiting in the outbox behind @from's earlier
 * messages), or -1 if nothing was asked (out of memory).
 */
int sp_fp_bucket_out(struct sp *sp, uint16_t bucket, uint32_t from, uint32_t to)
{
	DP_ASSERT_SP();
	return send_core(sp, from, DPM_BUCKET_OUT, to, bucket, NULL);
}

/** sp_fp_core_load - core @k's time with and without work, tsc (relaxed). */
void sp_fp_core_load(struct sp *sp, uint32_t k, uint64_t *busy, uint64_t *idle)
{
	*busy = __atomic_load_n(&sp->dp->core[k].busy_tsc, __ATOMIC_RELAXED);
	*idle = __atomic_load_n(&sp->dp->core[k].idle_tsc, __ATOMIC_RELAXED);
}

/** sp_fp_core_set_busy_pct - publish the monitor's smoothed load of core @k. */
void sp_fp_core_set_busy_pct(struct sp *sp, uint32_t k, uint32_t pct)
{
	__atomic_store_n(&sp->dp->core[k].busy_pct, pct, __ATOMIC_RELAXED);
}

/**
 * sp_fp_core_stat - what bypassctl shows of core @k: frames processed (its
 * port queue's it did not pass on, plus those passed to it that it kept:
 * two counters that only grow, and a frame counts on one core), frames
 * sent, flows owned, smoothed busy percentage.
 */
struct sp_fp_core_stat sp_fp_core_stat(struct sp *sp, uint32_t k)
{
	const struct dp_core *c = &sp->dp->core[k];
	const uint64_t *cnt = c->counters;
	return (struct sp_fp_core_stat){
		.rx_pkts = __atomic_load_n(&cnt[DPC_RX_KEPT], __ATOMIC_RELAXED) +
			   __atomic_load_n(&cnt[DPC_RX_FWD_IN], __ATOMIC_RELAXED),
		.tx_pkts = __atomic_load_n(&cnt[DPC_TX_PKTS], __ATOMIC_RELAXED),
		.flows = __atomic_load_n(&c->nflows, __ATOMIC_RELAXED),
		.busy_pct = __atomic_load_n(&c->busy_pct, __ATOMIC_RELAXED),
	};
}

/**
 * sp_fp_kick_bind - give each fastpath core's kick socket its address
 * (wake.c): once no other daemon serves our control socket, since the
 * directory's old sockets are removed first.
 * Return: 0, or -1 with @err set.
 */
int sp_fp_kick_bind(struct sp *sp, char *err, size_t errlen)
{
	struct sockaddr_un sa;

	if (sp_kick_dir_make(sp, err, errlen))
		return -1;
	for (uint32_t k = 0; k < sp->dp->ncores; k++) {
		sp_kick_addr(sp, k, &sa);
		if (bind(sp->dp->core[k].app_kick_fd, (struct sockaddr *)&sa, sizeof(sa))) {
			snprintf(err, errlen, "cannot bind fastpath core %u's kick socket %s: %s",
				 k, sa.sun_path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/**
 * sp_fp_kick_fds - for an app's attach reply, a socket of its own
 * connected to each fastpath core's kick socket (one per core: the app
 * wakes the core its doorbell is for; wake.c says why sockets, and why its
 * own).  The caller closes them once sent.
 * Return: how many were stored in @fds, or -errno with @err set.
 */
int sp_fp_kick_fds(struct sp *sp, int *fds, char *err, size_t errlen)
{
	struct sockaddr_un sa;

	for (uint32_t k = 0; k < sp->dp->ncores; k++) {
		fds[k] = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		sp_kick_addr(sp, k, &sa);
		if (fds[k] < 0 || connect(fds[k], (struct sockaddr *)&sa, sizeof(sa))) {
			int rc = -errno;
			snprintf(err, errlen, "cannot connect to fastpath core %u's kick socket "
				 "%s: %s", k, sa.sun_path, strerror(errno));
			if (fds[k] >= 0)
				close(fds[k]);
			while (k--)
				close(fds[k]);
			return rc;
		}
	}
	return (int)sp->dp->ncores;
}

/**
 * sp_fp_loop_mark - the slowpath loop is about to block (@blocking) or has
 * woken: a bucket move waits for the slowpath as for a core, since flow
 * messages are routed by dp->steer (fastpathd/fp_steer.c).
 */
void sp_fp_loop_mark(struct sp *sp, bool blocking)
{
	struct dataplane *dp = sp->dp;
	if (blocking)
		__atomic_store_n(&dp->sp_epoch, dp->sp_epoch + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&dp->sp_sleeping, blocking ? 1 : 0, __ATOMIC_SEQ_CST);
}

/**
 * sp_fp_tenant_set - publish tenant @id's policy to every fastpath core.
 * The fields are stored relaxed, then policy_gen is bumped with release
 * order: a core that sees the new generation sees the whole new policy.
 * A core may apply the old policy for the rest of its round.  A debt the
 * egress bucket ran up at the old rate is cut to two buckets of the new.
 */
void sp_fp_tenant_set(struct sp *sp, uint16_t id, const struct dp_tenant_policy *p)
{
	DP_ASSERT_SP();
	struct dp_tenant *t = &sp->dp->tenants[id];

	__atomic_store_n(&t->policy.rate_bps, p->rate_bps, __ATOMIC_RELAXED);
	__atomic_store_n(&t->policy.burst_bytes, p->burst_bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&t->policy.weight, p->weight, __ATOMIC_RELAXED);
	__atomic_store_n(&t->policy.prio, p->prio, __ATOMIC_RELAXED);
	__atomic_store_n(&t->policy.rx_rate_bps, p->rx_rate_bps, __ATOMIC_RELAXED);
	__atomic_store_n(&t->in_use, true, __ATOMIC_RELAXED);
	if (p->rate_bps) /* what one bucket and a send's overdraw may owe */
		tq_forgive(&t->tx_tat, rte_rdtsc(),
			   2 * tq_depth(p->burst_bytes, p->rate_bps, sp->dp->tsc_hz));
	__atomic_fetch_add(&t->policy_gen, 1, __ATOMIC_RELEASE);
	/* every core re-reads what it caches of the policies (fp_qos_refresh()) */
	__atomic_fetch_add(&sp->dp->tenants_gen, 1, __ATOMIC_RELEASE);
}

/**
 * sp_fp_tenant_fresh - a new tenant took free id @id: its egress bucket
 * starts full, not in the debt the id's last tenant may have left.
 */
void sp_fp_tenant_fresh(struct sp *sp, uint16_t id)
{
	DP_ASSERT_SP();
	tq_forgive(&sp->dp->tenants[id].tx_tat, rte_rdtsc(), 0);
}

/**
 * sp_fp_tenant_stats - tenant @id's traffic counters, summed over the
 * fastpath cores (each core writes its own row; relaxed reads, so a sum
 * may lag a round behind).
 */
void sp_fp_tenant_stats(struct sp *sp, uint16_t id, struct dp_tenant_core *out)
{
	DP_ASSERT_SP();
	const struct dp_tenant *t = &sp->dp->tenants[id];

	*out = (struct dp_tenant_core){ 0 };
	for (uint32_t k = 0; k < DP_MAX_CORES; k++) {
		const struct dp_tenant_core *r = &t->core[k];
		out->tx_bytes += __atomic_load_n(&r->tx_bytes, __ATOMIC_RELAXED);
		out->tx_pkts += __atomic_load_n(&r->tx_pkts, __ATOMIC_RELAXED);
		out->rx_bytes += __atomic_load_n(&r->rx_bytes, __ATOMIC_RELAXED);
		out->rx_pkts += __atomic_load_n(&r->rx_pkts, __ATOMIC_RELAXED);
		out->throttled += __atomic_load_n(&r->throttled, __ATOMIC_RELAXED);
	}
}

/**
 * sp_fp_timer_drain - call @fn for every flow a fastpath core reported as
 * newly needing the slowpath's timers (dataplane.h, dp_core.timer_ring).
 * Return: true if a core's ring overflowed since the last call, so some
 * reports are lost and the caller must look at every flow.
 */
bool sp_fp_timer_drain(struct sp *sp, void (*fn)(struct sp *sp, uint32_t id))
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	bool lost = false;
	for (uint32_t k = 0; k < dp->ncores; k++) {
		struct dp_core *core = &dp->core[k];
		/* clear the flag first: a report lost after this is seen next tick */
		if (__atomic_load_n(&core->timer_lost, __ATOMIC_RELAXED) &&
		    __atomic_exchange_n(&core->timer_lost, 0, __ATOMIC_ACQ_REL))
			lost = true;
		uint32_t ids[64];
		unsigned n;
		do {
			n = rte_ring_sc_dequeue_burst_elem(core->timer_ring, ids, sizeof(ids[0]), 64,
							   NULL);
			for (unsigned i = 0; i < n; i++)
				fn(sp, ids[i]);
		} while (n == 64);
	}
	return lost;
}

/* ------------------------------------------------------------ capture */

#define CAPTURE_POOL_MBUFS 8191

/**
 * sp_fp_capture_setup - the capture pool and every slot's per-core rings,
 * made by the first capture and kept until the daemon exits (a stopped
 * capture's rings are empty and reused).
 * Return: 0, or -ENOMEM with @err set.
 */
int sp_fp_capture_setup(struct sp *sp, char *err, size_t errlen)
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	if (dp->capture_pool)
		return 0;
	char name[RTE_RING_NAMESIZE];
	for (uint32_t i = 0; i < DP_CAPTURE_MAX; i++) {
		for (uint32_t k = 0; k < dp->ncores; k++) {
			if (dp->capture[i].ring[k])
				continue;
			snprintf(name, sizeof(name), "cap%u_%u_%u", i, k, (unsigned)getpid());
			dp->capture[i].ring[k] = rte_ring_create(name, DP_CAPTURE_RING, SOCKET_ID_ANY,
								 RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (!dp->capture[i].ring[k]) {
				snprintf(err, errlen, "fastpathd has no memory for capture rings; "
					 "raise its --mem");
				return -ENOMEM;
			}
		}
	}
	snprintf(name, sizeof(name), "capture_%u", (unsigned)getpid());
	/* whole frames up to 1518 bytes fit one mbuf with their pcapng
	 * framing; jumbo frames chain */
	dp->capture_pool = rte_pktmbuf_pool_create(name, CAPTURE_POOL_MBUFS, 64, 0,
						   rte_pcapng_mbuf_size(RTE_ETHER_MAX_LEN),
						   SOCKET_ID_ANY);
	if (!dp->capture_pool) {
		snprintf(err, errlen, "fastpathd has no memory for a capture pool of %u buffers; "
			 "raise its --mem", CAPTURE_POOL_MBUFS);
		return -ENOMEM;
	}
	return 0;
}

/**
 * sp_fp_capture_quiet - may capture slot @i be changed?  Its bit is clear
 * and every core finished the round that may have seen it set: its epoch
 * moved since sp_fp_capture_stop(), or it sleeps (it reloads the mask
 * when it wakes).
 */
bool sp_fp_capture_quiet(struct sp *sp, uint32_t i)
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	if (__atomic_load_n(&dp->capture_mask, __ATOMIC_RELAXED) & (1u << i))
		return false;
	for (uint32_t k = 0; k < dp->ncores; k++) {
		if (__atomic_load_n(&dp->core[k].epoch, __ATOMIC_ACQUIRE) ==
		    dp->capture[i].quiet_epoch[k] &&
		    !__atomic_load_n(&dp->core[k].sleeping, __ATOMIC_SEQ_CST))
			return false;
	}
	return true;
}

/**
 * sp_fp_capture_start - fill quiet slot @i and let the cores run it.
 * @prog: @nprog validated classic BPF instructions (kept by the slot until
 *        it is quiet again; the caller frees them then), NULL for all.
 * @tenant: DP_CAPTURE_ALL_TENANTS or one tenant id.
 */
void sp_fp_capture_start(struct sp *sp, uint32_t i, struct dp_bpf_insn *prog, uint32_t nprog,
			 uint32_t snaplen, int32_t tenant)
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	struct dp_capture *c = &dp->capture[i];
	c->prog = prog;
	c->nprog = nprog;
	c->snaplen = snaplen;
	c->tenant = tenant;
	memset(c->core, 0, sizeof(c->core));
	__atomic_fetch_or(&dp->capture_mask, 1u << i, __ATOMIC_RELEASE);
}

/** sp_fp_capture_stop - no core copies frames for slot @i from its next round. */
void sp_fp_capture_stop(struct sp *sp, uint32_t i)
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	__atomic_fetch_and(&dp->capture_mask, ~(1u << i), __ATOMIC_SEQ_CST);
	for (uint32_t k = 0; k < dp->ncores; k++)
		dp->capture[i].quiet_epoch[k] = __atomic_load_n(&dp->core[k].epoch,
								__ATOMIC_ACQUIRE);
}

/**
 * sp_fp_capture_drain - take up to @n pcapng copies of slot @i, a fair
 * share from each core.  Return: how many are in @m (the caller frees them).
 */
unsigned int sp_fp_capture_drain(struct sp *sp, uint32_t i, struct rte_mbuf **m, unsigned int n)
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	unsigned int got = 0;
	for (uint32_t k = 0; k < dp->ncores && got < n; k++) {
		struct rte_ring *r = dp->capture[i].ring[k];
		if (r)
			got += rte_ring_sc_dequeue_burst(r, (void **)(m + got), n - got, NULL);
	}
	return got;
}

/** sp_fp_capture_counts - slot @i's frames matched and copies lost, all cores. */
void sp_fp_capture_counts(struct sp *sp, uint32_t i, uint64_t *matched, uint64_t *dropped)
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	*matched = *dropped = 0;
	for (uint32_t k = 0; k < dp->ncores; k++) {
		*matched += __atomic_load_n(&dp->capture[i].core[k].matched, __ATOMIC_RELAXED);
		*dropped += __atomic_load_n(&dp->capture[i].core[k].dropped, __ATOMIC_RELAXED);
	}
}

/** sp_fp_capture_port - the port's name and link speed for the pcapng header. */
const char *sp_fp_capture_port(struct sp *sp)
{
	return sp->dp->cfg.port_dev;
}

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
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <rte_ring.h>

#include "sp_internal.h"

/* the fastpath drains its ring every round; a full ring means it is
 * wedged, and waiting is the only way not to lose the message */
static void send_fp(struct sp *sp, uint16_t type, uint32_t flow_id, uint16_t arg, void *ptr)
{
	DP_ASSERT_SP();
	for (int i = 0; dp_send_to_fp(sp->dp, type, flow_id, arg, ptr); i++) {
		if (i == 100000) {
			fprintf(stderr, "fastpathd: slowpath: fastpath ring full, message %u lost\n",
				type);
			if (type == DPM_TX_PKT)
				rte_pktmbuf_free(ptr);
			return;
		}
		usleep(10);
	}
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
 * moment FLOW_ADD is in the ring (except cwnd and pacing_bps).
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
	f->slot = c->slot;
	f->gen = fs->gen;
	f->shm = fs;
	f->rx_isn = c->irs;
	f->rx_size = app->rx_buf_size;
	f->rx_base = app->base + dp_app_slot_rx_off(app, c->slot);
	f->tx_isn = c->iss;
	f->tx_size = app->tx_buf_size;
	f->tx_base = f->rx_base + app->rx_buf_size;
	f->peer_wnd = in->peer_wnd;
	if (c->peer_sack)
		f->flags |= FPF_SACK;
	if (c->ecn)
		f->flags |= FPF_ECN;
	f->rx_adv_edge = dp->cfg.rx_buf_size > 0xffff ? 0xffff : dp->cfg.rx_buf_size;
	f->cwnd = in->cwnd;
	f->pacing_bps = in->pacing_bps;
	f->last_progress_tsc = sp->now;
	send_fp(sp, DPM_FLOW_ADD, id, send_ack, NULL);
}

/** sp_fp_flow_del - remove flow @id (RST first if @rst); FLOW_DEL_DONE answers. */
void sp_fp_flow_del(struct sp *sp, uint32_t id, bool rst)
{
	send_fp(sp, DPM_FLOW_DEL, id, rst ? 1 : 0, NULL);
}

/** sp_fp_flow_retx - the retransmission timer fired: go back to snd_una. */
void sp_fp_flow_retx(struct sp *sp, uint32_t id)
{
	send_fp(sp, DPM_FLOW_RETX, id, 0, NULL);
}

/** sp_fp_flow_probe - send a keepalive probe. */
void sp_fp_flow_probe(struct sp *sp, uint32_t id)
{
	send_fp(sp, DPM_FLOW_PROBE, id, 0, NULL);
}

/**
 * sp_fp_flow_shutwr - send a FIN after the buffered data.
 * @last_holder: no process will read again: unread or later data resets.
 */
void sp_fp_flow_shutwr(struct sp *sp, uint32_t id, bool last_holder)
{
	send_fp(sp, DPM_FLOW_SHUTWR, id, last_holder ? 1 : 0, NULL);
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
	if (write(sp->dp->fp_kick_fd, &one, sizeof(one)) < 0)
		return; /* the counter is huge: the fastpath is awake anyway */
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
	v->cnt_acked = __atomic_load_n(&f->cnt_acked, __ATOMIC_RELAXED);
	v->tx_acked = __atomic_load_n(&f->tx_acked, __ATOMIC_RELAXED);
	v->tx_max_sent = __atomic_load_n(&f->tx_max_sent, __ATOMIC_RELAXED);
	v->cnt_fast_retx = __atomic_load_n(&f->cnt_fast_retx, __ATOMIC_RELAXED);
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

/** sp_fp_flow_set_cwnd - congestion control's window for installed flow @id. */
void sp_fp_flow_set_cwnd(struct sp *sp, uint32_t id, uint32_t cwnd)
{
	DP_ASSERT_SP();
	__atomic_store_n(&sp->dp->flows[id].cwnd, cwnd, __ATOMIC_RELAXED);
}

/** sp_fp_flow_set_rate - congestion control's pacing rate, bits/s (0 = unpaced). */
void sp_fp_flow_set_rate(struct sp *sp, uint32_t id, uint64_t pacing_bps)
{
	DP_ASSERT_SP();
	__atomic_store_n(&sp->dp->flows[id].pacing_bps, pacing_bps, __ATOMIC_RELAXED);
}

/** sp_fp_counter - counter @c, the fastpath's and the slowpath's share added. */
uint64_t sp_fp_counter(struct sp *sp, enum dp_counter c)
{
	return __atomic_load_n(&sp->dp->fp_counters[c], __ATOMIC_RELAXED) + sp->dp->sp_counters[c];
}

/** sp_fp_drop_reason - how many frames the fastpath dropped for pkt verdict @verdict. */
uint64_t sp_fp_drop_reason(struct sp *sp, unsigned int verdict)
{
	return __atomic_load_n(&sp->dp->drop_reason[verdict], __ATOMIC_RELAXED);
}

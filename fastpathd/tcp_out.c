// SPDX-License-Identifier: MIT
/*
 * tcp_out.c - segment transmission for established flows: data within the
 * peer and congestion windows, pure ACKs and window updates, FIN after the
 * last byte, retransmissions, RST.
 *
 * Payload is copied from the app's transmit ring straight into the frame;
 * the ring keeps every unacknowledged byte, so a retransmission is just a
 * send from an older position.
 */
#include <rte_ethdev.h>
#include <rte_cycles.h>

#include "fastpath.h"
#include "ring_copy.h"
#include "seq.h"

uint32_t tcp_rcv_nxt(const struct fp_flow *f)
{
	return f->rx_isn + 1 + (uint32_t)f->rx_pos + ((f->flags & FPF_RX_FIN) ? 1 : 0);
}

static inline uint32_t tx_seq(const struct fp_flow *f, uint64_t pos)
{
	return f->tx_isn + 1 + (uint32_t)pos;
}

/**
 * tcp_refresh_rx_consumed - pick up how much the app has read.
 *
 * The value is app-written: anything outside [last seen, delivered] is a
 * bug or an attack and is ignored (and reported), so the daemon never
 * computes a window from it.
 */
void tcp_refresh_rx_consumed(struct fp_ctx *fp, struct fp_flow *f)
{
	uint64_t c = __atomic_load_n(&f->shm->rx_consumed, __ATOMIC_ACQUIRE);
	if (c == f->rx_consumed)
		return;
	if (c < f->rx_consumed || c > f->rx_pos) {
		fp->dp->fp_counters[DPC_APP_BAD_ENTRY]++;
		fp_to_sp(fp, DPM_FLOW_BAD_APP, f->flow_id, NULL);
		return;
	}
	f->rx_consumed = c;
}

/* window to advertise, in unscaled bytes; also records the right edge */
static uint16_t rx_window(struct fp_flow *f)
{
	uint64_t free = f->rx_size - (f->rx_pos - f->rx_consumed);
	uint64_t w = free >> f->rcv_wscale;
	if (w > 0xffff)
		w = 0xffff;
	f->rx_adv_edge = f->rx_pos + (w << f->rcv_wscale);
	return (uint16_t)w;
}

static struct rte_mbuf *seg_alloc(struct fp_ctx *fp, uint32_t total, uint8_t **buf)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fp->dp->pool);
	if (!m) {
		fp->dp->fp_counters[DPC_TX_NOMBUF]++;
		return NULL;
	}
	*buf = (uint8_t *)rte_pktmbuf_append(m, total < 60 ? 60 : total);
	if (!*buf) {
		rte_pktmbuf_free(m);
		fp->dp->fp_counters[DPC_TX_NOMBUF]++;
		return NULL;
	}
	if (total < 60)
		memset(*buf, 0, 60);
	return m;
}

/* build and queue one segment carrying [pos, pos + len) of the tx ring */
static int send_segment(struct fp_ctx *fp, struct fp_flow *f, uint32_t seq, uint64_t pos,
			uint32_t len, uint8_t flags)
{
	struct tcp_hdr_spec s = {
		.src_mac = fp->dp->mac.addr_bytes,
		.dst_mac = f->remote_mac.addr_bytes,
		.saddr = f->local_ip, .daddr = f->remote_ip,
		.sport = f->local_port, .dport = f->remote_port,
		.seq = seq,
		.flags = flags,
		.ip_id = fp->ip_id++,
		.opt_wscale = -1,
	};
	uint8_t *buf;

	if (!(flags & TCPF_RST)) {
		tcp_refresh_rx_consumed(fp, f);
		s.flags |= TCPF_ACK;
		s.ack = tcp_rcv_nxt(f);
		s.wnd = rx_window(f);
	} else if (flags & TCPF_ACK) {
		s.ack = tcp_rcv_nxt(f);
	}
	size_t hlen = pkt_tcp_hdr_len(&s);
	struct rte_mbuf *m = seg_alloc(fp, hlen + len, &buf);
	if (!m)
		return -1;
	if (len)
		ring_copy_out(buf + hlen, f->tx_base, f->tx_size, pos, len);
	pkt_write_tcp(buf, &s, len);
	fp_tx_enqueue(fp, m);
	f->pend &= ~FPP_ACK;
	fp->dp->fp_counters[DPC_TX_BYTES] += len;
	return 0;
}

void tcp_send_ack(struct fp_ctx *fp, struct fp_flow *f)
{
	send_segment(fp, f, tx_seq(f, f->tx_sent) + ((f->flags & FPF_TX_FIN_SENT) ? 1 : 0), 0, 0, 0);
}

void tcp_send_rst(struct fp_ctx *fp, struct fp_flow *f)
{
	send_segment(fp, f, tx_seq(f, f->tx_sent), 0, 0, TCPF_RST | TCPF_ACK);
}

/**
 * tcp_window_update - the app read data: advertise the larger window if it
 * grew by at least a segment (or the peer saw a zero window), so the peer
 * is neither stalled nor flooded with tiny updates.
 */
void tcp_window_update(struct fp_ctx *fp, struct fp_flow *f)
{
	/* after the peer's FIN no data can come: an update is only a stray
	 * segment, which a peer that already closed answers with RST */
	if (f->flags & FPF_RX_FIN)
		return;
	uint64_t old_edge = f->rx_adv_edge;
	tcp_refresh_rx_consumed(fp, f);
	uint64_t free = f->rx_size - (f->rx_pos - f->rx_consumed);
	uint64_t new_edge = f->rx_pos + ((free >> f->rcv_wscale) << f->rcv_wscale);
	if (new_edge >= old_edge + f->mss || old_edge <= f->rx_pos)
		fp_touch(fp, f, FPP_ACK);
}

static uint32_t send_window(const struct fp_flow *f)
{
	uint32_t cwnd = __atomic_load_n(&f->cwnd, __ATOMIC_RELAXED);
	return f->peer_wnd < cwnd ? f->peer_wnd : cwnd;
}

/**
 * tcp_output - send as much buffered app data as the peer's receive window
 * and the congestion window allow, then a FIN if the app shut down and
 * everything before it is out.  Segments go out as soon as they have data
 * (no Nagle): the app controls batching through its writes.
 */
void tcp_output(struct fp_ctx *fp, struct fp_flow *f)
{
	if (f->flags & FPF_RESET)
		return;
	uint64_t end = (f->flags & FPF_TX_FIN_REQ) ? f->tx_fin_pos : f->tx_written;
	uint32_t wnd = send_window(f);

	while (f->tx_sent < end) {
		uint64_t inflight = f->tx_sent - f->tx_acked;
		if (inflight >= wnd)
			break;
		uint64_t len = end - f->tx_sent;
		if (len > f->mss)
			len = f->mss;
		if (len > wnd - inflight)
			len = wnd - inflight;
		uint8_t flags = TCPF_PSH;
		bool with_fin = (f->flags & FPF_TX_FIN_REQ) && f->tx_sent + len == f->tx_fin_pos &&
				len < f->mss; /* piggyback FIN only on a short last segment */
		if (with_fin)
			flags |= TCPF_FIN;
		if (send_segment(fp, f, tx_seq(f, f->tx_sent), f->tx_sent, (uint32_t)len, flags))
			return;
		if (inflight == 0)
			f->last_progress_tsc = fp->now;
		if (!f->rtt_tsc && f->tx_sent >= f->tx_max_sent) {
			f->rtt_pos = f->tx_sent + len;
			f->rtt_tsc = fp->now;
		}
		f->tx_sent += len;
		if (f->tx_sent > f->tx_max_sent)
			f->tx_max_sent = f->tx_sent;
		if (with_fin)
			f->flags |= FPF_TX_FIN_SENT;
	}
	if ((f->flags & (FPF_TX_FIN_REQ | FPF_TX_FIN_SENT)) == FPF_TX_FIN_REQ &&
	    f->tx_sent == f->tx_fin_pos) {
		if (send_segment(fp, f, tx_seq(f, f->tx_fin_pos), 0, 0, TCPF_FIN))
			return;
		if (f->tx_sent == f->tx_acked)
			f->last_progress_tsc = fp->now;
		f->flags |= FPF_TX_FIN_SENT;
	}
}

/* resend one segment starting at @pos (fast retransmit, partial ack) */
void tcp_retransmit_segment(struct fp_ctx *fp, struct fp_flow *f, uint64_t pos)
{
	uint64_t end = f->tx_max_sent;
	if (pos >= end) {
		if ((f->flags & FPF_TX_FIN_SENT) && !(f->flags & FPF_TX_FIN_ACKED))
			send_segment(fp, f, tx_seq(f, f->tx_fin_pos), 0, 0, TCPF_FIN);
		return;
	}
	uint64_t len = end - pos;
	if (len > f->mss)
		len = f->mss;
	uint8_t flags = TCPF_PSH;
	if ((f->flags & FPF_TX_FIN_SENT) && pos + len == f->tx_fin_pos && len < f->mss)
		flags |= TCPF_FIN;
	send_segment(fp, f, tx_seq(f, pos), pos, (uint32_t)len, flags);
	f->rtt_tsc = 0; /* Karn: never time a retransmitted segment */
	fp->dp->fp_counters[DPC_TX_RETX]++;
}

/**
 * tcp_timeout - the slowpath's retransmission timer fired.  With data or a
 * FIN outstanding, go back to snd_una and resend (the slowpath has already
 * collapsed cwnd); with a closed peer window and data waiting, probe it.
 */
void tcp_timeout(struct fp_ctx *fp, struct fp_flow *f)
{
	if (f->flags & FPF_RESET)
		return;
	bool fin_out = (f->flags & FPF_TX_FIN_SENT) && !(f->flags & FPF_TX_FIN_ACKED);
	if (f->tx_sent > f->tx_acked || fin_out) {
		f->tx_sent = f->tx_acked;
		if (fin_out)
			f->flags &= ~FPF_TX_FIN_SENT;
		f->flags &= ~FPF_IN_RECOVERY;
		f->dupacks = 0;
		f->rtt_tsc = 0;
		fp->dp->fp_counters[DPC_TX_RETX]++;
		uint32_t wnd_saved = f->peer_wnd;
		if (f->peer_wnd < f->mss) /* a lost window update must not stall recovery */
			f->peer_wnd = f->mss;
		tcp_output(fp, f);
		f->peer_wnd = wnd_saved;
		f->last_progress_tsc = fp->now;
		return;
	}
	uint64_t end = (f->flags & FPF_TX_FIN_REQ) ? f->tx_fin_pos : f->tx_written;
	if (f->peer_wnd == 0 && end > f->tx_sent) {
		/* zero-window probe: an old sequence number forces the peer to
		 * answer with its current window */
		send_segment(fp, f, tx_seq(f, f->tx_sent) - 1, 0, 0, 0);
		f->last_progress_tsc = fp->now;
	}
}

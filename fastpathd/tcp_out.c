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
#include "siphash.h"

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
	if (f->flags & (FPF_DETACHED | FPF_RPC))
		return; /* an RPC flow's consumed position is the framer's */
	uint64_t c = __atomic_load_n(&f->shm->rx_consumed, __ATOMIC_ACQUIRE);
	if (c == f->rx_consumed)
		return;
	if (c < f->rx_consumed || c > f->rx_pos) {
		fp->cnt[DPC_APP_BAD_ENTRY]++;
		fp_to_sp(fp, DPM_FLOW_BAD_APP, f->flow_id, NULL);
		return;
	}
	f->rx_consumed = c;
}

/* free receive space, capped by the tenant's ingress limit if it has one */
static inline uint64_t rx_free(struct fp_ctx *fp, const struct fp_flow *f)
{
	uint64_t free = f->rx_size - (f->rx_pos - f->rx_consumed);
	if (unlikely(__atomic_load_n(&fp->dp->tenants[f->tenant].policy.rx_rate_bps,
				     __ATOMIC_RELAXED)))
		free = fp_qos_rx_cap(fp, f, free);
	return free;
}

/* window to advertise, in unscaled bytes; also records the right edge */
static uint16_t rx_window(struct fp_ctx *fp, struct fp_flow *f)
{
	uint64_t free = rx_free(fp, f);
	uint64_t w = free >> f->rcv_wscale;
	if (w > 0xffff)
		w = 0xffff;
	f->rx_adv_edge = f->rx_pos + (w << f->rcv_wscale);
	return (uint16_t)w;
}

/*
 * The frame of one segment: headers, then @len payload bytes copied from
 * the tx ring at @pos.  A frame larger than one buffer (a TSO frame) goes
 * on in a chain of them.  *@hdr points at the headers, for pkt_write_tcp().
 */
static struct rte_mbuf *seg_build(struct fp_ctx *fp, const struct fp_flow *f, uint32_t hlen,
				  uint64_t pos, uint32_t len, uint8_t **hdr)
{
	struct rte_mempool *pool = fp->dp->pool;
	struct rte_mbuf *head = rte_pktmbuf_alloc(pool), *m;
	if (!head)
		goto nombuf;
	uint32_t n = RTE_MIN(len, (uint32_t)rte_pktmbuf_tailroom(head) - hlen);
	uint32_t total = hlen + n < 60 ? 60 : hlen + n;
	*hdr = (uint8_t *)rte_pktmbuf_append(head, (uint16_t)total);
	if (!*hdr)
		goto nombuf_free;
	if (hlen + n < 60)
		memset(*hdr + hlen + n, 0, 60 - hlen - n);
	for (uint8_t *dst = *hdr + hlen;;) {
		if (n)
			ring_copy_out(dst, f->tx_base, f->tx_size, f->tx_shift, pos, n);
		pos += n;
		len -= n;
		if (!len)
			return head;
		m = rte_pktmbuf_alloc(pool);
		if (!m)
			goto nombuf_free;
		n = RTE_MIN(len, (uint32_t)rte_pktmbuf_tailroom(m));
		dst = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)n);
		if (rte_pktmbuf_chain(head, m)) {
			rte_pktmbuf_free(m);
			goto nombuf_free;
		}
	}
nombuf_free:
	rte_pktmbuf_free(head);
nombuf:
	fp->cnt[DPC_TX_NOMBUF]++;
	return NULL;
}

/*
 * Report held out-of-order data: the interval that grew last first (RFC
 * 2018), then the others from the lowest.  A data segment carries them
 * only if they fit in the MSS-sized frame; the immediate ACK that every
 * out-of-order arrival triggers always has room.
 */
static void add_sack_blocks(const struct fp_flow *f, struct tcp_hdr_spec *s, uint32_t len)
{
	unsigned n = f->ooo_n < TCP_SACK_SEND ? f->ooo_n : TCP_SACK_SEND;
	if (len && len + 4 + 8 * n > f->mss)
		return;
	unsigned order[TCP_SACK_SEND], k = 0;
	order[k++] = f->ooo_recent < f->ooo_n ? f->ooo_recent : 0;
	for (unsigned i = 0; i < f->ooo_n && k < n; i++)
		if (i != order[0])
			order[k++] = i;
	for (unsigned b = 0; b < k; b++) {
		const struct fp_range *r = &f->ooo[order[b]];
		s->sack[b][0] = f->rx_isn + 1 + (uint32_t)r->start;
		s->sack[b][1] = f->rx_isn + 1 + (uint32_t)r->end;
	}
	s->sack_n = (uint8_t)k;
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
		/* a flow's own counter from a random start, as Linux's per
		 * socket: one shared by all would show any peer how much the
		 * host (every tenant) sends */
		.ip_id = (f->flags & FPF_NO_DF) ? dp_ip_ident(fp->dp, f->remote_ip, PKT_PROTO_TCP) :
						  f->ip_id++,
		.no_df = f->flags & FPF_NO_DF,
		.opt_wscale = -1,
	};
	uint8_t *buf;

	if (!(flags & TCPF_RST)) {
		tcp_refresh_rx_consumed(fp, f);
		s.flags |= TCPF_ACK;
		s.ack = tcp_rcv_nxt(f);
		s.wnd = rx_window(fp, f);
		if (f->flags & FPF_ECE_PENDING)
			s.flags |= TCPF_ECE;
		if ((f->flags & FPF_ECN) && len && pos >= f->tx_max_sent) {
			/* new data only: RFC 3168 keeps retransmissions Not-ECT */
			s.ecn = 2; /* ECT(0) */
			if (f->flags & FPF_CWR_PENDING) {
				s.flags |= TCPF_CWR;
				f->flags &= ~FPF_CWR_PENDING;
			}
		}
		if ((f->flags & FPF_SACK) && f->ooo_n)
			add_sack_blocks(f, &s, len);
	} else if (flags & TCPF_ACK) {
		s.ack = tcp_rcv_nxt(f);
	}
	uint32_t hlen = (uint32_t)pkt_tcp_hdr_len(&s);
	struct rte_mbuf *m = seg_build(fp, f, hlen, pos, len, &buf);
	if (!m)
		return -1;
	uint32_t nsegs = 1;
	if (fp->dp->tx_csum) {
		m->l2_len = PKT_ETH_LEN;
		m->l3_len = PKT_IP_MIN;
		m->l4_len = hlen - PKT_ETH_LEN - PKT_IP_MIN;
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
			       RTE_MBUF_F_TX_TCP_CKSUM;
		s.csum = PKT_CSUM_HW;
		if (len > f->mss) { /* the port cuts it into MSS segments */
			m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
			m->tso_segsz = f->mss;
			s.csum = PKT_CSUM_HW_TSO;
			nsegs = (len + f->mss - 1) / f->mss;
			f->ip_id = (uint16_t)(f->ip_id + nsegs - 1); /* one id per segment */
			fp->cnt[DPC_TX_TSO]++;
		}
	}
	pkt_write_tcp(buf, &s, len);
	fp_tx_enqueue(fp, m);
	f->pend &= ~FPP_ACK;
	if (s.flags & TCPF_ACK) { /* whatever ACK was owed, this one carries it */
		f->rx_acked = f->rx_pos;
		f->flags &= ~FPF_DELACK;
	}
	fp->cnt[DPC_TX_BYTES] += len;
	struct dp_tenant_core *row = fp_tenant_row(fp, f);
	row->tx_pkts += nsegs;
	row->tx_bytes += len;
	return 0;
}

/* snd_max: a bare ACK or RST carries the highest sequence number ever
 * sent.  After a timeout rewound tx_sent, an older one is below the peer's
 * window and the peer drops the segment, ACK (of its FIN) and all. */
static uint32_t snd_max(const struct fp_flow *f)
{
	return tx_seq(f, f->tx_max_sent) + ((f->flags & FPF_TX_FIN_SENT) ? 1 : 0);
}

void tcp_send_ack(struct fp_ctx *fp, struct fp_flow *f)
{
	DP_ASSERT_FP();
	send_segment(fp, f, snd_max(f), 0, 0, 0);
}

/**
 * tcp_send_probe - a segment one byte below snd_nxt, which any live peer
 * must answer with an ACK (keepalive, zero-window probe).
 */
void tcp_send_probe(struct fp_ctx *fp, struct fp_flow *f)
{
	send_segment(fp, f, tx_seq(f, f->tx_sent) - 1, 0, 0, 0);
}

void tcp_send_rst(struct fp_ctx *fp, struct fp_flow *f)
{
	send_segment(fp, f, snd_max(f), 0, 0, TCPF_RST | TCPF_ACK);
}

/**
 * tcp_window_update - the app read data: advertise the larger window if it
 * grew by at least a segment (or the peer saw a zero window), so the peer
 * is neither stalled nor flooded with tiny updates.
 */
void tcp_window_update(struct fp_ctx *fp, struct fp_flow *f)
{
	DP_ASSERT_FP();
	/* after the peer's FIN no data can come: an update is only a stray
	 * segment, which a peer that already closed answers with RST */
	if (f->flags & FPF_RX_FIN)
		return;
	uint64_t old_edge = f->rx_adv_edge;
	tcp_refresh_rx_consumed(fp, f);
	uint64_t free = rx_free(fp, f);
	uint64_t new_edge = f->rx_pos + ((free >> f->rcv_wscale) << f->rcv_wscale);
	if (new_edge >= old_edge + f->mss || old_edge <= f->rx_pos)
		fp_touch(fp, f, FPP_ACK);
}

/* SACKed bytes inside [from, to) */
static uint64_t sacked_within(const struct fp_flow *f, uint64_t from, uint64_t to)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < f->sacked_n; i++) {
		uint64_t a = f->sacked[i].start > from ? f->sacked[i].start : from;
		uint64_t b = f->sacked[i].end < to ? f->sacked[i].end : to;
		if (b > a)
			n += b - a;
	}
	return n;
}

/* recovery: where the walk of the holes goes on (tcp_in.c moves retx_next) */
static uint64_t retx_from(const struct fp_flow *f)
{
	return f->retx_next > f->tx_acked ? f->retx_next : f->tx_acked;
}

/*
 * Bytes believed to be in the network (RFC 6675's "pipe", simplified):
 * everything sent and not acknowledged, minus what the peer SACKed, and in
 * recovery minus the holes below the highest SACK that we have not resent
 * yet (presumed lost).
 */
static uint64_t pipe_bytes(const struct fp_flow *f)
{
	if (!f->sacked_n)
		return f->tx_sent - f->tx_acked;
	if (f->tx_sent < f->tx_max_sent) /* going back: tcp_output() skipped what was SACKed */
		return f->tx_sent - f->tx_acked - sacked_within(f, f->tx_acked, f->tx_sent);
	uint64_t pipe = f->tx_max_sent - f->tx_acked - f->sacked_bytes;
	if (f->flags & FPF_IN_RECOVERY) {
		uint64_t from = retx_from(f);
		if (from < f->sack_high) {
			uint64_t lost = f->sack_high - from - sacked_within(f, from, f->sack_high);
			pipe = pipe > lost ? pipe - lost : 0;
		}
	}
	return pipe;
}

/* the first unSACKed range at or after @from, below the highest SACK */
static bool next_hole(const struct fp_flow *f, uint64_t from, uint64_t *start, uint64_t *len)
{
	for (unsigned i = 0; i < f->sacked_n; i++) {
		const struct fp_range *r = &f->sacked[i];
		if (r->end <= from)
			continue;
		if (r->start > from) {
			*start = from;
			*len = r->start - from < f->mss ? r->start - from : f->mss;
			return true;
		}
		from = r->end;
	}
	return false;
}

/* pacing: when may the segment after this one of @bytes leave */
static void pace_account(struct fp_ctx *fp, struct fp_flow *f, uint64_t bytes)
{
	uint64_t rate = __atomic_load_n(&f->pacing_bps, __ATOMIC_RELAXED);
	if (!rate)
		return;
	uint64_t start = f->pace_next_tsc > fp->now ? f->pace_next_tsc : fp->now;
	/* wire bytes: headers and Ethernet framing count against the rate */
	f->pace_next_tsc = start + (bytes + 78) * 8 * fp->dp->tsc_hz / rate;
}

/* i40e and iavf refuse TSO segments below 256 bytes (ice below 64); a
 * peer may announce an MSS down to 48 */
#define FP_TSO_MSS_MIN 256

/*
 * Payload bytes one data frame may carry: an MSS, or with TSO up to
 * dp->tso_max in whole segments.  A flow shaped per packet (pacing, a
 * tenant's or the port's rate) keeps to one segment per frame, so its
 * shaper sees what goes on the wire; so does a frame that must carry CWR,
 * which belongs on its first segment only (RFC 3168).
 */
static uint64_t frame_max(struct fp_ctx *fp, const struct fp_flow *f)
{
	struct dataplane *dp = fp->dp;
	/* without DF, each segment needs an ID of its own from the shared
	 * counter: no frame for the port to cut (Linux refuses TSO there too) */
	if (!dp->tso || f->mss > dp->tso_mss_max || f->mss < FP_TSO_MSS_MIN ||
	    (f->flags & FPF_NO_DF) ||
	    fp->port_rate || (f->flags & FPF_CWR_PENDING) ||
	    __atomic_load_n(&f->pacing_bps, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&dp->tenants[f->tenant].policy.rate_bps, __ATOMIC_RELAXED))
		return f->mss;
	uint64_t segs = dp->tso_max / f->mss;
	return segs > 1 ? segs * f->mss : f->mss;
}

static int send_data(struct fp_ctx *fp, struct fp_flow *f, uint64_t pos, uint64_t len)
{
	uint8_t flags = TCPF_PSH;
	bool with_fin = (f->flags & FPF_TX_FIN_REQ) && pos + len == f->tx_fin_pos &&
			len < f->mss; /* piggyback FIN only on a short last segment */
	if (with_fin)
		flags |= TCPF_FIN;
	if (send_segment(fp, f, tx_seq(f, pos), pos, (uint32_t)len, flags))
		return -1;
	pace_account(fp, f, len);
	if (with_fin) {
		f->flags |= FPF_TX_FIN_SENT;
		f->flags &= ~FPF_TX_FIN_RESEND;
	}
	return 0;
}

/**
 * tcp_output - send what the windows allow: first, in SACK recovery, the
 * holes the peer reported; then buffered app data (skipping SACKed ranges
 * when going back after a timeout or a path MTU drop); then a FIN if the
 * app shut down and everything before it is out.  Segments go out as soon
 * as they have data (no Nagle): the app controls batching through its
 * writes.  A paced flow stops when its next departure time is in the
 * future and is resumed by the fastpath loop.
 */
void tcp_output(struct fp_ctx *fp, struct fp_flow *f)
{
	DP_ASSERT_FP();
	if (f->flags & FPF_RESET)
		return;
	uint64_t end = (f->flags & FPF_TX_FIN_REQ) ? f->tx_fin_pos : f->tx_written;
	uint64_t cwnd = __atomic_load_n(&f->cwnd, __ATOMIC_RELAXED);
	uint64_t wnd_edge = f->tx_acked + f->peer_wnd; /* the peer's receive window */
	uint64_t hs, hl;

	/* SACK recovery declared this round: a hole still open at its end is
	 * loss (tcp_in.c enter_recovery()), whether or not the window lets
	 * its resend go yet.  flags first: fast_retx_due sits on a line only
	 * recovery touches */
	if ((f->flags & FPF_IN_RECOVERY) && f->fast_retx_due && next_hole(f, retx_from(f), &hs, &hl))
		tcp_fast_retx_count(fp, f);

	for (;;) {
		if (fp_tx_wait(fp, f))
			return;
		if (f->pace_next_tsc > fp->now && __atomic_load_n(&f->pacing_bps, __ATOMIC_RELAXED)) {
			fp_pace_later(fp, f);
			return;
		}
		uint64_t pipe = pipe_bytes(f);
		if (pipe >= cwnd) {
			/* the window held data back: it was tested, and may grow
			 * (the slowpath's congestion control, cc.h app_limited) */
			if (f->tx_sent < end || (f->flags & FPF_IN_RECOVERY)) {
				__atomic_store_n(&f->cnt_cwnd_limited, f->cnt_cwnd_limited + 1,
						 __ATOMIC_RELAXED);
				fp_cc_watch(fp, f);
			}
			break;
		}
		uint64_t room = cwnd - pipe;

		if ((f->flags & FPF_IN_RECOVERY) && f->tx_sent == f->tx_max_sent &&
		    next_hole(f, retx_from(f), &hs, &hl)) {
			if (hl > room && room < f->mss)
				break;
			if (hl > room)
				hl = room;
			if (!fp_qos_admit(fp, f, hl) || send_data(fp, f, hs, hl))
				return;
			f->retx_next = hs + hl;
			f->retx_mark = f->tx_max_sent; /* tcp_in.c lost_resend_check() */
			f->rtt_tsc = 0; /* Karn */
			fp->cnt[DPC_TX_RETX]++;
			continue;
		}

		if (f->tx_sent >= end) {
			/* an RPC session's posted frames enter the ring only
			 * just ahead of the wire (fp_rpc.c): top it up */
			if ((f->flags & FPF_RPC_TX) && fp_rpc_tx(fp, f)) {
				end = (f->flags & FPF_TX_FIN_REQ) ? f->tx_fin_pos : f->tx_written;
				continue;
			}
			break;
		}
		if (f->tx_sent >= wnd_edge) {
			/* data waits for the peer's window: the slowpath probes it */
			if (f->peer_wnd == 0 && pipe == 0 && !f->stall_reported) {
				f->stall_reported = 1;
				fp_timer_watch(fp, f);
			}
			break;
		}
		uint64_t limit = end < wnd_edge ? end : wnd_edge;
		if (f->tx_sent < f->tx_max_sent) {
			/* going back (go_back()): the peer holds the SACKed parts */
			bool skipped = false;
			for (unsigned i = 0; i < f->sacked_n; i++) {
				const struct fp_range *r = &f->sacked[i];
				if (r->start <= f->tx_sent && f->tx_sent < r->end) {
					f->tx_sent = r->end;
					skipped = true;
				} else if (r->start > f->tx_sent && r->start < limit) {
					limit = r->start;
					break;
				}
			}
			if (skipped)
				continue;
		}
		uint64_t len = limit - f->tx_sent, max = frame_max(fp, f);
		if (len > max)
			len = max;
		if (len > room)
			len = room;
		bool resend = f->tx_sent < f->tx_max_sent;
		/* a TSO frame resends or sends new data, never both */
		if (resend && len > f->mss && f->tx_sent + len > f->tx_max_sent)
			len = f->tx_max_sent - f->tx_sent;
		if (!fp_qos_admit(fp, f, len) || send_data(fp, f, f->tx_sent, len))
			return;
		if (pipe == 0) {
			f->last_progress_tsc = fp->now;
			fp_timer_watch(fp, f);
		}
		f->stall_reported = 0;
		if (resend) /* counted in segments, as the wire sees them */
			fp->cnt[DPC_TX_RETX] += (len + f->mss - 1) / f->mss;
		if (!f->rtt_tsc && !resend) {
			f->rtt_pos = f->tx_sent + len;
			f->rtt_tsc = fp->now;
		}
		f->tx_sent += len;
		if (f->tx_sent > f->tx_max_sent)
			f->tx_max_sent = f->tx_sent;
	}
	bool fin_due = !(f->flags & FPF_TX_FIN_SENT) || (f->flags & FPF_TX_FIN_RESEND);
	if ((f->flags & (FPF_TX_FIN_REQ | FPF_TX_FIN_ACKED)) == FPF_TX_FIN_REQ && fin_due &&
	    f->tx_sent == f->tx_fin_pos) {
		if (send_segment(fp, f, tx_seq(f, f->tx_fin_pos), 0, 0, TCPF_FIN))
			return;
		if (f->tx_sent == f->tx_acked) {
			f->last_progress_tsc = fp->now;
			fp_timer_watch(fp, f);
		}
		if (f->flags & FPF_TX_FIN_RESEND)
			fp->cnt[DPC_TX_RETX]++;
		f->flags |= FPF_TX_FIN_SENT;
		f->flags &= ~FPF_TX_FIN_RESEND;
	}
}

/* resend one segment starting at @pos (fast retransmit, partial ack) */
void tcp_retransmit_segment(struct fp_ctx *fp, struct fp_flow *f, uint64_t pos)
{
	uint64_t end = f->tx_max_sent;
	if (pos >= end) {
		if ((f->flags & FPF_TX_FIN_SENT) && !(f->flags & FPF_TX_FIN_ACKED) &&
		    !send_segment(fp, f, tx_seq(f, f->tx_fin_pos), 0, 0, TCPF_FIN))
			fp->cnt[DPC_TX_RETX]++;
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
	fp->cnt[DPC_TX_RETX]++;
}

/*
 * F-RTO (tcp_in.c rto_undo_check()): a timeout's go-back may yet prove
 * needless.  Only with SACK: without it, a cumulative ACK after the resend
 * of a lost segment covers the rest of the window as well, and proves
 * nothing (Linux never undoes on one either).  Not if the peer SACKed
 * anything before the timeout: it was missing snd_una's segment then, and
 * the resend repaired a hole.  Not in the middle of a path MTU go-back
 * (its copies' ACKs prove nothing).  A later timeout of the same episode
 * keeps the undo, but bytes its predecessor resent prove nothing either
 * (the ACK may be the copy's): rto_floor.
 */
static void rto_undo_arm(struct fp_flow *f, bool timeout)
{
	bool again = f->flags & FPF_RTO_UNDO;
	f->flags &= ~FPF_RTO_UNDO;
	if (!timeout || !(f->flags & FPF_SACK) || f->sack_high ||
	    (!again && f->tx_sent < f->tx_max_sent))
		return;
	if (!again)
		f->rto_floor = 0;
	else if (f->rto_floor < f->tx_sent)
		f->rto_floor = f->tx_sent;
	f->flags |= FPF_RTO_UNDO;
}

/*
 * Go back to snd_una and resend everything outstanding (data, or a FIN).
 * With @keep_sacks, what the peer SACKed is skipped (tcp_output()); else
 * the scoreboard goes first.  Return: false if nothing was outstanding.
 */
static bool go_back(struct fp_ctx *fp, struct fp_flow *f, bool keep_sacks)
{
	bool fin_out = (f->flags & FPF_TX_FIN_SENT) && !(f->flags & FPF_TX_FIN_ACKED);
	if (f->tx_sent > f->tx_acked || fin_out) {
		rto_undo_arm(f, !keep_sacks);
		f->tx_sent = f->tx_acked;
		if (keep_sacks) {
			/* the SACKed bytes that remain are no news of loss:
			 * no fast recovery for what this resends (tcp_in.c) */
			f->recover_pos = f->tx_max_sent;
		} else {
			f->sacked_n = 0;
			f->sacked_bytes = 0;
			f->sack_high = 0;
			/* fast recovery may start at once, unlike RFC 6582's
			 * and Linux's Loss state: fastpathd/NOTES.md says why */
			f->recover_pos = f->tx_acked;
		}
		/* the FIN stays part of snd_max (FIN_SENT), so an ACK of it
		 * still counts while the data before it is resent */
		if (fin_out)
			f->flags |= FPF_TX_FIN_RESEND;
		/* a path MTU go-back resends a loss that recovery had not
		 * counted yet: count it (a timeout cuts the window itself) */
		if (keep_sacks && f->fast_retx_due && (f->flags & FPF_IN_RECOVERY))
			tcp_fast_retx_count(fp, f);
		f->fast_retx_due = 0;
		f->flags &= ~FPF_IN_RECOVERY;
		f->dupacks = 0;
		f->rtt_tsc = 0;
		/* tx_retransmits counts segments: tcp_output() counts each one
		 * it resends (a timeout used to count once more) */
		uint32_t wnd_saved = f->peer_wnd;
		if (f->peer_wnd < f->mss) /* a lost window update must not stall recovery */
			f->peer_wnd = f->mss;
		tcp_output(fp, f);
		f->peer_wnd = wnd_saved;
		f->last_progress_tsc = fp->now;
		return true;
	}
	return false;
}

/**
 * tcp_timeout - the slowpath's retransmission timer fired.  With data or a
 * FIN outstanding, go back to snd_una and resend (the slowpath has already
 * collapsed cwnd), the SACKed parts too: RFC 6675 section 5.1, after a
 * timeout the scoreboard is not trusted (the receiver may have reneged).
 * With a closed peer window and data waiting, probe it.  @acked_seen is
 * the tx_acked the slowpath judged the timer on: a higher one now means an
 * ACK overtook the timeout.
 */
void tcp_timeout(struct fp_ctx *fp, struct fp_flow *f, uint64_t acked_seen)
{
	DP_ASSERT_FP();
	if (f->flags & FPF_RESET)
		return;
	if (f->tx_acked > acked_seen && f->tx_acked == f->tx_max_sent) {
		/* an ACK of all the data overtook the timeout: the slowpath
		 * judged it on an older view (a stall of this host ends with
		 * both at once).  The window cut is undone, as for any
		 * needless timeout (tcp_in.c rto_undo_check()); a FIN still
		 * outstanding goes again below.  An ACK of part of the data
		 * proves nothing: the go-back goes ahead */
		tcp_rto_undo_count(fp, f);
	}
	if (go_back(fp, f, false))
		return;
	uint64_t end = (f->flags & FPF_TX_FIN_REQ) ? f->tx_fin_pos : f->tx_written;
	if (f->peer_wnd == 0 && end > f->tx_sent) {
		/* zero-window probe: an old sequence number forces the peer to
		 * answer with its current window */
		tcp_send_probe(fp, f);
		f->last_progress_tsc = fp->now;
	}
}

/**
 * tcp_mss_lowered - the path to the peer takes segments of at most @mss
 * payload bytes (an ICMP "fragmentation needed" the slowpath checked,
 * slowpath/icmp_err.c).  Every later segment is cut to it, and what is in
 * flight is resent now at the new size, as Linux's
 * tcp_simple_retransmit(): the larger segments were dropped at the
 * narrow hop, and waiting for the retransmission timer would cost a
 * timeout per connection.  What the peer SACKed got through (it was sent
 * before the path narrowed, or was small enough) and is not sent again:
 * no timeout passed, so the scoreboard is still trusted.  The congestion
 * window is left alone (the loss says nothing about congestion).  A larger @mss is ignored: an
 * MSS only ever shrinks here.  With @no_df (a hop narrower than
 * PKT_MIN_PMTU) the flow's segments go without DF from now on, as Linux's
 * over a route whose MTU it locked, so that hop's router fragments them.
 * Without @resend only later segments are cut: the news came from another
 * flow to the same host, and this one's own ICMP, if it lost a segment,
 * comes with the same MSS and @resend.
 */
void tcp_mss_lowered(struct fp_ctx *fp, struct fp_flow *f, uint16_t mss, bool no_df,
		     bool resend)
{
	DP_ASSERT_FP();
	if (no_df)
		f->flags |= FPF_NO_DF;
	if (!mss || mss > f->mss)
		return;
	/* relaxed: bypassctl flows reads it on the slowpath */
	__atomic_store_n(&f->mss, mss, __ATOMIC_RELAXED);
	if (resend)
		go_back(fp, f, true);
}

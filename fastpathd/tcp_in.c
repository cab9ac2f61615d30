// SPDX-License-Identifier: MIT
/*
 * tcp_in.c - segment processing for established flows: ACKs (window,
 * RTT, duplicate ACKs, SACK scoreboard, fast retransmit/recovery, ECN
 * echoes), in-order payload straight into the app's receive ring, up to
 * FP_OOO_MAX held out-of-order intervals (reported back as SACK blocks),
 * FIN and RST.  Handshakes never get here: a segment without an
 * installed flow goes to the slowpath.
 */
#include <string.h>
#include <rte_cycles.h>
#include <rte_random.h>

#include "fastpath.h"
#include "ring_copy.h"
#include "seq.h"

/* RFC 6298 smoothing, in microseconds */
static void rtt_sample(struct fp_flow *f, uint32_t us)
{
	if (!us)
		us = 1;
	if (!f->srtt_us) {
		f->srtt_us = us;
		f->rttvar_us = us / 2;
	} else {
		uint32_t diff = f->srtt_us > us ? f->srtt_us - us : us - f->srtt_us;
		f->rttvar_us = (3 * f->rttvar_us + diff) / 4;
		f->srtt_us = (7 * f->srtt_us + us) / 8;
	}
	__atomic_store_n(&f->rtt_us, us, __ATOMIC_RELAXED);
}

/* recompute the totals after the scoreboard changed */
static void sack_totals(struct fp_flow *f)
{
	uint64_t bytes = 0;
	for (unsigned i = 0; i < f->sacked_n; i++)
		bytes += f->sacked[i].end - f->sacked[i].start;
	f->sacked_bytes = bytes;
	f->sack_high = f->sacked_n ? f->sacked[f->sacked_n - 1].end : 0;
}

/**
 * range_insert - add [start, end) to @set, @n sorted disjoint ranges of at
 * most @max; touching ranges merge.  The receiver's held data and the
 * sender's SACK scoreboard both use it.
 * Return: index of the range now holding [start, end), or -1 if it is
 * disjoint from every range and the set is full (nothing changed).
 */
static int range_insert(struct fp_range *set, uint8_t *n, unsigned max, uint64_t start,
			uint64_t end)
{
	unsigned i = 0;
	while (i < *n && set[i].end < start)
		i++;
	if (i == *n || set[i].start > end) {
		if (*n == max)
			return -1;
		memmove(set + i + 1, set + i, (*n - i) * sizeof(set[0]));
		set[i] = (struct fp_range){ start, end };
		(*n)++;
		return (int)i;
	}
	/* overlaps or touches set[i]: swallow the ones it now reaches */
	struct fp_range *r = &set[i];
	if (start < r->start)
		r->start = start;
	if (end > r->end)
		r->end = end;
	unsigned j = i + 1;
	while (j < *n && set[j].start <= r->end) {
		if (set[j].end > r->end)
			r->end = set[j].end;
		j++;
	}
	memmove(set + i + 1, set + j, (*n - j) * sizeof(set[0]));
	*n -= (uint8_t)(j - i - 1);
	return (int)i;
}

/* forget what the cumulative ACK now covers */
static void sack_trim(struct fp_flow *f)
{
	unsigned n = 0;
	while (n < f->sacked_n && f->sacked[n].end <= f->tx_acked)
		n++;
	if (n) {
		memmove(f->sacked, f->sacked + n, (f->sacked_n - n) * sizeof(f->sacked[0]));
		f->sacked_n -= (uint8_t)n;
	}
	if (f->sacked_n && f->sacked[0].start < f->tx_acked)
		f->sacked[0].start = f->tx_acked;
}

/*
 * The peer's SACK blocks, relative to the (already advanced) cumulative
 * ACK.  Blocks below it (D-SACK) or beyond what we sent are ignored: a
 * lying peer can at worst make us skip resending bytes it claims to hold,
 * which only hurts its own connection.
 */
static void sack_input(struct fp_flow *f, const struct pkt_tcp *p)
{
	uint32_t una_seq = f->tx_isn + 1 + (uint32_t)f->tx_acked;
	for (unsigned b = 0; b < p->opts.sack_n; b++) {
		int32_t l = seq_diff(p->opts.sack[b][0], una_seq);
		int32_t r = seq_diff(p->opts.sack[b][1], una_seq);
		if (l < 0 || r <= l)
			continue;
		uint64_t start = f->tx_acked + (uint32_t)l, end = f->tx_acked + (uint32_t)r;
		/* a block that ends past our FIN covers it (Linux's do) */
		if ((f->flags & FPF_TX_FIN_SENT) && end == f->tx_max_sent + 1)
			end = f->tx_max_sent;
		if (end > f->tx_max_sent || end <= start)
			continue;
		/* a full scoreboard only costs a needless retransmission */
		range_insert(f->sacked, &f->sacked_n, FP_SACK_MAX, start, end);
	}
	sack_trim(f);
	sack_totals(f);
	/* a hole at the peer after a timeout (the go-back cleared the
	 * scoreboard): the timeout was loss; D-SACKs are not kept */
	if (f->sacked_n)
		f->flags &= ~FPF_RTO_UNDO;
}

/**
 * tcp_fast_retx_count - a fast retransmit: counted, and reported to the
 * slowpath, whose congestion control cuts the window for it.
 */
void tcp_fast_retx_count(struct fp_ctx *fp, struct fp_flow *f)
{
	f->fast_retx_due = 0;
	__atomic_store_n(&f->cnt_fast_retx, f->cnt_fast_retx + 1, __ATOMIC_RELAXED);
	fp->cnt[DPC_FAST_RETX]++;
	fp_cc_watch(fp, f);
}

/* loss detected (dup ACKs or SACKed bytes past the threshold) */
static void enter_recovery(struct fp_ctx *fp, struct fp_flow *f)
{
	f->flags |= FPF_IN_RECOVERY;
	f->flags &= ~FPF_RTO_UNDO; /* duplicate ACKs or SACKs: loss, not a stall */
	f->recover_pos = f->tx_max_sent;
	f->retx_next = f->tx_acked;
	f->retx_mark = 0;
	if ((f->flags & FPF_SACK) && f->sacked_n && f->tx_sent == f->tx_max_sent) {
		/* tcp_output() resends the holes at the end of this round of
		 * the core's loop, and counts the fast retransmit if a hole
		 * is still open then: one that the late segment fills first
		 * (reordering: it came in the same round as the SACKs) cuts
		 * no window */
		f->fast_retx_due = 1;
		fp_touch(fp, f, FPP_OUTPUT);
		return;
	}
	tcp_fast_retx_count(fp, f);
	if (f->tx_sent < f->tx_max_sent) {
		/* during a timeout's go-back, which resends every byte not
		 * SACKed: the walk of the holes would only resend them twice */
		f->retx_next = f->tx_max_sent;
		fp_touch(fp, f, FPP_OUTPUT);
		return;
	}
	/* NewReno, or duplicate ACKs that name no hole: snd_una's segment */
	tcp_retransmit_segment(fp, f, f->tx_acked);
}

/*
 * In SACK recovery, a resend lost too.  The peer SACKed bytes we first sent
 * after our latest resend (above retx_mark), yet the hole at snd_una, which
 * was resent before them, is still open: the holes below retx_next are
 * walked again.  Without this such a hole waited for the retransmission
 * timeout, and the window restarted from one segment.  Linux finds these
 * by time (RACK, RFC 8985); by position, as here, its older
 * tcp_mark_lost_retrans() did.  A resend overtaken by reordering is sent
 * once more, needlessly.  Each walk needs new data sent after it and SACKed
 * to be judged lost again, so this cannot loop on old SACK blocks.
 */
static void lost_resend_check(struct fp_ctx *fp, struct fp_flow *f)
{
	if (!(f->flags & FPF_IN_RECOVERY) || !f->retx_mark || f->sack_high <= f->retx_mark ||
	    f->tx_acked >= f->retx_next)
		return;
	f->retx_next = f->tx_acked;
	f->retx_mark = 0;
	fp->cnt[DPC_LOST_RETX]++;
	fp_touch(fp, f, FPP_OUTPUT);
}

/**
 * tcp_rto_undo_count - the flow's last timeout was needless: counted, and the
 * slowpath told to restore the window it cut (conn_timer.c).
 */
void tcp_rto_undo_count(struct fp_ctx *fp, struct fp_flow *f)
{
	__atomic_store_n(&f->cnt_rto_spurious, f->cnt_rto_spurious + 1, __ATOMIC_RELAXED);
	fp->cnt[DPC_RTO_SPURIOUS]++;
	/* at most once per timeout: past fp_cc_watch()'s rate limit, so the
	 * window comes back at the next tick */
	fp_timer_report(fp, f->flow_id | DP_TIMER_CC);
}

/*
 * Spurious timeouts (F-RTO's SACK variant as Linux judges it, by bytes
 * never resent that an ACK covers, but only on an ACK of the whole
 * window): during a timeout's go-back, an ACK of everything sent, bytes
 * the go-back never resent among it (nor an earlier go-back of the
 * episode: rto_floor, tcp_out.c rto_undo_arm()), with no SACK since the
 * timeout, shows that the whole window arrived from before the timeout.
 * The timeout was needless: its ACKs were held up (a stall of the peer,
 * the path or this host), and the slowpath restores the window the
 * timeout cut (conn_timer.c).  An ACK that stops short proves nothing:
 * the rest of the window may have been dropped in the same stall (a queue
 * that overflowed), and without RACK only the go-back resends it before
 * the next timeout, so it goes on.  Linux undoes on any ACK of bytes
 * never resent and then finds such losses by time (RACK); measured here,
 * undoing on those ACKs cost throughput under 5% loss and added timeouts
 * (fastpathd/NOTES.md).
 */
static void rto_undo_check(struct fp_ctx *fp, struct fp_flow *f, uint64_t acked_to)
{
	if (f->tx_sent >= f->tx_max_sent) {
		f->flags &= ~FPF_RTO_UNDO; /* everything went again: no proof left */
		return;
	}
	/* past tx_max_sent is past the go-back's tx_sent, too */
	if (acked_to < f->tx_max_sent || acked_to <= f->rto_floor)
		return;
	f->flags &= ~FPF_RTO_UNDO;
	tcp_rto_undo_count(fp, f);
}

static bool sack_says_lost(const struct fp_flow *f)
{
	return (f->flags & FPF_SACK) && f->sacked_bytes >= 3ull * f->mss;
}

/*
 * Not in recovery, nor behind a path MTU go-back (go_back(): what it
 * resends is below recover_pos, and the scoreboard it kept is old news),
 * as Linux's Loss state holds off fast recovery until high_seq is acked.
 */
static bool may_enter_recovery(const struct fp_flow *f)
{
	return !(f->flags & FPF_IN_RECOVERY) && f->tx_acked >= f->recover_pos;
}

/**
 * challenge_ack - RFC 5961's challenge ACK, also RFC 793's ACK to a
 * segment whose ACK is unacceptable.  Rate-limited as Linux does: at most
 * one per flow per [tcp] invalid_ratelimit_ms (tcp_invalid_ratelimit), and
 * at most about [tcp] challenge_ack_limit a second over all flows
 * (tcp_challenge_ack_limit).  The global quota is drawn at random each
 * second from [limit/2, 3*limit/2), so an off-path attacker cannot count
 * our challenge ACKs to learn whether a guessed 4-tuple exists
 * (CVE-2016-5696).
 */
static void challenge_ack(struct fp_ctx *fp, struct fp_flow *f)
{
	const struct bp_config *cfg = &fp->dp->cfg;
	uint64_t hz = fp->dp->tsc_hz;
	if (f->oow_ack_tsc && fp->now - f->oow_ack_tsc < hz / 1000 * cfg->invalid_ratelimit_ms)
		return;
	if (cfg->challenge_ack_limit) {
		if (!fp->chack_sec_start || fp->now - fp->chack_sec_start >= hz) {
			uint32_t lim = cfg->challenge_ack_limit;
			fp->chack_sec_start = fp->now;
			fp->chack_count = 0;
			fp->chack_quota = lim / 2 + (uint32_t)rte_rand_max(lim) + 1;
		}
		if (fp->chack_count >= fp->chack_quota)
			return;
		fp->chack_count++;
	}
	f->oow_ack_tsc = fp->now;
	fp->cnt[DPC_CHALLENGE_ACK]++;
	tcp_send_ack(fp, f);
}

/*
 * RFC 5961 section 5: an ACK is acceptable in
 * [SND.UNA - MAX.SND.WND, SND.NXT].  One beyond what we sent, or older
 * than any window the peer could still be acknowledging, is a blind
 * injection (or a confused peer): the whole segment goes, payload too.
 */
static bool ack_acceptable(const struct fp_flow *f, const struct pkt_tcp *p)
{
	uint32_t una_seq = f->tx_isn + 1 + (uint32_t)f->tx_acked;
	int32_t d = seq_diff(p->ack, una_seq);
	bool fin_out = (f->flags & FPF_TX_FIN_SENT) != 0;
	uint64_t max_ack = f->tx_max_sent + (fin_out ? 1 : 0);
	if (d >= 0)
		return f->tx_acked + (uint32_t)d <= max_ack;
	/* the window in the SYN is unscaled, and the first ACKs may lower
	 * it: never bound tighter than 64 KiB */
	uint32_t max_wnd = f->peer_wnd_max > 0xffff ? f->peer_wnd_max : 0xffff;
	return una_seq - p->ack <= max_wnd; /* d < 0; unsigned: d may be INT32_MIN */
}

/*
 * RFC 793's segment acceptability test (Linux: tcp_sequence()), before
 * the ACK field is believed: the segment must end no earlier than a ring's
 * worth below RCV.NXT (a retransmission of bytes acknowledged already,
 * whose ACK field is current) and start no later than the right edge of
 * the window we advertised.  Without it a blind ACK needs to guess only
 * SND.UNA..SND.NXT, not the sequence number as well.
 */
static bool seq_acceptable(const struct fp_flow *f, const struct pkt_tcp *p)
{
	uint32_t rcv_nxt = tcp_rcv_nxt(f);
	uint32_t end = p->seq + p->payload_len + ((p->flags & TCPF_FIN) ? 1 : 0);
	uint32_t wnd = f->rx_adv_edge > f->rx_pos ? (uint32_t)(f->rx_adv_edge - f->rx_pos) : 0;
	/* the scaled window we advertise is rounded down, so its edge may
	 * sit up to a scale unit left of one advertised before */
	uint32_t slack = 1u << f->rcv_wscale;
	return seq_diff(end, rcv_nxt) >= -(int32_t)f->rx_size &&
	       seq_diff(p->seq, rcv_nxt + wnd + slack) <= 0;
}

static void ack_input(struct fp_ctx *fp, struct fp_flow *f, const struct pkt_tcp *p)
{
	uint32_t una_seq = f->tx_isn + 1 + (uint32_t)f->tx_acked;
	int32_t d = seq_diff(p->ack, una_seq);
	bool fin_out = (f->flags & FPF_TX_FIN_SENT) != 0;
	uint32_t new_wnd = (uint32_t)p->wnd << f->snd_wscale;

	if (d < 0)
		return; /* old ACK: carries nothing we can trust about the window */
	uint64_t ack_pos = f->tx_acked + (uint32_t)d; /* <= SND.NXT: ack_acceptable() */
	if (new_wnd > f->peer_wnd_max)
		f->peer_wnd_max = new_wnd;

	if ((p->flags & TCPF_ECE) && (f->flags & FPF_ECN))
		f->flags |= FPF_CWR_PENDING; /* the receiver latches ECE until it sees CWR */

	if (ack_pos == f->tx_acked) {
		bool outstanding = f->tx_max_sent > f->tx_acked ||
				   (fin_out && !(f->flags & FPF_TX_FIN_ACKED));
		if (p->opts.sack_n && (f->flags & FPF_SACK) && outstanding) {
			sack_input(f, p);
			lost_resend_check(fp, f);
			if ((f->flags & FPF_IN_RECOVERY) || f->tx_sent < f->tx_max_sent)
				fp_touch(fp, f, FPP_OUTPUT); /* pipe shrank: more may go */
		}
		if (p->payload_len == 0 && !(p->flags & (TCPF_SYN | TCPF_FIN)) &&
		    new_wnd == f->peer_wnd && outstanding) {
			if ((++f->dupacks == 3 || sack_says_lost(f)) && may_enter_recovery(f))
				enter_recovery(fp, f);
		}
		if (new_wnd != f->peer_wnd) {
			f->peer_wnd = new_wnd;
			fp_touch(fp, f, FPP_OUTPUT);
		}
		return;
	}

	/* new data acknowledged */
	uint64_t data_acked_to = ack_pos > f->tx_max_sent ? f->tx_max_sent : ack_pos;
	uint64_t newly = data_acked_to - f->tx_acked;
	if (fin_out && ack_pos == f->tx_fin_pos + 1 && !(f->flags & FPF_TX_FIN_ACKED)) {
		f->flags |= FPF_TX_FIN_ACKED;
		fp_to_sp(fp, DPM_FLOW_FIN_ACKED, f->flow_id, NULL);
	}
	if (f->flags & FPF_RTO_UNDO)
		rto_undo_check(fp, f, data_acked_to);
	f->tx_acked = data_acked_to;
	if (f->tx_sent < f->tx_acked) /* ack beyond a go-back-N rewind */
		f->tx_sent = f->tx_acked;
	f->dupacks = 0;
	f->peer_wnd = new_wnd;
	f->last_progress_tsc = fp->now;
	/* release: a slowpath that sees these bytes acked sees the undo
	 * rto_undo_check() counted for them (conn_timer.c) */
	__atomic_store_n(&f->cnt_acked, f->cnt_acked + newly, __ATOMIC_RELEASE);
	if ((p->flags & TCPF_ECE) && newly) {
		__atomic_store_n(&f->cnt_ecn_acked, f->cnt_ecn_acked + newly, __ATOMIC_RELAXED);
		fp_cc_watch(fp, f);
	}
	__atomic_store_n(&f->shm->tx_acked, f->tx_acked, __ATOMIC_RELEASE);

	if (f->rtt_tsc && ack_pos >= f->rtt_pos) {
		rtt_sample(f, (uint32_t)((fp->now - f->rtt_tsc) * 1000000 / fp->dp->tsc_hz));
		f->rtt_tsc = 0;
	}
	if (f->flags & FPF_SACK) {
		sack_input(f, p); /* trims what the cumulative ACK covers, too */
		if (f->retx_next < f->tx_acked)
			f->retx_next = f->tx_acked;
	}
	if (f->flags & FPF_IN_RECOVERY) {
		if (ack_pos >= f->recover_pos) {
			f->flags &= ~FPF_IN_RECOVERY;
			f->fast_retx_due = 0;
		} else if (!(f->flags & FPF_SACK)) /* NewReno partial ACK: the next hole is lost too */
			tcp_retransmit_segment(fp, f, f->tx_acked);
		else
			lost_resend_check(fp, f);
	} else if (sack_says_lost(f) && may_enter_recovery(f)) {
		enter_recovery(fp, f);
	}
	if (f->flags & FPF_RPC_TX)
		fp_rpc_tx(fp, f); /* ring room came back: posted frames go in */
	fp_touch(fp, f, FPP_OUTPUT | FPP_EV_TX);
}

/* in-order data reached held intervals: absorb what they already hold */
/*
 * An empty rx ring starts over at offset 0 (bp_flow_shm.rx_shift): a flow
 * of requests and responses then keeps reusing the ring's first bytes, hot
 * in the cache and mapped, instead of walking every page of the ring (a
 * page fault each, in the daemon and in the app).  Only when the app has
 * read everything (rx_consumed was just refreshed; for an RPC session it
 * is the daemon's framer that reads) and nothing is held out of order.
 */
static void rx_ring_restart(struct fp_flow *f)
{
	if (f->rx_pos != f->rx_consumed || f->ooo_n)
		return;
	uint32_t shift = bp_ring_shift_to_start(f->rx_pos, f->rx_size);
	if (shift == f->rx_shift)
		return;
	f->rx_shift = shift;
	/* ordered before the data by the rx_written release that follows */
	__atomic_store_n(&f->shm->rx_shift, shift, __ATOMIC_RELAXED);
}

static void ooo_merge(struct fp_flow *f)
{
	unsigned n = 0;
	while (n < f->ooo_n && f->ooo[n].start <= f->rx_pos) {
		if (f->ooo[n].end > f->rx_pos)
			f->rx_pos = f->ooo[n].end;
		n++;
	}
	if (!n)
		return;
	memmove(f->ooo, f->ooo + n, (f->ooo_n - n) * sizeof(f->ooo[0]));
	f->ooo_n -= (uint8_t)n;
	f->ooo_recent = 0;
}

/**
 * ooo_hold - remember that [pos, end) now sits in the receive ring.
 * Intervals stay sorted and disjoint; touching ones merge.  With every
 * interval in use, a segment that merges with none is dropped (the sender
 * resends it), so the bookkeeping is bounded.
 * Return: true if the bytes are kept.
 */
static bool ooo_hold(struct fp_flow *f, uint64_t pos, uint64_t end)
{
	int i = range_insert(f->ooo, &f->ooo_n, FP_OOO_MAX, pos, end);
	if (i < 0)
		return false;
	f->ooo_recent = (uint8_t)i;
	return true;
}

/*
 * Data that no process will ever read: reset, as Linux does when a socket
 * is closed with unread data (tcp_close) or when data arrives after the
 * close (TCPAbortOnData).  The slowpath ends the flow as if the peer had
 * reset it.
 */
static void abort_unread(struct fp_ctx *fp, struct fp_flow *f)
{
	tcp_send_rst(fp, f);
	f->flags |= FPF_RESET;
	__atomic_fetch_or(&f->shm->flags, BP_FF_RESET, __ATOMIC_RELEASE);
	fp_to_sp(fp, DPM_FLOW_RST_RCVD, f->flow_id, NULL);
}

/**
 * tcp_rx_abort - reset @f from our side: the RPC framer found a malformed
 * frame (WIRE.md: the receiver closes the connection).
 */
void tcp_rx_abort(struct fp_ctx *fp, struct fp_flow *f)
{
	DP_ASSERT_FP();
	if (f->flags & FPF_RESET)
		return;
	abort_unread(fp, f);
	fp_touch(fp, f, FPP_EV_RX);
}

/**
 * tcp_rx_closed - the last process holding @f closed it (or exited): from
 * now on, received data has no reader.  Data already unread resets the
 * connection at once (the slowpath checked too, but bytes may have landed
 * since); data arriving later resets it then.
 */
void tcp_rx_closed(struct fp_ctx *fp, struct fp_flow *f)
{
	DP_ASSERT_FP();
	if (f->flags & FPF_RESET)
		return;
	f->flags |= FPF_RX_CLOSED;
	tcp_refresh_rx_consumed(fp, f);
	if (f->rx_pos != f->rx_consumed)
		abort_unread(fp, f);
}

static void data_input(struct fp_ctx *fp, struct fp_flow *f, const struct pkt_tcp *p)
{
	const uint8_t *data = p->payload;
	uint32_t len = p->payload_len;
	uint32_t rcv_nxt = tcp_rcv_nxt(f);
	int32_t off = seq_diff(p->seq, rcv_nxt);
	bool fin = (p->flags & TCPF_FIN) != 0;

	if (f->flags & FPF_RX_FIN) {
		/* anything after the peer's FIN is a retransmission: re-ACK it */
		if (len || fin)
			fp_touch(fp, f, FPP_ACK);
		return;
	}
	if (off < 0) {
		/* bytes below rcv_nxt; negated unsigned: off may be INT32_MIN */
		uint32_t old = 0u - (uint32_t)off;
		if (old >= len) {
			if (len || fin) {
				fp->cnt[DPC_RX_DUP]++;
				/* a duplicate may mean our ACK was lost: answer now */
				tcp_send_ack(fp, f);
			}
			if (!(fin && old == len))
				return;
			len = 0; /* only the FIN is new */
		} else {
			data += old;
			len -= old;
		}
		off = 0;
	}
	if (len && (f->flags & FPF_RX_CLOSED)) {
		abort_unread(fp, f); /* new data after the last close */
		return;
	}

	tcp_refresh_rx_consumed(fp, f);
	uint64_t limit = f->rx_consumed + f->rx_size; /* first position with no room */
	uint64_t pos = f->rx_pos + (uint32_t)off;
	bool whole = true;
	if (pos >= limit) {
		len = 0;
		whole = false;
	} else if (pos + len > limit) {
		len = (uint32_t)(limit - pos);
		whole = false;
	}

	if (off == 0) {
		if (len) {
			uint64_t was = f->rx_pos;
			bool filled_hole = f->ooo_n != 0;
			rx_ring_restart(f);
			ring_copy_in(f->rx_base, f->rx_size, f->rx_shift, pos, data, len);
			f->rx_pos += len;
			ooo_merge(f);
			__atomic_store_n(&f->shm->rx_written, f->rx_pos, __ATOMIC_RELEASE);
			/* what the app got: out-of-order bytes count once they join */
			fp->cnt[DPC_RX_BYTES] += f->rx_pos - was;
			/* RFC 5681 4.2: every second full segment, and a hole
			 * filled, at once; less may wait for the response */
			if (filled_hole || f->rx_pos - f->rx_acked >= 2u * f->mss)
				fp_touch(fp, f, FPP_ACK | FPP_EV_RX);
			else {
				fp_touch(fp, f, FPP_EV_RX);
				tcp_ack_later(fp, f);
			}
			if (f->flags & FPF_RPC) {
				fp_rpc_rx(fp, f); /* frames to messages; opens the window */
				if (f->flags & FPF_RESET)
					return;
			}
		}
		/* this segment's FIN, or one held out of order that the data
		 * now reaches */
		if ((fin && whole && f->rx_pos == pos + len) ||
		    (f->rx_fin_held && f->rx_pos == f->rx_fin_held - 1)) {
			f->rx_fin_held = 0;
			f->flags |= FPF_RX_FIN;
			if (f->flags & FPF_RPC)
				fp_rpc_rx(fp, f); /* BP_MSG_EOF once every frame is out */
			__atomic_fetch_or(&f->shm->flags, BP_FF_PEER_FIN, __ATOMIC_RELEASE);
			fp_to_sp(fp, DPM_FLOW_FIN_RCVD, f->flow_id, NULL);
			fp_touch(fp, f, FPP_EV_RX);
			tcp_send_ack(fp, f);
		} else if (!whole) {
			tcp_send_ack(fp, f); /* tell the peer the window it overran */
		}
		return;
	}

	/* out of order: hold it if it fits the one interval, and send a
	 * duplicate ACK at once so the sender can fast-retransmit.  A FIN
	 * with it is remembered too (as Linux queues it with the data), so
	 * the ACK that fills the hole covers it. */
	bool held = false;
	if (len && ooo_hold(f, pos, pos + len)) {
		ring_copy_in(f->rx_base, f->rx_size, f->rx_shift, pos, data, len);
		fp->cnt[DPC_RX_OOO]++;
		held = true;
	} else if (len) {
		fp->cnt[DPC_RX_OOO_DROP]++;
	}
	if (fin && whole && (held || !len))
		f->rx_fin_held = pos + len + 1;
	tcp_send_ack(fp, f);
}

/*
 * RFC 5961 section 3 for an RST on a synchronized flow: exactly at
 * RCV.NXT it resets; elsewhere in the receive window it only earns a
 * challenge ACK (a peer that really lost the connection answers that with
 * an RST at RCV.NXT); outside the window it is dropped silently.
 */
static void rst_input(struct fp_ctx *fp, struct fp_flow *f, const struct pkt_tcp *p)
{
	uint32_t rcv_nxt = tcp_rcv_nxt(f);
	/* both FINs done: TIME_WAIT, or about to close.  As Linux by
	 * default (tcp_rfc1337 = 0), an RST exactly at RCV.NXT ends TIME_WAIT
	 * early; the app's unread data and its EOF stand, so only the
	 * slowpath hears of it.  Any other RST is dropped silently. */
	if ((f->flags & (FPF_RX_FIN | FPF_TX_FIN_ACKED)) == (FPF_RX_FIN | FPF_TX_FIN_ACKED)) {
		if (p->seq == rcv_nxt) {
			f->flags |= FPF_RESET;
			fp_to_sp(fp, DPM_FLOW_RST_RCVD, f->flow_id, NULL);
		}
		return;
	}
	uint32_t wnd = (uint32_t)(f->rx_adv_edge - f->rx_pos);
	/* after the peer's FIN, some stacks reset at the FIN's own sequence
	 * number (Linux accepts it too, tcp_reset_check()); with data held
	 * out of order, the peer's next sequence number is past it (Linux:
	 * the highest SACK block's right edge) */
	bool exact = p->seq == rcv_nxt || ((f->flags & FPF_RX_FIN) && p->seq == rcv_nxt - 1) ||
		     (f->ooo_n && p->seq == f->rx_isn + 1 + (uint32_t)f->ooo[f->ooo_n - 1].end);
	if (exact) {
		f->flags |= FPF_RESET;
		__atomic_fetch_or(&f->shm->flags, BP_FF_RESET, __ATOMIC_RELEASE);
		fp_to_sp(fp, DPM_FLOW_RST_RCVD, f->flow_id, NULL);
		fp_touch(fp, f, FPP_EV_RX | FPP_EV_TX);
	} else if (seq_in_window(p->seq, rcv_nxt, wnd ? wnd : 1)) {
		challenge_ack(fp, f);
	}
}

/**
 * tcp_input - process one validated segment for an installed flow.
 */
void tcp_input(struct fp_ctx *fp, struct fp_flow *f, const struct pkt_tcp *p)
{
	DP_ASSERT_FP();
	if (f->flags & FPF_RESET)
		return;
	if (p->flags & TCPF_RST) {
		rst_input(fp, f, p);
		return;
	}
	if (p->flags & TCPF_SYN) {
		/* RFC 5961 section 4: a SYN on a synchronized flow, in the
		 * window or not, never resets it.  The challenge ACK makes a
		 * peer that restarted send an RST at RCV.NXT, and answers a
		 * retransmitted SYN-ACK whose handshake ACK was lost. */
		challenge_ack(fp, f);
		return;
	}
	if (!(p->flags & TCPF_ACK))
		return;
	if (!seq_acceptable(f, p) || !ack_acceptable(f, p)) {
		challenge_ack(fp, f); /* RFC 5961 section 5.2: ACK, then drop */
		return;
	}
	f->last_rx_tsc = fp->now;
	struct dp_tenant_core *row = fp_tenant_row(fp, f);
	row->rx_pkts++;
	row->rx_bytes += p->payload_len;
	if ((f->flags & FPF_ECN) && (p->payload_len || (p->flags & TCPF_FIN))) {
		/* RFC 3168 receiver: echo ECE from a CE mark until CWR */
		if (p->flags & TCPF_CWR)
			f->flags &= ~FPF_ECE_PENDING;
		if (p->ecn == 3) {
			f->flags |= FPF_ECE_PENDING;
			fp_touch(fp, f, FPP_ACK);
		}
	}
	ack_input(fp, f, p);
	if (p->payload_len || (p->flags & TCPF_FIN))
		data_input(fp, f, p);
	else if (seq_diff(p->seq, tcp_rcv_nxt(f)) < 0)
		/* a bare segment below rcv_nxt is a window or keepalive probe
		 * (RFC 793/1122): answer, or a peer whose window update was
		 * lost waits forever */
		fp_touch(fp, f, FPP_ACK);
}

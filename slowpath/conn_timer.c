// SPDX-License-Identifier: MIT
/*
 * conn_timer.c - when the slowpath looks at a connection: its handshake,
 * TIME_WAIT and FIN_WAIT_2 deadlines, the retransmission timer, congestion
 * control while data is in flight, keepalive probes.
 *
 * Each connection is on a timing wheel (wheel.h) at the time of its next
 * visit, or on none: an established flow with nothing in flight costs
 * nothing until the fastpath says it sent data or a FIN from idle, or met
 * a zero window with data waiting (dataplane.h, dp_core.timer_ring).  A
 * visit works out when the next one is due.  Scanning every connection
 * every millisecond cost a core at 10,000 connections.  While data is in
 * flight, a flow is visited every round trip only while its congestion
 * control has news (the window held data back, a fast retransmit, ECN;
 * fp_cc_watch() reports them) or it is paced; otherwise only for its
 * retransmission timer.  Visiting every request/response flow once per
 * message took a fifth of the CPU at 10,000 connections (bench, echo10000).
 *
 * Anything else that changes what a connection waits for pokes it
 * (sp_conn_poke(): a visit at the next tick): a fastpath event, a new
 * deadline, keepalive switched on, installation.  A visit too many is
 * harmless; one too few would lose a timer, so when a core's ring
 * overflows every connection is visited once.
 */
#include <errno.h>
#include <rte_cycles.h>

#include "sp_internal.h"

/* a flow without congestion news for this long is visited only for its
 * timers; longer than the fastpath's report interval, so news that came
 * too soon after a report to be reported again is still seen */
#define SP_CC_QUIET_MS 3
_Static_assert(SP_CC_QUIET_MS * 1000 > 2 * FP_CC_REPORT_US,
	       "a flow must stay live longer than the fastpath's report interval");

static uint64_t tsc_per_ms(const struct sp *sp)
{
	uint64_t t = sp->dp->tsc_hz / 1000;
	return t ? t : 1;
}

/** sp_conn_now_ms - the wheel's clock: sp->now in whole milliseconds. */
uint64_t sp_conn_now_ms(const struct sp *sp)
{
	return sp->now / tsc_per_ms(sp);
}

/* visit @id at @tsc or earlier (rounded up: a visit before a deadline does nothing) */
static void conn_watch(struct sp *sp, uint32_t id, uint64_t tsc)
{
	uint64_t per = tsc_per_ms(sp);
	wheel_sched(&sp->conn_wheel, id, (tsc + per - 1) / per);
}

/** sp_conn_poke - visit connection @id at the next tick. */
void sp_conn_poke(struct sp *sp, uint32_t id)
{
	wheel_sched(&sp->conn_wheel, id, 0); /* the past: the next expiry */
}

/** sp_conn_watch - visit connection @id at @tsc (or a little before). */
void sp_conn_watch(struct sp *sp, uint32_t id, uint64_t tsc)
{
	conn_watch(sp, id, tsc);
}

/** sp_conn_set_deadline - arm @c's handshake / TIME_WAIT / FIN_WAIT_2 timer. */
void sp_conn_set_deadline(struct sp *sp, struct sp_conn *c, uint64_t tsc)
{
	c->deadline = tsc;
	conn_watch(sp, (uint32_t)(c - sp->conns), tsc);
}

static void handshake_timer(struct sp *sp, struct sp_conn *c, uint32_t id)
{
	const struct bp_config *cfg = &sp->dp->cfg;
	switch (c->state) {
	case SPS_ARP_WAIT:
		/* the neighbour may have become known without answering us
		 * (by asking for us), which wakes no waiting connection */
		if (!sp_arp_lookup(sp, c->next_hop) && ++c->retries >= ARP_TRIES) {
			sp_conn_handshake_fail(sp, c, id, EHOSTUNREACH);
			return;
		}
		sp_conn_send_syn_or_arp(sp, c);
		break;
	case SPS_SYN_SENT:
	case SPS_SYN_RCVD:
		if (++c->retries > cfg->syn_retries) {
			sp_conn_handshake_fail(sp, c, id, ETIMEDOUT);
			return;
		}
		if (c->state == SPS_SYN_SENT)
			sp_arp_recheck(sp, c->next_hop, &c->mac);
		sp_send_syn(sp, c, &c->mac, c->state == SPS_SYN_RCVD);
		sp_conn_set_deadline(sp, c,
				     sp->now + sp_ms_to_tsc(sp, (uint64_t)SYN_RTO_MS << c->retries));
		break;
	case SPS_TIME_WAIT:
		sp_conn_delete(sp, c, id, false);
		break;
	case SPS_ESTABLISHED: /* FIN_WAIT_2 timeout after the app closed */
		if (!(c->flags & SPC_FIN_RCVD))
			sp_conn_reset(sp, c, id, ETIMEDOUT, true);
		else
			c->deadline = 0;
		break;
	}
}

/*
 * SO_KEEPALIVE on an idle flow: after keepalive_idle_ms without hearing
 * from the peer, probe every keepalive_intvl_ms; any segment from the peer
 * (its ACK of a probe) starts over; keepalive_probes unanswered probes
 * fail the flow with ETIMEDOUT, as on Linux.
 * Return: true if the flow was reset.
 */
static bool keepalive_tick(struct sp *sp, struct sp_conn *c, uint32_t id,
			   const struct sp_fp_flow_view *f)
{
	const struct bp_config *cfg = &sp->dp->cfg;
	uint64_t rx = f->last_rx_tsc;
	if (rx != c->ka_seen_rx || !c->ka_next) {
		uint64_t from = rx > c->ka_seen_rx && c->ka_next ? rx : sp->now;
		c->ka_seen_rx = rx;
		c->ka_probes = 0;
		c->ka_next = from + sp_ms_to_tsc(sp, cfg->keepalive_idle_ms);
		return false;
	}
	if (sp->now < c->ka_next)
		return false;
	if (c->ka_probes >= cfg->keepalive_probes) {
		sp_conn_reset(sp, c, id, ETIMEDOUT, true);
		return true;
	}
	c->ka_probes++;
	c->ka_next = sp->now + sp_ms_to_tsc(sp, cfg->keepalive_intvl_ms);
	sp_fp_flow_probe(sp, id);
	return false;
}

/*
 * The fastpath sends when an ACK comes or the app writes, so a window the
 * slowpath opens is used at the next ACK.  With fewer than four segments
 * in flight that ACK may be a round trip away, or never come: their loss
 * cannot draw three duplicate ACKs, so it waits for the retransmission
 * timeout, and the window starts again from one segment (a loop under
 * random loss, where most timeouts found one segment in flight and a
 * window of two).  Such a flow is told to send at once if the old
 * window @was held it back and the new one lets a segment go, with data
 * waiting and the peer's window open.  Flows with more in flight hear ACKs
 * often enough; paced flows wait for their pacer, not the window.
 */
static bool window_opened_for_few(const struct sp_fp_flow_view *f, const struct cc_state *cc,
				  uint32_t was)
{
	/* after a timeout's go-back, what is in flight is what went again */
	uint64_t sent = f->tx_sent < f->tx_max_sent ? f->tx_sent : f->tx_max_sent;
	uint64_t inflight = sent > f->tx_acked ? sent - f->tx_acked : 0;

	return !cc->rate_bps && f->tx_written > sent && inflight < 4ull * cc->mss &&
	       inflight + cc->mss > was && inflight + cc->mss <= cc->cwnd &&
	       inflight < f->peer_wnd;
}

/*
 * The fastpath found the flow's last timeout needless (tcp_in.c
 * rto_undo_check(), tcp_out.c tcp_timeout()): the window and threshold go
 * back to what they were before the first timeout since data was last
 * acknowledged, as Linux's tcp_try_undo_loss().  What
 * the snapshot cannot know stays current: the MSS (a path MTU drop since)
 * and the ECN marks already counted.
 */
static void cc_undo_timeout(struct sp_conn *c)
{
	uint32_t mss = c->cc.mss;
	uint64_t ecn_seen = c->cc.ecn_seen;
	c->cc = c->cc_undo;
	c->cc.mss = mss;
	c->cc.ecn_seen = ecn_seen;
	if (c->cc_ops->on_undo)
		c->cc_ops->on_undo(&c->cc);
	c->cc_undo_valid = false;
}

/* the retransmission timer runs from the later of the last progress (an
 * ACK of new data, or a (re)send: the fastpath's stamp) and the last timeout */
static uint64_t retx_timer_start(const struct sp_conn *c, const struct sp_fp_flow_view *f)
{
	uint64_t progress = f->last_progress_tsc;
	return progress > c->rto_start ? progress : c->rto_start;
}

/* what keeps the retransmission timer running: data or a FIN in flight,
 * or data held back by a zero window (probed on the same timer) */
static bool retx_timer_runs(const struct sp_fp_flow_view *f, bool *probe)
{
	uint64_t inflight = f->tx_max_sent > f->tx_acked ? f->tx_max_sent - f->tx_acked : 0;
	bool fin_out = (f->flags & FPF_TX_FIN_SENT) && !(f->flags & FPF_TX_FIN_ACKED);
	*probe = !inflight && !fin_out;
	return inflight || fin_out || (f->peer_wnd == 0 && f->tx_written > f->tx_sent);
}

/**
 * sp_conn_timer_info - the timer @c waits on, as ss -o names it: "on" (the
 * retransmission timer, also a FIN's and a handshake's), "persist" (zero
 * window probes), "keepalive", "timewait" (TIME_WAIT, and the FIN_WAIT_2
 * timeout after the app closed, as Linux shows it), or "off".
 * @f: the flow's view if it is established (else NULL).
 * @ms: set to the milliseconds until it fires (0: due).
 * @retries: set to its backoffs, or the keepalive probes sent.
 */
const char *sp_conn_timer_info(struct sp *sp, const struct sp_conn *c,
			       const struct sp_fp_flow_view *f, uint32_t *ms, uint32_t *retries)
{
	const char *name = "off";
	uint64_t at = 0, now = rte_rdtsc(); /* sp->now may be a pass old here */
	bool probe;

	*retries = 0;
	switch (c->state) {
	case SPS_ARP_WAIT:
	case SPS_SYN_SENT:
	case SPS_SYN_RCVD:
		name = "on";
		at = c->deadline;
		*retries = c->retries;
		break;
	case SPS_TIME_WAIT:
		name = "timewait";
		at = c->deadline;
		break;
	case SPS_ESTABLISHED:
		if (f && (f->flags & FPF_RESET))
			break; /* the fastpath reset it: no timer runs (established_tick()) */
		if (f && retx_timer_runs(f, &probe)) {
			name = probe ? "persist" : "on";
			at = retx_timer_start(c, f) +
			     sp_ms_to_tsc(sp, sp_conn_rto_ms(sp, f, c->retries));
			*retries = c->retries;
		} else if (c->deadline) {
			name = "timewait";
			at = c->deadline;
		} else if ((c->flags & SPC_KEEPALIVE) && c->ka_next) {
			name = "keepalive";
			at = c->ka_next;
			*retries = c->ka_probes;
		}
		break;
	}
	uint64_t left_ms = at > now ? (at - now) / tsc_per_ms(sp) : 0;
	*ms = left_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)left_ms;
	return name;
}

/*
 * Congestion control and the retransmission timer of one flow.
 * Return: when it wants to be looked at again (tsc), 0 = not until the
 * fastpath reports new work (data or a FIN sent from idle, a zero window).
 */
static uint64_t established_tick(struct sp *sp, struct sp_conn *c, uint32_t id)
{
	struct sp_fp_flow_view view, *f = &view;
	sp_fp_flow_read(sp, id, f);
	uint32_t fflags = f->flags;
	if (fflags & FPF_RESET)
		return 0;
	uint64_t acked_total = f->cnt_acked;
	uint64_t acked = f->tx_acked;
	uint64_t sent = f->tx_max_sent;
	uint64_t inflight = sent > acked ? sent - acked : 0;
	uint32_t fr = f->cnt_fast_retx;

	/* split so the microsecond clock cannot overflow, however long the host has been up */
	uint64_t hz = sp->dp->tsc_hz;
	uint64_t now_us = sp->now / hz * 1000000 + sp->now % hz * 1000000 / hz;

	bool acked_new = acked_total != c->cc_acked_seen;
	if (f->cnt_rto_spurious != c->rto_spurious_seen) {
		c->rto_spurious_seen = f->cnt_rto_spurious;
		/* not past ECN marks the episode saw: congestion, whatever the
		 * timeout was (DCTCP's alpha took them in) */
		if (c->cc_undo_valid && c->cc.ecn_seen == c->cc_undo.ecn_seen) {
			cc_undo_timeout(c);
			c->cc_news_tsc = sp->now; /* a window to grow again */
		}
	}
	/* the timeout's window is acked and no undo came with it: none will
	 * (the fastpath counts one before it counts the bytes acked; a view
	 * that pairs older counters with newer positions can only drop an
	 * undo, never restore a stale window) */
	if (c->cc_undo_valid && acked_total >= c->cc_undo_until)
		c->cc_undo_valid = false;
	/* news for congestion control: the window held data back, a fast
	 * retransmit, ECN echoes (each also reported by fp_cc_watch()) */
	if (fr != c->cc_fast_retx_seen || f->cnt_cwnd_limited != c->cc_cwnd_limited_seen ||
	    f->cnt_ecn_acked != c->cc.ecn_seen)
		c->cc_news_tsc = sp->now;
	if (fr != c->cc_fast_retx_seen) {
		c->cc_fast_retx_seen = fr;
		c->cc_undo_valid = false; /* a loss: no timeout of before it is undone */
		c->cc_ops->on_fast_retx(&c->cc, inflight, now_us);
		c->ecn_react_after = acked_total + inflight;
	}
	if (acked_total != c->cc_acked_seen) {
		uint64_t ecn_total = f->cnt_ecn_acked;
		if (ecn_total != c->cc.ecn_seen && !c->cc_ops->wants_ecn &&
		    acked_total >= c->ecn_react_after) {
			/* RFC 3168 for loss-based algorithms: a mark counts as a
			 * loss, at most once per window of data */
			c->cc_ops->on_fast_retx(&c->cc, inflight, now_us);
			c->ecn_react_after = acked_total + inflight;
		}
		struct cc_ack_sample a = {
			.acked = acked_total - c->cc_acked_seen,
			.ecn_acked = ecn_total - c->cc.ecn_seen,
			.inflight = inflight,
			.now_us = now_us,
			.rtt_us = f->rtt_us,
			.srtt_us = f->srtt_us,
			.app_limited = f->cnt_cwnd_limited == c->cc_cwnd_limited_seen,
		};
		c->cc_cwnd_limited_seen = f->cnt_cwnd_limited;
		c->cc_ops->on_ack(&c->cc, &a);
		c->cc_acked_seen = acked_total;
		c->cc.ecn_seen = ecn_total;
	}

	/* only newly acknowledged data ends the backoff: the fastpath also
	 * moves last_progress_tsc when it (re)sends, which restarts the timer
	 * but must not reset the count, or an unanswered FIN or segment is
	 * resent every min RTO forever */
	if (acked_new)
		c->retries = 0;
	bool fin_out = (fflags & FPF_TX_FIN_SENT) && !(fflags & FPF_TX_FIN_ACKED);
	bool probe;
	uint64_t next = 0;
	bool retx_runs = retx_timer_runs(f, &probe);
	if (retx_runs) {
		uint64_t start = retx_timer_start(c, f);
		uint64_t rto = sp_ms_to_tsc(sp, sp_conn_rto_ms(sp, f, c->retries));
		/* the fastpath stamps progress with its own clock, which runs
		 * ahead of sp->now while a long slowpath pass (a connect storm
		 * mapping in buffers) is under way: then no time has passed.
		 * Unsigned, the difference wrapped and the timer fired at once:
		 * a spurious resend and a collapsed window for a flow that had
		 * just sent its first bytes */
		if (sp->now > start && sp->now - start > rto) {
			/* a peer that answers our window probes keeps the flow
			 * alive (as on Linux); the probes still back off */
			uint64_t rx = f->last_rx_tsc;
			bool answered = !inflight && !fin_out && rx != c->rto_seen_rx;
			c->rto_seen_rx = rx;
			if (c->retries >= sp->dp->cfg.max_retries && !answered) {
				sp_conn_reset(sp, c, id, ETIMEDOUT, true);
				return 0;
			}
			if (inflight) {
				/* the episode's first timeout keeps the window
				 * an F-RTO undo brings back */
				if (!c->retries || !c->cc_undo_valid) {
					c->cc_undo = c->cc;
					c->cc_undo_valid = true;
					c->cc_undo_until = acked_total + inflight;
				}
				c->cc_ops->on_timeout(&c->cc, inflight, now_us);
			} else {
				c->cc_undo_valid = false; /* a probe: a new episode */
			}
			if (c->retries < sp->dp->cfg.max_retries)
				c->retries++;
			c->timeouts++;
			if (inflight || fin_out) /* not a zero-window probe */
				sp->dp->sp_counters[DPC_RTO]++;
			c->rto_start = sp->now;
			sp_fp_flow_set_cwnd(sp, id, c->cc.cwnd);
			sp_fp_flow_retx(sp, id, acked);
			sp_arp_revalidate(sp, c->next_hop); /* a neighbour that moved? */
			return sp->now + sp_ms_to_tsc(sp, sp_conn_rto_ms(sp, f, c->retries));
		}
		next = start + rto;
		/* acks are folded into the congestion window about once a
		 * round trip (every tick for short ones), as TAS's control
		 * loop, while the window or the rate matters.  A flow that
		 * never fills its window (request/response) is left to its
		 * retransmission timer: the fastpath reports news */
		bool cc_live = c->cc.rate_bps ||
			       sp->now - c->cc_news_tsc < sp_ms_to_tsc(sp, SP_CC_QUIET_MS);
		uint64_t cc_at = sp->now + (f->srtt_us > 1000 ? f->srtt_us : 1000) * sp->dp->tsc_hz / 1000000;
		if (cc_live && cc_at < next)
			next = cc_at;
	}
	/* idle only: data held back by a zero window is probed on the
	 * retransmission timer, whose visit keepalive's must not replace (as
	 * Linux's keepalive timer stands aside while data is queued) */
	if ((c->flags & SPC_KEEPALIVE) && !retx_runs) {
		if (keepalive_tick(sp, c, id, f))
			return 0;
		next = c->ka_next;
	}
	uint32_t was = sp_fp_flow_set_cwnd(sp, id, c->cc.cwnd);
	if (was < c->cc.cwnd && window_opened_for_few(f, &c->cc, was))
		sp_fp_flow_cwnd_opened(sp, id);
	sp_fp_flow_set_rate(sp, id, c->cc.rate_bps);
	return next;
}

/* one visit: whatever is due, then when to come back */
static void conn_visit(void *arg, uint32_t id)
{
	struct sp *sp = arg;
	struct sp_conn *c = &sp->conns[id];
	if (c->state == SPS_FREE)
		return;
	if (c->deadline && sp->now >= c->deadline) {
		handshake_timer(sp, c, id);
		if (c->state == SPS_FREE)
			return;
	}
	uint64_t next = 0;
	if ((c->flags & SPC_GONE_GRACE) && sp->now >= c->gone_grace_end)
		sp_conn_gone_grace_over(sp, c, id);
	if (c->state == SPS_ESTABLISHED)
		next = established_tick(sp, c, id);
	if (c->state == SPS_FREE)
		return;
	if (c->deadline && (!next || c->deadline < next))
		next = c->deadline;
	if ((c->flags & SPC_GONE_GRACE) && (!next || c->gone_grace_end < next))
		next = c->gone_grace_end;
	if (next)
		conn_watch(sp, id, next);
}

static void poke_cb(struct sp *sp, uint32_t entry)
{
	uint32_t id = entry & ~DP_TIMER_CC;
	if (id >= sp->dp->cfg.max_flows || sp->conns[id].state == SPS_FREE)
		return;
	if (entry & DP_TIMER_CC) {
		sp_conn_poke(sp, id);
		return;
	}
	/* data or a FIN went out from idle: its retransmission timer runs
	 * for min_rto_ms at least, so a visit already queued before then
	 * covers it (wheel_sched() keeps the earlier time).  A request/
	 * response flow is then visited about once per timeout, not once
	 * per message */
	conn_watch(sp, id, sp->now + sp_ms_to_tsc(sp, sp->dp->cfg.min_rto_ms));
}

/**
 * sp_conn_tick - the slowpath's tick: take the flows the fastpath cores
 * reported, then visit every connection that is due.
 */
void sp_conn_tick(struct sp *sp)
{
	DP_ASSERT_SP();
	if (sp_fp_timer_drain(sp, poke_cb)) {
		/* a core's ring overflowed: look at everything once */
		for (uint32_t i = 0; i < sp->nconns; i++)
			sp_conn_poke(sp, sp->active[i]);
	}
	wheel_expire(&sp->conn_wheel, sp_conn_now_ms(sp), conn_visit, sp);
}

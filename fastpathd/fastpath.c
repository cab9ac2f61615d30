// SPDX-License-Identifier: MIT
/*
 * fastpath.c - the run-to-completion loop.
 *
 * One round: receive a burst and process every frame to completion, run
 * the per-flow work the burst produced (one ACK per flow, data the opened
 * windows allow, app events), apply slowpath messages, take app doorbells,
 * flush the transmit batch.  The burst size adapts by itself: a busy port
 * returns full bursts, an idle one returns few.
 *
 * When nothing happened for idle_poll_us, the thread blocks: on the port's
 * rx interrupt where the PMD has one, or on the PMD's own socket where the
 * queue is one (af_xdp, af_packet: port_wait.c), else in short timed sleeps
 * that grow while idle; apps and the slowpath wake it through an eventfd.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>
#include <rte_ethdev.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include "fastpath.h"
#include "port.h"

#define SLEEP_MIN_US 20
#define SLEEP_MAX_US 1000
/* a port without rx interrupts (memif, af_packet, af_xdp) is only looked
 * at between timed sleeps.  After a busy stretch that moved WARM_BYTES of
 * payload or more (a transfer: its ACKs, window updates or next segments
 * are due any moment) the sleeps stay at SLEEP_MIN_US for WARM_MS instead
 * of doubling, so a frame waits at most that long: 1 ms sleeps held a bulk
 * transfer's ACKs back and halved it, and cost a 1 MiB RPC each of its
 * window rounds.  After small messages they double as before: there, 20 us
 * wakeups mostly find nothing and take the CPU from the app beside us. */
#define WARM_MS 5
#define WARM_BYTES (64u << 10)
/* idle this long (no work at all), a port without rx interrupts is looked
 * at only every SLEEP_DEEP_US: a thousand wakeups a second were most of an
 * idle daemon's CPU.  The first frame after such a pause waits that long. */
#define DEEP_IDLE_MS 1000
#define SLEEP_DEEP_US 10000
/* sleeps in a row the port's socket ended with an error and nothing to
 * read before the core stops sleeping on it (port_wait.c) */
#define PORT_ERRS_MAX 8

struct dataplane *g_dp;

/* Send what the backlog holds, oldest first.  Return: frames sent. */
static uint32_t tx_backlog(struct fp_ctx *fp)
{
	uint32_t sent_total = 0;
	while (fp->bl_count) {
		uint32_t run = RTE_MIN(fp->bl_count, FP_TX_BACKLOG - fp->bl_head);
		uint16_t n = rte_eth_tx_burst(fp->dp->port_id, fp->txq, fp->backlog + fp->bl_head,
					      (uint16_t)RTE_MIN(run, UINT16_MAX));
		uint32_t bufs = n;
		if (fp->dp->tso) { /* the frames are the port's now: their counts stayed */
			bufs = 0;
			for (uint32_t i = 0; i < n; i++)
				bufs += fp->bl_segs[fp->bl_head + i];
		}
		fp->bl_bufs -= bufs;
		fp->bl_head = (fp->bl_head + n) % FP_TX_BACKLOG;
		fp->bl_count -= n;
		sent_total += n;
		if (n < run)
			break;
	}
	fp->cnt[DPC_TX_PKTS] += sent_total;
	return sent_total;
}

/*
 * With transmit offloads, let the PMD fix up what its NIC needs (some want
 * header fields other than DPDK's defaults).  A frame it refuses was built
 * wrong: it is dropped and counted, as a lost segment the flow recovers.
 */
static void tx_prepare(struct fp_ctx *fp)
{
	uint16_t done = 0;
	while (done < fp->ntx) {
		done += rte_eth_tx_prepare(fp->dp->port_id, fp->txq, fp->tx + done,
					   fp->ntx - done);
		if (done == fp->ntx)
			break;
		rte_pktmbuf_free(fp->tx[done]);
		memmove(fp->tx + done, fp->tx + done + 1, (fp->ntx - done - 1) * sizeof(fp->tx[0]));
		fp->ntx--;
		fp->cnt[DPC_TX_PREPARE_DROP]++;
	}
}

/*
 * Hand the batch to the port.  Frames it cannot take now wait in the
 * backlog instead of being dropped: a dropped segment costs its flow a
 * retransmission timeout, and a burst from thousands of flows easily
 * outruns one ring.  Only a full backlog drops (and counts) frames.
 */
void fp_tx_flush(struct fp_ctx *fp)
{
	uint16_t sent = 0;
	if (!fp->ntx && !fp->bl_count)
		return;
	if (fp->dp->tx_csum && fp->ntx)
		tx_prepare(fp);
	/* each frame passes through fp->tx once, backlogged or not */
	if (unlikely(fp->cap_mask) && fp->ntx)
		fp_capture(fp, fp->tx, fp->ntx, true);
	fp_tx_lock(fp);
	if (fp->bl_count)
		tx_backlog(fp);
	if (!fp->bl_count) /* never overtake older frames */
		for (int tries = 0; sent < fp->ntx && tries < 4; tries++)
			sent += rte_eth_tx_burst(fp->dp->port_id, fp->txq, fp->tx + sent,
						 fp->ntx - sent);
	fp_tx_unlock(fp);
	fp->cnt[DPC_TX_PKTS] += sent;
	for (uint16_t i = sent; i < fp->ntx; i++) {
		if (fp->bl_count == FP_TX_BACKLOG) {
			fp->cnt[DPC_TX_FULL] += fp->ntx - i;
			rte_pktmbuf_free_bulk(fp->tx + i, fp->ntx - i);
			break;
		}
		uint32_t slot = (fp->bl_head + fp->bl_count++) % FP_TX_BACKLOG;
		fp->bl_segs[slot] = (uint8_t)fp->tx[i]->nb_segs;
		fp->bl_bufs += fp->tx[i]->nb_segs;
		fp->backlog[slot] = fp->tx[i];
		fp->cnt[DPC_TX_DEFERRED]++;
	}
	fp->ntx = 0;
}

void fp_tx_enqueue(struct fp_ctx *fp, struct rte_mbuf *m)
{
	if (fp->ntx == FP_TX_BATCH)
		fp_tx_flush(fp);
	fp->tx[fp->ntx++] = m;
}

/* the work a burst collected for one flow: data, then a bare ACK only if
 * no data segment carried it, then app events */
void fp_run_flow(struct fp_ctx *fp, struct fp_flow *f)
{
	uint32_t pend = f->pend;
	if (!(f->flags & FPF_ACTIVE) || !fp_owns(fp, f)) {
		f->pend = 0;
		return;
	}
	if (pend & FPP_OUTPUT)
		tcp_output(fp, f);
	if (f->pend & FPP_ACK)
		tcp_send_ack(fp, f);
	fp_apps_post_events(fp, f, pend);
	f->pend = 0;
}

void fp_touch(struct fp_ctx *fp, struct fp_flow *f, uint32_t bits)
{
	if (!(f->pend & FPP_TOUCHED)) {
		if (fp->ntouched == FP_MAX_TOUCHED) { /* list full: do it now */
			f->pend |= bits;
			fp_run_flow(fp, f);
			return;
		}
		fp->touched[fp->ntouched++] = f->flow_id;
		f->pend |= FPP_TOUCHED;
	}
	f->pend |= bits;
}

/* @f may send again at f->pace_next_tsc: remember to come back */
void fp_pace_later(struct fp_ctx *fp, struct fp_flow *f)
{
	if (f->flags & FPF_PACE_WAIT)
		return;
	f->flags |= FPF_PACE_WAIT;
	fp->paced[fp->npaced++] = f->flow_id; /* at most one entry per flow */
}

/**
 * fp_tx_wait - should @f hold its data back because the port is backed up,
 * or because flows of its class or a better one already wait for it?  If
 * so, it waits in the core's scheduler (fp_qos.c), which runs it again
 * when its turn comes.
 */
bool fp_tx_wait(struct fp_ctx *fp, struct fp_flow *f)
{
	if (likely(!fp->sched.nwait && fp->bl_bufs < FP_TX_BACKLOG_HIGH))
		return false;
	if (fp->bl_bufs < FP_TX_BACKLOG_HIGH && !fp_qos_must_queue(fp, f))
		return false;
	fp_qos_enqueue(fp, f);
	return true;
}

static void unlist(uint32_t *list, uint32_t *n, uint32_t flow_id)
{
	for (uint32_t i = 0; i < *n; i++) {
		if (list[i] == flow_id) {
			list[i] = list[--*n];
			return;
		}
	}
}

/**
 * fp_flow_unlist - take a flow that is going away off the pacing and
 * blocked lists, so a reused flow id never inherits a stale entry.
 */
void fp_flow_unlist(struct fp_ctx *fp, struct fp_flow *f)
{
	if (f->flags & FPF_RPC)
		fp_rpc_flow_gone(fp, f);
	fp_flow_unlist_out(fp, f);
}

/**
 * fp_flow_unlist_out - @f leaves this core (bucket move): off the pacing
 * and blocked lists.  Its RPC framer state goes with it (fp_rpc_move_out()).
 */
void fp_flow_unlist_out(struct fp_ctx *fp, struct fp_flow *f)
{
	if (f->flags & FPF_PACE_WAIT)
		unlist(fp->paced, &fp->npaced, f->flow_id);
	if (f->flags & FPF_TX_BLOCKED)
		tq_sched_remove(&fp->sched, f->tenant, f->flow_id);
	f->flags &= ~(FPF_PACE_WAIT | FPF_TENANT_WAIT | FPF_TX_BLOCKED | FPF_DELACK);
}

/* no reason left to wait: neither its own pacing rate nor (when it waits
 * for its tenant's tokens) its tenant's rate is set any more */
static bool pace_lifted(struct fp_ctx *fp, const struct fp_flow *f)
{
	if (__atomic_load_n(&f->pacing_bps, __ATOMIC_RELAXED))
		return false;
	return !(f->flags & FPF_TENANT_WAIT) ||
	       !__atomic_load_n(&fp->dp->tenants[f->tenant].policy.rate_bps, __ATOMIC_RELAXED);
}

/*
 * Resume paced flows (their own rate, or their tenant's tokens) whose time
 * has come.  Return: the tsc of the earliest one still waiting (UINT64_MAX
 * if none), so the loop never sleeps past it.
 */
static uint64_t run_paced(struct fp_ctx *fp)
{
	uint64_t next = UINT64_MAX;
	for (uint32_t i = 0; i < fp->npaced;) {
		struct fp_flow *f = &fp->dp->flows[fp->paced[i]];
		if (!(f->flags & FPF_ACTIVE) || f->pace_next_tsc <= fp->now || pace_lifted(fp, f)) {
			f->flags &= ~(FPF_PACE_WAIT | FPF_TENANT_WAIT);
			fp->paced[i] = fp->paced[--fp->npaced];
			if (f->flags & FPF_ACTIVE)
				fp_touch(fp, f, FPP_OUTPUT);
			continue;
		}
		if (f->pace_next_tsc < next)
			next = f->pace_next_tsc;
		i++;
	}
	return next;
}

/*
 * Frames nobody asked for (DPM_RX_PKT: SYNs, stray segments, ARP) never
 * take the last quarter of the slowpath's ring: a flood of them must not
 * crowd out what the slowpath has to learn about installed flows.
 */
#define TO_SP_RESERVE (DP_INBOX_SIZE / 4)

/**
 * fp_to_sp_arg - send a message to the slowpath.  A frame (DPM_RX_PKT) is
 * dropped and counted when the ring is short of room; every other message
 * (a flow's FIN, RST, deletion, a bucket's move) is news the slowpath
 * must not miss, so one that finds the ring full waits on this core, with
 * those after it, until fp_sp_backlog_flush() gets them all in, in order.
 */
void fp_to_sp_arg(struct fp_ctx *fp, uint16_t type, uint32_t flow_id, uint16_t arg, void *ptr)
{
	struct dataplane *dp = fp->dp;
	fp->sp_kick_pending = true;
	if (type == DPM_RX_PKT) {
		if (fp->nsp_backlog || rte_ring_free_count(dp->to_sp) <= TO_SP_RESERVE ||
		    dp_send_to_sp(dp, type, flow_id, arg, ptr)) {
			fp->cnt[DPC_RX_DROP_NOFLOW]++;
			rte_pktmbuf_free(ptr);
		}
		return;
	}
	if (!fp->nsp_backlog && !dp_send_to_sp(dp, type, flow_id, arg, ptr))
		return;
	if (fp->nsp_backlog == fp->sp_backlog_cap) {
		uint32_t cap = fp->sp_backlog_cap ? fp->sp_backlog_cap * 2 : 256;
		struct dp_msg *nb = rte_realloc(fp->sp_backlog, sizeof(*nb) * cap, 0);
		if (!nb)
			rte_panic("fastpath core %u: out of memory keeping a slowpath message\n",
				  fp->core);
		fp->sp_backlog = nb;
		fp->sp_backlog_cap = cap;
	}
	fp->cnt[DPC_SP_BACKLOG]++;
	fp->sp_backlog[fp->nsp_backlog++] =
		(struct dp_msg){ .type = type, .arg = arg, .flow_id = flow_id, .ptr = ptr };
}

void fp_to_sp(struct fp_ctx *fp, uint16_t type, uint32_t flow_id, void *ptr)
{
	fp_to_sp_arg(fp, type, flow_id, 0, ptr);
}

/** fp_sp_backlog_flush - move what waits for the slowpath's ring into it */
void fp_sp_backlog_flush(struct fp_ctx *fp)
{
	uint32_t n = rte_ring_mp_enqueue_burst_elem(fp->dp->to_sp, fp->sp_backlog,
						    sizeof(struct dp_msg), fp->nsp_backlog, NULL);
	if (!n)
		return;
	fp->nsp_backlog -= n;
	memmove(fp->sp_backlog, fp->sp_backlog + n, fp->nsp_backlog * sizeof(struct dp_msg));
	fp->sp_kick_pending = true;
}

void fp_run_touched(struct fp_ctx *fp)
{
	if (unlikely(fp->qos_classes) && fp->ntouched > 1) {
		fp_qos_run_touched(fp);
		return;
	}
	struct fp_flow *flows = fp->dp->flows;

	/* as rx_burst(): each flow's lines two ahead, its ring line one
	 * ahead.  fp->ntouched is read each time: running a flow may touch
	 * another. */
	for (uint32_t i = 0; i < fp->ntouched && i < FP_PREFETCH_AHEAD; i++)
		fp_flow_prefetch(&flows[fp->touched[i]]);
	for (uint32_t i = 0; i < fp->ntouched; i++) {
		if (i + FP_PREFETCH_AHEAD < fp->ntouched)
			fp_flow_prefetch(&flows[fp->touched[i + FP_PREFETCH_AHEAD]]);
		if (i + 1 < fp->ntouched)
			fp_flow_prefetch_tx(&flows[fp->touched[i + 1]]);
		fp_run_flow(fp, &flows[fp->touched[i]]);
	}
	fp->ntouched = 0;
}

static unsigned poll_messages(struct fp_ctx *fp)
{
	struct dp_msg msgs[32];
	unsigned n = rte_ring_dequeue_burst_elem(fp->self->inbox, msgs, sizeof(msgs[0]), 32, NULL);
	for (unsigned i = 0; i < n; i++)
		fp_handle_msg(fp, &msgs[i]);
	return n;
}

/**
 * fp_drain_inputs - process everything waiting in this core's inbox and
 * port queue now, and send the resulting frames (a bucket moving out must
 * leave nothing of its flows behind).
 */
void fp_drain_inputs(struct fp_ctx *fp)
{
	for (int i = 0; i < 64 && fp_poll_port(fp); i++)
		;
	for (int i = 0; i < 1024 && poll_messages(fp); i++)
		;
	fp_run_touched(fp);
	fp_tx_flush(fp);
}

static void kick_slowpath(struct fp_ctx *fp)
{
	if (!fp->sp_kick_pending)
		return;
	fp->sp_kick_pending = false;
	uint64_t one = 1;
	if (write(fp->dp->sp_kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		fp->cnt[DPC_EVQ_OVERFLOW]++;
}

/*
 * Block until something may have arrived.  The sleeping flag is published
 * before the final check, and every producer checks it after publishing
 * its work, so a wakeup is never lost (the classic eventfd handshake).
 * @timers: a timer of the loop is due (paced flows, owed ACKs, RPC
 * deadlines, the slowpath backlog) and @sleep_us is already bounded by it.
 * The sleep lasts at most @sleep_us, unless nothing is due on a core that
 * every arrival wakes (the port's interrupt or socket, or no port queue at
 * all: a kick): that core sleeps up to 100 ms, for timers only.
 */
static void fp_block(struct fp_ctx *fp, uint32_t sleep_us, bool timers)
{
	struct dataplane *dp = fp->dp;
	struct dp_core *self = fp->self;
	__atomic_store_n(&self->sleeping, 1, __ATOMIC_SEQ_CST);
	fp_apps_set_sleeping(fp, 1);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	if (rte_ring_count(self->inbox) == 0 && !fp_apps_have_work(fp) && !dp->stop) {
		struct pollfd pfd[3] = {
			{ .fd = self->kick_fd, .events = POLLIN },
			{ .fd = self->app_kick_fd, .events = POLLIN },
			{ .fd = fp->rx_intr_fd, .events = POLLIN },
		};
		int nfds = 2;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)sleep_us * 1000 };
		bool intr = fp->rx_intr_fd >= 0 &&
			    rte_eth_dev_rx_intr_enable(dp->port_id, fp->rxq) == 0;
		/* a socket whose frames the PMD could not take last time
		 * (no mbufs) stays readable: sleep on timers until it can */
		bool sock = !intr && fp->rx_sock_fd >= 0 && !fp->port_stuck;
		bool untimed = !timers && !fp->npaced && !fp->sched.nwait && !fp->nout &&
			       !fp->delack_count;
		if (intr || sock) {
			nfds = 3;
			if (sock)
				pfd[2].fd = fp->rx_sock_fd; /* readable while its ring holds a frame */
			if (untimed) /* woken by the port: wake for timers only */
				ts.tv_nsec = 100 * 1000 * 1000;
		} else if (fp->rxq == UINT16_MAX && untimed) {
			ts.tv_nsec = 100 * 1000 * 1000; /* no port queue: every wakeup is a kick */
		}
		ppoll(pfd, nfds, &ts, NULL);
		fp->slept = true;
		if (nfds == 3 && (pfd[2].revents & POLLIN)) {
			fp->cnt[DPC_PORT_WAKEUPS]++;
			fp->port_woke = true;
		}
		/* another core's send may have read the error first: only a
		 * socket that keeps erring with nothing to read goes */
		if (!sock || !(pfd[2].revents & (POLLERR | POLLHUP | POLLNVAL)) ||
		    port_wait_error(fp->rx_sock_fd, fp->core, pfd[2].revents)) {
			fp->port_errs = 0;
		} else if (++fp->port_errs >= PORT_ERRS_MAX) {
			fprintf(stderr, "fastpathd: core %u: the port's socket keeps ending sleeps "
				"with nothing to read: sleeping on timers from now on\n", fp->core);
			fp->rx_sock_fd = -1;
		}
		if (intr) {
			rte_eth_dev_rx_intr_disable(dp->port_id, fp->rxq);
			if (pfd[2].revents & POLLIN) {
				uint64_t v;
				if (read(fp->rx_intr_fd, &v, sizeof(v)) < 0)
					v = 0;
			}
		}
		if (pfd[0].revents & POLLIN) {
			uint64_t v;
			if (read(self->kick_fd, &v, sizeof(v)) < 0)
				v = 0;
			fp->kicked = true; /* maybe an idle app: fp_apps_poll() looks */
		}
		if (pfd[1].revents & POLLIN) {
			/* an app that keeps sending only keeps the core awake,
			 * as its doorbells would */
			dp_kicks_take(self->app_kick_fd);
			fp->kicked = true;
		}
	}
	fp_apps_set_sleeping(fp, 0);
	__atomic_store_n(&self->sleeping, 0, __ATOMIC_RELEASE);
}

/**
 * fp_ctx_create - a core's private state: its flow table shard, transmit
 * batch and backlog, lists, and the buckets it owns at start.
 */
struct fp_ctx *fp_ctx_create(struct dataplane *dp, uint32_t core)
{
	dp_role_set(DP_ROLE_FP, (uint16_t)core); /* the creator sets the core up */
	struct fp_ctx *fp = rte_zmalloc("fp_ctx", sizeof(*fp), RTE_CACHE_LINE_SIZE);
	if (!fp)
		return NULL;
	fp->dp = dp;
	fp->core = core;
	fp->self = &dp->core[core];
	fp->cnt = fp->self->counters;
	fp->rxq = fp->self->rxq;
	fp->txq = fp->self->txq;
	fp->rx_intr_fd = -1;
	fp->rx_sock_fd = -1;
	fp->paced = rte_zmalloc("fp_paced", sizeof(uint32_t) * dp->cfg.max_flows, 0);
	fp->rpc_stalled = rte_zmalloc("fp_rpc_stalled", sizeof(uint32_t) * dp->cfg.max_flows, 0);
	fp->backlog = rte_zmalloc("fp_tx_backlog", sizeof(*fp->backlog) * FP_TX_BACKLOG, 0);
	fp->out = rte_zmalloc("fp_moves", sizeof(*fp->out) * DP_STEER_BUCKETS, 0);
	fp->apps = rte_zmalloc("fp_apps", sizeof(*fp->apps) * dp->max_apps, 0);
	fp->active = rte_zmalloc("fp_apps_active", sizeof(*fp->active) * dp->max_apps, 0);
	fp->kick = rte_zmalloc("fp_apps_kick", sizeof(*fp->kick) * dp->max_apps, 0);
	fp->qfull = rte_zmalloc("fp_rpc_qfull", sizeof(*fp->qfull) * dp->max_apps, 0);
	fp->room_apps = rte_zmalloc("fp_rpc_room", sizeof(*fp->room_apps) * dp->max_apps, 0);
	fp->delack = rte_zmalloc("fp_delack", sizeof(*fp->delack) * FP_DELACK_QUEUE, 0);
	fp->delack_cycles = dp->tsc_hz / 1000000 * dp->cfg.delayed_ack_us;
	fp->app_idle_tsc = dp->tsc_hz / 100; /* 10 ms */
	if (!fp->paced || !fp->rpc_stalled || fp_qos_init(fp) || !fp->backlog || !fp->out || !fp->apps ||
	    !fp->active || !fp->kick || !fp->qfull || !fp->room_apps || !fp->delack || fp_rpc_watch_init(fp) ||
	    flow_table_init(fp)) {
		fp_ctx_destroy(fp);
		return NULL;
	}
	for (uint32_t b = 0; b < DP_STEER_BUCKETS; b++)
		fp->owns[b] = dp->steer[b] == core;
	return fp;
}

void fp_ctx_destroy(struct fp_ctx *fp)
{
	if (!fp)
		return;
	fp_tx_flush(fp);
	while (fp->bl_count) {
		rte_pktmbuf_free(fp->backlog[fp->bl_head]);
		fp->bl_head = (fp->bl_head + 1) % FP_TX_BACKLOG;
		fp->bl_count--;
	}
	fp->bl_bufs = 0;
	for (uint32_t i = 0; i < fp->npark; i++)
		if (fp->park[i].msg.type == DPM_RX_FWD || fp->park[i].msg.type == DPM_RX_REINJECT)
			rte_pktmbuf_free(fp->park[i].msg.ptr);
	rte_hash_free(fp->hash);
	rte_free(fp->park);
	rte_free(fp->sp_backlog);
	rte_free(fp->out);
	rte_free(fp->backlog);
	fp_qos_fini(fp);
	rte_free(fp->paced);
	rte_free(fp->rpc_stalled);
	rte_free(fp->apps);
	rte_free(fp->active);
	rte_free(fp->kick);
	rte_free(fp->qfull);
	rte_free(fp->room_apps);
	rte_free(fp->delack);
	fp_rpc_watch_fini(fp);
	rte_free(fp);
}

/*
 * Where a fastpath thread runs: the core-th CPU of [fastpath] cpus, else
 * any CPU of the EAL lcores ([eal] lcores; the threads inherit only the
 * main lcore's CPU from EAL).
 */
static void pin_thread(struct dataplane *dp, uint32_t core)
{
	const char *p = dp->cfg.fp_cpus;
	if (!*p) {
		cpu_set_t set;
		unsigned lc;
		CPU_ZERO(&set);
		RTE_LCORE_FOREACH(lc) {
			rte_cpuset_t cs = rte_lcore_cpuset(lc);
			CPU_OR(&set, &set, &cs);
		}
		if (CPU_COUNT(&set))
			pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		return;
	}
	for (uint32_t i = 0; *p; i++) {
		char *end;
		unsigned long cpu = strtoul(p, &end, 10);
		if (i == core) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
				fprintf(stderr, "fastpathd: core %u: cannot pin to CPU %lu\n", core, cpu);
			return;
		}
		p = *end ? end + 1 : end;
	}
}

/* cycles from @from to @to; none if the thread moved to a CPU whose TSC
 * is behind (the monitor's busy fraction must stay within 0..1) */
static inline uint64_t tsc_since(uint64_t from, uint64_t to)
{
	return (int64_t)(to - from) > 0 ? to - from : 0;
}

static void core_loop(struct fp_ctx *fp)
{
	struct dataplane *dp = fp->dp;
	struct dp_core *self = fp->self;
	dp_role_set(DP_ROLE_FP, (uint16_t)fp->core);
	/* PMDs without rx interrupts complain here; that is expected */
	if (fp->rxq != UINT16_MAX) {
		uint32_t level = rte_log_get_global_level();
		rte_log_set_global_level(RTE_LOG_EMERG);
		int fd = rte_eth_dev_rx_intr_ctl_q_get_fd(dp->port_id, fp->rxq);
		rte_log_set_global_level(level);
		if (fd >= 0)
			fp->rx_intr_fd = fd;
		else
			fp->rx_sock_fd = port_rx_wait_fd(dp);
		fprintf(stderr, "fastpathd: core %u: when idle, sleeps on %s\n", fp->core,
			fd >= 0 ? "the port's rx interrupt" :
			fp->rx_sock_fd >= 0 ? "the port's socket" :
			"timers (the port has no rx wakeup: up to 10 ms after a quiet second)");
	}
	if (dp->cfg.fp_cpus[0] || fp->core)
		pin_thread(dp, fp->core);
	/* sleeps of SLEEP_MIN_US mean that long: the default 50 us of timer
	 * slack would more than triple them */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	/* cores that may share a CPU must not spin against each other: the
	 * one with the work would wait for the scheduler's time slice */
	bool spin_yields = dp->ncores > 1 && !dp->cfg.busy_poll;

	uint64_t idle_cycles = dp->tsc_hz / 1000000 * dp->cfg.idle_poll_us;
	uint64_t deep_idle_cycles = dp->tsc_hz / 1000 * DEEP_IDLE_MS;
	bool port_wakes = fp->rx_intr_fd >= 0 || fp->rx_sock_fd >= 0;
	uint64_t warm_cycles = port_wakes ? 0 : dp->tsc_hz / 1000 * WARM_MS;
	uint64_t moved_mark = 0;	/* payload bytes when the last gap began */
	bool in_gap = false, warm_gap = false;
	uint64_t last_work = rte_rdtsc(), round_start = last_work;
	uint32_t sleep_us = SLEEP_MIN_US;

	while (!dp->stop) {
		fp->now = rte_rdtsc();
		if (unlikely(__atomic_load_n(&dp->tenants_gen, __ATOMIC_RELAXED) != fp->tenants_gen))
			fp_qos_refresh(fp);
		/* captures: one load per round; see struct dp_capture */
		fp->cap_mask = __atomic_load_n(&dp->capture_mask, __ATOMIC_ACQUIRE);
		if (unlikely(fp->cap_mask))
			fp_capture_tenants(fp);
		unsigned work = fp_poll_port(fp);
		if (work)
			fp->port_stuck = false;
		else if (fp->port_woke)
			fp->port_stuck = true; /* woken for frames it could not take */
		fp->port_woke = false;
		work += poll_messages(fp);
		fp_apps_poll(fp);
		if (fp->nrpc_stalled)
			fp_rpc_poll(fp);
		uint64_t timer_due = fp->npaced ? run_paced(fp) : UINT64_MAX;
		if (fp->delack_count) {
			uint64_t ack_due = tcp_delack_run(fp);
			if (ack_due < timer_due)
				timer_due = ack_due;
		}
		if (fp->rpc_deadlines.count || fp->rpc_heap_waits.count) {
			uint64_t watch_due = fp_rpc_watch_run(fp);
			if (watch_due < timer_due)
				timer_due = watch_due;
		}
		work += fp->ntouched;
		fp_run_touched(fp);
		/* flows waiting for the port, in class and weight order; the
		 * backlog must be down to a quarter first (hysteresis) */
		if (fp->sched.nwait && fp->bl_bufs <= FP_TX_BACKLOG_HIGH / 4 &&
		    fp->sched_due <= fp->now)
			work += fp_qos_run(fp);
		if (fp->sched.nwait && fp->sched_due < timer_due)
			timer_due = fp->sched_due; /* the port's tokens are due then */
		if (fp->nout)
			fp_moves_poll(fp);
		uint32_t backlog_before = fp->bl_count;
		fp_tx_flush(fp);
		if (fp->ndeferred || fp->kick_cores)
			work += fp_steer_flush(fp);
		unsigned woken = fp_apps_kick(fp);
		if (unlikely(fp->nsp_backlog)) {
			fp_sp_backlog_flush(fp);
			/* the slowpath drains its ring on its own: look again soon */
			if (fp->nsp_backlog && timer_due > fp->now + dp->tsc_hz / 1000)
				timer_due = fp->now + dp->tsc_hz / 1000;
		}
		kick_slowpath(fp);
		/* the round is over: no steering decision of it is in flight,
		 * but for the messages still deferred (their rounds' epochs
		 * are published first: grace_over() reads them after this) */
		__atomic_store_n(&self->deferred_epoch,
				 fp->ndeferred ? fp->deferred[0].epoch : UINT64_MAX,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&self->epoch, self->epoch + 1, __ATOMIC_RELEASE);
		uint64_t end = rte_rdtsc();
		if (work)
			self->busy_tsc += tsc_since(round_start, end);
		else
			self->idle_tsc += tsc_since(round_start, end);
		round_start = end;
		/* an app we just woke often waits for this very CPU (a daemon
		 * sharing cores with its apps): let it run now instead of after
		 * the idle poll; on a dedicated core this returns at once */
		if (woken && !dp->cfg.busy_poll)
			sched_yield();
		if (fp->bl_count) {
			/* the port is backed up: retry soon, never sleep on it,
			 * and give the CPU away while it makes no progress */
			if (!work && fp->bl_count >= backlog_before)
				sched_yield();
			last_work = fp->now;
			continue;
		}

		if (work || fp->nout || dp->cfg.busy_poll) {
			if (work)
				last_work = fp->now;
			sleep_us = SLEEP_MIN_US;
			in_gap = false;
			continue;
		}
		if (fp->now - last_work < idle_cycles || timer_due <= fp->now ||
		    timer_due - fp->now < idle_cycles) {
			/* a paced segment or an owed ACK is due soon: no sleep is that short */
			if (spin_yields)
				sched_yield();
			else
				rte_pause();
			continue;
		}
		if (timer_due != UINT64_MAX) {
			uint64_t us = (timer_due - fp->now) * 1000000 / dp->tsc_hz;
			if (us < sleep_us)
				sleep_us = (uint32_t)us;
		}
		if (!in_gap) {
			/* the gap's first sleep: was the stretch before it a transfer? */
			uint64_t moved = fp->cnt[DPC_RX_BYTES] + fp->cnt[DPC_TX_BYTES];

			warm_gap = warm_cycles && moved - moved_mark >= WARM_BYTES;
			moved_mark = moved;
			in_gap = true;
		}
		fp_block(fp, sleep_us, timer_due != UINT64_MAX);
		round_start = rte_rdtsc();
		self->idle_tsc += tsc_since(end, round_start);
		if (warm_gap && fp->now - last_work < warm_cycles)
			sleep_us = SLEEP_MIN_US;
		else if (sleep_us < SLEEP_MAX_US ||
			 (sleep_us < SLEEP_DEEP_US && fp->now - last_work > deep_idle_cycles))
			sleep_us = sleep_us * 2 > SLEEP_DEEP_US ? SLEEP_DEEP_US : sleep_us * 2;
	}
}

struct core_arg {
	struct dataplane *dp;
	struct fp_ctx *fp;
};

static void *core_thread(void *arg)
{
	struct fp_ctx *fp = arg;
	char name[16];
	snprintf(name, sizeof(name), "fastpath%u", fp->core);
	pthread_setname_np(pthread_self(), name);
	rte_thread_register(); /* a per-lcore mempool cache for this thread */
	core_loop(fp);
	rte_thread_unregister();
	return NULL;
}

/**
 * fp_run - run every fastpath core: core 0 on the calling thread, the
 * others on threads of their own; returns when dp->stop is set and all
 * have finished.
 */
int fp_run(struct dataplane *dp)
{
	struct fp_ctx *ctx[DP_MAX_CORES] = { 0 };
	pthread_t tid[DP_MAX_CORES];
	int rc = 0;

	for (uint32_t k = 0; k < dp->ncores; k++)
		if (!(ctx[k] = fp_ctx_create(dp, k)))
			rc = -ENOMEM;
	uint32_t started = 1;
	for (uint32_t k = 1; !rc && k < dp->ncores; k++, started++)
		if (pthread_create(&tid[k], NULL, core_thread, ctx[k]))
			rc = -errno;
	if (rc) {
		dp->stop = 1;
	} else {
		/* core 0 keeps the process's name (ps, pidof, /proc/PID/comm) */
		core_loop(ctx[0]);
	}
	for (uint32_t k = 1; k < started; k++) {
		dp_kick_core(dp, k);
		pthread_join(tid[k], NULL);
	}
	for (uint32_t k = 0; k < dp->ncores; k++)
		fp_ctx_destroy(ctx[k]);
	return rc;
}

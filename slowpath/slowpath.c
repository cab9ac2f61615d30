// SPDX-License-Identifier: MIT
/*
 * slowpath.c - the slowpath thread: a libev loop over the control socket,
 * app doorbells, the fastpath's message ring and a timer tick.
 *
 * The tick is 1 ms while any connection exists (retransmission timers,
 * congestion control, handshake and TIME_WAIT deadlines) and 100 ms when
 * the daemon is empty, so an idle daemon costs nothing measurable.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <rte_cycles.h>
#include <rte_malloc.h>

#include <rte_lcore.h>

#include "slowpath.h"
#include "sp_internal.h"
#include "ctl_sock.h"
#include "metrics_sp.h"

#define TICK_BUSY 0.001
#define TICK_IDLE 0.1

static pthread_t sp_thread;

uint64_t sp_ms_to_tsc(struct sp *sp, uint64_t ms)
{
	return ms * sp->dp->tsc_hz / 1000;
}

static void rx_packet(struct sp *sp, struct rte_mbuf *m)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t len = rte_pktmbuf_data_len(m);
	int cls = pkt_classify(frame, len);
	if ((cls == PKT_PROTO_TCP || cls == PKT_PROTO_ICMP) && pkt_ip_fragment(frame, len)) {
		sp_frag_rx(sp, m); /* as the fastpath sorted it (fp_rx.c) */
		return;
	}
	switch (cls) {
	case PKT_ETHTYPE_ARP:
		sp_arp_rx(sp, m);
		return;
	case PKT_PROTO_ICMP: /* only ICMP errors about our TCP come here */
		sp_icmp_err_rx(sp, m);
		return;
	}
	/* the fastpath validated it already (checksums included) */
	struct pkt_tcp p;
	if (pkt_parse_tcp(frame, len, false, &p) != PKT_OK) {
		rte_pktmbuf_free(m);
		return;
	}
	sp_conn_rx(sp, m, &p);
}

static void drain_fastpath(struct sp *sp)
{
	struct dp_msg msgs[64];
	unsigned n;
	do {
		n = sp_fp_recv(sp, msgs, 64);
		sp->now = rte_rdtsc();
		for (unsigned i = 0; i < n; i++) {
			struct dp_msg *m = &msgs[i];
			switch (m->type) {
			case DPM_RX_PKT:
				rx_packet(sp, m->ptr);
				break;
			case DPM_APP_DEL_DONE:
				sp_app_flow_gone(sp, m->ptr);
				break;
			case DPM_FLOW_MOVE_DONE:
				sp_handoff_move_done(sp, m->ptr, m->flow_id);
				break;
			case DPM_BUCKET_MOVED:
				sp_cores_moved(sp, m->arg, m->flow_id);
				break;
			default:
				sp_conn_fp_event(sp, m->type, m->flow_id);
				break;
			}
		}
	} while (n == 64);
}

static void on_kick(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sp *sp = w->data;
	uint64_t v;
	if (read(sp->dp->sp_kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	drain_fastpath(sp);
	sp_region_lost_check(sp); /* the SIGBUS guard kicks too */
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sp *sp = w->data;
	sp->now = rte_rdtsc();
	drain_fastpath(sp); /* never act on timers with stale news */
	sp_fp_outbox_flush(sp);
	sp_conn_tick(sp);
	sp_synq_tick(sp);
	sp_handoff_tick(sp);
	sp_path_pass_tick(sp);
	sp_frag_tick(sp);
	sp_cores_tick(sp);
	sp_slots_cool(sp);
	sp_region_lost_check(sp);
	if (sp->stop_phase)
		sp_stop_tick(sp);
	double want = sp->nconns || sp_synq_count(sp) || sp->cores.moving ||
		      sp_fp_outbox_len(sp) ? TICK_BUSY : TICK_IDLE;
	if (w->repeat != want) {
		w->repeat = want;
		ev_timer_again(loop, w);
	}
}

/*
 * The slowpath routes flow messages by dp->steer, so a bucket move waits
 * for it as for a core (fastpathd/fp_steer.c): it has finished the loop
 * iteration in which it may have read the old entry once its epoch moves
 * or it blocks.
 */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct sp *sp = w->data;
	sp_fp_outbox_flush(sp); /* routes by dp->steer: before the mark */
	if (sp_fp_outbox_len(sp) && sp->tick_w.repeat != TICK_BUSY) {
		sp->tick_w.repeat = TICK_BUSY; /* come back for the rest soon */
		ev_timer_again(loop, &sp->tick_w);
	}
	sp_fp_loop_mark(sp, true);
}

static void on_check(struct ev_loop *loop, ev_check *w, int revents)
{
	sp_fp_loop_mark(w->data, false);
}

static void on_stop(struct ev_loop *loop, ev_async *w, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void on_drain(struct ev_loop *loop, ev_async *w, int revents)
{
	sp_stop_begin(w->data);
}

/* SIGHUP: the tenants of the config file, again (tenant_reload.c) */
static void on_reload(struct ev_loop *loop, ev_async *w, int revents)
{
	struct sp *sp = w->data;
	char err[512];

	sp->now = rte_rdtsc();
	if (sp_tenants_reload(sp, err, sizeof(err)))
		fprintf(stderr, "fastpathd: reload: %s; keeping the previous configuration\n", err);
}

int sp_reload_request(struct dataplane *dp)
{
	struct sp *sp = __atomic_load_n(&dp->sp_priv, __ATOMIC_ACQUIRE);
	if (!sp || !sp->drain_w.data)
		return -1;
	ev_async_send(sp->loop, &sp->reload_w); /* async-signal-safe (libev) */
	return 0;
}

int sp_stop_request(struct dataplane *dp)
{
	struct sp *sp = __atomic_load_n(&dp->sp_priv, __ATOMIC_ACQUIRE);
	if (!sp || !sp->drain_w.data)
		return -1;
	ev_async_send(sp->loop, &sp->drain_w); /* async-signal-safe (libev) */
	return 0;
}

static void *sp_main(void *arg)
{
	struct sp *sp = arg;

	dp_role_set(DP_ROLE_SP, 0);
	/* an lcore id, so the mbufs it frees and allocates go through a
	 * per-lcore mempool cache: uncached, each is a multi-producer ring
	 * operation, and a ring producer preempted halfway (more threads
	 * than CPUs) makes every other one spin until it runs again */
	rte_thread_register();
	ev_run(sp->loop, 0);
	rte_thread_unregister();
	return NULL;
}

/* the algorithms are the slowpath's: config.c knows only a string */
int sp_config_check(const struct bp_config *c, char *err, size_t errlen)
{
	if (!cc_find(c->cc)) {
		char names[128];

		snprintf(err, errlen, "[tcp] cc: '%s' is not available (available: %s)", c->cc,
			 cc_names(names, sizeof(names)));
		return -1;
	}
	if (c->metrics_listen[0]) {
		struct sockaddr_storage ss;
		socklen_t sl;

		if (sp_metrics_addr(c->metrics_listen, c->metrics_allow_remote, &ss, &sl, err, errlen))
			return -1;
	}
	return 0;
}

/* everything of sp_start() after the checks and the region guard */
static int start_slowpath(struct dataplane *dp, char *err, size_t errlen)
{
	/* the caller builds the slowpath's state before the thread takes it */
	dp_role_set(DP_ROLE_SP, 0);
	struct sp *sp = rte_zmalloc("sp", sizeof(*sp), RTE_CACHE_LINE_SIZE);
	if (!sp) {
		snprintf(err, errlen, "out of memory for the slowpath");
		return -1;
	}
	sp->dp = dp;
	dp->sp_priv = sp;
	sp->now = rte_rdtsc();
	sp_arp_init(sp);
	sp_pmtu_init(sp);
	sp_isn_init(sp);
	sp->cc = cc_find(dp->cfg.cc);
	sp->loop = ev_loop_new(EVFLAG_AUTO);
	if (!sp->loop || sp_conn_init(sp) || sp_synq_init(sp)) {
		snprintf(err, errlen, "cannot set up the slowpath for %u flows; lower [daemon] "
			 "max_flows", dp->cfg.max_flows);
		return -1;
	}
	if (sp_tenants_init(sp, err, errlen))
		return -1;
	if (sp_attach_init(sp, err, errlen)) {
		/* e.g. another daemon serves the socket: leave it alone (no
		 * sp_attach_fini, which would unlink its socket), free ours */
		sp_synq_fini(sp);
		sp_conn_fini(sp);
		sp_tenants_fini(sp);
		ev_loop_destroy(sp->loop);
		dp->sp_priv = NULL;
		rte_free(sp);
		return -1;
	}
	if (sp_metrics_start(sp, err, errlen)) {
		sp_attach_fini(sp);
		sp_synq_fini(sp);
		sp_conn_fini(sp);
		sp_tenants_fini(sp);
		ev_loop_destroy(sp->loop);
		dp->sp_priv = NULL;
		rte_free(sp);
		return -1;
	}

	sp_cores_init(sp);
	ev_prepare_init(&sp->prepare_w, on_prepare);
	sp->prepare_w.data = sp;
	ev_prepare_start(sp->loop, &sp->prepare_w);
	ev_check_init(&sp->check_w, on_check);
	sp->check_w.data = sp;
	ev_check_start(sp->loop, &sp->check_w);
	ev_io_init(&sp->kick_w, on_kick, dp->sp_kick_fd, EV_READ);
	sp->kick_w.data = sp;
	ev_io_start(sp->loop, &sp->kick_w);
	ev_timer_init(&sp->tick_w, on_tick, TICK_IDLE, TICK_IDLE);
	sp->tick_w.data = sp;
	ev_timer_start(sp->loop, &sp->tick_w);
	ev_async_init(&sp->stop_w, on_stop);
	ev_async_start(sp->loop, &sp->stop_w);
	ev_async_init(&sp->drain_w, on_drain);
	ev_async_start(sp->loop, &sp->drain_w);
	ev_async_init(&sp->reload_w, on_reload);
	sp->reload_w.data = sp;
	ev_async_start(sp->loop, &sp->reload_w);
	__atomic_store_n(&sp->drain_w.data, sp, __ATOMIC_RELEASE);

	if (pthread_create(&sp_thread, NULL, sp_main, sp)) {
		snprintf(err, errlen, "cannot start the slowpath thread");
		return -1;
	}
	pthread_setname_np(sp_thread, "slowpath");
	return 0;
}

int sp_start(struct dataplane *dp, char *err, size_t errlen)
{
	if (sp_config_check(&dp->cfg, err, errlen) || sp_region_init(dp, err, errlen))
		return -1;
	if (dp->cfg.app_hugepages &&
	    sp_region_guard_init(dp->max_apps, dp->sp_kick_fd, err, errlen))
		return -1;
	if (start_slowpath(dp, err, errlen)) {
		sp_region_guard_fini();
		return -1;
	}
	return 0;
}

void sp_stop(struct dataplane *dp)
{
	struct sp *sp = dp->sp_priv;
	if (!sp)
		return;
	ev_async_send(sp->loop, &sp->stop_w);
	pthread_join(sp_thread, NULL);
	dp_role_set(DP_ROLE_SP, 0); /* the caller tears the slowpath's state down */
	sp_fp_outbox_fini(sp);
	sp_handoff_fini(sp);
	sp_metrics_stop(sp);
	sp_attach_fini(sp);
	sp_region_guard_fini();
	sp_capture_fini(sp);
	sp_frag_fini(sp);
	sp_conn_fini(sp);
	sp_synq_fini(sp);
	sp_tenants_fini(sp);
	ev_loop_destroy(sp->loop);
	dp->sp_priv = NULL;
	rte_free(sp);
}

// SPDX-License-Identifier: MIT
/*
 * A flood of segments nobody asked for (SYNs from many spoofed sources)
 * fills the fastpath's ring to the slowpath.  What the slowpath must learn
 * about installed flows meanwhile (an RST received, a flow deleted) is
 * never lost with them: aborted flows are all freed, reset flows are all
 * known to be reset.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include "harness.h"
#include "sp_internal.h"

#define PEER_ISN 7000000u
#define NFLOWS 10

static void big_pool(struct bp_config *c)
{
	c->invalid_ratelimit_ms = 0;
	c->mbufs = 65535;
}
static void start_big(void) { h_start_with(big_pool); }

TestSuite(sp_ring_flood, .init = start_big, .fini = h_stop, .timeout = 60);

static volatile int flood_stop, stalled;

/* every thread but the fastpath core's waits here while @stalled: the
 * slowpath stops draining its ring, as a busy one would */
static void on_stall(int sig)
{
	(void)sig;
	if (pthread_equal(pthread_self(), H.fp_thread))
		return;
	struct timespec ms = { 0, 1000000 };
	while (stalled)
		nanosleep(&ms, NULL);
}

static void stall_others(void)
{
	signal(SIGUSR2, on_stall);
	stalled = 1;
	DIR *d = opendir("/proc/self/task");
	cr_assert(d);
	for (struct dirent *e; (e = readdir(d));) {
		pid_t tid = atoi(e->d_name);
		if (tid > 0 && tid != (pid_t)syscall(SYS_gettid))
			syscall(SYS_tgkill, getpid(), tid, SIGUSR2);
	}
	closedir(d);
}
static volatile int resets_wanted; /* RSTs (for flows 0..) the flood sends */

static void inject_raw(const struct tcp_hdr_spec *h)
{
	uint8_t frame[64] = { 0 };
	pkt_write_tcp(frame, h, 0);
	struct rte_mbuf *m;
	while (!(m = rte_pktmbuf_alloc(H.dp.pool))) {
		if (flood_stop)
			return;
		usleep(10);
	}
	memcpy(rte_pktmbuf_append(m, 60), frame, 60);
	while (rte_ring_enqueue(H.rx, m))
		if (flood_stop) {
			rte_pktmbuf_free(m);
			return;
		}
}

/* SYNs from 50,000 ports of ever new sources, with an RST at RCV.NXT for
 * flow k woven in when the test asks for it */
static void *flood(void *arg)
{
	(void)arg;
	rte_thread_register(); /* a mempool cache, as the fastpath's threads have */
	struct tcp_hdr_spec h = {
		.src_mac = H.peer_mac, .dst_mac = H.our_mac, .saddr = H.peer_ip,
		.daddr = H.our_ip, .dport = 9200, .wnd = 100, .flags = TCPF_SYN,
		.opt_wscale = -1, .opt_mss = 1460,
	};
	int resets_sent = 0;
	for (uint32_t n = 0; !flood_stop; n++) {
		h.sport = (uint16_t)(1000 + n % 50000);
		h.saddr = H.peer_ip ^ htonl((n / 50000 + 1) << 8);
		h.seq = n;
		inject_raw(&h);
		if (resets_sent < resets_wanted) {
			struct tcp_hdr_spec r = h;
			r.saddr = H.peer_ip;
			r.sport = (uint16_t)(41000 + resets_sent);
			r.dport = (uint16_t)(9300 + resets_sent);
			r.flags = TCPF_RST;
			r.seq = PEER_ISN + 1;
			r.opt_mss = 0;
			inject_raw(&r);
			resets_sent++;
		}
		if ((n & 255) == 0) {
			uint64_t one = 1;
			ssize_t w = write(H.dp.core[0].kick_fd, &one, sizeof(one));
			(void)w;
		}
	}
	rte_thread_unregister();
	return NULL;
}

static void drain_tx(void)
{
	struct rte_mbuf *m;
	while (!rte_ring_dequeue(H.tx, (void **)&m))
		rte_pktmbuf_free(m);
}

/* the wire: takes what the fastpath sends, as a real one never stops */
static volatile int wire_stop;
static void *wire(void *arg)
{
	(void)arg;
	rte_thread_register();
	while (!wire_stop) {
		drain_tx();
		usleep(100);
	}
	rte_thread_unregister();
	return NULL;
}

static int open_flow(uint16_t port, uint16_t peer_port)
{
	uint32_t iss;

	H.peer_port = peer_port;
	return h_open_passive(port, PEER_ISN, 1000, &iss);
}

Test(sp_ring_flood, flow_news_survive_a_flood_of_strays)
{
	struct sp *sp = H.dp.sp_priv;
	int aborted[NFLOWS], reset[NFLOWS];
	cr_assert_eq(bp_listen(H.app, 0, 9200, 16) >= 0, true);
	for (int i = 0; i < NFLOWS; i++) {
		aborted[i] = open_flow((uint16_t)(9400 + i), (uint16_t)(42000 + i));
		reset[i] = open_flow((uint16_t)(9300 + i), (uint16_t)(41000 + i));
	}
	usleep(100000);
	drain_tx();
	uint64_t drops0 = dp_fp_counter(&H.dp, DPC_RX_DROP_NOFLOW);

	pthread_t t, w;
	flood_stop = 0;
	wire_stop = 0;
	resets_wanted = 0;
	stall_others();
	pthread_create(&t, NULL, flood, NULL);
	pthread_create(&w, NULL, wire, NULL);
	/* the ring turns frames away: the flows' peers reset them now */
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() * 10;
	while (dp_fp_counter(&H.dp, DPC_RX_DROP_NOFLOW) < drops0 + 1000 && rte_rdtsc() < end)
		usleep(1000);
	uint64_t turned_away = dp_fp_counter(&H.dp, DPC_RX_DROP_NOFLOW) - drops0;
	resets_wanted = NFLOWS;
	usleep(200000);
	for (int i = 0; i < NFLOWS; i++)
		bp_abort(H.app, aborted[i]);
	stalled = 0;
	usleep(300000);
	flood_stop = 1;
	pthread_join(t, NULL);
	cr_assert_geq(turned_away, 1000, "the flood filled no ring: %lu frames turned away",
		      (unsigned long)turned_away);
	usleep(100000);
	cr_log_info("frames turned away: %lu, messages that waited for the ring: %lu, "
		    "for a core's: %lu", (unsigned long)turned_away,
		    (unsigned long)dp_fp_counter(&H.dp, DPC_SP_BACKLOG),
		    (unsigned long)H.dp.sp_counters[DPC_SP_OUTBOX]);

	/* generous waits: the slowpath has the flood's backlog to work
	 * through first, slowly in a sanitizer build on a loaded machine */
	char buf[8];
	for (int i = 0; i < NFLOWS; i++)
		WAIT_FOR(bp_recv(H.app, reset[i], buf, sizeof(buf)) == -ECONNRESET, 10000);
	/* the reset flows go as well once the app closes them */
	for (int i = 0; i < NFLOWS; i++)
		bp_close(H.app, reset[i]);
	/* the 20 flows are gone (ids of the flood's half-open connections
	 * come and go meanwhile, so count the flows by port) */
	end = rte_rdtsc() + rte_get_tsc_hz() * 20;
	uint32_t left, deleting;
	do {
		bp_wait(H.app, 5);
		left = deleting = 0;
		uint32_t n = __atomic_load_n(&sp->nconns, __ATOMIC_RELAXED);
		for (uint32_t i = 0; i < n; i++) {
			const struct sp_conn *c = &sp->conns[sp->active[i]];
			uint16_t port = c->local_port;
			if ((port >= 9300 && port < 9300 + NFLOWS) ||
			    (port >= 9400 && port < 9400 + NFLOWS))
				left++;
			deleting += c->state == SPS_DELETING;
		}
	} while ((left || deleting) && rte_rdtsc() < end);
	cr_assert_eq(left, 0, "%u of the %u flows that ended are still there", left, 2 * NFLOWS);
	cr_assert_eq(deleting, 0, "%u flows stuck deleting", deleting);
	wire_stop = 1;
	pthread_join(w, NULL);
}

/*
 * A core's inbox stays full (the core is wedged on its port): the
 * slowpath goes on with everything else, and what it has for that core
 * waits, in order, until the core takes it.  Nothing is lost.
 */
Test(sp_ring_flood, a_full_core_inbox_never_blocks_the_slowpath)
{
	struct sp *sp = H.dp.sp_priv;
	H.dp.tx_shared = true; /* core 0 takes its queue's lock to transmit */
	cr_assert_eq(bp_listen(H.app, 0, 9200, 16) >= 0, true);
	int h = open_flow(9500, 43000);
	usleep(100000);
	drain_tx();
	uint64_t outboxed0 = H.dp.sp_counters[DPC_SP_OUTBOX];

	/* wedge core 0: a frame to send, and its queue's lock held */
	rte_spinlock_lock(&H.dp.txq_lock[0]);
	struct rte_mbuf *f = rte_pktmbuf_alloc(H.dp.pool);
	cr_assert(f);
	memset(rte_pktmbuf_append(f, 60), 0, 60);
	struct dp_msg m = { .type = DPM_TX_PKT, .ptr = f };
	cr_assert_eq(rte_ring_enqueue_elem(H.dp.core[0].inbox, &m, sizeof(m)), 0);
	dp_kick_core(&H.dp, 0);
	usleep(50000);
	/* and fill its inbox with messages about no flow, which it ignores */
	m = (struct dp_msg){ .type = DPM_FLOW_PROBE, .flow_id = UINT32_MAX };
	while (!rte_ring_enqueue_elem(H.dp.core[0].inbox, &m, sizeof(m)))
		;
	usleep(50000);
	cr_assert_eq(rte_ring_free_count(H.dp.core[0].inbox), 0, "core 0 is not wedged");

	/* its FLOW_DEL cannot go in: it waits */
	bp_abort(H.app, h);
	WAIT_FOR(H.dp.sp_counters[DPC_SP_OUTBOX] > outboxed0, 2000);
	/* and the slowpath answers other requests meanwhile */
	uint64_t t0 = rte_rdtsc();
	int l = bp_listen(H.app, 0, 9201, 16);
	double took_ms = (double)(rte_rdtsc() - t0) * 1000 / rte_get_tsc_hz();
	cr_assert_geq(l, 0, "listen: %d", l);
	cr_assert_lt(took_ms, 500, "a listen took %.0f ms while a core was wedged", took_ms);

	/* the core comes back: the flow's deletion reaches it and completes */
	rte_spinlock_unlock(&H.dp.txq_lock[0]);
	bool gone = false;
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() * 5;
	while (!gone && rte_rdtsc() < end) {
		bp_wait(H.app, 5);
		drain_tx();
		gone = true;
		uint32_t n = __atomic_load_n(&sp->nconns, __ATOMIC_RELAXED);
		for (uint32_t i = 0; i < n; i++)
			if (sp->conns[sp->active[i]].local_port == 9500)
				gone = false;
	}
	cr_assert(gone, "the aborted flow never went: its FLOW_DEL was lost");
	cr_assert_eq(sp_fp_outbox_len(sp), 0);
}

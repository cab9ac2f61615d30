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
	return NULL;
}

static void drain_tx(void)
{
	struct rte_mbuf *m;
	while (!rte_ring_dequeue(H.tx, (void **)&m))
		rte_pktmbuf_free(m);
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
	uint32_t free_before = __atomic_load_n(&sp->nfree_ids, __ATOMIC_RELAXED);
	uint64_t drops0 = dp_fp_counter(&H.dp, DPC_RX_DROP_NOFLOW);

	pthread_t t;
	flood_stop = 0;
	resets_wanted = 0;
	stall_others();
	pthread_create(&t, NULL, flood, NULL);
	/* the ring turns frames away: the flows' peers reset them now */
	while (dp_fp_counter(&H.dp, DPC_RX_DROP_NOFLOW) < drops0 + 1000)
		usleep(1000);
	resets_wanted = NFLOWS;
	usleep(200000);
	for (int i = 0; i < NFLOWS; i++)
		bp_abort(H.app, aborted[i]);
	stalled = 0;
	usleep(300000);
	flood_stop = 1;
	pthread_join(t, NULL);
	for (int i = 0; i < 100; i++) {
		drain_tx();
		usleep(10000);
	}
	cr_log_info("frames turned away: %lu, messages that waited for the ring: %lu",
		    (unsigned long)(dp_fp_counter(&H.dp, DPC_RX_DROP_NOFLOW) - drops0),
		    (unsigned long)dp_fp_counter(&H.dp, DPC_SP_BACKLOG));

	/* generous waits: the slowpath has the flood's backlog to work
	 * through first, slowly in a sanitizer build on a loaded machine */
	char buf[8];
	for (int i = 0; i < NFLOWS; i++)
		WAIT_FOR(bp_recv(H.app, reset[i], buf, sizeof(buf)) == -ECONNRESET, 10000);
	/* the reset flows go as well once the app closes them */
	for (int i = 0; i < NFLOWS; i++)
		bp_close(H.app, reset[i]);
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() * 20;
	while (__atomic_load_n(&sp->nfree_ids, __ATOMIC_RELAXED) < free_before + 2 * NFLOWS &&
	       rte_rdtsc() < end)
		bp_wait(H.app, 5);
	cr_assert_geq(__atomic_load_n(&sp->nfree_ids, __ATOMIC_RELAXED), free_before + 2 * NFLOWS,
		      "%u flow ids free, %u before the %u flows ended",
		      __atomic_load_n(&sp->nfree_ids, __ATOMIC_RELAXED), free_before, 2 * NFLOWS);
	uint32_t deleting = 0;
	for (uint32_t i = 0; i < sp->nconns; i++)
		if (sp->conns[sp->active[i]].state == SPS_DELETING)
			deleting++;
	cr_assert_eq(deleting, 0, "%u flows stuck deleting", deleting);
}

/* SPDX-License-Identifier: MIT */
/*
 * harness.h - packetdrill-style TCP scenarios against the real daemon.
 *
 * The real fastpath and slowpath run in this process on a DPDK ring port
 * (rte_eth_from_rings): the test is the wire.  It injects hand-built
 * segments from a scripted peer and expects exact segments back, while an
 * app drives the other end through the real libbypass over the real
 * control socket and shared memory.  Criterion runs each test in its own
 * process, so each gets a fresh EAL and daemon.
 */
#ifndef TEST_HARNESS_H
#define TEST_HARNESS_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_cycles.h>

#include "bypass/bypass.h"
#include "dataplane.h"
#include "fastpath.h"
#include "pkt.h"
#include "port.h"
#include "slowpath.h"

struct harness {
	struct dataplane dp;
	struct rte_ring *rx, *tx;   /* rx: towards the daemon; tx: from it */
	pthread_t fp_thread;
	struct bp_ctx *app;
	uint8_t peer_mac[6];
	uint32_t peer_ip, our_ip;
	uint16_t peer_port;
	uint16_t our_port;          /* the daemon-side port the peer talks to */
	uint16_t ip_id;
	uint8_t our_mac[6];
};

static struct harness H;
/* frames the port's transmit ring holds (a power of two; one slot stays
 * free): a test may shrink it before starting to fill it up */
static unsigned h_tx_ring_size = 4096;

/* fastpathd runs core 0 on the EAL's main lcore: an lcore here too (its
 * mempool cache, as there) */
static void *h_fastpath(void *arg)
{
	rte_thread_register();
	fp_run(&H.dp);
	rte_thread_unregister();
	return NULL;
}

/* start the daemon on a ring port with @tweak applied to the defaults */
static void h_start_with(void (*tweak)(struct bp_config *c))
{
	char prefix[64], mem[16];
	snprintf(prefix, sizeof(prefix), "--file-prefix=scn%d", getpid());
	snprintf(mem, sizeof(mem), "256");
	char *argv[] = { "scenario", "-l", "0", "--no-huge", "--no-shconf", "-m", mem, "--no-pci",
			 prefix, "--log-level=*:error", NULL };
	cr_assert_geq(port_eal_init(10, argv), 0, "EAL init failed");

	H.rx = rte_ring_create("h_rx", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	H.tx = rte_ring_create("h_tx", h_tx_ring_size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	cr_assert(H.rx && H.tx);
	cr_assert_geq(rte_eth_from_rings("h_port", &H.rx, 1, &H.tx, 1, 0), 0);

	struct bp_config *c = &H.dp.cfg;
	char err[512];
	config_defaults(c);
	snprintf(c->port_dev, sizeof(c->port_dev), "net_ring_h_port");
	cr_assert_eq(config_set(c, "port", "ip", "198.18.0.1/24", err, sizeof(err)), 0);
	snprintf(c->socket_path, sizeof(c->socket_path), "/tmp/bypass-scn-%d.sock", getpid());
	c->max_flows = 256;
	c->app_max_flows = 64;
	c->rx_buf_size = 65536;
	c->tx_buf_size = 65536;
	c->queue_entries = 256;
	c->mbufs = 4095;
	c->time_wait_ms = 200;
	if (tweak)
		tweak(c);
	cr_assert_eq(config_validate(c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(dp_init(&H.dp, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(port_init(&H.dp, err, sizeof(err)), 0, "%s", err);
	g_dp = &H.dp;
	cr_assert_eq(sp_start(&H.dp, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pthread_create(&H.fp_thread, NULL, h_fastpath, NULL), 0);

	memcpy(H.our_mac, H.dp.mac.addr_bytes, 6);
	const uint8_t pm[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
	memcpy(H.peer_mac, pm, 6);
	inet_pton(AF_INET, "198.18.0.2", &H.peer_ip);
	H.our_ip = H.dp.ip;
	H.peer_port = 40000;

	struct bp_attach_opts o = { .socket_path = c->socket_path, .app_name = "scenario" };
	H.app = bp_attach(&o, err, sizeof(err));
	cr_assert(H.app, "attach failed: %s", err);
}

static __attribute__((unused)) void h_start(void) { h_start_with(NULL); }

/* the daemon's default queue depth: many control rounds deep (the
 * harness's own 256 hold one) */
static void h_default_queues(struct bp_config *c)
{
	c->queue_entries = 4096;
}

static __attribute__((unused)) void h_start_default_queues(void)
{
	h_start_with(h_default_queues);
}

static void h_stop(void)
{
	if (H.app)
		bp_detach(H.app);
	H.dp.stop = 1;
	uint64_t one = 1;
	ssize_t r = write(H.dp.core[0].kick_fd, &one, sizeof(one));
	(void)r;
	pthread_join(H.fp_thread, NULL);
	sp_stop(&H.dp);
	port_fini(&H.dp);
	dp_fini(&H.dp);
	rte_eal_cleanup();
}

/* ---------------------------------------------------------- the wire */

struct seg {
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t wnd;
	const void *data;
	uint32_t len;
	uint16_t mss;     /* SYN options */
	int8_t wscale;
	bool bad_csum;
	bool sack_ok;     /* SYN: SACK-permitted */
	uint8_t ecn;      /* IP ECN bits (3 = CE) */
	uint8_t sack_n;   /* SACK blocks on an ACK */
	uint32_t sack[TCP_SACK_SEND][2];
	uint16_t split;   /* > 0: the frame comes as two chained mbufs, the first this long */
};

/* the frame h_inject() sends for @s, built into @buf (room for @cap
 * bytes); Return: its length (at least 60: padded as on the wire) */
static size_t h_build(const struct seg *s, uint8_t *buf, size_t cap)
{
	struct tcp_hdr_spec h = {
		.src_mac = H.peer_mac, .dst_mac = H.our_mac,
		.saddr = H.peer_ip, .daddr = H.our_ip,
		.sport = H.peer_port, .dport = H.our_port,
		.seq = s->seq, .ack = s->ack, .wnd = s->wnd, .flags = s->flags,
		.ip_id = H.ip_id++, .opt_mss = s->mss, .opt_wscale = s->wscale,
		.opt_sack_ok = s->sack_ok, .ecn = s->ecn, .sack_n = s->sack_n,
	};
	memcpy(h.sack, s->sack, sizeof(h.sack));
	if (!s->mss && !(s->flags & TCPF_SYN))
		h.opt_wscale = -1;
	size_t hl = pkt_tcp_hdr_len(&h), len = hl + s->len < 60 ? 60 : hl + s->len;
	cr_assert_leq(len, cap);
	memset(buf, 0, len);
	if (s->len)
		memcpy(buf + hl, s->data, s->len);
	pkt_write_tcp(buf, &h, s->len);
	if (s->bad_csum)
		buf[PKT_ETH_LEN + PKT_IP_MIN + 16] ^= 0x5a;
	return len;
}

/* the mbuf h_inject() sends for @s */
static struct rte_mbuf *h_mbuf(const struct seg *s)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(H.dp.pool);
	cr_assert(m);
	uint16_t room = rte_pktmbuf_tailroom(m);
	uint8_t *buf = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)h_build(s, rte_pktmbuf_mtod(m,
								uint8_t *), room));
	cr_assert(buf);
	uint16_t total = rte_pktmbuf_data_len(m);
	if (s->split && s->split < total) {
		struct rte_mbuf *tail = rte_pktmbuf_alloc(H.dp.pool);
		cr_assert(tail);
		memcpy(rte_pktmbuf_append(tail, total - s->split), buf + s->split, total - s->split);
		rte_pktmbuf_trim(m, total - s->split);
		cr_assert_eq(rte_pktmbuf_chain(m, tail), 0);
	}
	return m;
}

static void h_kick(void)
{
	uint64_t one = 1;
	ssize_t r = write(H.dp.core[0].kick_fd, &one, sizeof(one)); /* ring ports have no interrupt */
	(void)r;
}

static void h_inject(const struct seg *s)
{
	cr_assert_eq(rte_ring_enqueue(H.rx, h_mbuf(s)), 0);
	h_kick();
}

/* segments @s[0..@n) that arrive together: one receive burst of the fastpath */
static __attribute__((unused)) void h_inject_burst(const struct seg *s, unsigned n)
{
	struct rte_mbuf *m[8];
	cr_assert_leq(n, 8);
	for (unsigned i = 0; i < n; i++)
		m[i] = h_mbuf(&s[i]);
	cr_assert_eq(rte_ring_enqueue_bulk(H.rx, (void **)m, n, NULL), n);
	h_kick();
}

/* counter @c, the fastpath's and the slowpath's share */
static __attribute__((unused)) uint64_t h_count(enum dp_counter c)
{
	return dp_fp_counter(&H.dp, c) + __atomic_load_n(&H.dp.sp_counters[c], __ATOMIC_RELAXED);
}

/* the congestion window the slowpath set for the app's handle @h */
static __attribute__((unused)) uint32_t h_flow_cwnd(int h)
{
	uint32_t id = H.dp.apps[0].slot_flow[h];

	return __atomic_load_n(&H.dp.flows[id].cwnd, __ATOMIC_RELAXED);
}

/* the peer's bare ACK at @seq of @ack, with @n SACK blocks (wire values) */
static __attribute__((unused)) void h_ack_sack(uint32_t seq, uint32_t ack, uint8_t n,
					       const uint32_t (*blocks)[2])
{
	struct seg s = { .flags = TCPF_ACK, .seq = seq, .ack = ack, .wnd = 65535, .sack_n = n };
	if (n)
		memcpy(s.sack, blocks, n * sizeof(blocks[0]));
	h_inject(&s);
}

/* next frame of any kind within @ms, copied into @buf; 0 if none came */
static int h_next_frame(uint8_t *buf, int ms)
{
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() / 1000 * (uint64_t)ms;
	while (rte_rdtsc() < end) {
		struct rte_mbuf *m;
		if (rte_ring_dequeue(H.tx, (void **)&m)) {
			usleep(100);
			continue;
		}
		int len = rte_pktmbuf_data_len(m);
		memcpy(buf, rte_pktmbuf_mtod(m, void *), len < 2048 ? len : 2048);
		rte_pktmbuf_free(m);
		return len < 2048 ? len : 2048;
	}
	return 0;
}

static uint8_t h_last_frame[2048];

/* next TCP segment the daemon sent within @ms, skipping ARP and the like;
 * @out points into h_last_frame until the next call */
static bool h_next_tcp(struct pkt_tcp *out, int ms)
{
	uint64_t end = rte_rdtsc() + rte_get_tsc_hz() / 1000 * (uint64_t)ms;
	uint64_t now;
	while ((now = rte_rdtsc()) < end) {
		int left = (int)((end - now) * 1000 / rte_get_tsc_hz()) + 1;
		int len = h_next_frame(h_last_frame, left);
		if (!len)
			return false;
		if (pkt_classify(h_last_frame, (size_t)len) != PKT_PROTO_TCP)
			continue;
		cr_assert_eq(pkt_parse_tcp(h_last_frame, (size_t)len, true, out), PKT_OK,
			     "daemon sent an invalid segment");
		return true;
	}
	return false;
}

/* the IP header fields the tests check, of the frame h_next_tcp() read last */
struct h_ip_fields {
	uint16_t id;
	bool df;
};

static __attribute__((unused)) struct h_ip_fields h_last_ip(void)
{
	const uint8_t *ip = h_last_frame + PKT_ETH_LEN;
	return (struct h_ip_fields){ .id = (uint16_t)(ip[4] << 8 | ip[5]), .df = ip[6] & 0x40 };
}

static __attribute__((unused)) void h_inject_raw(const uint8_t *frame, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(H.dp.pool);
	uint8_t *buf = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len);
	memcpy(buf, frame, len);
	cr_assert_eq(rte_ring_enqueue(H.rx, m), 0);
	h_kick();
}

#define EXPECT_SEG(p, ms) cr_assert(h_next_tcp(&(p), (ms)), "expected a segment within %d ms", (ms))

static __attribute__((unused)) void expect_no_segment(int ms)
{
	struct pkt_tcp p;
	cr_assert_not(h_next_tcp(&p, ms), "unexpected segment flags=0x%x seq=%u ack=%u len=%u",
		      p.flags, p.seq, p.ack, p.payload_len);
}

/* wait until @cond holds, pumping the app's events; fail after @ms */
#define WAIT_FOR(cond, ms) do { \
		uint64_t end_ = rte_rdtsc() + rte_get_tsc_hz() / 1000 * (uint64_t)(ms); \
		while (!(cond)) { \
			cr_assert(rte_rdtsc() < end_, "timed out waiting for " #cond); \
			bp_wait(H.app, 5); \
		} \
	} while (0)

/*
 * Listen on @port, run the three-way handshake as the peer (ISN @peer_isn,
 * MSS @mss, no window scaling, window 65535) and accept.  @iss gets our
 * ISN.  Return: the accepted handle.
 */
/*
 * A listener on our @port, the peer's @syn for it (its flags and options),
 * our SYN-ACK read into *synack (for the caller to check), the peer's ACK
 * of it, and the accept.  Return: the handle.
 */
static int h_open_passive_syn(uint16_t port, const struct seg *syn, struct pkt_tcp *synack)
{
	int l = bp_listen(H.app, 0, port, 16);
	cr_assert_geq(l, 0, "listen: %d", l);
	H.our_port = port;
	h_inject(syn);
	EXPECT_SEG(*synack, 1000);
	cr_assert_eq(synack->flags & (TCPF_SYN | TCPF_ACK | TCPF_RST), TCPF_SYN | TCPF_ACK,
		     "want SYN-ACK, got 0x%x", synack->flags);
	h_inject(&(struct seg){ .flags = TCPF_ACK, .seq = syn->seq + 1, .ack = synack->seq + 1,
				.wnd = 65535 });
	int h = -1;
	WAIT_FOR((h = bp_accept(H.app, l)) >= 0, 1000);
	return h;
}

static __attribute__((unused)) int h_open_passive(uint16_t port, uint32_t peer_isn, uint16_t mss,
						  uint32_t *iss)
{
	struct pkt_tcp p;
	int h = h_open_passive_syn(port, &(struct seg){ .flags = TCPF_SYN, .seq = peer_isn,
							.wnd = 65535, .mss = mss, .wscale = -1 },
				   &p);
	cr_assert_eq(p.flags, TCPF_SYN | TCPF_ACK, "want SYN-ACK, got 0x%x", p.flags);
	*iss = p.seq;
	return h;
}

/*
 * Connect to the peer at @port (not known to the neighbour cache yet:
 * answer the ARP request) and read our SYN into @syn; the peer's and our
 * ports are set for h_inject().  Return: the handle.
 */
static __attribute__((unused)) int h_connect_until_syn(uint16_t port, struct pkt_tcp *syn)
{
	int h = bp_connect(H.app, H.peer_ip, port);
	cr_assert_geq(h, 0, "connect: %d", h);
	cr_assert_eq(bp_connect_status(H.app, h), -EINPROGRESS);
	uint8_t frame[2048];
	int len = h_next_frame(frame, 1000);
	struct pkt_arp a;
	cr_assert(len > 0 && pkt_arp_parse(frame, (size_t)len, &a), "expected an ARP request");
	cr_assert_eq(a.op, PKT_ARP_REQUEST);
	cr_assert_eq(a.tpa, H.peer_ip);
	uint8_t reply[PKT_ARP_FRAME_LEN];
	pkt_arp_write(reply, PKT_ARP_REPLY, H.peer_mac, H.peer_ip, H.our_mac, H.our_ip);
	h_inject_raw(reply, sizeof(reply));
	EXPECT_SEG(*syn, 1000);
	cr_assert_eq(syn->flags, TCPF_SYN);
	cr_assert_eq(syn->dport, port);
	cr_assert_eq(syn->opts.mss, 1460);
	cr_assert_geq(syn->opts.wscale, 0);
	H.peer_port = port;
	H.our_port = syn->sport;
	return h;
}

#endif

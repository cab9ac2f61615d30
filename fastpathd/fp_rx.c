// SPDX-License-Identifier: MIT
/*
 * fp_rx.c - receiving: frames from the port queue (or handed over by the
 * slowpath or another core) classified, their flows looked up a burst at
 * a time, and delivered to tcp_input(), ARP, ICMP or the slowpath.
 */
#include <assert.h>
#include <string.h>

#include <rte_ethdev.h>

#include "fastpath.h"

/*
 * @from_sp: the slowpath looked at this frame already (it raced a FLOW_ADD,
 * or it is a SYN on a synchronized flow that tcp_input() must answer with a
 * challenge ACK): never hand it back, or a SYN would bounce between the
 * threads forever.
 *
 * A frame goes through two steps, so that fp_poll_port() can look up a whole
 * burst's flows at once between them: rx_classify() until its flow is
 * needed, rx_deliver() with that flow.
 */

/* Everything up to the flow lookup.  Return: true if @m is a TCP segment
 * of ours for this core, parsed into @p, that now needs its flow; false
 * if the frame was dealt with (handled, dropped or sent to another core). */
static bool rx_classify(struct fp_ctx *fp, struct rte_mbuf *m, bool from_sp, struct pkt_tcp *p)
{
	struct dataplane *dp = fp->dp;

	if (m->nb_segs > 1 && rte_pktmbuf_linearize(m)) {
		fp->cnt[DPC_RX_DROP_BAD]++;
		rte_pktmbuf_free(m);
		return false;
	}
	/* after the linearize: it grows the first segment's length */
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t len = rte_pktmbuf_data_len(m);
	/* a frame to another host's unicast MAC is not ours, whatever IP it
	 * names (Linux's ip_rcv() and arp_rcv() drop PACKET_OTHERHOST): a
	 * promiscuous port or a bridge flooding an unknown MAC shows us those */
	if (len >= PKT_ETH_LEN && !(frame[0] & 1) && memcmp(frame, dp->mac.addr_bytes, 6)) {
		fp_capture_rx(fp, m, from_sp);
		fp->cnt[DPC_RX_DROP_OTHERHOST]++;
		rte_pktmbuf_free(m);
		return false;
	}
	int cls = pkt_classify(frame, len);
	if ((cls == PKT_PROTO_TCP || cls == PKT_PROTO_ICMP) && pkt_ip_fragment(frame, len)) {
		fp_handle_ip_fragment(fp, m, from_sp); /* put together on the slowpath */
		return false;
	}
	/* ARP and the rest are handled on the core that received them; an
	 * ICMP error may go to the core of the flow it quotes, and is
	 * captured there (fp_handle_icmp()) */
	if (cls != PKT_PROTO_TCP && cls != PKT_PROTO_ICMP)
		fp_capture_rx(fp, m, from_sp);
	switch (cls) {
	case PKT_ETHTYPE_ARP:
		fp_handle_arp(fp, m);
		return false;
	case PKT_PROTO_ICMP:
		fp_handle_icmp(fp, m, from_sp);
		return false;
	case PKT_PROTO_TCP:
		break;
	default:
		fp->cnt[DPC_RX_DROP_NOFLOW]++;
		rte_pktmbuf_free(m);
		return false;
	}

	bool hw_ok = dp->rx_csum &&
		     (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD &&
		     (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD;
	enum pkt_verdict v = pkt_parse_tcp(frame, len, !hw_ok, p);
	/* not ours: another address, or a group MAC (Linux's tcp_v4_rcv drops
	 * what is not PACKET_HOST) */
	if (v != PKT_OK || p->daddr != dp->ip || (p->dst_mac[0] & 1)) {
		fp_capture_rx(fp, m, from_sp);
		if (v != PKT_OK) {
			fp->cnt[DPC_RX_DROP_BAD]++;
			fp->self->drop_reason[v]++;
		} else {
			fp->cnt[DPC_RX_DROP_NOFLOW]++;
		}
		rte_pktmbuf_free(m);
		return false;
	}
	if (dp->ncores > 1) {
		uint32_t h = dp->rss && (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) ? m->hash.rss :
			     dp_bucket_hash(dp, p->saddr, p->daddr, p->sport, p->dport);
		if (fp_route_frame(fp, m, dp_bucket_of(h), from_sp) != FP_MINE)
			return false;
	}
	/* on the core that owns its bucket: once per frame, before processing */
	fp_capture_rx(fp, m, from_sp);
	return true;
}

/* The segment @p in @m, whose flow is @f (NULL: no flow has its 4-tuple). */
static void rx_deliver(struct fp_ctx *fp, struct rte_mbuf *m, bool from_sp,
		       const struct pkt_tcp *p, struct fp_flow *f)
{
	if (!f && from_sp) {
		rte_pktmbuf_free(m); /* the flow went away meanwhile */
		return;
	}
	if (!f || (!from_sp && (p->flags & TCPF_SYN) && !(p->flags & TCPF_ACK))) {
		/* handshakes, strays and new SYNs reusing a TIME_WAIT tuple */
		fp_to_sp(fp, DPM_RX_PKT, 0, m);
		return;
	}
	if (fp_owns(fp, f))
		tcp_input(fp, f, p);
	rte_pktmbuf_free(m);
}

/** fp_rx_frame - process one received frame to completion (see above). */
void fp_rx_frame(struct fp_ctx *fp, struct rte_mbuf *m, bool from_sp)
{
	struct pkt_tcp p;

	if (rx_classify(fp, m, from_sp, &p))
		rx_deliver(fp, m, from_sp, &p,
			   flow_table_lookup(fp, p.saddr, p.daddr, p.sport, p.dport));
}

/* Receive @n frames from the port: classified in order, their flows looked
 * up together (flow_table_lookup_bulk()), then delivered in order.  Only
 * the slowpath's messages add or remove flows, never a delivery, so the
 * looked-up flows stay valid through the burst. */
static void rx_burst(struct fp_ctx *fp, struct rte_mbuf **pkts, uint16_t n)
{
	struct pkt_tcp segs[FLOW_LOOKUP_BULK_MAX];
	struct rte_mbuf *ms[FLOW_LOOKUP_BULK_MAX];
	struct fp_flow *flows[FLOW_LOOKUP_BULK_MAX];
	uint16_t i = 0;

	while (i < n) {
		unsigned int k = 0;

		for (; i < n && k < FLOW_LOOKUP_BULK_MAX; i++)
			if (rx_classify(fp, pkts[i], false, &segs[k]))
				ms[k++] = pkts[i];
		flow_table_lookup_bulk(fp, segs, k, flows);
		for (unsigned int j = 0; j < k && j < FP_PREFETCH_AHEAD; j++)
			if (flows[j])
				fp_flow_prefetch(flows[j]);
		for (unsigned int j = 0; j < k; j++) {
			if (j + FP_PREFETCH_AHEAD < k && flows[j + FP_PREFETCH_AHEAD])
				fp_flow_prefetch(flows[j + FP_PREFETCH_AHEAD]);
			if (j + 1 < k && flows[j + 1] && segs[j + 1].payload_len)
				fp_flow_prefetch_rx(flows[j + 1]); /* its lines came */
			rx_deliver(fp, ms[j], false, &segs[j], flows[j]);
		}
	}
}

/*
 * Adaptive batching: a full burst means the queue is backed up, so take
 * more in the same round, up to RX_BURSTS_MAX bursts.  The round's fixed
 * costs (app doorbells, events, wakeups, the tx flush) are then shared by
 * more frames, and a queue that filled while this thread was off its CPU
 * drains before it overflows (af_xdp holds only 2048 frames for us).
 */
#define RX_BURSTS_MAX 8

/**
 * fp_poll_port - receive and process what the port queue holds: bursts
 * while they come back full, up to RX_BURSTS_MAX.
 * Return: frames received.
 */
unsigned fp_poll_port(struct fp_ctx *fp)
{
	struct rte_mbuf *pkts[FP_RX_BURST_MAX];
	uint16_t burst = (uint16_t)fp->dp->cfg.rx_burst, n;
	unsigned total = 0;

	if (fp->rxq == UINT16_MAX)
		return 0;
	for (unsigned b = 0; b < RX_BURSTS_MAX; b++) {
		uint64_t passed_on = fp->cnt[DPC_FORWARDED];

		n = rte_eth_rx_burst(fp->dp->port_id, fp->rxq, pkts, burst);
		fp->cnt[DPC_RX_PKTS] += n;
		rx_burst(fp, pkts, n);
		/* counted here, not read as rx - forwarded: that difference rises
		 * by a burst and falls as it is passed on, and read unluckily
		 * it wrapped to 2^64 */
		passed_on = fp->cnt[DPC_FORWARDED] - passed_on;
		assert(passed_on <= n); /* only this burst's frames are passed on */
		fp->cnt[DPC_RX_KEPT] += n - passed_on;
		total += n;
		if (n < burst)
			break;
	}
	return total;
}

// SPDX-License-Identifier: MIT
/*
 * frag.c - IP fragments addressed to us (fastpathd's
 * fp_handle_ip_fragment() passes them up), put together by ip_reasm.c,
 * and each datagram then taken as if it had come whole, as Linux's
 * ip_local_deliver() takes it: a TCP segment goes where an unfragmented
 * one goes (sp_conn_rx(): its connection's core, or the SYN queue), an
 * ICMP echo request is answered, in fragments if the answer passes our
 * MTU.  Fragments come from a peer behind a hop under 552 bytes (its Linux
 * sends without DF, and the hop's router cuts) or from a ping larger than
 * the MTU.  The table is made at the first fragment: a daemon that never
 * sees one never pays for it.
 */
#include <stdlib.h>
#include <string.h>
#include <rte_mbuf.h>

#include "sp_internal.h"
#include "ip_reasm.h"

/* datagrams dropped on the way: every kind of ip_reasm's, and those put
 * together that were of no use (sp->frag_unused); the rest count in
 * DPC_IP_REASM_OK when they are taken */
static void count_failed(struct sp *sp)
{
	const struct ip_reasm_stats *st = ip_reasm_stats(sp->reasm);

	sp->dp->sp_counters[DPC_IP_REASM_FAILED] =
		st->discarded + st->evicted + st->timeouts + sp->frag_unused;
}

/* a whole TCP segment: on as if it had come in one frame */
static void tcp_whole(struct sp *sp, const uint8_t *frame, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(sp->dp->pool);
	uint8_t *buf = m && len <= rte_pktmbuf_tailroom(m) ?
			       (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len) : NULL;
	struct pkt_tcp p;

	/* a segment can be no longer than our MSS allows, and no longer
	 * than a frame: one that is was not sent to be taken */
	if (!buf) {
		rte_pktmbuf_free(m);
		sp->frag_unused++;
		return;
	}
	memcpy(buf, frame, len);
	if (pkt_parse_tcp(buf, len, true, &p) != PKT_OK || p.daddr != sp->dp->ip) {
		rte_pktmbuf_free(m);
		sp->frag_unused++;
		return;
	}
	sp->dp->sp_counters[DPC_IP_REASM_OK]++;
	sp_conn_rx(sp, m, &p);
}

/* the answer to a whole echo request in @frame (@cap bytes of room),
 * made in place, sent in pieces of at most our MTU */
static void echo_whole(struct sp *sp, uint8_t *frame, size_t len, size_t cap)
{
	struct dataplane *dp = sp->dp;
	size_t rlen = pkt_icmp_echo_reply(frame, cap, frame, len, dp->mac.addr_bytes);

	if (!rlen) {
		sp->frag_unused++;
		return;
	}
	uint8_t *ip = frame + PKT_ETH_LEN;
	uint32_t daddr;
	memcpy(&daddr, ip + 16, 4);
	/* an answer this large is fragmented here: its ID must be one no
	 * other datagram to that host has in its reassembly time */
	uint16_t id = dp_ip_ident(dp, daddr, PKT_PROTO_ICMP);
	size_t data = rlen - PKT_ETH_LEN - PKT_IP_MIN;
	size_t piece = (size_t)(dp->cfg.mtu - PKT_IP_MIN) & ~(size_t)7;

	for (size_t off = 0; off < data; off += piece) {
		size_t n = data - off < piece ? data - off : piece;
		struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
		uint8_t *b = m ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(PKT_ETH_LEN +
									  PKT_IP_MIN + n)) : NULL;
		if (!b) {
			rte_pktmbuf_free(m); /* the peer's reassembly times out */
			sp->frag_unused++;
			return;
		}
		memcpy(b, frame, PKT_ETH_LEN + PKT_IP_MIN);
		memcpy(b + PKT_ETH_LEN + PKT_IP_MIN, ip + PKT_IP_MIN + off, n);
		uint8_t *fip = b + PKT_ETH_LEN;
		pkt_wr16(fip + 2, (uint16_t)(PKT_IP_MIN + n));
		pkt_wr16(fip + 4, id);
		pkt_wr16(fip + 6, (uint16_t)(off / 8) | (off + n < data ? PKT_IP_MF : 0));
		pkt_ip_csum_set(fip);
		sp_tx_mbuf(sp, m);
	}
	dp->sp_counters[DPC_ICMP_ECHO]++;
	dp->sp_counters[DPC_IP_REASM_OK]++;
}

/**
 * sp_frag_rx - one IP fragment addressed to us (the fastpath checked the
 * addresses and its share of fragments; nothing else): kept until its
 * datagram is whole, which then goes on as if it had come in one frame.
 * Consumes @m.
 */
void sp_frag_rx(struct sp *sp, struct rte_mbuf *m)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t len = rte_pktmbuf_data_len(m);
	const size_t cap = PKT_ETH_LEN + IP_REASM_MAX_DATAGRAM;
	const uint8_t *dgram;
	size_t dlen;

	if (!sp->reasm) {
		sp->reasm = ip_reasm_new(IP_REASM_SLOTS, IP_REASM_MEM_MAX,
					 sp->dp->cfg.reasm_timeout_ms);
		sp->frag_frame = malloc(cap);
		if (!sp->reasm || !sp->frag_frame) {
			ip_reasm_free(sp->reasm);
			free(sp->frag_frame);
			sp->reasm = NULL;
			sp->frag_frame = NULL;
			rte_pktmbuf_free(m); /* no memory: tried again at the next one */
			return;
		}
	}
	enum ip_reasm_verdict v = IPR_BAD;
	if (len > PKT_ETH_LEN)
		v = ip_reasm_add(sp->reasm, frame + PKT_ETH_LEN, len - PKT_ETH_LEN,
				 sp_conn_now_ms(sp), &dgram, &dlen);
	if (v == IPR_DONE) { /* the Ethernet header of the piece that made it whole */
		memcpy(sp->frag_frame, frame, PKT_ETH_LEN);
		memcpy(sp->frag_frame + PKT_ETH_LEN, dgram, dlen);
	}
	rte_pktmbuf_free(m);
	if (v == IPR_DONE) { /* counted as reassembled where it is taken */
		switch (sp->frag_frame[PKT_ETH_LEN + 9]) {
		case PKT_PROTO_TCP:
			tcp_whole(sp, sp->frag_frame, PKT_ETH_LEN + dlen);
			break;
		case PKT_PROTO_ICMP:
			echo_whole(sp, sp->frag_frame, PKT_ETH_LEN + dlen, cap);
			break;
		default: /* the fastpath passes up only those two */
			sp->frag_unused++;
			break;
		}
	}
	count_failed(sp);
}

/*
 * An ICMP "fragment reassembly time exceeded" (RFC 792) to the sender of
 * a datagram that did not complete in time, as Linux's ip_expire() sends
 * it: only if its first fragment came (@quote: that fragment's header and
 * 8 bytes), to the MAC the neighbour cache holds for its next hop (none:
 * not sent; no ARP for it).  The table's bound (256 datagrams a timeout)
 * bounds how many a forger can have us send.
 */
static void time_exceeded(void *arg, const uint8_t *quote, size_t len)
{
	struct sp *sp = arg;
	struct dataplane *dp = sp->dp;
	uint8_t frame[PKT_ETH_LEN + 60 + 8];
	uint32_t saddr;

	memcpy(&saddr, quote + 12, 4);
	const struct rte_ether_addr *mac = sp_arp_lookup(sp, sp_next_hop(sp, saddr));
	if (!mac || len > sizeof(frame) - PKT_ETH_LEN)
		return;
	memcpy(frame, dp->mac.addr_bytes, 6); /* the fragment as it came to us */
	memcpy(frame + 6, mac->addr_bytes, 6);
	pkt_wr16(frame + 12, PKT_ETHTYPE_IPV4);
	memcpy(frame + PKT_ETH_LEN, quote, len);
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	uint8_t *b = m ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(PKT_ETH_LEN + PKT_IP_MIN +
									8 + len)) : NULL;
	size_t n = b ? pkt_icmp_err_write(b, frame, PKT_ETH_LEN + len, dp->mac.addr_bytes, dp->ip,
					  PKT_ICMP_TIME_EXCEEDED, 1, 0) : 0;
	if (!n) {
		rte_pktmbuf_free(m);
		return;
	}
	rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - n));
	/* an ID of its own, as Linux's (RFC 6864) */
	pkt_wr16(b + PKT_ETH_LEN + 4, dp_ip_ident(dp, saddr, PKT_PROTO_ICMP));
	pkt_ip_csum_set(b + PKT_ETH_LEN);
	sp_tx_mbuf(sp, m);
}

/** sp_frag_tick - drop the datagrams that did not complete in time. */
void sp_frag_tick(struct sp *sp)
{
	if (sp->reasm && ip_reasm_count(sp->reasm)) {
		ip_reasm_expire(sp->reasm, sp_conn_now_ms(sp), time_exceeded, sp);
		count_failed(sp);
	}
}

void sp_frag_fini(struct sp *sp)
{
	ip_reasm_free(sp->reasm);
	free(sp->frag_frame);
	sp->reasm = NULL;
	sp->frag_frame = NULL;
}

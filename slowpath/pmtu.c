// SPDX-License-Identifier: MIT
/*
 * pmtu.c - path MTU discovery (RFC 1191), checked as RFC 5927 asks.
 *
 * Every segment we send has DF set, so a hop narrower than our MTU (a
 * tunnel, a VPN, a 1280-byte link) drops it and its router answers with
 * an ICMP "fragmentation needed" carrying its next hop's MTU.  Without
 * this file those answers were dropped and a connection through such a
 * hop hung once a full-size segment was due: the classic PMTU black hole.
 *
 * An ICMP message is easy to forge, and believing one lets a stranger
 * shrink a connection's segments to nearly nothing.  So, as Linux does:
 *  - it must name an installed connection of ours and a sequence number
 *    in flight on it (snd_una <= seq < snd_nxt): an off-path sender has
 *    to guess it (RFC 5927 section 4.1);
 *  - an MTU under PKT_MIN_PMTU (Linux's min_pmtu, 552) counts as 552, so
 *    the worst a forger achieves is 512-byte segments;
 *  - an MSS only shrinks; the quoted segment must have been larger than
 *    the MTU claimed (it would have fit otherwise).
 * The new size is the connection's at once (DPM_FLOW_PMTU: the fastpath
 * resends what is in flight at that size) and the destination's for
 * SP_PMTU_EXPIRES_MS (Linux's mtu_expires, 10 minutes), so the next
 * connection to it starts small instead of losing its first full segment.
 * The cache is small and direct-mapped under a key drawn at start: an
 * entry lost to a collision costs one more ICMP round, nothing else.
 */
#include <string.h>
#include <rte_jhash.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "sp_internal.h"

#define SP_PMTU_EXPIRES_MS (10 * 60 * 1000)
#define IP_TCP_HDRS 40 /* our segments carry no IP or TCP options */

static struct sp_pmtu_entry *slot_of(struct sp *sp, uint32_t ip)
{
	return &sp->pmtu[rte_jhash_1word(ip, sp->pmtu_key) % SP_PMTU_SIZE];
}

/**
 * sp_pmtu_mss - the largest payload the path to @ip took lately, from an
 * ICMP message within SP_PMTU_EXPIRES_MS.
 * Return: that MSS, or UINT16_MAX if nothing smaller than our MTU is known.
 */
uint16_t sp_pmtu_mss(struct sp *sp, uint32_t ip)
{
	DP_ASSERT_SP();
	const struct sp_pmtu_entry *e = slot_of(sp, ip);
	if (!e->mtu || e->ip != ip || (int64_t)(sp->now - e->expires) >= 0)
		return UINT16_MAX;
	return (uint16_t)(e->mtu - IP_TCP_HDRS);
}

/* whether @seq is a sequence number of ours in flight on installed @c */
static bool in_flight(struct sp *sp, const struct sp_conn *c, uint32_t id, uint32_t seq)
{
	struct sp_fp_flow_view v;
	sp_fp_flow_read(sp, id, &v);
	uint32_t una = c->iss + 1 + (uint32_t)v.tx_acked;
	uint32_t nxt = c->iss + 1 + (uint32_t)v.tx_max_sent;
	if (v.flags & FPF_TX_FIN_SENT)
		nxt++;
	return seq - una < nxt - una;
}

/**
 * sp_pmtu_rx - an ICMP "fragmentation needed" the fastpath passed up
 * (fp_handle_icmp() checked that it is about a TCP segment from us).
 * Consumes @m.
 */
void sp_pmtu_rx(struct sp *sp, struct rte_mbuf *m)
{
	DP_ASSERT_SP();
	struct dataplane *dp = sp->dp;
	struct pkt_icmp_too_big tb;
	bool ok = pkt_icmp_too_big_parse(rte_pktmbuf_mtod(m, const uint8_t *),
					 rte_pktmbuf_data_len(m), dp->ip, &tb);
	rte_pktmbuf_free(m);
	if (!ok)
		return;

	uint32_t id;
	struct sp_conn *c = sp_conn_by_tuple(sp, tb.raddr, tb.rport, tb.lport, &id);
	uint32_t mtu = tb.mtu < PKT_MIN_PMTU ? PKT_MIN_PMTU : tb.mtu;
	if (!c || c->state != SPS_ESTABLISHED || !in_flight(sp, c, id, tb.seq) ||
	    tb.quoted_len <= mtu) {
		dp->sp_counters[DPC_ICMP_TOO_BIG_IGNORED]++;
		return;
	}
	/* cc.mss is the flow's MSS as this file last set it: a burst of
	 * ICMPs (one per dropped segment) arrives before the fastpath has
	 * taken the first DPM_FLOW_PMTU, so its own copy may be stale */
	uint16_t mss = (uint16_t)(mtu - IP_TCP_HDRS);
	if (mss >= c->cc.mss) {
		dp->sp_counters[DPC_ICMP_TOO_BIG_IGNORED]++;
		return;
	}
	struct sp_pmtu_entry *e = slot_of(sp, tb.raddr);
	if (e->ip != tb.raddr || !e->mtu || mtu < e->mtu ||
	    (int64_t)(sp->now - e->expires) >= 0)
		*e = (struct sp_pmtu_entry){
			.ip = tb.raddr, .mtu = (uint16_t)mtu,
			.expires = sp->now + sp_ms_to_tsc(sp, SP_PMTU_EXPIRES_MS),
		};
	c->cc.mss = mss;
	sp_fp_flow_pmtu(sp, id, mss);
	dp->sp_counters[DPC_PMTU_LOWERED]++;
}

/** sp_pmtu_init - an empty cache under a fresh key. */
void sp_pmtu_init(struct sp *sp)
{
	memset(sp->pmtu, 0, sizeof(sp->pmtu));
	sp->pmtu_key = (uint32_t)rte_rand();
}

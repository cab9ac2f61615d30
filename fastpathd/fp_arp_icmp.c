// SPDX-License-Identifier: MIT
/*
 * fp_arp_icmp.c - answers that need no connection state: ARP requests for
 * our address and ICMP echo.  ARP frames that can teach the neighbour
 * cache (addressed to us, from the gateway, or gratuitous) also go to the
 * slowpath, which owns the cache and decides (slowpath/arp.c), as do ICMP
 * errors about our segments (destination unreachable, time exceeded,
 * parameter problem: path MTU, failed connects; slowpath/icmp_err.c), and
 * IP fragments addressed to us, which the slowpath reassembles
 * (slowpath/frag.c).
 */
#include <string.h>
#include <rte_mbuf.h>

#include "fastpath.h"
#include "seq.h"

void fp_handle_arp(struct fp_ctx *fp, struct rte_mbuf *m)
{
	struct dataplane *dp = fp->dp;
	struct pkt_arp a;
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);

	if (!pkt_arp_parse(frame, rte_pktmbuf_data_len(m), &a)) {
		fp->cnt[DPC_RX_DROP_BAD]++;
		rte_pktmbuf_free(m);
		return;
	}
	/* answered for any sender address, 0.0.0.0 included (a duplicate
	 * address probe must hear that ours is taken), but only to a MAC a
	 * host can own: never a broadcast reply */
	if (a.op == PKT_ARP_REQUEST && a.tpa == dp->ip && !pkt_mac_martian(a.sha)) {
		struct rte_mbuf *r = rte_pktmbuf_alloc(dp->pool);
		uint8_t *buf = r ? (uint8_t *)rte_pktmbuf_append(r, PKT_ARP_FRAME_LEN) : NULL;
		if (buf) {
			pkt_arp_write(buf, PKT_ARP_REPLY, dp->mac.addr_bytes, dp->ip, a.sha, a.spa);
			fp_tx_enqueue(fp, r);
			fp->cnt[DPC_ARP_REPLIES]++;
		} else {
			rte_pktmbuf_free(r);
			fp->cnt[DPC_TX_NOMBUF]++;
		}
	}
	if (a.tpa == dp->ip || (dp->gateway && a.spa == dp->gateway) || a.spa == a.tpa)
		fp_to_sp(fp, DPM_RX_PKT, 0, m); /* neighbour learning */
	else
		rte_pktmbuf_free(m);
}

/*
 * ICMP errors that name no installed flow (a connect in progress has none
 * yet) reach the slowpath at most ICMP_ERR_PER_WINDOW every
 * ICMP_ERR_WINDOW_MS per core (10,000 a second): forging one needs no
 * secret, and a flood must not take the slowpath from connects and
 * control requests.  Those about an installed flow are checked on its core
 * instead (icmp_err_checked()), so no flood can crowd out a router's real
 * "fragmentation needed".
 */
#define ICMP_ERR_WINDOW_MS 10
#define ICMP_ERR_PER_WINDOW 100

static bool icmp_err_admit(struct fp_ctx *fp)
{
	if (fp->now - fp->icmp_err_start >= fp->dp->tsc_hz / 1000 * ICMP_ERR_WINDOW_MS) {
		fp->icmp_err_start = fp->now;
		fp->icmp_err_n = 0;
	}
	return fp->icmp_err_n++ < ICMP_ERR_PER_WINDOW;
}

/*
 * On the core that owns the quoted segment's flow @f: is @u worth the
 * slowpath's time?  Only a "fragmentation needed" about a sequence number
 * in flight (RFC 5927; the slowpath decides the rest).  Anything else about
 * an established connection is a soft error Linux does not act on.
 */
static bool icmp_err_checked(const struct fp_flow *f, const struct pkt_icmp_err *u)
{
	return pkt_icmp_frag_needed(u) &&
	       seq_in_flight(u->seq, f->tx_isn, f->tx_acked, f->tx_max_sent,
			     f->flags & FPF_TX_FIN_SENT);
}

/* an ICMP error about a segment from us: to the slowpath, or dropped */
static void icmp_err(struct fp_ctx *fp, struct rte_mbuf *m, bool from_sp,
		     const struct pkt_icmp_err *u)
{
	struct dataplane *dp = fp->dp;
	if (dp->ncores > 1) { /* to the core that owns the quoted flow's bucket */
		uint32_t h = dp_bucket_hash(dp, u->raddr, dp->ip, u->rport, u->lport);
		if (fp_route_frame(fp, m, dp_bucket_of(h), from_sp) != FP_MINE)
			return;
	}
	fp_capture_rx(fp, m, from_sp); /* once, where it is decided, as TCP */
	struct fp_flow *f = flow_table_lookup(fp, u->raddr, dp->ip, u->rport, u->lport);
	bool pass;
	if (f && fp_owns(fp, f) && (f->flags & FPF_ACTIVE)) {
		pass = icmp_err_checked(f, u);
		if (!pass)
			fp->cnt[DPC_ICMP_ERR_IGNORED]++;
	} else {
		pass = icmp_err_admit(fp);
		if (!pass)
			fp->cnt[DPC_ICMP_ERR_LIMITED]++;
	}
	if (!pass) {
		rte_pktmbuf_free(m);
		return;
	}
	fp->cnt[DPC_ICMP_ERR]++;
	fp_to_sp(fp, DPM_RX_PKT, 0, m);
}

void fp_handle_icmp(struct fp_ctx *fp, struct rte_mbuf *m, bool from_sp)
{
	struct dataplane *dp = fp->dp;
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint16_t len = rte_pktmbuf_data_len(m);
	uint32_t saddr, daddr;

	/* pkt_classify() saw a whole IPv4 header.  Answer only a host's
	 * unicast echo to our own address, as Linux does by default
	 * (icmp_echo_ignore_broadcasts): never one to a broadcast or another
	 * address (a smurf amplifier, or replies forged from that address),
	 * never to a group MAC or a source no host can have. */
	memcpy(&saddr, frame + PKT_ETH_LEN + 12, 4);
	memcpy(&daddr, frame + PKT_ETH_LEN + 16, 4);
	size_t rlen = 0;
	bool from_a_host = daddr == dp->ip && !pkt_mac_martian(frame + 6) &&
			   !pkt_ipv4_martian(saddr, dp->ip, dp->netmask);
	struct pkt_icmp_err u;
	if (from_a_host && pkt_icmp_err_parse(frame, len, dp->ip, &u)) {
		/* a router's or the peer's word that a segment of ours did not
		 * get through (slowpath/icmp_err.c) */
		icmp_err(fp, m, from_sp, &u);
		return;
	}
	fp_capture_rx(fp, m, from_sp);
	if (from_a_host) /* reply in place: the request buffer becomes the answer */
		rlen = pkt_icmp_echo_reply(frame, len, frame, len, dp->mac.addr_bytes);
	if (!rlen) {
		fp->cnt[DPC_RX_DROP_NOFLOW]++;
		rte_pktmbuf_free(m);
		return;
	}
	rte_pktmbuf_trim(m, (uint16_t)(len - rlen));
	fp->cnt[DPC_ICMP_ECHO]++;
	fp_tx_enqueue(fp, m);
}

/*
 * IP fragments reach the slowpath through one token bucket the cores share
 * (64,000 a second, bursts of 1,024): forging them needs no secret, and
 * their reassembly must not take the slowpath from connects and control
 * requests.  Real ones are rare (a peer behind a hop under 552 bytes,
 * whose Linux sends without DF, or a ping larger than the MTU) but come in
 * bursts: a window of segments cut in two at the narrow hop arrives back
 * to back.  64,000 a second are 130 Mbit/s of 552-byte packets.  One
 * bucket, not one a core: a NIC's RSS hashes no fragment (port.c asks
 * for TCP only), so they all come to one queue, whose core would
 * otherwise get only its share.
 */
#define FRAG_PER_SEC 64000
#define FRAG_BURST 1024

static bool frag_admit(struct fp_ctx *fp)
{
	struct dataplane *dp = fp->dp;
	uint64_t hz = dp->tsc_hz;
	bool ok;

	rte_spinlock_lock(&dp->frag_lock);
	uint64_t since = fp->now > dp->frag_last ? fp->now - dp->frag_last : 0;
	if (since >= hz) { /* a full bucket (and no overflow below) */
		dp->frag_last = fp->now;
		dp->frag_tokens = FRAG_BURST;
	} else {
		uint64_t add = since * FRAG_PER_SEC / hz;
		/* the time those tokens took, not more: no fraction is lost */
		dp->frag_last += add * hz / FRAG_PER_SEC;
		dp->frag_tokens = add >= FRAG_BURST - dp->frag_tokens ? FRAG_BURST :
									dp->frag_tokens + (uint32_t)add;
	}
	ok = dp->frag_tokens > 0;
	if (ok)
		dp->frag_tokens--;
	rte_spinlock_unlock(&dp->frag_lock);
	return ok;
}

/**
 * fp_handle_ip_fragment - a TCP or ICMP fragment (pkt_ip_fragment()): to
 * the slowpath, which puts its datagram together and hands that back as
 * received, if a host sent it to our address and the cores' bucket of
 * fragments (frag_admit()) is not empty; else dropped.
 */
void fp_handle_ip_fragment(struct fp_ctx *fp, struct rte_mbuf *m, bool from_sp)
{
	struct dataplane *dp = fp->dp;
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t saddr, daddr;

	fp_capture_rx(fp, m, from_sp); /* as it came: the whole one is not on the wire */
	memcpy(&saddr, frame + PKT_ETH_LEN + 12, 4);
	memcpy(&daddr, frame + PKT_ETH_LEN + 16, 4);
	if (from_sp || daddr != dp->ip || (frame[0] & 1) || pkt_mac_martian(frame + 6) ||
	    pkt_ipv4_martian(saddr, dp->ip, dp->netmask)) {
		fp->cnt[DPC_RX_DROP_NOFLOW]++;
		rte_pktmbuf_free(m);
		return;
	}
	if (!frag_admit(fp)) {
		fp->cnt[DPC_IP_FRAGS_LIMITED]++;
		rte_pktmbuf_free(m);
		return;
	}
	fp->cnt[DPC_IP_FRAGS]++;
	fp_to_sp(fp, DPM_RX_PKT, 0, m);
}

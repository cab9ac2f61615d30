// SPDX-License-Identifier: MIT
/*
 * fp_arp_icmp.c - answers that need no connection state: ARP requests for
 * our address and ICMP echo.  ARP frames that can teach the neighbour
 * cache (addressed to us, from the gateway, or gratuitous) also go to the
 * slowpath, which owns the cache and decides (slowpath/arp.c), as do ICMP
 * "destination unreachable" messages about our segments (path MTU, failed
 * connects: slowpath/icmp_err.c).
 */
#include <string.h>
#include <rte_mbuf.h>

#include "fastpath.h"

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
 * ICMP errors about our segments the slowpath may be asked to check, per
 * core: ICMP_ERR_PER_WINDOW every ICMP_ERR_WINDOW_MS (10,000 a second).
 * Forging one needs no secret (only the sequence number it quotes must be
 * guessed, and that is the slowpath's check), so a flood of them must not
 * take the slowpath from connects and control requests; a router sends
 * one per dropped segment, far fewer.
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

void fp_handle_icmp(struct fp_ctx *fp, struct rte_mbuf *m)
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
	struct pkt_icmp_unreach u;
	if (from_a_host && pkt_icmp_unreach_parse(frame, len, dp->ip, &u)) {
		/* a router's or the peer's word that a segment of ours did not
		 * get through: the slowpath checks it names one in flight
		 * (slowpath/icmp_err.c) */
		if (!icmp_err_admit(fp)) {
			fp->cnt[DPC_ICMP_UNREACH_LIMITED]++;
			rte_pktmbuf_free(m);
			return;
		}
		fp->cnt[DPC_ICMP_UNREACH]++;
		fp_to_sp(fp, DPM_RX_PKT, 0, m);
		return;
	}
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

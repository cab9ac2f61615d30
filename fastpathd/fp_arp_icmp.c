// SPDX-License-Identifier: MIT
/*
 * fp_arp_icmp.c - answers that need no connection state: ARP requests for
 * our address and ICMP echo.  ARP replies (and requests, which teach us the
 * sender) also go to the slowpath, which owns the neighbour cache.
 */
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
	if (a.op == PKT_ARP_REQUEST && a.tpa == dp->ip) {
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
	if (a.tpa == dp->ip || a.spa == dp->gateway)
		fp_to_sp(fp, DPM_RX_PKT, 0, m); /* neighbour learning */
	else
		rte_pktmbuf_free(m);
}

void fp_handle_icmp(struct fp_ctx *fp, struct rte_mbuf *m)
{
	struct dataplane *dp = fp->dp;
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	uint16_t len = rte_pktmbuf_data_len(m);

	/* reply in place: the request buffer becomes the answer */
	size_t rlen = pkt_icmp_echo_reply(frame, len, frame, len, dp->mac.addr_bytes);
	if (!rlen) {
		fp->cnt[DPC_RX_DROP_NOFLOW]++;
		rte_pktmbuf_free(m);
		return;
	}
	rte_pktmbuf_trim(m, (uint16_t)(len - rlen));
	fp->cnt[DPC_ICMP_ECHO]++;
	fp_tx_enqueue(fp, m);
}

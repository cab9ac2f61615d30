// SPDX-License-Identifier: MIT
/*
 * arp.c - the neighbour cache: learned from ARP traffic addressed to us,
 * filled on demand by requests for active opens.  Small direct-mapped
 * table: a datacenter host talks to few next hops on its own subnet.
 */
#include <string.h>
#include <rte_mbuf.h>

#include "sp_internal.h"

static struct sp_arp_entry *slot_of(struct sp *sp, uint32_t ip)
{
	uint32_t h = ip * 2654435761u;
	return &sp->arp[(h >> 24) % SP_ARP_SIZE];
}

const struct rte_ether_addr *sp_arp_lookup(struct sp *sp, uint32_t ip)
{
	struct sp_arp_entry *e = slot_of(sp, ip);
	return e->valid && e->ip == ip ? &e->mac : NULL;
}

void sp_arp_learn(struct sp *sp, uint32_t ip, const uint8_t *mac)
{
	struct sp_arp_entry *e = slot_of(sp, ip);
	bool was_known = e->valid && e->ip == ip;
	e->ip = ip;
	memcpy(e->mac.addr_bytes, mac, 6);
	e->valid = true;
	e->updated = sp->now;
	if (!was_known)
		sp_conn_arp_resolved(sp, ip);
}

void sp_arp_request(struct sp *sp, uint32_t ip)
{
	struct dataplane *dp = sp->dp;
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	uint8_t *buf = m ? (uint8_t *)rte_pktmbuf_append(m, PKT_ARP_FRAME_LEN) : NULL;
	if (!buf) {
		rte_pktmbuf_free(m);
		return;
	}
	pkt_arp_write(buf, PKT_ARP_REQUEST, dp->mac.addr_bytes, dp->ip, NULL, ip);
	sp_tx_mbuf(sp, m);
}

void sp_arp_rx(struct sp *sp, struct rte_mbuf *m)
{
	struct pkt_arp a;
	if (pkt_arp_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), &a) &&
	    a.spa != 0 && (a.tpa == sp->dp->ip || a.spa == sp->dp->gateway))
		sp_arp_learn(sp, a.spa, a.sha);
	rte_pktmbuf_free(m);
}

/* the address whose MAC a packet to @dst must carry */
uint32_t sp_next_hop(struct sp *sp, uint32_t dst)
{
	struct dataplane *dp = sp->dp;
	if ((dst & dp->netmask) == (dp->ip & dp->netmask))
		return dst;
	return dp->gateway; /* 0 if none: unreachable */
}

// SPDX-License-Identifier: MIT
/*
 * arp.c - the neighbour cache, and what may write it.
 *
 * A datacenter host talks to few next hops on its own subnet, so the
 * cache is a small table: SP_ARP_SIZE entries in sets of SP_ARP_WAYS,
 * indexed by a hash keyed at start (a sender cannot aim at one set); the
 * gateway's entry is never evicted for another, and an address we are
 * asking for only for another of our own questions, so forged requests
 * cannot make us drop the answer.
 *
 * What the wire may write, as Linux with its defaults (arp_accept = 0):
 *  - an ARP request for our address teaches its sender (as the reply we
 *    send it would make it talk to us anyway);
 *  - a reply or a request answers an address we are asking for (and only
 *    while we ask: an unanswered question expires);
 *  - an entry we know is updated by its owner's frames, but a reply that
 *    changes its MAC within SP_ARP_LOCK_MS of the last confirmation is
 *    ignored (Linux's locktime: the first answer wins a race);
 *  - nothing else creates an entry: no unsolicited reply, no gratuitous
 *    ARP for an address we do not know;
 *  - a sender no neighbour can be never gets in: its address off our
 *    subnet (but for the gateway's) or a martian (pkt_ipv4_martian()),
 *    its MAC zero or a group address.
 * An ARP frame costs O(1): the connections waiting for a neighbour are
 * looked for only when an address we asked for is answered, so the work
 * follows our own connects, not the wire's frames; those to a neighbour
 * that moved are looked for by a pass of bounded cost a tick
 * (path_pass.c).  A neighbour is asked
 * at most once per SP_ARP_ASK_GAP_MS however many connects wait on it.
 * Entries do not age out: the owner of an address that moves sends a
 * gratuitous ARP or asks for us; an entry not confirmed for
 * SP_ARP_REACHABLE_MS is asked for again when an active open resends its
 * SYN (sp_arp_recheck()), and a SYN is not answered through it
 * (sp_arp_reply_mac()).  Each connection keeps its own copy of the MAC
 * (the fastpath's flow has one); when an entry moves, the connections
 * still on its old MAC follow it (sp_arp_follow()), as Linux's follow their
 * neighbour entry, and an established connection that times out asks
 * again for a neighbour no answer of its own confirmed lately
 * (sp_arp_revalidate()): a forged move lasts only while its forger keeps
 * sending (as on Linux, where a forger that answers our probes keeps it
 * too).  A SYN resend and a SYN-ACK still trust an entry by its last
 * update (any frame), not by such an answer.
 */
#include <string.h>
#include <rte_jhash.h>
#include <rte_mbuf.h>

#include "sp_internal.h"

#define SP_ARP_SETS (SP_ARP_SIZE / SP_ARP_WAYS)
#define SP_ARP_LOCK_MS 1000
#define SP_ARP_ASK_GAP_MS 100
#define SP_ARP_REACHABLE_MS 30000
#define SP_ARP_ASK_LIFE_MS (2 * ARP_RETRY_MS)

_Static_assert((SP_ARP_SETS & (SP_ARP_SETS - 1)) == 0, "ARP sets: a power of two");

/** sp_arp_init - key the cache's hash (at slowpath start): a key no sender
 * can predict, or it could aim addresses at one set and evict a neighbour */
void sp_arp_init(struct sp *sp)
{
	sp_secret(&sp->arp_key, sizeof(sp->arp_key));
	sp->arp_key |= 1;
}

static struct sp_arp_entry *set_of(struct sp *sp, uint32_t ip)
{
	return &sp->arp[rte_jhash_1word(ip, sp->arp_key) % SP_ARP_SETS * SP_ARP_WAYS];
}

/* an address we asked for lately: an active open asks again every
 * ARP_RETRY_MS while it waits, so a question lapses soon after the last
 * connect waiting on it gave up */
static bool asking(struct sp *sp, const struct sp_arp_entry *e)
{
	return e->incomplete && sp->now - e->asked < sp_ms_to_tsc(sp, SP_ARP_ASK_LIFE_MS);
}

static struct sp_arp_entry *find(struct sp *sp, uint32_t ip)
{
	struct sp_arp_entry *set = set_of(sp, ip);

	for (int w = 0; w < SP_ARP_WAYS; w++)
		if ((set[w].valid || asking(sp, &set[w])) && set[w].ip == ip)
			return &set[w];
	return NULL;
}

/*
 * A way for @ip (not in the cache), or NULL: a free one (an address we
 * stopped asking for is free), else a known neighbour's heard from longest
 * ago, never the gateway's for another address.  Only our own request
 * (@ours) may take the way of an address we are asking for, the oldest
 * ask first: what the wire sends cannot make us forget a question before
 * its answer comes.
 */
static struct sp_arp_entry *take(struct sp *sp, uint32_t ip, bool ours)
{
	struct sp_arp_entry *set = set_of(sp, ip), *oldest = NULL, *asked = NULL, *victim = NULL;

	/* a free way first; else the least recently confirmed entry (never
	 * the gateway's for another address); else, for a question of our
	 * own, the oldest question */
	for (int w = 0; w < SP_ARP_WAYS && !victim; w++) {
		struct sp_arp_entry *e = &set[w];

		if (!e->valid && !asking(sp, e))
			victim = e;
		else if (e->valid && e->ip == sp->dp->gateway && ip != sp->dp->gateway)
			continue;
		else if (e->valid && (!oldest || e->updated < oldest->updated))
			oldest = e;
		else if (!e->valid && (!asked || e->asked < asked->asked))
			asked = e;
	}
	if (!victim)
		victim = oldest ? oldest : ours ? asked : NULL;
	if (victim) {
		memset(victim, 0, sizeof(*victim));
		victim->ip = ip;
	}
	return victim;
}

const struct rte_ether_addr *sp_arp_lookup(struct sp *sp, uint32_t ip)
{
	struct sp_arp_entry *e = find(sp, ip);

	return e && e->valid ? &e->mac : NULL;
}

/*
 * @e takes @mac from a frame of its owner's (or of one who says so);
 * @reply: the frame is an ARP reply.  Only a reply to a question of ours
 * confirms the MAC (sp_arp_revalidate()); a gratuitous ARP or a request
 * that changes it leaves it unconfirmed.
 */
static void learn(struct sp *sp, struct sp_arp_entry *e, const uint8_t *mac, bool reply)
{
	bool answered = e->incomplete;
	bool answer = reply && e->asked &&
		      sp->now - e->asked < sp_ms_to_tsc(sp, SP_ARP_ASK_LIFE_MS);

	/* new, or a new MAC: the connections to it follow (path_pass.c);
	 * a new entry too, as it may be one evicted while in use */
	if (!e->valid || memcmp(e->mac.addr_bytes, mac, 6)) {
		e->moved = true;
		sp->arp_moved = true;
		e->confirmed = 0;
	}
	if (answer)
		e->confirmed = sp->now;
	memcpy(e->mac.addr_bytes, mac, 6);
	e->valid = true;
	e->incomplete = false;
	e->updated = sp->now;
	if (answered)
		sp_conn_arp_resolved(sp, e->ip);
}

/* ask for @e's address, unless we did a moment ago for another connect */
static void ask(struct sp *sp, struct sp_arp_entry *e)
{
	struct dataplane *dp = sp->dp;

	if (e->asked && sp->now - e->asked < sp_ms_to_tsc(sp, SP_ARP_ASK_GAP_MS))
		return;
	e->asked = sp->now;

	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	uint8_t *buf = m ? (uint8_t *)rte_pktmbuf_append(m, PKT_ARP_FRAME_LEN) : NULL;
	if (!buf) {
		rte_pktmbuf_free(m);
		return;
	}
	pkt_arp_write(buf, PKT_ARP_REQUEST, dp->mac.addr_bytes, dp->ip, NULL, e->ip);
	sp_tx_mbuf(sp, m);
}

/** sp_arp_request - ask for @ip's MAC (an active open waits for it). */
void sp_arp_request(struct sp *sp, uint32_t ip)
{
	struct sp_arp_entry *e = find(sp, ip);

	if (e && e->valid)
		return;
	if (!e) {
		e = take(sp, ip, true);
		if (!e)
			return;
		e->incomplete = true;
	}
	ask(sp, e);
}

/**
 * sp_arp_recheck - an active open resends its SYN to @mac: take the next
 * hop @ip's MAC as the cache has it now (a gratuitous ARP may have moved
 * it), and ask again if nothing confirmed it within SP_ARP_REACHABLE_MS:
 * a neighbour that moved without telling answers, past the lock time, and
 * the next resend goes to its new MAC.
 */
void sp_arp_recheck(struct sp *sp, uint32_t ip, struct rte_ether_addr *mac)
{
	struct sp_arp_entry *e = find(sp, ip);

	if (!e || !e->valid)
		return;
	*mac = e->mac;
	if (sp->now - e->updated >= sp_ms_to_tsc(sp, SP_ARP_REACHABLE_MS))
		ask(sp, e);
}

/**
 * sp_arp_revalidate - an established connection to next hop @ip timed out:
 * if no answer to a question of ours confirmed its MAC within
 * SP_ARP_REACHABLE_MS (a forged gratuitous ARP may have moved it, or the
 * neighbour moved without telling), ask; an answer that differs moves the
 * entry (past the lock time) and the connections follow it.  Linux's
 * stale entries are probed the same way when traffic stops confirming them.
 */
void sp_arp_revalidate(struct sp *sp, uint32_t ip)
{
	struct sp_arp_entry *e = ip ? find(sp, ip) : NULL;

	if (!e) /* evicted while in use: asked for as a connect would */
		sp_arp_request(sp, ip);
	else if (e->valid && sp->now - e->confirmed >= sp_ms_to_tsc(sp, SP_ARP_REACHABLE_MS))
		ask(sp, e);
}

/**
 * sp_arp_pass_begin - a pass over the connections starts (path_pass.c): it
 * follows the moves made before now, and the moves made during it wait
 * for the next.
 */
void sp_arp_pass_begin(struct sp *sp)
{
	for (unsigned i = 0; i < SP_ARP_SIZE; i++) {
		sp->arp[i].following = sp->arp[i].moved;
		sp->arp[i].moved = false;
	}
	sp->arp_moved = false;
}

/**
 * sp_arp_follow - connection @id follows its next hop if that moved to
 * another MAC in the moves its pass follows (sp_arp_pass_begin()): its
 * frames go to the new MAC from now on (the fastpath's flow by
 * DPM_FLOW_NEIGH).  Removes no connection.
 */
void sp_arp_follow(struct sp *sp, uint32_t id)
{
	struct sp_conn *c = &sp->conns[id];

	if (c->state == SPS_ARP_WAIT || c->state == SPS_DELETING)
		return;
	const struct sp_arp_entry *e = c->next_hop ? find(sp, c->next_hop) : NULL;
	if (!e || !e->valid || !e->following || rte_is_same_ether_addr(&c->mac, &e->mac))
		return;
	c->mac = e->mac;
	if (c->state == SPS_ESTABLISHED || c->state == SPS_TIME_WAIT)
		sp_fp_flow_neigh(sp, id, &c->mac); /* counted where the core takes it */
}

/* a sender that can be a neighbour of ours: on our subnet, or the gateway
 * (on a /32, or on the link outside the prefix).  Our own MAC is allowed:
 * DPDK's net_tap gives the kernel end of its tap device the port's MAC. */
static bool sender_ok(const struct dataplane *dp, const struct pkt_arp *a)
{
	bool on_link = (a->spa & dp->netmask) == (dp->ip & dp->netmask) ||
		       (dp->gateway && a->spa == dp->gateway);

	return on_link && !pkt_ipv4_martian(a->spa, dp->ip, dp->netmask) &&
	       !pkt_mac_martian(a->sha);
}

void sp_arp_rx(struct sp *sp, struct rte_mbuf *m)
{
	struct dataplane *dp = sp->dp;
	struct pkt_arp a;
	struct sp_arp_entry *e;

	if (!pkt_arp_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), &a) ||
	    (a.op != PKT_ARP_REQUEST && a.op != PKT_ARP_REPLY) || !sender_ok(dp, &a))
		goto out;
	bool asks_us = a.op == PKT_ARP_REQUEST && a.tpa == dp->ip;
	/* Linux's arp_is_garp(): a gratuitous reply names its sender as target too */
	bool gratuitous = a.spa == a.tpa && (a.op == PKT_ARP_REQUEST || !memcmp(a.tha, a.sha, 6));
	e = find(sp, a.spa);
	if (!e) {
		if (asks_us && (e = take(sp, a.spa, false)))
			learn(sp, e, a.sha, a.op == PKT_ARP_REPLY);
	} else if (e->incomplete || !memcmp(e->mac.addr_bytes, a.sha, 6)) {
		learn(sp, e, a.sha, a.op == PKT_ARP_REPLY);
	} else if (asks_us || gratuitous ||
		   sp->now - e->updated >= sp_ms_to_tsc(sp, SP_ARP_LOCK_MS)) {
		/* a new MAC: from a request to us or a gratuitous ARP at
		 * once (Linux overrides for both), from a reply only once the
		 * entry's lock time has passed */
		learn(sp, e, a.sha, a.op == PKT_ARP_REPLY);
	}
out:
	rte_pktmbuf_free(m);
}

/**
 * sp_arp_reply_mac - where a reply to a segment from @saddr goes.
 * @src_mac: the segment's source MAC.
 *
 * To the next hop's MAC when the cache confirmed it within
 * SP_ARP_REACHABLE_MS: a host that forges a live neighbour's address from
 * its own MAC does not see our answer (as with Linux, which answers
 * through its neighbour table and holds an entry reachable about 30 s).
 * Otherwise to @src_mac: an entry not confirmed lately may be stale (a
 * neighbour that moved without a gratuitous ARP), and a SYN must never
 * make us ARP (a flood of spoofed sources would make us ask for each).
 */
void sp_arp_reply_mac(struct sp *sp, uint32_t saddr, const uint8_t *src_mac,
		      struct rte_ether_addr *out)
{
	uint32_t hop = sp_next_hop(sp, saddr);
	struct sp_arp_entry *e = hop ? find(sp, hop) : NULL;

	if (e && e->valid && sp->now - e->updated < sp_ms_to_tsc(sp, SP_ARP_REACHABLE_MS))
		*out = e->mac;
	else
		memcpy(out->addr_bytes, src_mac, 6);
}

/* the address whose MAC a packet to @dst must carry */
uint32_t sp_next_hop(struct sp *sp, uint32_t dst)
{
	struct dataplane *dp = sp->dp;
	if ((dst & dp->netmask) == (dp->ip & dp->netmask))
		return dst;
	return dp->gateway; /* 0 if none: unreachable */
}

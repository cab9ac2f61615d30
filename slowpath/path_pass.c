// SPDX-License-Identifier: MIT
/*
 * path_pass.c - open connections take up what the slowpath learned about
 * their paths after they were installed: a next hop that moved to another
 * MAC (arp.c) and a narrower path MTU to their destination (icmp_err.c).
 * Linux's connections get both through their neighbour entry and route:
 * a gratuitous ARP re-addresses every socket behind it, and a "fragmentation
 * needed" one socket heard lowers the MSS of the others to that host at
 * their next send.
 *
 * Either news may come from a forger (a gratuitous ARP needs no secret; an
 * ICMP message needs a sequence number in flight, which a peer of ours
 * has), so a pass over the connections costs the same whatever the wire
 * sends: PASS_BUDGET connections a tick, a new pass no sooner than
 * PASS_GAP_MS after the last ended, and each pass takes up the news
 * learned before it began.  It runs down sp->active (a pass is under way
 * while pass_pos is not 0), so a connection removed meanwhile (the last
 * one takes its place) never hides one not yet looked at; nothing a pass
 * calls removes a connection.
 */
#include "sp_internal.h"

#define PASS_GAP_MS 50
#define PASS_BUDGET 1024 /* connections a tick */

/** sp_path_pass_tick - go on with a pass, or begin one if there is news. */
void sp_path_pass_tick(struct sp *sp)
{
	DP_ASSERT_SP();
	if (!sp->pass_pos) {
		if (!(sp->arp_moved || sp->pmtu_narrowed) || sp->now < sp->pass_next)
			return;
		sp_arp_pass_begin(sp);
		sp->pmtu_narrowed = false;
		sp->pass_pos = sp->nconns;
	}
	if (sp->pass_pos > sp->nconns) /* closed meanwhile: nothing there to look at */
		sp->pass_pos = sp->nconns;
	for (unsigned n = 0; n < PASS_BUDGET && sp->pass_pos; n++) {
		uint32_t id = sp->active[--sp->pass_pos];

		sp_arp_follow(sp, id);
		sp_pmtu_follow(sp, id);
	}
	if (!sp->pass_pos) /* the pass is over */
		sp->pass_next = sp->now + sp_ms_to_tsc(sp, PASS_GAP_MS);
}

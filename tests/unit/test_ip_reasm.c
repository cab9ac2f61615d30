// SPDX-License-Identifier: MIT
/*
 * test_ip_reasm.c - IPv4 reassembly (slowpath/ip_reasm.h).
 *
 * A whole datagram must come back byte-exact whatever order its fragments
 * take, with the first fragment's header made whole again; and since every
 * fragment is hostile until its datagram is whole, every bound the header
 * promises is driven to its edge here: overlaps, ends that disagree, the
 * ping of death, malformed headers, ECN that does not mix, the timeout and
 * floods that fill the slots or the memory (counted in pages).  Verdicts,
 * stats, the table's count and its memory are asserted exactly: a verdict
 * that is merely "not a crash" would let a fragment that should have cost
 * its datagram slip through.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ip_reasm.h"
#include "pkt.h"

#define SA 0x0100000au /* 10.0.0.1, network order on a little-endian host */
#define SB 0x0200000au /* 10.0.0.2 */
#define DA 0x0900000au /* 10.0.0.9 */
#define T0 1000000ull  /* the clock when a test starts, ms */
#define TMO 30000ull
#define MAXDATA (IP_REASM_MAX_DATAGRAM - 20)

/* one fragment to build: its header's fields and its slice of the data */
struct frag {
	uint32_t saddr, daddr;
	uint16_t id;
	uint8_t proto;
	uint8_t tos;
	uint8_t opt_words;  /* 32-bit words of options: ihl = 5 + this */
	bool df, mf;
	uint32_t off;       /* bytes, a multiple of 8 */
	const uint8_t *data;
	uint32_t len;
};

/* two unrelated payloads: a duplicate carrying the other one's bytes is
 * told apart from the first copy at every position.  Twice a datagram
 * long: the ping of death reads past 65,535, and datagrams that must
 * differ start at different places in them. */
static uint8_t D[2 * 65536], D2[2 * 65536];

/* what the last ip_reasm_add() gave out */
static const uint8_t *out;
static size_t out_len;

static void fill(void)
{
	for (uint32_t i = 0; i < sizeof(D); i++) {
		D[i] = (uint8_t)(i * 7 + (i >> 8) + 1);
		D2[i] = (uint8_t)~D[i];
	}
}

/* a datagram of id @id from SA to DA, UDP, to be sliced with piece() */
static struct frag dgram(uint16_t id)
{
	return (struct frag){ .saddr = SA, .daddr = DA, .id = id, .proto = 17, .tos = 0x10,
			      .data = D };
}

/* @f's bytes [@off, @off + @len) as one fragment */
static struct frag piece(struct frag f, uint32_t off, uint32_t len, bool mf)
{
	f.off = off;
	f.len = len;
	f.mf = mf;
	return f;
}

/* @f built at @ip; Return: its length */
static size_t build(uint8_t *ip, const struct frag *f)
{
	size_t ihl = 20 + 4u * f->opt_words;

	memset(ip, 0, ihl);
	ip[0] = (uint8_t)(0x40 | ihl / 4);
	ip[1] = f->tos;
	pkt_wr16(ip + 2, (uint16_t)(ihl + f->len));
	pkt_wr16(ip + 4, f->id);
	pkt_wr16(ip + 6, (uint16_t)(f->off / 8 | (f->mf ? PKT_IP_MF : 0) | (f->df ? PKT_IP_DF : 0)));
	ip[8] = 64;
	ip[9] = f->proto;
	memcpy(ip + 12, &f->saddr, 4);
	memcpy(ip + 16, &f->daddr, 4);
	/* options that differ per fragment, to see whose are kept (the
	 * code never parses them: bytes are enough) */
	for (size_t i = 20; i < ihl; i++)
		ip[i] = (uint8_t)(i * 3 + f->off / 8 + f->tos);
	memcpy(ip + ihl, f->data + f->off, f->len);
	pkt_ip_csum_set(ip);
	return ihl + f->len;
}

/* @len bytes of @ip, from a buffer exactly that long so that ASan sees
 * any read past them */
static enum ip_reasm_verdict feed(struct ip_reasm *r, const uint8_t *ip, size_t len,
				  uint64_t now)
{
	uint8_t *copy = malloc(len ? len : 1);
	cr_assert(copy);
	memcpy(copy, ip, len);
	out = NULL;
	out_len = 0;
	enum ip_reasm_verdict v = ip_reasm_add(r, copy, len, now, &out, &out_len);
	free(copy); /* the table keeps no pointer to a fragment */
	return v;
}

static uint8_t pkt[IP_REASM_MAX_DATAGRAM + 64];

static enum ip_reasm_verdict add(struct ip_reasm *r, struct frag f, uint64_t now)
{
	return feed(r, pkt, build(pkt, &f), now);
}

/* the datagram given out is @first's header made whole, then @dlen bytes
 * of @first's payload */
static void check_whole(const struct frag *first, uint32_t dlen)
{
	uint8_t h[60];
	size_t ihl = 20 + 4u * first->opt_words;
	struct frag f = *first;

	f.len = 0;
	build(h, &f);
	cr_assert(out, "no datagram given out");
	cr_assert_eq(out_len, ihl + dlen);
	cr_assert_eq(out[0], 0x40 | ihl / 4, "ihl %u", out[0] & 0x0f);
	cr_assert_eq(pkt_rd16(out + 2), out_len, "total length");
	cr_assert_eq(pkt_rd16(out + 6), first->df ? PKT_IP_DF : 0, "fragment fields %#x",
		     pkt_rd16(out + 6));
	cr_assert_eq(csum_fold(csum_partial(out, ihl, 0)), 0, "header checksum");
	/* the rest of the header, options included, is the first fragment's */
	cr_assert(!memcmp(out, h, 2) && !memcmp(out + 4, h + 4, 2) &&
		  !memcmp(out + 8, h + 8, 2) && !memcmp(out + 12, h + 12, ihl - 12));
	for (uint32_t i = 0; i < dlen; i++)
		cr_assert_eq(out[ihl + i], first->data[i], "data byte %u", i);
}

static void stats_are(const struct ip_reasm *r, uint64_t ok, uint64_t timeouts,
		      uint64_t evicted, uint64_t discarded, uint64_t bad, uint64_t dups)
{
	const struct ip_reasm_stats *s = ip_reasm_stats(r);
	cr_assert_eq(s->ok, ok, "ok %lu", (unsigned long)s->ok);
	cr_assert_eq(s->timeouts, timeouts, "timeouts %lu", (unsigned long)s->timeouts);
	cr_assert_eq(s->evicted, evicted, "evicted %lu", (unsigned long)s->evicted);
	cr_assert_eq(s->discarded, discarded, "discarded %lu", (unsigned long)s->discarded);
	cr_assert_eq(s->bad, bad, "bad %lu", (unsigned long)s->bad);
	cr_assert_eq(s->dups, dups, "dups %lu", (unsigned long)s->dups);
}

/* nothing left in reassembly after one more call, an expire at @now that
 * times nothing out (a table may keep the datagram it gave out until its
 * next call: ip_reasm_add()'s @out stays valid until then) */
static void empty_after(struct ip_reasm *r, uint64_t now)
{
	cr_assert_eq(ip_reasm_expire(r, now, NULL, NULL), 0);
	cr_assert_eq(ip_reasm_count(r), 0);
	cr_assert_eq(ip_reasm_mem(r), 0);
}

static struct ip_reasm *table(uint32_t slots, size_t mem_max)
{
	fill();
	struct ip_reasm *r = ip_reasm_new(slots, mem_max, TMO);
	cr_assert(r);
	return r;
}

/* ---------------------------------------------------- whole datagrams */

/* five fragments, the last not a multiple of 8 long */
#define NF 5
static const uint32_t OFF[NF + 1] = { 0, 800, 1600, 2400, 3200, 3533 };

/* the five fed in @order: held until the last, then whole */
static void reassemble(struct ip_reasm *r, const int *order, bool df, uint64_t now)
{
	struct frag d = dgram(0x1234);
	bool page[2] = { false, false }; /* 3,533 bytes: two pages */

	d.df = df;
	for (int i = 0; i < NF; i++) {
		int k = order[i];
		struct frag f = piece(d, OFF[k], OFF[k + 1] - OFF[k], k < NF - 1);
		enum ip_reasm_verdict v = add(r, f, now);
		if (i < NF - 1) {
			cr_assert_eq(v, IPR_HELD, "fragment %d, %dth: %d", k, i, v);
			cr_assert_eq(ip_reasm_count(r), 1);
			/* the pages its fragments touched, and no more */
			page[OFF[k] / IP_REASM_PAGE] = true;
			page[(OFF[k + 1] - 1) / IP_REASM_PAGE] = true;
			cr_assert_eq(ip_reasm_mem(r), (page[0] + page[1]) * IP_REASM_PAGE_MEM);
		} else {
			cr_assert_eq(v, IPR_DONE, "fragment %d, last: %d", k, v);
		}
	}
	check_whole(&d, OFF[NF]);
	empty_after(r, now);
}

Test(ip_reasm, in_order)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	reassemble(r, (const int[NF]){ 0, 1, 2, 3, 4 }, false, T0);
	stats_are(r, 1, 0, 0, 0, 0, 0);
	ip_reasm_free(r);
}

/* the last first: its end is known before any other byte */
Test(ip_reasm, reverse_order_keeps_df)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	reassemble(r, (const int[NF]){ 4, 3, 2, 1, 0 }, true, T0);
	stats_are(r, 1, 0, 0, 0, 0, 0);
	ip_reasm_free(r);
}

/* all 120 orders, one table: each datagram leaves nothing behind */
Test(ip_reasm, every_order)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	int order[NF] = { 0, 1, 2, 3, 4 }, n = 0;

	for (;;) {
		reassemble(r, order, n & 1, T0 + (uint64_t)n);
		n++;
		/* the next permutation in lexicographic order */
		int i = NF - 2, j = NF - 1;
		while (i >= 0 && order[i] > order[i + 1])
			i--;
		if (i < 0)
			break;
		while (order[j] < order[i])
			j--;
		int t = order[i];
		order[i] = order[j];
		order[j] = t;
		for (int a = i + 1, b = NF - 1; a < b; a++, b--) {
			t = order[a];
			order[a] = order[b];
			order[b] = t;
		}
	}
	cr_assert_eq(n, 120);
	stats_are(r, 120, 0, 0, 0, 0, 0);
	ip_reasm_free(r);
}

/* RFC 791: the first fragment carries every option; the others' (here
 * different ones, and none) must not replace them, whenever it comes */
Test(ip_reasm, first_fragments_options_kept)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag d = dgram(7), first = piece(d, 0, 800, true);
	struct frag mid = piece(d, 800, 800, true), last = piece(d, 1600, 100, false);

	first.opt_words = 10; /* ihl 15, 40 bytes of options */
	mid.opt_words = 2;
	cr_assert_eq(add(r, last, T0), IPR_HELD);
	cr_assert_eq(add(r, first, T0), IPR_HELD);
	cr_assert_eq(add(r, mid, T0), IPR_DONE);
	check_whole(&first, 1700);
	cr_assert_eq(out_len, 60 + 1700);

	/* the first in the middle, options on all three */
	last.opt_words = 1;
	first.opt_words = 3;
	cr_assert_eq(add(r, mid, T0), IPR_HELD);
	cr_assert_eq(add(r, first, T0), IPR_HELD);
	cr_assert_eq(add(r, last, T0), IPR_DONE);
	check_whole(&first, 1700);
	stats_are(r, 2, 0, 0, 0, 0, 0);
	empty_after(r, T0);
	ip_reasm_free(r);
}

/* ------------------------------------------------- duplicates, overlaps */

/* a fragment every byte of which is held is dropped alone: the first
 * copy's bytes, and the first copy's header, are what comes out, whatever
 * the copy carries.  Copies of the last, the first and a middle fragment,
 * a piece of one and a piece across two. */
Test(ip_reasm, duplicate_keeps_first_copy)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag d = dgram(9), other = dgram(9);

	other.data = D2;
	other.tos = 0x20;
	other.opt_words = 2;
	cr_assert_eq(add(r, piece(d, 2000, 333, false), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(other, 2000, 333, false), T0), IPR_DUP);
	cr_assert_eq(add(r, piece(d, 0, 1000, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(other, 0, 1000, true), T0), IPR_DUP);
	cr_assert_eq(add(r, piece(d, 1000, 504, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(other, 1000, 504, true), T0), IPR_DUP);
	cr_assert_eq(add(r, piece(other, 1000, 8, true), T0), IPR_DUP);
	cr_assert_eq(add(r, piece(other, 992, 16, true), T0), IPR_DUP);
	cr_assert_eq(ip_reasm_count(r), 1);
	stats_are(r, 0, 0, 0, 0, 0, 5);
	cr_assert_eq(add(r, piece(d, 1504, 496, true), T0), IPR_DONE);
	struct frag first = piece(d, 0, 1000, true);
	check_whole(&first, 2333);
	stats_are(r, 1, 0, 0, 0, 0, 5);
	empty_after(r, T0);
	ip_reasm_free(r);
}

/* CVE-2018-5391: a fragment that partly overlaps what is held costs its
 * whole datagram; the next fragment starts a new one */
Test(ip_reasm, partial_overlap_discards)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag d = dgram(11);

	cr_assert_eq(add(r, piece(d, 0, 1000, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 992, 608, true), T0), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_count(r), 0);
	cr_assert_eq(ip_reasm_mem(r), 0);
	stats_are(r, 0, 0, 0, 1, 0, 0);

	/* what was held is gone: these three alone make the datagram */
	cr_assert_eq(add(r, piece(d, 1600, 400, false), T0), IPR_HELD);
	cr_assert_eq(ip_reasm_count(r), 1);
	cr_assert_eq(add(r, piece(d, 1000, 600, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 0, 1000, true), T0), IPR_DONE);
	struct frag first = piece(d, 0, 1000, true);
	check_whole(&first, 2000);

	/* one that covers a hole and both its sides: new and held bytes */
	cr_assert_eq(add(r, piece(d, 0, 8, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 16, 8, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 0, 24, true), T0), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_count(r), 0);
	/* and a last fragment that agrees on the end but covers a hole and
	 * the held last one's partial 8-byte unit */
	cr_assert_eq(add(r, piece(d, 16, 5, false), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 8, 13, false), T0), IPR_DISCARDED);
	stats_are(r, 1, 0, 0, 3, 0, 0);
	empty_after(r, T0);
	ip_reasm_free(r);
}

/* fragments that disagree on where the datagram ends: one of them lies,
 * and there is no telling which */
Test(ip_reasm, ends_that_disagree_discard)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag d = dgram(13);

	/* two last fragments, different ends (no byte in common) */
	cr_assert_eq(add(r, piece(d, 1600, 400, false), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 2400, 100, false), T0), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_count(r), 0);
	/* ... the later one ending first */
	cr_assert_eq(add(r, piece(d, 1600, 400, false), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 800, 400, false), T0), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_count(r), 0);
	/* a middle fragment past the last one's end */
	cr_assert_eq(add(r, piece(d, 1600, 400, false), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 2000, 8, true), T0), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_count(r), 0);
	/* a last fragment ending before data already held */
	cr_assert_eq(add(r, piece(d, 1600, 800, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 800, 400, false), T0), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_count(r), 0);
	cr_assert_eq(ip_reasm_mem(r), 0);
	stats_are(r, 0, 0, 0, 4, 0, 0);
	/* and the agreeing ones still make a datagram */
	cr_assert_eq(add(r, piece(d, 1600, 400, false), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 800, 800, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 0, 800, true), T0), IPR_DONE);
	struct frag first = piece(d, 0, 800, true);
	check_whole(&first, 2000);
	stats_are(r, 1, 0, 0, 4, 0, 0);
	ip_reasm_free(r);
}

/* the ping of death: offset + length + a header past 65,535 */
Test(ip_reasm, ping_of_death_discards)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag d = dgram(15);

	cr_assert_eq(add(r, piece(d, 8189 * 8, 8, true), T0), IPR_DISCARDED);
	cr_assert_eq(add(r, piece(d, 8191 * 8, 1400, false), T0), IPR_DISCARDED);
	/* one byte past: 65496 + 20 + 20 */
	cr_assert_eq(add(r, piece(d, 65496, 20, false), T0), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_count(r), 0);
	cr_assert_eq(ip_reasm_mem(r), 0);
	stats_are(r, 0, 0, 0, 3, 0, 0);
	/* exactly 65,535 is a datagram */
	cr_assert_eq(add(r, piece(d, 65496, 19, false), T0), IPR_HELD);
	cr_assert_eq(ip_reasm_count(r), 1);
	/* a first fragment whose options leave no room for the data held */
	struct frag first = piece(d, 0, 1480, true);
	first.opt_words = 1;
	cr_assert_eq(add(r, first, T0), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_count(r), 0);
	/* ... or whose options came first, and the data then goes past */
	first.opt_words = 10;
	cr_assert_eq(add(r, first, T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 65480, 16, false), T0), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_count(r), 0);
	stats_are(r, 0, 0, 0, 5, 0, 0);
	ip_reasm_free(r);
}

/* a copy of the first fragment is a duplicate whatever its header says:
 * that header is never the datagram's, so it cannot make the datagram
 * pass 65,535 bytes, and the datagram must not go for it */
Test(ip_reasm, duplicate_first_fragment_with_longer_header)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag d = dgram(25), copy = piece(d, 0, 8, true);

	cr_assert_eq(add(r, piece(d, 0, 8, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 65464, 51, false), T0), IPR_HELD); /* 65,535 */
	copy.opt_words = 1;
	cr_assert_eq(add(r, copy, T0), IPR_DUP);
	cr_assert_eq(ip_reasm_count(r), 1);
	stats_are(r, 0, 0, 0, 0, 0, 1);
	cr_assert_eq(add(r, piece(d, 8, 65456, true), T0), IPR_DONE);
	struct frag first = piece(d, 0, 8, true);
	check_whole(&first, MAXDATA);
	ip_reasm_free(r);
}

/* a duplicate's MF still counts: one that says the datagram ends where
 * its bytes end fixes the end, as Linux takes it before the duplicate
 * test, so a later piece beyond it disagrees */
Test(ip_reasm, a_duplicate_last_fragment_fixes_the_end)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag d = dgram(26);

	cr_assert_eq(add(r, piece(d, 0, 16, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 16, 8, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 16, 8, false), T0), IPR_DUP);
	cr_assert_eq(add(r, piece(d, 24, 8, false), T0), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_count(r), 0);
	stats_are(r, 0, 0, 0, 1, 0, 1);
	ip_reasm_free(r);
}

/* RFC 3168 5.3, as Linux's ip_frag_ecn_table: CE on any fragment marks
 * the datagram, ECT(0) and ECT(1) mix, not-ECT and ECT do not */
Test(ip_reasm, ecn_combined)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag d = dgram(19), first;

	d.tos = 0x12; /* ECT(0) */
	cr_assert_eq(add(r, piece(d, 0, 800, true), T0), IPR_HELD);
	d.tos = 0x13; /* CE */
	cr_assert_eq(add(r, piece(d, 800, 800, true), T0), IPR_HELD);
	d.tos = 0x11; /* ECT(1) */
	cr_assert_eq(add(r, piece(d, 1600, 100, false), T0), IPR_DONE);
	first = piece(d, 0, 800, true);
	first.tos = 0x13;
	check_whole(&first, 1700);

	/* ECT(1) and ECT(0): the first fragment's field as it was */
	cr_assert_eq(add(r, piece(d, 0, 800, true), T0), IPR_HELD);
	d.tos = 0x12;
	cr_assert_eq(add(r, piece(d, 800, 900, false), T0), IPR_DONE);
	first.tos = 0x11;
	check_whole(&first, 1700);
	stats_are(r, 2, 0, 0, 0, 0, 0);

	/* not-ECT with ECT: the datagram goes when it would be whole */
	d.tos = 0x10;
	cr_assert_eq(add(r, piece(d, 0, 800, true), T0), IPR_HELD);
	d.tos = 0x12;
	cr_assert_eq(add(r, piece(d, 800, 900, false), T0), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_count(r), 0);
	cr_assert_eq(ip_reasm_mem(r), 0);
	/* ... and not-ECT with CE */
	d.tos = 0x13;
	cr_assert_eq(add(r, piece(d, 0, 800, true), T0), IPR_HELD);
	d.tos = 0x10;
	cr_assert_eq(add(r, piece(d, 800, 900, false), T0), IPR_DISCARDED);
	stats_are(r, 2, 0, 0, 2, 0, 0);
	empty_after(r, T0);
	ip_reasm_free(r);
}

/* memory counts the pages the data lies in, made when a fragment first
 * touches one: a tiny fragment far into its datagram costs one page */
Test(ip_reasm, memory_counts_pages)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag d = dgram(23), e = dgram(24);

	cr_assert_eq(add(r, piece(d, 60000, 8, true), T0), IPR_HELD);
	cr_assert_eq(ip_reasm_mem(r), IP_REASM_PAGE_MEM);
	cr_assert_eq(add(r, piece(d, 0, 8, true), T0), IPR_HELD);
	cr_assert_eq(ip_reasm_mem(r), 2 * IP_REASM_PAGE_MEM);
	/* across the line between the first and the second page */
	cr_assert_eq(add(r, piece(d, IP_REASM_PAGE - 8, 16, true), T0), IPR_HELD);
	cr_assert_eq(ip_reasm_mem(r), 3 * IP_REASM_PAGE_MEM);
	/* within pages made, and a duplicate: nothing more */
	cr_assert_eq(add(r, piece(d, 8, 1000, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 60000, 8, true), T0), IPR_DUP);
	cr_assert_eq(ip_reasm_mem(r), 3 * IP_REASM_PAGE_MEM);
	/* another datagram's pages are its own */
	cr_assert_eq(add(r, piece(e, 8, 8, true), T0), IPR_HELD);
	cr_assert_eq(ip_reasm_mem(r), 4 * IP_REASM_PAGE_MEM);
	/* and go with it */
	cr_assert_eq(add(r, piece(d, 8, 16, true), T0), IPR_DUP);
	cr_assert_eq(add(r, piece(d, 1000, 16, true), T0), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_mem(r), IP_REASM_PAGE_MEM);
	cr_assert_eq(ip_reasm_count(r), 1);
	ip_reasm_free(r);
}

/* ------------------------------------------------------- bad fragments */

Test(ip_reasm, bad_headers)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag d = dgram(17), f = piece(d, 800, 800, true);
	uint8_t ip[2000] = { 0 };
	size_t n = build(ip, &f);
	uint64_t bad = 0;

	/* the unbroken fragment is fine, padding after it too: each case
	 * below breaks one thing only */
	cr_assert_eq(feed(r, ip, n + 6, T0), IPR_HELD);
	cr_assert_eq(ip_reasm_count(r), 1);

#define BAD(what, ip_, len_) do { \
		cr_assert_eq(feed(r, ip_, len_, T0), IPR_BAD, what); \
		cr_assert_eq(ip_reasm_stats(r)->bad, ++bad, what); \
		cr_assert_eq(ip_reasm_count(r), 1, what); \
	} while (0)

	uint8_t b[2000];
	memcpy(b, ip, n);
	b[0] = 0x65;
	pkt_ip_csum_set(b);
	BAD("IPv6's version", b, n);
	/* the total length makes the data a multiple of 8 behind 16 bytes */
	memcpy(b, ip, n);
	b[0] = 0x44;
	pkt_wr16(b + 2, n - 4);
	pkt_ip_csum_set(b);
	BAD("ihl 4", b, n);
	BAD("shorter than its total length", ip, n - 1);
	BAD("shorter than a header", ip, 19);
	memcpy(b, ip, n);
	pkt_wr16(b + 2, 12); /* 12 - 20 is a multiple of 8 when it wraps */
	pkt_ip_csum_set(b);
	BAD("total length 12", b, n);
	memcpy(b, ip, n);
	b[10] ^= 1;
	BAD("header checksum", b, n);

	f = piece(d, 0, 800, false);
	BAD("not a fragment", b, build(b, &f));
	f = piece(d, 1600, 0, true);
	BAD("no data", b, build(b, &f));
	f = piece(d, 1600, 0, false);
	BAD("no data, last", b, build(b, &f));
	f = piece(d, 1600, 100, true);
	BAD("a middle piece not a multiple of 8", b, build(b, &f));
#undef BAD

	/* none of them touched the datagram */
	cr_assert_eq(add(r, piece(d, 1600, 1, false), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 0, 800, true), T0), IPR_DONE);
	struct frag first = piece(d, 0, 800, true);
	check_whole(&first, 1601);
	stats_are(r, 1, 0, 0, 0, 10, 0);
	ip_reasm_free(r);
}

/* ------------------------------------------------------ many datagrams */

/* a datagram is its source, destination, id and protocol: datagrams that
 * share all but one never mix */
Test(ip_reasm, interleaved_datagrams_complete_apart)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag g[4] = { dgram(21), dgram(22), dgram(21), dgram(21) };

	g[2].saddr = SB;
	g[3].proto = 6;
	for (int k = 0; k < 4; k++)
		g[k].data = D + 101 * k; /* different bytes at each offset */
	for (int k = 0; k < 4; k++) {
		cr_assert_eq(add(r, piece(g[k], 1000, 1000, true), T0), IPR_HELD);
		cr_assert_eq(ip_reasm_count(r), (uint32_t)k + 1);
	}
	for (int k = 0; k < 4; k++)
		cr_assert_eq(add(r, piece(g[k], 0, 1000, true), T0), IPR_HELD);
	cr_assert_eq(ip_reasm_count(r), 4);
	for (int k = 3; k >= 0; k--) {
		cr_assert_eq(add(r, piece(g[k], 2000, 50 + k, false), T0), IPR_DONE, "%d", k);
		struct frag first = piece(g[k], 0, 1000, true);
		check_whole(&first, 2050 + k);
	}
	stats_are(r, 4, 0, 0, 0, 0, 0);
	empty_after(r, T0);
	ip_reasm_free(r);
}

/* a datagram has @timeout_ms from its first fragment, however many come
 * after; a fragment after that starts a new one */
Test(ip_reasm, timeout)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag d = dgram(31);

	cr_assert_eq(add(r, piece(d, 0, 1000, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 1000, 1000, true), T0 + TMO - 1), IPR_HELD);
	cr_assert_eq(ip_reasm_expire(r, T0 + TMO - 1, NULL, NULL), 0);
	cr_assert_eq(ip_reasm_count(r), 1);
	cr_assert_eq(ip_reasm_expire(r, T0 + TMO, NULL, NULL), 1);
	cr_assert_eq(ip_reasm_count(r), 0);
	cr_assert_eq(ip_reasm_mem(r), 0);
	stats_are(r, 0, 1, 0, 0, 0, 0);

	/* late: the first two are gone, so this completes nothing */
	uint64_t t1 = T0 + TMO + 5;
	cr_assert_eq(add(r, piece(d, 2000, 10, false), t1), IPR_HELD);
	cr_assert_eq(ip_reasm_expire(r, t1 + TMO - 1, NULL, NULL), 0);
	cr_assert_eq(add(r, piece(d, 0, 1000, true), t1 + TMO - 1), IPR_HELD);
	cr_assert_eq(add(r, piece(d, 1000, 1000, true), t1 + TMO - 1), IPR_DONE);
	struct frag first = piece(d, 0, 1000, true);
	check_whole(&first, 2010);
	stats_are(r, 1, 1, 0, 0, 0, 0);
	empty_after(r, t1 + TMO - 1);
	ip_reasm_free(r);
}

/* what ip_reasm_expire() quoted, for the ICMP "reassembly time exceeded" */
static uint8_t quoted[128];
static size_t quoted_len;
static unsigned int quotes;

static void quote_of(void *arg, const uint8_t *quote, size_t len)
{
	(void)arg;
	cr_assert_leq(len, sizeof(quoted));
	memcpy(quoted, quote, len);
	quoted_len = len;
	quotes++;
}

/* a datagram that times out is quoted (its first fragment's header as it
 * came, and 8 bytes of data) only if that fragment came, as Linux's
 * ip_expire() sends its ICMP only then */
Test(ip_reasm, a_timed_out_datagram_is_quoted_if_its_first_fragment_came)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	struct frag a = dgram(32), b = dgram(33), first = piece(a, 0, 1000, true);
	uint8_t want[2048];

	first.opt_words = 2;
	cr_assert_eq(add(r, first, T0), IPR_HELD);
	cr_assert_eq(add(r, piece(b, 1000, 1000, true), T0), IPR_HELD);
	cr_assert_eq(ip_reasm_expire(r, T0 + TMO, quote_of, NULL), 2);
	cr_assert_eq(quotes, 1);
	size_t n = build(want, &first);
	cr_assert_eq(quoted_len, 28 + 8, "quoted %zu bytes", quoted_len);
	cr_assert_leq(quoted_len, n);
	cr_assert_arr_eq(quoted, want, quoted_len);
	stats_are(r, 0, 2, 0, 0, 0, 0);
	ip_reasm_free(r);
}

/* a datagram that finds every slot taken evicts the oldest (by its first
 * fragment, not by its slot), whose later fragments then start anew */
Test(ip_reasm, slots_bound_evicts_the_oldest)
{
	enum { N = 4 };
	struct ip_reasm *r = table(N, IP_REASM_MEM_MAX);
	struct frag g[N + 3];

	for (int k = 0; k < N + 3; k++) {
		g[k] = dgram((uint16_t)(40 + k));
		g[k].data = D + 13 * k;
	}
	for (int k = 0; k < N; k++)
		cr_assert_eq(add(r, piece(g[k], 0, 8, true), T0 + k), IPR_HELD);
	cr_assert_eq(ip_reasm_count(r), N);
	/* 0 completes: its slot, the first, is the newest datagram's */
	cr_assert_eq(add(r, piece(g[0], 8, 8, false), T0 + 10), IPR_DONE);
	cr_assert_eq(add(r, piece(g[N], 0, 8, true), T0 + 11), IPR_HELD);
	cr_assert_eq(ip_reasm_count(r), N);
	stats_are(r, 1, 0, 0, 0, 0, 0);
	/* one more: 1, the oldest, goes */
	cr_assert_eq(add(r, piece(g[N + 1], 0, 8, true), T0 + 12), IPR_HELD);
	cr_assert_eq(ip_reasm_count(r), N);
	stats_are(r, 1, 0, 1, 0, 0, 0);
	/* its last fragment is a datagram of its own, and costs 2 its slot */
	cr_assert_eq(add(r, piece(g[1], 8, 8, false), T0 + 13), IPR_HELD);
	stats_are(r, 1, 0, 2, 0, 0, 0);
	/* a fragment discarded at once (the ping of death) takes no slot */
	cr_assert_eq(add(r, piece(g[N + 2], 65528, 8, false), T0 + 13), IPR_DISCARDED);
	cr_assert_eq(ip_reasm_count(r), N);
	stats_are(r, 1, 0, 2, 1, 0, 0);
	for (int k = 3; k <= N + 1; k++) {
		cr_assert_eq(add(r, piece(g[k], 8, 8, false), T0 + 14), IPR_DONE, "%d", k);
		struct frag first = piece(g[k], 0, 8, true);
		check_whole(&first, 16);
	}
	/* 1 was evicted: its first fragment makes it whole now, with the
	 * last fragment that came after */
	cr_assert_eq(add(r, piece(g[1], 0, 8, true), T0 + 15), IPR_DONE);
	struct frag first = piece(g[1], 0, 8, true);
	check_whole(&first, 16);
	stats_are(r, 5, 0, 2, 1, 0, 0);
	empty_after(r, T0 + 15);
	ip_reasm_free(r);
}

Test(ip_reasm, new_refuses_bad_bounds)
{
	cr_assert_null(ip_reasm_new(0, IP_REASM_MEM_MAX, TMO));
	cr_assert_null(ip_reasm_new(4, IP_REASM_MAX_DATAGRAM - 1, TMO));
	cr_assert_null(ip_reasm_new(4, IP_REASM_MIN_MEM - 1, TMO));
	cr_assert_null(ip_reasm_new(4, 0, TMO));
	struct ip_reasm *r = ip_reasm_new(1, IP_REASM_MIN_MEM, TMO);
	cr_assert(r);
	cr_assert_eq(ip_reasm_count(r), 0);
	cr_assert_eq(ip_reasm_mem(r), 0);
	ip_reasm_free(r);
	ip_reasm_free(NULL);
}

/* a maximal datagram in 1,480-byte fragments, in order or reversed, in a
 * table of @mem_max bytes */
static void max_datagram(struct ip_reasm *r, bool reverse, uint64_t now, size_t mem_max)
{
	struct frag d = dgram(51);
	enum { FL = 1480, NFR = (MAXDATA + FL - 1) / FL };

	for (int i = 0; i < NFR; i++) {
		int k = reverse ? NFR - 1 - i : i;
		uint32_t off = (uint32_t)k * FL, len = k < NFR - 1 ? FL : MAXDATA - off;
		enum ip_reasm_verdict v = add(r, piece(d, off, len, k < NFR - 1), now);
		cr_assert_eq(v, i < NFR - 1 ? IPR_HELD : IPR_DONE, "fragment %d (%dth): %d",
			     k, i, v);
		cr_assert_leq(ip_reasm_mem(r), mem_max, "%zu held", ip_reasm_mem(r));
	}
	struct frag first = piece(d, 0, FL, true);
	check_whole(&first, MAXDATA);
	cr_assert_eq(out_len, IP_REASM_MAX_DATAGRAM);
}

/* 65,535 bytes in 1,480-byte fragments */
Test(ip_reasm, maximal_datagram)
{
	struct ip_reasm *r = table(8, IP_REASM_MEM_MAX);
	max_datagram(r, false, T0, IP_REASM_MEM_MAX);
	empty_after(r, T0);
	max_datagram(r, true, T0, IP_REASM_MEM_MAX);
	stats_are(r, 2, 0, 0, 0, 0, 0);
	empty_after(r, T0);
	ip_reasm_free(r);
}

/* the least table ip_reasm_new() takes, one slot and one datagram's
 * worth of memory (IP_REASM_MIN_MEM), holds one */
Test(ip_reasm, smallest_table_holds_a_maximal_datagram)
{
	struct ip_reasm *r = table(1, IP_REASM_MIN_MEM);
	max_datagram(r, false, T0, IP_REASM_MIN_MEM);
	max_datagram(r, true, T0, IP_REASM_MIN_MEM);
	stats_are(r, 2, 0, 0, 0, 0, 0);
	empty_after(r, T0);
	ip_reasm_free(r);
}

/* the memory bound: a big datagram's growth evicts an older one rather
 * than pass it; the oldest by its first fragment (y), not the one in the
 * first slot (z, which took x's); y's next fragment then starts anew.
 * 110,000 bytes hold the big one and one of y and z, not both, whatever
 * a table counts beside the data (bitmaps, rounding) if under 4 %. */
Test(ip_reasm, memory_bound_evicts_the_oldest)
{
	const size_t max = 110000;
	struct ip_reasm *r = table(8, max);
	struct frag x = dgram(60), y = dgram(61), z = dgram(63), d = dgram(62), first;
	enum { FL = 1480, NFR = (MAXDATA + FL - 1) / FL, YL = 30000 };

	y.data = D2;
	z.data = D + 333;
	cr_assert_eq(add(r, piece(x, 0, 8, true), T0), IPR_HELD);
	cr_assert_eq(add(r, piece(y, 0, YL, true), T0 + 1), IPR_HELD);
	cr_assert_eq(add(r, piece(x, 8, 8, false), T0 + 2), IPR_DONE);
	cr_assert_eq(add(r, piece(z, 0, YL, true), T0 + 3), IPR_HELD);
	cr_assert_eq(ip_reasm_count(r), 2);
	for (int k = 0; k < NFR; k++) {
		uint32_t off = (uint32_t)k * FL, len = k < NFR - 1 ? FL : MAXDATA - off;
		enum ip_reasm_verdict v = add(r, piece(d, off, len, k < NFR - 1), T0 + 4);
		cr_assert_eq(v, k < NFR - 1 ? IPR_HELD : IPR_DONE, "fragment %d: %d", k, v);
		cr_assert_leq(ip_reasm_mem(r), max, "fragment %d: %zu held", k, ip_reasm_mem(r));
	}
	first = piece(d, 0, FL, true);
	check_whole(&first, MAXDATA);
	stats_are(r, 2, 0, 1, 0, 0, 0);
	/* z is whole */
	cr_assert_eq(add(r, piece(z, YL, 20, false), T0 + 5), IPR_DONE);
	first = piece(z, 0, YL, true);
	check_whole(&first, YL + 20);
	/* y is not: its last fragment starts a datagram of its own */
	cr_assert_eq(add(r, piece(y, YL, 20, false), T0 + 5), IPR_HELD);
	cr_assert_eq(ip_reasm_count(r), 1);
	cr_assert_eq(add(r, piece(y, 0, YL, true), T0 + 5), IPR_DONE);
	first = piece(y, 0, YL, true);
	check_whole(&first, YL + 20);
	stats_are(r, 4, 0, 1, 0, 0, 0);
	empty_after(r, T0 + 5);
	ip_reasm_free(r);
}

/* memory for one maximal datagram and a little: a maximal one evicts an
 * older small one to complete, and the small one's rest starts anew */
Test(ip_reasm, memory_bound_just_above_one_datagram)
{
	const size_t max = IP_REASM_MIN_MEM + 1000;
	struct ip_reasm *r = table(8, max);
	struct frag x = dgram(70);

	x.data = D2;
	cr_assert_eq(add(r, piece(x, 0, 1480, true), T0), IPR_HELD);
	max_datagram(r, false, T0 + 1, max);
	stats_are(r, 1, 0, 1, 0, 0, 0);
	cr_assert_eq(add(r, piece(x, 1480, 20, false), T0 + 2), IPR_HELD);
	cr_assert_eq(ip_reasm_count(r), 1);
	cr_assert_eq(add(r, piece(x, 0, 1480, true), T0 + 2), IPR_DONE);
	struct frag first = piece(x, 0, 1480, true);
	check_whole(&first, 1500);
	stats_are(r, 2, 0, 1, 0, 0, 0);
	empty_after(r, T0 + 2);
	ip_reasm_free(r);
}

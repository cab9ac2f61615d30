// SPDX-License-Identifier: MIT
/*
 * fuzz_ip_reasm - IPv4 reassembly (slowpath/ip_reasm.c) against a model.
 *
 * Input: 8-byte records, each one fragment (next_frag()): which of 8
 * datagrams (2 sources x 2 ids x 2 protocols), its offset, length, MF and
 * DF, its TOS (ECN included), options, how far the clock moves before it,
 * its payload's pattern, whether ip_reasm_expire() runs first, and now
 * and then a broken or arbitrary header field.  Headers are valid,
 * checksum included, unless a record breaks them: otherwise nearly every
 * fragment would be IPR_BAD.  The table is small (4 slots, 128 KiB, 1 s)
 * so that evictions and timeouts come within a few records.
 *
 * The model reads each frame as ip_reasm.h says a fragment is read, and
 * follows each datagram from what was fed and what the table answered:
 * the first copy of each byte held, the end, the first fragment's header,
 * the ECN codepoints, the pages touched and the first fragment's time.
 * Checks, besides no crash, no sanitizer report and no leak:
 *  - a fragment is IPR_BAD exactly when its header breaks a rule;
 *  - for a datagram the model is sure of, the verdict is the one the rules
 *    give (overlap, duplicate, ends that disagree, 65,535 bytes, ECN), and
 *    a whole one is its first fragment's header made whole (CE marked if
 *    a fragment had it) followed by the first copy of every byte;
 *  - any whole datagram: a valid header checksum, its total length, no
 *    offset or MF, at most 65,535 bytes;
 *  - the stats move with the verdicts; the count stays within the slots
 *    and is what the model knows is held, the memory within mem_max and
 *    is the pages the model knows are held (at least, while it is unsure
 *    of some); ip_reasm_expire() drops exactly the datagrams past their
 *    time, and at the end all of them.
 * An eviction the model cannot pin on one datagram (the oldest is one of
 * several born in the same millisecond, or one the model is unsure of)
 * makes it unsure of the candidates until each of them ends.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "ip_reasm.h"
#include "pkt.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)
/* the model's loops over every byte: no coverage feedback (it would only
 * mirror ip_reasm.c's) and none of its cost, most of a run's otherwise */
#define BYTE_LOOP __attribute__((no_sanitize("coverage"), noinline))

#define SLOTS 4
#define MEM_MAX (2 * 65536)
#define TMO 1000
#define NE 24            /* datagrams the model follows at once */
#define MAXD 65536

/* what the model knows of one datagram (one key) */
struct dg {
	uint32_t saddr, daddr;
	uint16_t id;
	uint8_t proto;
	bool live;          /* the table holds it (or may: @unsure) */
	bool unsure;        /* it may have been evicted unseen, and started anew */
	bool last_in;
	uint8_t hdr_len;    /* 0 until its offset-0 fragment came */
	uint8_t hdr[60];
	uint8_t ecn;        /* 1 << the ECN field of each fragment held */
	uint32_t end, held;
	uint32_t pages;     /* a bit per IP_REASM_PAGE of data touched */
	uint64_t born;
	uint8_t have[MAXD]; /* 1: the byte is held */
	uint8_t data[MAXD]; /* its first copy */
};
#define ECN_NOT_ECT 1
#define ECN_CE 8
_Static_assert((IP_REASM_MAX_DATAGRAM + IP_REASM_PAGE - 1) / IP_REASM_PAGE <= 32, "pages");

/* a frame read as ip_reasm.h says */
struct fr {
	size_t ihl;
	uint32_t off, dlen, end;
	bool last;
	uint32_t saddr, daddr;
	uint16_t id;
	uint8_t proto;
	const uint8_t *data;
};

static struct dg dg[NE];
/* unsure datagrams the model let go of to follow others: the table may
 * still hold them, and any key the model meets may be one of them */
static uint32_t forgotten;
static struct ip_reasm *R;

static void recsum(uint8_t *ip, size_t ihl)
{
	ip[10] = ip[11] = 0;
	uint16_t c = csum_fold(csum_partial(ip, ihl, 0));
	memcpy(ip + 10, &c, 2);
}

static void dg_reset(struct dg *e)
{
	memset(e->have, 0, e->end);
	e->live = e->unsure = e->last_in = false;
	e->hdr_len = e->ecn = 0;
	e->end = e->held = e->pages = 0;
}

/* Return: false if @ip is no fragment ip_reasm_add() may take */
static bool parse(const uint8_t *ip, size_t len, struct fr *f)
{
	if (len < 20 || ip[0] >> 4 != 4)
		return false;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, tot = pkt_rd16(ip + 2);
	if (ihl < 20 || tot < ihl || tot > len || csum_fold(csum_partial(ip, ihl, 0)))
		return false;
	uint16_t fo = pkt_rd16(ip + 6);
	if (!(fo & (PKT_IP_MF | PKT_IP_OFF_MASK)))
		return false; /* a datagram whole already */
	f->ihl = ihl;
	f->off = (uint32_t)(fo & PKT_IP_OFF_MASK) * 8;
	f->dlen = (uint32_t)(tot - ihl);
	f->end = f->off + f->dlen;
	f->last = !(fo & PKT_IP_MF);
	if (!f->dlen || (!f->last && f->dlen % 8))
		return false;
	memcpy(&f->saddr, ip + 12, 4);
	memcpy(&f->daddr, ip + 16, 4);
	f->id = pkt_rd16(ip + 4);
	f->proto = ip[9];
	f->data = ip + ihl;
	return true;
}

static bool same_key(const struct dg *e, const struct fr *f)
{
	return e->saddr == f->saddr && e->daddr == f->daddr && e->id == f->id &&
	       e->proto == f->proto;
}

/* @f's datagram in the model: followed, or taken up */
static struct dg *dg_for(const struct fr *f)
{
	struct dg *free_e = NULL, *unsure_e = NULL;

	for (int i = 0; i < NE; i++) {
		struct dg *e = &dg[i];
		if (!e->live) {
			if (!free_e)
				free_e = e;
		} else if (same_key(e, f)) {
			return e;
		} else if (e->unsure && !unsure_e) {
			unsure_e = e;
		}
	}
	if (!free_e) {
		/* the table holds at most SLOTS datagrams: the others are unsure */
		CHECK(unsure_e);
		dg_reset(unsure_e);
		forgotten++;
		free_e = unsure_e;
	}
	free_e->saddr = f->saddr;
	free_e->daddr = f->daddr;
	free_e->id = f->id;
	free_e->proto = f->proto;
	if (forgotten)
		free_e->live = free_e->unsure = true; /* it may be a forgotten one */
	return free_e;
}

/* @f's bytes against @e's: none held (new), all (a duplicate) or some
 * (an overlap) */
BYTE_LOOP static enum ip_reasm_verdict news(const struct dg *e, const struct fr *f)
{
	uint32_t n = 0;

	for (uint32_t p = f->off; p < f->end; p++)
		n += e->have[p];
	return !n ? IPR_HELD : n == f->dlen ? IPR_DUP : IPR_DISCARDED;
}

/* what ip_reasm.h gives @f when @e's bytes are held.  The rules are
 * taken in the order ip_reasm.c takes them (65,535 bytes, the end, then
 * duplicate or overlap): ip_reasm.h leaves it open for a fragment that
 * breaks two.  A copy of the first fragment once its header is held is
 * a duplicate or an overlap, whatever its own header's length */
static enum ip_reasm_verdict predict(const struct dg *e, const struct fr *f, uint8_t tos)
{
	uint32_t hl = e->hdr_len ? e->hdr_len : 20;
	uint32_t end = f->end > e->end ? f->end : e->end;

	if (f->end + hl > IP_REASM_MAX_DATAGRAM ||
	    (!f->off && !e->hdr_len && f->ihl + end > IP_REASM_MAX_DATAGRAM))
		return IPR_DISCARDED;
	if (f->last ? f->end < e->end || (e->last_in && f->end != e->end) :
		      e->last_in && f->end > e->end)
		return IPR_DISCARDED;
	enum ip_reasm_verdict v = news(e, f);
	if (v != IPR_HELD)
		return v;
	if (!(e->last_in || f->last) || e->held + f->dlen != end)
		return IPR_HELD;
	/* whole: unless its fragments mix not-ECT with ECT or CE */
	uint8_t ecn = e->ecn | 1u << (tos & 3);
	return ecn & ECN_NOT_ECT && ecn != ECN_NOT_ECT ? IPR_DISCARDED : IPR_DONE;
}

/* the table took @f: its bytes held are the first copies */
BYTE_LOOP static void hold(struct dg *e, const struct fr *f, const uint8_t *ip, uint64_t now)
{
	CHECK(f->end + 20 <= IP_REASM_MAX_DATAGRAM);
	if (!e->live) {
		e->live = true;
		e->born = now;
	}
	/* (a datagram the model is unsure of may have stale bytes: the
	 * first copies are kept, and nothing is checked of them) */
	for (uint32_t p = f->off; p < f->end; p++) {
		if (!e->have[p]) {
			e->have[p] = 1;
			e->data[p] = f->data[p - f->off];
			e->held++;
		}
	}
	for (uint32_t pg = f->off / IP_REASM_PAGE; pg <= (f->end - 1) / IP_REASM_PAGE; pg++)
		e->pages |= 1u << pg;
	e->ecn |= (uint8_t)(1u << (ip[1] & 3));
	if (f->end > e->end)
		e->end = f->end;
	if (f->last)
		e->last_in = true;
	if (!f->off && !e->hdr_len) {
		e->hdr_len = (uint8_t)f->ihl;
		memcpy(e->hdr, ip, f->ihl);
	}
}

/* a whole datagram, whoever's it is, and @e's if the model is sure of it */
static void check_whole(const struct dg *e, const uint8_t *out, size_t out_len)
{
	CHECK(out && out_len >= 20 && out_len <= IP_REASM_MAX_DATAGRAM);
	size_t ihl = (size_t)(out[0] & 0x0f) * 4;
	CHECK(out[0] >> 4 == 4 && ihl >= 20 && ihl < out_len);
	CHECK(pkt_rd16(out + 2) == out_len);
	CHECK(!(pkt_rd16(out + 6) & (PKT_IP_MF | PKT_IP_OFF_MASK)));
	CHECK(csum_fold(csum_partial(out, ihl, 0)) == 0);
	if (e->unsure)
		return;
	CHECK(e->hdr_len == ihl && e->last_in && e->held == e->end);
	CHECK(out_len == ihl + e->end);
	CHECK(!memcmp(out + ihl, e->data, e->end));
	/* the first fragment's header, but for length, fragment and checksum,
	 * and a CE mark if a fragment had one */
	CHECK(out[0] == e->hdr[0] && !memcmp(out + 4, e->hdr + 4, 2));
	CHECK(out[1] == (e->hdr[1] | (e->ecn & ECN_CE ? 3 : 0)));
	CHECK(!memcmp(out + 8, e->hdr + 8, 2) && !memcmp(out + 12, e->hdr + 12, ihl - 12));
	CHECK((pkt_rd16(out + 6) & PKT_IP_DF) == (pkt_rd16(e->hdr + 6) & PKT_IP_DF));
}

static int by_born(const void *a, const void *b)
{
	const struct dg *x = *(struct dg *const *)a, *y = *(struct dg *const *)b;
	return x->born < y->born ? -1 : x->born > y->born;
}

/* @n datagrams other than @keep were evicted: the @n oldest (ip_reasm.h);
 * those the model cannot tell apart become unsure */
static void evicted(const struct dg *keep, uint64_t n)
{
	struct dg *c[NE];
	uint32_t nc = 0;
	bool known = !forgotten;

	for (int i = 0; i < NE; i++) {
		if (dg[i].live && &dg[i] != keep) {
			c[nc++] = &dg[i];
			known &= !dg[i].unsure;
		}
	}
	CHECK(n <= nc + forgotten);
	if (!known) {
		for (uint32_t i = 0; i < nc; i++)
			c[i]->unsure = true;
		return;
	}
	qsort(c, nc, sizeof(c[0]), by_born);
	/* the older than the n-th oldest went, the younger stayed; of those
	 * born with it, n - older went, and the model cannot say which */
	uint64_t t = c[n - 1]->born;
	uint32_t older = 0, same = 0;
	for (uint32_t i = 0; i < nc; i++) {
		older += c[i]->born < t;
		same += c[i]->born == t;
	}
	for (uint32_t i = 0; i < nc; i++) {
		if (c[i]->born < t || (c[i]->born == t && n - older == same))
			dg_reset(c[i]);
		else if (c[i]->born == t)
			c[i]->unsure = true;
	}
}

/* count and memory against what the model knows is held: exact unless
 * it is unsure of some datagram */
static void check_bounds(void)
{
	uint32_t sure = 0, all = forgotten;
	size_t mem = 0;

	for (int i = 0; i < NE; i++) {
		if (!dg[i].live)
			continue;
		all++;
		if (!dg[i].unsure) {
			sure++;
			mem += (size_t)__builtin_popcount(dg[i].pages) * IP_REASM_PAGE_MEM;
		}
	}
	uint32_t n = ip_reasm_count(R);
	size_t m = ip_reasm_mem(R);
	CHECK(n <= SLOTS && n >= sure && n <= all);
	CHECK(m <= MEM_MAX && m >= mem && (sure < all || m == mem));
}

/* a timed-out datagram's quote: a first fragment's header as it came
 * (MF, offset 0) and 8 bytes of data */
static void quote_check(void *arg, const uint8_t *quote, size_t len)
{
	(void)arg;
	CHECK(len >= 28 && quote[0] >> 4 == 4);
	CHECK(len == (size_t)(quote[0] & 0x0f) * 4 + 8);
	CHECK((pkt_rd16(quote + 6) & (PKT_IP_MF | PKT_IP_OFF_MASK)) == PKT_IP_MF);
	CHECK(csum_fold(csum_partial(quote, len - 8, 0)) == 0);
}

static void expire(uint64_t now)
{
	const struct ip_reasm_stats *st = ip_reasm_stats(R);
	uint32_t sure = 0, maybe = forgotten;
	uint64_t t0 = st->timeouts, e0 = st->evicted;

	for (int i = 0; i < NE; i++) {
		if (dg[i].live && dg[i].unsure)
			maybe++;
		else if (dg[i].live && now - dg[i].born >= TMO)
			sure++;
	}
	unsigned int n = ip_reasm_expire(R, now, quote_check, NULL);
	CHECK(st->timeouts == t0 + n && st->evicted == e0);
	CHECK(n >= sure && n <= sure + maybe);
	for (int i = 0; i < NE; i++) {
		/* all it may have held went: then every one it is unsure of */
		if (dg[i].live && ((!dg[i].unsure && now - dg[i].born >= TMO) ||
				   (dg[i].unsure && n == sure + maybe)))
			dg_reset(&dg[i]);
	}
	if (n == sure + maybe)
		forgotten = 0;
	check_bounds();
}

/* the bytes at @off.. of a datagram, in @seed's pattern: two seeds
 * differ at every byte, so a duplicate's bytes are not the first copy's */
BYTE_LOOP static void payload(uint8_t *p, uint32_t off, uint32_t len, uint8_t seed)
{
	for (uint32_t i = off; i < off + len; i++)
		*p++ = (uint8_t)(seed * 7 + i + (i >> 8));
}

/* little-endian, read in order: fx_u16() leaves the order of its two
 * reads to the compiler, and the seeds must mean one thing */
static uint16_t rd_le16(struct fx_in *in)
{
	uint16_t lo = fx_u8(in);
	return (uint16_t)(lo | fx_u8(in) << 8);
}

/* one fragment into @buf from @in; Return: its length */
static size_t next_frag(struct fx_in *in, uint8_t *buf, bool *expire_first, uint64_t *tick)
{
	uint8_t c = fx_u8(in);
	uint16_t o = rd_le16(in), l = rd_le16(in);
	uint8_t t = fx_u8(in), seed = fx_u8(in), aux = fx_u8(in);
	unsigned int key = c & 7, mode = c >> 6, kind = aux & 7;
	bool mf = c & 8;
	size_t ihl = mode == 2 ? 20 + 4u * (aux % 11) : 20;
	/* the top bits of the offset's word scale the length down: big
	 * fragments are the slowest to run, and a few make a big datagram */
	static const uint8_t shift[8] = { 0, 4, 5, 6, 7, 8, 9, 10 };
	uint32_t off = (uint32_t)(o & PKT_IP_OFF_MASK) * 8, dlen = (uint32_t)l >> shift[o >> 13];

	*expire_first = c & 0x20;
	*tick = t < 128 ? t : (t - 127u) * 16;
	if (dlen > IP_REASM_MAX_DATAGRAM - ihl)
		dlen = (uint32_t)(IP_REASM_MAX_DATAGRAM - ihl);
	if (mf)
		dlen &= ~7u;
	if (mode == 3 && kind == 5) {
		mf = true;
		dlen |= 1; /* a middle piece that leaves a hole */
	}
	size_t tot = ihl + dlen, len = tot;

	buf[0] = (uint8_t)(0x40 | ihl / 4);
	buf[1] = seed;
	pkt_wr16(buf + 2, (uint32_t)tot);
	pkt_wr16(buf + 4, key & 2 ? 0x4243 : 0x4242);
	pkt_wr16(buf + 6, (uint32_t)(o & PKT_IP_OFF_MASK) | (mf ? PKT_IP_MF : 0) | (c & 0x10 ? PKT_IP_DF : 0));
	buf[8] = 64;
	buf[9] = key & 4 ? 6 : 17;
	memcpy(buf + 12, key & 1 ? "\x0a\x00\x00\x02" : "\x0a\x00\x00\x01", 4);
	memcpy(buf + 16, "\x0a\x00\x00\x09", 4);
	for (size_t i = 20; i < ihl; i++)
		buf[i] = (uint8_t)(seed + i);
	payload(buf + ihl, off, dlen, seed);
	recsum(buf, ihl);
	if (mode != 3)
		return len;
	switch (kind) {
	case 0: /* another version */
		buf[0] = (uint8_t)((aux & 0xf0) | (buf[0] & 0x0f));
		recsum(buf, ihl);
		break;
	case 1: /* another header length: the checksum over that many bytes */
		buf[0] = (uint8_t)(0x40 | aux >> 4);
		recsum(buf, (size_t)(aux >> 4) * 4);
		break;
	case 2: /* the frame shorter than its total length */
		len = tot - 1 - (aux >> 3) % tot;
		break;
	case 3: /* a total length shorter than the header, or than the data */
		pkt_wr16(buf + 2, (uint32_t)(aux >> 3) * 4);
		recsum(buf, ihl);
		break;
	case 4:
		buf[11] ^= (uint8_t)(1 + (aux >> 3));
		break;
	case 6: /* padding after the datagram: nothing wrong */
		memset(buf + tot, seed, 32);
		len = tot + (aux >> 3);
		break;
	case 7: /* any byte of the header, its checksum made good */
		buf[(aux >> 3) % 20] = seed;
		recsum(buf, (size_t)(buf[0] & 0x0f) * 4);
		break;
	}
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[IP_REASM_MAX_DATAGRAM + 64];
	struct fx_in in = { data, size };
	uint64_t now = 1u << 20;

	R = ip_reasm_new(SLOTS, MEM_MAX, TMO);
	CHECK(R);
	for (int i = 0; i < NE; i++)
		dg_reset(&dg[i]);
	forgotten = 0;
	const struct ip_reasm_stats *st = ip_reasm_stats(R);

	while (in.n) {
		bool exp;
		uint64_t tick;
		size_t len = next_frag(&in, buf, &exp, &tick);

		now += tick;
		if (exp)
			expire(now);

		/* a private copy exactly @len long, so any overread is caught */
		uint8_t *ip = malloc(len ? len : 1);
		CHECK(ip);
		memcpy(ip, buf, len);
		struct fr f;
		bool ok = parse(ip, len, &f);
		struct dg *e = ok ? dg_for(&f) : NULL;
		enum ip_reasm_verdict want = IPR_BAD;
		if (e && !e->unsure)
			want = predict(e, &f, ip[1]);
		struct ip_reasm_stats s0 = *st;
		const uint8_t *out = NULL;
		size_t out_len = 0;

		enum ip_reasm_verdict v = ip_reasm_add(R, ip, len, now, &out, &out_len);
		CHECK((v == IPR_BAD) == !ok);
		if (e && !e->unsure)
			CHECK(v == want);
		CHECK(st->ok == s0.ok + (v == IPR_DONE) && st->dups == s0.dups + (v == IPR_DUP));
		CHECK(st->bad == s0.bad + (v == IPR_BAD) && st->timeouts == s0.timeouts);
		CHECK(st->discarded == s0.discarded + (v == IPR_DISCARDED));
		CHECK(st->evicted >= s0.evicted);
		if (st->evicted > s0.evicted)
			evicted(e, st->evicted - s0.evicted);

		switch (v) {
		case IPR_HELD:
			hold(e, &f, ip, now);
			break;
		case IPR_DONE:
			hold(e, &f, ip, now);
			check_whole(e, out, out_len);
			dg_reset(e);
			break;
		case IPR_DISCARDED:
			dg_reset(e);
			break;
		case IPR_DUP:
			/* its end counts, as in Linux (it is the held end, bar a
			 * datagram the model is unsure of, whose bytes beyond it
			 * dg_reset() must still clear) */
			if (f.last) {
				e->last_in = true;
				if (f.end > e->end)
					e->end = f.end;
			}
			break;
		case IPR_BAD:
			break;
		default:
			CHECK(0);
		}
		free(ip);
		check_bounds();
	}
	/* every datagram left is past its time */
	expire(now + TMO);
	CHECK(ip_reasm_count(R) == 0 && ip_reasm_mem(R) == 0);
	ip_reasm_free(R);
	return 0;
}

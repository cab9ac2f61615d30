// SPDX-License-Identifier: MIT
/*
 * ip_reasm.c - IPv4 reassembly; ip_reasm.h says what is bounded and why.
 *
 * A slot holds one datagram: the first fragment's header, and its data in
 * pages of IP_REASM_PAGE bytes, each made when a fragment first touches
 * it, with a bit per 8-byte unit held.  The bits make overlaps cheap to
 * see: a fragment is new if none of its units is held, a duplicate if all
 * are, and overlapping otherwise.  Held fragments never overlap, so the
 * datagram is whole once the last fragment came and the bytes held are
 * as many as its length.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ip_reasm.h"
#include "pkt.h" /* fastpathd/: checksums, network-order fields */

#define IP_HDR_MAX 60
#define NPAGES ((IP_REASM_MAX_DATAGRAM + IP_REASM_PAGE - 1) / IP_REASM_PAGE)
#define PAGE_UNITS (IP_REASM_PAGE / 8)

struct reasm_page {
	uint64_t held[PAGE_UNITS / 64];
	uint8_t data[IP_REASM_PAGE];
};
_Static_assert(sizeof(struct reasm_page) == IP_REASM_PAGE_MEM, "IP_REASM_PAGE_MEM is a page");

/* the ECN codepoints a datagram's fragments carried, as Linux's IPFRAG_ECN_* */
#define ECN_SEEN_NOT_ECT 1u
#define ECN_SEEN_CE (1u << 3)

struct reasm_slot {
	bool used;
	bool last_in;           /* the fragment without MF came: @end is final */
	uint8_t proto;
	uint8_t hdr_len;        /* 0 until the fragment at offset 0 came */
	uint8_t ecn_seen;       /* 1 << ECN field, of every fragment */
	uint16_t id;
	uint32_t saddr, daddr;
	uint64_t born_ms;       /* its first fragment: timeout, eviction order */
	uint32_t end;           /* data bytes: the highest end seen */
	uint32_t held;          /* data bytes held (no overlaps, so exact) */
	uint8_t hdr[IP_HDR_MAX];
	struct reasm_page *pages[NPAGES];
};

struct ip_reasm {
	uint32_t nslots, used;
	size_t mem, mem_max;
	uint64_t timeout_ms;
	struct ip_reasm_stats st;
	struct reasm_slot *slots;
	uint8_t *out;           /* IP_HDR_MAX + IP_REASM_MAX_DATAGRAM: the last whole one */
};

struct ip_reasm *ip_reasm_new(uint32_t slots, size_t mem_max, uint64_t timeout_ms)
{
	if (!slots || mem_max < IP_REASM_MIN_MEM)
		return NULL;
	struct ip_reasm *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->slots = calloc(slots, sizeof(*r->slots));
	r->out = malloc(IP_HDR_MAX + IP_REASM_MAX_DATAGRAM);
	if (!r->slots || !r->out) {
		free(r->slots);
		free(r->out);
		free(r);
		return NULL;
	}
	r->nslots = slots;
	r->mem_max = mem_max;
	r->timeout_ms = timeout_ms;
	return r;
}

static void slot_free(struct ip_reasm *r, struct reasm_slot *s)
{
	for (unsigned int p = 0; p < NPAGES; p++) {
		if (s->pages[p])
			r->mem -= IP_REASM_PAGE_MEM;
		free(s->pages[p]);
	}
	r->used--;
	memset(s, 0, sizeof(*s));
}

void ip_reasm_free(struct ip_reasm *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->nslots; i++)
		if (r->slots[i].used)
			slot_free(r, &r->slots[i]);
	free(r->slots);
	free(r->out);
	free(r);
}

unsigned int ip_reasm_expire(struct ip_reasm *r, uint64_t now_ms,
			     void (*timed_out)(void *arg, const uint8_t *quote, size_t len),
			     void *arg)
{
	unsigned int n = 0;

	for (uint32_t i = 0; i < r->nslots && r->used; i++) {
		struct reasm_slot *s = &r->slots[i];
		if (!s->used || now_ms - s->born_ms < r->timeout_ms)
			continue;
		/* the first fragment's header and its first 8 bytes (a
		 * fragment at offset 0 carries at least 8), as RFC 792 quotes */
		if (timed_out && s->hdr_len) {
			memcpy(r->out, s->hdr, s->hdr_len);
			memcpy(r->out + s->hdr_len, s->pages[0]->data, 8);
			timed_out(arg, r->out, s->hdr_len + 8u);
		}
		slot_free(r, s);
		n++;
	}
	r->st.timeouts += n;
	return n;
}

/* the oldest datagram in reassembly but @keep (NULL: none is kept) */
static struct reasm_slot *oldest(struct ip_reasm *r, const struct reasm_slot *keep)
{
	struct reasm_slot *o = NULL;

	for (uint32_t i = 0; i < r->nslots; i++) {
		struct reasm_slot *s = &r->slots[i];
		if (s->used && s != keep && (!o || s->born_ms < o->born_ms))
			o = s;
	}
	return o;
}

static struct reasm_slot *slot_find(struct ip_reasm *r, uint32_t saddr, uint32_t daddr,
				    uint16_t id, uint8_t proto)
{
	for (uint32_t i = 0; i < r->nslots; i++) {
		struct reasm_slot *s = &r->slots[i];
		if (s->used && s->id == id && s->saddr == saddr && s->daddr == daddr &&
		    s->proto == proto)
			return s;
	}
	return NULL;
}

/* a slot for a new datagram: a free one, else the oldest's */
static struct reasm_slot *slot_take(struct ip_reasm *r, uint32_t saddr, uint32_t daddr,
				    uint16_t id, uint8_t proto, uint64_t now_ms)
{
	struct reasm_slot *s = NULL;

	for (uint32_t i = 0; i < r->nslots && !s; i++)
		if (!r->slots[i].used)
			s = &r->slots[i];
	if (!s) {
		s = oldest(r, NULL);
		slot_free(r, s);
		r->st.evicted++;
	}
	s->used = true;
	s->saddr = saddr;
	s->daddr = daddr;
	s->id = id;
	s->proto = proto;
	s->born_ms = now_ms;
	r->used++;
	return s;
}

/* the pages under data [off, end) of @s, made within the memory bound
 * (older datagrams evicted for them).  Return: false if there is no room */
static bool pages_make(struct ip_reasm *r, struct reasm_slot *s, uint32_t off, uint32_t end)
{
	uint32_t first = off / IP_REASM_PAGE, last = (end - 1) / IP_REASM_PAGE, need = 0;

	for (uint32_t p = first; p <= last; p++)
		need += !s->pages[p];
	while (r->mem + need * IP_REASM_PAGE_MEM > r->mem_max) {
		struct reasm_slot *o = oldest(r, s);
		if (!o)
			return false;
		slot_free(r, o);
		r->st.evicted++;
	}
	for (uint32_t p = first; p <= last; p++) {
		if (s->pages[p])
			continue;
		s->pages[p] = calloc(1, sizeof(*s->pages[p]));
		if (!s->pages[p])
			return false; /* those made so far go with the slot */
		r->mem += IP_REASM_PAGE_MEM;
	}
	return true;
}

static bool unit_held(const struct reasm_slot *s, uint32_t u)
{
	const struct reasm_page *pg = s->pages[u / PAGE_UNITS];
	uint32_t i = u % PAGE_UNITS;

	return pg && (pg->held[i / 64] >> (i % 64)) & 1;
}

/* units [first, last] of @s: 0 none held, 1 all, 2 some */
static int units_held(const struct reasm_slot *s, uint32_t first, uint32_t last)
{
	uint32_t held = 0;

	for (uint32_t u = first; u <= last; u++)
		held += unit_held(s, u);
	return !held ? 0 : held == last - first + 1 ? 1 : 2;
}

/* @n bytes of @data at offset @off of @s (its pages made), units marked */
static void data_put(struct reasm_slot *s, uint32_t off, const uint8_t *data, uint32_t n)
{
	for (uint32_t u = off / 8; u <= (off + n - 1) / 8; u++) {
		struct reasm_page *pg = s->pages[u / PAGE_UNITS];
		uint32_t i = u % PAGE_UNITS;
		pg->held[i / 64] |= 1ull << (i % 64);
	}
	while (n) {
		uint32_t in = off % IP_REASM_PAGE, k = IP_REASM_PAGE - in < n ? IP_REASM_PAGE - in : n;
		memcpy(s->pages[off / IP_REASM_PAGE]->data + in, data, k);
		off += k;
		data += k;
		n -= k;
	}
}

/* the whole datagram of @s, into r->out.  Return: false if its fragments
 * mixed ECN as RFC 3168 5.3 forbids */
static bool finish(struct ip_reasm *r, const struct reasm_slot *s, const uint8_t **out,
		   size_t *out_len)
{
	uint8_t *ip = r->out + IP_HDR_MAX - s->hdr_len;

	if ((s->ecn_seen & ECN_SEEN_NOT_ECT) && (s->ecn_seen & ~ECN_SEEN_NOT_ECT))
		return false;
	memcpy(ip, s->hdr, s->hdr_len);
	if (s->ecn_seen & ECN_SEEN_CE)
		ip[1] |= 3;
	pkt_wr16(ip + 2, (uint16_t)(s->hdr_len + s->end));
	pkt_wr16(ip + 6, pkt_rd16(ip + 6) & (uint16_t)~(PKT_IP_MF | PKT_IP_OFF_MASK)); /* DF stays */
	pkt_ip_csum_set(ip);
	for (uint32_t off = 0; off < s->end; off += IP_REASM_PAGE) {
		uint32_t k = s->end - off < IP_REASM_PAGE ? s->end - off : IP_REASM_PAGE;
		memcpy(ip + s->hdr_len + off, s->pages[off / IP_REASM_PAGE]->data, k);
	}
	*out = ip;
	*out_len = s->hdr_len + s->end;
	return true;
}

static enum ip_reasm_verdict discard(struct ip_reasm *r, struct reasm_slot *s)
{
	if (s)
		slot_free(r, s);
	r->st.discarded++;
	return IPR_DISCARDED;
}

enum ip_reasm_verdict ip_reasm_add(struct ip_reasm *r, const uint8_t *ip, size_t len,
				   uint64_t now_ms, const uint8_t **out, size_t *out_len)
{
	if (len < 20 || (ip[0] >> 4) != 4)
		goto bad;
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4, tot = pkt_rd16(ip + 2);
	uint16_t frag = pkt_rd16(ip + 6);
	if (ihl < 20 || tot < ihl || tot > len || !(frag & (PKT_IP_MF | PKT_IP_OFF_MASK)))
		goto bad;
	if (csum_fold(csum_partial(ip, ihl, 0)) != 0)
		goto bad;
	uint32_t off = (uint32_t)(frag & PKT_IP_OFF_MASK) * 8, dlen = (uint32_t)(tot - ihl);
	bool last = !(frag & PKT_IP_MF);
	/* a piece of nothing, or a middle piece that leaves a hole no later
	 * unit can fill */
	if (!dlen || (!last && dlen % 8))
		goto bad;
	uint32_t saddr, daddr, end = off + dlen;
	memcpy(&saddr, ip + 12, 4);
	memcpy(&daddr, ip + 16, 4);
	struct reasm_slot *s = slot_find(r, saddr, daddr, pkt_rd16(ip + 4), ip[9]);

	/* decided before a new datagram may take (evict) a slot: the ping of
	 * death (no header fits in front of this much data: the first
	 * fragment's header may come later, so count the least, then its own
	 * when it comes; a copy of it once it is held is a duplicate or an
	 * overlap, below), and fragments that disagree on the end */
	bool hdr_held = s && s->hdr_len;
	uint32_t data_end = s && s->end > end ? s->end : end;
	if (end + (hdr_held ? s->hdr_len : 20u) > IP_REASM_MAX_DATAGRAM ||
	    (!off && !hdr_held && ihl + data_end > IP_REASM_MAX_DATAGRAM))
		return discard(r, s);
	if (s && (last ? end < s->end || (s->last_in && end != s->end) :
		  s->last_in && end > s->end))
		return discard(r, s);
	if (!s)
		s = slot_take(r, saddr, daddr, pkt_rd16(ip + 4), ip[9], now_ms);
	if (last) { /* the end is known now, even from a duplicate (as Linux) */
		s->last_in = true;
		s->end = end;
	}
	switch (units_held(s, off / 8, (end - 1) / 8)) {
	case 1: /* never completes its datagram, even one whose end it just
		 * fixed: as Linux's insert error path */
		r->st.dups++;
		return IPR_DUP;
	case 2:
		return discard(r, s);
	}
	if (!pages_make(r, s, off, end))
		return discard(r, s);
	data_put(s, off, ip + ihl, dlen);
	s->held += dlen;
	if (end > s->end)
		s->end = end;
	if (!off) {
		s->hdr_len = (uint8_t)ihl;
		memcpy(s->hdr, ip, ihl);
	}
	s->ecn_seen |= (uint8_t)(1u << (ip[1] & 3));
	if (!s->last_in || s->held != s->end)
		return IPR_HELD;
	if (!finish(r, s, out, out_len))
		return discard(r, s);
	slot_free(r, s);
	r->st.ok++;
	return IPR_DONE;
bad:
	r->st.bad++;
	return IPR_BAD;
}

uint32_t ip_reasm_count(const struct ip_reasm *r)
{
	return r->used;
}

size_t ip_reasm_mem(const struct ip_reasm *r)
{
	return r->mem;
}

const struct ip_reasm_stats *ip_reasm_stats(const struct ip_reasm *r)
{
	return &r->st;
}

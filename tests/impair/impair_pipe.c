// SPDX-License-Identifier: MIT
/*
 * The per-direction pipeline of bp_impair.  No sockets and no clock here:
 * the caller passes the time in, so the same code runs under the self test.
 *
 * A frame that arrives is classified (IPv4 or not).  An IPv4 frame (every
 * frame with --impair-non-ip) then draws a fixed number of random values
 * from the direction's generator, whatever is enabled and whatever the
 * outcome, so frame k always gets the same values for a given seed and the
 * decisions for one impairment do not shift when another is switched on.
 * Then, in order:
 *   loss -> duplication (a pristine copy) -> corruption -> reorder stage
 *   -> bottleneck queue (tail drop, ECN marking, serialisation at --rate)
 *   -> delay line (delay + jitter, never reordering) -> out.
 * Other frames skip the first four steps and draw their jitter from a
 * second generator, so ARP timing does not perturb the decision sequence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_impair.h"

/* random values drawn per impaired frame, in this order */
enum { R_LOSS, R_DUP, R_CORRUPT, R_CORRUPT_BITS, R_REORDER, R_JITTER, R_NUM };

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: one 64-bit word of state, every seed is a good seed */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static bool chance(uint64_t r, double p)
{
	/* 53 bits: exact in a double, so p = 1 always and p = 0 never hits */
	return (double)(r >> 11) * 0x1.0p-53 < p;
}

static void fifo_push(struct imp_fifo *f, struct imp_pkt *p)
{
	p->next = NULL;
	if (f->tail)
		f->tail->next = p;
	else
		f->head = p;
	f->tail = p;
	f->n++;
	f->bytes += p->len;
}

/**
 * imp_fifo_pop() - take the oldest frame off a stage
 * @f: the stage
 *
 * Return: the frame, or NULL when the stage is empty.
 */
struct imp_pkt *imp_fifo_pop(struct imp_fifo *f)
{
	struct imp_pkt *p = f->head;

	if (!p)
		return NULL;
	f->head = p->next;
	if (!f->head)
		f->tail = NULL;
	f->n--;
	f->bytes -= p->len;
	p->next = NULL;
	return p;
}

/* unlink @p, whose predecessor is @prev (NULL: @p is the head) */
static void fifo_unlink(struct imp_fifo *f, struct imp_pkt *prev, struct imp_pkt *p)
{
	if (prev)
		prev->next = p->next;
	else
		f->head = p->next;
	if (f->tail == p)
		f->tail = prev;
	f->n--;
	f->bytes -= p->len;
	p->next = NULL;
}

/**
 * imp_dir_init() - allocate one direction's pool and seed its generators
 * @d: the direction, zeroed or not
 * @name: "a2b" or "b2a", printed in the statistics
 * @cfg: its impairments; must outlive @d
 * @o: global options (seed, pool and frame size)
 * @dir: IMP_A2B or IMP_B2A, mixed into the seed so the two directions
 *	 draw independent sequences from one --seed
 *
 * All memory the direction will ever use is allocated here.
 *
 * Return: 0, or -1 when out of memory.
 */
int imp_dir_init(struct imp_dir *d, const char *name, const struct imp_cfg *cfg,
		 const struct imp_opts *o, unsigned int dir)
{
	uint64_t s;

	memset(d, 0, sizeof(*d));
	d->name = name;
	d->cfg = cfg;
	d->impair_non_ip = o->impair_non_ip;
	d->pool = o->pool;
	d->frame_size = o->frame_size;
	d->pkts = calloc(o->pool, sizeof(*d->pkts));
	d->mem = malloc((size_t)o->pool * o->frame_size);
	if (!d->pkts || !d->mem) {
		imp_dir_fini(d);
		return -1;
	}
	for (uint32_t i = 0; i < o->pool; i++) {
		d->pkts[i].data = d->mem + (size_t)i * o->frame_size;
		imp_pkt_put(d, &d->pkts[i]);
	}
	/* consecutive seeds must not give overlapping streams: hash first */
	s = o->seed ^ (0x5bd1e9955bd1e995ULL * (2 * dir + 1));
	d->rng = rng_next(&s);
	d->rng_aux = rng_next(&s);
	return 0;
}

/**
 * imp_dir_fini() - free a direction's pool
 * @d: the direction; frames still in its stages are dropped with it
 */
void imp_dir_fini(struct imp_dir *d)
{
	free(d->pkts);
	free(d->mem);
	d->pkts = NULL;
	d->mem = NULL;
	d->free = NULL;
	d->nfree = 0;
}

/**
 * imp_pkt_get() - take a free frame buffer
 * @d: the direction whose pool to use
 *
 * Return: the buffer, or NULL when the pool is exhausted.
 */
struct imp_pkt *imp_pkt_get(struct imp_dir *d)
{
	struct imp_pkt *p = d->free;

	if (!p)
		return NULL;
	d->free = p->next;
	d->nfree--;
	p->next = NULL;
	p->overtaken = 0;
	p->jitter_ns = 0;
	p->l3off = 0;
	return p;
}

/**
 * imp_pkt_put() - return a frame buffer to its pool
 * @d: the direction it was taken from
 * @p: the buffer, in no stage
 */
void imp_pkt_put(struct imp_dir *d, struct imp_pkt *p)
{
	p->next = d->free;
	d->free = p;
	d->nfree++;
}

/**
 * imp_frame_l3off() - where the IPv4 header of an Ethernet frame starts
 * @frame: the frame, from the destination MAC on
 * @len: its length
 *
 * One 802.1Q tag is looked through.  The header must be complete and sane
 * (version 4, IHL >= 5) or the frame is treated as not IPv4, so nothing
 * below ever reads or writes past it.
 *
 * Return: the offset, or 0 when the frame does not carry IPv4.
 */
uint16_t imp_frame_l3off(const uint8_t *frame, uint32_t len)
{
	uint16_t off = 12, type;
	uint32_t ihl;

	if (len < 14)
		return 0;
	type = (uint16_t)(frame[off] << 8 | frame[off + 1]);
	if (type == 0x8100 && len >= 18) {
		off += 4;
		type = (uint16_t)(frame[off] << 8 | frame[off + 1]);
	}
	if (type != 0x0800)
		return 0;
	off += 2;
	if (len < off + 20u || frame[off] >> 4 != 4)
		return 0;
	ihl = (frame[off] & 0xfu) * 4;
	if (ihl < 20 || len < off + ihl)
		return 0;
	return off;
}

/*
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), so only the changed 16-bit word
 * is needed, not the whole header.
 */
static void csum_replace16(uint8_t *csum, uint16_t old, uint16_t new)
{
	uint32_t sum = (uint16_t)~(csum[0] << 8 | csum[1]);

	sum += (uint16_t)~old;
	sum += new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	csum[0] = (uint8_t)(sum >> 8);
	csum[1] = (uint8_t)sum;
}

/**
 * imp_ecn_set_ce() - mark an ECN-capable IPv4 frame Congestion Experienced
 * @frame: the frame
 * @len: its length
 * @l3off: offset of its IPv4 header, from imp_frame_l3off(); not 0
 *
 * Not-ECT frames must not be marked (the sender would not understand), and
 * frames already CE are left alone so they are not counted twice.
 *
 * Return: true when the frame was ECT(0) or ECT(1) and is now CE.
 */
bool imp_ecn_set_ce(uint8_t *frame, uint32_t len, uint16_t l3off)
{
	uint8_t *ip = frame + l3off;
	uint16_t old, new;

	if (!l3off || len < l3off + 20u)
		return false;
	if ((ip[1] & 3) == 0 || (ip[1] & 3) == 3)
		return false;
	old = (uint16_t)(ip[0] << 8 | ip[1]);
	ip[1] |= 3;
	new = (uint16_t)(ip[0] << 8 | ip[1]);
	csum_replace16(ip + 10, old, new);
	return true;
}

/*
 * Flip @bits random bits past the IPv4 header and before the end of the
 * IPv4 datagram (Ethernet padding excluded: a flip there would go unseen),
 * so the frame still reaches the host and its L4 checksum must catch it.
 * Non-IPv4 frames (--impair-non-ip) get flips past the Ethernet header.
 */
static bool corrupt_frame(struct imp_pkt *p, uint64_t seed, uint32_t bits)
{
	uint32_t start, end;

	if (p->l3off) {
		const uint8_t *ip = p->data + p->l3off;
		uint32_t tot = (uint32_t)(ip[2] << 8 | ip[3]);

		start = p->l3off + (ip[0] & 0xfu) * 4;
		end = p->l3off + tot;
		if (end > p->len)
			end = p->len;
	} else {
		start = 14;
		end = p->len;
	}
	if (end <= start)
		return false;
	for (uint32_t i = 0; i < bits; i++) {
		uint64_t bit = rng_next(&seed) % ((uint64_t)(end - start) * 8);

		p->data[start + bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	return true;
}

/* uniform in [-jitter, +jitter] */
static int64_t jitter_of(const struct imp_cfg *c, uint64_t r)
{
	if (!c->jitter_ns)
		return 0;
	return (int64_t)(r % (2 * c->jitter_ns + 1)) - (int64_t)c->jitter_ns;
}

/*
 * Into the delay line at time @t (when the bottleneck let the frame go).
 * Release times never go backwards, so jitter alone cannot reorder.
 */
static void to_line(struct imp_dir *d, struct imp_pkt *p, uint64_t t)
{
	int64_t delay = (int64_t)d->cfg->delay_ns + p->jitter_ns;
	uint64_t rel = t + (delay > 0 ? (uint64_t)delay : 0);

	if (rel < d->last_rel)
		rel = d->last_rel;
	d->last_rel = rel;
	p->t_ns = rel;
	fifo_push(&d->line, p);
}

/* frames whose serialisation finished by @now leave the bottleneck */
static void queue_advance(struct imp_dir *d, uint64_t now)
{
	while (d->queue.head && d->queue.head->t_ns <= now) {
		struct imp_pkt *p = imp_fifo_pop(&d->queue);

		to_line(d, p, p->t_ns);
	}
}

static uint64_t tx_time_ns(const struct imp_cfg *c, uint32_t len)
{
	/* len <= 64 KiB, so len * 8e9 fits in 64 bits */
	return ((uint64_t)len * 8 * IMP_NSEC_PER_SEC + c->rate_bps / 2) / c->rate_bps;
}

/* the bottleneck: tail drop, ECN marking, departure at the configured rate */
static void enqueue(struct imp_dir *d, struct imp_pkt *p, uint64_t now)
{
	const struct imp_cfg *c = d->cfg;
	uint64_t start;

	if (!c->rate_bps) {
		to_line(d, p, now);
		return;
	}
	queue_advance(d, now);
	if (d->queue.n >= c->queue_pkts ||
	    (c->queue_bytes && d->queue.bytes + p->len > c->queue_bytes)) {
		d->st.dropped_queue++;
		imp_pkt_put(d, p);
		return;
	}
	d->st.queue_sum += d->queue.n;
	d->st.queue_samples++;
	if (c->ecn_mark_pkts != IMP_ECN_OFF && d->queue.n >= c->ecn_mark_pkts &&
	    p->l3off && imp_ecn_set_ce(p->data, p->len, p->l3off))
		d->st.ce_marked++;
	start = now > d->last_dep ? now : d->last_dep;
	d->last_dep = start + tx_time_ns(c, p->len);
	p->t_ns = d->last_dep;
	fifo_push(&d->queue, p);
	if (d->queue.n > d->st.max_queue_pkts)
		d->st.max_queue_pkts = d->queue.n;
}

static void release_held(struct imp_dir *d, struct imp_pkt *prev, struct imp_pkt *p,
			 uint64_t now)
{
	fifo_unlink(&d->hold, prev, p);
	if (p->overtaken)
		d->st.reordered++;
	enqueue(d, p, now);
}

/*
 * A frame leaves the reorder stage for the bottleneck.  It overtakes every
 * frame still held; those it was the N-th to overtake follow right after it.
 */
static void pass(struct imp_dir *d, struct imp_pkt *p, uint64_t now)
{
	uint32_t gap = d->cfg->reorder_gap;
	struct imp_pkt *h, *prev = NULL, *next;

	enqueue(d, p, now);
	for (h = d->hold.head; h; h = next) {
		next = h->next;
		h->overtaken++;
		if (gap && h->overtaken >= gap)
			release_held(d, prev, h, now);
		else
			prev = h;
	}
}

/**
 * imp_arrive() - a frame came in on this direction's input interface
 * @d: the direction
 * @p: the frame, from imp_pkt_get(), with data and len filled in
 * @now: arrival time, CLOCK_MONOTONIC nanoseconds
 *
 * Takes ownership of @p: it is dropped, or ends up in one of the stages.
 */
void imp_arrive(struct imp_dir *d, struct imp_pkt *p, uint64_t now)
{
	const struct imp_cfg *c = d->cfg;
	struct imp_pkt *copy = NULL;
	uint64_t r[R_NUM];

	d->st.rx++;
	p->l3off = imp_frame_l3off(p->data, p->len);
	if (!p->l3off)
		d->st.non_ip++;
	if (!p->l3off && !d->impair_non_ip) {
		p->jitter_ns = jitter_of(c, rng_next(&d->rng_aux));
		pass(d, p, now);
		return;
	}
	for (int i = 0; i < R_NUM; i++)
		r[i] = rng_next(&d->rng);
	if (chance(r[R_LOSS], c->loss)) {
		d->st.dropped_loss++;
		imp_pkt_put(d, p);
		return;
	}
	p->jitter_ns = jitter_of(c, r[R_JITTER]);
	/* no copy when the pool is empty: dup counts the copies made */
	if (chance(r[R_DUP], c->dup))
		copy = imp_pkt_get(d);
	if (copy) {
		memcpy(copy->data, p->data, p->len);
		copy->len = p->len;
		copy->l3off = p->l3off;
		copy->jitter_ns = jitter_of(c, rng_next(&d->rng_aux));
		d->st.dup++;
	}
	if (chance(r[R_CORRUPT], c->corrupt) &&
	    corrupt_frame(p, r[R_CORRUPT_BITS], c->corrupt_bits))
		d->st.corrupt++;
	if (chance(r[R_REORDER], c->reorder) && d->hold.n < IMP_HOLD_MAX) {
		p->overtaken = 0;
		p->hold_until = now + c->reorder_hold_ns;
		fifo_push(&d->hold, p);
		d->st.held++;
	} else {
		pass(d, p, now);
	}
	if (copy)
		pass(d, copy, now);
}

/**
 * imp_service() - move frames along whose time has come
 * @d: the direction
 * @now: CLOCK_MONOTONIC nanoseconds
 *
 * Held frames past their longest hold go to the bottleneck, frames the
 * bottleneck has sent go to the delay line, frames whose delay is over go
 * to the out stage, which the caller drains to its socket.
 */
void imp_service(struct imp_dir *d, uint64_t now)
{
	struct imp_pkt *h, *prev = NULL, *next;

	for (h = d->hold.head; h; h = next) {
		next = h->next;
		if (h->hold_until <= now)
			release_held(d, prev, h, now);
		else
			prev = h;
	}
	queue_advance(d, now);
	while (d->line.head && d->line.head->t_ns <= now)
		fifo_push(&d->out, imp_fifo_pop(&d->line));
}

/**
 * imp_next_event() - when imp_service() next has something to do
 * @d: the direction
 *
 * Frames waiting in the out stage are the caller's business (its socket
 * may be full), so they do not count.
 *
 * Return: CLOCK_MONOTONIC nanoseconds, or IMP_NEVER when nothing waits.
 */
uint64_t imp_next_event(const struct imp_dir *d)
{
	uint64_t t = IMP_NEVER;
	const struct imp_pkt *h;

	for (h = d->hold.head; h; h = h->next)
		if (h->hold_until < t)
			t = h->hold_until;
	if (d->queue.head && d->queue.head->t_ns < t)
		t = d->queue.head->t_ns;
	if (d->line.head && d->line.head->t_ns < t)
		t = d->line.head->t_ns;
	return t;
}

/**
 * imp_stats_line() - one direction's counters as a key=value line
 * @d: the direction
 * @snap: how many times statistics were written before, so a reader can
 *	  tell a fresh file from an old one
 * @buf: output, newline-terminated
 * @size: its size
 *
 * Return: the length snprintf() reports.
 */
int imp_stats_line(const struct imp_dir *d, uint64_t snap, char *buf, size_t size)
{
	const struct imp_stats *s = &d->st;
	uint64_t in_flight = d->hold.n + d->queue.n + d->line.n + d->out.n;
	double avg = s->queue_samples ? (double)s->queue_sum / (double)s->queue_samples : 0;

	return snprintf(buf, size,
			"dir=%s rx=%llu tx=%llu dropped_loss=%llu dropped_queue=%llu dup=%llu "
			"corrupt=%llu reordered=%llu ce_marked=%llu max_queue_pkts=%llu "
			"avg_queue_pkts=%.2f held=%llu non_ip=%llu dropped_nobuf=%llu "
			"dropped_trunc=%llu dropped_tx=%llu in_flight=%llu snap=%llu\n",
			d->name, (unsigned long long)s->rx, (unsigned long long)s->tx,
			(unsigned long long)s->dropped_loss, (unsigned long long)s->dropped_queue,
			(unsigned long long)s->dup, (unsigned long long)s->corrupt,
			(unsigned long long)s->reordered, (unsigned long long)s->ce_marked,
			(unsigned long long)s->max_queue_pkts, avg, (unsigned long long)s->held,
			(unsigned long long)s->non_ip, (unsigned long long)s->dropped_nobuf,
			(unsigned long long)s->dropped_trunc, (unsigned long long)s->dropped_tx,
			(unsigned long long)in_flight, (unsigned long long)snap);
}

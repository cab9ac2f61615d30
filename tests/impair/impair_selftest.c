// SPDX-License-Identifier: MIT
/*
 * bp_impair --self-test: the pipeline of impair_pipe.c on simulated time,
 * no sockets and no root.  The integration test runs it first, so a broken
 * pipeline fails with a precise message instead of a slow transfer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_impair.h"

#define NS_PER_MS 1000000ULL
#define MAX_OUT 200000

static int failures;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "self-test FAIL %s:%d: ", __func__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
			failures++;                                           \
		}                                                             \
	} while (0)

/* what came out of a simulated direction */
struct sim_out {
	uint32_t n;
	uint32_t seq[MAX_OUT];
	uint64_t t[MAX_OUT];
	uint8_t first[MAX_OUT][64];	/* the frame's first bytes */
};

static struct sim_out out;

static uint16_t ip_csum(const uint8_t *h, uint32_t len)
{
	uint32_t sum = 0;

	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* an Ethernet + IPv4 + UDP frame carrying @seq; @type 0x0806 for ARP */
static void mk_frame(uint8_t *f, uint32_t len, uint32_t seq, uint8_t tos, uint16_t type)
{
	uint16_t c;

	memset(f, 0, len);
	memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01", 12);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
	f[14] = 0x45;
	f[15] = tos;
	f[16] = (uint8_t)((len - 14) >> 8);
	f[17] = (uint8_t)(len - 14);
	f[18] = (uint8_t)(seq >> 8);
	f[19] = (uint8_t)seq;
	f[22] = 64;
	f[23] = 17;
	memcpy(f + 26, "\xc6\x12\0\x03\xc6\x12\0\x02", 8);
	c = ip_csum(f + 14, 20);
	f[24] = (uint8_t)(c >> 8);
	f[25] = (uint8_t)c;
	memcpy(f + 42, &seq, sizeof(seq));
}

static void sim_init(struct imp_dir *d, const struct imp_cfg *c, uint64_t seed, uint32_t pool)
{
	struct imp_opts o = { .seed = seed, .pool = pool, .frame_size = 2048 };

	if (imp_dir_init(d, "sim", c, &o, IMP_A2B)) {
		fprintf(stderr, "self-test: out of memory\n");
		exit(1);
	}
	out.n = 0;
}

static struct imp_cfg base_cfg(void)
{
	struct imp_cfg c = {
		.corrupt_bits = 1,
		.reorder_gap = 3,
		.reorder_hold_ns = 10 * NS_PER_MS,
		.queue_pkts = 1000,
		.ecn_mark_pkts = IMP_ECN_OFF,
	};
	return c;
}

/* everything due by @now leaves, into out */
static void sim_drain(struct imp_dir *d, uint64_t now)
{
	struct imp_pkt *p;

	imp_service(d, now);
	while ((p = imp_fifo_pop(&d->out))) {
		if (out.n < MAX_OUT) {
			memcpy(&out.seq[out.n], p->data + 42, sizeof(uint32_t));
			out.t[out.n] = p->t_ns;
			memcpy(out.first[out.n], p->data, 64);
			out.n++;
		}
		imp_pkt_put(d, p);
	}
}

/* run the clock until nothing is scheduled */
static void sim_finish(struct imp_dir *d, uint64_t now)
{
	uint64_t t;

	sim_drain(d, now);
	while ((t = imp_next_event(d)) != IMP_NEVER)
		sim_drain(d, t > now ? t : now);
}

static void sim_feed(struct imp_dir *d, uint64_t now, uint32_t seq, uint32_t len, uint8_t tos,
		     uint16_t type)
{
	struct imp_pkt *p;

	sim_drain(d, now);
	p = imp_pkt_get(d);
	if (!p) {
		d->st.dropped_nobuf++;
		return;
	}
	mk_frame(p->data, len, seq, tos, type);
	p->len = len;
	imp_arrive(d, p, now);
	sim_drain(d, now);
}

static void test_ecn_csum(void)
{
	uint8_t f[64];
	uint64_t s = 12345;

	for (int i = 0; i < 20000; i++) {
		uint16_t l3;
		uint8_t ecn;
		bool marked;

		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		mk_frame(f, 64, (uint32_t)(s >> 40), (uint8_t)(s >> 24), 0x0800);
		f[22] = (uint8_t)(s >> 16);	/* vary TTL and id too */
		f[20] = (uint8_t)(s >> 8);
		f[24] = f[25] = 0;
		f[24] = (uint8_t)(ip_csum(f + 14, 20) >> 8);
		f[25] = (uint8_t)ip_csum(f + 14, 20);
		ecn = f[15] & 3;
		l3 = imp_frame_l3off(f, 64);
		CHECK(l3 == 14, "l3off %u", l3);
		marked = imp_ecn_set_ce(f, 64, l3);
		CHECK(marked == (ecn == 1 || ecn == 2), "ecn %u marked %d", ecn, marked);
		CHECK(!marked || (f[15] & 3) == 3, "not CE after marking");
		CHECK(ip_csum(f + 14, 20) == 0, "IPv4 checksum wrong after marking tos %#x",
		      f[15]);
	}
}

/* which of @n frames (seq 0..n-1) came out, as a bitmap */
static void delivered(uint8_t *map, uint32_t n)
{
	memset(map, 0, (n + 7) / 8);
	for (uint32_t i = 0; i < out.n; i++)
		if (out.seq[i] < n)
			map[out.seq[i] / 8] |= (uint8_t)(1u << (out.seq[i] % 8));
}

static void run_loss(uint64_t seed, double dup, uint8_t *map, uint64_t *dropped)
{
	struct imp_cfg c = base_cfg();
	struct imp_dir d;

	c.loss = 0.05;
	c.dup = dup;
	sim_init(&d, &c, seed, 256);
	for (uint32_t i = 0; i < 100000; i++)
		sim_feed(&d, 1000ULL * i, i, 100, 0, 0x0800);
	sim_finish(&d, 1000ULL * 100000);
	delivered(map, 100000);
	*dropped = d.st.dropped_loss;
	imp_dir_fini(&d);
}

static void test_loss_determinism(void)
{
	static uint8_t m1[12500], m2[12500], m3[12500], m4[12500];
	uint64_t d1, d2, d3, d4;

	run_loss(7, 0, m1, &d1);
	run_loss(7, 0, m2, &d2);
	run_loss(8, 0, m3, &d3);
	run_loss(7, 0.2, m4, &d4);
	CHECK(d1 > 4650 && d1 < 5350, "5%% loss dropped %llu of 100000",
	      (unsigned long long)d1);
	CHECK(d1 == d2 && !memcmp(m1, m2, sizeof(m1)), "same seed, different losses");
	CHECK(memcmp(m1, m3, sizeof(m1)), "another seed, the same losses");
	/* a fixed number of draws per frame: dup on, the same frames lost */
	CHECK(d1 == d4 && !memcmp(m1, m4, sizeof(m1)), "dup changed which frames were lost");
}

static void test_jitter_fifo(void)
{
	struct imp_cfg c = base_cfg();
	struct imp_dir d;
	bool varied = false;

	c.delay_ns = 10 * NS_PER_MS;
	c.jitter_ns = 9 * NS_PER_MS;
	sim_init(&d, &c, 1, 256);
	for (uint32_t i = 0; i < 2000; i++)
		sim_feed(&d, NS_PER_MS * i, i, 100, 0, 0x0800);
	sim_finish(&d, NS_PER_MS * 2000);
	CHECK(out.n == 2000, "%u of 2000 out", out.n);
	for (uint32_t i = 0; i < out.n; i++) {
		CHECK(out.seq[i] == i, "position %u holds frame %u", i, out.seq[i]);
		if (out.seq[i] != i)
			break;
		CHECK(out.t[i] >= NS_PER_MS * i + NS_PER_MS, "frame %u early", i);
		CHECK(!i || out.t[i] >= out.t[i - 1], "frame %u released before %u", i, i - 1);
		if (out.t[i] != NS_PER_MS * i + c.delay_ns)
			varied = true;
	}
	CHECK(varied, "jitter had no effect");
	imp_dir_fini(&d);
}

static void test_rate_taildrop(void)
{
	struct imp_cfg c = base_cfg();
	struct imp_dir d;

	c.rate_bps = 20000000;
	sim_init(&d, &c, 1, 2048);
	for (uint32_t i = 0; i < 1000; i++)
		sim_feed(&d, 0, i, 1514, 0, 0x0800);
	sim_finish(&d, 0);
	CHECK(out.n == 1000, "%u of 1000 out", out.n);
	/* 1514 bytes at 20 Mbit/s: 605.6 us each */
	CHECK(out.n && out.t[out.n - 1] == 1000 * 605600ULL, "last left at %llu ns",
	      (unsigned long long)out.t[out.n - 1]);
	CHECK(d.st.max_queue_pkts == 1000, "max queue %llu",
	      (unsigned long long)d.st.max_queue_pkts);
	imp_dir_fini(&d);

	c.queue_pkts = 10;
	sim_init(&d, &c, 1, 2048);
	for (uint32_t i = 0; i < 100; i++)
		sim_feed(&d, 0, i, 1514, 0, 0x0800);
	sim_finish(&d, 0);
	CHECK(out.n == 10 && d.st.dropped_queue == 90, "queue 10: %u out, %llu dropped",
	      out.n, (unsigned long long)d.st.dropped_queue);
	imp_dir_fini(&d);
}

static void test_ecn_marking(void)
{
	struct imp_cfg c = base_cfg();
	struct imp_dir d;

	c.rate_bps = 1000000;
	c.queue_pkts = 100;
	c.ecn_mark_pkts = 5;
	sim_init(&d, &c, 1, 256);
	for (uint32_t i = 0; i < 50; i++)
		sim_feed(&d, 0, i, 1000, i < 40 ? 0x02 : 0x00, 0x0800);
	sim_finish(&d, 0);
	/* frames 5..39 found 5 or more ahead and were ECT(0); 40..49 Not-ECT */
	CHECK(d.st.ce_marked == 35, "ce_marked %llu, want 35",
	      (unsigned long long)d.st.ce_marked);
	for (uint32_t i = 0; i < out.n; i++) {
		CHECK(ip_csum(out.first[i] + 14, 20) == 0, "frame %u: bad IPv4 checksum",
		      out.seq[i]);
		CHECK(((out.first[i][15] & 3) == 3) == (out.seq[i] >= 5 && out.seq[i] < 40),
		      "frame %u: ecn bits %u", out.seq[i], out.first[i][15] & 3);
	}
	imp_dir_fini(&d);
}

static void test_reorder(void)
{
	struct imp_cfg c = base_cfg();
	struct imp_dir d;
	uint32_t late = 0;

	c.reorder = 0.1;
	c.reorder_gap = 3;
	c.reorder_hold_ns = 1000 * NS_PER_MS;
	sim_init(&d, &c, 3, 256);
	for (uint32_t i = 0; i < 1000; i++)
		sim_feed(&d, NS_PER_MS * i, i, 100, 0, 0x0800);
	sim_finish(&d, NS_PER_MS * 1000);
	CHECK(out.n == 1000, "%u of 1000 out", out.n);
	for (uint32_t i = 1; i < out.n; i++)
		if (out.seq[i] < out.seq[i - 1])
			late++;
	CHECK(d.st.held > 50 && d.st.held < 150, "held %llu", (unsigned long long)d.st.held);
	CHECK(late > 0 && d.st.reordered > 0 && d.st.reordered <= d.st.held,
	      "late %u reordered %llu held %llu", late,
	      (unsigned long long)d.st.reordered, (unsigned long long)d.st.held);
	imp_dir_fini(&d);
}

static void test_corrupt_dup_nonip(void)
{
	struct imp_cfg c = base_cfg();
	struct imp_dir d;
	uint8_t orig[64];

	c.corrupt = 1;
	sim_init(&d, &c, 5, 256);
	for (uint32_t i = 0; i < 500; i++)
		sim_feed(&d, 0, i, 60, 0, 0x0800);
	sim_finish(&d, 0);
	CHECK(out.n == 500 && d.st.corrupt == 500, "%u out, %llu corrupt", out.n,
	      (unsigned long long)d.st.corrupt);
	for (uint32_t i = 0; i < out.n; i++) {
		int flipped = 0, where = -1;

		/* the frame came in with seq i; the seq bytes may be the flipped ones */
		mk_frame(orig, 60, i, 0, 0x0800);
		for (int b = 0; b < 60; b++)
			if (orig[b] != out.first[i][b]) {
				flipped += __builtin_popcount(orig[b] ^ out.first[i][b]);
				where = b;
			}
		CHECK(flipped == 1 && where >= 34 && where < 60, "frame %u: %d bits at %d", i,
		      flipped, where);
	}
	imp_dir_fini(&d);

	c = base_cfg();
	c.dup = 1;
	sim_init(&d, &c, 5, 256);
	for (uint32_t i = 0; i < 100; i++)
		sim_feed(&d, 0, i, 100, 0, 0x0800);
	sim_finish(&d, 0);
	CHECK(out.n == 200 && d.st.dup == 100, "dup: %u out", out.n);
	for (uint32_t i = 0; i + 1 < out.n; i += 2)
		CHECK(!memcmp(out.first[i], out.first[i + 1], 64), "copy %u differs", i / 2);
	imp_dir_fini(&d);

	c = base_cfg();
	c.loss = 1;
	sim_init(&d, &c, 5, 256);
	for (uint32_t i = 0; i < 100; i++)
		sim_feed(&d, 0, i, 60, 0, i % 2 ? 0x0806 : 0x0800);
	sim_finish(&d, 0);
	CHECK(out.n == 50 && d.st.non_ip == 50 && d.st.dropped_loss == 50,
	      "loss 100%%: %u out, %llu non-IP", out.n, (unsigned long long)d.st.non_ip);
	imp_dir_fini(&d);
}

/**
 * imp_self_test() - check the pipeline on simulated time
 *
 * Return: the number of failed checks (0: all passed).
 */
int imp_self_test(void)
{
	test_ecn_csum();
	test_loss_determinism();
	test_jitter_fifo();
	test_rate_taildrop();
	test_ecn_marking();
	test_reorder();
	test_corrupt_dup_nonip();
	if (!failures)
		printf("bp_impair self-test: all passed\n");
	return failures;
}

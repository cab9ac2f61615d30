// SPDX-License-Identifier: MIT
/*
 * test_shm_queue.c - the SPSC queues shared between daemon and apps.
 *
 * Besides ordinary FIFO behaviour these tests play the hostile peer: the
 * other side of every queue is an untrusted process that can write any
 * value into the shared header, and the view must stay within its own
 * entries no matter what.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <bypass/shm_abi.h>

#define CANARY 0xab
#define CANARY_LEN 256

struct qmem {
	struct bp_queue *q;
	uint32_t size, elem;
	uint8_t *canary;
};

/* A queue with a guard area after the entries to catch overruns. */
static struct qmem qalloc(uint32_t size, uint32_t elem, uint64_t start)
{
	struct qmem m = { .size = size, .elem = elem };
	size_t bytes = bp_queue_bytes(size, elem);
	size_t total = (bytes + CANARY_LEN + BP_CACHELINE - 1) & ~(size_t)(BP_CACHELINE - 1);

	m.q = aligned_alloc(BP_CACHELINE, total);
	cr_assert_not_null(m.q);
	memset(m.q, 0, total);
	m.q->size = size;
	m.q->elem_size = elem;
	m.q->head = m.q->tail = start;
	m.canary = (uint8_t *)m.q + bytes;
	memset(m.canary, CANARY, CANARY_LEN);
	return m;
}

static void qcheck_free(struct qmem *m)
{
	size_t i;

	for (i = 0; i < CANARY_LEN; i++)
		cr_assert_eq(m->canary[i], CANARY, "overrun at +%zu past the entries", i);
	free(m->q);
}

static void views(struct qmem *m, struct bp_queue_view *p, struct bp_queue_view *c)
{
	bp_queue_view_init(p, m->q, m->size, m->elem, 1);
	bp_queue_view_init(c, m->q, m->size, m->elem, 0);
}

Test(shm_queue, fifo_order)
{
	struct qmem m = qalloc(8, sizeof(uint64_t), 0);
	struct bp_queue_view p, c;
	uint64_t v;

	views(&m, &p, &c);
	for (v = 100; v < 105; v++)
		cr_assert_eq(bp_queue_push(&p, &v), 0);
	cr_assert_eq(m.q->head, 5, "head published");
	for (uint64_t want = 100; want < 105; want++) {
		cr_assert_eq(bp_queue_pop(&c, &v), 0);
		cr_assert_eq(v, want);
	}
	cr_assert_eq(m.q->tail, 5, "tail published");
	cr_assert_eq(bp_queue_pop(&c, &v), -1);
	qcheck_free(&m);
}

Test(shm_queue, empty)
{
	struct qmem m = qalloc(4, sizeof(struct bp_event), 0);
	struct bp_queue_view p, c;
	struct bp_event ev, out;

	views(&m, &p, &c);
	memset(&out, 0x77, sizeof(out));
	cr_assert(bp_queue_empty(&c));
	cr_assert_eq(bp_queue_pop(&c, &out), -1);
	cr_assert_eq(out.type, 0x7777, "pop on empty must not touch the output");
	memset(&ev, 0, sizeof(ev));
	ev.type = BP_EV_RX;
	ev.slot = 3;
	cr_assert_eq(bp_queue_push(&p, &ev), 0);
	cr_assert_not(bp_queue_empty(&c));
	cr_assert_eq(bp_queue_pop(&c, &out), 0);
	cr_assert(memcmp(&ev, &out, sizeof(ev)) == 0);
	cr_assert(bp_queue_empty(&c));
	qcheck_free(&m);
}

Test(shm_queue, full_at_size)
{
	struct qmem m = qalloc(8, sizeof(uint32_t), 0);
	struct bp_queue_view p, c;
	uint32_t v;

	views(&m, &p, &c);
	for (v = 0; v < 8; v++)
		cr_assert_eq(bp_queue_push(&p, &v), 0, "push %u", v);
	v = 99;
	cr_assert_eq(bp_queue_push(&p, &v), -1, "9th push must fail");
	cr_assert_eq(m.q->head, 8);
	cr_assert_eq(bp_queue_pop(&c, &v), 0);
	cr_assert_eq(v, 0);
	v = 8;
	cr_assert_eq(bp_queue_push(&p, &v), 0, "one slot freed");
	cr_assert_eq(bp_queue_push(&p, &v), -1);
	for (uint32_t want = 1; want <= 8; want++) {
		cr_assert_eq(bp_queue_pop(&c, &v), 0);
		cr_assert_eq(v, want, "entry %u not overwritten", want);
	}
	qcheck_free(&m);
}

Test(shm_queue, size_one)
{
	struct qmem m = qalloc(1, sizeof(uint32_t), 0);
	struct bp_queue_view p, c;
	uint32_t v = 1, out;

	views(&m, &p, &c);
	cr_assert_eq(bp_queue_push(&p, &v), 0);
	cr_assert_eq(bp_queue_push(&p, &v), -1);
	cr_assert_eq(bp_queue_pop(&c, &out), 0);
	cr_assert_eq(bp_queue_pop(&c, &out), -1);
	qcheck_free(&m);
}

static void cycle(uint64_t start)
{
	struct qmem m = qalloc(16, sizeof(uint64_t), start);
	struct bp_queue_view p, c;
	uint64_t next_in = 0, next_out = 0, v;
	int round, k, batch;

	views(&m, &p, &c);
	for (round = 0; round < 5000; round++) {
		batch = 1 + (round * 7) % 16; /* varying fill levels, up to full */
		for (k = 0; k < batch; k++) {
			v = next_in;
			if (bp_queue_push(&p, &v) == 0)
				next_in++;
		}
		cr_assert_leq(next_in - next_out, 16);
		batch = 1 + (round * 5) % 16;
		for (k = 0; k < batch; k++) {
			if (bp_queue_pop(&c, &v) < 0)
				break;
			cr_assert_eq(v, next_out, "round %d", round);
			next_out++;
		}
	}
	while (bp_queue_pop(&c, &v) == 0)
		cr_assert_eq(v, next_out++);
	cr_assert_eq(next_in, next_out);
	cr_assert_gt(next_in, 16 * 1000, "indices wrapped the ring many times");
	cr_assert_eq(m.q->head - start, next_in);
	cr_assert_eq(m.q->tail - start, next_out);
	qcheck_free(&m);
}

Test(shm_queue, index_wraparound_many_cycles)
{
	cycle(0);
}

Test(shm_queue, index_wraparound_across_2_64)
{
	/* counters are 64-bit; make them actually overflow mid-test */
	cycle(UINT64_MAX - 37);
}

/* ---------------------------------------------------------- hostile */

Test(shm_queue, bogus_huge_head_bounded)
{
	struct qmem m = qalloc(8, sizeof(uint64_t), 0);
	struct bp_queue_view c;
	uint64_t v, pops = 0;

	bp_queue_view_init(&c, m.q, 8, sizeof(uint64_t), 0);
	m.q->head = 1000000000ull; /* producer lies */
	while (bp_queue_pop(&c, &v) == 0) {
		pops++;
		cr_assert_leq(m.q->head - m.q->tail, 8, "consumer ran > size ahead");
		cr_assert_leq(pops, 8, "read more than one queue's worth");
	}
	cr_assert_eq(pops, 8);
	cr_assert_eq(m.q->tail, m.q->head);
	qcheck_free(&m);
}

Test(shm_queue, head_behind_tail_bounded)
{
	struct qmem m = qalloc(8, sizeof(uint64_t), 100);
	struct bp_queue_view c;
	uint64_t v, pops = 0;

	bp_queue_view_init(&c, m.q, 8, sizeof(uint64_t), 0);
	m.q->head = 95; /* behind our tail: reads as ~2^64 entries available */
	while (bp_queue_pop(&c, &v) == 0)
		cr_assert_leq(++pops, 8);
	cr_assert_leq(pops, 8);
	qcheck_free(&m);
}

Test(shm_queue, hostile_tail_ahead_of_head_reads_full)
{
	struct qmem m = qalloc(8, sizeof(uint64_t), 0);
	struct bp_queue_view p;
	uint64_t v = 1, ents[8];

	bp_queue_view_init(&p, m.q, 8, sizeof(uint64_t), 1);
	cr_assert_eq(bp_queue_push(&p, &v), 0);
	cr_assert_eq(bp_queue_push(&p, &v), 0);
	memcpy(ents, m.q + 1, sizeof(ents));

	m.q->tail = m.q->head + 3; /* consumer claims it read the future */
	v = 0xdead;
	cr_assert_eq(bp_queue_push(&p, &v), -1);
	m.q->tail = m.q->head + (1ull << 63);
	cr_assert_eq(bp_queue_push(&p, &v), -1);
	m.q->tail = m.q->head + 1;
	cr_assert_eq(bp_queue_push(&p, &v), -1);
	cr_assert(memcmp(ents, m.q + 1, sizeof(ents)) == 0, "entries overwritten");
	cr_assert_eq(m.q->head, 2, "head must not advance");

	m.q->tail = 2; /* consumer behaves again */
	cr_assert_eq(bp_queue_push(&p, &v), 0);
	qcheck_free(&m);
}

Test(shm_queue, hostile_tail_far_behind_reads_full)
{
	struct qmem m = qalloc(8, sizeof(uint64_t), 1000);
	struct bp_queue_view p;
	uint64_t v = 1;

	bp_queue_view_init(&p, m.q, 8, sizeof(uint64_t), 1);
	m.q->tail = 1000 - 9; /* would mean 9 > size entries outstanding */
	cr_assert_eq(bp_queue_push(&p, &v), -1);
	m.q->tail = 0;
	cr_assert_eq(bp_queue_push(&p, &v), -1);
	qcheck_free(&m);
}

Test(shm_queue, shared_size_changed_after_init)
{
	struct qmem m = qalloc(8, sizeof(uint64_t), 0);
	struct bp_queue_view p, c;
	uint64_t v;
	int n = 0;

	views(&m, &p, &c);
	m.q->size = 1u << 30; /* peer scribbles on the read-only header */
	m.q->elem_size = 4096;
	for (v = 0; v < 100; v++)
		if (bp_queue_push(&p, &v) == 0)
			n++;
	cr_assert_eq(n, 8, "capacity must stay the size the view copied");
	for (v = 0; v < 8; v++) {
		uint64_t out;

		cr_assert_eq(bp_queue_pop(&c, &out), 0);
		cr_assert_eq(out, v);
	}
	m.q->head = 1ull << 40;
	n = 0;
	while (bp_queue_pop(&c, &v) == 0)
		cr_assert_leq(++n, 8, "consumer ran > size ahead");
	cr_assert_eq(n, 8, "resync must use the copied size");
	qcheck_free(&m); /* canary proves elem_size was not re-read either */
}

/* ----------------------------------------------------------- threads */

#define STRESS_N 1000000u

struct stress {
	struct bp_queue_view v;
	uint64_t spins;
	uint64_t errors;
};

static void *producer(void *arg)
{
	struct stress *s = arg;
	uint64_t i;

	for (i = 0; i < STRESS_N; i++) {
		struct bp_doorbell db = { .op = BP_DB_TX, .slot = (uint32_t)i,
					  .gen = (uint32_t)(i >> 32) ^ 0x5a5a5a5au };

		while (bp_queue_push(&s->v, &db) < 0)
			s->spins++;
	}
	return NULL;
}

Test(shm_queue, spsc_two_threads, .timeout = 120)
{
	struct qmem m = qalloc(64, sizeof(struct bp_doorbell), 0);
	struct stress prod = { 0 }, cons = { 0 };
	pthread_t t;
	uint64_t i;

	views(&m, &prod.v, &cons.v);
	cr_assert_eq(pthread_create(&t, NULL, producer, &prod), 0);
	for (i = 0; i < STRESS_N; i++) {
		struct bp_doorbell db;

		while (bp_queue_pop(&cons.v, &db) < 0)
			cons.spins++;
		if (db.slot != (uint32_t)i || db.op != BP_DB_TX ||
		    db.gen != ((uint32_t)(i >> 32) ^ 0x5a5a5a5au))
			cons.errors++;
	}
	pthread_join(t, NULL);
	cr_assert_eq(cons.errors, 0, "%llu out-of-order or torn entries",
		     (unsigned long long)cons.errors);
	cr_assert(bp_queue_empty(&cons.v));
	cr_assert_eq(m.q->head, STRESS_N);
	cr_assert_eq(m.q->tail, STRESS_N);
	qcheck_free(&m);
}

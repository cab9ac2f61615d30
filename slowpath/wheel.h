/* SPDX-License-Identifier: MIT */
/*
 * wheel.h - a hashed timing wheel of small integer ids (connection ids).
 *
 * The slowpath visits a connection only when it has something to do: a
 * deadline, a retransmission timeout, a congestion-control update while
 * data is in flight, a keepalive probe.  Scanning every connection every
 * tick made 10,000 connections cost a whole core (bench, echo10000), and
 * an idle one cost as much as a busy one.  Each id is queued at most once,
 * at one time in milliseconds; a visit decides when the next one is due.
 *
 * One slot per millisecond over WHEEL_SLOTS ms; a time further ahead
 * waits in its slot for the right lap.  Not thread-safe: the slowpath
 * thread owns it.
 */
#ifndef SP_WHEEL_H
#define SP_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define WHEEL_SLOTS 1024u   /* power of two */
#define WHEEL_NONE UINT32_MAX

struct wheel_link {
	uint32_t next, prev;  /* ids in the slot's list; prev == WHEEL_NONE for the head */
	uint64_t at;          /* ms; valid while queued */
	bool queued;
};

struct wheel {
	uint32_t head[WHEEL_SLOTS];
	struct wheel_link *link;   /* [n], indexed by id */
	uint32_t n;
	uint64_t done;             /* every time up to and including this has expired */
	uint32_t nqueued;
};

/** wheel_init - an empty wheel for ids below @n; times before @now count as @now. */
int wheel_init(struct wheel *w, uint32_t n, uint64_t now);
void wheel_fini(struct wheel *w);

/**
 * wheel_sched - make sure @id is visited at @at (ms) or earlier: if it is
 * queued for a later time it moves, if for an earlier one it stays.  A
 * time that has expired already means the next expiry.
 */
void wheel_sched(struct wheel *w, uint32_t id, uint64_t at);

/** wheel_cancel - forget @id (its connection is gone). */
void wheel_cancel(struct wheel *w, uint32_t id);

static inline bool wheel_queued(const struct wheel *w, uint32_t id)
{
	return w->link[id].queued;
}

/**
 * wheel_expire - call @fn once for every id due at or before @now, each
 * unqueued first, in time order by millisecond.  @fn may schedule any id
 * again (the earliest it can be due is the next millisecond) or cancel it.
 * Return: how many ids expired.
 */
uint32_t wheel_expire(struct wheel *w, uint64_t now, void (*fn)(void *arg, uint32_t id),
		      void *arg);

#endif

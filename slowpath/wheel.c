// SPDX-License-Identifier: MIT
/* wheel.c - the hashed timing wheel of wheel.h. */
#include <stdlib.h>
#include <string.h>

#include "wheel.h"

int wheel_init(struct wheel *w, uint32_t n, uint64_t now)
{
	memset(w, 0, sizeof(*w));
	w->link = calloc(n ? n : 1, sizeof(*w->link));
	if (!w->link)
		return -1;
	w->n = n;
	w->done = now;
	for (uint32_t s = 0; s < WHEEL_SLOTS; s++)
		w->head[s] = WHEEL_NONE;
	return 0;
}

void wheel_fini(struct wheel *w)
{
	free(w->link);
	w->link = NULL;
}

static void unlink_id(struct wheel *w, uint32_t id)
{
	struct wheel_link *l = &w->link[id];
	if (l->prev == WHEEL_NONE)
		w->head[l->at & (WHEEL_SLOTS - 1)] = l->next;
	else
		w->link[l->prev].next = l->next;
	if (l->next != WHEEL_NONE)
		w->link[l->next].prev = l->prev;
	l->queued = false;
	w->nqueued--;
}

static void link_id(struct wheel *w, uint32_t id, uint64_t at)
{
	struct wheel_link *l = &w->link[id];
	uint32_t *head = &w->head[at & (WHEEL_SLOTS - 1)];
	l->at = at;
	l->prev = WHEEL_NONE;
	l->next = *head;
	if (*head != WHEEL_NONE)
		w->link[*head].prev = id;
	*head = id;
	l->queued = true;
	w->nqueued++;
}

void wheel_sched(struct wheel *w, uint32_t id, uint64_t at)
{
	if (id >= w->n)
		return;
	if (at <= w->done)
		at = w->done + 1;
	struct wheel_link *l = &w->link[id];
	if (l->queued) {
		if (l->at <= at)
			return;
		unlink_id(w, id);
	}
	link_id(w, id, at);
}

void wheel_cancel(struct wheel *w, uint32_t id)
{
	if (id < w->n && w->link[id].queued)
		unlink_id(w, id);
}

uint32_t wheel_expire(struct wheel *w, uint64_t now, void (*fn)(void *arg, uint32_t id),
		      void *arg)
{
	uint32_t fired = 0;
	if (now <= w->done)
		return 0;
	/* after a long stall every slot is looked at once; the laps skipped
	 * are found by the time check below */
	uint64_t from = now - w->done > WHEEL_SLOTS ? now - WHEEL_SLOTS + 1 : w->done + 1;
	for (uint64_t t = from; t <= now; t++) {
		w->done = t; /* fn's schedules go to t + 1 at the earliest */
		uint32_t *head = &w->head[t & (WHEEL_SLOTS - 1)];
		uint32_t id = *head;
		while (id != WHEEL_NONE) {
			uint32_t next = w->link[id].next;
			if (w->link[id].at <= now) {
				unlink_id(w, id);
				fired++;
				fn(arg, id);
				/* fn may have unlinked or moved @next: start the slot over */
				next = *head;
				while (next != WHEEL_NONE && w->link[next].at > now)
					next = w->link[next].next;
			}
			id = next;
		}
	}
	w->done = now;
	return fired;
}

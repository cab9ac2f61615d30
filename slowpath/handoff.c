// SPDX-License-Identifier: MIT
/*
 * handoff.c - connections shared between processes after fork().
 *
 * A kernel socket survives fork(): parent and child both hold it, and it
 * closes when the last of them closes it.  A bypass flow lives in one app's
 * region, so the daemon tracks the same thing explicitly:
 *
 *  - the owner app (sp_conn.app_id/slot) is the process whose region holds
 *    the flow's rings right now;
 *  - sp_conn.holders lists the other processes (pids) that inherited it.
 *    BP_CTRL_FORKED(pid) from a process adds that child to every flow the
 *    process owns or holds; a pidfd tells us when the child exits;
 *  - a holder that uses the flow sends BP_CTRL_ADOPT(key): the fastpath
 *    copies the rings into a fresh slot of the adopter's region and the
 *    flow continues there; the previous owner becomes a holder and its old
 *    slot reads BP_FF_MOVED;
 *  - a close by the owner while holders remain only orphans the flow (no
 *    FIN); the last release closes it as a close() would.
 *
 * The key is a random 64-bit secret in the flow's slot, so only processes
 * that could read the slot (the owner and its fork children) can adopt it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <rte_random.h>

#include "sp_internal.h"

struct sp_pidwatch {
	struct sp_pidwatch *next;
	struct sp *sp;
	int32_t pid;
	ev_io w;
};

void sp_handoff_new_key(struct sp_conn *c, struct bp_flow_shm *fs)
{
	uint64_t k = 0;
	if (getrandom(&k, sizeof(k), GRND_NONBLOCK) != sizeof(k))
		k = rte_rand(); /* entropy pool not ready: still unguessable enough for a fallback */
	c->key = k | 1; /* never 0: 0 means "no key" to the library */
	fs->handoff_key = c->key;
}

static bool holds(const struct sp_conn *c, int32_t pid)
{
	for (unsigned i = 0; i < c->nholders; i++)
		if (c->holders[i] == pid)
			return true;
	return false;
}

static bool add_holder(struct sp_conn *c, int32_t pid)
{
	if (holds(c, pid))
		return true;
	if (c->nholders >= SP_MAX_HOLDERS)
		return false;
	c->holders[c->nholders++] = pid;
	return true;
}

static bool drop_holder(struct sp_conn *c, int32_t pid)
{
	for (unsigned i = 0; i < c->nholders; i++) {
		if (c->holders[i] == pid) {
			c->holders[i] = c->holders[--c->nholders];
			return true;
		}
	}
	return false;
}

bool sp_handoff_add_holder(struct sp_conn *c, int32_t pid)
{
	return add_holder(c, pid);
}

bool sp_handoff_drop_holder(struct sp_conn *c, int32_t pid)
{
	return drop_holder(c, pid);
}

static int32_t app_pid(const struct dp_app *app)
{
	const struct sp_app *sa = app->sp_priv;
	return sa ? sa->pid : 0;
}

/* the last holder is gone from an orphaned flow: close it for real */
static void maybe_close_orphan(struct sp *sp, struct sp_conn *c, uint32_t id)
{
	if ((c->flags & SPC_ORPHAN) && !c->nholders && !(c->flags & SPC_MOVING))
		sp_conn_close_owned(sp, c, id, false);
}

/**
 * sp_handoff_owner_releases - the owner app closes its slot of @c.
 * Return: true if other processes still hold the flow, which then lives
 * on as an orphan in the owner's slot; false if the caller must close it.
 */
bool sp_handoff_owner_releases(struct sp *sp, struct sp_conn *c)
{
	if (c->state != SPS_ESTABLISHED || (!c->nholders && !(c->flags & SPC_MOVING)))
		return false;
	c->flags |= SPC_ORPHAN;
	return true;
}

static struct sp_conn *conn_by_key(struct sp *sp, uint64_t key, uint32_t *id)
{
	if (!key)
		return NULL;
	for (uint32_t i = 0; i < sp->nconns; i++) {
		struct sp_conn *c = &sp->conns[sp->active[i]];
		if (c->key == key && c->state == SPS_ESTABLISHED) {
			*id = sp->active[i];
			return c;
		}
	}
	return NULL;
}

static void on_pid_exit(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sp_pidwatch *pw = w->data;
	struct sp *sp = pw->sp;
	sp_exec_pid_exited(sp, pw->pid); /* gone for real, whatever it exec()ed */
	sp_handoff_pid_gone(sp, pw->pid); /* frees pw */
}

static void unwatch(struct sp *sp, struct sp_pidwatch *pw)
{
	for (struct sp_pidwatch **pp = &sp->pidwatch; *pp; pp = &(*pp)->next) {
		if (*pp == pw) {
			*pp = pw->next;
			break;
		}
	}
	ev_io_stop(sp->loop, &pw->w);
	close(pw->w.fd);
	free(pw);
}

/* learn when @pid exits; false if it already has (or cannot be watched) */
bool sp_handoff_watch_pid(struct sp *sp, int32_t pid)
{
	for (struct sp_pidwatch *pw = sp->pidwatch; pw; pw = pw->next)
		if (pw->pid == pid)
			return true;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return false;
	struct sp_pidwatch *pw = calloc(1, sizeof(*pw));
	if (!pw) {
		close(fd);
		return false;
	}
	pw->sp = sp;
	pw->pid = pid;
	ev_io_init(&pw->w, on_pid_exit, fd, EV_READ);
	pw->w.data = pw;
	ev_io_start(sp->loop, &pw->w);
	pw->next = sp->pidwatch;
	sp->pidwatch = pw;
	return true;
}

/**
 * sp_handoff_forked - @app fork()ed child @pid: the child holds every flow
 * the app owns or holds, until it releases them or exits.
 */
void sp_handoff_forked(struct sp *sp, struct dp_app *app, int32_t pid)
{
	int32_t self = app_pid(app);
	bool added = false;
	if (pid <= 0 || pid == self)
		return;
	for (uint32_t i = 0; i < sp->nconns; i++) {
		struct sp_conn *c = &sp->conns[sp->active[i]];
		if (c->state != SPS_ESTABLISHED || (c->flags & SPC_APP_CLOSED))
			continue;
		bool owner = c->app_id == app->app_id && !(c->flags & SPC_ORPHAN);
		if (!owner && !(self && holds(c, self)))
			continue;
		if (add_holder(c, pid))
			added = true;
		else
			sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++; /* too many holders */
	}
	if (added && !sp_handoff_watch_pid(sp, pid))
		sp_handoff_pid_gone(sp, pid); /* it exited already */
}

/**
 * sp_handoff_adopt - @app presents @key: move that flow into a new slot of
 * @app.  Return: 1 and *slot_out if @app owns it already, 0 if the move is
 * under way (the reply is posted when it completes), or -errno.
 */
int sp_handoff_adopt(struct sp *sp, struct dp_app *app, uint64_t key, uint32_t req_id,
		     uint32_t *slot_out)
{
	uint32_t id;
	struct sp_conn *c = conn_by_key(sp, key, &id);
	struct sp_app *sa = app->sp_priv;
	if (!c || (c->flags & SPC_APP_CLOSED))
		return -ENOTCONN;
	if (c->app_id == app->app_id && !(c->flags & SPC_ORPHAN)) {
		*slot_out = c->slot;
		return 1;
	}
	if (c->flags & SPC_MOVING)
		return -EAGAIN; /* another process is adopting it right now */
	if (sa->pid && !holds(c, sa->pid) && !add_holder(c, sa->pid))
		return -EMFILE;
	struct dp_move *mv = calloc(1, sizeof(*mv));
	if (!mv)
		return -ENOMEM;
	uint32_t slot;
	int rc = sp_slot_alloc(sp, app, &slot);
	if (rc) {
		free(mv);
		return rc;
	}
	struct bp_flow_shm *fs = &app->flows[slot];
	fs->handoff_key = c->key;
	mv->to = app;
	mv->slot = slot;
	mv->gen = fs->gen;
	mv->req_id = req_id;
	mv->from_app = c->app_id;
	mv->from_slot = c->slot;
	c->flags |= SPC_MOVING;
	sa->moves_in++;
	sp_send_fp(sp, DPM_FLOW_MOVE, id, 0, mv);
	return 0;
}

/**
 * sp_handoff_move_done - the fastpath switched flow @id to mv->to (or
 * failed to).  Settle both slots and answer the adopter.
 */
void sp_handoff_move_done(struct sp *sp, struct dp_move *mv, uint32_t id)
{
	struct dp_app *to = mv->to, *from = &sp->dp->apps[mv->from_app];
	struct sp_app *to_sa = to->sp_priv;
	struct sp_conn *c = &sp->conns[id];
	bool to_dying = to_sa->dying;
	to_sa->moves_in--;
	c->flags &= ~SPC_MOVING;
	if (mv->status) {
		sp_slot_free(sp, to, mv->slot);
		sp_app_post(sp, to, BP_EV_REPLY, (int16_t)mv->status, 0, 0, mv->req_id, 0);
		if (to_dying)
			sp_app_flow_done(sp, to); /* counted when it started dying */
		free(mv);
		if (c->state == SPS_ESTABLISHED)
			maybe_close_orphan(sp, c, id);
		return;
	}

	/* the old slot: freed if its owner had let go, else a stale name */
	from->slot_flow[mv->from_slot] = DP_INVALID_FLOW;
	if (c->flags & SPC_ORPHAN) {
		sp_slot_free(sp, from, mv->from_slot);
		sp_app_flow_done(sp, from);
	} else {
		struct bp_flow_shm *ofs = &from->flows[mv->from_slot];
		__atomic_fetch_or(&ofs->flags, BP_FF_MOVED, __ATOMIC_RELEASE);
		__atomic_store_n(&ofs->state, BP_FS_CLOSED, __ATOMIC_RELEASE);
		sp_app_post(sp, from, BP_EV_CLOSED, 0, mv->from_slot, ofs->gen, 0, 0);
		if (app_pid(from) && !add_holder(c, app_pid(from)))
			sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++;
	}

	c->app_id = to->app_id;
	c->slot = mv->slot;
	c->flags &= ~SPC_ORPHAN;
	to->slot_flow[mv->slot] = id;
	drop_holder(c, app_pid(to));
	sp_exec_adopted(c, app_pid(to));
	if (c->flags & SPC_NOTIFIED) {
		/* reset while it moved: the new slot must say so too */
		c->flags &= ~SPC_NOTIFIED;
		struct bp_flow_shm *fs = &to->flows[c->slot];
		__atomic_store_n(&fs->state, BP_FS_CLOSED, __ATOMIC_RELEASE);
		c->flags |= SPC_NOTIFIED;
	}
	sp_app_post(sp, to, BP_EV_REPLY, 0, mv->slot, mv->gen, mv->req_id, 0);
	free(mv);
	if (to_dying && sp_conn_app_gone_one(sp, c, id) == false)
		sp_app_flow_done(sp, to);
}

/**
 * sp_handoff_release - @app's process closed its copy of the flow named by
 * @key without owning it (never adopted, or adopted away from it).
 */
void sp_handoff_release(struct sp *sp, struct dp_app *app, uint64_t key)
{
	uint32_t id;
	struct sp_conn *c = conn_by_key(sp, key, &id);
	int32_t pid = app_pid(app);
	if (!c || !pid)
		return;
	if (drop_holder(c, pid))
		maybe_close_orphan(sp, c, id);
}

/**
 * sp_handoff_pid_gone - process @pid exited (or detached): it holds
 * nothing any more.  Orphans it held last are closed.
 */
void sp_handoff_pid_gone(struct sp *sp, int32_t pid)
{
	/* an image that exec()ed a successor: the process lives on and
	 * still holds what it kept across the exec (and is still watched) */
	bool exec = sp_exec_pending(sp, pid);
	for (struct sp_pidwatch *pw = sp->pidwatch; pw && !exec; pw = pw->next) {
		if (pw->pid == pid) {
			unwatch(sp, pw);
			break;
		}
	}
	if (pid <= 0)
		return;
	/* closing may free conns and reorder sp->active: collect first */
	for (uint32_t i = 0; i < sp->nconns; i++) {
		uint32_t id = sp->active[i];
		struct sp_conn *c = &sp->conns[id];
		if (sp_exec_kept(c, pid))
			continue;
		if (drop_holder(c, pid) && (c->flags & SPC_ORPHAN) && !c->nholders) {
			uint32_t before = sp->nconns;
			maybe_close_orphan(sp, c, id);
			if (sp->nconns < before)
				i--; /* slot i now holds another conn */
		}
	}
}

void sp_handoff_fini(struct sp *sp)
{
	while (sp->pidwatch)
		unwatch(sp, sp->pidwatch);
}

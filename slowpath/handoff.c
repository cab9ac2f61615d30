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
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "sp_internal.h"

struct sp_pidwatch {
	struct sp_pidwatch *next;
	struct sp *sp;
	int32_t pid;
	ev_io w;
};

/* a fresh key for @c, stored in the slot @fs that now names it */
void sp_handoff_new_key(struct sp_conn *c, struct bp_flow_shm *fs)
{
	uint64_t k = 0;
	sp_secret(&k, sizeof(k));
	c->key = k | 1; /* never 0: 0 means "no key" to the library */
	fs->handoff_key = c->key;
}

static int holder_index(const struct sp_conn *c, int32_t pid)
{
	for (unsigned i = 0; i < c->nholders; i++)
		if (c->holders[i] == pid)
			return (int)i;
	return -1;
}

static bool holds(const struct sp_conn *c, int32_t pid)
{
	return holder_index(c, pid) >= 0;
}

/* @pid holds @c and knows it by @key (the newest name it was given) */
static bool add_holder(struct sp_conn *c, int32_t pid, uint64_t key)
{
	int i = holder_index(c, pid);
	if (i >= 0) {
		c->holder_keys[i] = key;
		return true;
	}
	if (c->nholders >= SP_MAX_HOLDERS)
		return false;
	c->holder_keys[c->nholders] = key;
	c->holders[c->nholders++] = pid;
	return true;
}

static bool drop_holder(struct sp_conn *c, int32_t pid)
{
	int i = holder_index(c, pid);
	if (i < 0)
		return false;
	c->nholders--;
	c->holders[i] = c->holders[c->nholders];
	c->holder_keys[i] = c->holder_keys[c->nholders];
	return true;
}

/* exec_hold.c: the process keeps @c across exec() under the key it holds now */
bool sp_handoff_add_holder(struct sp_conn *c, int32_t pid)
{
	return add_holder(c, pid, c->key);
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

/* orphans whose owner runs as @uid */
static uint32_t orphans_of(struct sp *sp, uint32_t uid)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < sp->nconns; i++) {
		const struct sp_conn *c = &sp->conns[sp->active[i]];
		if ((c->flags & SPC_ORPHAN) && sp_app_uid(sp_conn_app(sp, c)) == uid)
			n++;
	}
	return n;
}

/**
 * sp_handoff_owner_releases - the owner app closes its slot of @c, or dies.
 * Return: true if other processes still hold the flow, which then lives
 * on as an orphan in the owner's slot; false if the caller must close it.
 * Orphans are bounded: at most [apps] max_orphans per uid (beyond that the
 * flow closes as if nobody held it) and each lives at most [apps]
 * orphan_timeout_ms unless a holder adopts it (sp_handoff_tick()).
 */
bool sp_handoff_owner_releases(struct sp *sp, struct sp_conn *c)
{
	if (c->state != SPS_ESTABLISHED)
		return false;
	if (c->flags & SPC_ORPHAN)
		return true;
	if (!c->nholders && !(c->flags & SPC_MOVING))
		return false;
	if (!(c->flags & SPC_MOVING) &&
	    orphans_of(sp, sp_app_uid(sp_conn_app(sp, c))) >= sp->dp->cfg.max_orphans) {
		sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++;
		c->nholders = 0; /* nobody can adopt it any more */
		return false;
	}
	c->flags |= SPC_ORPHAN;
	c->orphan_since = sp->now;
	return true;
}

/* the live flow @key names for process @pid: its current key, or the one
 * @pid was given as a holder (a sibling may adopt first and rename it) */
static struct sp_conn *conn_by_key(struct sp *sp, uint64_t key, int32_t pid, uint32_t *id)
{
	if (!key)
		return NULL;
	for (uint32_t i = 0; i < sp->nconns; i++) {
		struct sp_conn *c = &sp->conns[sp->active[i]];
		if (c->state != SPS_ESTABLISHED)
			continue;
		int h = pid ? holder_index(c, pid) : -1;
		if (c->key == key || (h >= 0 && c->holder_keys[h] == key)) {
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
	sp_handoff_pid_gone(sp, pw->pid, SP_ANY_UID); /* frees pw */
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

/* learn when @pid exits through its pidfd @fd (consumed); false if it
 * cannot be watched */
static bool watch_pid(struct sp *sp, int32_t pid, int fd)
{
	for (struct sp_pidwatch *pw = sp->pidwatch; pw; pw = pw->next) {
		if (pw->pid == pid) {
			close(fd);
			return true;
		}
	}
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

/*
 * Open a pidfd for @pid if it is a live child of @parent running as @uid.
 * The pidfd comes first and is checked again after reading /proc, so the
 * answer is about that very process even if its pid is reused meanwhile.
 * Return: the pidfd, -1 if @pid is gone (or unusable), -2 if it is some
 * other process.
 */
/* learn when @pid (alive: it just asked us something) exits */
bool sp_handoff_watch_pid(struct sp *sp, int32_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	return fd >= 0 && watch_pid(sp, pid, fd);
}

static int child_pidfd(int32_t pid, int32_t parent, uint32_t uid)
{
	char path[64], buf[1024];
	if (pid <= 1 || parent <= 0 || pid == parent)
		return -1;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -1;
	bool ok = false;
	long ppid = -1, ruid = -1, euid = -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = 0;
		fclose(f);
		char *rp = strrchr(buf, ')'); /* the name may hold spaces and ')' */
		char st;
		if (rp && sscanf(rp + 1, " %c %ld", &st, &ppid) != 2)
			ppid = -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f) {
		while (fgets(buf, sizeof(buf), f))
			if (sscanf(buf, "Uid: %ld %ld", &ruid, &euid) == 2)
				break;
		fclose(f);
	}
	ok = ppid == parent && euid == (long)uid;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (ok && poll(&pfd, 1, 0) != 0)
		ok = false; /* exited: what /proc said may be about a new process */
	if (!ok) {
		bool gone = poll(&pfd, 1, 0) != 0;
		close(fd);
		return gone ? -1 : -2;
	}
	return fd;
}

/**
 * sp_handoff_forked - @app fork()ed child @pid: the child holds every flow
 * the app owns or holds (@only 0), or just the one the app knows by key
 * @only (a posix_spawn() child that inherited one descriptor), until it
 * releases them or exits.  Believed only for a live child of the reporting
 * process with its uid (else a client could name pid 1, which never
 * exits, and pin its flows forever).
 */
void sp_handoff_forked(struct sp *sp, struct dp_app *app, int32_t pid, uint64_t only)
{
	int32_t self = app_pid(app);
	bool added = false;
	int fd = child_pidfd(pid, self, sp_app_uid(app));
	if (fd < 0) {
		if (fd == -2 || pid <= 1) { /* a live process, but not its child */
			dp_app_bad_entry(app);
			sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++;
		}
		return; /* (a child that is gone already holds nothing) */
	}
	for (uint32_t i = 0; i < sp->nconns; i++) {
		struct sp_conn *c = &sp->conns[sp->active[i]];
		if (c->state != SPS_ESTABLISHED || (c->flags & SPC_APP_CLOSED))
			continue;
		bool owner = c->app_id == app->app_id && !(c->flags & SPC_ORPHAN);
		int h = holder_index(c, self);
		if ((!owner && h < 0) || app_pid(sp_conn_app(sp, c)) == pid)
			continue; /* not ours, or the child adopted it before this report */
		/* the child knows what its parent knew at the fork */
		uint64_t known = owner ? c->key : c->holder_keys[h];
		if (only && known != only)
			continue;
		if (add_holder(c, pid, known))
			added = true;
		else
			sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++; /* too many holders */
	}
	if (!added)
		close(fd);
	else if (!watch_pid(sp, pid, fd))
		sp_handoff_pid_gone(sp, pid, SP_ANY_UID);
}

/*
 * @pid is not registered as a holder of @c: its parent's FORKED report may
 * simply not have been read yet (the child attached and adopted first).
 * Register it now if it is a live child, with the same uid, of the owner
 * or of a holder, and presents a key that process knew.
 */
static bool late_holder(struct sp *sp, struct sp_conn *c, int32_t pid, uint32_t uid, uint64_t key)
{
	struct dp_app *owner = sp_conn_app(sp, c);
	int32_t parents[SP_MAX_HOLDERS + 1];
	uint64_t keys[SP_MAX_HOLDERS + 1];
	unsigned n = 0;
	if (!(c->flags & SPC_ORPHAN) && app_pid(owner) > 0) {
		parents[n] = app_pid(owner);
		keys[n++] = c->key;
	}
	for (unsigned i = 0; i < c->nholders; i++) {
		parents[n] = c->holders[i];
		keys[n++] = c->holder_keys[i];
	}
	for (unsigned i = 0; i < n; i++) {
		if (keys[i] != key)
			continue;
		int fd = child_pidfd(pid, parents[i], uid);
		if (fd < 0)
			continue;
		if (!add_holder(c, pid, key)) {
			close(fd);
			return false;
		}
		if (!watch_pid(sp, pid, fd))
			return false;
		return true;
	}
	return false;
}

/**
 * sp_handoff_adopt - @app presents @key: move that flow into a new slot of
 * @app.  Only a holder (a reported fork child, or a previous owner) running
 * as the owner's uid may, and only with a key it was given: every move
 * renames the flow, so a key seen by anyone before stops working.
 * Return: 1 and *slot_out if @app owns it already, 0 if the move is
 * under way (the reply is posted when it completes), or -errno.
 */
int sp_handoff_adopt(struct sp *sp, struct dp_app *app, uint64_t key, uint32_t req_id,
		     uint32_t *slot_out)
{
	uint32_t id;
	struct sp_app *sa = app->sp_priv;
	struct sp_conn *c = conn_by_key(sp, key, sa->pid, &id);
	if (!c || (c->flags & SPC_APP_CLOSED))
		return -ENOTCONN;
	if (c->app_id == app->app_id && !(c->flags & SPC_ORPHAN)) {
		*slot_out = c->slot;
		return 1;
	}
	/* tenants first: a key that leaked across a tenant boundary is a
	 * permission problem (EACCES), not just a wrong process (EPERM) */
	if (sp_tenant_same(sp, app, c->tenant, SPT_DENY_ADOPT))
		return -EACCES;
	if (sp_app_uid(sp_conn_app(sp, c)) != sa->uid || !sa->pid)
		return -EPERM;
	if (!holds(c, sa->pid) && !late_holder(sp, c, sa->pid, sa->uid, key))
		return -EPERM;
	if (c->flags & SPC_MOVING)
		return -EAGAIN; /* another process is adopting it right now */
	/* an RPC session's messages (in assembly and delivered) live in its
	 * owner's heap and on the owner's message queues: it cannot move */
	if (c->flags & SPC_RPC)
		return -EOPNOTSUPP;
	struct dp_move *mv = calloc(1, sizeof(*mv));
	if (!mv)
		return -ENOMEM;
	uint32_t slot;
	int rc = sp_slot_alloc(sp, app, &slot);
	if (rc) {
		free(mv);
		return rc;
	}
	mv->to = app;
	mv->slot = slot;
	mv->gen = sp_slot(app, slot)->gen;
	sp_slot_set_use(app, slot, SP_SLOT_MOVING);
	mv->req_id = req_id;
	mv->from_app = c->app_id;
	mv->from_slot = c->slot;
	c->flags |= SPC_MOVING;
	sa->moves_in++;
	sp_fp_flow_move(sp, id, mv);
	return 0;
}

/**
 * sp_handoff_move_done - the fastpath switched flow @id to mv->to (or
 * failed to).  Settle both slots, rename the flow, answer the adopter.
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

	/* a new name, known only to the new owner (and to the old one, below) */
	sp_handoff_new_key(c, &to->flows[mv->slot]);
	/* the old slot: freed if its owner had let go, else a stale name */
	from->slot_flow[mv->from_slot] = DP_INVALID_FLOW;
	if (c->flags & SPC_ORPHAN) {
		sp_slot_free(sp, from, mv->from_slot);
		sp_app_flow_done(sp, from);
	} else {
		struct bp_flow_shm *ofs = &from->flows[mv->from_slot];
		/* the old owner holds it still and may take it back (shim) */
		__atomic_store_n(&ofs->handoff_key, c->key, __ATOMIC_RELAXED);
		__atomic_fetch_or(&ofs->flags, BP_FF_MOVED, __ATOMIC_RELEASE);
		__atomic_store_n(&ofs->state, BP_FS_CLOSED, __ATOMIC_RELEASE);
		sp_app_post(sp, from, BP_EV_CLOSED, 0, mv->from_slot, sp_slot(from, mv->from_slot)->gen,
			     0, 0);
		if (app_pid(from) && !add_holder(c, app_pid(from), c->key))
			sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++;
	}

	sp_slot_set_use(to, mv->slot, SP_SLOT_CONN);
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
	int32_t pid = app_pid(app);
	struct sp_conn *c = pid ? conn_by_key(sp, key, pid, &id) : NULL;
	if (!c)
		return;
	if (drop_holder(c, pid))
		maybe_close_orphan(sp, c, id);
}

/**
 * sp_handoff_pid_gone - process @pid exited, or an app of uid @uid that
 * attached as @pid detached (SP_ANY_UID: its pidfd says it exited): it
 * holds nothing any more.  Orphans it held last are closed.  A detach
 * drops only holds on connections of its own uid: its pid may have been
 * reused since it attached, by another user's process that holds
 * connections of its own.
 */
void sp_handoff_pid_gone(struct sp *sp, int32_t pid, uint32_t uid)
{
	/* an image that exec()ed a successor: the process lives on and
	 * still holds what it kept across the exec (and is still watched) */
	bool exec = sp_exec_pending(sp, pid);
	for (struct sp_pidwatch *pw = sp->pidwatch; pw && !exec && uid == SP_ANY_UID;
	     pw = pw->next) {
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
		if (sp_exec_kept(c, pid) ||
		    (uid != SP_ANY_UID && sp_app_uid(sp_conn_app(sp, c)) != uid))
			continue;
		if (drop_holder(c, pid) && (c->flags & SPC_ORPHAN) && !c->nholders) {
			uint32_t before = sp->nconns;
			maybe_close_orphan(sp, c, id);
			if (sp->nconns < before)
				i--; /* slot i now holds another conn */
		}
	}
}

/**
 * sp_handoff_tick - reset orphans no holder adopted within [apps]
 * orphan_timeout_ms (a child that holds a connection and never uses it
 * must not keep it, and its peer, waiting for ever).  Looks ten times a
 * second.
 */
void sp_handoff_tick(struct sp *sp)
{
	if (sp->now < sp->orphan_scan)
		return;
	sp->orphan_scan = sp->now + sp_ms_to_tsc(sp, 100);
	uint64_t life = sp_ms_to_tsc(sp, sp->dp->cfg.orphan_timeout_ms);
	for (uint32_t i = 0; i < sp->nconns; i++) {
		uint32_t id = sp->active[i];
		struct sp_conn *c = &sp->conns[id];
		if (!(c->flags & SPC_ORPHAN) || (c->flags & SPC_MOVING) ||
		    sp->now - c->orphan_since < life)
			continue;
		uint32_t before = sp->nconns;
		c->nholders = 0;
		sp_conn_close_owned(sp, c, id, true);
		if (sp->nconns < before)
			i--; /* slot i now holds another conn */
	}
}

void sp_handoff_fini(struct sp *sp)
{
	while (sp->pidwatch)
		unwatch(sp, sp->pidwatch);
}

// SPDX-License-Identifier: MIT
/*
 * exec_hold.c - connections kept across exec().
 *
 * A kernel socket without FD_CLOEXEC survives exec(): the process's next
 * program image uses it (inetd and socat hand a connection to the program
 * they exec, sshd re-execs itself, CGI).  A bypass flow lives in an app
 * region, and the image that attached it loses its control connection at
 * exec (it is close-on-exec), which closes the flows it owns and drops
 * every hold of its pid (handoff.c).  So, just before exec, the shim names
 * each flow the next image keeps: BP_CTRL_EXEC_HOLD(key, 1).  The process,
 * known by its pid (exec keeps it, and the uid), becomes a holder of the
 * flow if it was not one yet, and the mark outlives the old image: a flow
 * it owned becomes an orphan held by the pid (sp_conn_app_gone_one()), one
 * it held stays held (sp_handoff_pid_gone()).  The new image adopts it with
 * the key on first use like a fork child (the adoption clears the mark).
 * If exec fails, the shim takes the marks back: BP_CTRL_EXEC_HOLD(key, 0).
 * A new image that never adopts (a program without the shim) holds the flow
 * until the process exits: the pidfd watch then ends every hold.
 */
#include "sp_internal.h"

static struct sp_conn *conn_of_key(struct sp *sp, uint64_t key)
{
	for (uint32_t i = 0; i < sp->nconns; i++) {
		struct sp_conn *c = &sp->conns[sp->active[i]];
		if (c->key == key && c->state == SPS_ESTABLISHED && !(c->flags & SPC_APP_CLOSED))
			return c;
	}
	return NULL;
}

static bool is_holder(const struct sp_conn *c, int32_t pid)
{
	for (unsigned i = 0; i < c->nholders; i++)
		if (c->holders[i] == pid)
			return true;
	return false;
}

/**
 * sp_exec_hold - @app's process is about to exec() and keeps the flow named
 * by @key in its next image (@keep), or its exec failed (!@keep).  Only the
 * flow's owner or a holder may ask, and only for its own pid.
 */
void sp_exec_hold(struct sp *sp, struct dp_app *app, uint64_t key, bool keep)
{
	const struct sp_app *sa = app->sp_priv;
	int32_t pid = sa ? sa->pid : 0;
	struct sp_conn *c = key ? conn_of_key(sp, key) : NULL;

	if (!c || pid <= 0)
		return; /* gone meanwhile: the next image finds nothing to adopt */
	bool owner = c->app_id == app->app_id && !(c->flags & SPC_ORPHAN);
	bool holder = is_holder(c, pid);
	if (!keep) {
		if (c->exec_pid == pid && c->exec_added)
			sp_handoff_drop_holder(c, pid);
		if (c->exec_pid == pid)
			c->exec_pid = 0;
		c->exec_added = false;
		return;
	}
	if ((!owner && !holder) || c->exec_pid == pid) {
		if (!owner && !holder)
			dp_app_bad_entry(app); /* not this process's flow */
		return;
	}
	if (!holder && !sp_handoff_add_holder(c, pid)) {
		sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++; /* too many holders */
		return;
	}
	c->exec_added = !holder;
	c->exec_pid = pid;
	sp_handoff_watch_pid(sp, pid); /* it is alive: it just asked */
}

/* does @pid keep @c across an exec (so its old image's exit drops nothing)? */
bool sp_exec_kept(const struct sp_conn *c, int32_t pid)
{
	return pid > 0 && c->exec_pid == pid;
}

/* does @pid keep any flow across an exec? */
bool sp_exec_pending(struct sp *sp, int32_t pid)
{
	for (uint32_t i = 0; pid > 0 && i < sp->nconns; i++)
		if (sp->conns[sp->active[i]].exec_pid == pid)
			return true;
	return false;
}

/* @pid exited for good: its marks go, its holds end with it (handoff.c) */
void sp_exec_pid_exited(struct sp *sp, int32_t pid)
{
	for (uint32_t i = 0; pid > 0 && i < sp->nconns; i++) {
		struct sp_conn *c = &sp->conns[sp->active[i]];
		if (c->exec_pid == pid) {
			c->exec_pid = 0;
			c->exec_added = false;
		}
	}
}

/* @c moved into process @pid: if that is the image it was kept for, done */
void sp_exec_adopted(struct sp_conn *c, int32_t pid)
{
	if (pid > 0 && c->exec_pid == pid) {
		c->exec_pid = 0;
		c->exec_added = false;
	}
}

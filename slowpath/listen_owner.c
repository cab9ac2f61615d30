// SPDX-License-Identifier: MIT
/*
 * listen_owner.c - who may join a shared listener (BP_LISTEN_SHARED).
 *
 * With the control socket open to other users, "several listeners on one
 * port" must not let another user's process take a share of this one's
 * connections.  Linux ties SO_REUSEPORT groups to the uid; pre-fork
 * servers share one kernel socket through fork().  We require both:
 *
 *  - the same uid (SO_PEERCRED at attach) as the listeners already there;
 *  - possession of the same kernel object.  A shared LISTEN travels on the
 *    control socket (CtlMsg.listen_shared) with one descriptor attached:
 *    the shim passes the program's own kernel listening socket (nginx's
 *    workers inherited it from their master), libbypass a socket it made
 *    for the port before the program forked.  The first listener's object
 *    is kept open here, so its inode cannot be reused; a joiner's must have
 *    the same st_dev/st_ino.  Only fork() (or SCM_RIGHTS from a holder, a
 *    deliberate grant) hands such a descriptor to another process.
 *
 * A SHARED listen through the shared-memory queue (no descriptor) may open
 * a port but nobody can join it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "sp_internal.h"

/**
 * sp_listen_check_join - may @app open a listener on @port?
 * @shared: it asks for BP_LISTEN_SHARED.
 * @proof_fd: the kernel object it presents, -1 if none.
 * Return: 0, -EACCES if the listeners are another tenant's (counted), or
 * -EADDRINUSE (as Linux answers a bind to a port another user's
 * SO_REUSEPORT group holds).
 */
int sp_listen_check_join(struct sp *sp, struct dp_app *app, uint16_t port, bool shared,
			 int proof_fd)
{
	struct sp_listener *head = sp_listener_of_port(sp, port);
	struct stat st;
	if (!head)
		return 0;
	/* a tenant boundary is a permission, whatever the share flags say */
	if (shared && head->tenant != app->tenant) {
		fprintf(stderr, "fastpathd: app %u (uid %u, tenant %s) may not listen on port %u: "
			"tenant %s listens there\n", app->app_id, sp_app_uid(app),
			sp_tenant_get(sp, app->tenant)->cfg.name, port,
			sp_tenant_get(sp, head->tenant)->cfg.name);
		return sp_tenant_same(sp, app, head->tenant, SPT_DENY_JOIN);
	}
	if (!shared || !head->shared)
		return -EADDRINUSE; /* every listener on a port must agree to share */
	const char *why = NULL;
	if (head->uid != sp_app_uid(app))
		why = "it runs as another user";
	else if (head->proof_fd < 0)
		why = "the port was opened without a share descriptor";
	else if (proof_fd < 0 || fstat(proof_fd, &st))
		why = "it presented no share descriptor";
	else if ((uint64_t)st.st_dev != head->proof_dev || (uint64_t)st.st_ino != head->proof_ino)
		why = "its descriptor is not the listeners' socket (not inherited through fork)";
	if (!why)
		return 0;
	fprintf(stderr, "fastpathd: app %u (uid %u) may not join the shared listener on port %u "
		"of uid %u: %s; use another port, or share the listening socket through fork()\n",
		app->app_id, sp_app_uid(app), port, head->uid, why);
	return -EADDRINUSE;
}

/* remember who listens on @l and the object its sharers must hold */
void sp_listen_set_proof(struct sp *sp, struct dp_app *app, struct sp_listener *l, int proof_fd)
{
	struct sp_listener *head = sp_listener_of_port(sp, l->port);
	struct stat st;
	l->uid = sp_app_uid(app);
	l->proof_fd = -1;
	l->proof_dev = l->proof_ino = 0;
	if (!l->shared || proof_fd < 0)
		return;
	if (head && head != l && head->proof_fd >= 0) {
		/* a joiner: same object as the group's (checked), no copy needed */
		l->proof_dev = head->proof_dev;
		l->proof_ino = head->proof_ino;
		l->proof_fd = fcntl(head->proof_fd, F_DUPFD_CLOEXEC, 3);
		return;
	}
	int fd = fcntl(proof_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || fstat(fd, &st)) {
		if (fd >= 0)
			close(fd);
		return;
	}
	l->proof_fd = fd;
	l->proof_dev = (uint64_t)st.st_dev;
	l->proof_ino = (uint64_t)st.st_ino;
}

void sp_listen_drop_proof(struct sp_listener *l)
{
	if (l->proof_fd >= 3)
		close(l->proof_fd);
	l->proof_fd = -1;
}

/**
 * sp_listen_ctl - a LISTEN that came on the control socket with its share
 * descriptor (CtlMsg.listen_shared).  @req holds a struct bp_ctrl_req; the
 * answer is the usual BP_EV_REPLY on the app's event queue.
 */
void sp_listen_ctl(struct sp *sp, struct dp_app *app, const uint8_t *req, size_t len,
		   const int *fds, int nfds)
{
	struct bp_ctrl_req r;
	const struct cc_ops *cc = NULL;
	uint32_t slot = 0;
	int rc = 0;
	if (len != sizeof(r)) {
		dp_app_bad_entry(app);
		sp->dp->sp_counters[DPC_APP_BAD_ENTRY]++;
		return;
	}
	memcpy(&r, req, sizeof(r));
	if (r.op != BP_CTRL_LISTEN) {
		rc = -EINVAL;
	} else if (r.cc[0]) {
		char name[sizeof(r.cc) + 1];
		memcpy(name, r.cc, sizeof(r.cc));
		name[sizeof(r.cc)] = 0; /* app-written: never trust a terminator */
		if (!(cc = cc_find(name)))
			rc = -EINVAL;
	}
	if (!rc)
		rc = sp_conn_listen_fd(sp, app, r.ip, r.port, r.backlog, r.flags, cc,
				       nfds > 0 ? fds[0] : -1, &slot);
	sp_app_post(sp, app, BP_EV_REPLY, (int16_t)rc, rc ? 0 : slot, rc ? 0 : sp_slot(app, slot)->gen,
		    r.req_id, 0);
}

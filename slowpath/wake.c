// SPDX-License-Identifier: MIT
/*
 * wake.c - the descriptors an app and the daemon wake each other through:
 * the app's wake pipe (daemon -> app), its control doorbell (app ->
 * slowpath) and the fastpath cores' kick sockets (app -> core k).
 *
 * No open file description the daemon reads or writes is ever shared with
 * an app.  File status flags such as O_NONBLOCK belong to the description:
 * when these were eventfds passed over the control socket, an app could
 * clear O_NONBLOCK on its copy and fill the counter, and the daemon's next
 * wakeup write blocked the slowpath (or a core) for good.
 *
 * The wake pipe is the app's alone: each side has a description of its
 * own (a pipe can be reopened through /proc/self/fd), the daemon keeps
 * its read end open, so its writes never meet EPIPE.
 *
 * What an app writes to wake the daemon goes over unix datagram sockets,
 * not pipes, for two reasons.  Any holder of a pipe's write end can reopen
 * it through /proc/self/fd for reading: an app could read a core's kick
 * pipe, which all apps share, and take other tenants' wakeups (the core
 * then slept on through their doorbells).  A socket cannot be reopened,
 * and an app's socket only sends.  And a write to a pipe whose reader is
 * gone (the daemon died) raises SIGPIPE in the app, killing a program
 * that never asked for signals; a datagram sent with MSG_NOSIGNAL fails
 * with ECONNREFUSED instead.  The doorbell is a socketpair (no EOF on it
 * when the app's end closes); each core has one receiving socket, bound in
 * a directory only the daemon may enter (<socket>.kick/<core>), and each
 * app one socket of its own per core, connected by the daemon.  A full
 * receive queue (EAGAIN for the app) only means a wakeup is pending.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "sp_internal.h"

/**
 * sp_pipe_reopen - a new open file description of the pipe @fd is an end
 * of, with @flags (O_RDONLY, O_WRONLY or O_RDWR; O_NONBLOCK and O_CLOEXEC
 * are added).  Return: the descriptor, or -errno.
 */
static int sp_pipe_reopen(int fd, int flags)
{
	char path[40];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int r = open(path, flags | O_NONBLOCK | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

/**
 * sp_wake_open - make @app's wake pipe and control doorbell.  The daemon
 * keeps the wake pipe's read end as well (wake_keep_fd), so its writes
 * never meet a pipe without a reader (EPIPE).
 * @app_wake: set to the app's end of the wake pipe (read, and write for
 *            its own threads' wakeups), to be sent and then closed.
 * @app_doorbell: set to the app's end of the doorbell socketpair, likewise.
 * Return: 0, or -errno with @err set.
 */
int sp_wake_open(struct dp_app *app, int *app_wake, int *app_doorbell, char *err,
		 size_t errlen)
{
	int w[2], d[2];
	*app_wake = *app_doorbell = -1;
	if (pipe2(w, O_NONBLOCK | O_CLOEXEC))
		goto fail;
	app->wake_keep_fd = w[0];
	app->wake_fd = w[1];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, d))
		goto fail;
	app->sp_doorbell_fd = d[0];
	*app_doorbell = d[1];
	int r = sp_pipe_reopen(w[0], O_RDWR);
	if (r < 0) {
		errno = -r;
		goto fail;
	}
	*app_wake = r;
	return 0;
fail:
	r = -errno;
	snprintf(err, errlen, "cannot make the app's wakeup pipes: %s%s", strerror(errno),
		 errno == EMFILE || errno == ENFILE ? " (raise the daemon's open file limit)" :
		 errno == ENOENT ? " (is /proc mounted?)" : "");
	if (*app_wake >= 0)
		close(*app_wake);
	if (*app_doorbell >= 0)
		close(*app_doorbell);
	*app_wake = *app_doorbell = -1;
	return r;
}

/** sp_wake_close - close whatever sp_wake_open() made for @app. */
void sp_wake_close(struct dp_app *app)
{
	int fds[] = { app->wake_fd, app->wake_keep_fd, app->sp_doorbell_fd };
	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	app->wake_fd = app->wake_keep_fd = app->sp_doorbell_fd = -1;
}

/**
 * sp_kick_addr - the address of fastpath core @k's kick socket: in the
 * directory <[daemon] socket>.kick, which only the daemon's user may
 * enter, so no one but the daemon can connect to it.
 * Return: 0, or -ENAMETOOLONG.
 */
int sp_kick_addr(const struct sp *sp, uint32_t k, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s.kick/%u",
			 sp->dp->cfg.socket_path, k);
	return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -ENAMETOOLONG : 0;
}

/* the kick sockets' directory, in @sa->sun_path (sp_kick_addr() was checked) */
static const char *kick_dir(const struct sp *sp, struct sockaddr_un *sa)
{
	sp_kick_addr(sp, 0, sa);
	*strrchr(sa->sun_path, '/') = 0;
	return sa->sun_path;
}

/* remove every core's kick socket (sp_kick_addr() was checked) */
static void unlink_kick_sockets(const struct sp *sp)
{
	struct sockaddr_un sa;

	for (uint32_t k = 0; k < DP_MAX_CORES; k++) {
		sp_kick_addr(sp, k, &sa);
		unlink(sa.sun_path);
	}
}

/**
 * sp_kick_dir_make - make (or take back, after a crash) the kick sockets'
 * directory: a real directory of ours, mode 0700, its old sockets gone.
 * Return: 0, or -1 with @err set.
 */
int sp_kick_dir_make(struct sp *sp, char *err, size_t errlen)
{
	struct sockaddr_un sa, dsa;
	struct stat st;

	if (sp_kick_addr(sp, DP_MAX_CORES, &sa)) {
		snprintf(err, errlen, "[daemon] socket: path '%s' is too long for its kick "
			 "sockets (%s.kick/N must fit %zu bytes); use a shorter one",
			 sp->dp->cfg.socket_path, sp->dp->cfg.socket_path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	const char *dir = kick_dir(sp, &dsa);
	if (mkdir(dir, 0700) && errno != EEXIST)
		goto fail;
	if (lstat(dir, &st))
		goto fail;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is not a directory of fastpathd's user (uid %u); "
			 "remove it and start again", dir, (unsigned)geteuid());
		return -1;
	}
	if (chmod(dir, 0700))
		goto fail;
	unlink_kick_sockets(sp); /* a crashed daemon's */
	return 0;
fail:
	snprintf(err, errlen, "cannot make the kick socket directory %s: %s", dir,
		 strerror(errno));
	return -1;
}

/** sp_kick_dir_remove - remove the kick sockets and their directory. */
void sp_kick_dir_remove(struct sp *sp)
{
	struct sockaddr_un sa;

	if (sp_kick_addr(sp, DP_MAX_CORES, &sa))
		return; /* never made */
	unlink_kick_sockets(sp);
	rmdir(kick_dir(sp, &sa));
}

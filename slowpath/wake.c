// SPDX-License-Identifier: MIT
/*
 * wake.c - the descriptors an app and the daemon wake each other through:
 * the app's wake pipe (daemon -> app), its control doorbell (app ->
 * slowpath) and the fastpath cores' app kick pipes (app -> core k).
 *
 * They are pipes, and no open file description the daemon reads or
 * writes is ever shared with an app.  File status flags such as
 * O_NONBLOCK belong to the description: when these were eventfds passed
 * over the control socket, an app could clear O_NONBLOCK on its copy and
 * fill the counter, and the daemon's next wakeup write blocked the
 * slowpath (or a core) for good.  Here each side gets a description of
 * its own of the same pipe (a pipe can be reopened through
 * /proc/self/fd), so what an app does to its descriptions stays its own;
 * a full pipe only means a wakeup is pending already.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sp_internal.h"

/**
 * sp_pipe_reopen - a new open file description of the pipe @fd is an end
 * of, with @flags (O_RDONLY, O_WRONLY or O_RDWR; O_NONBLOCK and O_CLOEXEC
 * are added).  Return: the descriptor, or -errno.
 */
int sp_pipe_reopen(int fd, int flags)
{
	char path[40];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int r = open(path, flags | O_NONBLOCK | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

/**
 * sp_wake_open - make @app's wake pipe and control doorbell.  The daemon
 * keeps the far end of each as well (wake_keep_fd, doorbell_keep_fd), so
 * its writes never meet a pipe without a reader (EPIPE) and its doorbell
 * never reads end-of-file while the app is still being detached.
 * @app_wake: set to the app's end of the wake pipe (read, and write for
 *            its own threads' wakeups), to be sent and then closed.
 * @app_doorbell: set to the app's end of the doorbell, likewise.
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
	if (pipe2(d, O_NONBLOCK | O_CLOEXEC))
		goto fail;
	app->sp_doorbell_fd = d[0];
	app->doorbell_keep_fd = d[1];
	int r = sp_pipe_reopen(w[0], O_RDWR);
	if (r < 0) {
		errno = -r;
		goto fail;
	}
	*app_wake = r;
	r = sp_pipe_reopen(d[1], O_WRONLY);
	if (r < 0) {
		errno = -r;
		goto fail;
	}
	*app_doorbell = r;
	return 0;
fail:
	r = -errno;
	snprintf(err, errlen, "cannot make the app's wakeup pipes: %s%s", strerror(errno),
		 errno == EMFILE || errno == ENFILE ? " (raise the daemon's open file limit)" :
		 errno == ENOENT ? " (is /proc mounted?)" : "");
	if (*app_wake >= 0)
		close(*app_wake);
	*app_wake = -1;
	return r;
}

/** sp_wake_close - close whatever sp_wake_open() made for @app. */
void sp_wake_close(struct dp_app *app)
{
	int fds[] = { app->wake_fd, app->wake_keep_fd, app->sp_doorbell_fd,
		      app->doorbell_keep_fd };
	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	app->wake_fd = app->wake_keep_fd = app->sp_doorbell_fd = app->doorbell_keep_fd = -1;
}

/**
 * sp_wake_drain - empty the pipe whose read end @fd is (the daemon's own
 * description: non-blocking whatever an app does).
 */
void sp_wake_drain(int fd)
{
	char buf[256];
	while (read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf))
		;
}

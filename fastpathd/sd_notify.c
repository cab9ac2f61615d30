// SPDX-License-Identifier: MIT
/*
 * sd_notify.c - tell systemd where the daemon stands (fastpathd.service is
 * Type=notify): READY=1 once the control socket takes apps, so units
 * ordered after it start when they can attach, and STOPPING=1 when told to
 * stop.  The protocol is one datagram to $NOTIFY_SOCKET (a path, or an
 * abstract name after '@'); without the variable nothing is sent, and a
 * send that fails is ignored: the daemon never waits on systemd.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sd_notify.h"

static struct sockaddr_un notify_addr;
static socklen_t notify_len;

/**
 * fp_sd_notify_init - read $NOTIFY_SOCKET once, at start: fp_sd_notify()
 * may then run in a signal handler (socket, sendto and close are
 * async-signal-safe; getenv is not).
 */
void fp_sd_notify_init(void)
{
	const char *p = getenv("NOTIFY_SOCKET");
	size_t n = p ? strlen(p) : 0;

	if (!n || (p[0] != '/' && p[0] != '@') || n >= sizeof(notify_addr.sun_path))
		return;
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, p, n);
	if (p[0] == '@')
		notify_addr.sun_path[0] = 0; /* abstract */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

/** fp_sd_notify - send @state ("READY=1", ...) to systemd, if it listens. */
void fp_sd_notify(const char *state)
{
	if (!notify_len)
		return;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	ssize_t r = sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT,
			   (const struct sockaddr *)&notify_addr, notify_len);
	(void)r;
	close(fd);
}

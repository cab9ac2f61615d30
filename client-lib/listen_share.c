// SPDX-License-Identifier: MIT
/*
 * listen_share.c - shared listeners (BP_LISTEN_SHARED) that only the
 * program's own processes can join.
 *
 * The daemon lets a process join a port's listeners only if it runs as
 * the same uid and presents a descriptor of the same kernel object as the
 * first listener (slowpath/listen_owner.c).  The shim presents the
 * program's kernel listening socket; a native libbypass program presents a
 * share socket the library keeps per port.  Created by the first shared
 * listen on a port (or by bp_share_fd() in a pre-fork parent that does not
 * listen itself), it survives fork(), so the parent's workers carry it,
 * exactly as they would carry a kernel listening socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/socket.h>

#include "bp_internal.h"
#include "ctl_wire.h"

#define SHARE_PORTS 64

static struct { uint16_t port; int fd; } shares[SHARE_PORTS];
static unsigned nshares;
static pthread_mutex_t shares_lock = PTHREAD_MUTEX_INITIALIZER;

BP_API int bp_share_fd(uint16_t port)
{
	int fd = -ENOSPC;

	pthread_mutex_lock(&shares_lock);
	for (unsigned i = 0; i < nshares; i++) {
		if (shares[i].port == port) {
			fd = shares[i].fd;
			goto out;
		}
	}
	if (nshares < SHARE_PORTS) {
		/* any kernel object would do: an unbound socket costs nothing */
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			fd = -errno;
			goto out;
		}
		shares[nshares].port = port;
		shares[nshares++].fd = fd;
	}
out:
	pthread_mutex_unlock(&shares_lock);
	return fd;
}

BP_API int bp_listen_share(struct bp_ctx *ctx, uint32_t ip, uint16_t port, int backlog,
			   int share_fd)
{
	if (!ctx)
		return -EINVAL;
	if (share_fd < 0) {
		share_fd = bp_share_fd(port);
		if (share_fd < 0)
			return share_fd;
	}
	return bpi_listen(ctx, ip, port, backlog, BP_LISTEN_SHARED, share_fd);
}

BP_API int bp_listen_reserve(struct bp_ctx *ctx, uint32_t ip, uint16_t port, int share_fd)
{
	if (!ctx || (share_fd < 0 && !port))
		return -EINVAL; /* the share socket of port 0 would not be port P's */
	if (share_fd < 0) {
		share_fd = bp_share_fd(port);
		if (share_fd < 0)
			return share_fd;
	}
	return bpi_listen(ctx, ip, port, 1, BP_LISTEN_SHARED | BP_LISTEN_RESERVE, share_fd);
}

int bpi_send_shared_listen(struct bp_ctx *ctx, const struct bp_ctrl_req *req, int share_fd)
{
	Bypass__ListenShared ls = BYPASS__LISTEN_SHARED__INIT;
	Bypass__CtlMsg m = BYPASS__CTL_MSG__INIT;

	ls.req.data = (uint8_t *)req;
	ls.req.len = sizeof(*req);
	m.msg_case = BYPASS__CTL_MSG__MSG_LISTEN_SHARED;
	m.listen_shared = &ls;
	return ctl_send(ctx->sock_fd, &m, &share_fd, 1);
}

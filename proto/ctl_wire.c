// SPDX-License-Identifier: MIT
/*
 * ctl_wire.c - length-prefixed CtlMsg frames over a Unix stream socket,
 * with descriptor passing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bypass/bypass.h"
#include "ctl_wire.h"

/* How long a peer may stall in the middle of a frame on a non-blocking
 * socket before we give up: a half-sent frame must not hang the daemon. */
#define CTL_MIDFRAME_WAIT_MS 1000

#define CTL_CMSG_SPACE CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do {
		r = poll(&p, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

static int is_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

int ctl_send(int fd, const Bypass__CtlMsg *m, const int *fds, int nfds)
{
	union {
		char buf[CTL_CMSG_SPACE];
		struct cmsghdr align;
	} cm;
	size_t len, total, off = 0;
	uint8_t *buf;
	int ret = 0;

	if (nfds < 0 || nfds > CTL_MAX_FDS || (nfds && !fds))
		return -EINVAL;
	/* a shallow copy: only the envelope changes, the caller's is const */
	Bypass__CtlMsg stamped = *m;

	stamped.has_proto_major = stamped.has_proto_minor = 1;
	stamped.proto_major = CTL_PROTO_MAJOR;
	stamped.proto_minor = CTL_PROTO_MINOR;
	m = &stamped;
	len = bypass__ctl_msg__get_packed_size(m);
	if (len > CTL_MAX_FRAME)
		return -EMSGSIZE;
	total = 4 + len;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	buf[0] = len & 0xff;
	buf[1] = (len >> 8) & 0xff;
	buf[2] = (len >> 16) & 0xff;
	buf[3] = (len >> 24) & 0xff;
	bypass__ctl_msg__pack(m, buf + 4);

	while (off < total) {
		struct iovec iov = { .iov_base = buf + off, .iov_len = total - off };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t r;

		/* The descriptors ride on the first byte of the frame so the
		 * receiver collects them while reading this frame, never a
		 * later one. */
		if (off == 0 && nfds > 0) {
			struct cmsghdr *c;

			memset(&cm, 0, sizeof(cm));
			mh.msg_control = cm.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		r = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ret = wait_fd(fd, POLLOUT, CTL_MIDFRAME_WAIT_MS);
				if (ret)
					break;
				continue;
			}
			ret = -errno;
			break;
		}
		off += (size_t)r;
	}
	free(buf);
	return ret;
}

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* Pull every descriptor out of @mh's control data into @got. */
static void collect_fds(struct msghdr *mh, int *got, int *ngot)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*ngot < CTL_MAX_FDS)
				got[(*ngot)++] = f;
			else
				close(f);
		}
	}
}

/*
 * Read exactly @len bytes, gathering descriptors.  @started says whether
 * part of the frame was consumed already: before that, EAGAIN on a
 * non-blocking socket is reported as is (nothing lost, retry later).
 */
static int read_exact(int fd, uint8_t *p, size_t len, int *got, int *ngot, int started)
{
	size_t off = 0;

	while (off < len) {
		union {
			char buf[CTL_CMSG_SPACE];
			struct cmsghdr align;
		} cm;
		struct iovec iov = { .iov_base = p + off, .iov_len = len - off };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cm.buf, .msg_controllen = sizeof(cm.buf),
		};
		ssize_t r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

		if (r < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			if (e != EAGAIN && e != EWOULDBLOCK)
				return -e;
			if (!started && off == 0)
				return -EAGAIN;
			/* A blocking socket only says EAGAIN when SO_RCVTIMEO
			 * expired: the peer stalled mid-frame. */
			if (!is_nonblocking(fd))
				return -ETIMEDOUT;
			e = wait_fd(fd, POLLIN, CTL_MIDFRAME_WAIT_MS);
			if (e)
				return e;
			continue;
		}
		collect_fds(&mh, got, ngot);
		if (r == 0)
			return -ECONNRESET;
		off += (size_t)r;
	}
	return 0;
}

int ctl_recv(int fd, Bypass__CtlMsg **out, int *fds, int *nfds, int maxfds)
{
	int got[CTL_MAX_FDS];
	int ngot = 0, ret, keep;
	uint8_t hdr[4];
	uint8_t *body = NULL;
	uint32_t len;
	Bypass__CtlMsg *m;

	*out = NULL;
	if (nfds)
		*nfds = 0;
	if (maxfds < 0 || (maxfds > 0 && !fds))
		return -EINVAL;

	ret = read_exact(fd, hdr, 4, got, &ngot, 0);
	if (ret)
		goto fail;
	len = hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
	if (len > CTL_MAX_FRAME) {
		ret = -EMSGSIZE;
		goto fail;
	}
	body = malloc(len ? len : 1);
	if (!body) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = read_exact(fd, body, len, got, &ngot, 1);
	if (ret)
		goto fail;
	m = bypass__ctl_msg__unpack(NULL, len, body);
	free(body);
	body = NULL;
	if (!m) {
		ret = -EBADMSG;
		goto fail;
	}

	keep = ngot < maxfds ? ngot : maxfds;
	if (keep > 0)
		memcpy(fds, got, sizeof(int) * keep);
	close_fds(got + keep, ngot - keep);
	if (nfds)
		*nfds = keep;
	*out = m;
	return 0;

fail:
	free(body);
	close_fds(got, ngot);
	return ret;
}

int ctl_frame_decode(const uint8_t *buf, size_t len, Bypass__CtlMsg **out, size_t *consumed)
{
	*out = NULL;
	*consumed = 4;
	if (len < 4)
		return -EAGAIN;
	uint32_t flen = buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
			(uint32_t)buf[3] << 24;
	if (flen > CTL_MAX_FRAME)
		return -EMSGSIZE;
	*consumed = 4 + (size_t)flen;
	if (len < 4 + (size_t)flen)
		return -EAGAIN;
	*out = bypass__ctl_msg__unpack(NULL, flen, buf + 4);
	return *out ? 0 : -EBADMSG;
}

const char *ctl_socket_path(const char *override)
{
	const char *env;

	if (override && *override)
		return override;
	env = getenv(BP_SOCKET_ENV);
	if (env && *env)
		return env;
	return BP_DEFAULT_SOCKET;
}

int ctl_client_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		if (err && errlen)
			snprintf(err, errlen, "socket path too long (max %zu bytes): %s",
				 sizeof(sa.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		if (err && errlen)
			snprintf(err, errlen, "socket(AF_UNIX): %s", strerror(e));
		return -e;
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		if (e == EINTR)
			continue;
		close(fd);
		if (!err || !errlen)
			return -e;
		/* libbypass apps see these too: -S/--socket is bypassctl's */
		if (e == ENOENT || e == ECONNREFUSED)
			snprintf(err, errlen,
				 "cannot reach fastpathd at %s: %s. Start the daemon first, "
				 "on its port and address: `sudo fastpathd --port "
				 "net_af_packet0,iface=eth1 --ip 198.18.0.1/24` (or `sudo "
				 "fastpathd --config FILE`); if it runs with another socket "
				 "(its --socket), give bypassctl -S/--socket PATH or set "
				 BP_SOCKET_ENV "=PATH",
				 path, strerror(e));
		else if (e == EACCES || e == EPERM)
			snprintf(err, errlen,
				 "cannot reach fastpathd at %s: %s. Run as root or as a user "
				 "the socket admits: fastpathd's [daemon] socket_group (its "
				 "members may connect) and socket_mode (e.g. 0660) set who "
				 "may; `ls -l %s` shows them",
				 path, strerror(e), path);
		else
			snprintf(err, errlen, "cannot reach fastpathd at %s: %s",
				 path, strerror(e));
		return -e;
	}
	return fd;
}

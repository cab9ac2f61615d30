// SPDX-License-Identifier: MIT
/*
 * shim_io.c - data calls on bypass sockets, with kernel semantics: blocking
 * sockets block (on libbypass's eventfd, never spinning) until at least one
 * byte moves; a blocking send moves everything; EPIPE raises SIGPIPE unless
 * MSG_NOSIGNAL.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sendfile.h>

#include "shim.h"

static ssize_t sock_send(struct shim_sock *s, const void *buf, size_t len, int flags)
{
	struct bp_ctx *c = shim_ctx();
	bool nonblock = s->nonblock || (flags & MSG_DONTWAIT);
	size_t done = 0;
	uint64_t deadline = UINT64_MAX;
	int why = EAGAIN; /* nothing went: the ring is full (or SO_SNDTIMEO passed) */

	if (s->h < 0) { /* inherited over fork(), and gone before we used it */
		errno = ECONNRESET;
		return -1;
	}
	if (s->listener) {
		errno = ENOTCONN;
		return -1;
	}
	while (done < len) {
		ssize_t n = bp_send(c, s->h, (const char *)buf + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == -EAGAIN || n == 0) {
			if (nonblock)
				break;
			if (deadline == UINT64_MAX)
				deadline = shim_deadline(s->sndtimeo_ms);
			if (shim_wait_until(s, deadline)) {
				if (errno == EINTR && !done && shim_eintr_restarts(deadline))
					continue; /* SA_RESTART: the kernel restarts send() */
				/* a signal, or the timeout; never an errno
				 * left over from an earlier call (a stale
				 * EINTR made nginx retry for ever) */
				why = errno; /* EAGAIN, EINTR, or EBADF: closed */
				break;
			}
			continue;
		}
		if (n == -ESTALE && !shim_moved(s))
			continue;
		if (done)
			break; /* report the bytes that went; the error comes next call */
		n = shim_conn_error(s, (int)n, true);
		if (n == -EPIPE && !(flags & MSG_NOSIGNAL))
			raise(SIGPIPE);
		return shim_errno((int)n);
	}
	if (!done && len) {
		errno = why;
		return -1;
	}
	return (ssize_t)done;
}

static ssize_t sock_recv(struct shim_sock *s, void *buf, size_t len, int flags)
{
	struct bp_ctx *c = shim_ctx();
	bool nonblock = s->nonblock || (flags & MSG_DONTWAIT);
	size_t done = 0;
	uint64_t deadline = UINT64_MAX;

	if (s->h < 0) { /* inherited over fork(), and gone before we used it */
		errno = ECONNRESET;
		return -1;
	}
	if (s->listener) {
		errno = ENOTCONN;
		return -1;
	}
	for (;;) {
		ssize_t n = (flags & MSG_PEEK) ? bp_peek(c, s->h, buf, len)
					       : bp_recv(c, s->h, (char *)buf + done, len - done);
		if (n > 0 && (flags & MSG_PEEK))
			return n;
		if (n > 0) {
			done += (size_t)n;
			if (!(flags & MSG_WAITALL) || done == len)
				return (ssize_t)done;
			continue;
		}
		if (n == -ESTALE && !shim_moved(s))
			continue;
		/* a MSG_WAITALL that got some bytes returns them at the end of
		 * the stream, an error, a signal or the timeout, and at once
		 * on a non-blocking socket; otherwise it waits for the rest */
		if (n == 0 || (done && (n != -EAGAIN || nonblock)))
			return (ssize_t)done;
		if (n != -EAGAIN) {
			int e = shim_conn_error(s, (int)n, false);

			return e ? shim_errno(e) : 0;
		}
		/* shut for reading (perhaps by another thread while this one
		 * waited): what was buffered went first, now the end */
		if (s->shut_rd)
			return (ssize_t)done;
		if (nonblock) {
			errno = EAGAIN;
			return -1;
		}
		if (deadline == UINT64_MAX)
			deadline = shim_deadline(s->rcvtimeo_ms);
		if (shim_wait_until(s, deadline)) {
			if (errno == EINTR && !done && shim_eintr_restarts(deadline))
				continue; /* SA_RESTART: the kernel restarts recv() */
			return done ? (ssize_t)done : -1;
		}
	}
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	return s ? sock_send(s, buf, len, flags) : real.send(fd, buf, len, flags);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	return s ? sock_recv(s, buf, len, flags) : real.recv(fd, buf, len, flags);
}

ssize_t read(int fd, void *buf, size_t len)
{
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	if (!real.read)
		shim_init();
	return s ? sock_recv(s, buf, len, 0) : real.read(fd, buf, len);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	if (!real.write)
		shim_init();
	return s ? sock_send(s, buf, len, 0) : real.write(fd, buf, len);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *a,
	       socklen_t al)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	return s ? sock_send(s, buf, len, flags) : real.sendto(fd, buf, len, flags, a, al);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *a, socklen_t *al)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	if (!s)
		return real.recvfrom(fd, buf, len, flags, a, al);
	if (a && al)
		shim_peername(s, a, al); /* the held socket's: fd may name another by now */
	return sock_recv(s, buf, len, flags);
}

/*
 * The bytes @iov's @cnt parts hold, in *@total.  Return: 0, or -1 with
 * errno EINVAL where Linux refuses the vector: @cnt below 0 or above
 * IOV_MAX, or a sum beyond SSIZE_MAX.
 */
static int iov_total(const struct iovec *iov, int cnt, size_t *total)
{
	*total = 0;
	if (cnt < 0 || cnt > IOV_MAX)
		goto inval;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - *total)
			goto inval;
		*total += iov[i].iov_len;
	}
	return 0;
inval:
	errno = EINVAL;
	return -1;
}

/* gather/scatter through a bounce buffer: one library call per operation,
 * so a vectored write is as atomic as a plain one */
static ssize_t sock_sendv(struct shim_sock *s, const struct iovec *iov, int cnt, int flags)
{
	size_t total;
	if (iov_total(iov, cnt, &total))
		return -1;
	if (cnt == 1)
		return sock_send(s, iov[0].iov_base, iov[0].iov_len, flags);
	if (!total)
		return 0;
	char stackbuf[16384];
	char *buf = total <= sizeof(stackbuf) ? stackbuf : malloc(total);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	size_t off = 0;
	for (int i = 0; i < cnt; i++) {
		memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	ssize_t r = sock_send(s, buf, total, flags);
	if (buf != stackbuf)
		free(buf);
	return r;
}

static ssize_t sock_recvv(struct shim_sock *s, const struct iovec *iov, int cnt, int flags)
{
	size_t total;
	if (iov_total(iov, cnt, &total))
		return -1;
	if (cnt == 1)
		return sock_recv(s, iov[0].iov_base, iov[0].iov_len, flags);
	char stackbuf[16384];
	char *buf = total <= sizeof(stackbuf) ? stackbuf : malloc(total);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	ssize_t r = sock_recv(s, buf, total, flags);
	size_t off = 0;
	for (int i = 0; r > 0 && i < cnt && off < (size_t)r; i++) {
		size_t n = iov[i].iov_len < (size_t)r - off ? iov[i].iov_len : (size_t)r - off;
		memcpy(iov[i].iov_base, buf + off, n);
		off += n;
	}
	if (buf != stackbuf)
		free(buf);
	return r;
}

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	return s ? sock_recvv(s, iov, cnt, 0) : real.readv(fd, iov, cnt);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	return s ? sock_sendv(s, iov, cnt, 0) : real.writev(fd, iov, cnt);
}

ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	if (!s)
		return real.sendmsg(fd, m, flags);
	if (m->msg_iovlen > IOV_MAX) {
		errno = EMSGSIZE; /* as Linux */
		return -1;
	}
	return sock_sendv(s, m->msg_iov, (int)m->msg_iovlen, flags);
}

ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(fd);
	if (!s)
		return real.recvmsg(fd, m, flags);
	if (m->msg_iovlen > IOV_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	m->msg_controllen = 0;
	m->msg_flags = 0;
	if (m->msg_name && m->msg_namelen)
		shim_peername(s, m->msg_name, &m->msg_namelen);
	return sock_recvv(s, m->msg_iov, (int)m->msg_iovlen, flags);
}

ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	shim_init();
	struct shim_sock *s SHIM_HELD = shim_hold(out_fd);
	if (!s)
		return real.sendfile(out_fd, in_fd, offset, count);
	char buf[65536];
	size_t want = count < sizeof(buf) ? count : sizeof(buf);
	ssize_t n = offset ? pread(in_fd, buf, want, *offset) : real.read(in_fd, buf, want);
	if (n <= 0)
		return n;
	ssize_t w = sock_send(s, buf, (size_t)n, 0);
	if (offset) {
		if (w > 0)
			*offset += w;
	} else if (w < n) {
		/* give back what did not go, as Linux leaves the file
		 * position alone for bytes it did not send */
		int e = errno;
		lseek(in_fd, (w > 0 ? w : 0) - n, SEEK_CUR);
		errno = e;
	}
	return w;
}

/* the 64-bit-offset and _FORTIFY_SOURCE entry points of the same calls */
ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count)
{
	return sendfile(out_fd, in_fd, offset, count);
}

ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		abort(); /* what glibc's checker does on overflow */
	return read(fd, buf, len);
}

ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (len > buflen)
		abort();
	return recv(fd, buf, len, flags);
}

ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *a, socklen_t *al)
{
	if (len > buflen)
		abort();
	return recvfrom(fd, buf, len, flags, a, al);
}

// SPDX-License-Identifier: MIT
/*
 * transport_kernel.c - RPC over Linux TCP sockets: non-blocking, one
 * edge-triggered epoll set per endpoint.  Handles are the fds.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc_internal.h"

struct kt {
	int ep;
	int wake;	/* eventfd of the worker threads, -1 */
};

static int k_init(void **t, const struct rpc_endpoint_opts *o, char *err, size_t errlen)
{
	struct kt *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->ep = epoll_create1(EPOLL_CLOEXEC);
	if (k->ep < 0) {
		int e = errno;

		if (err)
			snprintf(err, errlen, "epoll_create1: %s", strerror(e));
		free(k);
		return -e;
	}
	k->wake = -1;
	*t = k;
	return 0;
}

static void k_fini(void *t)
{
	struct kt *k = t;

	close(k->ep);
	free(k);
}

static int watch(struct kt *k, int fd, uint32_t events)
{
	struct epoll_event e = { .events = events | EPOLLET, .data.fd = fd };

	if (epoll_ctl(k->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static void tune(int fd)
{
	int one = 1;

	/* requests are small and latency-bound: never wait for Nagle */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int k_listen(void *t, uint32_t ip, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = ip };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1, r;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return watch(t, fd, EPOLLIN);
}

static int k_local_port(void *t, int h)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (getsockname(h, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	return ntohs(sa.sin_port);
}

static int k_accept(void *t, int lh)
{
	int fd = accept4(lh, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	tune(fd);
	return watch(t, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
}

static int k_connect(void *t, uint32_t ip, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = ip };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	tune(fd);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		r = -errno;
		close(fd);
		return r;
	}
	return watch(t, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
}

static int k_connect_status(void *t, int h)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(int), slen = sizeof(sa);
	int err = 0;

	if (getsockopt(h, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err)
		return -err;
	if (getpeername(h, (struct sockaddr *)&sa, &slen) < 0)
		return errno == ENOTCONN ? -EINPROGRESS : -errno;
	return 0;
}

static ssize_t k_sendv(void *t, int h, const struct iovec *iov, int n, unsigned prio)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };
	ssize_t r = sendmsg(h, &m, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return r;
}

static ssize_t k_recv(void *t, int h, void *buf, size_t len)
{
	ssize_t r = recv(h, buf, len, MSG_DONTWAIT);

	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return r;
}

static void k_close(void *t, int h)
{
	close(h);	/* leaves the epoll set with its last reference */
}

static int k_poll(void *t, struct rpc_tev *ev, int max, int timeout_ms)
{
	struct kt *k = t;
	struct epoll_event e[256];
	int n;

	if (max > 256)
		max = 256;
	n = epoll_wait(k->ep, e, max, timeout_ms);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		unsigned b = 0;

		if (e[i].events & (EPOLLIN | EPOLLRDHUP))
			b |= RPC_TEV_IN;
		if (e[i].events & EPOLLOUT)
			b |= RPC_TEV_OUT;
		if (e[i].events & (EPOLLERR | EPOLLHUP))
			b |= RPC_TEV_ERR | RPC_TEV_IN;
		ev[i].h = e[i].data.fd == k->wake ? RPC_TEV_WAKE_H : e[i].data.fd;
		ev[i].bits = b;
	}
	return n;
}

static int k_set_wake(void *t, int fd)
{
	struct kt *k = t;
	struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(k->ep, EPOLL_CTL_ADD, fd, &e) < 0)
		return -errno;
	k->wake = fd;
	return 0;
}

const struct rpc_transport_ops rpc_kernel_ops = {
	.name = "kernel",
	.init = k_init,
	.fini = k_fini,
	.listen = k_listen,
	.local_port = k_local_port,
	.accept = k_accept,
	.connect = k_connect,
	.connect_status = k_connect_status,
	.sendv = k_sendv,
	.recv = k_recv,
	.close = k_close,
	.poll = k_poll,
	.set_wake = k_set_wake,
};

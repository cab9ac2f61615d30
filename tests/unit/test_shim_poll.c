// SPDX-License-Identifier: MIT
/*
 * test_shim_poll.c - poll and epoll readiness through a half and a full
 * close, the shim against the kernel on the same probe: each probe runs
 * once on a kernel pair (loopback stays on the kernel) and once on a
 * bypass pair, and the two must agree bit for bit.
 */
#include "shim_fixture.inc.c"

#include <netinet/tcp.h>

/* a connected pair on the kernel's loopback: *srv accepted, *cli connected */
static void kernel_pair(uint16_t port, int *srv, int *cli)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = addr_of("127.0.0.1", port);
	cr_assert_eq(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
	cr_assert_eq(listen(l, 8), 0);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	*srv = accept(l, NULL, NULL);
	cr_assert_geq(*srv, 0);
	cr_assert_null(shim_get(*srv), "a loopback connection went through bypass");
	*cli = c;
	close(l);
}

#define ASK (POLLIN | POLLOUT | POLLRDHUP)

/* what poll() says of @fd once @want is among it (2 s at most) */
static short revents_once(int fd, short want)
{
	struct pollfd p = { .fd = fd, .events = ASK };
	for (int i = 0; i < 200; i++) {
		p.revents = 0;
		cr_assert_geq(poll(&p, 1, 10), 0);
		if ((p.revents & want) == want)
			break;
		usleep(10 * 1000); /* POLLOUT alone ends the poll at once */
	}
	return p.revents;
}

struct close_seen {
	short shut_wr;          /* the client, right after its shutdown(SHUT_WR) */
	short peer_eof;         /* the server, once it read the end of the stream */
	short peer_both;        /* the server, after its own shutdown(SHUT_WR) too */
	short both;             /* the client, once the server's FIN came */
};

/* @s and @c connected; the client half-closes, then the server */
static void close_probe(int s, int c, struct close_seen *seen)
{
	char b;
	cr_assert_eq(shutdown(c, SHUT_WR), 0);
	seen->shut_wr = revents_once(c, POLLOUT);
	cr_assert_eq(read(s, &b, 1), 0, "the server did not read the end of the stream");
	seen->peer_eof = revents_once(s, POLLIN | POLLRDHUP);
	cr_assert_eq(shutdown(s, SHUT_WR), 0);
	seen->peer_both = revents_once(s, POLLHUP);
	seen->both = revents_once(c, POLLHUP);
	close(s);
	close(c);
}

Test(shim, poll_through_a_half_and_a_full_close_is_as_on_linux)
{
	struct close_seen lx, bp;
	int s, c;
	kernel_pair(7040, &s, &c);
	close_probe(s, c, &lx);
	pair(7041, &s, &c);
	cr_assert(shim_get(s) && shim_get(c));
	close_probe(s, c, &bp);
	cr_assert_eq(lx.shut_wr, POLLOUT, "the kernel itself: 0x%x", lx.shut_wr);
	cr_assert_eq(bp.shut_wr, lx.shut_wr, "after shutdown(SHUT_WR): 0x%x, Linux 0x%x",
		     bp.shut_wr, lx.shut_wr);
	cr_assert_eq(bp.peer_eof, lx.peer_eof, "after the end of the stream: 0x%x, Linux 0x%x",
		     bp.peer_eof, lx.peer_eof);
	cr_assert_eq(bp.peer_both, lx.peer_both, "shut both ways: 0x%x, Linux 0x%x",
		     bp.peer_both, lx.peer_both);
	cr_assert_eq(bp.both, lx.both, "FIN after our shutdown: 0x%x, Linux 0x%x", bp.both, lx.both);
}

/* the next edge-triggered report on @ep that has all of @want, 0 if none
 * comes within 2 s */
static uint32_t next_edge(int ep, uint32_t want)
{
	struct epoll_event ev;
	for (int i = 0; i < 20; i++) {
		int n = epoll_wait(ep, &ev, 1, 100);
		cr_assert_geq(n, 0);
		if (n && (ev.events & want) == want)
			return ev.events;
	}
	return 0;
}

/* edge-triggered: a shutdown(SHUT_WR) is news (EPOLLOUT), and so is the
 * peer's FIN after it (EPOLLHUP) */
static void edge_probe(int s, int c, uint32_t *shut, uint32_t *hup)
{
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev), 0);
	cr_assert_eq(next_edge(ep, EPOLLOUT), EPOLLOUT, "a new connection is writable");
	cr_assert_eq(epoll_wait(ep, &ev, 1, 0), 0, "no news yet");
	cr_assert_eq(shutdown(c, SHUT_WR), 0);
	*shut = next_edge(ep, EPOLLOUT);
	char b;
	cr_assert_eq(read(s, &b, 1), 0);
	cr_assert_eq(shutdown(s, SHUT_WR), 0);
	*hup = next_edge(ep, EPOLLHUP);
	close(ep);
	close(s);
	close(c);
}

Test(shim, epollet_reports_each_side_of_a_close_as_linux)
{
	uint32_t lx_shut, lx_hup, bp_shut, bp_hup;
	int s, c;
	kernel_pair(7042, &s, &c);
	edge_probe(s, c, &lx_shut, &lx_hup);
	pair(7043, &s, &c);
	edge_probe(s, c, &bp_shut, &bp_hup);
	cr_assert_eq(lx_shut, EPOLLOUT, "the kernel itself: 0x%x", lx_shut);
	cr_assert_eq(bp_shut, lx_shut, "after shutdown(SHUT_WR): 0x%x, Linux 0x%x", bp_shut, lx_shut);
	cr_assert_eq(bp_hup, lx_hup, "the peer's FIN: 0x%x, Linux 0x%x", bp_hup, lx_hup);
}

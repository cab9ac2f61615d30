// SPDX-License-Identifier: MIT
/*
 * shim_fixture.inc.c - what every test binary of the socket shim shares:
 * a fake fastpathd in loopback mode (fake_daemon.inc.c), which connects
 * flows of this process to each other, and helpers that open connected
 * pairs through the real shim and libbypass code.  Such a binary links the
 * shim itself, so its own socket(), read(), epoll_wait() ... are the shim's.
 */
#include <criterion/criterion.h>

#include "fake_daemon.inc.c"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <limits.h>
#include <stdlib.h>

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "shim.h"

static struct fk_daemon *fk;
#define BYPASS_IP "198.18.0.1"

static void setup(void)
{
	struct fk_cfg c;
	fk_default_cfg(&c);
	c.loopback = true;
	c.rx_size = c.tx_size = 65536;
	inet_pton(AF_INET, BYPASS_IP, &c.local_ip);
	fk = fk_start(&c);
	setenv("BYPASS_SOCKET", fk->path, 1);
	signal(SIGPIPE, SIG_IGN);
}

static void teardown(void)
{
	fk_stop(fk);
}

TestSuite(shim, .init = setup, .fini = teardown, .timeout = 20);

static struct sockaddr_in addr_of(const char *ip, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

/* a listener starts taking connections when its process first polls or
 * accepts on it (see shim_sock.c): do that, as every server does */
static void start_listening(int l)
{
	struct pollfd pf = { .fd = l, .events = POLLIN };
	cr_assert_eq(poll(&pf, 1, 0), 0);
	cr_assert(shim_get(l), "polling a bypass listener must convert it");
}

/* connect to listener @l at @a: *srv accepted, *cli connected */
static void connect_accept(int l, const struct sockaddr_in *a, int *srv, int *cli)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(c, (const struct sockaddr *)a, sizeof(*a)), 0, "connect: %s",
		     strerror(errno));
	int s = accept(l, NULL, NULL);
	cr_assert_geq(s, 0, "accept: %s", strerror(errno));
	*srv = s;
	*cli = c;
}

/* @msg written on @from arrives whole on @to */
static __attribute__((unused)) void pass_through(int from, int to, const char *msg)
{
	size_t n = strlen(msg);
	char buf[64] = { 0 };
	cr_assert_eq(write(from, msg, n), (ssize_t)n);
	cr_assert_eq(read(to, buf, sizeof(buf) - 1), (ssize_t)n);
	cr_assert_str_eq(buf, msg);
}

/* a connected pair through the shim: *srv accepted, *cli connected */
static void pair(uint16_t port, int *srv, int *cli)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = addr_of(BYPASS_IP, port);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 8), 0);
	start_listening(l);
	connect_accept(l, &a, srv, cli);
	cr_assert_eq(close(l), 0);
}


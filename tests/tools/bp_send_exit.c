// SPDX-License-Identifier: MIT
/*
 * bp_send_exit - a libbypass sender that exits the moment its last byte is
 * in the ring: connect, send all of stdin, then end the way MODE says,
 * without waiting for anything to be acknowledged.  test_close_no_loss.sh
 * checks that every byte still reaches the peer before the FIN.
 *
 *   bp_send_exit IP PORT MODE [SOCKET]
 *   MODE: exit      _exit() right after the last send: no close, no detach
 *         shutdown  bp_shutdown(), then _exit()
 *         close     bp_close(), then _exit() (no detach, no linger)
 *         detach    bp_close() and bp_detach(), then exit (the library's
 *                   bounded linger)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bypass/bypass.h"

static int fail(const char *what, int err)
{
	fprintf(stderr, "bp_send_exit: %s: %s\n", what, strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	struct in_addr ip;

	if (argc < 4 || inet_pton(AF_INET, argv[1], &ip) != 1) {
		fprintf(stderr, "usage: bp_send_exit IP PORT exit|shutdown|close|detach [SOCKET]\n");
		return 2;
	}
	const char *mode = argv[3];
	if (strcmp(mode, "exit") && strcmp(mode, "shutdown") && strcmp(mode, "close") &&
	    strcmp(mode, "detach")) {
		fprintf(stderr, "bp_send_exit: unknown mode '%s' (exit, shutdown, close, detach)\n",
			mode);
		return 2;
	}
	char err[512];
	struct bp_attach_opts ao = { .socket_path = argc > 4 ? argv[4] : NULL,
				     .app_name = "bp_send_exit" };
	struct bp_ctx *ctx = bp_attach(&ao, err, sizeof(err));
	if (!ctx) {
		fprintf(stderr, "bp_send_exit: %s\n", err);
		return 1;
	}
	int h = bp_connect(ctx, ip.s_addr, (uint16_t)atoi(argv[2]));
	if (h < 0)
		return fail("connect", -h);
	int st;
	for (int i = 0; (st = bp_connect_status(ctx, h)) == -EINPROGRESS && i < 100; i++)
		bp_wait(ctx, 100);
	if (st)
		return fail("connect", st == -EINPROGRESS ? ETIMEDOUT : -st);

	static char buf[1 << 16];
	unsigned long long total = 0;
	for (;;) {
		ssize_t n = read(0, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("read stdin", errno);
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = bp_send(ctx, h, buf + off, (size_t)(n - off));
			if (w == -EAGAIN) {
				bp_wait(ctx, 100);
				continue;
			}
			if (w < 0)
				return fail("send", (int)-w);
			off += w;
			total += (unsigned long long)w;
		}
	}
	fprintf(stderr, "bp_send_exit: %llu bytes in the ring, ending with '%s'\n", total, mode);
	if (!strcmp(mode, "shutdown"))
		bp_shutdown(ctx, h);
	else if (!strcmp(mode, "close") || !strcmp(mode, "detach"))
		bp_close(ctx, h);
	if (!strcmp(mode, "detach")) {
		bp_detach(ctx);
		return 0;
	}
	_exit(0); /* no atexit handlers, no detach: the process is simply gone */
}

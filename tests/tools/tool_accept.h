/* SPDX-License-Identifier: MIT */
/*
 * tool_accept.h - the start the misbehaving-app tools share: attach as
 * @name, listen on @port, say "listening" (bp_wait_listening in
 * deploy/lib.sh waits for it) and take one connection from the Linux peer
 * within 20 s.  Errors go to stderr under @prog.
 */
#ifndef TOOL_ACCEPT_H
#define TOOL_ACCEPT_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bp_internal.h"

/* Return: the attached context with *@handle the connection, or NULL */
static inline struct bp_ctx *tool_accept_one(const char *prog, const char *name, int port,
					     int *handle)
{
	char err[512];
	struct bp_attach_opts o = { .app_name = name };
	struct bp_ctx *ctx = bp_attach(&o, err, sizeof(err));
	if (!ctx) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return NULL;
	}
	int l = bp_listen(ctx, 0, (uint16_t)port, 4);
	if (l < 0) {
		fprintf(stderr, "%s: listen: %s\n", prog, strerror(-l));
		return NULL;
	}
	printf("%s: listening on port %d\n", prog, port);
	fflush(stdout);
	int h = -EAGAIN;
	for (int i = 0; i < 2000 && h < 0; i++) {
		bp_wait(ctx, 10);
		h = bp_accept(ctx, l);
	}
	if (h < 0) {
		fprintf(stderr, "%s: no connection arrived\n", prog);
		return NULL;
	}
	*handle = h;
	return ctx;
}

#endif /* TOOL_ACCEPT_H */

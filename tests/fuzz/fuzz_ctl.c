// SPDX-License-Identifier: MIT
/*
 * fuzz_ctl - the control socket's framing and protobuf decoding.
 *
 * Input: byte 0 picks how a non-blocking reader receives the stream (the
 * chunk sizes) and whether the blocking reader runs too (top 3 bits 0); the
 * rest is what a client wrote to the socket.  The stream
 * is decoded with ctl_frame_decode() as a non-blocking reader does (a
 * buffer filled chunk by chunk, whole frames taken off its front), and
 * again with the blocking ctl_recv() over a real socketpair.  Every
 * decoded message is walked as the daemon and the clients walk it (the
 * attach request's fields, a status reply's counters) and re-encoded.
 *
 * Checks: both readers see the same messages and stop with the same
 * verdict; -EAGAIN always asks for more than is buffered; a re-encoded
 * message decodes and re-encodes to the same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bypass/shm_abi.h"
#include "ctl_wire.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)
#define MAX_MSGS 64

/* what a reader saw: the packed bytes of each message, then a verdict */
struct seen {
	size_t n;
	uint8_t *msg[MAX_MSGS];
	size_t len[MAX_MSGS];
	int verdict; /* 0 = clean end, -EAGAIN = partial frame at the end, ... */
};

static volatile size_t sink; /* keeps the walk from being optimised away */

/* log a client string the way the daemon must: control bytes escaped */
static void walk_string(const char *s)
{
	char out[256];
	size_t o = 0;
	if (!s)
		return;
	for (const char *p = s; *p && o + 5 < sizeof(out); p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = 0;
	sink += strlen(out);
}

static void walk(const Bypass__CtlMsg *m)
{
	switch (m->msg_case) {
	case BYPASS__CTL_MSG__MSG_ATTACH_REQ: {
		const Bypass__AttachRequest *r = m->attach_req;
		CHECK(r);
		sink += r->abi_version == BP_ABI_VERSION;
		walk_string(r->app_name);
		walk_string(r->tenant);
		break;
	}
	case BYPASS__CTL_MSG__MSG_ATTACH_REPLY: {
		const Bypass__AttachReply *r = m->attach_reply;
		CHECK(r);
		sink += (size_t)r->status + (r->has_app_id ? r->app_id : 0) +
			(r->has_region_size ? r->region_size : 0);
		walk_string(r->error);
		break;
	}
	case BYPASS__CTL_MSG__MSG_STATUS_REQ:
		CHECK(m->status_req);
		break;
	case BYPASS__CTL_MSG__MSG_STATUS_REPLY: {
		const Bypass__StatusReply *r = m->status_reply;
		CHECK(r && r->version);
		walk_string(r->version);
		walk_string(r->port);
		walk_string(r->local_ip);
		for (size_t i = 0; i < r->n_counters; i++) {
			CHECK(r->counters[i] && r->counters[i]->name);
			walk_string(r->counters[i]->name);
			sink += r->counters[i]->value;
		}
		break;
	}
	default:
		/* any other decoded case is one of the schema's oneof members */
		CHECK(m->msg_case == BYPASS__CTL_MSG__MSG__NOT_SET ||
		      protobuf_c_message_descriptor_get_field(&bypass__ctl_msg__descriptor,
							      (unsigned)m->msg_case));
		break;
	}
}

/* walk, re-encode, check the encoding is stable, remember it */
static void take(struct seen *s, Bypass__CtlMsg *m)
{
	walk(m);
	size_t n = bypass__ctl_msg__get_packed_size(m);
	uint8_t *b = malloc(n ? n : 1);
	CHECK(b);
	CHECK(bypass__ctl_msg__pack(m, b) == n);
	/* protobuf-c keeps unknown fields as read, even a field number 0 it
	 * then refuses to decode: no daemon re-encodes a client's message, so
	 * only a re-encoding that decodes must be stable */
	Bypass__CtlMsg *m2 = bypass__ctl_msg__unpack(NULL, n, b);
	if (!m2)
		goto keep;
	size_t n2 = bypass__ctl_msg__get_packed_size(m2);
	uint8_t *b2 = malloc(n2 ? n2 : 1);
	CHECK(b2);
	CHECK(bypass__ctl_msg__pack(m2, b2) == n2);
	CHECK(n2 == n && !memcmp(b, b2, n));
	free(b2);
	bypass__ctl_msg__free_unpacked(m2, NULL);
keep:
	bypass__ctl_msg__free_unpacked(m, NULL);
	CHECK(s->n < MAX_MSGS);
	s->msg[s->n] = b;
	s->len[s->n++] = n;
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->msg[i]);
}

/* the non-blocking reader: bytes arrive in chunks, frames leave whole */
static void read_chunked(const uint8_t *data, size_t size, uint8_t pattern, struct seen *s)
{
	uint8_t *buf = malloc(size ? size : 1);
	size_t have = 0, off = 0, in = 0;
	CHECK(buf);
	s->verdict = 0;
	while (s->n < MAX_MSGS) {
		/* next chunk: 1..16 bytes, or everything left */
		size_t chunk = (pattern & 0x10) ? size - in : (size_t)((pattern + in) % 16) + 1;
		if (chunk > size - in)
			chunk = size - in;
		memcpy(buf + have, data + in, chunk);
		have += chunk;
		in += chunk;
		int rc;
		for (;;) {
			Bypass__CtlMsg *m;
			size_t used;
			rc = ctl_frame_decode(buf + off, have - off, &m, &used);
			if (rc) {
				CHECK(!m);
				if (rc == -EAGAIN)
					CHECK(used >= 4 && used > have - off && used <= 4 + CTL_MAX_FRAME);
				break;
			}
			CHECK(m && used >= 4 && used <= have - off);
			off += used;
			take(s, m);
			if (s->n == MAX_MSGS)
				break;
		}
		if (rc != -EAGAIN) {
			s->verdict = rc;
			break;
		}
		if (in == size) {
			s->verdict = have == off ? 0 : -EAGAIN;
			break;
		}
	}
	free(buf);
}

/* the blocking reader on a real socket, the peer gone after its bytes */
static void read_socket(const uint8_t *data, size_t size, struct seen *s)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	int sz = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(sv[0], data + off, size - off);
		CHECK(w > 0);
		off += (size_t)w;
	}
	close(sv[0]);
	s->verdict = 0;
	while (s->n < MAX_MSGS) {
		Bypass__CtlMsg *m;
		int fds[CTL_MAX_FDS], nfds = -1;
		int rc = ctl_recv(sv[1], &m, fds, &nfds, CTL_MAX_FDS);
		if (rc) {
			CHECK(!m && nfds == 0);
			s->verdict = rc;
			break;
		}
		CHECK(nfds == 0);
		take(s, m);
	}
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 100000)
		return 0;
	uint8_t pattern = data[0];
	data++;
	size--;

	struct seen a = { 0 }, b = { 0 };
	read_chunked(data, size, pattern, &a);
	/* the socket costs syscalls: one input in eight also goes through it */
	if (pattern & 0xe0) {
		seen_free(&a);
		return 0;
	}
	read_socket(data, size, &b);

	/* same messages, same end */
	CHECK(a.n == b.n);
	for (size_t i = 0; i < a.n; i++)
		CHECK(a.len[i] == b.len[i] && !memcmp(a.msg[i], b.msg[i], a.len[i]));
	if (a.n < MAX_MSGS) {
		if (a.verdict == 0)
			CHECK(b.verdict == -ECONNRESET); /* clean EOF after the last frame */
		else if (a.verdict == -EAGAIN)
			CHECK(b.verdict == -ECONNRESET); /* EOF inside a frame */
		else
			CHECK(a.verdict == b.verdict);
	}
	seen_free(&a);
	seen_free(&b);
	return 0;
}

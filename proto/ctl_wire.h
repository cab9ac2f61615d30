/* SPDX-License-Identifier: MIT */
/*
 * ctl_wire.h - framing of CtlMsg on fastpathd's Unix control socket.
 *
 * A frame is a 4-byte little-endian length followed by that many bytes of
 * a serialized Bypass__CtlMsg.  File descriptors travel as SCM_RIGHTS on
 * the first sendmsg() of a frame.  Used by the daemon, libbypass and
 * bypassctl alike, so both ends always agree on the format.
 */
#ifndef BYPASS_CTL_WIRE_H
#define BYPASS_CTL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "bypass_ctl.pb-c.h"

/*
 * The control protocol's version (proto/README.md): every message carries
 * it (CtlMsg.proto_major/minor, filled in by ctl_send()).  Minor: fields or
 * messages added (1.1: the version itself, CtlError, tenants paging,
 * half-open flows; 1.2: RPC call counts, the message heap at attach;
 * 1.3: RPC send-class counters; 1.4: FlowsRequest.remote_ip; 1.5:
 * FlowsRequest.kill, FlowsReply.killed, remote_ip without the ports, and
 * the app's BP_CTRL_LINGER_RESET, which libbypass sends only to 1.5).
 * Major: an incompatible change; the daemon refuses clients with a newer
 * one.
 */
#define CTL_PROTO_MAJOR 1
#define CTL_PROTO_MINOR 5

/* Frames larger than this are refused: no legitimate message comes close. */
#define CTL_MAX_FRAME (64u * 1024u)
/* Most descriptors one frame may carry (the attach reply needs 4). */
#define CTL_MAX_FDS 12 /* attach: region, wake, doorbell, one kick per fastpath core */

/**
 * ctl_send - send one framed message, optionally passing descriptors.
 * @fd: connected SOCK_STREAM Unix socket.
 * @m: message to serialize.
 * @fds: descriptors to pass (SCM_RIGHTS), or NULL.
 * @nfds: number of @fds, 0..CTL_MAX_FDS.
 *
 * Retries partial writes and EINTR; never raises SIGPIPE.
 * Return: 0, or a negative errno (-EMSGSIZE if the frame is too large,
 * -EPIPE if the peer went away).
 */
/*
 * ctl_send() stamps this side's CTL_PROTO_MAJOR/MINOR into the envelope of
 * every message it sends (a sender never forgets to).
 */
int ctl_send(int fd, const Bypass__CtlMsg *m, const int *fds, int nfds);

/**
 * ctl_recv - receive one framed message (blocking).
 * @fd: connected SOCK_STREAM Unix socket.
 * @out: on success, the decoded message; free it with
 *       bypass__ctl_msg__free_unpacked(*out, NULL).
 * @fds: receives passed descriptors (close-on-exec); may be NULL if
 *       @maxfds is 0.
 * @nfds: receives the number stored in @fds; may be NULL.
 * @maxfds: capacity of @fds; descriptors beyond it are closed.
 *
 * On failure no descriptor is leaked and nothing is stored in @out.  After
 * -EMSGSIZE or -EBADMSG the stream is out of sync: close the socket.
 * Return: 0, -ECONNRESET on EOF, -EMSGSIZE for a frame over
 * CTL_MAX_FRAME, -EBADMSG if it does not decode, or another -errno.
 */
int ctl_recv(int fd, Bypass__CtlMsg **out, int *fds, int *nfds, int maxfds);

/**
 * ctl_frame_decode - decode one frame from bytes already read off the
 * stream, without touching any socket (a non-blocking reader's buffer).
 * @buf: the bytes received so far, starting at a frame boundary.
 * @len: how many.
 * @out: on success, the decoded message; free it with
 *       bypass__ctl_msg__free_unpacked(*out, NULL).
 * @consumed: on success, the frame's size (header included); on -EAGAIN,
 *            the total the frame needs, once its header is in (else 4).
 *
 * Return: 0, -EAGAIN if the frame is not complete yet, -EMSGSIZE for a
 * frame over CTL_MAX_FRAME, -EBADMSG if it does not decode.
 */
int ctl_frame_decode(const uint8_t *buf, size_t len, Bypass__CtlMsg **out, size_t *consumed);

/**
 * ctl_socket_path - the control socket a client should use.
 * @override: explicit path (e.g. from --socket), or NULL.
 *
 * Return: @override if set, else $BYPASS_SOCKET if set and non-empty, else
 * BP_DEFAULT_SOCKET.
 */
const char *ctl_socket_path(const char *override);

/**
 * ctl_client_connect - connect to the daemon's control socket.
 * @path: socket path (see ctl_socket_path()).
 * @err: on failure, what went wrong and what to do about it (for an absent
 *       daemon: how to start it); may be NULL.
 * @errlen: size of @err.
 *
 * Return: a connected close-on-exec socket, or a negative errno.
 */
int ctl_client_connect(const char *path, char *err, size_t errlen);

#endif /* BYPASS_CTL_WIRE_H */

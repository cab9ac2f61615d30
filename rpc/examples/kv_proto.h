/* SPDX-License-Identifier: MIT */
/*
 * kv_proto.h - the example key-value service's methods.
 * PUT body: u16 key length (LE), key, value.  GET/DEL body: the key.
 * HOLD body: u32 milliseconds (LE): answered OK after that long (a slow
 * call, for failure tests).
 * GET_PARTS body: u32 part bytes (LE), then the key: the value as a
 * streamed response (the caller sets RPC_CALL_STREAM), in parts of that
 * many bytes, then OK; a value larger than one message may carry.
 * PUT_PARTS: a streamed request (RPC_CALL_SEND_STREAM): its first message
 * u16 key length (LE), key; the value in the messages after it, stored
 * when the last one is in; a value larger than one message may carry.
 */
#ifndef KV_PROTO_H
#define KV_PROTO_H

#define KV_PUT	1
#define KV_GET	2
#define KV_DEL	3
#define KV_HOLD	4
#define KV_GET_PARTS 5
#define KV_PUT_PARTS 6

#endif

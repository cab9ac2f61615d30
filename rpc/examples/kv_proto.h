/* SPDX-License-Identifier: MIT */
/*
 * kv_proto.h - the example key-value service's methods.
 * PUT body: u16 key length (LE), key, value.  GET/DEL body: the key.
 * HOLD body: u32 milliseconds (LE): answered OK after that long (a slow
 * call, for failure tests).
 */
#ifndef KV_PROTO_H
#define KV_PROTO_H

#define KV_PUT	1
#define KV_GET	2
#define KV_DEL	3
#define KV_HOLD	4

#endif

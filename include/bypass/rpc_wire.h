/* SPDX-License-Identifier: MIT */
/*
 * rpc_wire.h - the bypass RPC frame header (rpc/WIRE.md is the contract).
 *
 * Every frame is a fixed 32-byte little-endian header followed by
 * frame_len payload bytes (metadata, then body).  The length sits at a
 * fixed offset so a framer (the library today, fastpathd later) can cut a
 * TCP byte stream into frames without looking at anything else.
 */
#ifndef BYPASS_RPC_WIRE_H
#define BYPASS_RPC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define RPC_WIRE_MAGIC		0x5242u	/* "BR" on the wire (LE) */
#define RPC_WIRE_VERSION	1u
#define RPC_WIRE_HDR_LEN	32u

/* frame types */
enum rpc_frame_type {
	RPC_FT_REQUEST	= 1,
	RPC_FT_RESPONSE	= 2,
	RPC_FT_CANCEL	= 3,
	RPC_FT_CREDIT	= 4,
	RPC_FT_CHUNK	= 5,
	RPC_FT_PING	= 6,
	RPC_FT_PONG	= 7,
	RPC_FT_GOAWAY	= 8,
	RPC_FT_MAX	= 8,
};

/* flags */
#define RPC_FF_MORE		0x0001u	/* more CHUNK frames of this message follow */
#define RPC_FF_RESP_DIR		0x0002u	/* CHUNK: continues a RESPONSE (else a REQUEST) */
#define RPC_FF_STREAM		0x0004u	/* REQUEST: the caller takes a streamed response;
					 * RESPONSE: one message of it, more follow */
#define RPC_FF_REQ_MORE		0x0008u	/* REQUEST: more messages of this (streamed)
					 * request follow */
#define RPC_FF_REQ_CONT		0x0010u	/* REQUEST: continues the streamed request
					 * call_id, not a new call */
#define RPC_FF_KNOWN		0x001fu

/* limits (WIRE.md "Limits") */
#define RPC_WIRE_MAX_META	16384u			/* metadata section bytes */
#define RPC_WIRE_MAX_META_KEY	255u
#define RPC_WIRE_MAX_META_ENTRIES 64u
#define RPC_WIRE_MAX_FRAME	((8u << 20) + RPC_WIRE_MAX_META) /* payload of one frame */
#define RPC_WIRE_DEF_MAX_MSG	(8u << 20)		/* default message limit */
#define RPC_WIRE_INIT_CALLS	256u			/* initial call credit */
#define RPC_WIRE_INIT_BYTES	(16u << 20)		/* initial byte credit */
#define RPC_WIRE_CHUNK		(256u << 10)		/* what this library sends per frame */

/**
 * struct rpc_frame_hdr - a decoded frame header (host order).
 * @type: enum rpc_frame_type.
 * @flags: RPC_FF_*.
 * @method: method id (REQUEST; echoed in RESPONSE).
 * @call_id: call id chosen by the side that sent the REQUEST.
 * @frame_len: payload bytes following this header.
 * @msg_len: REQUEST/RESPONSE: total body bytes of the message over all
 *           its frames; CHUNK: offset of this chunk's first body byte.
 * @deadline_us: REQUEST: relative deadline in µs, 0 = none.
 * @status: RESPONSE/GOAWAY: gRPC status code.
 * @meta_len: metadata bytes at the start of the payload.
 * @aux: CREDIT: bytes granted; PING/PONG: opaque token; GOAWAY: last
 *       call id the sender will answer; else 0.
 */
struct rpc_frame_hdr {
	uint8_t type;
	uint16_t flags;
	uint16_t method;
	uint32_t call_id;
	uint32_t frame_len;
	uint32_t msg_len;
	uint32_t deadline_us;
	uint16_t status;
	uint16_t meta_len;
	uint32_t aux;
};

/* verdicts of rpc_frame_decode() */
enum rpc_frame_err {
	RPC_FE_OK = 0,
	RPC_FE_MAGIC = -1,	/* not an RPC stream: close */
	RPC_FE_VERSION = -2,	/* unknown version: GOAWAY UNIMPLEMENTED, close */
	RPC_FE_TOO_BIG = -3,	/* frame_len > RPC_WIRE_MAX_FRAME: close */
	RPC_FE_META = -4,	/* meta_len > frame_len or > cap: close */
	RPC_FE_FIELDS = -5,	/* fields inconsistent with the type: close */
};

/**
 * rpc_frame_encode - write @h as 32 header bytes at @out (magic and
 * version filled in).
 */
void rpc_frame_encode(const struct rpc_frame_hdr *h, uint8_t out[RPC_WIRE_HDR_LEN]);

/**
 * rpc_frame_decode - parse and validate 32 header bytes.
 * Unknown types decode as RPC_FE_OK (receivers skip them: WIRE.md).
 * Return: RPC_FE_OK or a negative enum rpc_frame_err.
 */
int rpc_frame_decode(const uint8_t in[RPC_WIRE_HDR_LEN], struct rpc_frame_hdr *h);

#endif /* BYPASS_RPC_WIRE_H */

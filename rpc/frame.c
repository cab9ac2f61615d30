// SPDX-License-Identifier: MIT
/*
 * frame.c - the frame header and the metadata section (WIRE.md).
 * Pure functions over bytes: the fuzzer and a future daemon framer use
 * them as they are.
 */
#include <errno.h>
#include <string.h>

#include "rpc_internal.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

void rpc_frame_encode(const struct rpc_frame_hdr *h, uint8_t out[RPC_WIRE_HDR_LEN])
{
	put16(out + 0, RPC_WIRE_MAGIC);
	out[2] = RPC_WIRE_VERSION;
	out[3] = h->type;
	put16(out + 4, h->flags);
	put16(out + 6, h->method);
	put32(out + 8, h->call_id);
	put32(out + 12, h->frame_len);
	put32(out + 16, h->msg_len);
	put32(out + 20, h->deadline_us);
	put16(out + 24, h->status);
	put16(out + 26, h->meta_len);
	put32(out + 28, h->aux);
}

int rpc_frame_decode(const uint8_t in[RPC_WIRE_HDR_LEN], struct rpc_frame_hdr *h)
{
	if (get16(in) != RPC_WIRE_MAGIC)
		return RPC_FE_MAGIC;
	if (in[2] != RPC_WIRE_VERSION)
		return RPC_FE_VERSION;
	h->type = in[3];
	h->flags = get16(in + 4);
	h->method = get16(in + 6);
	h->call_id = get32(in + 8);
	h->frame_len = get32(in + 12);
	h->msg_len = get32(in + 16);
	h->deadline_us = get32(in + 20);
	h->status = get16(in + 24);
	h->meta_len = get16(in + 26);
	h->aux = get32(in + 28);
	if (h->frame_len > RPC_WIRE_MAX_FRAME)
		return RPC_FE_TOO_BIG;
	if (h->meta_len > h->frame_len || h->meta_len > RPC_WIRE_MAX_META)
		return RPC_FE_META;
	switch (h->type) {
	case RPC_FT_REQUEST:
	case RPC_FT_RESPONSE: {
		uint32_t body = h->frame_len - h->meta_len;

		if (h->flags & RPC_FF_MORE ? body >= h->msg_len : body != h->msg_len)
			return RPC_FE_FIELDS;
		break;
	}
	case RPC_FT_CHUNK:
		/* a chunk carries body bytes only, and at least one */
		if (h->meta_len || !h->frame_len)
			return RPC_FE_FIELDS;
		break;
	case RPC_FT_GOAWAY:
		if (h->meta_len || h->frame_len > 1024)
			return RPC_FE_FIELDS;
		break;
	case RPC_FT_CANCEL:
	case RPC_FT_CREDIT:
	case RPC_FT_PING:
	case RPC_FT_PONG:
		if (h->frame_len)
			return RPC_FE_FIELDS;
		break;
	default:
		break;	/* unknown type: the receiver skips frame_len bytes */
	}
	return RPC_FE_OK;
}

/* entry: key_len u8, val_len u16 LE, key, value */
size_t rpc_meta_size(const struct rpc_meta *m, unsigned n)
{
	size_t sz = 0;

	for (unsigned i = 0; i < n; i++)
		sz += 3 + strlen(m[i].key) + m[i].val_len;
	return sz;
}

int rpc_meta_check(const struct rpc_meta *m, unsigned n)
{
	if (n > RPC_WIRE_MAX_META_ENTRIES || (n && !m))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		size_t kl = m[i].key ? strlen(m[i].key) : 0;

		if (kl == 0 || kl > RPC_WIRE_MAX_META_KEY || (m[i].val_len && !m[i].val))
			return -EINVAL;
	}
	if (rpc_meta_size(m, n) > RPC_WIRE_MAX_META)
		return -EMSGSIZE;
	return 0;
}

void rpc_meta_encode(const struct rpc_meta *m, unsigned n, uint8_t *out)
{
	for (unsigned i = 0; i < n; i++) {
		size_t kl = strlen(m[i].key);

		out[0] = (uint8_t)kl;
		put16(out + 1, m[i].val_len);
		memcpy(out + 3, m[i].key, kl);
		if (m[i].val_len)
			memcpy(out + 3 + kl, m[i].val, m[i].val_len);
		out += 3 + kl + m[i].val_len;
	}
}

/**
 * rpc_meta_parse - split a metadata section into entries pointing into @p.
 * Return: number of entries, or -EBADMSG (truncated entry, empty key, more
 * than @max entries).
 */
int rpc_meta_parse(const uint8_t *p, size_t len, struct rpc_meta_view *out, unsigned max)
{
	unsigned n = 0;
	size_t off = 0;

	while (off < len) {
		size_t kl, vl;

		if (len - off < 3 || n == max)
			return -EBADMSG;
		kl = p[off];
		vl = get16(p + off + 1);
		if (kl == 0 || len - off - 3 < kl + vl)
			return -EBADMSG;
		out[n].key = (const char *)p + off + 3;
		out[n].key_len = (uint8_t)kl;
		out[n].val = p + off + 3 + kl;
		out[n].val_len = (uint16_t)vl;
		n++;
		off += 3 + kl + vl;
	}
	return (int)n;
}

const char *rpc_status_name(int st)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
		"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
		"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
	};

	return st >= 0 && st <= 16 ? names[st] : "?";
}

/* SPDX-License-Identifier: MIT */
/*
 * ring_copy.h - byte-ring accounting and copying for the per-slot rx/tx
 * buffers in the shared region.
 *
 * Positions are 64-bit byte totals since the slot was allocated (see
 * struct bp_flow_shm), so they never wrap in practice; all arithmetic is
 * nevertheless done modulo 2^64 so it stays right even if they did.  A
 * ring of power-of-two @size with shift @shift holds byte @pos at offset
 * bp_ring_off(@pos, @shift, @size) (include/bypass/shm_abi.h says when the
 * shift moves).
 */
#ifndef FP_RING_COPY_H
#define FP_RING_COPY_H

#include <stdint.h>
#include <string.h>

#include <bypass/shm_abi.h>

/**
 * ring_used - bytes written but not yet consumed.
 * @written: total bytes ever written.
 * @consumed: total bytes ever consumed.
 *
 * Return: @written - @consumed modulo 2^64.  When one counter comes from
 * an untrusted peer the result can exceed the ring size; compare it
 * against the size (or use ring_free()) before trusting it.
 */
static inline uint64_t ring_used(uint64_t written, uint64_t consumed)
{
	return written - consumed;
}

/**
 * ring_free - bytes that can be written without overwriting unconsumed data.
 * @size: ring size in bytes.
 * @written: total bytes ever written.
 * @consumed: total bytes ever consumed.
 *
 * A consumer counter that is ahead of @written, or so far behind that more
 * than @size bytes look used, is impossible for an honest peer; both read
 * as "no room" so a hostile peer can stall its own flow but never make us
 * overwrite data.
 *
 * Return: free bytes, 0..@size.
 */
static inline uint64_t ring_free(uint32_t size, uint64_t written, uint64_t consumed)
{
	uint64_t used = ring_used(written, consumed);

	return used > size ? 0 : size - used;
}

/**
 * ring_copy_in - copy @len bytes into the ring at stream position @pos.
 * @ring: ring storage.
 * @size: ring size, a power of two.
 * @shift: the ring's shift (bp_flow_shm.rx_shift / tx_shift).
 * @pos: stream position of the first byte.
 * @src: source bytes.
 * @len: byte count, at most @size (callers bound it by ring_free()).
 */
static inline void ring_copy_in(uint8_t *ring, uint32_t size, uint32_t shift, uint64_t pos,
				const void *src, uint32_t len)
{
	uint32_t off = bp_ring_off(pos, shift, size);
	uint32_t first = size - off < len ? size - off : len;

	memcpy(ring + off, src, first);
	if (len > first)
		memcpy(ring, (const uint8_t *)src + first, len - first);
}

/**
 * ring_copy_out - copy @len bytes out of the ring from stream position @pos.
 * @dst: destination.
 * @ring: ring storage.
 * @size: ring size, a power of two.
 * @shift: the ring's shift.
 * @pos: stream position of the first byte.
 * @len: byte count, at most @size.
 */
static inline void ring_copy_out(void *dst, const uint8_t *ring, uint32_t size,
				 uint32_t shift, uint64_t pos, uint32_t len)
{
	uint32_t off = bp_ring_off(pos, shift, size);
	uint32_t first = size - off < len ? size - off : len;

	memcpy(dst, ring + off, first);
	if (len > first)
		memcpy((uint8_t *)dst + first, ring, len - first);
}

#endif /* FP_RING_COPY_H */

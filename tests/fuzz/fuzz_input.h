/* SPDX-License-Identifier: MIT */
/*
 * fuzz_input.h - a byte reader over a fuzz input, shared by the harnesses:
 * little-endian fields, zeros once the input runs out.
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

/* a byte reader over the fuzz input: zeros once it runs out */
struct fx_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fx_u8(struct fx_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* little-endian; the bytes are read in separate statements, since the
 * order of two calls in one expression is the compiler's to choose (a
 * corpus must decode alike under every compiler) */
static inline uint16_t fx_u16(struct fx_in *in)
{
	uint16_t lo = fx_u8(in);

	return (uint16_t)(lo | fx_u8(in) << 8);
}

static inline uint32_t fx_u32(struct fx_in *in)
{
	uint32_t lo = fx_u16(in);

	return lo | (uint32_t)fx_u16(in) << 16;
}

#endif /* FUZZ_INPUT_H */

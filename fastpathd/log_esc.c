// SPDX-License-Identifier: MIT
/*
 * log_esc.c - escaping of client-supplied strings before they are logged
 * (see log_esc.h for why).
 */
#include <stdio.h>
#include <string.h>

#include "log_esc.h"

/* the escaped form of one byte into @e (at least 5 bytes); its length */
static size_t esc1(unsigned char ch, char *e)
{
	switch (ch) {
	case '\\': memcpy(e, "\\\\", 2); return 2;
	case '\n': memcpy(e, "\\n", 2); return 2;
	case '\r': memcpy(e, "\\r", 2); return 2;
	case '\t': memcpy(e, "\\t", 2); return 2;
	}
	if (ch < 0x20 || ch >= 0x7f) {
		snprintf(e, 5, "\\x%02x", ch);
		return 4;
	}
	e[0] = (char)ch;
	return 1;
}

static size_t esc_len(const char *s)
{
	char e[5];
	size_t n = 0;

	for (; *s; s++)
		n += esc1((unsigned char)*s, e);
	return n;
}

const char *log_esc(char *buf, size_t size, const char *s)
{
	size_t o = 0;
	char e[5];

	if (!size)
		return buf;
	if (!s)
		s = "(null)";
	for (; *s; s++) {
		size_t n = esc1((unsigned char)*s, e);

		/* always keep room for "..." and the NUL, unless the rest fits */
		if (o + n + 4 > size && o + esc_len(s) + 1 > size) {
			if (o + 4 <= size) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(buf + o, e, n);
		o += n;
	}
	buf[o] = 0;
	return buf;
}

// SPDX-License-Identifier: MIT
/*
 * test_log_esc.c - client strings cannot forge or garble daemon log lines.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "log_esc.h"

static char out[LOG_ESC_SIZE(64)];

static const char *esc(const char *s)
{
	return log_esc(out, sizeof(out), s);
}

Test(log_esc, printable_unchanged)
{
	cr_assert_str_eq(esc("redis-server 7.0"), "redis-server 7.0");
	cr_assert_str_eq(esc(""), "");
	cr_assert_str_eq(esc(NULL), "(null)");
}

Test(log_esc, newline_cannot_forge_a_line)
{
	const char *r = esc("app\n[fastpathd] forged");

	cr_assert_null(strchr(r, '\n'));
	cr_assert_str_eq(r, "app\\n[fastpathd] forged");
	cr_assert_str_eq(esc("a\r\tb"), "a\\r\\tb");
}

Test(log_esc, control_and_high_bytes_hex)
{
	/* ESC (terminal control), DEL, and non-ASCII bytes */
	cr_assert_str_eq(esc("\x1b[2Jx\x7f\xc3\xa9"), "\\x1b[2Jx\\x7f\\xc3\\xa9");
	cr_assert_str_eq(esc("\x01"), "\\x01");
	for (int ch = 1; ch < 256; ch++) {
		char in[2] = { (char)ch, 0 };

		esc(in);
		for (const char *p = out; *p; p++)
			cr_assert(*p >= 0x20 && *p < 0x7f, "byte %#x escaped to a raw %#x", ch,
				  (unsigned char)*p);
	}
}

/* the backslash doubles: "\\n" typed literally and a real newline differ */
Test(log_esc, backslash_unambiguous)
{
	char a[32], b[32];

	log_esc(a, sizeof(a), "x\\ny");
	log_esc(b, sizeof(b), "x\ny");
	cr_assert_str_eq(a, "x\\\\ny");
	cr_assert_str_neq(a, b);
}

Test(log_esc, worst_case_fits_and_truncation_is_marked)
{
	char in[65], big[LOG_ESC_SIZE(64)], small[12];

	memset(in, '\n', 64);
	in[64] = 0;
	log_esc(big, sizeof(big), in);
	cr_assert_eq(strlen(big), 128);

	memset(in, 0x01, 64);
	log_esc(big, sizeof(big), in);
	cr_assert_eq(strlen(big), 256);

	/* never a cut escape, always the marker */
	log_esc(small, sizeof(small), "\x01\x02\x03\x04");
	cr_assert_str_eq(small, "\\x01\\x02...");
	log_esc(small, sizeof(small), "abcdefghijk");
	cr_assert_str_eq(small, "abcdefghijk");
	log_esc(small, sizeof(small), "abcdefghijkl");
	cr_assert_str_eq(small, "abcdefgh...");
	log_esc(small, 1, "abc");
	cr_assert_str_eq(small, "");
	log_esc(small, 3, "abc"); /* no room for even the marker */
	cr_assert_str_eq(small, "");
}

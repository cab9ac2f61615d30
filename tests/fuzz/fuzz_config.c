// SPDX-License-Identifier: MIT
/*
 * fuzz_config - the config file parser (fastpathd/config.c and
 * config_tenant.c): input is the text of a config file, as fastpathd
 * --config reads it at start and again on SIGHUP (the tenants).
 *
 * Checks: no crash, sanitizer report or leak; a file the parser refuses
 * is named with the line ("fuzz.ini:LINE: ..."), one refused at
 * validation gets a message, each within its buffer; a file that loads
 * and validates loads again to the same tenants and the same settings
 * (the parser keeps no state between loads, which a reload relies on).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static int load(const uint8_t *data, size_t size, struct bp_config *c, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)data, size, "r");
	CHECK(f);
	config_defaults(c);
	int rc = config_load_stream(c, f, "fuzz.ini", err, errlen);
	fclose(f);
	if (rc)
		CHECK(!strncmp(err, "fuzz.ini:", 9));
	else
		rc = config_validate(c, err, errlen);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bp_config a, b;
	char err[512] = "", err2[512] = "";

	if (!size)
		return 0; /* fmemopen() refuses an empty buffer */
	int rc = load(data, size, &a, err, sizeof(err));
	CHECK(memchr(err, 0, sizeof(err)));
	if (rc) {
		CHECK(rc == -1 && err[0]);
		config_free(&a);
		return 0;
	}
	CHECK(load(data, size, &b, err2, sizeof(err2)) == 0);
	CHECK(a.tenants.n == b.tenants.n);
	CHECK(!a.tenants.n || !memcmp(a.tenants.t, b.tenants.t, a.tenants.n * sizeof(*a.tenants.t)));
	struct bp_tenants ta = a.tenants, tb = b.tenants;
	a.tenants.t = b.tenants.t = NULL; /* everything but the tenants' array */
	CHECK(!memcmp(&a, &b, sizeof(a)));
	a.tenants = ta;
	b.tenants = tb;
	config_free(&a);
	config_free(&b);
	return 0;
}

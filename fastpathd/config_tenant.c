// SPDX-License-Identifier: MIT
/*
 * config_tenant.c - the tenant sections of the config file.
 *
 * Unlike the fixed sections (config.c, one table), tenant sections repeat
 * under names the operator chooses, and most fields are lists, so they
 * have their own small parser.  User and group names are resolved here,
 * once, so a typo is an error at start (or at reload), never a tenant that
 * silently matches nobody.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "config_tenant.h"

#define LIST_MAX 4096 /* one list value, as the line allows */

void bp_tenant_defaults(struct bp_tenant_cfg *t, const char *name)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->weight = 1;
	t->class_ = BP_CLASS_NORMAL;
}

uint64_t bp_tenant_burst(const struct bp_tenant_cfg *t)
{
	uint64_t two_ms = t->rate_bps / 8 / 500;

	if (t->burst_bytes)
		return t->burst_bytes;
	return two_ms > 65536 ? two_ms : 65536;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= BP_TENANT_NAME)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

int config_tenant_find(const struct bp_tenants *ts, const char *name)
{
	for (uint32_t i = 0; i < ts->n; i++)
		if (!strcmp(ts->t[i].name, name))
			return (int)i;
	return -1;
}

/* the tenant a "[tenant NAME]" section names, or NULL if it is no such section */
static const char *tenant_name(const char *section)
{
	if (strncmp(section, "tenant", 6) || (section[6] != ' ' && section[6] != '\t'))
		return NULL;
	section += 6;
	while (*section == ' ' || *section == '\t')
		section++;
	return section;
}

int config_tenant_section(struct bp_tenants *ts, const char *section, char *err, size_t errlen)
{
	if (!strcmp(section, "tenants"))
		return 1;
	const char *name = tenant_name(section);
	if (!name)
		return 0;
	if (!name_ok(name)) {
		snprintf(err, errlen, "[tenant %s]: not a tenant name (1 to %d of A-Z a-z 0-9 _ . -)",
			 name, BP_TENANT_NAME - 1);
		return -1;
	}
	if (config_tenant_find(ts, name) >= 0) {
		snprintf(err, errlen, "[tenant %s]: defined twice; merge the two sections", name);
		return -1;
	}
	if (ts->n >= BP_TENANTS_MAX) {
		snprintf(err, errlen, "[tenant %s]: more than %d tenants; merge some", name,
			 BP_TENANTS_MAX);
		return -1;
	}
	struct bp_tenant_cfg *t = realloc(ts->t, (ts->n + 1) * sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "[tenant %s]: out of memory", name);
		return -1;
	}
	ts->t = t;
	bp_tenant_defaults(&t[ts->n++], name);
	return 1;
}

/* ------------------------------------------------------------- values */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	return s;
}

static bool parse_u64(const char *s, uint64_t *v, const char **end)
{
	char *e;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	*v = strtoull(s, &e, 10);
	if (errno)
		return false;
	*end = e;
	return true;
}

/* a whole-number value, nothing after it */
static bool parse_num(const char *s, uint64_t *v)
{
	const char *end;
	return parse_u64(s, v, &end) && !*end;
}

/* bits/s: 200mbit, 200m, 1g, 500kbit, 1000; decimal multiples, as tc */
static bool parse_rate(const char *s, uint64_t *v)
{
	const char *end;
	uint64_t mul = 1;

	if (!parse_u64(s, v, &end))
		return false;
	switch (tolower((unsigned char)*end)) {
	case 'k': mul = 1000ull; end++; break;
	case 'm': mul = 1000000ull; end++; break;
	case 'g': mul = 1000000000ull; end++; break;
	}
	if (*end && strcasecmp(end, "bit"))
		return false;
	if (*v > UINT64_MAX / mul / 8)
		return false;
	*v *= mul;
	return true;
}

/* bytes: 256k, 1m, 65536; binary multiples */
static bool parse_bytes(const char *s, uint64_t *v)
{
	const char *end;
	unsigned shift = 0;

	if (!parse_u64(s, v, &end))
		return false;
	switch (tolower((unsigned char)*end)) {
	case 'k': shift = 10; end++; break;
	case 'm': shift = 20; end++; break;
	case 'g': shift = 30; end++; break;
	}
	if (*end && strcasecmp(end, "b"))
		return false;
	if (*v > (UINT64_MAX >> 1) >> shift)
		return false;
	*v <<= shift;
	return true;
}

static bool parse_uid(const char *s, uint32_t *v)
{
	uint64_t n;
	if (parse_num(s, &n))
		return n < UINT32_MAX ? (*v = (uint32_t)n, true) : false;
	struct passwd *pw = getpwnam(s);
	return pw ? (*v = pw->pw_uid, true) : false;
}

static bool parse_gid(const char *s, uint32_t *v)
{
	uint64_t n;
	if (parse_num(s, &n))
		return n < UINT32_MAX ? (*v = (uint32_t)n, true) : false;
	struct group *gr = getgrnam(s);
	return gr ? (*v = gr->gr_gid, true) : false;
}

static bool parse_port_range(const char *s, struct bp_port_range *r)
{
	const char *end;
	uint64_t lo, hi;

	if (!parse_u64(s, &lo, &end))
		return false;
	hi = lo;
	if (*end == '-' && !parse_u64(end + 1, &hi, &end))
		return false;
	if (*end || !lo || lo > hi || hi > 65535)
		return false;
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return true;
}

static bool parse_cidr(const char *s, struct bp_cidr *c)
{
	char buf[32];
	uint64_t plen = 32;
	struct in_addr a;

	snprintf(buf, sizeof(buf), "%s", s);
	char *slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		if (!parse_num(slash + 1, &plen) || plen > 32)
			return false;
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return false;
	c->mask = plen ? htonl(~0u << (32 - plen)) : 0;
	c->net = a.s_addr & c->mask;
	return true;
}

enum list_kind { L_UID, L_GID, L_PORT, L_CIDR };

/* a comma-separated list into @out (replacing what was there) */
static int parse_list(enum list_kind kind, const char *val, void *out, uint32_t *n,
		      const char *sec, const char *key, char *err, size_t errlen)
{
	static const char *const want[] = {
		[L_UID] = "a user name that exists or a uid, e.g. 1001, alice",
		[L_GID] = "a group name that exists or a gid, e.g. 2001, www",
		[L_PORT] = "a port 1-65535 or a range lo-hi, e.g. 80, 443, 8000-8999",
		[L_CIDR] = "an IPv4 address or CIDR, e.g. 198.18.0.0/15, 10.0.0.5",
	};
	char buf[LIST_MAX];
	uint32_t k = 0;
	bool ok;

	if (strlen(val) >= sizeof(buf)) {
		snprintf(err, errlen, "[%s] %s: list too long", sec, key);
		return -1;
	}
	strcpy(buf, val);
	for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		item = trim(item);
		if (k >= BP_TENANT_LIST) {
			snprintf(err, errlen, "[%s] %s: more than %d entries; use ranges or "
				 "a group", sec, key, BP_TENANT_LIST);
			return -1;
		}
		switch (kind) {
		case L_UID: ok = parse_uid(item, (uint32_t *)out + k); break;
		case L_GID: ok = parse_gid(item, (uint32_t *)out + k); break;
		case L_PORT: ok = parse_port_range(item, (struct bp_port_range *)out + k); break;
		default: ok = parse_cidr(item, (struct bp_cidr *)out + k); break;
		}
		if (!ok) {
			snprintf(err, errlen, "[%s] %s: '%s' is not %s", sec, key, item, want[kind]);
			return -1;
		}
		k++;
	}
	if (!k) {
		snprintf(err, errlen, "[%s] %s: empty list (write %s)", sec, key, want[kind]);
		return -1;
	}
	*n = k;
	return 0;
}

static int tenants_set(struct bp_tenants *ts, const char *key, const char *val, char *err,
		       size_t errlen)
{
	if (strcmp(key, "unknown")) {
		snprintf(err, errlen, "[tenants] %s: unknown field (the section has only "
			 "'unknown'; tenant settings go under [tenant NAME])", key);
		return -1;
	}
	if (!strcmp(val, "refuse")) {
		ts->unknown[0] = 0;
	} else if (name_ok(val)) {
		snprintf(ts->unknown, sizeof(ts->unknown), "%s", val);
	} else {
		snprintf(err, errlen, "[tenants] unknown: '%s' is neither a tenant name nor "
			 "'refuse' (write e.g. unknown = default)", val);
		return -1;
	}
	ts->unknown_set = true;
	return 1;
}

/* an unsigned number within lo..hi */
static int set_u32(uint32_t *dst, const char *val, uint64_t lo, uint64_t hi,
		   const char *sec, const char *key, const char *what, char *err, size_t errlen)
{
	uint64_t v;

	if (!parse_num(val, &v) || v < lo || v > hi) {
		snprintf(err, errlen, "[%s] %s: '%s' is not %s (%llu..%llu)", sec, key, val, what,
			 (unsigned long long)lo, (unsigned long long)hi);
		return -1;
	}
	*dst = (uint32_t)v;
	return 1;
}

int config_tenant_set(struct bp_tenants *ts, const char *section, const char *key,
		      const char *val, char *err, size_t errlen)
{
	if (!strcmp(section, "tenants"))
		return tenants_set(ts, key, val, err, errlen);
	const char *name = tenant_name(section);
	if (!name)
		return 0;
	int i = config_tenant_find(ts, name);
	if (i < 0) { /* config_tenant_section() made it, or refused the name */
		snprintf(err, errlen, "[%s]: not a tenant section", section);
		return -1;
	}
	struct bp_tenant_cfg *t = &ts->t[i];
	char sec[BP_TENANT_NAME + 8];
	uint64_t v;
	snprintf(sec, sizeof(sec), "tenant %s", t->name);

	if (!strcmp(key, "uids"))
		return parse_list(L_UID, val, t->uids, &t->nuids, sec, key, err, errlen) ? -1 : 1;
	if (!strcmp(key, "gids"))
		return parse_list(L_GID, val, t->gids, &t->ngids, sec, key, err, errlen) ? -1 : 1;
	if (!strcmp(key, "listen_ports"))
		return parse_list(L_PORT, val, t->ports, &t->nports, sec, key, err, errlen) ? -1 : 1;
	if (!strcmp(key, "connect"))
		return parse_list(L_CIDR, val, t->connect, &t->nconnect, sec, key, err,
				  errlen) ? -1 : 1;
	if (!strcmp(key, "cgroup")) {
		size_t n = strlen(val);
		if (val[0] != '/' || n >= sizeof(t->cgroup) || strstr(val, "//")) {
			snprintf(err, errlen, "[%s] cgroup: '%s' is not a cgroup v2 path (write "
				 "it as in /proc/PID/cgroup, e.g. /system.slice/web.service)",
				 sec, val);
			return -1;
		}
		while (n > 1 && val[n - 1] == '/')
			n--; /* "/a/b/" is the prefix "/a/b" */
		memcpy(t->cgroup, val, n);
		t->cgroup[n] = 0;
		return 1;
	}
	if (!strcmp(key, "max_apps"))
		return set_u32(&t->max_apps, val, 0, 1u << 20, sec, key,
			       "a number of apps, 0 = no limit", err, errlen);
	if (!strcmp(key, "max_flows"))
		return set_u32(&t->max_flows, val, 0, 1u << 24, sec, key,
			       "a number of flows, 0 = no limit", err, errlen);
	if (!strcmp(key, "max_buf_mb"))
		return set_u32(&t->max_buf_mb, val, 0, 1u << 24, sec, key,
			       "MiB of flow buffers, 0 = no limit", err, errlen);
	if (!strcmp(key, "weight"))
		return set_u32(&t->weight, val, 1, 1000, sec, key, "a weight", err, errlen);
	if (!strcmp(key, "rate") || !strcmp(key, "rx_rate")) {
		if (!parse_rate(val, &v)) {
			snprintf(err, errlen, "[%s] %s: '%s' is not a rate in bits/s (write e.g. "
				 "200mbit, 200m, 1g, 500kbit; 0 = none)", sec, key, val);
			return -1;
		}
		if (v && v < BP_TENANT_MIN_RATE) {
			snprintf(err, errlen, "[%s] %s: '%s' is below the least rate, 1kbit (one "
				 "1500-byte segment would take 12 s or more); 0 = none", sec, key, val);
			return -1;
		}
		*(!strcmp(key, "rate") ? &t->rate_bps : &t->rx_rate_bps) = v;
		return 1;
	}
	if (!strcmp(key, "burst")) {
		if (!parse_bytes(val, &v) || !v) {
			snprintf(err, errlen, "[%s] burst: '%s' is not a size in bytes (write e.g. "
				 "256k, 1m, 65536; leave it out for the default)", sec, val);
			return -1;
		}
		if (v < BP_TENANT_MIN_BURST) {
			snprintf(err, errlen, "[%s] burst: '%s' is less than one full segment (1500 "
				 "bytes): the tenant could never send one; leave it out for the "
				 "default", sec, val);
			return -1;
		}
		t->burst_bytes = v;
		return 1;
	}
	if (!strcmp(key, "class")) {
		static const char *const names[] = { "latency", "normal", "bulk" };
		for (uint8_t k = 0; k < 3; k++) {
			if (!strcmp(val, names[k])) {
				t->class_ = k;
				return 1;
			}
		}
		snprintf(err, errlen, "[%s] class: '%s' is not a class (write latency, normal "
			 "or bulk)", sec, val);
		return -1;
	}
	snprintf(err, errlen, "[%s] %s: unknown field (see fastpathd --help-config)", sec, key);
	return -1;
}

/* ------------------------------------------------------------- checks */

int config_tenants_validate(const struct bp_tenants *ts, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < ts->n; i++) {
		const struct bp_tenant_cfg *a = &ts->t[i];
		/* a bucket that takes longer than a day to fill is a typo, and
		 * its depth in cycles (tq_depth()) must not overflow */
		if (a->rate_bps && a->burst_bytes / BP_TENANT_MAX_BURST_S > a->rate_bps / 8) {
			snprintf(err, errlen, "[tenant %s] burst: %llu bytes is more than a day of "
				 "sending at its rate (%llu bit/s): make it smaller or leave it out",
				 a->name, (unsigned long long)a->burst_bytes,
				 (unsigned long long)a->rate_bps);
			return -1;
		}
		for (uint32_t j = i + 1; j < ts->n; j++) {
			const struct bp_tenant_cfg *b = &ts->t[j];
			for (uint32_t x = 0; x < a->nuids; x++)
				for (uint32_t y = 0; y < b->nuids; y++)
					if (a->uids[x] == b->uids[y])
						goto uid_tie;
			for (uint32_t x = 0; x < a->ngids; x++)
				for (uint32_t y = 0; y < b->ngids; y++)
					if (a->gids[x] == b->gids[y])
						goto gid_tie;
			if (a->cgroup[0] && !strcmp(a->cgroup, b->cgroup)) {
				snprintf(err, errlen, "[tenant %s] cgroup: '%s' is also [tenant %s]'s; "
					 "a caller must match one tenant: give one of them "
					 "another path", b->name, b->cgroup, a->name);
				return -1;
			}
			continue;
uid_tie:
			snprintf(err, errlen, "[tenant %s] uids: a uid is also listed by [tenant %s]; "
				 "a caller must match one tenant: list it in one of them only",
				 b->name, a->name);
			return -1;
gid_tie:
			snprintf(err, errlen, "[tenant %s] gids: a gid is also listed by [tenant %s]; "
				 "a caller must match one tenant: list it in one of them only",
				 b->name, a->name);
			return -1;
		}
	}
	if (ts->unknown_set && ts->unknown[0] && strcmp(ts->unknown, BP_TENANT_DEFAULT_NAME) &&
	    config_tenant_find(ts, ts->unknown) < 0) {
		snprintf(err, errlen, "[tenants] unknown: no [tenant %s] section; name a tenant, "
			 "'default' or 'refuse'", ts->unknown);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------- matching */

/* @prefix is @path or one of its ancestors (whole components) */
static size_t cgroup_prefix(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);

	if (!n)
		return 0;
	if (!strcmp(prefix, "/"))
		return 1;
	if (strncmp(prefix, path, n) || (path[n] && path[n] != '/'))
		return 0;
	return n;
}

int config_tenant_match(const struct bp_tenants *ts, uint32_t uid, uint32_t gid,
			const uint32_t *groups, uint32_t ngroups, const char *cgroup)
{
	for (uint32_t i = 0; i < ts->n; i++)
		for (uint32_t k = 0; k < ts->t[i].nuids; k++)
			if (ts->t[i].uids[k] == uid)
				return (int)i;
	for (int g = -1; g < (int)ngroups; g++) {
		uint32_t want = g < 0 ? gid : groups[g];
		for (uint32_t i = 0; i < ts->n; i++)
			for (uint32_t k = 0; k < ts->t[i].ngids; k++)
				if (ts->t[i].gids[k] == want)
					return (int)i;
	}
	int best = -1;
	size_t best_len = 0;
	for (uint32_t i = 0; cgroup && *cgroup && i < ts->n; i++) {
		size_t n = cgroup_prefix(ts->t[i].cgroup, cgroup);
		if (n > best_len) {
			best_len = n;
			best = (int)i;
		}
	}
	return best;
}

bool bp_tenant_port_ok(const struct bp_tenant_cfg *t, uint16_t port)
{
	if (!t->nports)
		return port >= 1024;
	for (uint32_t i = 0; i < t->nports; i++)
		if (port >= t->ports[i].lo && port <= t->ports[i].hi)
			return true;
	return false;
}

bool bp_tenant_connect_ok(const struct bp_tenant_cfg *t, uint32_t ip)
{
	if (!t->nconnect)
		return true;
	for (uint32_t i = 0; i < t->nconnect; i++)
		if ((ip & t->connect[i].mask) == t->connect[i].net)
			return true;
	return false;
}

void config_tenants_free(struct bp_tenants *ts)
{
	free(ts->t);
	ts->t = NULL;
	ts->n = 0;
}

void config_tenants_move(struct bp_tenants *dst, struct bp_tenants *src)
{
	free(dst->t);
	*dst = *src;
	src->t = NULL;
	src->n = 0;
}

void config_tenant_print_fields(FILE *out)
{
	static const char *const f[][2] = {
		{ "[tenants]", "" },
		{ "unknown", "callers no [tenant] section lists: the tenant named here (default: \"default\"), or \"refuse\" (EACCES at attach)" },
		{ "[tenant NAME]", "(NAME: 1-31 of A-Z a-z 0-9 _ . -; ids 1.. in file order; [tenant default] is id 0)" },
		{ "uids", "user names or uids, comma-separated; matched first" },
		{ "gids", "group names or gids: primary, then supplementary groups; matched second" },
		{ "cgroup", "cgroup v2 path prefix (/proc/PID/cgroup); the longest match; matched third" },
		{ "listen_ports", "ports and ranges it may listen on, e.g. 80, 8000-8999 (default 1024-65535; below 1024 only if listed; uid 0 may listen anywhere)" },
		{ "connect", "remote CIDRs it may connect to, e.g. 198.18.0.0/15 (default 0.0.0.0/0)" },
		{ "max_apps", "attached apps (EMFILE beyond; 0 = no limit)" },
		{ "max_flows", "flows, half-open included (ENOBUFS beyond; 0 = no limit)" },
		{ "max_buf_mb", "flow buffer MiB, RPC heaps included; on huge pages whole app regions (ENOBUFS beyond; 0 = no limit)" },
		{ "rate", "egress bits/s, k/m/g suffixes, \"bit\" optional: 200mbit, 1g (0 = none; "
			  "else 1kbit or more)" },
		{ "burst", "token bucket depth in bytes, k/m suffixes (default max(64k, 2 ms at rate); "
			   "1500 to a day's worth at rate)" },
		{ "weight", "1..1000 (default 1): share of the link and the fastpath under contention" },
		{ "class", "latency, normal or bulk (default normal)" },
		{ "rx_rate", "ingress bits/s via the receive window (0 = none; always counted)" },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (f[i][0][0] == '[')
			fprintf(out, "%s%s%s\n", f[i][0], f[i][1][0] ? " " : "", f[i][1]);
		else
			fprintf(out, "  %-14s %s\n", f[i][0], f[i][1]);
	}
}

// SPDX-License-Identifier: MIT
/*
 * test_config_tenant.c - the [tenants] and [tenant NAME] sections: a good
 * file, every bad field (the error must name section and field), rate and
 * burst suffixes, and matching with its ties.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char err[512];

static int load_text(struct bp_config *c, const char *text)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/bypass_tcfg_XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	config_defaults(c);
	err[0] = 0;
	int rc = config_load_file(c, path, err, sizeof(err));
	if (!rc) {
		config_set(c, "port", "device", "net_tap0", err, sizeof(err));
		config_set(c, "port", "ip", "198.18.0.1/24", err, sizeof(err));
		rc = config_validate(c, err, sizeof(err));
	}
	unlink(path);
	return rc;
}

static void bad(const char *text, const char *want1, const char *want2)
{
	struct bp_config c;
	cr_assert_eq(load_text(&c, text), -1, "accepted: %s", text);
	cr_assert_not_null(strstr(err, want1), "error '%s' lacks '%s'", err, want1);
	if (want2)
		cr_assert_not_null(strstr(err, want2), "error '%s' lacks '%s'", err, want2);
	config_free(&c);
}

static const char good[] =
	"[daemon]\nsocket_group = 0\n"
	"[tenants]\nunknown = default\n"
	"[tenant default]\nlisten_ports = 1024-65535\n"
	"[tenant web]\nuids = 1001, root\ngids = 2001\ncgroup = /system.slice/web/\n"
	"listen_ports = 80, 443, 8000-8999\nconnect = 198.18.0.0/15, 10.0.0.5\n"
	"max_apps = 16\nmax_flows = 1000\nmax_buf_mb = 256\n"
	"rate = 200mbit\nburst = 256k\nweight = 3\nclass = latency\nrx_rate = 1g\n"
	"[tenant bulk.b-2]\ncgroup = /system.slice\nclass = bulk\nrate = 500kbit\n";

Test(config_tenant, good_file)
{
	struct bp_config c;
	cr_assert_eq(load_text(&c, good), 0, "%s", err);
	cr_assert_eq(c.tenants.n, 3);
	cr_assert_str_eq(c.socket_group, "0");
	const struct bp_tenant_cfg *d = &c.tenants.t[0], *w = &c.tenants.t[1], *b = &c.tenants.t[2];
	cr_assert_str_eq(d->name, "default");
	cr_assert_str_eq(w->name, "web");
	cr_assert_str_eq(b->name, "bulk.b-2");
	cr_assert_eq(w->nuids, 2);
	cr_assert_eq(w->uids[0], 1001);
	cr_assert_eq(w->uids[1], 0);
	cr_assert_eq(w->gids[0], 2001);
	cr_assert_str_eq(w->cgroup, "/system.slice/web");
	cr_assert_eq(w->nports, 3);
	cr_assert(bp_tenant_port_ok(w, 80));
	cr_assert(bp_tenant_port_ok(w, 8500));
	cr_assert_not(bp_tenant_port_ok(w, 81));
	cr_assert_not(bp_tenant_port_ok(w, 9000));
	cr_assert(bp_tenant_port_ok(b, 1024));
	cr_assert_not(bp_tenant_port_ok(b, 80), "below 1024 only if listed");
	cr_assert(bp_tenant_connect_ok(w, inet_addr("198.19.3.4")));
	cr_assert(bp_tenant_connect_ok(w, inet_addr("10.0.0.5")));
	cr_assert_not(bp_tenant_connect_ok(w, inet_addr("10.0.0.6")));
	cr_assert(bp_tenant_connect_ok(b, inet_addr("1.2.3.4")), "default: anywhere");
	cr_assert_eq(w->max_apps, 16);
	cr_assert_eq(w->max_flows, 1000);
	cr_assert_eq(w->max_buf_mb, 256);
	cr_assert_eq(w->rate_bps, 200000000ull);
	cr_assert_eq(w->burst_bytes, 256 * 1024);
	cr_assert_eq(w->weight, 3);
	cr_assert_eq(w->class_, BP_CLASS_LATENCY);
	cr_assert_eq(w->rx_rate_bps, 1000000000ull);
	cr_assert_eq(b->class_, BP_CLASS_BULK);
	cr_assert_eq(b->rate_bps, 500000);
	cr_assert_eq(b->weight, 1);
	cr_assert_eq(bp_tenant_burst(b), 65536, "default burst: at least 64 KiB");
	cr_assert_eq(d->class_, BP_CLASS_NORMAL);
	config_free(&c);
}

Test(config_tenant, rate_and_burst_suffixes)
{
	static const struct { const char *v; uint64_t bps; } rates[] = {
		{ "0", 0 }, { "1000", 1000 }, { "200m", 200000000ull }, { "200mbit", 200000000ull },
		{ "1g", 1000000000ull }, { "1Gbit", 1000000000ull }, { "500kbit", 500000 },
		{ "500k", 500000 },
	};
	struct bp_tenants ts = { 0 };
	cr_assert_eq(config_tenant_section(&ts, "tenant t", err, sizeof(err)), 1);
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		cr_assert_eq(config_tenant_set(&ts, "tenant t", "rate", rates[i].v, err,
					       sizeof(err)), 1, "%s: %s", rates[i].v, err);
		cr_assert_eq(ts.t[0].rate_bps, rates[i].bps, "%s", rates[i].v);
	}
	cr_assert_eq(config_tenant_set(&ts, "tenant t", "rate", "10gbit", err, sizeof(err)), 1);
	cr_assert_eq(bp_tenant_burst(&ts.t[0]), 10000000000ull / 8 / 500, "2 ms at 10 Gbit/s");
	static const struct { const char *v; uint64_t b; } bursts[] = {
		{ "65536", 65536 }, { "256k", 262144 }, { "1m", 1048576 }, { "2M", 2097152 },
	};
	for (size_t i = 0; i < sizeof(bursts) / sizeof(bursts[0]); i++) {
		cr_assert_eq(config_tenant_set(&ts, "tenant t", "burst", bursts[i].v, err,
					       sizeof(err)), 1, "%s: %s", bursts[i].v, err);
		cr_assert_eq(ts.t[0].burst_bytes, bursts[i].b, "%s", bursts[i].v);
	}
	static const char *const bad_rates[] = { "fast", "200mb", "200 mbit", "-1", "1t", "" };
	for (size_t i = 0; i < sizeof(bad_rates) / sizeof(bad_rates[0]); i++) {
		cr_assert_eq(config_tenant_set(&ts, "tenant t", "rate", bad_rates[i], err,
					       sizeof(err)), -1, "'%s' accepted", bad_rates[i]);
		cr_assert_not_null(strstr(err, "[tenant t] rate"), "%s", err);
		cr_assert_not_null(strstr(err, "200mbit"), "says what to write: %s", err);
	}
	/* 1 bit/s is a typo (one segment in 3 hours); 16 bytes a bucket no
	 * segment fits in: the tenant could never send */
	cr_assert_eq(config_tenant_set(&ts, "tenant t", "rate", "999", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "[tenant t] rate: '999' is below the least rate"), "%s", err);
	cr_assert_eq(config_tenant_set(&ts, "tenant t", "rx_rate", "1", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "[tenant t] rx_rate"), "%s", err);
	cr_assert_eq(config_tenant_set(&ts, "tenant t", "burst", "16", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "[tenant t] burst: '16' is less than one full segment"),
			   "%s", err);
	cr_assert_eq(config_tenant_set(&ts, "tenant t", "burst", "0", err, sizeof(err)), -1);
	cr_assert_eq(config_tenant_set(&ts, "tenant t", "burst", "1x", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "[tenant t] burst"), "%s", err);
	config_tenants_free(&ts);
}

Test(config_tenant, each_bad_field)
{
	bad("[tenant a]\nuids = nosuchuser_bp\n", "[tenant a] uids", "nosuchuser_bp");
	bad("[tenant a]\ngids = nosuchgroup_bp\n", "[tenant a] gids", "nosuchgroup_bp");
	bad("[tenant a]\ncgroup = system.slice\n", "[tenant a] cgroup", "/proc/PID/cgroup");
	bad("[tenant a]\nlisten_ports = 80, 0\n", "[tenant a] listen_ports", "8000-8999");
	bad("[tenant a]\nlisten_ports = 90-80\n", "[tenant a] listen_ports", "'90-80'");
	bad("[tenant a]\nlisten_ports = 70000\n", "[tenant a] listen_ports", NULL);
	bad("[tenant a]\nlisten_ports = \n", "[tenant a] listen_ports", "empty");
	bad("[tenant a]\nconnect = 10.0.0.0/33\n", "[tenant a] connect", "CIDR");
	bad("[tenant a]\nconnect = example.com\n", "[tenant a] connect", NULL);
	bad("[tenant a]\nmax_apps = many\n", "[tenant a] max_apps", "0 = no limit");
	bad("[tenant a]\nmax_flows = -1\n", "[tenant a] max_flows", NULL);
	bad("[tenant a]\nmax_buf_mb = 1x\n", "[tenant a] max_buf_mb", NULL);
	bad("[tenant a]\nweight = 0\n", "[tenant a] weight", "1..1000");
	bad("[tenant a]\nweight = 1001\n", "[tenant a] weight", NULL);
	bad("[tenant a]\nclass = urgent\n", "[tenant a] class", "latency, normal or bulk");
	bad("[tenant a]\nrx_rate = lots\n", "[tenant a] rx_rate", NULL);
	/* a bucket that takes more than a day to fill, either field first */
	bad("[tenant a]\nrate = 1kbit\nburst = 1g\n", "[tenant a] burst", "more than a day");
	bad("[tenant a]\nburst = 1g\nrate = 1kbit\n", "[tenant a] burst", "more than a day");
	bad("[tenant a]\ncolour = red\n", "[tenant a] colour", "unknown field");
	bad("[tenant a b]\n", "[tenant a b]", "tenant name");
	bad("[tenant abcdefghijklmnopqrstuvwxyz0123456]\n", "tenant name", NULL);
	bad("[tenant a]\n[tenant a]\n", "[tenant a]", "defined twice");
	bad("[tenants]\nunknown = nobody\n", "[tenants] unknown", "no [tenant nobody]");
	bad("[tenants]\nunknown = a b\n", "[tenants] unknown", "refuse");
	bad("[tenants]\ndefault = x\n", "[tenants] default", "unknown field");
	bad("[daemon]\nsocket_group = nosuchgroup_bp\n", "[daemon] socket_group", "nosuchgroup_bp");
	bad("[daemon]\nadmin_group = nosuchgroup_bp\n", "[daemon] admin_group", "nosuchgroup_bp");
}

Test(config_tenant, admin_group)
{
	struct bp_config c;
	cr_assert_eq(load_text(&c, "[daemon]\nadmin_group = 0\n"), 0, "%s", err);
	cr_assert_str_eq(c.admin_group, "0");
	config_free(&c);
}

Test(config_tenant, ties_are_errors_naming_both)
{
	bad("[tenant a]\nuids = 1001\n[tenant b]\nuids = 7, 1001\n", "[tenant b] uids",
	    "[tenant a]");
	bad("[tenant a]\ngids = 5\n[tenant b]\ngids = 5\n", "[tenant b] gids", "[tenant a]");
	bad("[tenant a]\ncgroup = /x/y\n[tenant b]\ncgroup = /x/y/\n", "[tenant b] cgroup",
	    "[tenant a]");
}

Test(config_tenant, matching_order)
{
	struct bp_config c;
	cr_assert_eq(load_text(&c,
		"[tenant byuid]\nuids = 1001\n"
		"[tenant bygid]\ngids = 2001\n"
		"[tenant bysupp]\ngids = 3001\n"
		"[tenant outer]\ncgroup = /system.slice\n"
		"[tenant inner]\ncgroup = /system.slice/web\n"), 0, "%s", err);
	const struct bp_tenants *ts = &c.tenants;
	uint32_t supp[] = { 4000, 3001 };
	/* uid beats everything */
	cr_assert_eq(config_tenant_match(ts, 1001, 2001, supp, 2, "/system.slice/web"), 0);
	/* primary gid beats supplementary and cgroup */
	cr_assert_eq(config_tenant_match(ts, 5, 2001, supp, 2, "/system.slice/web"), 1);
	cr_assert_eq(config_tenant_match(ts, 5, 6, supp, 2, "/system.slice/web"), 2);
	/* the longest cgroup prefix, whole components only */
	cr_assert_eq(config_tenant_match(ts, 5, 6, NULL, 0, "/system.slice/web/x"), 4);
	cr_assert_eq(config_tenant_match(ts, 5, 6, NULL, 0, "/system.slice/web"), 4);
	cr_assert_eq(config_tenant_match(ts, 5, 6, NULL, 0, "/system.slice/webby"), 3);
	cr_assert_eq(config_tenant_match(ts, 5, 6, NULL, 0, "/system.slicex"), -1);
	cr_assert_eq(config_tenant_match(ts, 5, 6, NULL, 0, ""), -1);
	cr_assert_eq(config_tenant_match(ts, 5, 6, NULL, 0, NULL), -1);
	config_free(&c);
}

Test(config_tenant, refuse_and_help)
{
	struct bp_config c;
	cr_assert_eq(load_text(&c, "[tenants]\nunknown = refuse\n"), 0, "%s", err);
	cr_assert(c.tenants.unknown_set);
	cr_assert_eq(c.tenants.unknown[0], 0);
	config_free(&c);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	config_print_fields(f);
	fclose(f);
	static const char *const keys[] = { "socket_group", "admin_group", "(default: 16384)",
		"[tenants]", "unknown", "[tenant NAME]",
		"uids", "gids", "cgroup", "listen_ports", "connect", "max_apps", "max_flows",
		"max_buf_mb", "rate", "burst", "weight", "class", "rx_rate" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		cr_assert_not_null(strstr(buf, keys[i]), "--help-config lacks %s", keys[i]);
	free(buf);
}

// SPDX-License-Identifier: MIT
/*
 * test_metrics_render.c - the Prometheus text renderer and the telemetry
 * keys (slowpath/metrics_render.c), and the daemon's metric names
 * against Prometheus' naming rules.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "metrics.h"
#include "metrics_sp.h"

static const struct mt_family
	f_c = { "bypass_x_bytes_total", "Bytes.", MT_COUNTER, MT_TENANT, NULL },
	f_g = { "bypass_y", "A gauge.", MT_GAUGE, MT_GLOBAL, "state" },
	f_r = { "bypass_core_busy_ratio", "Busy.", MT_GAUGE, MT_CORE, NULL },
	f_bad = { "bypass-bad", "Invalid name.", MT_GAUGE, MT_GLOBAL, NULL },
	f_esc = { "bypass_esc", "Back\\slash and\nnewline \"kept\".", MT_GAUGE, MT_PORT, "device" };

static char *render(struct mt_set *set)
{
	static struct mt_buf b;

	mt_buf_free(&b);
	mt_render_prom(set, &b);
	cr_assert_not(b.oom);
	return b.p ? b.p : "";
}

Test(metrics_render, label_values_escaped)
{
	struct mt_set set = { 0 };

	mt_add(&set, &f_esc, "0", "a\\b\"c\nd", 1, 0);
	const char *t = render(&set);
	cr_assert(strstr(t, "bypass_esc{port=\"0\",device=\"a\\\\b\\\"c\\nd\"} 1\n"), "%s", t);
	/* HELP escapes backslash and newline, not quotes */
	cr_assert(strstr(t, "# HELP bypass_esc Back\\\\slash and\\nnewline \"kept\".\n"), "%s", t);
	cr_assert(strstr(t, "# TYPE bypass_esc gauge\n"), "%s", t);
	/* no raw newline inside any line: every line starts with # or the name */
	for (const char *l = t; *l; l = strchr(l, '\n') + 1)
		cr_assert(*l == '#' || !strncmp(l, "bypass_esc{", 11), "stray line: %s", l);
	mt_set_free(&set);
}

Test(metrics_render, families_contiguous_with_one_help_and_type)
{
	struct mt_set set = { 0 };

	mt_add(&set, &f_c, "a", NULL, 10, 0);
	mt_add(&set, &f_g, NULL, "established", 3, 0);
	mt_add(&set, &f_c, "b", NULL, 20, 0);
	mt_add(&set, &f_g, NULL, "time_wait", 4, 0);
	const char *t = render(&set);
	cr_assert_str_eq(t,
			 "# HELP bypass_x_bytes_total Bytes.\n"
			 "# TYPE bypass_x_bytes_total counter\n"
			 "bypass_x_bytes_total{tenant=\"a\"} 10\n"
			 "bypass_x_bytes_total{tenant=\"b\"} 20\n"
			 "# HELP bypass_y A gauge.\n"
			 "# TYPE bypass_y gauge\n"
			 "bypass_y{state=\"established\"} 3\n"
			 "bypass_y{state=\"time_wait\"} 4\n");
	mt_set_free(&set);
}

Test(metrics_render, exact_fractions_and_big_counters)
{
	struct mt_set set = { 0 };

	mt_add(&set, &f_r, "0", NULL, 37, 100);
	mt_add(&set, &f_r, "1", NULL, 5, 100);
	mt_add(&set, &f_r, "2", NULL, 100, 100);
	mt_add(&set, &f_r, "3", NULL, 1, 3);
	mt_add(&set, &f_c, "t", NULL, UINT64_MAX, 0);
	const char *t = render(&set);
	cr_assert(strstr(t, "{core=\"0\"} 0.37\n"), "%s", t);
	cr_assert(strstr(t, "{core=\"1\"} 0.05\n"), "%s", t);
	cr_assert(strstr(t, "{core=\"2\"} 1\n"), "%s", t);
	cr_assert(strstr(t, "{core=\"3\"} 0.333333333333\n"), "%s", t);
	cr_assert(strstr(t, "{tenant=\"t\"} 18446744073709551615\n"), "%s", t);
	mt_set_free(&set);
}

Test(metrics_render, invalid_names_left_out)
{
	struct mt_set set = { 0 };

	mt_add(&set, &f_bad, NULL, NULL, 1, 0);
	mt_add(&set, &f_g, NULL, "x", 2, 0);
	const char *t = render(&set);
	cr_assert_null(strstr(t, "bypass-bad"), "%s", t);
	cr_assert(strstr(t, "bypass_y{state=\"x\"} 2\n"), "%s", t);
	mt_set_free(&set);
}

Test(metrics_render, long_label_values_cut_not_overflowing)
{
	struct mt_set set = { 0 };
	char big[300];

	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mt_add(&set, &f_c, big, NULL, 1, 0);
	cr_assert_eq(strlen(set.s[0].scope_val), MT_LABEL_LEN - 1);
	mt_set_free(&set);
}

Test(metrics_render, name_rules)
{
	cr_assert(mt_name_ok("bypass_rx_packets_total", false));
	cr_assert(mt_name_ok("a:b_c9", false));
	cr_assert_not(mt_name_ok("9abc", false));
	cr_assert_not(mt_name_ok("a-b", false));
	cr_assert_not(mt_name_ok("", false));
	cr_assert(mt_name_ok("tenant", true));
	cr_assert_not(mt_name_ok("a:b", true));
	cr_assert_not(mt_name_ok("__name__", true));
}

Test(metrics_render, telemetry_keys)
{
	struct mt_set set = { 0 };
	char k[128];
	static const struct mt_family
		f_td = { "bypass_tenant_denied_total", "x", MT_COUNTER, MT_TENANT, "reason" },
		f_dev = { "bypass_port_info", "x", MT_GAUGE, MT_PORT, "device" };

	mt_add(&set, &f_td, "a", "port", 1, 0);
	mt_add(&set, &f_r, "0", NULL, 37, 100);
	mt_add(&set, &f_dev, "0", "net_af_packet0,iface=x", 1, 0);
	mt_add(&set, &f_c, "a", NULL, 1, 0);
	mt_tel_key(&set.s[0], k, sizeof(k));
	cr_assert_str_eq(k, "denied_port_total");
	mt_tel_key(&set.s[1], k, sizeof(k));
	cr_assert_str_eq(k, "busy_pct");
	mt_tel_key(&set.s[2], k, sizeof(k));
	cr_assert_str_eq(k, "info_net_af_packet0_iface_x");
	mt_tel_key(&set.s[3], k, sizeof(k));
	cr_assert_str_eq(k, "x_bytes_total");
	mt_set_free(&set);
}

/* every name the daemon may report follows Prometheus conventions */
Test(metrics_render, daemon_names_follow_conventions)
{
	const struct mt_family *f[256];
	size_t n = sp_metrics_families(f, 256);

	cr_assert(n > 40 && n <= 256, "%zu families", n);
	for (size_t i = 0; i < n; i++) {
		const char *name = f[i]->name;
		size_t len = strlen(name);
		bool total = len > 6 && !strcmp(name + len - 6, "_total");

		cr_assert(mt_name_ok(name, false), "%s", name);
		cr_assert(!strncmp(name, "bypass_", 7), "%s: no bypass_ prefix", name);
		cr_assert(f[i]->help && *f[i]->help, "%s: no help", name);
		cr_assert_eq(total, f[i]->type == MT_COUNTER, "%s: _total iff counter", name);
		cr_assert(!f[i]->label2 || mt_name_ok(f[i]->label2, true), "%s", name);
		cr_assert_null(strstr(name, "_ms"), "%s: base units", name);
		cr_assert_null(strstr(name, "_pct"), "%s: base units", name);
		cr_assert_null(strstr(name, "unknown"), "%s: a counter without a name", name);
		for (size_t j = 0; j < i; j++)
			cr_assert(strcmp(name, f[j]->name), "%s twice", name);
	}
}

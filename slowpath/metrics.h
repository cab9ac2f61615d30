/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - the daemon's counters as one list of series, rendered for
 * Prometheus (text exposition format 0.0.4: HTTP listener, bypassctl
 * metrics) and for DPDK telemetry (/bypass/... commands).
 *
 * One source: sp_metrics_collect() (metrics.c, slowpath thread only)
 * gathers every counter into a struct mt_set; the renderers in
 * metrics_render.c are pure functions of that set, so what Prometheus,
 * bypassctl and dpdk-telemetry.py show cannot drift apart.
 */
#ifndef SP_METRICS_H
#define SP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* what a series is labelled by, beyond its own optional second label */
enum mt_scope { MT_GLOBAL, MT_PORT, MT_CORE, MT_TENANT };
enum mt_type { MT_COUNTER, MT_GAUGE };

/**
 * struct mt_family - one metric name.
 * @name: full Prometheus name (bypass_..., counters end in _total).
 * @help: HELP text (escaped when rendered).
 * @type: counter or gauge.
 * @scope: MT_PORT/MT_CORE/MT_TENANT add the label port/core/tenant.
 * @label2: name of a second label (reason, state ...), NULL = none.
 */
struct mt_family {
	const char *name;
	const char *help;
	uint8_t type;
	uint8_t scope;
	const char *label2;
};

#define MT_LABEL_LEN 64

/**
 * struct mt_sample - one series' value.
 * @fam: its family.
 * @scope_val: value of the scope label ("" for MT_GLOBAL).
 * @label2_val: value of @fam->label2.
 * @value: the value, an integer; with @div > 1 the value is @value / @div
 *         (busy 37 % is 37 / 100), printed exactly.
 * @div: 0 or 1 = integer.
 */
struct mt_sample {
	const struct mt_family *fam;
	char scope_val[MT_LABEL_LEN];
	char label2_val[MT_LABEL_LEN];
	uint64_t value;
	uint32_t div;
};

/* a growable list of samples; zero-initialised is empty */
struct mt_set {
	struct mt_sample *s;
	size_t n, cap;
	bool oom;                   /* a sample was lost for want of memory */
};

/* a growable output buffer; zero-initialised is empty */
struct mt_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

/**
 * mt_add - append one sample to @set (dropped, and @set->oom set, if no
 * memory).  @scope_val/@label2_val may be NULL; values longer than
 * MT_LABEL_LEN - 1 are cut.
 */
void mt_add(struct mt_set *set, const struct mt_family *fam, const char *scope_val,
	    const char *label2_val, uint64_t value, uint32_t div);

/** mt_set_free - release @set's samples; it is empty again. */
void mt_set_free(struct mt_set *set);

/** mt_buf_free - release @b's text; it is empty again. */
void mt_buf_free(struct mt_buf *b);

/** mt_buf_printf - append to @b (sets @b->oom on failure). */
void mt_buf_printf(struct mt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * mt_name_ok - is @name a valid Prometheus metric (or, @label, label) name?
 * Metric: [a-zA-Z_:][a-zA-Z0-9_:]*; label: [a-zA-Z_][a-zA-Z0-9_]*, not
 * starting with "__" (reserved).
 */
bool mt_name_ok(const char *name, bool label);

/**
 * mt_render_prom - @set in Prometheus text format 0.0.4 into @out: for
 * each family with samples, in the order families first appear, its HELP
 * and TYPE lines and then its samples (each family's lines contiguous, as
 * the format requires, whatever order they were added in).  Label values
 * escape backslash, double quote and newline; HELP escapes backslash and
 * newline.  Samples whose family name is invalid are left out.
 */
void mt_render_prom(const struct mt_set *set, struct mt_buf *out);

/**
 * mt_tel_key - the key a sample has in a DPDK telemetry dictionary: the
 * family name without "bypass_" and the scope's own prefix ("tenant_",
 * "core_", "port_"), with "_" and the second label's value before a final
 * "_total" (or at the end), every character outside [A-Za-z0-9_] replaced
 * by '_'.  Telemetry carries the integer: a value with @div 100 named
 * *_ratio becomes *_pct, any other divisor is named (_per_N).
 */
void mt_tel_key(const struct mt_sample *s, char *key, size_t len);

#endif /* SP_METRICS_H */

// SPDX-License-Identifier: MIT
/*
 * metrics_render.c - the series list (metrics.h) and its renderings:
 * Prometheus text exposition format 0.0.4 and DPDK telemetry keys.  Pure:
 * no daemon state, unit-tested on its own (tests/unit/test_metrics_render.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

void mt_add(struct mt_set *set, const struct mt_family *fam, const char *scope_val,
	    const char *label2_val, uint64_t value, uint32_t div)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 128;
		struct mt_sample *s = realloc(set->s, cap * sizeof(*s));
		if (!s) {
			set->oom = true;
			return;
		}
		set->s = s;
		set->cap = cap;
	}
	struct mt_sample *o = &set->s[set->n++];
	o->fam = fam;
	snprintf(o->scope_val, sizeof(o->scope_val), "%s", scope_val ? scope_val : "");
	snprintf(o->label2_val, sizeof(o->label2_val), "%s", label2_val ? label2_val : "");
	o->value = value;
	o->div = div;
}

void mt_set_free(struct mt_set *set)
{
	free(set->s);
	memset(set, 0, sizeof(*set));
}

void mt_buf_free(struct mt_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static bool buf_reserve(struct mt_buf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void mt_buf_printf(struct mt_buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];

	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_reserve(b, (size_t)n))
		return;
	if ((size_t)n < sizeof(small)) {
		memcpy(b->p + b->len, small, (size_t)n + 1);
	} else {
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

static void buf_putc(struct mt_buf *b, char c)
{
	if (!buf_reserve(b, 1))
		return;
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

/* HELP escapes \ and newline; label values also " (format 0.0.4) */
static void put_escaped(struct mt_buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, '\\');
		} else if (*s == '\n') {
			buf_putc(b, '\\');
			buf_putc(b, 'n');
		} else if (*s == '"' && quote) {
			buf_putc(b, '\\');
			buf_putc(b, '"');
		} else {
			buf_putc(b, *s);
		}
	}
}

bool mt_name_ok(const char *name, bool label)
{
	if (!name || !*name)
		return false;
	if (label && name[0] == '_' && name[1] == '_')
		return false;
	for (const char *c = name; *c; c++) {
		bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
			     (!label && *c == ':');
		if (!alpha && !(c != name && *c >= '0' && *c <= '9'))
			return false;
	}
	return true;
}

static const char *const scope_label[] = {
	[MT_GLOBAL] = NULL, [MT_PORT] = "port", [MT_CORE] = "core", [MT_TENANT] = "tenant",
};

static void put_value(struct mt_buf *b, const struct mt_sample *s)
{
	if (s->div <= 1) {
		mt_buf_printf(b, "%llu", (unsigned long long)s->value);
		return;
	}
	/* exact decimal of value / div: no binary floating point on the way */
	mt_buf_printf(b, "%llu", (unsigned long long)(s->value / s->div));
	uint64_t rem = s->value % s->div;
	if (!rem)
		return;
	buf_putc(b, '.');
	for (int digits = 0; rem && digits < 12; digits++) {
		rem *= 10;
		buf_putc(b, (char)('0' + rem / s->div));
		rem %= s->div;
	}
}

static void put_sample(struct mt_buf *b, const struct mt_sample *s)
{
	const struct mt_family *f = s->fam;
	const char *sl = f->scope < sizeof(scope_label) / sizeof(scope_label[0]) ?
			 scope_label[f->scope] : NULL;

	mt_buf_printf(b, "%s", f->name);
	if (sl || f->label2) {
		buf_putc(b, '{');
		if (sl) {
			mt_buf_printf(b, "%s=\"", sl);
			put_escaped(b, s->scope_val, true);
			buf_putc(b, '"');
		}
		if (f->label2) {
			mt_buf_printf(b, "%s%s=\"", sl ? "," : "", f->label2);
			put_escaped(b, s->label2_val, true);
			buf_putc(b, '"');
		}
		buf_putc(b, '}');
	}
	buf_putc(b, ' ');
	put_value(b, s);
	buf_putc(b, '\n');
}

void mt_render_prom(const struct mt_set *set, struct mt_buf *out)
{
	bool *done = calloc(set->n ? set->n : 1, sizeof(*done));
	if (!done) {
		out->oom = true;
		return;
	}
	/* each family once, at its first sample: the format wants a family's
	 * lines together, and the collectors add them by source, not by name */
	for (size_t i = 0; i < set->n; i++) {
		const struct mt_family *f = set->s[i].fam;
		if (done[i])
			continue;
		bool ok = mt_name_ok(f->name, false) && (!f->label2 || mt_name_ok(f->label2, true));
		if (ok) {
			mt_buf_printf(out, "# HELP %s ", f->name);
			put_escaped(out, f->help ? f->help : "", false);
			mt_buf_printf(out, "\n# TYPE %s %s\n", f->name,
				      f->type == MT_COUNTER ? "counter" : "gauge");
		}
		for (size_t j = i; j < set->n; j++) {
			if (set->s[j].fam != f) /* one object per name (unit-tested) */
				continue;
			done[j] = true;
			if (ok)
				put_sample(out, &set->s[j]);
		}
	}
	free(done);
}

void mt_tel_key(const struct mt_sample *s, char *key, size_t len)
{
	static const char *const prefix[] = {
		[MT_GLOBAL] = "", [MT_PORT] = "port_", [MT_CORE] = "core_", [MT_TENANT] = "tenant_",
	};
	const char *n = s->fam->name;
	if (!strncmp(n, "bypass_", 7))
		n += 7;
	if (s->fam->scope <= MT_TENANT) {
		size_t pl = strlen(prefix[s->fam->scope]);
		if (pl && !strncmp(n, prefix[s->fam->scope], pl))
			n += pl;
	}
	/* the second label goes before a counter's _total; a fraction's
	 * integer (telemetry has no decimals here) is named for its divisor */
	size_t nl = strlen(n);
	bool total = nl > 6 && !strcmp(n + nl - 6, "_total");
	bool ratio = s->div > 1 && nl > 6 && !strcmp(n + nl - 6, "_ratio");
	int stem = (int)(total || ratio ? nl - 6 : nl);
	char tail[24] = "";
	if (total)
		snprintf(tail, sizeof(tail), "_total");
	else if (ratio && s->div == 100)
		snprintf(tail, sizeof(tail), "_pct");
	else if (s->div > 1)
		snprintf(tail, sizeof(tail), "%s_per_%u", ratio ? "_ratio" : "", s->div);
	if (s->fam->label2)
		snprintf(key, len, "%.*s_%s%s", stem, n, s->label2_val, tail);
	else
		snprintf(key, len, "%.*s%s", stem, n, tail);
	for (char *c = key; *c; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || *c == '_';
		if (!ok)
			*c = '_';
	}
}

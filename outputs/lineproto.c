/* Line protocol encoding: escaping, number formatting and the separators of one line.
 * Owns nothing but the caller's buffer while a line is open; no I/O, no globals, so
 * whichever thread builds a line runs this code. */
#include "outputs/lineproto.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A name line protocol can carry: non-empty, no line break, no trailing backslash
 * (it would escape the separator written after it). */
static bool name_ok(const char *s)
{
	size_t n;

	if (!s || !*s)
		return false;
	if (strpbrk(s, "\n\r"))
		return false;
	n = strlen(s);
	return s[n - 1] != '\\';
}

static void escape(GString *buf, const char *s, const char *special)
{
	for (; *s; s++) {
		if (strchr(special, *s))
			g_string_append_c(buf, '\\');
		g_string_append_c(buf, *s);
	}
}

void lp_escape_measurement(GString *buf, const char *s)
{
	escape(buf, s, ", ");
}

void lp_escape_key(GString *buf, const char *s)
{
	escape(buf, s, ",= ");
}

void lp_escape_string(GString *buf, const char *s)
{
	g_string_append_c(buf, '"');
	escape(buf, s, "\"\\");
	g_string_append_c(buf, '"');
}

int lp_format_float(GString *buf, double v)
{
	static const char *const fmts[] = {"%.15g", "%.16g", "%.17g"};
	char tmp[32];

	if (!isfinite(v))
		return -EINVAL;
	for (size_t i = 0; i < G_N_ELEMENTS(fmts); i++) {
		snprintf(tmp, sizeof(tmp), fmts[i], v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	/* %.17g always round-trips, so tmp holds the last format if none did earlier. */
	g_string_append(buf, tmp);
	return 0;
}

static int fail(struct lp_line *l, int err)
{
	if (!l->err)
		l->err = err;
	return err;
}

int lp_begin(struct lp_line *l, GString *buf, const char *measurement)
{
	*l = (struct lp_line){.buf = buf, .start = buf->len};
	if (!name_ok(measurement)) {
		l->bad = true;
		return fail(l, -EINVAL);
	}
	lp_escape_measurement(buf, measurement);
	return 0;
}

int lp_tag(struct lp_line *l, const char *key, const char *value)
{
	if (l->bad)
		return -EINVAL;
	if (l->n_fields > 0 || !name_ok(key))
		return fail(l, -EINVAL);
	if (!value || !*value)
		return 0;
	if (!name_ok(value))
		return fail(l, -EINVAL);
	g_string_append_c(l->buf, ',');
	lp_escape_key(l->buf, key);
	g_string_append_c(l->buf, '=');
	lp_escape_key(l->buf, value);
	return 0;
}

/* Writes the separator and "key=" of a field; the caller appends the value. */
static int field_key(struct lp_line *l, const char *key)
{
	if (l->bad)
		return -EINVAL;
	if (!name_ok(key))
		return fail(l, -EINVAL);
	g_string_append_c(l->buf, l->n_fields == 0 ? ' ' : ',');
	lp_escape_key(l->buf, key);
	g_string_append_c(l->buf, '=');
	l->n_fields++;
	return 0;
}

int lp_field_float(struct lp_line *l, const char *key, double v)
{
	if (!isfinite(v))
		return fail(l, -EINVAL);
	if (field_key(l, key) < 0)
		return -EINVAL;
	return lp_format_float(l->buf, v);
}

int lp_field_float_dec(struct lp_line *l, const char *key, double v, int decimals)
{
	char tmp[352];
	size_t n;

	if (decimals < 0)
		return lp_field_float(l, key, v);
	if (!isfinite(v))
		return fail(l, -EINVAL);
	if (field_key(l, key) < 0)
		return -EINVAL;
	snprintf(tmp, sizeof(tmp), "%.*f", decimals > 15 ? 15 : decimals, v);
	n = strlen(tmp);
	if (strchr(tmp, '.')) {
		while (n > 0 && tmp[n - 1] == '0')
			n--;
		if (n > 0 && tmp[n - 1] == '.')
			n--;
	}
	tmp[n] = '\0';
	if (strcmp(tmp, "-0") == 0)
		strcpy(tmp, "0");
	g_string_append(l->buf, tmp);
	return 0;
}

int lp_field_int(struct lp_line *l, const char *key, int64_t v)
{
	if (field_key(l, key) < 0)
		return -EINVAL;
	g_string_append_printf(l->buf, "%" PRId64 "i", v);
	return 0;
}

int lp_field_uint(struct lp_line *l, const char *key, uint64_t v)
{
	if (field_key(l, key) < 0)
		return -EINVAL;
	g_string_append_printf(l->buf, "%" PRIu64 "u", v);
	return 0;
}

int lp_field_bool(struct lp_line *l, const char *key, bool v)
{
	if (field_key(l, key) < 0)
		return -EINVAL;
	g_string_append(l->buf, v ? "true" : "false");
	return 0;
}

int lp_field_string(struct lp_line *l, const char *key, const char *v)
{
	if (!v)
		return fail(l, -EINVAL);
	if (field_key(l, key) < 0)
		return -EINVAL;
	lp_escape_string(l->buf, v);
	return 0;
}

int lp_end(struct lp_line *l, int64_t timestamp_ns)
{
	if (l->bad || l->n_fields == 0) {
		g_string_truncate(l->buf, l->start);
		return -EINVAL;
	}
	if (timestamp_ns != LP_NO_TIMESTAMP)
		g_string_append_printf(l->buf, " %" PRId64, timestamp_ns);
	g_string_append_c(l->buf, '\n');
	return l->err;
}

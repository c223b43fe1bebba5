/* InfluxDB line protocol encoding: a builder that appends one line at a time to a
 * caller's GString. Pure: no I/O, no globals. Any thread, as long as one builder and
 * its buffer are used by one thread at a time.
 *
 * Usage:
 *	struct lp_line l;
 *	lp_begin(&l, buf, "device_point");
 *	lp_tag(&l, "site", site);
 *	lp_field_float(&l, "value", v);
 *	if (lp_end(&l, ts_ns) < 0) ...; // line was not written
 *
 * Escaping follows the line protocol reference exactly:
 *   measurement:                     comma and space are escaped with a backslash;
 *   tag keys, tag values, field keys: comma, equals sign and space are escaped;
 *   string field values:             written in double quotes, '"' and '\' escaped.
 * Line protocol cannot carry a newline or carriage return in a measurement, tag or
 * field key, and an element ending in a backslash would escape the separator after it:
 * such names are rejected with -EINVAL. String field values may contain anything.
 *
 * A rejected tag or field leaves the line otherwise intact; the error is also
 * remembered and reported again by lp_end(), which still writes the line if it has at
 * least one field. A line that ends up with no field (or an invalid measurement) is
 * removed from the buffer entirely, so the buffer only ever holds valid lines. */
#ifndef HW_LINEPROTO_H
#define HW_LINEPROTO_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

/* Pass to lp_end() to leave the timestamp out (the server uses its receive time). */
#define LP_NO_TIMESTAMP INT64_MIN

/* The state of one line being built. Plain data on the caller's stack; the fields are
 * private to lineproto.c. */
struct lp_line {
	GString *buf; /* (transfer none) */
	gsize start;  /* offset of this line in buf */
	unsigned n_fields;
	int err;  /* first error of this line, 0 if none */
	bool bad; /* the line cannot be written (invalid measurement) */
};

/* Starts a line at the end of buf (which must be empty or end with "\n").
 * Returns 0, or -EINVAL if measurement is NULL, empty or unrepresentable (the line is
 * then void and lp_end() removes it). buf is borrowed until lp_end(). */
int lp_begin(struct lp_line *l, GString *buf, const char *measurement);

/* Adds a tag. Tags must come before the first field (-EINVAL otherwise). A NULL or
 * empty value is not representable in line protocol: the tag is omitted and 0 is
 * returned. An invalid key or value returns -EINVAL and the tag is omitted. Tags are
 * written in call order; sorting them by key (which helps the server) is the caller's
 * business. */
int lp_tag(struct lp_line *l, const char *key, const char *value);

/* Fields. Each returns 0, or -EINVAL (field omitted) for an invalid key, or for a
 * float that is NaN or infinite (line protocol has no representation for them).
 * Floats are written in the shortest of %.15g/%.16g/%.17g that reads back to the
 * same double; integers get the suffix "i", unsigned integers "u" (InfluxDB 2.x only;
 * 1.x rejects "u" unless built with uint support), booleans are true/false. */
int lp_field_float(struct lp_line *l, const char *key, double v);
/* A float rounded to `decimals` places (0..15; a negative count: lp_field_float), written
 * without trailing zeros: 26.400000000000002 with 2 decimals is 26.4, 230.0 with 1 is 230. */
int lp_field_float_dec(struct lp_line *l, const char *key, double v, int decimals);
int lp_field_int(struct lp_line *l, const char *key, int64_t v);
int lp_field_uint(struct lp_line *l, const char *key, uint64_t v);
int lp_field_bool(struct lp_line *l, const char *key, bool v);
int lp_field_string(struct lp_line *l, const char *key, const char *v); /* NULL: -EINVAL */

/* Finishes the line with the timestamp in nanoseconds (or LP_NO_TIMESTAMP) and "\n".
 * Returns 0 if the line was written and nothing was rejected; the first error of the
 * line if it was written with some tag or field left out; -EINVAL (nothing written,
 * buf restored) if the line has no field or its measurement was invalid. */
int lp_end(struct lp_line *l, int64_t timestamp_ns);

/* Appends s escaped for the given element; exposed for tests and for callers that
 * build lines by hand. */
void lp_escape_measurement(GString *buf, const char *s);
void lp_escape_key(GString *buf, const char *s);    /* tag key, tag value or field key */
void lp_escape_string(GString *buf, const char *s); /* string field value, with quotes */

/* Appends a finite double in its shortest round-trip form; -EINVAL for NaN/Inf. */
int lp_format_float(GString *buf, double v);

#endif

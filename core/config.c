/* Configuration loading: reads the gateway's libconfig file and the device profiles it names
 * (through cfgsrc.h, which bounds what is read) into the plain structs of config.h. Every
 * setting is declared once in a table (name, type, range, default, offset) and checked by one
 * validator. Runs on the main thread at start-up and on SIGHUP; no globals, no state kept
 * between calls. The only file that sees libconfig. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf, strndup */
#endif
#define LOG_TAG "config"
#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cfgsrc.h"
#include "core/log.h"
#include "core/timeparse.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- error collection ---- */

/* A text libconfig parsed (cfgsrc.h): its lines are mapped back to the files they came from. */
struct ldsrc {
	const char *name; /* the top file, as errors name it before mapping */
	const struct cfgsrc *src;
};

struct ldctx {
	struct cfg_errors *errs; /* may be NULL: errors are only counted */
	size_t n_err;
	bool oom;
	struct ldsrc src[2]; /* the configuration and the profile being read */
	size_t n_src;
};

/* The file and line that line of file (NULL: the source being read) came from. */
static const char *src_locate(const struct ldctx *x, const char *file, int *line)
{
	for (size_t i = x->n_src; i-- > 0;) {
		if (!file || strcmp(file, x->src[i].name) == 0)
			return cfgsrc_locate(x->src[i].src, *line, line);
	}
	return file;
}

/* "line N" when line of file came from the same file as at, "FILE:N" otherwise. */
static const char *line_ref(const struct ldctx *x, const char *file, int at, int line, char *buf,
			    size_t sz)
{
	const char *f1 = src_locate(x, file, &at), *f2 = src_locate(x, file, &line);

	if (f1 && f2 && strcmp(f1, f2) != 0)
		snprintf(buf, sz, "%s:%d", f2, line);
	else
		snprintf(buf, sz, "line %d", line);
	return buf;
}

static void verr_at(struct ldctx *x, const char *file, int line, const char *fmt, va_list ap)
{
	char *msg = NULL, *full = NULL, **v;

	x->n_err++;
	file = src_locate(x, file, &line);
	if (!x->errs)
		return;
	if (vasprintf(&msg, fmt, ap) < 0)
		goto oom;
	if (asprintf(&full, "%s:%d: %s", file ? file : "?", line, msg) < 0)
		goto oom_msg;
	v = realloc(x->errs->msgs, (x->errs->n + 1) * sizeof(*v));
	if (!v)
		goto oom_full;
	v[x->errs->n++] = full;
	x->errs->msgs = v;
	free(msg);
	return;
oom_full:
	free(full);
oom_msg:
	free(msg);
oom:
	x->oom = true;
}

static void err_at(struct ldctx *x, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_at(struct ldctx *x, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(x, file, line, fmt, ap);
	va_end(ap);
}

/* An error located at a setting: its file and line (the root, which has none, is line 1). */
static void err_set(struct ldctx *x, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_set(struct ldctx *x, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	int line = s ? config_setting_source_line(s) : 0;

	va_start(ap, fmt);
	verr_at(x, s ? config_setting_source_file(s) : NULL, line > 0 ? line : 1, fmt, ap);
	va_end(ap);
}

void cfg_errors_clear(struct cfg_errors *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	e->msgs = NULL;
	e->n = 0;
}

/* ---- small helpers ---- */

static bool valid_id(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* The type of a setting with its article, for messages. */
static const char *ltype_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	}
	return "nothing";
}

static bool is_int(const config_setting_t *s)
{
	int t = config_setting_type(s);

	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static void type_err(struct ldctx *x, const config_setting_t *s, const char *key, const char *want)
{
	err_set(x, s, "%s: expected %s, got %s", key, want, ltype_name(s));
}

/* Line of a member of group g, or of g itself when the member is absent. */
static int member_line(const config_setting_t *g, const char *name)
{
	const config_setting_t *m = g ? config_setting_get_member(g, name) : NULL;
	int line;

	if (m)
		return config_setting_source_line(m);
	line = g ? config_setting_source_line(g) : 0;
	return line > 0 ? line : 1;
}

/* Line of a setting by path, else of its closest existing parent, else 1. */
static int path_line(const config_t *cf, const char *path)
{
	char buf[128];
	const config_setting_t *s;
	char *dot;

	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		s = config_lookup(cf, buf);
		if (s && config_setting_source_line(s) > 0)
			return config_setting_source_line(s);
		dot = strrchr(buf, '.');
		if (!dot)
			return 1;
		*dot = '\0';
	}
}

/* ---- the table-driven validator ---- */

enum opt_type {
	OT_STRING, /* char *, strdup'd */
	OT_INT,	   /* int, range min..max */
	OT_U16,	   /* uint16_t, range min..max */
	OT_I64,	   /* int64_t, range min..max */
	OT_BOOL,   /* bool */
	OT_FLOAT,  /* double, range fmin..fmax; integers accepted */
	OT_ENUM,   /* a string out of choices, stored as its index in an enum field */
	OT_GROUP,  /* a nested group validated with sub at obj + off */
	OT_LIST,   /* a list of groups, each validated with sub into an array of elem_size */
	OT_SPECIAL /* parsed by special() */
};

#define OF_REQUIRED 0x1u
#define OF_ID 0x2u	 /* string of [A-Za-z0-9_-]+ */
#define OF_NONEMPTY 0x4u /* string must not be "" */
#define OF_LIVE 0x8u	 /* a reload applies it without restarting what uses the section */

struct opt;
typedef void (*opt_special_fn)(struct ldctx *x, const config_setting_t *s, const char *key,
			       void *obj);
/* Whether the setting parsed by a special parser is the same in the groups a and b. */
typedef bool (*opt_same_fn)(const void *a, const void *b);
typedef void (*opt_post_fn)(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
			    uint64_t seen);

struct opt {
	const char *name;
	enum opt_type type;
	unsigned flags;
	size_t off;
	long long min, max;
	double fmin, fmax;
	long long def_i;
	double def_f;
	const char *def_s;
	const char *const *choices; /* OT_ENUM, NULL-terminated */
	const struct opt *sub;	    /* OT_GROUP, OT_LIST */
	size_t n_sub;
	size_t count_off; /* OT_LIST: size_t count at obj + count_off */
	size_t elem_size; /* OT_LIST */
	opt_post_fn post; /* OT_LIST: called per element after validation */
	opt_special_fn special;
	opt_same_fn same; /* OT_SPECIAL: compares it for a reload (NULL: taken as changed) */
};

#define OPT_STR(n, st, f, def, fl)                                                                 \
	{                                                                                          \
		.name = (n), .type = OT_STRING, .flags = (fl), .off = offsetof(st, f),             \
		.def_s = (def)                                                                     \
	}
#define OPT_INT(n, st, f, lo, hi, def, fl)                                                         \
	{                                                                                          \
		.name = (n), .type = OT_INT, .flags = (fl), .off = offsetof(st, f), .min = (lo),   \
		.max = (hi), .def_i = (def)                                                        \
	}
#define OPT_U16(n, st, f, lo, hi, def, fl)                                                         \
	{                                                                                          \
		.name = (n), .type = OT_U16, .flags = (fl), .off = offsetof(st, f), .min = (lo),   \
		.max = (hi), .def_i = (def)                                                        \
	}
#define OPT_I64(n, st, f, def, fl)                                                                 \
	{                                                                                          \
		.name = (n), .type = OT_I64, .flags = (fl), .off = offsetof(st, f),                \
		.min = INT64_MIN, .max = INT64_MAX, .def_i = (def)                                 \
	}
#define OPT_BOOL(n, st, f, def)                                                                    \
	{                                                                                          \
		.name = (n), .type = OT_BOOL, .off = offsetof(st, f), .def_i = (def)               \
	}
#define OPT_FLOAT(n, st, f, lo, hi, def, fl)                                                       \
	{                                                                                          \
		.name = (n), .type = OT_FLOAT, .flags = (fl), .off = offsetof(st, f),              \
		.fmin = (lo), .fmax = (hi), .def_f = (def)                                         \
	}
#define OPT_ENUM(n, st, f, names, def, fl)                                                         \
	{                                                                                          \
		.name = (n), .type = OT_ENUM, .flags = (fl), .off = offsetof(st, f),               \
		.choices = (names), .def_i = (def)                                                 \
	}
#define OPT_GROUP(n, st, f, table, fl)                                                             \
	{                                                                                          \
		.name = (n), .type = OT_GROUP, .flags = (fl), .off = offsetof(st, f),              \
		.sub = (table), .n_sub = ARRAY_SIZE(table)                                         \
	}
#define OPT_LIST(n, st, f, nf, et, table, postfn, fl)                                              \
	{                                                                                          \
		.name = (n), .type = OT_LIST, .flags = (fl), .off = offsetof(st, f),               \
		.count_off = offsetof(st, nf), .elem_size = sizeof(et), .sub = (table),            \
		.n_sub = ARRAY_SIZE(table), .post = (postfn)                                       \
	}
#define OPT_SPECIAL_SAME(n, fn, samefn, fl)                                                        \
	{                                                                                          \
		.name = (n), .type = OT_SPECIAL, .flags = (fl), .special = (fn), .same = (samefn)  \
	}
#define OPT_SPECIAL(n, fn, fl)                                                                     \
	{                                                                                          \
		.name = (n), .type = OT_SPECIAL, .flags = (fl), .special = (fn)                    \
	}

/* Enum fields are written through an int. */
_Static_assert(sizeof(enum mb_table) == sizeof(int), "enum size");
_Static_assert(sizeof(enum bus_type) == sizeof(int), "enum size");

static void *field(void *obj, const struct opt *o)
{
	return (char *)obj + o->off;
}

static void opts_defaults(struct ldctx *x, const struct opt *tab, size_t n, void *obj)
{
	for (size_t i = 0; i < n; i++) {
		const struct opt *o = &tab[i];
		void *f = field(obj, o);

		switch (o->type) {
		case OT_STRING:
			*(char **)f = NULL;
			if (o->def_s) {
				*(char **)f = strdup(o->def_s);
				if (!*(char **)f)
					x->oom = true;
			}
			break;
		case OT_INT:
		case OT_ENUM:
			*(int *)f = (int)o->def_i;
			break;
		case OT_U16:
			*(uint16_t *)f = (uint16_t)o->def_i;
			break;
		case OT_I64:
			*(int64_t *)f = o->def_i;
			break;
		case OT_BOOL:
			*(bool *)f = o->def_i != 0;
			break;
		case OT_FLOAT:
			*(double *)f = o->def_f;
			break;
		case OT_GROUP:
			opts_defaults(x, o->sub, o->n_sub, f);
			break;
		case OT_LIST:
		case OT_SPECIAL:
			break;
		}
	}
}

static uint64_t opts_apply(struct ldctx *x, const struct opt *tab, size_t n,
			   const config_setting_t *grp, const char *path, void *obj);

/* Formats a setting's path for messages; a path too long for buf is cut. */
static void key_fmt(char *buf, size_t sz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void key_fmt(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
}

static void key_of(char *buf, size_t sz, const char *path, const char *name)
{
	if (path && *path)
		key_fmt(buf, sz, "%s.%s", path, name);
	else
		key_fmt(buf, sz, "%s", name);
}

static void list_apply(struct ldctx *x, const struct opt *o, const config_setting_t *s,
		       const char *key, void *obj)
{
	int t = config_setting_type(s);
	int n = config_setting_length(s);
	char *arr = NULL;
	char ekey[192];

	if (t != CONFIG_TYPE_LIST && !(t == CONFIG_TYPE_ARRAY && n == 0)) {
		type_err(x, s, key, "a list ( ... )");
		return;
	}
	if (n > 0) {
		arr = calloc((size_t)n, o->elem_size);
		if (!arr) {
			x->oom = true;
			return;
		}
	}
	memcpy(field(obj, o), &arr, sizeof(arr));
	*(size_t *)((char *)obj + o->count_off) = (size_t)n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		void *elem = arr + (size_t)i * o->elem_size;
		uint64_t seen;

		key_fmt(ekey, sizeof(ekey), "%s[%d]", key, i);
		opts_defaults(x, o->sub, o->n_sub, elem);
		if (!config_setting_is_group(e)) {
			type_err(x, e, ekey, "a group { ... }");
			continue;
		}
		seen = opts_apply(x, o->sub, o->n_sub, e, ekey, elem);
		if (o->post)
			o->post(x, e, ekey, elem, seen);
	}
}

static void opt_set(struct ldctx *x, const struct opt *o, const config_setting_t *s,
		    const char *path, void *obj)
{
	char key[192];
	void *f = field(obj, o);
	int t = config_setting_type(s);
	const char *str;
	long long v;
	double d;
	char *dup;

	key_of(key, sizeof(key), path, o->name);
	switch (o->type) {
	case OT_STRING:
		if (t != CONFIG_TYPE_STRING) {
			type_err(x, s, key, "a string");
			return;
		}
		str = config_setting_get_string(s);
		if ((o->flags & OF_NONEMPTY) && !*str) {
			err_set(x, s, "%s: must not be empty", key);
			return;
		}
		if ((o->flags & OF_ID) && !valid_id(str)) {
			err_set(x, s, "%s: \"%s\" is not a valid name (use only A-Z a-z 0-9 _ -)",
				key, str);
			return;
		}
		dup = strdup(str);
		if (!dup) {
			x->oom = true;
			return;
		}
		free(*(char **)f);
		*(char **)f = dup;
		return;
	case OT_INT:
	case OT_U16:
	case OT_I64:
		if (!is_int(s)) {
			type_err(x, s, key, "an integer");
			return;
		}
		v = config_setting_get_int64(s);
		if (v < o->min || v > o->max) {
			err_set(x, s, "%s: %lld is out of range (%lld..%lld)", key, v, o->min,
				o->max);
			return;
		}
		if (o->type == OT_INT)
			*(int *)f = (int)v;
		else if (o->type == OT_U16)
			*(uint16_t *)f = (uint16_t)v;
		else
			*(int64_t *)f = v;
		return;
	case OT_BOOL:
		if (t != CONFIG_TYPE_BOOL) {
			type_err(x, s, key, "a boolean (true or false)");
			return;
		}
		*(bool *)f = config_setting_get_bool(s) != 0;
		return;
	case OT_FLOAT:
		if (t == CONFIG_TYPE_FLOAT)
			d = config_setting_get_float(s);
		else if (is_int(s))
			d = (double)config_setting_get_int64(s);
		else {
			type_err(x, s, key, "a number");
			return;
		}
		if (d < o->fmin || d > o->fmax) {
			err_set(x, s, "%s: %g is out of range (%g..%g)", key, d, o->fmin, o->fmax);
			return;
		}
		*(double *)f = d;
		return;
	case OT_ENUM: {
		char list[256] = "";
		size_t len = 0;

		if (t != CONFIG_TYPE_STRING) {
			type_err(x, s, key, "a string");
			return;
		}
		str = config_setting_get_string(s);
		for (int i = 0; o->choices[i]; i++) {
			if (strcmp(o->choices[i], str) == 0) {
				*(int *)f = i;
				return;
			}
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
						i ? ", " : "", o->choices[i]);
			if (len >= sizeof(list))
				len = sizeof(list) - 1;
		}
		err_set(x, s, "%s: \"%s\" is not one of %s", key, str, list);
		return;
	}
	case OT_GROUP:
		if (!config_setting_is_group(s)) {
			type_err(x, s, key, "a group { ... }");
			return;
		}
		opts_apply(x, o->sub, o->n_sub, s, key, f);
		return;
	case OT_LIST:
		list_apply(x, o, s, key, obj);
		return;
	case OT_SPECIAL:
		o->special(x, s, key, obj);
		return;
	}
}

/* Validates every member of grp against tab, storing into obj (whose defaults are already
 * set). Reports unknown and missing settings. Returns the bit mask of the options present. */
static uint64_t opts_apply(struct ldctx *x, const struct opt *tab, size_t n,
			   const config_setting_t *grp, const char *path, void *obj)
{
	uint64_t seen = 0;
	int len = config_setting_length(grp);

	for (int i = 0; i < len; i++) {
		const config_setting_t *m = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(m);
		size_t k;

		for (k = 0; k < n; k++) {
			if (strcmp(tab[k].name, name) == 0)
				break;
		}
		if (k == n) {
			if (path && *path)
				err_set(x, m, "%s: unknown setting \"%s\"", path, name);
			else
				err_set(x, m, "unknown setting \"%s\"", name);
			continue;
		}
		seen |= 1ull << k;
		opt_set(x, &tab[k], m, path, obj);
	}
	for (size_t k = 0; k < n; k++) {
		if ((tab[k].flags & OF_REQUIRED) && !(seen & (1ull << k))) {
			if (path && *path)
				err_set(x, grp, "%s: missing required setting \"%s\"", path,
					tab[k].name);
			else
				err_set(x, grp, "missing required setting \"%s\"", tab[k].name);
		}
	}
	return seen;
}

static bool opt_seen(const struct opt *tab, size_t n, uint64_t seen, const char *name)
{
	for (size_t k = 0; k < n; k++) {
		if (strcmp(tab[k].name, name) == 0)
			return (seen & (1ull << k)) != 0;
	}
	return false;
}

/* ---- profiles ---- */

static const char *const table_names[] = {"coil", "discrete", "input", "holding", NULL};
static const char *const type_names[] = {"bool", "u16", "i16", "u32", "i32",
					 "u64",	 "i64", "f32", "f64", NULL};
static const char *const order_names[] = {"ABCD", "CDAB", "BADC", "DCBA", NULL};
static const char *const class_names[] = {"measurement", "status",   "fire", "supervisory",
					  "fault",	 "disabled", "test", NULL};
static const char *const role_names[] = {"none", "life_check", "change_counter", "device_time",
					 NULL};

_Static_assert(ARRAY_SIZE(type_names) == MB_T_F64 + 2, "type names");
_Static_assert(ARRAY_SIZE(class_names) == PC_TEST + 2, "class names");
_Static_assert(ARRAY_SIZE(role_names) == PR_DEVICE_TIME + 2, "role names");

static const struct opt enum_opts[] = {
    OPT_I64("value", struct prof_enum, value, 0, OF_REQUIRED),
    OPT_STR("label", struct prof_enum, label, NULL, OF_REQUIRED | OF_NONEMPTY),
};

static void point_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
		       uint64_t seen);

/* label = { en = "..."; zh = "..."; }: profiles, blocks and points (docs/profiles.md). */
static const struct opt label_opts[] = {
    OPT_STR("en", struct prof_label, en, NULL, OF_NONEMPTY),
    OPT_STR("zh", struct prof_label, zh, NULL, OF_NONEMPTY),
};

static const struct opt point_opts[] = {
    OPT_STR("name", struct prof_point, name, NULL, OF_REQUIRED | OF_ID),
    OPT_ENUM("table", struct prof_point, table, table_names, MB_INPUT, OF_REQUIRED),
    OPT_U16("address", struct prof_point, address, 0, 65535, 0, OF_REQUIRED),
    OPT_ENUM("type", struct prof_point, type, type_names, MB_T_U16, 0),
    OPT_ENUM("order", struct prof_point, order, order_names, MB_ORDER_ABCD, 0),
    OPT_INT("bit", struct prof_point, bit, 0, 15, -1, 0),
    OPT_INT("bits", struct prof_point, bits, 1, 16, 1, 0),
    OPT_FLOAT("scale", struct prof_point, scale, -1e300, 1e300, 1.0, 0),
    OPT_FLOAT("offset", struct prof_point, offset, -1e300, 1e300, 0.0, 0),
    OPT_STR("unit", struct prof_point, unit, NULL, OF_NONEMPTY),
    OPT_LIST("enums", struct prof_point, enums, n_enums, struct prof_enum, enum_opts, NULL, 0),
    OPT_ENUM("class", struct prof_point, cls, class_names, PC_MEASUREMENT, 0),
    OPT_ENUM("role", struct prof_point, role, role_names, PR_NONE, 0),
    OPT_STR("group", struct prof_point, group_name, NULL, OF_ID),
    OPT_FLOAT("deadband", struct prof_point, deadband, 0.0, 1e300, 0.0, 0),
    OPT_INT("decimals", struct prof_point, decimals, 0, 9, -1, 0),
    OPT_GROUP("label", struct prof_point, label, label_opts, 0),
};

static bool pt_seen(uint64_t seen, const char *name)
{
	return opt_seen(point_opts, ARRAY_SIZE(point_opts), seen, name);
}

/* The resolution a value is published with: `decimals` as declared, else the decimal places
 * of scale and offset (a scaled integer cannot be finer); -1 for unscaled and float values. */
static void point_resolution(struct ldctx *x, const config_setting_t *s, struct prof_point *p,
			     uint64_t seen)
{
	int ds, dof;

	(void)x;
	(void)s;
	if (pt_seen(seen, "decimals") || p->type == MB_T_BOOL)
		return;
	if (p->scale == 1.0 && p->offset == 0.0)
		return; /* integers stay integers, floats as the device sends them */
	ds = prof_decimals_of(p->scale);
	dof = prof_decimals_of(p->offset);
	p->decimals = ds < 0 || dof < 0 ? -1 : (ds > dof ? ds : dof);
}

static bool is_register(const struct prof_point *p)
{
	return p->table == MB_INPUT || p->table == MB_HOLDING;
}

static bool is_float_type(enum mb_type t)
{
	return t == MB_T_F32 || t == MB_T_F64;
}

/* A register point whose raw value is a whole integer (counts, counters, clocks). */
static bool is_int_register(const struct prof_point *p)
{
	return is_register(p) && p->type != MB_T_BOOL && !is_float_type(p->type);
}

/* Checks one point on its own and settles its type and bit width. */
static void point_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
		       uint64_t seen)
{
	struct prof_point *p = elem;
	const char *nm = p->name ? p->name : key;
	const config_setting_t *en;

	p->line = config_setting_source_line(s);
	p->group = -1;
	if (!is_register(p)) {
		static const char *const not_bits[] = {"bit", "bits", "order", "scale", "offset"};

		if (pt_seen(seen, "type") && p->type != MB_T_BOOL)
			err_set(x, config_setting_get_member(s, "type"),
				"point \"%s\": a %s point has type bool, not %s", nm,
				table_names[p->table], type_names[p->type]);
		for (size_t i = 0; i < ARRAY_SIZE(not_bits); i++) {
			if (pt_seen(seen, not_bits[i]))
				err_set(x, config_setting_get_member(s, not_bits[i]),
					"point \"%s\": %s does not apply to a %s point", nm,
					not_bits[i], table_names[p->table]);
		}
		p->type = MB_T_BOOL;
		p->bit = -1;
		p->bits = 0;
	} else if (pt_seen(seen, "bit")) {
		if (pt_seen(seen, "type") && p->type != MB_T_U16 && p->type != MB_T_I16 &&
		    p->type != MB_T_BOOL)
			err_set(x, config_setting_get_member(s, "bit"),
				"point \"%s\": bit applies only to a 16-bit register (u16 or i16), "
				"not %s",
				nm, type_names[p->type]);
		else if (p->type == MB_T_BOOL && p->bits > 1)
			err_set(x, config_setting_get_member(s, "type"),
				"point \"%s\": type bool needs bits = 1", nm);
		if (p->bit + p->bits > 16)
			err_set(
			    x, config_setting_get_member(s, pt_seen(seen, "bits") ? "bits" : "bit"),
			    "point \"%s\": bit %d + bits %d exceed the 16 bits of the register", nm,
			    p->bit, p->bits);
		if (pt_seen(seen, "order"))
			err_set(x, config_setting_get_member(s, "order"),
				"point \"%s\": order does not apply to a bit field", nm);
		if (p->bits == 1 && (pt_seen(seen, "scale") || pt_seen(seen, "offset")))
			err_set(x, s, "point \"%s\": scale and offset do not apply to a single bit",
				nm);
		p->type = p->bits == 1 ? MB_T_BOOL : MB_T_U16;
	} else {
		if (pt_seen(seen, "bits"))
			err_set(x, config_setting_get_member(s, "bits"),
				"point \"%s\": bits needs bit (the lowest bit of the field)", nm);
		if (p->type == MB_T_BOOL)
			err_set(x, config_setting_get_member(s, "type"),
				"point \"%s\": type bool on a register needs bit", nm);
		p->bits = 0;
	}
	if (p->scale == 0.0)
		err_set(x, config_setting_get_member(s, "scale"),
			"point \"%s\": scale must not be 0", nm);
	point_resolution(x, s, p, seen);
	if ((unsigned)p->address + prof_point_width(p) - 1 > 65535)
		err_set(x, config_setting_get_member(s, "address"),
			"point \"%s\": address %u + %u registers run past 65535", nm, p->address,
			prof_point_width(p));
	if (p->role != PR_NONE && (!is_int_register(p) || p->bit >= 0))
		err_set(x, config_setting_get_member(s, "role"),
			"point \"%s\": role %s needs a whole integer register point", nm,
			role_names[p->role]);
	en = config_setting_get_member(s, "enums");
	if (p->n_enums > 0 && (is_float_type(p->type) || p->scale != 1.0 || p->offset != 0.0))
		err_set(x, en, "point \"%s\": enums need an integer point without scale or offset",
			nm);
	for (size_t i = 1; i < p->n_enums; i++) {
		for (size_t j = 0; j < i; j++) {
			if (p->enums[i].value == p->enums[j].value && p->enums[i].label &&
			    p->enums[j].label) {
				err_set(x, config_setting_get_elem(en, (unsigned)i),
					"point \"%s\": enum value %lld given twice", nm,
					(long long)p->enums[i].value);
				break;
			}
		}
	}
}

static void block_count(struct ldctx *x, const config_setting_t *s, const char *key, void *obj)
{
	struct prof_block *b = obj;
	long long v;

	if (is_int(s)) {
		v = config_setting_get_int64(s);
		if (v < 1 || v > 65535) {
			err_set(x, s, "%s: %lld is out of range (1..65535)", key, v);
			return;
		}
		b->count = (int)v;
	} else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		const char *str = config_setting_get_string(s);

		if (!valid_id(str)) {
			err_set(x, s, "%s: \"%s\" is not a valid point name", key, str);
			return;
		}
		b->count_point = strdup(str);
		if (!b->count_point)
			x->oom = true;
	} else {
		type_err(x, s, key, "an integer or the name of a point");
	}
}

static void block_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
		       uint64_t seen);

static const struct opt block_opts[] = {
    OPT_STR("name", struct prof_block, name, NULL, OF_REQUIRED | OF_ID),
    OPT_U16("base", struct prof_block, base, 0, 65535, 0, OF_REQUIRED),
    OPT_U16("stride", struct prof_block, stride, 1, 65535, 1, 0),
    OPT_SPECIAL("count", block_count, OF_REQUIRED),
    OPT_INT("max", struct prof_block, max_count, 1, 65535, 0, 0),
    OPT_LIST("points", struct prof_block, points, n_points, struct prof_point, point_opts,
	     point_post, OF_REQUIRED),
    OPT_STR("group", struct prof_block, group_name, NULL, OF_ID),
    OPT_U16("bit_stride", struct prof_block, bit_stride, 1, 16, 0, 0),
    OPT_GROUP("label", struct prof_block, label, label_opts, 0),
};

static void block_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
		       uint64_t seen)
{
	struct prof_block *b = elem;
	const char *nm = b->name ? b->name : key;
	bool has_max = opt_seen(block_opts, ARRAY_SIZE(block_opts), seen, "max");

	b->line = config_setting_source_line(s);
	b->group = -1;
	if (b->bit_stride && 16 % b->bit_stride != 0)
		err_set(x, config_setting_get_member(s, "bit_stride"),
			"block \"%s\": bit_stride %u does not divide 16 (use 1, 2, 4, 8 or 16)", nm,
			b->bit_stride);
	if (b->count_point && !has_max)
		err_set(x, s, "block \"%s\": max is required when count names a point", nm);
	if (!b->count_point && has_max)
		err_set(x, config_setting_get_member(s, "max"),
			"block \"%s\": max applies only to a count read from a point", nm);
	if (!b->count_point)
		b->max_count = b->count;
	if (opt_seen(block_opts, ARRAY_SIZE(block_opts), seen, "points") && b->n_points == 0)
		err_set(x, config_setting_get_member(s, "points"), "block \"%s\": has no points",
			nm);
}

static void group_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
		       uint64_t seen)
{
	struct prof_group *g = elem;

	g->line = config_setting_source_line(s);
	g->change_point = -1;
}

static const struct opt group_opts[] = {
    OPT_STR("name", struct prof_group, name, NULL, OF_REQUIRED | OF_ID),
    OPT_INT("interval_ms", struct prof_group, interval_ms, 10, 3600000, 1000, OF_REQUIRED),
    OPT_STR("when_changed", struct prof_group, when_changed, NULL, OF_ID),
    OPT_INT("refresh_ms", struct prof_group, refresh_ms, 10, 86400000, 60000, 0),
};

static void command_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
			 uint64_t seen)
{
	struct prof_command *c = elem;

	c->line = config_setting_source_line(s);
	if (c->table != MB_COIL && c->table != MB_HOLDING)
		err_set(x, config_setting_get_member(s, "table"),
			"command \"%s\": only a coil or a holding register can be written",
			c->name ? c->name : key);
	if (c->table == MB_COIL && c->value > 1)
		err_set(x, config_setting_get_member(s, "value"),
			"command \"%s\": a coil takes 0 or 1", c->name ? c->name : key);
}

static const struct opt command_opts[] = {
    OPT_STR("name", struct prof_command, name, NULL, OF_REQUIRED | OF_ID),
    OPT_STR("description", struct prof_command, description, NULL, 0),
    OPT_ENUM("table", struct prof_command, table, table_names, MB_COIL, OF_REQUIRED),
    OPT_U16("address", struct prof_command, address, 0, 65535, 0, OF_REQUIRED),
    OPT_U16("value", struct prof_command, value, 0, 65535, 1, 0),
};

static void noread_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
			uint64_t seen)
{
	struct prof_noread *n = elem;

	n->line = config_setting_source_line(s);
	if (n->from > n->to)
		err_set(x, s, "%s: from %u is after to %u", key, n->from, n->to);
}

static const struct opt noread_opts[] = {
    OPT_ENUM("table", struct prof_noread, table, table_names, MB_INPUT, OF_REQUIRED),
    OPT_U16("from", struct prof_noread, from, 0, 65535, 0, OF_REQUIRED),
    OPT_U16("to", struct prof_noread, to, 0, 65535, 0, OF_REQUIRED),
};

static const struct opt test_opts[] = {
    OPT_STR("start", struct prof_test, start, NULL, OF_NONEMPTY),
    OPT_STR("running", struct prof_test, running, NULL, OF_NONEMPTY),
    OPT_STR("result", struct prof_test, result, NULL, OF_NONEMPTY),
    OPT_INT("passed", struct prof_test, passed, 0, 65535, 1, 0),
    OPT_STR("last_time", struct prof_test, last_time, NULL, OF_NONEMPTY),
    OPT_STR("length", struct prof_test, length, NULL, OF_NONEMPTY),
    OPT_STR("rated", struct prof_test, rated, NULL, OF_NONEMPTY),
    OPT_STR("luminaire_failed", struct prof_test, luminaire_failed, NULL, OF_NONEMPTY),
};

static const struct opt tests_opts[] = {
    OPT_STR("mains_fault", struct prof_tests, mains_fault, NULL, OF_NONEMPTY),
    OPT_BOOL("self_testing", struct prof_tests, self_testing, false),
    OPT_GROUP("function", struct prof_tests, function, test_opts, 0),
    OPT_GROUP("duration", struct prof_tests, duration, test_opts, 0),
};

static const struct opt profile_opts[] = {
    OPT_STR("name", struct profile, name, NULL, OF_ID),
    OPT_STR("description", struct profile, description, NULL, 0),
    OPT_GROUP("label", struct profile, label, label_opts, 0),
    OPT_LIST("points", struct profile, points, n_points, struct prof_point, point_opts, point_post,
	     OF_REQUIRED),
    OPT_LIST("blocks", struct profile, blocks, n_blocks, struct prof_block, block_opts, block_post,
	     0),
    OPT_LIST("groups", struct profile, groups, n_groups, struct prof_group, group_opts, group_post,
	     0),
    OPT_LIST("commands", struct profile, commands, n_commands, struct prof_command, command_opts,
	     command_post, 0),
    OPT_LIST("no_read", struct profile, no_read, n_no_read, struct prof_noread, noread_opts,
	     noread_post, 0),
    OPT_GROUP("tests", struct profile, tests, tests_opts, 0),
};

/* The file's root holds one group, "profile", that fills the struct profile itself. */
static const struct opt profile_root_opts[] = {
    {.name = "profile",
     .type = OT_GROUP,
     .flags = OF_REQUIRED,
     .off = 0,
     .sub = profile_opts,
     .n_sub = ARRAY_SIZE(profile_opts)},
};

static void dup_names(struct ldctx *x, const char *file, const struct prof_point *pts, size_t n,
		      const char *prefix)
{
	char lr[PATH_MAX + 16];

	for (size_t i = 1; i < n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (pts[i].name && pts[j].name && strcmp(pts[i].name, pts[j].name) == 0) {
				err_at(x, file, pts[i].line,
				       "point \"%s%s\": name already used at %s", prefix,
				       pts[i].name,
				       line_ref(x, file, pts[i].line, pts[j].line, lr, sizeof(lr)));
				break;
			}
		}
	}
}

/* Checks that need the whole profile: names, roles, block counts and address ranges. */
static int group_index(const struct profile *p, const char *name)
{
	for (size_t g = 0; g < p->n_groups; g++)
		if (p->groups[g].name && strcmp(p->groups[g].name, name) == 0)
			return (int)g;
	return -1;
}

/* tests = { ... }: the names are the profile's own commands and points. */
static void profile_check_tests(struct ldctx *x, const struct profile *p)
{
	const struct prof_tests *ts = &p->tests;

	if (ts->mains_fault && !profile_find_point(p, ts->mains_fault))
		err_at(x, p->path, 0, "tests.mains_fault: no top-level point \"%s\"",
		       ts->mains_fault);
	for (int k = 0; k < 2; k++) {
		const struct prof_test *t = k ? &ts->duration : &ts->function;
		const char *kind = k ? "duration" : "function";
		const char *pts[] = {t->running, t->result, t->last_time, t->length, t->rated};
		bool found = false;

		if (t->start && !profile_find_command(p, t->start))
			err_at(x, p->path, 0, "tests.%s.start: no command \"%s\"", kind, t->start);
		for (size_t i = 0; i < ARRAY_SIZE(pts); i++)
			if (pts[i] && !profile_find_point(p, pts[i]))
				err_at(x, p->path, 0, "tests.%s: no top-level point \"%s\"", kind,
				       pts[i]);
		for (size_t b = 0; t->luminaire_failed && b < p->n_blocks; b++)
			for (size_t j = 0; j < p->blocks[b].n_points; j++)
				if (p->blocks[b].points[j].name &&
				    strcmp(p->blocks[b].points[j].name, t->luminaire_failed) == 0)
					found = true;
		if (t->luminaire_failed && !found)
			err_at(x, p->path, 0, "tests.%s.luminaire_failed: no block point \"%s\"",
			       kind, t->luminaire_failed);
		if (t->start && !t->running && !t->last_time)
			err_at(x, p->path, 0,
			       "tests.%s: give running or last_time to follow the test", kind);
	}
}

/* Groups, commands and packed blocks: resolves names into indexes. */
static void profile_check_groups(struct ldctx *x, struct profile *p)
{
	char lr[PATH_MAX + 16];
	const char *file = p->path;

	for (size_t g = 0; g < p->n_groups; g++) {
		struct prof_group *gr = &p->groups[g];

		if (!gr->name)
			continue;
		if (group_index(p, gr->name) != (int)g)
			err_at(x, file, gr->line, "group \"%s\": name already used", gr->name);
		if (gr->when_changed) {
			const struct prof_point *cp = profile_find_point(p, gr->when_changed);

			if (!cp || cp->role != PR_CHANGE_COUNTER)
				err_at(x, file, gr->line,
				       "group \"%s\": when_changed \"%s\" is not a top-level point "
				       "with role change_counter",
				       gr->name, gr->when_changed);
			else if (cp->group_name && strcmp(cp->group_name, gr->name) == 0)
				err_at(x, file, gr->line,
				       "group \"%s\": its change counter must be read by another "
				       "group",
				       gr->name);
			else
				gr->change_point = (int)(cp - p->points);
		}
	}
	for (size_t i = 0; i < p->n_points; i++) {
		struct prof_point *pt = &p->points[i];

		if (pt->group_name && (pt->group = group_index(p, pt->group_name)) < 0)
			err_at(x, file, pt->line, "point \"%s\": unknown group \"%s\"",
			       pt->name ? pt->name : "?", pt->group_name);
	}
	for (size_t i = 0; i < p->n_blocks; i++) {
		struct prof_block *b = &p->blocks[i];

		if (b->group_name && (b->group = group_index(p, b->group_name)) < 0)
			err_at(x, file, b->line, "block \"%s\": unknown group \"%s\"",
			       b->name ? b->name : "?", b->group_name);
		for (size_t j = 0; j < b->n_points; j++) {
			struct prof_point *pt = &b->points[j];

			if (pt->group_name)
				err_at(x, file, pt->line,
				       "point \"%s.%s\": a block's points take the block's group",
				       b->name ? b->name : "?", pt->name ? pt->name : "?");
			pt->group = b->group;
			if (b->bit_stride &&
			    (!is_register(pt) || pt->bit < 0 || pt->bit + pt->bits > b->bit_stride))
				err_at(
				    x, file, pt->line,
				    "point \"%s.%s\": in a block with bit_stride %u a point is a "
				    "bit field within the instance's %u bits",
				    b->name ? b->name : "?", pt->name ? pt->name : "?",
				    b->bit_stride, b->bit_stride);
		}
	}
	for (size_t i = 1; i < p->n_commands; i++)
		for (size_t j = 0; j < i; j++)
			if (p->commands[i].name && p->commands[j].name &&
			    strcmp(p->commands[i].name, p->commands[j].name) == 0) {
				err_at(x, file, p->commands[i].line,
				       "command \"%s\": name already used at %s",
				       p->commands[i].name,
				       line_ref(x, file, p->commands[i].line, p->commands[j].line,
						lr, sizeof(lr)));
				break;
			}
	profile_check_tests(x, p);
}

static void profile_check(struct ldctx *x, const struct profile *p)
{
	char lr[PATH_MAX + 16];
	const char *file = p->path;
	const struct prof_point *role_of[PR_DEVICE_TIME + 1] = {NULL};

	dup_names(x, file, p->points, p->n_points, "");
	for (size_t i = 0; i < p->n_points; i++) {
		const struct prof_point *pt = &p->points[i];

		if (pt->role == PR_NONE)
			continue;
		if (role_of[pt->role])
			err_at(x, file, pt->line,
			       "point \"%s\": role %s is already given to point \"%s\"", pt->name,
			       role_names[pt->role], role_of[pt->role]->name);
		else
			role_of[pt->role] = pt;
	}
	for (size_t i = 0; i < p->n_blocks; i++) {
		const struct prof_block *b = &p->blocks[i];
		char prefix[80];

		if (!b->name)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (p->blocks[j].name && strcmp(p->blocks[j].name, b->name) == 0)
				err_at(
				    x, file, b->line, "block \"%s\": name already used at %s",
				    b->name,
				    line_ref(x, file, b->line, p->blocks[j].line, lr, sizeof(lr)));
		}
		if (profile_find_point(p, b->name))
			err_at(x, file, b->line, "block \"%s\": name already used by a point at %s",
			       b->name,
			       line_ref(x, file, b->line, profile_find_point(p, b->name)->line, lr,
					sizeof(lr)));
		snprintf(prefix, sizeof(prefix), "%s.", b->name);
		dup_names(x, file, b->points, b->n_points, prefix);
		if (b->count_point) {
			const struct prof_point *cp = profile_find_point(p, b->count_point);

			if (!cp)
				err_at(x, file, b->line,
				       "block \"%s\": count point \"%s\" is not a top-level point",
				       b->name, b->count_point);
			else if (!is_int_register(cp) || cp->scale != 1.0 || cp->offset != 0.0)
				err_at(
				    x, file, b->line,
				    "block \"%s\": count point \"%s\" must be an unscaled integer "
				    "register point",
				    b->name, b->count_point);
		}
		for (size_t j = 0; j < b->n_points; j++) {
			const struct prof_point *pt = &b->points[j];
			unsigned long end;

			if (pt->role != PR_NONE)
				err_at(
				    x, file, pt->line,
				    "point \"%s.%s\": roles are allowed only on top-level points",
				    b->name, pt->name ? pt->name : "?");
			if (b->max_count < 1)
				continue;
			end = (unsigned long)b->base +
			      (unsigned long)b->stride * (unsigned long)(b->max_count - 1) +
			      pt->address + prof_point_width(pt) - 1;
			if (end > 65535)
				err_at(
				    x, file, pt->line,
				    "point \"%s.%s\": instance %d ends at address %lu, past 65535",
				    b->name, pt->name ? pt->name : "?", b->max_count - 1, end);
		}
	}
}

static char *path_basename_noext(const char *path)
{
	const char *b = strrchr(path, '/');
	size_t len;

	b = b ? b + 1 : path;
	len = strlen(b);
	if (len > 4 && strcmp(b + len - 4, ".cfg") == 0)
		len -= 4;
	return strndup(b, len);
}

/* An error cfgsrc located itself: its file and line are the real ones already. */
static void err_src(struct ldctx *x, const struct cfgsrc_err *e)
{
	size_t n_src = x->n_src;

	x->n_src = 0;
	err_at(x, e->file, e->line, "%s", e->msg);
	x->n_src = n_src;
}

/* Reads path and its @includes (cfgsrc.h) and parses the text into cf, its lines mapped back
 * to the files from then on (src_pop undoes it). Errors go to x; a file that cannot be read
 * at all is left to the caller, with the reason in *e. */
static int src_parse(struct ldctx *x, const char *path, config_t *cf, struct cfgsrc **src,
		     struct cfgsrc_err *e)
{
	int rc = cfgsrc_read(path, src, e);

	if (rc < 0) {
		if (rc == -ENOMEM && !e->msg)
			x->oom = true;
		else if (e->file)
			err_src(x, e);
		return rc;
	}
	x->src[x->n_src++] = (struct ldsrc){.name = path, .src = *src};
	/* The text holds no @include: one left would fail to open rather than read a file
	 * nobody checked. */
	config_set_include_dir(cf, "/dev/null");
	if (!config_read_string(cf, cfgsrc_text(*src))) {
		err_at(x, path, config_error_line(cf), "%s", config_error_text(cf));
		return -EINVAL;
	}
	return 0;
}

static void src_pop(struct ldctx *x)
{
	x->n_src--;
	cfgsrc_free((struct cfgsrc *)x->src[x->n_src].src);
}

/* Where a profile is named: a device's `profile` setting (file NULL: nowhere, profile_load). */
struct prof_ref {
	const char *file;
	int line;
	const char *device;
};

/* Reads and validates one profile file; errors go to x. A file that cannot be read is
 * reported at ref, except a missing one (-ENOENT), which the caller reports. */
static int profile_read(struct ldctx *x, const char *path, const struct prof_ref *ref,
			struct profile **out)
{
	size_t n_before = x->n_err;
	struct cfgsrc_err e = {0};
	struct cfgsrc *src = NULL;
	config_t cf;
	struct profile *p;
	char *base;
	int rc = 0;

	*out = NULL;
	config_init(&cf);
	rc = src_parse(x, path, &cf, &src, &e);
	if (!src) {
		if (e.msg && !e.file && !(ref->file && rc == -ENOENT)) {
			if (ref->file)
				err_at(x, ref->file, ref->line,
				       "device \"%s\": cannot read the profile %s: %s", ref->device,
				       path, e.msg);
			else
				err_at(x, path, 0, "cannot read the profile: %s", e.msg);
		}
		cfgsrc_err_clear(&e);
		config_destroy(&cf);
		return rc;
	}
	if (rc < 0)
		goto out_cf;
	p = calloc(1, sizeof(*p));
	if (!p) {
		rc = -ENOMEM;
		goto out_cf;
	}
	p->path = strdup(path);
	base = path_basename_noext(path);
	if (!p->path || !base) {
		free(base);
		rc = -ENOMEM;
		goto out_p;
	}
	opts_defaults(x, profile_root_opts, ARRAY_SIZE(profile_root_opts), p);
	opts_apply(x, profile_root_opts, ARRAY_SIZE(profile_root_opts), config_root_setting(&cf),
		   "", p);
	if (!p->name) {
		p->name = base;
		base = NULL;
	} else if (strcmp(p->name, base) != 0) {
		err_at(x, path, path_line(&cf, "profile.name"),
		       "profile.name: \"%s\" does not match the file name \"%s.cfg\"", p->name,
		       base);
	}
	free(base);
	profile_check_groups(x, p);
	profile_check(x, p);
	if (x->oom)
		rc = -ENOMEM;
	else if (x->n_err != n_before)
		rc = -EINVAL;
	if (rc)
		goto out_p;
	*out = p;
	src_pop(x);
	config_destroy(&cf);
	return 0;
out_p:
	profile_free(p);
out_cf:
	src_pop(x);
	config_destroy(&cf);
	return rc;
}

int profile_load(const char *path, struct profile **out, struct cfg_errors *errs)
{
	struct ldctx x = {.errs = errs};
	struct prof_ref none = {0};

	return profile_read(&x, path, &none, out);
}

/* ---- the gateway configuration ---- */

static const char *const bus_type_names[] = {"tcp", "rtu", NULL};
static const char *const lang_names[] = {"zh", "en", NULL};
static const char *const topic_esc_names[] = {"none", "percent", NULL};
_Static_assert(sizeof(enum cfg_lang) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_topic_esc) == sizeof(int), "enum size");
static const char *const parity_names[] = {"none", "even", "odd", NULL};

static void str_list(struct ldctx *x, const config_setting_t *s, const char *key, char ***out,
		     size_t *n_out, bool ids);
static int64_t iso_ms(const char *t);
#include "core/config_inspect.inc"

static const struct opt site_opts[] = {
    OPT_STR("id", struct cfg_site, id, NULL, OF_REQUIRED | OF_ID),
    OPT_STR("name", struct cfg_site, name, NULL, 0),
    OPT_STR("profile_dir", struct cfg_site, profile_dir, "profiles", OF_NONEMPTY),
    OPT_ENUM("language", struct cfg_site, language, lang_names, LANG_ZH, 0),
    OPT_STR("timezone", struct cfg_site, timezone, NULL, OF_NONEMPTY),
    OPT_SPECIAL("opening_hours", site_hours, 0),
    OPT_SPECIAL("holidays", site_holidays, 0),
    OPT_SPECIAL("extra_workdays", site_workdays, 0),
};

int cfg_broker_parse(const char *v, char **host, int *port, const char **why)
{
	const char *hb, *he, *colon;
	long p = 1883;
	char *end = NULL;

	*why = NULL;
	if (!v || !*v) {
		*why = "is not a \"host:port\" string";
		return -EINVAL;
	}
	hb = v;
	if (*v == '[') { /* [IPv6 address]:port */
		hb = v + 1;
		he = strchr(hb, ']');
		colon = he && he[1] == ':' ? he + 1 : NULL;
		if (!he || (he[1] && !colon)) {
			*why = "is not [address]:port";
			return -EINVAL;
		}
	} else {
		colon = strrchr(v, ':');
		he = colon ? colon : v + strlen(v);
		if (colon && strchr(v, ':') != colon) {
			*why = ": write an IPv6 address as [address]:port";
			return -EINVAL;
		}
	}
	if (colon) {
		errno = 0;
		p = strtol(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || p < 1 || p > 65535) {
			*why = ": the port is not 1..65535";
			return -EINVAL;
		}
	}
	if (he == hb) {
		*why = "has no host";
		return -EINVAL;
	}
	*host = strndup(hb, (size_t)(he - hb));
	if (!*host)
		return -ENOMEM;
	*port = (int)p;
	return 0;
}

/* hosts = [ "10.0.0.1:1883", "[fd00::2]:1883", "broker3" ]: the brokers of one cluster;
 * a port left out is 1883. */
static void mqtt_hosts(struct ldctx *x, const config_setting_t *s, const char *key, void *obj)
{
	struct cfg_mqtt *m = obj;
	int n;

	if ((config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	     config_setting_type(s) != CONFIG_TYPE_LIST) ||
	    config_setting_length(s) == 0) {
		type_err(x, s, key, "a non-empty array of brokers [ \"host:port\", ... ]");
		return;
	}
	n = config_setting_length(s);
	m->hosts = calloc((size_t)n, sizeof(*m->hosts));
	if (!m->hosts) {
		x->oom = true;
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e), *why;
		int rc = cfg_broker_parse(v, &m->hosts[m->n_hosts].host, &m->hosts[m->n_hosts].port,
					  &why);

		if (rc == -ENOMEM) {
			x->oom = true;
			return;
		}
		if (rc < 0 && (!v || !*v))
			err_set(x, e, "%s: element %d %s", key, i, why);
		else if (rc < 0)
			err_set(x, e, "%s: \"%s\"%s%s", key, v, *why == ':' ? "" : " ", why);
		else
			m->n_hosts++;
	}
}

static bool mqtt_hosts_same(const void *a, const void *b)
{
	const struct cfg_mqtt *x = a, *y = b;

	if (x->n_hosts != y->n_hosts)
		return false;
	for (size_t i = 0; i < x->n_hosts; i++)
		if (x->hosts[i].port != y->hosts[i].port ||
		    strcmp(x->hosts[i].host, y->hosts[i].host) != 0)
			return false;
	return true;
}

static const struct opt mqtt_opts[] = {
    OPT_BOOL("enabled", struct cfg_mqtt, enabled, true),
    OPT_STR("host", struct cfg_mqtt, host, "127.0.0.1", OF_NONEMPTY),
    OPT_INT("port", struct cfg_mqtt, port, 1, 65535, 1883, 0),
    OPT_SPECIAL_SAME("hosts", mqtt_hosts, mqtt_hosts_same, 0),
    OPT_STR("client_id", struct cfg_mqtt, client_id, NULL, OF_NONEMPTY),
    OPT_STR("username", struct cfg_mqtt, username, NULL, 0),
    OPT_STR("password", struct cfg_mqtt, password, NULL, 0),
    OPT_INT("keepalive_s", struct cfg_mqtt, keepalive_s, 5, 65535, 30, 0),
    OPT_INT("qos", struct cfg_mqtt, qos, 0, 2, 1, 0),
    OPT_INT("heartbeat_s", struct cfg_mqtt, heartbeat_s, 0, 86400, 60, OF_LIVE),
    OPT_STR("topic_root", struct cfg_mqtt, topic_root, "hallwatch/v1", OF_NONEMPTY),
    OPT_ENUM("topic_escape", struct cfg_mqtt, topic_escape, topic_esc_names, TOPIC_ESC_NONE, 0),
    OPT_INT("reconnect_min_ms", struct cfg_mqtt, reconnect_min_ms, 10, 3600000, 500, 0),
    OPT_INT("reconnect_max_ms", struct cfg_mqtt, reconnect_max_ms, 10, 3600000, 30000, 0),
    /* ---- delivery (docs/delivery.md) ---- */
    OPT_STR("password_file", struct cfg_mqtt, password_file, NULL, OF_NONEMPTY),
    OPT_STR("cafile", struct cfg_mqtt, cafile, NULL, OF_NONEMPTY),
    OPT_STR("certfile", struct cfg_mqtt, certfile, NULL, OF_NONEMPTY),
    OPT_STR("keyfile", struct cfg_mqtt, keyfile, NULL, OF_NONEMPTY),
    OPT_STR("tls_version", struct cfg_mqtt, tls_version, NULL, OF_NONEMPTY),
    OPT_BOOL("insecure", struct cfg_mqtt, insecure, false),
    OPT_INT("max_inflight", struct cfg_mqtt, max_inflight, 1, 65535, 20, 0),
    OPT_INT("outbox_max", struct cfg_mqtt, outbox_max, 10, 100000000, 100000, OF_LIVE),
    OPT_STR("reply_prefix", struct cfg_mqtt, reply_prefix, NULL, OF_NONEMPTY | OF_LIVE),
};

static const struct opt influx_opts[] = {
    OPT_BOOL("enabled", struct cfg_influx, enabled, false),
    OPT_STR("url", struct cfg_influx, url, "http://127.0.0.1:8086", OF_NONEMPTY),
    OPT_INT("version", struct cfg_influx, version, 1, 2, 1, 0),
    OPT_STR("database", struct cfg_influx, database, "hallwatch", OF_NONEMPTY),
    OPT_STR("username", struct cfg_influx, username, NULL, 0),
    OPT_STR("password", struct cfg_influx, password, NULL, 0),
    OPT_STR("org", struct cfg_influx, org, NULL, OF_NONEMPTY),
    OPT_STR("bucket", struct cfg_influx, bucket, NULL, OF_NONEMPTY),
    OPT_STR("token", struct cfg_influx, token, NULL, OF_NONEMPTY),
    OPT_INT("batch_size", struct cfg_influx, batch_size, 1, 100000, 500, 0),
    OPT_INT("flush_interval_ms", struct cfg_influx, flush_interval_ms, 10, 3600000, 1000, 0),
    OPT_INT("timeout_ms", struct cfg_influx, timeout_ms, 100, 600000, 5000, 0),
    OPT_INT("max_buffer", struct cfg_influx, max_buffer, 1, 10000000, 100000, 0),
    OPT_INT("retry_min_ms", struct cfg_influx, retry_min_ms, 10, 3600000, 500, 0),
    OPT_INT("retry_max_ms", struct cfg_influx, retry_max_ms, 10, 3600000, 30000, 0),
    /* ---- delivery (docs/delivery.md) ---- */
    OPT_STR("password_file", struct cfg_influx, password_file, NULL, OF_NONEMPTY),
    OPT_STR("token_file", struct cfg_influx, token_file, NULL, OF_NONEMPTY),
    OPT_BOOL("gzip", struct cfg_influx, gzip, true),
    OPT_INT("outbox_max", struct cfg_influx, outbox_max, 10, 100000000, 1000000, OF_LIVE),
};

static const struct opt storage_opts[] = {
    OPT_STR("state_dir", struct cfg_storage, state_dir, "/var/lib/hallwatch", OF_NONEMPTY),
};

static const char *const http_role_names[] = {"viewer", "operator", "inspector", "admin", NULL};
_Static_assert(sizeof(enum cfg_http_role) == sizeof(int), "enum size");

static void http_user_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
			   uint64_t seen)
{
	const struct cfg_http_user *u = elem;

	(void)seen;
	if (u->password_hash && strncmp(u->password_hash, "$y$", 3) != 0)
		err_set(x, config_setting_get_member(s, "password_hash"),
			"%s.password_hash: not a yescrypt hash (\"$y$...\": make one with "
			"`hallwatch passwd`)",
			key);
}

static void http_token_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
			    uint64_t seen)
{
	const struct cfg_http_token *t = elem;
	size_t n = t->token_sha256 ? strlen(t->token_sha256) : 0;

	(void)seen;
	for (size_t i = 0; n == 64 && i < n; i++)
		if (!g_ascii_isxdigit(t->token_sha256[i]))
			n = 0;
	if (t->token_sha256 && n != 64)
		err_set(x, config_setting_get_member(s, "token_sha256"),
			"%s.token_sha256: not 64 hex digits (make one with `hallwatch passwd "
			"--token`)",
			key);
}

static const struct opt http_user_opts[] = {
    OPT_STR("name", struct cfg_http_user, name, NULL, OF_REQUIRED | OF_ID),
    OPT_ENUM("role", struct cfg_http_user, role, http_role_names, HTTP_VIEWER, OF_REQUIRED),
    OPT_STR("password_hash", struct cfg_http_user, password_hash, NULL, OF_REQUIRED | OF_NONEMPTY),
};

static const struct opt http_token_opts[] = {
    OPT_STR("name", struct cfg_http_token, name, NULL, OF_REQUIRED | OF_ID),
    OPT_ENUM("role", struct cfg_http_token, role, http_role_names, HTTP_VIEWER, OF_REQUIRED),
    OPT_STR("token_sha256", struct cfg_http_token, token_sha256, NULL, OF_REQUIRED | OF_NONEMPTY),
};

static const struct opt http_opts[] = {
    OPT_BOOL("enabled", struct cfg_http, enabled, false),
    OPT_STR("bind", struct cfg_http, bind, "127.0.0.1", OF_NONEMPTY),
    OPT_INT("port", struct cfg_http, port, 1, 65535, 8080, 0),
    OPT_STR("tls_cert", struct cfg_http, tls_cert, NULL, OF_NONEMPTY),
    OPT_STR("tls_key", struct cfg_http, tls_key, NULL, OF_NONEMPTY),
    OPT_INT("session_idle_s", struct cfg_http, session_idle_s, 60, 86400, 1800, 0),
    OPT_LIST("users", struct cfg_http, users, n_users, struct cfg_http_user, http_user_opts,
	     http_user_post, 0),
    OPT_LIST("tokens", struct cfg_http, tokens, n_tokens, struct cfg_http_token, http_token_opts,
	     http_token_post, 0),
};

static void bus_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
		     uint64_t seen);

static const struct opt bus_opts[] = {
    OPT_STR("id", struct cfg_bus, id, NULL, OF_REQUIRED | OF_ID),
    OPT_ENUM("type", struct cfg_bus, type, bus_type_names, BUS_TCP, 0),
    OPT_STR("host", struct cfg_bus, host, NULL, OF_NONEMPTY),
    OPT_INT("port", struct cfg_bus, port, 1, 65535, 502, 0),
    OPT_STR("device", struct cfg_bus, device, NULL, OF_NONEMPTY),
    OPT_INT("baud", struct cfg_bus, baud, 50, 4000000, 9600, 0),
    OPT_ENUM("parity", struct cfg_bus, parity, parity_names, PARITY_NONE, 0),
    OPT_INT("data_bits", struct cfg_bus, data_bits, 5, 8, 8, 0),
    OPT_INT("stop_bits", struct cfg_bus, stop_bits, 1, 2, 1, 0),
    OPT_BOOL("rs485", struct cfg_bus, rs485, false),
    OPT_INT("timeout_ms", struct cfg_bus, timeout_ms, 10, 60000, 1000, 0),
    OPT_INT("pipeline", struct cfg_bus, pipeline, 1, 64, 1, 0),
};

static void bus_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
		     uint64_t seen)
{
	struct cfg_bus *b = elem;

	b->line = config_setting_source_line(s);
	static const char *const tcp_only[] = {"host", "port", "pipeline"};
	static const char *const rtu_only[] = {"device",    "baud",	 "parity",
					       "data_bits", "stop_bits", "rs485"};
	bool rtu = b->type == BUS_RTU;
	const char *const *other = rtu ? tcp_only : rtu_only;
	size_t n_other = rtu ? ARRAY_SIZE(tcp_only) : ARRAY_SIZE(rtu_only);

	if (!opt_seen(bus_opts, ARRAY_SIZE(bus_opts), seen, rtu ? "device" : "host"))
		err_set(x, s, "%s: missing required setting \"%s\"", key, rtu ? "device" : "host");
	for (size_t i = 0; i < n_other; i++)
		if (opt_seen(bus_opts, ARRAY_SIZE(bus_opts), seen, other[i]))
			err_set(x, config_setting_get_member(s, other[i]),
				"%s: %s does not apply to a %s bus", key, other[i],
				rtu ? "rtu" : "tcp");
}

static void device_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
			uint64_t seen)
{
	(void)x;
	(void)key;
	(void)seen;
	((struct cfg_device *)elem)->line = config_setting_source_line(s);
}

/* intervals = { alarm = 100; analog = 10000; }: per-device intervals of profile groups
 * (checked against the profile once it is loaded). */
static void device_intervals(struct ldctx *x, const config_setting_t *s, const char *key, void *obj)
{
	struct cfg_device *d = obj;
	int n;

	if (!config_setting_is_group(s)) {
		type_err(x, s, key, "a group { group = interval_ms; ... }");
		return;
	}
	n = config_setting_length(s);
	d->intervals = calloc(n ? (size_t)n : 1, sizeof(*d->intervals));
	if (!d->intervals) {
		x->oom = true;
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		long long v;

		if (!is_int(m)) {
			type_err(x, m, config_setting_name(m), "an integer (milliseconds)");
			continue;
		}
		v = config_setting_get_int64(m);
		if (v < 10 || v > 3600000) {
			err_set(x, m, "%s.%s: %lld is out of range (10..3600000)", key,
				config_setting_name(m), v);
			continue;
		}
		d->intervals[d->n_intervals].group = strdup(config_setting_name(m));
		if (!d->intervals[d->n_intervals].group) {
			x->oom = true;
			return;
		}
		d->intervals[d->n_intervals++].interval_ms = (int)v;
	}
}

/* allow_commands = [ "start_function_test", ... ]: names of profile commands. */
static void device_allow(struct ldctx *x, const config_setting_t *s, const char *key, void *obj)
{
	struct cfg_device *d = obj;
	int n;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		type_err(x, s, key, "an array of command names [ \"...\" ]");
		return;
	}
	n = config_setting_length(s);
	d->allow_commands = calloc(n ? (size_t)n : 1, sizeof(char *));
	if (!d->allow_commands) {
		x->oom = true;
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(m);

		if (!v || !valid_id(v)) {
			err_set(x, m, "%s: element %d is not a command name", key, i);
			continue;
		}
		d->allow_commands[d->n_allow_commands] = strdup(v);
		if (!d->allow_commands[d->n_allow_commands++]) {
			x->oom = true;
			return;
		}
	}
}

int cfg_device_group_interval(const struct cfg_device *d, int g)
{
	const struct profile *p = d->profile;

	if (g < 0 || !p || (size_t)g >= p->n_groups)
		return d->interval_ms;
	for (size_t i = 0; i < d->n_intervals; i++)
		if (strcmp(d->intervals[i].group, p->groups[g].name) == 0)
			return d->intervals[i].interval_ms;
	return p->groups[g].interval_ms;
}

bool cfg_device_allows(const struct cfg_device *d, const char *name)
{
	for (size_t i = 0; i < d->n_allow_commands; i++)
		if (strcmp(d->allow_commands[i], name) == 0)
			return true;
	return false;
}

/* ---- names and locations people read in alert texts (docs/configuration.md) ---- */

static void name_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
		      uint64_t seen)
{
	struct cfg_name *n = elem;

	(void)seen;
	n->line = config_setting_source_line(s);
	if (!n->name && !n->location)
		err_set(x, s, "%s: give a name, a location or both", key);
}

/* names = ( { element = "zone[3]"; name = "east corridor"; location = "2F"; }, ... ) */
static const struct opt name_opts[] = {
    OPT_STR("element", struct cfg_name, element, NULL, OF_REQUIRED | OF_NONEMPTY),
    OPT_STR("name", struct cfg_name, name, NULL, OF_NONEMPTY),
    OPT_STR("location", struct cfg_name, location, NULL, OF_NONEMPTY),
};

/* The instance part "zone[3]" of a key "zone[3].fire" (len), or the whole key. */
static size_t element_len(const char *key)
{
	const char *close = strchr(key, ']');

	return close ? (size_t)(close - key + 1) : strlen(key);
}

const struct cfg_name *cfg_device_name_of(const struct cfg_device *d, const char *key)
{
	size_t len;

	if (!d || !key)
		return NULL;
	for (size_t i = 0; i < d->n_names; i++)
		if (strcmp(d->names[i].element, key) == 0)
			return &d->names[i];
	len = element_len(key);
	for (size_t i = 0; i < d->n_names; i++)
		if (strlen(d->names[i].element) == len &&
		    strncmp(d->names[i].element, key, len) == 0)
			return &d->names[i];
	return NULL;
}

const struct cfg_device *config_find_device(const struct hw_config *c, const char *id)
{
	for (size_t i = 0; c && id && i < c->n_devices; i++)
		if (c->devices[i].id && strcmp(c->devices[i].id, id) == 0)
			return &c->devices[i];
	return NULL;
}

const struct cfg_camera *config_find_camera(const struct hw_config *c, const char *id)
{
	for (size_t i = 0; c && id && i < c->n_cameras; i++)
		if (c->cameras[i].id && strcmp(c->cameras[i].id, id) == 0)
			return &c->cameras[i];
	return NULL;
}

static void names_free(struct cfg_device *d)
{
	free(d->name);
	free(d->location);
	for (size_t i = 0; i < d->n_names; i++) {
		free(d->names[i].element);
		free(d->names[i].name);
		free(d->names[i].location);
	}
	free(d->names);
}

/* ---- end of names ---- */

static const struct opt device_opts[] = {
    OPT_STR("id", struct cfg_device, id, NULL, OF_REQUIRED | OF_ID),
    OPT_STR("bus", struct cfg_device, bus_id, NULL, OF_REQUIRED | OF_ID),
    OPT_INT("unit", struct cfg_device, unit, 0, 247, 1, 0),
    OPT_STR("profile", struct cfg_device, profile_name, NULL, OF_REQUIRED | OF_ID),
    OPT_INT("interval_ms", struct cfg_device, interval_ms, 10, 3600000, 1000, 0),
    OPT_INT("offline_after", struct cfg_device, offline_after, 1, 100, 3, 0),
    OPT_INT("backoff_max_ms", struct cfg_device, backoff_max_ms, 100, 3600000, 30000, 0),
    OPT_INT("life_check_s", struct cfg_device, life_check_s, 0, 86400, 10, 0),
    OPT_INT("max_regs", struct cfg_device, max_regs, 1, 125, 125, 0),
    OPT_INT("max_gap", struct cfg_device, max_gap, 0, 124, 0, 0),
    OPT_INT("max_bits", struct cfg_device, max_bits, 1, 2000, 2000, 0),
    OPT_INT("address_base", struct cfg_device, address_base, 0, 1, 0, 0),
    OPT_INT("pause_ms", struct cfg_device, pause_ms, 0, 10000, 0, 0),
    OPT_INT("fire_refresh_ms", struct cfg_device, fire_refresh_ms, 100, 10000, 5000, 0),
    OPT_SPECIAL("intervals", device_intervals, 0),
    OPT_SPECIAL("allow_commands", device_allow, 0),
    OPT_STR("name", struct cfg_device, name, NULL, OF_NONEMPTY),
    OPT_STR("location", struct cfg_device, location, NULL, OF_NONEMPTY),
    OPT_LIST("names", struct cfg_device, names, n_names, struct cfg_name, name_opts, name_post, 0),
};

/* ---- cameras (video/) ---- */

static const char *const cam_transport_names[] = {"tcp", "udp", NULL};
_Static_assert(sizeof(enum cam_transport) == sizeof(int), "enum size");

/* alert_points: a list or array of device point keys. */
static void camera_points(struct ldctx *x, const config_setting_t *s, const char *key, void *obj)
{
	struct cfg_camera *c = obj;
	int n = config_setting_length(s);

	if (!config_setting_is_aggregate(s) || config_setting_is_group(s)) {
		type_err(x, s, key, "a list of strings");
		return;
	}
	c->alert_points = calloc(n > 0 ? (size_t)n : 1, sizeof(char *));
	if (!c->alert_points) {
		x->oom = true;
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);

		if (!v || !*v || !strchr(v, ':')) {
			err_set(x, e, "%s[%d]: expected a point key \"DEVICE:POINT\"", key, i);
			continue;
		}
		c->alert_points[c->n_alert_points] = strdup(v);
		if (!c->alert_points[c->n_alert_points++])
			x->oom = true;
	}
}

static void camera_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
			uint64_t seen)
{
	struct cfg_camera *c = elem;

	(void)seen;
	c->line = config_setting_source_line(s);
	if (c->url && strncmp(c->url, "rtsp://", 7) != 0 && strncmp(c->url, "rtsps://", 8) != 0)
		err_set(x, config_setting_get_member(s, "url"),
			"%s.url: \"%s\" must start with rtsp:// or rtsps://", key, c->url);
	else if (c->url && strchr(c->url + 7, '@'))
		err_set(x, config_setting_get_member(s, "url"),
			"%s.url: put credentials in username and password, not in the URL", key);
	if (c->reconnect_min_ms > c->reconnect_max_ms)
		err_set(x, s, "%s: reconnect_max_ms is below reconnect_min_ms", key);
}

static const struct opt camera_opts[] = {
    OPT_STR("id", struct cfg_camera, id, NULL, OF_REQUIRED | OF_ID),
    OPT_STR("url", struct cfg_camera, url, NULL, OF_REQUIRED | OF_NONEMPTY),
    OPT_STR("username", struct cfg_camera, username, NULL, 0),
    OPT_STR("password", struct cfg_camera, password, NULL, 0),
    OPT_STR("password_file", struct cfg_camera, password_file, NULL, OF_NONEMPTY),
    OPT_ENUM("transport", struct cfg_camera, transport, cam_transport_names, CAM_TCP, 0),
    OPT_INT("expected_fps", struct cfg_camera, expected_fps, 0, 240, 0, 0),
    OPT_INT("width", struct cfg_camera, width, 0, 16384, 0, 0),
    OPT_INT("height", struct cfg_camera, height, 0, 16384, 0, 0),
    OPT_BOOL("record", struct cfg_camera, record, true),
    OPT_INT("segment_s", struct cfg_camera, segment_s, 2, 3600, 60, 0),
    OPT_INT("retention_days", struct cfg_camera, retention_days, 1, 3650, 30, 0),
    OPT_FLOAT("disk_budget_mb", struct cfg_camera, disk_budget_mb, 0, 1e8, 0, 0),
    OPT_INT("disk_min_free_mb", struct cfg_camera, disk_min_free_mb, 0, 100000000, 500, 0),
    OPT_INT("analysis_interval_ms", struct cfg_camera, analysis_interval_ms, 0, 600000, 1000, 0),
    OPT_INT("offline_after_s", struct cfg_camera, offline_after_s, 1, 3600, 10, 0),
    OPT_INT("reconnect_min_ms", struct cfg_camera, reconnect_min_ms, 100, 3600000, 1000, 0),
    OPT_INT("reconnect_max_ms", struct cfg_camera, reconnect_max_ms, 100, 3600000, 30000, 0),
    OPT_INT("dark_level", struct cfg_camera, dark_level, 0, 255, 25, 0),
    OPT_FLOAT("dark_fraction", struct cfg_camera, dark_fraction, 0.01, 1.0, 0.98, 0),
    OPT_INT("dark_ms", struct cfg_camera, dark_ms, 0, 86400000, 2000, 0),
    OPT_FLOAT("covered_fraction", struct cfg_camera, covered_fraction, 0.01, 1.0, 0.75, 0),
    OPT_FLOAT("covered_mean", struct cfg_camera, covered_mean, 0, 255, 40, 0),
    OPT_FLOAT("flat_fraction", struct cfg_camera, flat_fraction, 0.01, 1.0, 0.90, 0),
    OPT_FLOAT("flat_stddev", struct cfg_camera, flat_stddev, 0, 128, 10, 0),
    OPT_INT("covered_ms", struct cfg_camera, covered_ms, 0, 86400000, 5000, 0),
    OPT_FLOAT("defocus_ratio", struct cfg_camera, defocus_ratio, 0.01, 0.99, 0.4, 0),
    OPT_INT("defocus_ms", struct cfg_camera, defocus_ms, 0, 86400000, 30000, 0),
    OPT_FLOAT("frozen_mad", struct cfg_camera, frozen_mad, 0, 255, 0.255, 0),
    OPT_INT("frozen_ms", struct cfg_camera, frozen_ms, 0, 86400000, 2000, 0),
    OPT_FLOAT("moved_diff", struct cfg_camera, moved_diff, 1, 255, 30, 0),
    OPT_FLOAT("moved_fraction", struct cfg_camera, moved_fraction, 0.05, 1.0, 0.8, 0),
    OPT_INT("moved_ms", struct cfg_camera, moved_ms, 0, 86400000, 10000, 0),
    OPT_INT("clear_ms", struct cfg_camera, clear_ms, 0, 86400000, 2000, 0),
    OPT_INT("cooldown_ms", struct cfg_camera, cooldown_ms, 0, 86400000, 10000, 0),
    OPT_FLOAT("fps_low_ratio", struct cfg_camera, fps_low_ratio, 0, 1.0, 0.5, 0),
    OPT_INT("video_loss_ms", struct cfg_camera, video_loss_ms, 0, 86400000, 10000, 0),
    OPT_SPECIAL("alert_points", camera_points, 0),
    OPT_INT("preroll_s", struct cfg_camera, preroll_s, 0, 3600, 10, 0),
    OPT_INT("postroll_s", struct cfg_camera, postroll_s, 0, 3600, 20, 0),
    OPT_STR("name", struct cfg_camera, name, NULL, OF_NONEMPTY),
    OPT_STR("location", struct cfg_camera, location, NULL, OF_NONEMPTY),
};

static void cameras_check(struct ldctx *x, struct hw_config *c)
{
	char lr[PATH_MAX + 16];

	for (size_t i = 1; i < c->n_cameras; i++)
		for (size_t j = 0; j < i; j++)
			if (c->cameras[i].id && c->cameras[j].id &&
			    strcmp(c->cameras[i].id, c->cameras[j].id) == 0) {
				err_at(x, c->path, c->cameras[i].line,
				       "duplicate camera id \"%s\" (first defined at %s)",
				       c->cameras[i].id,
				       line_ref(x, c->path, c->cameras[i].line, c->cameras[j].line,
						lr, sizeof(lr)));
				break;
			}
}

static void cameras_free(struct hw_config *c)
{
	for (size_t i = 0; i < c->n_cameras; i++) {
		struct cfg_camera *k = &c->cameras[i];

		free(k->id);
		free(k->url);
		free(k->username);
		free(k->password);
		free(k->password_file);
		for (size_t j = 0; j < k->n_alert_points; j++)
			free(k->alert_points[j]);
		free(k->alert_points);
		free(k->name);
		free(k->location);
	}
	free(c->cameras);
}

/* ---- end of cameras ---- */

/* ---- alerts: the rules list and the alerts section ---- */

/* An array or list of strings into a new char * array (*out, *n_out). */
static void str_list(struct ldctx *x, const config_setting_t *s, const char *key, char ***out,
		     size_t *n_out, bool ids)
{
	int n;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		type_err(x, s, key, "an array of strings [ \"...\" ]");
		return;
	}
	n = config_setting_length(s);
	*out = calloc(n ? (size_t)n : 1, sizeof(char *));
	if (!*out) {
		x->oom = true;
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(m);

		if (!v || !*v || (ids && !valid_id(v))) {
			err_set(x, m, "%s: element %d is not a valid name (A-Z a-z 0-9 _ -)", key,
				i);
			continue;
		}
		(*out)[*n_out] = strdup(v);
		if (!(*out)[(*n_out)++]) {
			x->oom = true;
			return;
		}
	}
}

static void alerts_operators(struct ldctx *x, const config_setting_t *s, const char *key, void *obj)
{
	struct cfg_alerts *a = obj;

	str_list(x, s, key, &a->operators, &a->n_operators, false);
}

static void alerts_oos(struct ldctx *x, const config_setting_t *s, const char *key, void *obj)
{
	struct cfg_alerts *a = obj;

	str_list(x, s, key, &a->out_of_service, &a->n_out_of_service, true);
}

static int64_t iso_ms(const char *t)
{
	GDateTime *dt = t ? g_date_time_new_from_iso8601(t, NULL) : NULL;
	int64_t ms = -1;

	if (dt) {
		ms = g_date_time_to_unix(dt) * 1000 + g_date_time_get_microsecond(dt) / 1000;
		g_date_time_unref(dt);
	}
	return ms;
}

static void maint_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
		       uint64_t seen)
{
	struct cfg_maint *m = elem;

	m->line = config_setting_source_line(s);
	m->from_ms = iso_ms(m->from);
	m->to_ms = iso_ms(m->to);
	if (m->from && m->from_ms < 0)
		err_set(x, config_setting_get_member(s, "from"),
			"%s.from: \"%s\" is not an ISO 8601 time with its zone "
			"(2026-11-25T08:00:00+08:00)",
			key, m->from);
	if (m->to && m->to_ms < 0)
		err_set(x, config_setting_get_member(s, "to"),
			"%s.to: \"%s\" is not an ISO 8601 time with its zone "
			"(2026-11-25T12:00:00+08:00)",
			key, m->to);
	if (m->from_ms >= 0 && m->to_ms >= 0 && m->to_ms <= m->from_ms)
		err_set(x, s, "%s: the window ends before it starts", key);
}

static const struct opt maint_opts[] = {
    OPT_STR("device", struct cfg_maint, device, NULL, OF_REQUIRED | OF_NONEMPTY),
    OPT_STR("from", struct cfg_maint, from, NULL, OF_REQUIRED | OF_NONEMPTY),
    OPT_STR("to", struct cfg_maint, to, NULL, OF_REQUIRED | OF_NONEMPTY),
    OPT_STR("reason", struct cfg_maint, reason, NULL, 0),
};

static const struct opt alerts_opts[] = {
    OPT_SPECIAL("operators", alerts_operators, 0),
    OPT_SPECIAL("out_of_service", alerts_oos, 0),
    OPT_INT("repeat_s", struct cfg_alerts, repeat_s, 0, 86400, 60, 0),
    OPT_INT("chatter_count", struct cfg_alerts, chatter_count, 0, 8, 3, 0),
    OPT_INT("chatter_window_s", struct cfg_alerts, chatter_window_s, 1, 86400, 60, 0),
    OPT_INT("flood_high", struct cfg_alerts, flood_high, 1, 100000, 10, 0),
    OPT_INT("flood_low", struct cfg_alerts, flood_low, 1, 100000, 5, 0),
    OPT_INT("flood_window_s", struct cfg_alerts, flood_window_s, 1, 86400, 600, 0),
    OPT_INT("escalate_after_s", struct cfg_alerts, escalate_after_s, 0, 31536000, 86400, 0),
    OPT_INT("shelve_max_s", struct cfg_alerts, shelve_max_s, 60, 31536000, 86400, 0),
    OPT_INT("keep_events", struct cfg_alerts, keep_events, 10000, 100000000, 10000, 0),
    OPT_INT("reply_timeout_ms", struct cfg_alerts, reply_timeout_ms, 100, 600000, 5000, 0),
    OPT_LIST("maintenance", struct cfg_alerts, maint, n_maint, struct cfg_maint, maint_opts,
	     maint_post, 0),
};

static const char *const rule_quality_names[] = {"comm_lost", "stale", "config_error", "bad", NULL};

static const struct opt rule_opts[] = {
    OPT_STR("name", struct cfg_rule, name, NULL, OF_REQUIRED | OF_ID),
    OPT_STR("device", struct cfg_rule, device, NULL, OF_REQUIRED | OF_NONEMPTY),
    OPT_STR("point", struct cfg_rule, point, NULL, OF_NONEMPTY),
    OPT_INT("priority", struct cfg_rule, priority, 1, 5, 3, 0),
    OPT_I64("equals", struct cfg_rule, equals, 0, 0),
    OPT_FLOAT("above", struct cfg_rule, above, -1e300, 1e300, 0.0, 0),
    OPT_FLOAT("below", struct cfg_rule, below, -1e300, 1e300, 0.0, 0),
    OPT_FLOAT("deadband", struct cfg_rule, deadband, 0.0, 1e300, 0.0, 0),
    OPT_STR("quality", struct cfg_rule, quality, NULL, OF_NONEMPTY),
    OPT_BOOL("offline", struct cfg_rule, offline, false),
    OPT_INT("on_delay_ms", struct cfg_rule, on_delay_ms, 0, 86400000, 0, 0),
    OPT_INT("off_delay_ms", struct cfg_rule, off_delay_ms, 0, 86400000, 0, 0),
    OPT_STR("inhibit_when", struct cfg_rule, inhibit_when, NULL, OF_NONEMPTY),
    OPT_STR("text", struct cfg_rule, text, NULL, 0),
};

static void rule_post(struct ldctx *x, const config_setting_t *s, const char *key, void *elem,
		      uint64_t seen)
{
	static const char *const kinds[] = {"equals", "above", "below", "quality", "offline"};
	struct cfg_rule *r = elem;
	int found = 0;

	r->line = config_setting_source_line(s);
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (opt_seen(rule_opts, ARRAY_SIZE(rule_opts), seen, kinds[i])) {
			r->kind = (enum cfg_rule_kind)i;
			found++;
		}
	}
	if (found != 1) {
		err_set(x, s, "%s: needs exactly one of equals, above, below, quality, offline",
			key);
		return;
	}
	if (r->kind == RULE_OFFLINE && !r->offline)
		err_set(x, config_setting_get_member(s, "offline"),
			"%s.offline: only true makes sense", key);
	if (r->kind == RULE_OFFLINE && r->point)
		err_set(x, config_setting_get_member(s, "point"),
			"%s.point: an offline rule applies to the whole device", key);
	if (r->kind != RULE_OFFLINE && !r->point)
		err_set(x, s, "%s: missing required setting \"point\"", key);
	if (opt_seen(rule_opts, ARRAY_SIZE(rule_opts), seen, "deadband") && r->kind != RULE_ABOVE &&
	    r->kind != RULE_BELOW)
		err_set(x, config_setting_get_member(s, "deadband"),
			"%s.deadband: applies only to above or below", key);
	if (r->quality) {
		bool ok = false;

		for (size_t i = 0; rule_quality_names[i]; i++)
			ok |= strcmp(rule_quality_names[i], r->quality) == 0;
		if (!ok)
			err_set(x, config_setting_get_member(s, "quality"),
				"%s.quality: \"%s\" is not one of comm_lost, stale, config_error, "
				"bad",
				key, r->quality);
	}
}

/* Rules refer to devices, and rule names are unique. */
static void rules_check(struct ldctx *x, struct hw_config *c)
{
	char lr[PATH_MAX + 16];

	if (c->alerts.flood_low > c->alerts.flood_high)
		err_at(x, c->path, 1, "alerts.flood_low: %d is above flood_high (%d)",
		       c->alerts.flood_low, c->alerts.flood_high);
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct cfg_rule *r = &c->rules[i];
		bool known = r->device && strcmp(r->device, "*") == 0;

		for (size_t j = 0; r->device && j < c->n_devices; j++)
			known |= c->devices[j].id && strcmp(c->devices[j].id, r->device) == 0;
		if (r->device && !known)
			err_at(x, c->path, r->line, "rule \"%s\": unknown device \"%s\"",
			       r->name ? r->name : "?", r->device);
		for (size_t j = 0; j < i; j++) {
			if (r->name && c->rules[j].name && strcmp(r->name, c->rules[j].name) == 0) {
				err_at(x, c->path, r->line, "rule \"%s\": name already used at %s",
				       r->name,
				       line_ref(x, c->path, r->line, c->rules[j].line, lr,
						sizeof(lr)));
				break;
			}
		}
	}
	/* alerts.out_of_service: refs_alerts */
}

static void alerts_cfg_free(struct hw_config *c)
{
	for (size_t i = 0; i < c->alerts.n_operators; i++)
		free(c->alerts.operators[i]);
	free(c->alerts.operators);
	for (size_t i = 0; i < c->alerts.n_out_of_service; i++)
		free(c->alerts.out_of_service[i]);
	free(c->alerts.out_of_service);
	for (size_t i = 0; i < c->alerts.n_maint; i++) {
		free(c->alerts.maint[i].device);
		free(c->alerts.maint[i].from);
		free(c->alerts.maint[i].to);
		free(c->alerts.maint[i].reason);
	}
	free(c->alerts.maint);
	for (size_t i = 0; i < c->n_rules; i++) {
		free(c->rules[i].name);
		free(c->rules[i].device);
		free(c->rules[i].point);
		free(c->rules[i].quality);
		free(c->rules[i].inhibit_when);
		free(c->rules[i].text);
	}
	free(c->rules);
}

/* ---- delivery (docs/delivery.md): secrets from files, TLS ---- */

static void delivery_cfg_free(struct hw_config *c)
{
	free(c->mqtt.password_file);
	free(c->mqtt.cafile);
	free(c->mqtt.certfile);
	free(c->mqtt.keyfile);
	free(c->mqtt.tls_version);
	free(c->influx.password_file);
	free(c->influx.token_file);
}

/* Reads a secret (the first line of file) into *dst; warns when others may read it. The
 * secret itself is never part of a message. */
static void secret_read(struct ldctx *x, const config_t *cf, const char *file, const char *key,
			const char *secret_key, const char *name, char **dst)
{
	char buf[4096];
	struct stat sb;
	ssize_t n;
	int fd;

	if (!name)
		return;
	if (*dst) {
		err_at(x, file, path_line(cf, key), "%s: give either %s or the file, not both", key,
		       secret_key);
		return;
	}
	/* Non-blocking: a FIFO named here must not stop a start or a reload. */
	fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		err_at(x, file, path_line(cf, key), "%s: cannot read \"%s\": %s", key, name,
		       strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		err_at(x, file, path_line(cf, key), "%s: cannot read \"%s\": not a regular file",
		       key, name);
		goto out;
	}
	if (sb.st_mode & S_IROTH)
		log_warn("%s: \"%s\" is readable by every user: chmod o-r it (it holds a secret)",
			 key, name);
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		err_at(x, file, path_line(cf, key), "%s: cannot read \"%s\": %s", key, name,
		       strerror(errno));
		goto out;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	*dst = strdup(buf);
	memset(buf, 0, sizeof(buf));
	if (!*dst)
		x->oom = true;
out:
	if (fd >= 0)
		close(fd);
}

/* The console (docs/http.md): TLS files readable and paired, account names unique. */
static void http_check(struct ldctx *x, const config_t *cf, struct hw_config *c)
{
	const struct cfg_http *h = &c->http;
	const char *k[] = {"http.tls_cert", "http.tls_key"};
	const char *v[] = {h->tls_cert, h->tls_key};

	if ((h->tls_cert != NULL) != (h->tls_key != NULL))
		err_at(x, c->path, path_line(cf, h->tls_cert ? k[0] : k[1]),
		       "http: tls_cert and tls_key go together");
	for (int i = 0; i < 2; i++)
		if (v[i] && access(v[i], R_OK) != 0)
			err_at(x, c->path, path_line(cf, k[i]), "%s: cannot read \"%s\": %s", k[i],
			       v[i], strerror(errno));
	for (size_t i = 0; i < h->n_users; i++)
		for (size_t j = 0; j < i; j++)
			if (h->users[i].name && h->users[j].name &&
			    strcmp(h->users[i].name, h->users[j].name) == 0)
				err_at(x, c->path, path_line(cf, "http.users"),
				       "http.users: \"%s\" is listed twice", h->users[i].name);
}

static void delivery_check(struct ldctx *x, const config_t *cf, struct hw_config *c)
{
	const struct cfg_mqtt *m = &c->mqtt;

	secret_read(x, cf, c->path, "mqtt.password_file", "mqtt.password", m->password_file,
		    &c->mqtt.password);
	secret_read(x, cf, c->path, "influx.password_file", "influx.password",
		    c->influx.password_file, &c->influx.password);
	secret_read(x, cf, c->path, "influx.token_file", "influx.token", c->influx.token_file,
		    &c->influx.token);
	for (size_t i = 0; i < c->n_cameras; i++) {
		char key[64], skey[64];
		snprintf(key, sizeof(key), "cameras.[%zu].password_file", i);
		snprintf(skey, sizeof(skey), "cameras[%zu].password", i);
		secret_read(x, cf, c->path, key, skey, c->cameras[i].password_file,
			    &c->cameras[i].password);
	}
	if ((m->certfile != NULL) != (m->keyfile != NULL))
		err_at(x, c->path, path_line(cf, m->certfile ? "mqtt.certfile" : "mqtt.keyfile"),
		       "mqtt: certfile and keyfile go together");
	if ((m->certfile || m->tls_version || m->insecure) && !m->cafile)
		err_at(x, c->path, path_line(cf, "mqtt"),
		       "mqtt: TLS settings need mqtt.cafile (the CA that signed the broker)");
	if (m->tls_version && strcmp(m->tls_version, "tlsv1.2") != 0 &&
	    strcmp(m->tls_version, "tlsv1.3") != 0)
		err_at(x, c->path, path_line(cf, "mqtt.tls_version"),
		       "mqtt.tls_version: \"%s\" is not tlsv1.2 or tlsv1.3", m->tls_version);
	for (int i = 0; i < 3; i++) {
		const char *k[] = {"mqtt.cafile", "mqtt.certfile", "mqtt.keyfile"};
		const char *v[] = {m->cafile, m->certfile, m->keyfile};
		struct stat sb;

		if (v[i] && (stat(v[i], &sb) != 0 || access(v[i], R_OK) != 0))
			err_at(x, c->path, path_line(cf, k[i]), "%s: cannot read \"%s\": %s", k[i],
			       v[i], strerror(errno));
		else if (v[i] && !S_ISREG(sb.st_mode)) /* the TLS library would block on a FIFO */
			err_at(x, c->path, path_line(cf, k[i]),
			       "%s: cannot read \"%s\": not a regular file", k[i], v[i]);
	}
	if (c->influx.enabled && c->influx.version == 2 && c->influx.token_file && !c->influx.token)
		err_at(x, c->path, path_line(cf, "influx.token_file"),
		       "influx.token_file: empty token");
}

static const struct opt root_opts[] = {
    OPT_GROUP("site", struct hw_config, site, site_opts, OF_REQUIRED),
    OPT_GROUP("mqtt", struct hw_config, mqtt, mqtt_opts, 0),
    OPT_GROUP("influx", struct hw_config, influx, influx_opts, 0),
    OPT_GROUP("storage", struct hw_config, storage, storage_opts, 0),
    OPT_GROUP("http", struct hw_config, http, http_opts, 0),
    OPT_LIST("buses", struct hw_config, buses, n_buses, struct cfg_bus, bus_opts, bus_post, 0),
    OPT_LIST("devices", struct hw_config, devices, n_devices, struct cfg_device, device_opts,
	     device_post, 0),
    OPT_LIST("cameras", struct hw_config, cameras, n_cameras, struct cfg_camera, camera_opts,
	     camera_post, 0),
    OPT_LIST("rules", struct hw_config, rules, n_rules, struct cfg_rule, rule_opts, rule_post, 0),
    OPT_GROUP("alerts", struct hw_config, alerts, alerts_opts, 0),
    OPT_SPECIAL("inspections", inspections_parse, 0),
};

static void http_cfg_free(struct cfg_http *h)
{
	free(h->bind);
	free(h->tls_cert);
	free(h->tls_key);
	for (size_t i = 0; i < h->n_users; i++) {
		free(h->users[i].name);
		free(h->users[i].password_hash);
	}
	free(h->users);
	for (size_t i = 0; i < h->n_tokens; i++) {
		free(h->tokens[i].name);
		free(h->tokens[i].token_sha256);
	}
	free(h->tokens);
}

int config_http_read(const struct config_setting_t *grp, const char *path, struct cfg_http *h,
		     struct cfg_errors *errs)
{
	struct ldctx x = {.errs = errs};
	const struct cfg_http *v = h;

	memset(h, 0, sizeof(*h));
	opts_defaults(&x, http_opts, ARRAY_SIZE(http_opts), h);
	if (grp)
		opts_apply(&x, http_opts, ARRAY_SIZE(http_opts), grp, path, h);
	if ((v->tls_cert != NULL) != (v->tls_key != NULL))
		err_set(&x, grp, "%s: tls_cert and tls_key go together", path);
	for (size_t i = 0; i < v->n_users; i++)
		for (size_t j = 0; j < i; j++)
			if (v->users[i].name && v->users[j].name &&
			    strcmp(v->users[i].name, v->users[j].name) == 0)
				err_set(&x, grp, "%s.users: \"%s\" is listed twice", path,
					v->users[i].name);
	if (x.oom)
		return -ENOMEM;
	return x.n_err ? -EINVAL : 0;
}

void config_http_free(struct cfg_http *h)
{
	if (h)
		http_cfg_free(h);
}

void config_free(struct hw_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->site.id);
	free(c->site.name);
	free(c->site.profile_dir);
	free(c->site.timezone);
	free(c->mqtt.host);
	for (size_t i = 0; i < c->mqtt.n_hosts; i++)
		free(c->mqtt.hosts[i].host);
	free(c->mqtt.hosts);
	free(c->mqtt.client_id);
	free(c->mqtt.username);
	free(c->mqtt.password);
	free(c->mqtt.topic_root);
	free(c->mqtt.reply_prefix);
	free(c->influx.url);
	free(c->influx.database);
	free(c->influx.username);
	free(c->influx.password);
	free(c->influx.org);
	free(c->influx.bucket);
	free(c->influx.token);
	delivery_cfg_free(c);
	free(c->storage.state_dir);
	http_cfg_free(&c->http);
	alerts_cfg_free(c);
	inspections_free(c);
	for (size_t i = 0; i < c->n_buses; i++) {
		free(c->buses[i].id);
		free(c->buses[i].host);
		free(c->buses[i].device);
	}
	free(c->buses);
	for (size_t i = 0; i < c->n_devices; i++) {
		free(c->devices[i].id);
		free(c->devices[i].bus_id);
		free(c->devices[i].profile_name);
		for (size_t k = 0; k < c->devices[i].n_intervals; k++)
			free(c->devices[i].intervals[k].group);
		free(c->devices[i].intervals);
		for (size_t k = 0; k < c->devices[i].n_allow_commands; k++)
			free(c->devices[i].allow_commands[k]);
		free(c->devices[i].allow_commands);
		names_free(&c->devices[i]);
	}
	free(c->devices);
	cameras_free(c);
	for (size_t i = 0; i < c->n_profiles; i++)
		profile_free(c->profiles[i]);
	free(c->profiles);
	free(c);
}

/* site.name, mqtt.client_id and mqtt.reply_prefix default from the site id; profile_dir
 * becomes absolute, relative to the directory of the configuration file. */
static void site_finish(struct ldctx *x, struct hw_config *c)
{
	char *abs = NULL, *dir = NULL, *slash, *joined = NULL, *real;

	if (!c->site.name && c->site.id) {
		c->site.name = strdup(c->site.id);
		if (!c->site.name)
			x->oom = true;
	}
	if (!c->mqtt.client_id) {
		if (asprintf(&c->mqtt.client_id, "hallwatch-%s",
			     c->site.id ? c->site.id : "gateway") < 0) {
			c->mqtt.client_id = NULL;
			x->oom = true;
		}
	}
	if (!c->mqtt.reply_prefix && c->mqtt.topic_root && c->site.id &&
	    asprintf(&c->mqtt.reply_prefix, "%s/%s/reply/", c->mqtt.topic_root, c->site.id) < 0) {
		c->mqtt.reply_prefix = NULL;
		x->oom = true;
	}
	if (!c->site.profile_dir || c->site.profile_dir[0] == '/')
		return;
	abs = realpath(c->path, NULL);
	if (abs) {
		slash = strrchr(abs, '/');
		dir = strndup(abs, (size_t)(slash - abs));
	} else {
		dir = getcwd(NULL, 0);
	}
	if (!dir || asprintf(&joined, "%s/%s", dir, c->site.profile_dir) < 0) {
		x->oom = true;
		goto out;
	}
	real = realpath(joined, NULL);
	free(c->site.profile_dir);
	if (real) {
		c->site.profile_dir = real;
		free(joined);
	} else {
		c->site.profile_dir = joined;
	}
out:
	free(dir);
	free(abs);
}

static void check_min_max(struct ldctx *x, const config_t *cf, const char *file, const char *sec,
			  const char *lo_name, int lo, const char *hi_name, int hi)
{
	char path[64];

	if (lo <= hi)
		return;
	snprintf(path, sizeof(path), "%s.%s", sec, hi_name);
	err_at(x, file, path_line(cf, path), "%s.%s: %d is below %s (%d)", sec, hi_name, hi,
	       lo_name, lo);
}

/* Replies to commands go only under mqtt.reply_prefix: never onto a gateway's own topics. */
static void reply_prefix_check(struct ldctx *x, const config_t *cf, struct hw_config *c)
{
	const char *rp = c->mqtt.reply_prefix;
	size_t tl = strlen(c->mqtt.topic_root), len = strlen(rp);
	char *own = NULL;

	if (asprintf(&own, "%s/%s/reply/", c->mqtt.topic_root, c->site.id) < 0) {
		x->oom = true;
		return;
	}
	if (strpbrk(rp, "+#") || rp[0] == '/' || rp[len - 1] != '/')
		err_at(x, c->path, path_line(cf, "mqtt.reply_prefix"),
		       "mqtt.reply_prefix: \"%s\" must not contain + or # nor start with /, and "
		       "must end with /",
		       rp);
	else if (strncmp(rp, c->mqtt.topic_root, tl) == 0 && (rp[tl] == '/' || !rp[tl]) &&
		 strncmp(rp, own, strlen(own)) != 0)
		err_at(x, c->path, path_line(cf, "mqtt.reply_prefix"),
		       "mqtt.reply_prefix: \"%s\" is inside mqtt.topic_root but not under \"%s\": "
		       "replies could overwrite gateway topics",
		       rp, own);
	free(own);
}

static void sections_check(struct ldctx *x, const config_t *cf, struct hw_config *c)
{
	const char *f = c->path;
	const char *tr = c->mqtt.topic_root;
	size_t len;

	check_min_max(x, cf, f, "mqtt", "reconnect_min_ms", c->mqtt.reconnect_min_ms,
		      "reconnect_max_ms", c->mqtt.reconnect_max_ms);
	check_min_max(x, cf, f, "influx", "retry_min_ms", c->influx.retry_min_ms, "retry_max_ms",
		      c->influx.retry_max_ms);
	check_min_max(x, cf, f, "influx", "batch_size", c->influx.batch_size, "max_buffer",
		      c->influx.max_buffer);
	if (tr) {
		len = strlen(tr);
		if (strpbrk(tr, "+#") || tr[0] == '/' || (len && tr[len - 1] == '/'))
			err_at(x, f, path_line(cf, "mqtt.topic_root"),
			       "mqtt.topic_root: \"%s\" must not contain + or # nor start or end "
			       "with /",
			       tr);
	}
	if (tr && c->site.id && c->mqtt.reply_prefix)
		reply_prefix_check(x, cf, c);
	if (c->influx.url && strncmp(c->influx.url, "http://", 7) != 0 &&
	    strncmp(c->influx.url, "https://", 8) != 0)
		err_at(x, f, path_line(cf, "influx.url"),
		       "influx.url: \"%s\" must start with http:// or https://", c->influx.url);
	if (c->influx.enabled && c->influx.version == 2) {
		static const char *const need[] = {"org", "bucket", "token"};
		char *const have[] = {c->influx.org, c->influx.bucket, c->influx.token};

		for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
			if (!have[i])
				err_at(x, f, path_line(cf, "influx"),
				       "influx: missing required setting \"%s\" (version 2)",
				       need[i]);
		}
	}
}

static void buses_check(struct ldctx *x, struct hw_config *c)
{
	char lr[PATH_MAX + 16];

	for (size_t i = 1; i < c->n_buses; i++) {
		for (size_t j = 0; j < i; j++) {
			if (c->buses[i].id && c->buses[j].id &&
			    strcmp(c->buses[i].id, c->buses[j].id) == 0) {
				err_at(x, c->path, c->buses[i].line,
				       "duplicate bus id \"%s\" (first defined at %s)",
				       c->buses[i].id,
				       line_ref(x, c->path, c->buses[i].line, c->buses[j].line, lr,
						sizeof(lr)));
				break;
			}
		}
	}
}

struct prof_cache {
	const char *name;
	const struct profile *p; /* NULL: missing or invalid */
	bool missing;
	char *path;
};

/* Loads (once) the profile called name from profile_dir into c->profiles; ref names the
 * first device that uses it. */
static struct prof_cache *profile_get(struct ldctx *x, struct hw_config *c,
				      struct prof_cache *cache, size_t *n_cache, const char *name,
				      const struct prof_ref *ref)
{
	struct prof_cache *e;
	struct profile *p, **v;
	int rc;

	for (size_t i = 0; i < *n_cache; i++) {
		if (strcmp(cache[i].name, name) == 0)
			return &cache[i];
	}
	e = &cache[(*n_cache)++];
	e->name = name;
	if (asprintf(&e->path, "%s/%s.cfg", c->site.profile_dir, name) < 0) {
		e->path = NULL;
		x->oom = true;
		return e;
	}
	rc = profile_read(x, e->path, ref, &p);
	if (rc == -ENOENT)
		e->missing = true;
	if (rc < 0)
		return e;
	v = realloc(c->profiles, (c->n_profiles + 1) * sizeof(*v));
	if (!v) {
		profile_free(p);
		x->oom = true;
		return e;
	}
	c->profiles = v;
	c->profiles[c->n_profiles++] = p;
	e->p = p;
	return e;
}

static void devices_check(struct ldctx *x, const config_t *cf, struct hw_config *c)
{
	char lr[PATH_MAX + 16];
	const config_setting_t *list = config_lookup(cf, "devices");
	struct prof_cache *cache;
	size_t n_cache = 0;

	cache = calloc(c->n_devices ? c->n_devices : 1, sizeof(*cache));
	if (!cache) {
		x->oom = true;
		return;
	}
	for (size_t i = 0; i < c->n_devices; i++) {
		struct cfg_device *d = &c->devices[i];
		const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
		struct prof_cache *pc;

		for (size_t j = 0; j < i; j++) {
			if (d->id && c->devices[j].id && strcmp(d->id, c->devices[j].id) == 0) {
				err_at(x, c->path, d->line,
				       "duplicate device id \"%s\" (first defined at %s)", d->id,
				       line_ref(x, c->path, d->line, c->devices[j].line, lr,
						sizeof(lr)));
				break;
			}
		}
		if (d->bus_id) {
			for (size_t j = 0; j < c->n_buses; j++) {
				if (c->buses[j].id && strcmp(c->buses[j].id, d->bus_id) == 0)
					d->bus = &c->buses[j];
			}
			if (!d->bus)
				err_at(x, c->path, member_line(s, "bus"),
				       "device \"%s\": unknown bus \"%s\"", d->id ? d->id : "?",
				       d->bus_id);
		}
		if (!d->profile_name || !c->site.profile_dir)
			continue;
		pc = profile_get(x, c, cache, &n_cache, d->profile_name,
				 &(struct prof_ref){.file = c->path,
						    .line = member_line(s, "profile"),
						    .device = d->id ? d->id : "?"});
		if (pc->missing)
			err_at(x, c->path, member_line(s, "profile"),
			       "device \"%s\": profile \"%s\" not found (no file %s)",
			       d->id ? d->id : "?", d->profile_name, pc->path);
		d->profile = pc->p;
		if (!d->profile)
			continue;
		for (size_t k = 0; k < d->n_intervals; k++)
			if (group_index(d->profile, d->intervals[k].group) < 0)
				err_at(x, c->path, member_line(s, "intervals"),
				       "device \"%s\": profile \"%s\" has no group \"%s\"",
				       d->id ? d->id : "?", d->profile_name, d->intervals[k].group);
		for (size_t k = 0; k < d->n_allow_commands; k++)
			if (!profile_find_command(d->profile, d->allow_commands[k]))
				err_at(x, c->path, member_line(s, "allow_commands"),
				       "device \"%s\": profile \"%s\" has no command \"%s\"",
				       d->id ? d->id : "?", d->profile_name, d->allow_commands[k]);
	}
	for (size_t i = 0; i < n_cache; i++)
		free(cache[i].path);
	free(cache);
}

/* ---- references: every name one part of the configuration uses for another ---- */

/* Where each line of the text being read starts (lines 1..n). */
struct line_index {
	const char *text;
	size_t *start; /* start[k - 1]: offset of line k */
	int n;
};

static void line_index_build(struct ldctx *x, struct line_index *li)
{
	const char *p;
	size_t cap = 256;

	li->text = x->n_src ? cfgsrc_text(x->src[x->n_src - 1].src) : NULL;
	li->start = li->text ? malloc(cap * sizeof(*li->start)) : NULL;
	li->n = 0;
	if (!li->start) {
		li->text = NULL;
		return;
	}
	for (p = li->text;; p++) {
		if ((size_t)li->n == cap) {
			size_t *v = realloc(li->start, 2 * cap * sizeof(*v));

			if (!v) {
				x->oom = true;
				return;
			}
			li->start = v;
			cap *= 2;
		}
		li->start[li->n++] = (size_t)(p - li->text);
		p = strchr(p, '\n');
		if (!p)
			return;
	}
}

/* libconfig dates an array element by the token after it: a last element whose `]` is on
 * a line of its own gets that line. The line of the string value itself: the nearest line at
 * or before `line` (within 256) of the text being read that holds it quoted, else `line`. */
static int string_line(const struct line_index *li, int line, const char *value)
{
	char *quoted = NULL;
	int found = line;

	if (!li || !li->text || !value || line <= 0 || line > li->n ||
	    asprintf(&quoted, "\"%s\"", value) < 0)
		return line;
	for (int k = line; k >= 1 && k > line - 256; k--) {
		const char *b = li->text + li->start[k - 1];
		const char *e = k < li->n ? li->text + li->start[k] : b + strlen(b);

		if (memmem(b, (size_t)(e - b), quoted, strlen(quoted))) {
			found = k;
			break;
		}
	}
	free(quoted);
	return found;
}

/* The line of element j of member `name` of element i of the top-level list `list`, else of
 * the closest setting that exists. */
static int ref_line(const struct line_index *li, const config_t *cf, const char *list, size_t i,
		    const char *name, int j)
{
	const config_setting_t *l = config_lookup(cf, list);
	const config_setting_t *e = l ? config_setting_get_elem(l, (unsigned)i) : NULL;
	const config_setting_t *m = e && name ? config_setting_get_member(e, name) : NULL;
	const config_setting_t *v = m && j >= 0 ? config_setting_get_elem(m, (unsigned)j) : NULL;
	int line = 0;

	if (v)
		line = string_line(li, (int)config_setting_source_line(v),
				   config_setting_get_string(v));
	if (line <= 0 && m)
		line = config_setting_source_line(m);
	if (line <= 0 && e)
		line = config_setting_source_line(e);
	return line > 0 ? line : path_line(cf, list);
}

/* The line of setting l, else of the setting at path. */
static int elem_line(const config_t *cf, const config_setting_t *l, const char *path)
{
	int line = l ? (int)config_setting_source_line(l) : 0;

	return line > 0 ? line : path_line(cf, path);
}

static const struct cfg_device *ref_device(const struct hw_config *c, const char *id, size_t len)
{
	for (size_t i = 0; i < c->n_devices; i++)
		if (c->devices[i].id && strlen(c->devices[i].id) == len &&
		    strncmp(c->devices[i].id, id, len) == 0)
			return &c->devices[i];
	return NULL;
}

static bool ref_camera(const struct hw_config *c, const char *id)
{
	for (size_t i = 0; i < c->n_cameras; i++)
		if (c->cameras[i].id && strcmp(c->cameras[i].id, id) == 0)
			return true;
	return false;
}

/* Why key is not a point of d's profile (a message of the form "... of device D"), or NULL
 * when it is one. A device whose profile did not load is not checked (its error is given). */
static const char *ref_point_why(const struct cfg_device *d, const char *key, char *buf, size_t sz)
{
	const struct prof_block *b;
	int idx, rc;

	if (!d->profile)
		return NULL;
	rc = profile_resolve_key(d->profile, key, NULL, &b, &idx);
	if (rc == 0)
		return NULL;
	if (rc == -ERANGE)
		snprintf(buf, sz, "%s %d is out of range: profile \"%s\" has %s[0] .. %s[%d]",
			 b->name, idx, d->profile->name, b->name, b->name, b->max_count - 1);
	else if (rc == -ENOENT && b)
		snprintf(buf, sz, "profile \"%s\" has no point \"%s\" in block \"%s\"",
			 d->profile->name, strchr(key, '.') + 1, b->name);
	else if (rc == -ENOENT)
		snprintf(buf, sz, "profile \"%s\" has no point \"%s\"", d->profile->name, key);
	else
		snprintf(buf, sz, "\"%s\" is not a point key (NAME or BLOCK[i].NAME)", key);
	return buf;
}

/* cameras[].alert_points: "DEVICE:POINT", an existing device and one of its points. */
static void refs_camera_points(struct ldctx *x, const config_t *cf, const struct hw_config *c)
{
	struct line_index li = {0};
	char why[256];

	for (size_t i = 0; i < c->n_cameras; i++) {
		const struct cfg_camera *k = &c->cameras[i];

		for (size_t j = 0; j < k->n_alert_points; j++) {
			const char *ap = k->alert_points[j], *colon = strchr(ap, ':');
			const struct cfg_device *d = ref_device(c, ap, (size_t)(colon - ap));
			int line;

			if (d && !ref_point_why(d, colon + 1, why, sizeof(why)))
				continue;
			if (!li.start)
				line_index_build(x, &li);
			line = ref_line(&li, cf, "cameras", i, "alert_points", (int)j);
			if (!d)
				err_at(
				    x, c->path, line,
				    "camera \"%s\": alert_points \"%s\": unknown device \"%.*s\"",
				    k->id ? k->id : "?", ap, (int)(colon - ap), ap);
			else
				err_at(x, c->path, line, "camera \"%s\": alert_points \"%s\": %s",
				       k->id ? k->id : "?", ap, why);
		}
	}
	free(li.start);
}

/* rules[].point and inhibit_when: a pattern that matches a point of the rule's device (of
 * some device for "*"), a point key of it. */
static void refs_rules(struct ldctx *x, const config_t *cf, const struct hw_config *c)
{
	char why[256];

	for (size_t i = 0; i < c->n_rules; i++) {
		const struct cfg_rule *r = &c->rules[i];
		bool any = r->device && strcmp(r->device, "*") == 0;
		const struct cfg_device *d =
		    any || !r->device ? NULL : ref_device(c, r->device, strlen(r->device));
		bool unchecked = false, found = false;

		if (!any && !d)
			continue; /* an unknown device is reported by rules_check */
		for (size_t j = 0; j < c->n_devices; j++) {
			const struct cfg_device *e = &c->devices[j];

			if (!any && e != d)
				continue;
			if (!e->profile)
				unchecked = true;
			else if (!r->point || profile_key_matches(e->profile, r->point))
				found = true;
		}
		if (r->point && !found && !unchecked)
			err_at(x, c->path, ref_line(NULL, cf, "rules", i, "point", -1),
			       "rule \"%s\": point \"%s\" matches no point of %s%s%s",
			       r->name ? r->name : "?", r->point, any ? "any device" : "device \"",
			       any ? "" : r->device, any ? "" : "\"");
		if (!r->inhibit_when)
			continue;
		if (d && ref_point_why(d, r->inhibit_when, why, sizeof(why))) {
			err_at(x, c->path, ref_line(NULL, cf, "rules", i, "inhibit_when", -1),
			       "rule \"%s\": inhibit_when \"%s\": %s", r->name ? r->name : "?",
			       r->inhibit_when, why);
			continue;
		}
		found = unchecked = false;
		for (size_t j = 0; any && j < c->n_devices; j++) {
			if (!c->devices[j].profile)
				unchecked = true;
			else if (!ref_point_why(&c->devices[j], r->inhibit_when, why, sizeof(why)))
				found = true;
		}
		if (any && !found && !unchecked)
			err_at(x, c->path, ref_line(NULL, cf, "rules", i, "inhibit_when", -1),
			       "rule \"%s\": inhibit_when \"%s\" is a point of no device",
			       r->name ? r->name : "?", r->inhibit_when);
	}
}

/* alerts.out_of_service (device ids), alerts.maintenance[].device (a device, a camera or
 * "*") and alerts.operators (the users: named once each). */
static void refs_alerts(struct ldctx *x, const config_t *cf, const struct hw_config *c)
{
	const struct cfg_alerts *a = &c->alerts;
	const config_setting_t *l;
	char path[64];

	for (size_t i = 0; i < a->n_out_of_service; i++) {
		const char *id = a->out_of_service[i];

		l = config_lookup(cf, "alerts.out_of_service");
		l = l ? config_setting_get_elem(l, (unsigned)i) : NULL;
		if (!ref_device(c, id, strlen(id)))
			err_at(x, c->path, elem_line(cf, l, "alerts.out_of_service"),
			       "alerts.out_of_service: unknown device \"%s\"", id);
	}
	for (size_t i = 0; i < a->n_maint; i++) {
		const char *dev = a->maint[i].device;

		if (!dev || strcmp(dev, "*") == 0 || ref_device(c, dev, strlen(dev)) ||
		    ref_camera(c, dev))
			continue;
		snprintf(path, sizeof(path), "alerts.maintenance.[%zu].device", i);
		err_at(x, c->path, path_line(cf, path),
		       "alerts.maintenance[%zu].device: unknown device or camera \"%s\"", i, dev);
	}
	for (size_t i = 1; i < a->n_operators; i++)
		for (size_t j = 0; j < i; j++)
			if (a->operators[i] && a->operators[j] &&
			    strcmp(a->operators[i], a->operators[j]) == 0) {
				l = config_lookup(cf, "alerts.operators");
				l = l ? config_setting_get_elem(l, (unsigned)i) : NULL;
				err_at(x, c->path, elem_line(cf, l, "alerts.operators"),
				       "alerts.operators: \"%s\" is named twice", a->operators[i]);
				break;
			}
}

/* devices[].names[].element: an element ("zone[3]") or a point key of the device's profile,
 * each named once. */
static void refs_names(struct ldctx *x, const config_t *cf, const struct hw_config *c)
{
	char why[256], lr[PATH_MAX + 16];

	for (size_t i = 0; i < c->n_devices; i++) {
		const struct cfg_device *d = &c->devices[i];

		for (size_t j = 0; j < d->n_names; j++) {
			const char *el = d->names[j].element;
			const struct prof_block *b;
			int idx, rc, line = d->names[j].line;

			for (size_t k = 0; k < j; k++)
				if (strcmp(d->names[k].element, el) == 0) {
					err_at(
					    x, c->path, line,
					    "device \"%s\": names: \"%s\" is named already at %s",
					    d->id ? d->id : "?", el,
					    line_ref(x, c->path, line, d->names[k].line, lr,
						     sizeof(lr)));
					break;
				}
			if (!d->profile)
				continue;
			rc = strchr(el, '[') && !strchr(el, '.')
				 ? profile_resolve_element(d->profile, el, &b, &idx)
				 : 1;
			if (rc == 0)
				continue;
			if (rc == -ERANGE)
				err_at(
				    x, c->path, line,
				    "device \"%s\": names: %s %d is out of range: profile \"%s\" "
				    "has %s[0] .. %s[%d]",
				    d->id ? d->id : "?", b->name, idx, d->profile->name, b->name,
				    b->name, b->max_count - 1);
			else if (rc == -ENOENT)
				err_at(x, c->path, line,
				       "device \"%s\": names: profile \"%s\" has no block \"%.*s\"",
				       d->id ? d->id : "?", d->profile->name,
				       (int)(strchr(el, '[') - el), el);
			else if (ref_point_why(d, el, why, sizeof(why)))
				err_at(x, c->path, line, "device \"%s\": names: \"%s\": %s",
				       d->id ? d->id : "?", el, why);
		}
	}
	(void)cf;
}

/* Every reference between parts of the configuration, each reported at its own line. */
static void refs_check(struct ldctx *x, const config_t *cf, const struct hw_config *c)
{
	refs_names(x, cf, c);
	refs_camera_points(x, cf, c);
	refs_rules(x, cf, c);
	refs_alerts(x, cf, c);
}

int config_load(const char *path, struct hw_config **out, struct cfg_errors *errs)
{
	struct ldctx x = {.errs = errs};
	struct cfgsrc_err e = {0};
	struct cfgsrc *src = NULL;
	struct hw_config *c;
	config_t cf;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->path = strdup(path);
	if (!c->path) {
		rc = -ENOMEM;
		goto out_c;
	}
	config_init(&cf);
	/* @include "x" is relative to the configuration file's directory (cfgsrc.h). */
	rc = src_parse(&x, path, &cf, &src, &e);
	if (!src) {
		if (e.msg && !e.file)
			err_at(&x, path, 0, "cannot read the configuration: %s", e.msg);
		cfgsrc_err_clear(&e);
		goto out_cf;
	}
	if (rc < 0)
		goto out_src;
	opts_defaults(&x, root_opts, ARRAY_SIZE(root_opts), c);
	opts_apply(&x, root_opts, ARRAY_SIZE(root_opts), config_root_setting(&cf), "", c);
	site_finish(&x, c);
	if (c->site.timezone && !timeparse_tz_valid(c->site.timezone))
		err_set(&x, config_lookup(&cf, "site.timezone"),
			"site.timezone: \"%s\" is no time zone this machine knows (an IANA name "
			"such as \"Asia/Shanghai\" from /usr/share/zoneinfo, or \"+08:00\")",
			c->site.timezone);
	delivery_check(&x, &cf, c);
	http_check(&x, &cf, c);
	sections_check(&x, &cf, c);
	buses_check(&x, c);
	devices_check(&x, &cf, c);
	cameras_check(&x, c);
	rules_check(&x, c);
	refs_check(&x, &cf, c);
	inspections_finish(&x, c);
	if (x.oom)
		rc = -ENOMEM;
	else if (x.n_err)
		rc = -EINVAL;
	else
		rc = 0;
	if (rc)
		goto out_src;
	src_pop(&x);
	config_destroy(&cf);
	log_debug("%s: site %s, %zu buses, %zu devices, %zu profiles", path, c->site.id, c->n_buses,
		  c->n_devices, c->n_profiles);
	*out = c;
	return 0;
out_src:
	src_pop(&x);
out_cf:
	config_destroy(&cf);
out_c:
	config_free(c);
	return rc;
}

/* ---- what a reload changed ---- */

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The settings of one group equal in a and b, from the option table: every setting but
 * those a reload applies live (OF_LIVE). */
static bool opts_same(const struct opt *o, size_t n, const char *a, const char *b)
{
	for (size_t i = 0; i < n; i++, o++) {
		const char *x = a + o->off, *y = b + o->off;

		if (o->flags & OF_LIVE)
			continue;
		switch (o->type) {
		case OT_STRING:
			if (!same_str(*(char *const *)(const void *)x,
				      *(char *const *)(const void *)y))
				return false;
			break;
		case OT_INT:
		case OT_ENUM:
			if (*(const int *)(const void *)x != *(const int *)(const void *)y)
				return false;
			break;
		case OT_U16:
			if (*(const uint16_t *)(const void *)x !=
			    *(const uint16_t *)(const void *)y)
				return false;
			break;
		case OT_I64:
			if (*(const int64_t *)(const void *)x != *(const int64_t *)(const void *)y)
				return false;
			break;
		case OT_BOOL:
			if (*(const bool *)(const void *)x != *(const bool *)(const void *)y)
				return false;
			break;
		case OT_FLOAT:
			if (*(const double *)(const void *)x != *(const double *)(const void *)y)
				return false;
			break;
		case OT_GROUP:
			if (!opts_same(o->sub, o->n_sub, x, y))
				return false;
			break;
		case OT_LIST: {
			size_t na = *(const size_t *)(const void *)(a + o->count_off);
			size_t nb = *(const size_t *)(const void *)(b + o->count_off);
			const char *ea = *(const char *const *)(const void *)x;
			const char *eb = *(const char *const *)(const void *)y;

			if (na != nb)
				return false;
			for (size_t k = 0; k < na; k++)
				if (!opts_same(o->sub, o->n_sub, ea + k * o->elem_size,
					       eb + k * o->elem_size))
					return false;
			break;
		}
		case OT_SPECIAL:
			/* its own comparison when it has one (mqtt.hosts); else what it sets is
			 * compared by the caller (same_specials) */
			if (o->same && !o->same(a, b))
				return false;
			break;
		}
	}
	return true;
}

static bool same_strv(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!same_str(a[i], b[i]))
			return false;
	return true;
}

/* Whether a group holds OT_SPECIAL settings without a comparison of their own (the caller
 * then compares their fields). */
static bool has_special(const struct opt *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((o[i].type == OT_SPECIAL && !o[i].same) ||
		    ((o[i].type == OT_GROUP || o[i].type == OT_LIST) &&
		     has_special(o[i].sub, o[i].n_sub)))
			return true;
	return false;
}

/* The fields the block count setting writes, for every block of the profile. */
static bool same_blocks(const struct profile *a, const struct profile *b)
{
	for (size_t i = 0; i < a->n_blocks; i++)
		if (a->blocks[i].count != b->blocks[i].count ||
		    !same_str(a->blocks[i].count_point, b->blocks[i].count_point))
			return false;
	return true;
}

bool config_profile_same(const struct profile *a, const struct profile *b)
{
	if (a == b)
		return true;
	if (!a || !b)
		return false;
	return same_str(a->path, b->path) &&
	       opts_same(profile_opts, ARRAY_SIZE(profile_opts), (const char *)a,
			 (const char *)b) &&
	       same_blocks(a, b);
}

bool config_bus_same(const struct cfg_bus *a, const struct cfg_bus *b)
{
	return opts_same(bus_opts, ARRAY_SIZE(bus_opts), (const char *)a, (const char *)b);
}

bool config_device_same(const struct cfg_device *a, const struct cfg_device *b)
{
	if (!opts_same(device_opts, ARRAY_SIZE(device_opts), (const char *)a, (const char *)b) ||
	    !same_strv(a->allow_commands, a->n_allow_commands, b->allow_commands,
		       b->n_allow_commands) ||
	    a->n_intervals != b->n_intervals || !config_profile_same(a->profile, b->profile))
		return false;
	for (size_t i = 0; i < a->n_intervals; i++)
		if (!same_str(a->intervals[i].group, b->intervals[i].group) ||
		    a->intervals[i].interval_ms != b->intervals[i].interval_ms)
			return false;
	return true;
}

bool config_camera_same(const struct cfg_camera *a, const struct cfg_camera *b)
{
	return opts_same(camera_opts, ARRAY_SIZE(camera_opts), (const char *)a, (const char *)b) &&
	       same_strv(a->alert_points, a->n_alert_points, b->alert_points, b->n_alert_points);
}

bool config_rule_same(const struct cfg_rule *a, const struct cfg_rule *b)
{
	return a->kind == b->kind &&
	       opts_same(rule_opts, ARRAY_SIZE(rule_opts), (const char *)a, (const char *)b);
}

/* One setting's value as text for the reload's log; secrets are not shown. */
static char *opt_text(const struct opt *o, const char *obj)
{
	const void *f = obj + o->off;

	switch (o->type) {
	case OT_STRING: {
		const char *v = *(char *const *)f;
		if (strstr(o->name, "password") || strstr(o->name, "token"))
			return g_strdup(v ? "(set)" : "(unset)");
		return v ? g_strdup_printf("\"%s\"", v) : g_strdup("(unset)");
	}
	case OT_INT:
		return g_strdup_printf("%d", *(const int *)f);
	case OT_ENUM: {
		int v = *(const int *)f;
		return o->choices ? g_strdup(o->choices[v]) : g_strdup_printf("%d", v);
	}
	case OT_U16:
		return g_strdup_printf("%u", (unsigned)*(const uint16_t *)f);
	case OT_I64:
		return g_strdup_printf("%lld", (long long)*(const int64_t *)f);
	case OT_BOOL:
		return g_strdup(*(const bool *)f ? "true" : "false");
	case OT_FLOAT:
		return g_strdup_printf("%g", *(const double *)f);
	default:
		return NULL;
	}
}

static void opts_diff(const struct opt *o, size_t n, const char *prefix, const char *a,
		      const char *b, config_diff_fn fn, void *ud)
{
	for (size_t i = 0; i < n; i++, o++) {
		char key[128];

		snprintf(key, sizeof(key), "%s%s", prefix, o->name);
		if (o->type == OT_GROUP) {
			char sub[sizeof(key) + 2];
			snprintf(sub, sizeof(sub), "%s.", key);
			opts_diff(o->sub, o->n_sub, sub, a + o->off, b + o->off, fn, ud);
		} else if (o->type == OT_LIST) {
			if (!opts_same(o, 1, a, b))
				fn(key, NULL, NULL, ud);
		} else if (o->type == OT_SPECIAL && o->same) {
			if (!o->same(a, b))
				fn(key, NULL, NULL, ud);
		} else if (o->type != OT_SPECIAL &&
			   !opts_same(
			       &(struct opt){.name = o->name, .type = o->type, .off = o->off}, 1, a,
			       b)) {
			char *x = opt_text(o, a), *y = opt_text(o, b);
			fn(key, x, y, ud);
			g_free(x);
			g_free(y);
		}
	}
}

void config_item_diff(const char *list, const void *a, const void *b, config_diff_fn fn, void *ud)
{
	for (size_t i = 0; i < ARRAY_SIZE(root_opts); i++) {
		const struct opt *o = &root_opts[i];

		if (o->type == OT_LIST && strcmp(o->name, list) == 0)
			opts_diff(o->sub, o->n_sub, "", a, b, fn, ud);
	}
	if (strcmp(list, "cameras") == 0) {
		const struct cfg_camera *x = a, *y = b;
		if (!same_strv(x->alert_points, x->n_alert_points, y->alert_points,
			       y->n_alert_points))
			fn("alert_points", NULL, NULL, ud);
	} else if (strcmp(list, "devices") == 0) {
		const struct cfg_device *x = a, *y = b;
		bool same_iv = x->n_intervals == y->n_intervals;

		for (size_t k = 0; same_iv && k < x->n_intervals; k++)
			same_iv = same_str(x->intervals[k].group, y->intervals[k].group) &&
				  x->intervals[k].interval_ms == y->intervals[k].interval_ms;
		if (!same_iv)
			fn("intervals", NULL, NULL, ud);
		if (!same_strv(x->allow_commands, x->n_allow_commands, y->allow_commands,
			       y->n_allow_commands))
			fn("allow_commands", NULL, NULL, ud);
		if (same_str(x->profile_name, y->profile_name) &&
		    !config_profile_same(x->profile, y->profile))
			fn("the profile's content", NULL, NULL, ud);
	}
}

void config_section_diff(const struct hw_config *a, const struct hw_config *b, const char *section,
			 config_diff_fn fn, void *ud)
{
	for (size_t i = 0; i < ARRAY_SIZE(root_opts); i++) {
		const struct opt *o = &root_opts[i];
		char prefix[64];

		if (o->type != OT_GROUP || strcmp(o->name, section) != 0)
			continue;
		snprintf(prefix, sizeof(prefix), "%s.", section);
		opts_diff(o->sub, o->n_sub, prefix, (const char *)a + o->off,
			  (const char *)b + o->off, fn, ud);
	}
	if (strcmp(section, "alerts") == 0) {
		if (!same_strv(a->alerts.operators, a->alerts.n_operators, b->alerts.operators,
			       b->alerts.n_operators))
			fn("alerts.operators", NULL, NULL, ud);
		if (!same_strv(a->alerts.out_of_service, a->alerts.n_out_of_service,
			       b->alerts.out_of_service, b->alerts.n_out_of_service))
			fn("alerts.out_of_service", NULL, NULL, ud);
	}
}

static void diff_count(const char *key, const char *was, const char *now, void *ud)
{
	(void)key;
	(void)was;
	(void)now;
	++*(size_t *)ud;
}

/* A group with OT_SPECIAL settings (alerts): the same when config_section_diff finds nothing. */
static bool config_section_diff_none(const struct hw_config *a, const struct hw_config *b,
				     const char *section)
{
	size_t n = 0;

	config_section_diff(a, b, section, diff_count, &n);
	return n == 0;
}

bool config_section_same(const struct hw_config *a, const struct hw_config *b, const char *section)
{
	for (size_t i = 0; i < ARRAY_SIZE(root_opts); i++) {
		const struct opt *o = &root_opts[i];
		if (o->type == OT_GROUP && strcmp(o->name, section) == 0 &&
		    !has_special(o->sub, o->n_sub))
			return opts_same(o->sub, o->n_sub, (const char *)a + o->off,
					 (const char *)b + o->off);
		if (o->type == OT_GROUP && strcmp(o->name, section) == 0)
			return config_section_diff_none(a, b, section);
	}
	return false;
}

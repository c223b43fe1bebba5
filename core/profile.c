/* Device profiles as plain data: freeing, lookup and the small helpers every reader of a
 * profile needs. Pure, no I/O, no globals; any thread may call these on a loaded profile.
 * Profiles are built from their files by core/config.c. */
#include "core/profile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void points_free(struct prof_point *pts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct prof_point *p = &pts[i];

		free(p->name);
		free(p->unit);
		free(p->group_name);
		prof_label_free(&p->label);
		for (size_t j = 0; j < p->n_enums; j++)
			free(p->enums[j].label);
		free(p->enums);
	}
	free(pts);
}

void prof_label_free(struct prof_label *l)
{
	free(l->en);
	free(l->zh);
	l->en = l->zh = NULL;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	points_free(p->points, p->n_points);
	for (size_t i = 0; i < p->n_blocks; i++) {
		struct prof_block *b = &p->blocks[i];

		free(b->name);
		free(b->count_point);
		free(b->group_name);
		prof_label_free(&b->label);
		points_free(b->points, b->n_points);
	}
	free(p->blocks);
	for (size_t i = 0; i < p->n_groups; i++) {
		free(p->groups[i].name);
		free(p->groups[i].when_changed);
	}
	free(p->groups);
	for (size_t i = 0; i < p->n_commands; i++) {
		free(p->commands[i].name);
		free(p->commands[i].description);
	}
	free(p->commands);
	free(p->no_read);
	free(p->tests.mains_fault);
	for (int k = 0; k < 2; k++) {
		struct prof_test *t = k ? &p->tests.duration : &p->tests.function;
		free(t->start);
		free(t->running);
		free(t->result);
		free(t->last_time);
		free(t->length);
		free(t->rated);
		free(t->luminaire_failed);
	}
	free(p->name);
	free(p->description);
	prof_label_free(&p->label);
	free(p->path);
	free(p);
}

const struct prof_command *profile_find_command(const struct profile *p, const char *name)
{
	if (!p || !name)
		return NULL;
	for (size_t i = 0; i < p->n_commands; i++)
		if (p->commands[i].name && strcmp(p->commands[i].name, name) == 0)
			return &p->commands[i];
	return NULL;
}

const struct prof_point *profile_find_point(const struct profile *p, const char *name)
{
	if (!p || !name)
		return NULL;
	for (size_t i = 0; i < p->n_points; i++) {
		if (p->points[i].name && strcmp(p->points[i].name, name) == 0)
			return &p->points[i];
	}
	return NULL;
}

unsigned prof_point_width(const struct prof_point *p)
{
	if (p->table == MB_COIL || p->table == MB_DISCRETE || p->bit >= 0)
		return 1;
	return mb_type_words(p->type);
}

unsigned mb_type_words(enum mb_type t)
{
	switch (t) {
	case MB_T_U32:
	case MB_T_I32:
	case MB_T_F32:
		return 2;
	case MB_T_U64:
	case MB_T_I64:
	case MB_T_F64:
		return 4;
	default:
		return 1;
	}
}

const char *mb_table_name(enum mb_table t)
{
	switch (t) {
	case MB_COIL:
		return "coil";
	case MB_DISCRETE:
		return "discrete";
	case MB_INPUT:
		return "input";
	case MB_HOLDING:
		return "holding";
	}
	return "?";
}

const char *point_class_name(enum point_class c)
{
	switch (c) {
	case PC_MEASUREMENT:
		return "measurement";
	case PC_STATUS:
		return "status";
	case PC_FIRE:
		return "fire";
	case PC_SUPERVISORY:
		return "supervisory";
	case PC_FAULT:
		return "fault";
	case PC_DISABLED:
		return "disabled";
	case PC_TEST:
		return "test";
	}
	return "?";
}

/* ---- point keys ---- */

static const struct prof_block *find_block(const struct profile *p, const char *name, size_t len)
{
	for (size_t i = 0; i < p->n_blocks; i++)
		if (p->blocks[i].name && strlen(p->blocks[i].name) == len &&
		    strncmp(p->blocks[i].name, name, len) == 0)
			return &p->blocks[i];
	return NULL;
}

/* "block[i]" at the start of key: the block's name length, the index and the rest after ']'.
 * Returns 0, or -EINVAL when key does not start that way. */
static int parse_instance(const char *key, size_t *len, int *index, const char **rest)
{
	const char *open = strchr(key, '['), *d;
	long v = 0;

	if (!open || open == key)
		return -EINVAL;
	for (d = open + 1; *d >= '0' && *d <= '9'; d++) {
		v = v * 10 + (*d - '0');
		if (v > 65535)
			return -EINVAL;
	}
	if (d == open + 1 || *d != ']' || (open[1] == '0' && d > open + 2))
		return -EINVAL;
	*len = (size_t)(open - key);
	*index = (int)v;
	*rest = d + 1;
	return 0;
}

int profile_resolve_element(const struct profile *p, const char *key, const struct prof_block **blk,
			    int *index)
{
	const struct prof_block *b;
	const char *rest;
	size_t len;
	int i;

	if (blk)
		*blk = NULL;
	if (!p || !key || parse_instance(key, &len, &i, &rest) < 0 || *rest)
		return -EINVAL;
	b = find_block(p, key, len);
	if (!b)
		return -ENOENT;
	if (blk)
		*blk = b;
	if (index)
		*index = i;
	return i < b->max_count ? 0 : -ERANGE;
}

int profile_resolve_key(const struct profile *p, const char *key, const struct prof_point **pt,
			const struct prof_block **blk, int *index)
{
	const struct prof_block *b;
	const char *rest;
	size_t len;
	int i;

	if (pt)
		*pt = NULL;
	if (blk)
		*blk = NULL;
	if (index)
		*index = -1;
	if (!p || !key || !*key)
		return -EINVAL;
	if (!strchr(key, '[')) {
		const struct prof_point *tp = profile_find_point(p, key);

		if (pt)
			*pt = tp;
		return tp ? 0 : -ENOENT;
	}
	if (parse_instance(key, &len, &i, &rest) < 0 || rest[0] != '.' || !rest[1])
		return -EINVAL;
	b = find_block(p, key, len);
	if (!b)
		return -ENOENT;
	if (blk)
		*blk = b;
	if (index)
		*index = i;
	for (size_t k = 0; k < b->n_points; k++) {
		if (b->points[k].name && strcmp(b->points[k].name, rest + 1) == 0) {
			if (pt)
				*pt = &b->points[k];
			return i < b->max_count ? 0 : -ERANGE;
		}
	}
	return -ENOENT;
}

static bool glob(const char *pat, const char *s)
{
	if (!*pat)
		return !*s;
	if (*pat == '*') {
		for (;; s++) {
			if (glob(pat + 1, s))
				return true;
			if (!*s)
				return false;
		}
	}
	return *s == *pat && glob(pat + 1, s + 1);
}

bool profile_key_matches(const struct profile *p, const char *pattern)
{
	char key[192];

	if (!p || !pattern)
		return false;
	for (size_t i = 0; i < p->n_points; i++)
		if (p->points[i].name && glob(pattern, p->points[i].name))
			return true;
	for (size_t i = 0; i < p->n_blocks; i++) {
		const struct prof_block *b = &p->blocks[i];

		for (int n = 0; b->name && n < b->max_count; n++)
			for (size_t k = 0; k < b->n_points; k++) {
				snprintf(key, sizeof(key), "%s[%d].%s", b->name, n,
					 b->points[k].name ? b->points[k].name : "");
				if (glob(pattern, key))
					return true;
			}
	}
	return false;
}

/* ---- resolution ---- */

int prof_decimals_of(double x)
{
	double m = fabs(x);

	for (int d = 0; d <= 9; d++, m *= 10) {
		if (fabs(m - round(m)) <= 1e-6)
			return d;
	}
	return -1;
}

double prof_point_round(const struct prof_point *p, double v)
{
	double f, r;

	if (!p || p->decimals < 0 || !isfinite(v))
		return v;
	f = pow(10, p->decimals);
	r = round(v * f) / f;
	return isfinite(r) ? r : v;
}

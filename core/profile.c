/* Device profiles as plain data: freeing, lookup and the small helpers every reader of a
 * profile needs. Pure, no I/O, no globals; any thread may call these on a loaded profile.
 * Profiles are built from their files by core/config.c. */
#include "core/profile.h"

#include <stdlib.h>
#include <string.h>

static void points_free(struct prof_point *pts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct prof_point *p = &pts[i];

		free(p->name);
		free(p->unit);
		free(p->group_name);
		for (size_t j = 0; j < p->n_enums; j++)
			free(p->enums[j].label);
		free(p->enums);
	}
	free(pts);
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
	free(p->name);
	free(p->description);
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

/* Device profiles: the register map of one kind of device, as plain data.
 * Built by core/config.c from etc/profiles/NAME.cfg; read-only afterwards and
 * shared by every thread. */
#ifndef HW_PROFILE_H
#define HW_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mb_table { MB_COIL = 0, MB_DISCRETE, MB_INPUT, MB_HOLDING };

enum mb_type {
	MB_T_BOOL = 0, /* one coil/discrete input, or one bit of a register (with bit >= 0) */
	MB_T_U16,
	MB_T_I16,
	MB_T_U32,
	MB_T_I32,
	MB_T_U64,
	MB_T_I64,
	MB_T_F32,
	MB_T_F64,
};

/* Byte order of the value as letters A (most significant byte) .. on the wire.
 * ABCD: big-endian words, most significant word first (Modbus default).
 * CDAB: word-swapped. BADC: byte-swapped within words. DCBA: both. */
enum mb_order { MB_ORDER_ABCD = 0, MB_ORDER_CDAB, MB_ORDER_BADC, MB_ORDER_DCBA };

enum point_class {
	PC_MEASUREMENT = 0, /* default */
	PC_STATUS,	    /* informative bit or value, no alert */
	PC_FIRE,
	PC_SUPERVISORY,
	PC_FAULT,
	PC_DISABLED,
	PC_TEST,
};

enum point_role {
	PR_NONE = 0,
	PR_LIFE_CHECK,	   /* counter the device increments; frozen = interface frozen */
	PR_CHANGE_COUNTER, /* counter incremented on every state change */
	PR_DEVICE_TIME,	   /* device clock, Unix seconds */
};

/* What people call a thing, in the languages of the sites (docs/profiles.md); either may be
 * NULL. */
struct prof_label {
	char *en;
	char *zh;
};

struct prof_enum {
	int64_t value;
	char *label;
};

struct prof_point {
	char *name;
	enum mb_table table;
	uint16_t address; /* absolute zero-based PDU address; in a block: offset from the instance
			     base */
	enum mb_type type;
	enum mb_order order;
	int bit;      /* -1: the whole value; else the lowest bit of a field of a register */
	int bits;     /* width of the bit field (1 = single bit, decoded as bool); 0 when bit < 0.
		       * A bit field has type MB_T_BOOL when bits == 1, else MB_T_U16 (unsigned). */
	double scale; /* value = raw * scale + offset; scale 1, offset 0 keep integers integral */
	double offset;
	char *unit; /* may be NULL */
	struct prof_enum *enums;
	size_t n_enums;
	enum point_class cls;
	enum point_role role;
	char *group_name; /* poll group; NULL: the device's interval_ms */
	int group;	  /* resolved index into profile->groups, -1 for none */
	double deadband;  /* a change smaller than this is not a change (measurements) */
	/* Resolution: decimal places a value is published with (declared `decimals`, else
	 * those of scale and offset: scale 0.1 -> 1, 0.01 -> 2); -1: not rounded. */
	int decimals;
	struct prof_label label; /* what the point means, for alert texts */
	int line;		 /* line in the profile file, for error messages */
};

/* v rounded to the point's resolution (p->decimals; unchanged when it is negative). */
double prof_point_round(const struct prof_point *p, double v);
/* The decimal places of x (0..9), or -1 when it has more. */
int prof_decimals_of(double x);

/* Registers/bits the point occupies on the wire (1 for bool/bit fields and 16-bit types). */
unsigned prof_point_width(const struct prof_point *p);
/* Registers a whole value of type t occupies: 1, 2 or 4. */
unsigned mb_type_words(enum mb_type t);

/* A block of points repeated per instance (zone, luminaire) at base + i * stride. */
struct prof_block {
	char *name; /* instance keys are "name[i].point" */
	uint16_t base;
	uint16_t stride;
	int count;	   /* fixed count when count_point is NULL */
	char *count_point; /* name of a top-level point whose value is the count */
	int max_count;	   /* upper bound of a count read from the device */
	struct prof_point *points;
	size_t n_points;
	char *group_name; /* poll group of all its points; NULL: the device's interval_ms */
	int group;	  /* resolved index into profile->groups, -1 for none */
	/* 0: instances are `stride` registers apart. Else the bits per instance, packed
	 * into registers from `base`: instance i's point sits at bit i * bit_stride + bit,
	 * counted from bit 0 of register base + address. */
	uint16_t bit_stride;
	struct prof_label label; /* what one instance is ("zone", "防区"), for alert texts */
	int line;		 /* line in the profile file, for error messages */
};

/* A poll group: points read together at one interval. A group with when_changed
 * re-reads its points only when that change counter (a top-level point of another
 * group) moved, or at least every refresh_ms. */
struct prof_group {
	char *name;
	int interval_ms;
	char *when_changed;
	int change_point; /* resolved index into profile->points, -1 for none */
	int refresh_ms;
	int line;
};

/* A write the device accepts: a value into a coil or a holding register. */
struct prof_command {
	char *name;
	char *description;
	enum mb_table table; /* MB_COIL or MB_HOLDING */
	uint16_t address;
	uint16_t value;
	int line;
};

/* A range of addresses the device must never be asked for (reads are not merged across it). */
struct prof_noread {
	enum mb_table table;
	uint16_t from;
	uint16_t to;
	int line;
};

/* How the gateway runs one kind of test on a controller (docs/profiles.md, "tests"): every
 * name is NULL when not declared. */
struct prof_test {
	char *start;		/* command that starts it */
	char *running;		/* top-level point true while it runs */
	char *result;		/* top-level point with the last result */
	int passed;		/* the result's value for a pass (1) */
	char *last_time;	/* top-level point: when the last one ended, Unix s (0: never) */
	char *length;		/* top-level point: how long the last one lasted (its unit) */
	char *rated;		/* top-level point: how long it must last (length's unit) */
	char *luminaire_failed; /* point of a block: true for an element that failed it */
};

struct prof_tests {
	char *mains_fault; /* top-level point true during a mains failure */
	bool self_testing; /* the controller starts its own tests: the gateway only checks */
	struct prof_test function;
	struct prof_test duration;
};

struct profile {
	char *name;
	char *description;
	struct prof_label label; /* the kind of device ("fire alarm panel"), for alert texts */
	struct prof_point *points;
	size_t n_points;
	struct prof_block *blocks;
	size_t n_blocks;
	struct prof_group *groups;
	size_t n_groups;
	struct prof_command *commands;
	size_t n_commands;
	struct prof_noread *no_read;
	size_t n_no_read;
	struct prof_tests tests; /* emergency-lighting tests; all NULL for other devices */
	char *path;
};

/* Command by name, or NULL. */
const struct prof_command *profile_find_command(const struct profile *p, const char *name);

void profile_free(struct profile *p); /* accepts NULL */
void prof_label_free(struct prof_label *l);
/* Top-level point by name, or NULL. */
const struct prof_point *profile_find_point(const struct profile *p, const char *name);

/* A point key as the hub writes it: "name" (a top-level point) or "block[i].name" (a point
 * of instance i of a block), resolved against p. Returns 0 with *pt the point's definition,
 * *blk its block (NULL: top-level) and *index the instance (-1: top-level); -EINVAL when
 * key is not of that form, -ENOENT when the profile has no such point (*blk is set when
 * the block exists but not the point), -ERANGE when i is beyond the block's largest count
 * (*blk set). pt, blk and index may be NULL. */
int profile_resolve_key(const struct profile *p, const char *key, const struct prof_point **pt,
			const struct prof_block **blk, int *index);
/* An element key "block[i]" (a zone, a luminaire): 0 with *blk and *index, -EINVAL (not that
 * form), -ENOENT (no such block) or -ERANGE (i beyond the block's largest count; *blk set). */
int profile_resolve_element(const struct profile *p, const char *key, const struct prof_block **blk,
			    int *index);
/* True when some point key of p matches pattern, where '*' matches any run of characters
 * ("luminaire[*].lamp_fault", "*"). */
bool profile_key_matches(const struct profile *p, const char *pattern);

const char *mb_table_name(enum mb_table t);
const char *point_class_name(enum point_class c);

#endif

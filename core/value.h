/* A decoded point value and its quality, and the two packed in 16 bytes: plain data
 * shared by every source (devices/), the state hub and every output. No I/O, no threads
 * of its own; any thread. */
#ifndef HW_VALUE_H
#define HW_VALUE_H

#include <stdbool.h>
#include <stdint.h>

enum hw_vtype {
	HW_V_NONE = 0, /* never read */
	HW_V_BOOL,
	HW_V_INT,   /* integer without scale/offset */
	HW_V_FLOAT, /* floating point or scaled integer */
};

struct hw_value {
	enum hw_vtype type;
	union {
		bool b;
		int64_t i;
		double f;
	};
	const char *label; /* enum label, owned by the profile; NULL if none */
};

enum hw_quality {
	HW_Q_NONE = 0,	   /* never read */
	HW_Q_GOOD,	   /* read in the last poll */
	HW_Q_STALE,	   /* not refreshed within its interval */
	HW_Q_COMM_LOST,	   /* device offline: last value kept */
	HW_Q_CONFIG_ERROR, /* device answered illegal address */
};

const char *hw_quality_name(enum hw_quality q);

/* A value and its quality packed for tables with a row per point (16 bytes instead of
 * 24 + 4): the enum label kept as its index in the point's enums. The bus workers keep
 * their last values in it, results carry it, the hub holds every point in it. */
struct hw_pval {
	union {
		bool b;
		int64_t i;
		double f;
	};
	uint8_t type;	/* enum hw_vtype */
	uint8_t q;	/* enum hw_quality */
	uint8_t flags;	/* free for the table that holds it */
	uint16_t label; /* 1 + index into def->enums, 0 for none */
};
_Static_assert(sizeof(struct hw_pval) == 16, "a packed point value is 16 bytes");

struct prof_point;
/* Packs v (whose label, if any, is one of p's enum labels) into pv; q and flags stay. */
void hw_pval_pack(const struct prof_point *p, const struct hw_value *v, struct hw_pval *pv);
/* The value held in pv, its label one of p's (transfer none). */
void hw_pval_unpack(const struct prof_point *p, const struct hw_pval *pv, struct hw_value *v);
bool hw_value_equal(const struct hw_value *a, const struct hw_value *b);
/* Value as a double (bool 0/1); 0 for HW_V_NONE. */
double hw_value_as_double(const struct hw_value *v);

#endif

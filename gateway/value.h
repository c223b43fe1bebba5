/* A decoded point value and its quality: plain data shared by the device layer,
 * the state hub and every output. No I/O, no threads of its own. */
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
bool hw_value_equal(const struct hw_value *a, const struct hw_value *b);
/* Value as a double (bool 0/1); 0 for HW_V_NONE. */
double hw_value_as_double(const struct hw_value *v);

#endif

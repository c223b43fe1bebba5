/* Read planning: merges the register/bit ranges a device needs into the fewest
 * Modbus requests within the device's limits. Pure, no I/O, any thread. */
#ifndef HW_PLAN_H
#define HW_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "core/profile.h"

struct mb_span {
	enum mb_table table;
	uint16_t address;
	uint16_t count;
};

struct mb_plan_limits {
	uint16_t max_regs;	     /* per request for input/holding, 1..125 */
	uint16_t max_bits;	     /* per request for coils/discrete, 1..2000 */
	uint16_t max_gap;	     /* unused registers/bits that may be read through to merge */
	const struct mb_span *avoid; /* addresses never to read: no merge reads through them */
	size_t n_avoid;
};

/* Merges spans (any order, may overlap) into requests sorted by table then address.
 * *out is allocated (caller frees with free()); a span wider than the limit
 * gets requests of its own, split at the limit. Every span no wider than the limit
 * lies entirely within one request. With n == 0, *out is NULL and *n_out 0.
 * Returns 0 or -ENOMEM / -EINVAL (limits out of range, a span of count 0 or past
 * address 65535). */
int mb_plan_build(const struct mb_span *spans, size_t n, const struct mb_plan_limits *lim,
		  struct mb_span **out, size_t *n_out);

/* Splits a request a device refused (exception) into two halves, the first the larger
 * by one when count is odd; the caller re-plans with them (they are requests as they
 * stand: mb_plan_build with the same limits would merge them back).
 * Returns 0, or -EINVAL when req->count < 2. */
int mb_plan_split(const struct mb_span *req, struct mb_span out[2]);

#endif

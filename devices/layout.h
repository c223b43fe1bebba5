/* Device layout: every point of a profile with its block instance, wire address and
 * effective bit, for given block counts. Pure; any thread. */
#ifndef HW_LAYOUT_H
#define HW_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/profile.h"

#define MB_TOP_LEVEL 0xFFFFu

struct mb_lpoint {
	const struct prof_point *def; /* owned by the profile */
	uint16_t block;		      /* index into profile->blocks, or MB_TOP_LEVEL */
	uint16_t instance;
	int bit;	  /* effective bit (packed blocks), or def->bit */
	uint32_t address; /* zero-based wire address (address_base already taken off) */
	int group;	  /* profile group, -1 for the device's own interval */
	bool unreadable;  /* outside the address space with this address_base */
};

/* Top-level points first (in profile order, so index i is profile->points[i]), then
 * each block's instances 0..counts[b]-1. *out is allocated (free()). Returns 0 or
 * -ENOMEM. */
int mb_layout_build(const struct profile *p, const int *counts, int address_base,
		    struct mb_lpoint **out, size_t *n_out);

#endif

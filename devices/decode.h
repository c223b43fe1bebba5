/* Register decoding: raw Modbus registers or bits to a typed value, per a profile point.
 * Pure functions, no I/O, callable from any thread. */
#ifndef HW_DECODE_H
#define HW_DECODE_H

#include <stdint.h>

#include "core/profile.h"
#include "core/value.h"

/* Decodes point p from regs, which holds at least prof_point_width(p) registers
 * starting at the point's own address (as received: host-order uint16 per register).
 * Applies byte/word order, bit field, scale/offset and enum label.
 * A bit field (bit >= 0) is taken from the first register after byte order; one bit
 * decodes as HW_V_BOOL, wider fields as integers. Integers with scale 1 and offset 0
 * are HW_V_INT, everything else HW_V_FLOAT; a scale of 0 counts as unset (1).
 * out->label points into p's enums (transfer none) or is NULL.
 * Returns 0, or -EINVAL when the point is not a register point or its bit field
 * does not fit in 16 bits. */
int mb_decode_regs(const struct prof_point *p, const uint16_t *regs, struct hw_value *out);

/* Decodes a coil/discrete-input point from one bit (0 or 1). */
int mb_decode_bit(const struct prof_point *p, uint8_t bit, struct hw_value *out);

/* Raw integer of a register point without scale/offset (used for counts and counters),
 * bit fields extracted. Returns 0, or -EINVAL for non-register and float points. */
int mb_decode_raw(const struct prof_point *p, const uint16_t *regs, int64_t *out);

#endif

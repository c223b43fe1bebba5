/* Register decoding: raw Modbus registers or bits to a typed value, per a profile point.
 * Pure functions, no I/O, callable from any thread. */
#ifndef HW_DECODE_H
#define HW_DECODE_H

#include <stdint.h>

#include "devices/profile.h"
#include "gateway/value.h"

/* Decodes point p from regs, which holds at least prof_point_width(p) registers
 * starting at the point's own address (as received: host-order uint16 per register).
 * Applies byte/word order, bit field, scale/offset and enum label.
 * Returns 0, or -EINVAL when the point is not a register point. */
int mb_decode_regs(const struct prof_point *p, const uint16_t *regs, struct hw_value *out);

/* Decodes a coil/discrete-input point from one bit (0 or 1). */
int mb_decode_bit(const struct prof_point *p, uint8_t bit, struct hw_value *out);

/* Raw integer of a register point without scale/offset (used for counts and counters).
 * Returns 0 or -EINVAL. */
int mb_decode_raw(const struct prof_point *p, const uint16_t *regs, int64_t *out);

#endif

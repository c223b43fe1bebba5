/* Register decoding: turns raw Modbus registers and bits into typed point values.
 * Pure functions with no I/O and no state; any thread (in practice the bus workers). */
#include "devices/decode.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

static bool is_register_table(enum mb_table t)
{
	return t == MB_INPUT || t == MB_HOLDING;
}

static bool order_word_swapped(enum mb_order o)
{
	return o == MB_ORDER_CDAB || o == MB_ORDER_DCBA;
}

static bool order_byte_swapped(enum mb_order o)
{
	return o == MB_ORDER_BADC || o == MB_ORDER_DCBA;
}

static uint16_t swap16(uint16_t w)
{
	return (uint16_t)((w << 8) | (w >> 8));
}

/* Assembles n registers into one unsigned value, most significant byte first
 * after undoing the point's byte and word order. */
static uint64_t assemble(const uint16_t *regs, unsigned n, enum mb_order order)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++) {
		uint16_t w = order_word_swapped(order) ? regs[n - 1 - i] : regs[i];

		if (order_byte_swapped(order))
			w = swap16(w);
		v = (v << 16) | w;
	}
	return v;
}

static int bit_field_width(const struct prof_point *p, int *bits)
{
	int w = p->bits > 0 ? p->bits : 1;

	if (p->bit > 15 || p->bit + w > 16)
		return -EINVAL;
	*bits = w;
	return 0;
}

/* The raw value of a register point: an integer for integer types and bit
 * fields (with *is_float false), the reinterpreted float otherwise. */
static int decode_raw(const struct prof_point *p, const uint16_t *regs, int64_t *iraw, double *fraw,
		      bool *is_float)
{
	uint64_t u;

	*is_float = false;
	if (p->bit >= 0) {
		int bits;
		int rc = bit_field_width(p, &bits);

		if (rc < 0)
			return rc;
		u = assemble(regs, 1, p->order);
		*iraw = (int64_t)((u >> p->bit) & ((1u << bits) - 1u));
		return 0;
	}

	u = assemble(regs, mb_type_words(p->type), p->order);
	switch (p->type) {
	case MB_T_BOOL:
		*iraw = u != 0;
		break;
	case MB_T_U16:
	case MB_T_U32:
		*iraw = (int64_t)u;
		break;
	case MB_T_U64:
		*iraw = (int64_t)u; /* above INT64_MAX wraps; the float path keeps it */
		break;
	case MB_T_I16:
		*iraw = (int16_t)(uint16_t)u;
		break;
	case MB_T_I32:
		*iraw = (int32_t)(uint32_t)u;
		break;
	case MB_T_I64:
		*iraw = (int64_t)u;
		break;
	case MB_T_F32: {
		uint32_t u32 = (uint32_t)u;
		float f;

		memcpy(&f, &u32, sizeof(f));
		*fraw = f;
		*is_float = true;
		break;
	}
	case MB_T_F64: {
		double d;

		memcpy(&d, &u, sizeof(d));
		*fraw = d;
		*is_float = true;
		break;
	}
	default:
		return -EINVAL;
	}
	return 0;
}

static const char *enum_label(const struct prof_point *p, int64_t raw)
{
	for (size_t i = 0; i < p->n_enums; i++)
		if (p->enums[i].value == raw)
			return p->enums[i].label;
	return NULL;
}

int mb_decode_regs(const struct prof_point *p, const uint16_t *regs, struct hw_value *out)
{
	int64_t iraw = 0;
	double fraw = 0.0;
	bool is_float;
	double scale;
	int rc;

	if (!p || !regs || !out || !is_register_table(p->table))
		return -EINVAL;
	rc = decode_raw(p, regs, &iraw, &fraw, &is_float);
	if (rc < 0)
		return rc;

	memset(out, 0, sizeof(*out));
	scale = p->scale != 0.0 ? p->scale : 1.0;
	if (is_float) {
		out->type = HW_V_FLOAT;
		out->f = fraw * scale + p->offset;
		return 0;
	}

	out->label = enum_label(p, iraw);
	if ((p->bit >= 0 && p->bits <= 1) || (p->bit < 0 && p->type == MB_T_BOOL)) {
		out->type = HW_V_BOOL;
		out->b = iraw != 0;
	} else if (scale == 1.0 && p->offset == 0.0) {
		out->type = HW_V_INT;
		out->i = iraw;
	} else {
		out->type = HW_V_FLOAT;
		if (p->type == MB_T_U64 && p->bit < 0)
			out->f = (double)(uint64_t)iraw * scale + p->offset;
		else
			out->f = (double)iraw * scale + p->offset;
	}
	return 0;
}

int mb_decode_bit(const struct prof_point *p, uint8_t bit, struct hw_value *out)
{
	if (!p || !out || (p->table != MB_COIL && p->table != MB_DISCRETE))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->type = HW_V_BOOL;
	out->b = bit != 0;
	out->label = enum_label(p, out->b);
	return 0;
}

int mb_decode_raw(const struct prof_point *p, const uint16_t *regs, int64_t *out)
{
	int64_t iraw = 0;
	double fraw = 0.0;
	bool is_float;
	int rc;

	if (!p || !regs || !out || !is_register_table(p->table))
		return -EINVAL;
	rc = decode_raw(p, regs, &iraw, &fraw, &is_float);
	if (rc < 0)
		return rc;
	if (is_float)
		return -EINVAL;
	*out = iraw;
	return 0;
}

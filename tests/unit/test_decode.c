/* Unit tests of devices/decode.c and core/value.c: every type in every byte
 * order against hand-computed vectors, bit fields, scale/offset, enums and the
 * reference maps. Single-threaded cmocka binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "devices/decode.h"
#include "core/value.h"

#define EPS 1e-9

static struct prof_point reg_point(enum mb_type type, enum mb_order order)
{
	struct prof_point p = {
	    .name = "p",
	    .table = MB_INPUT,
	    .type = type,
	    .order = order,
	    .bit = -1,
	    .bits = 0,
	    .scale = 1.0,
	    .offset = 0.0,
	};
	return p;
}

static struct prof_point bit_point(int bit, int bits, enum mb_order order)
{
	struct prof_point p = reg_point(MB_T_U16, order);

	p.bit = bit;
	p.bits = bits;
	if (bits == 1)
		p.type = MB_T_BOOL;
	return p;
}

struct vec {
	enum mb_type type;
	enum mb_order order;
	uint16_t regs[4];
	enum hw_vtype vt;
	int64_t i; /* HW_V_INT, and the raw value of integer types */
	double f;  /* HW_V_FLOAT */
	bool b;	   /* HW_V_BOOL */
};

/* Wire bytes A B C D ... in each order, written out by hand. */
static const struct vec vectors[] = {
    /* bool: bit 9 of a register; BADC/DCBA swap the bytes of the register first. */
    {MB_T_BOOL, MB_ORDER_ABCD, {0x0200}, HW_V_BOOL, 1, 0, true},
    {MB_T_BOOL, MB_ORDER_CDAB, {0x0200}, HW_V_BOOL, 1, 0, true},
    {MB_T_BOOL, MB_ORDER_BADC, {0x0002}, HW_V_BOOL, 1, 0, true},
    {MB_T_BOOL, MB_ORDER_DCBA, {0x0002}, HW_V_BOOL, 1, 0, true},
    {MB_T_BOOL, MB_ORDER_ABCD, {0xFDFF}, HW_V_BOOL, 0, 0, false},
    {MB_T_BOOL, MB_ORDER_BADC, {0xFFFD}, HW_V_BOOL, 0, 0, false},
    /* u16 0x1234 = 4660 */
    {MB_T_U16, MB_ORDER_ABCD, {0x1234}, HW_V_INT, 4660, 0, false},
    {MB_T_U16, MB_ORDER_CDAB, {0x1234}, HW_V_INT, 4660, 0, false},
    {MB_T_U16, MB_ORDER_BADC, {0x3412}, HW_V_INT, 4660, 0, false},
    {MB_T_U16, MB_ORDER_DCBA, {0x3412}, HW_V_INT, 4660, 0, false},
    {MB_T_U16, MB_ORDER_ABCD, {0xFFFF}, HW_V_INT, 65535, 0, false},
    /* i16 -12345 = 0xCFC7 */
    {MB_T_I16, MB_ORDER_ABCD, {0xCFC7}, HW_V_INT, -12345, 0, false},
    {MB_T_I16, MB_ORDER_CDAB, {0xCFC7}, HW_V_INT, -12345, 0, false},
    {MB_T_I16, MB_ORDER_BADC, {0xC7CF}, HW_V_INT, -12345, 0, false},
    {MB_T_I16, MB_ORDER_DCBA, {0xC7CF}, HW_V_INT, -12345, 0, false},
    {MB_T_I16, MB_ORDER_ABCD, {0x7FFF}, HW_V_INT, 32767, 0, false},
    /* u32 0x12345678 = 305419896 */
    {MB_T_U32, MB_ORDER_ABCD, {0x1234, 0x5678}, HW_V_INT, 305419896, 0, false},
    {MB_T_U32, MB_ORDER_CDAB, {0x5678, 0x1234}, HW_V_INT, 305419896, 0, false},
    {MB_T_U32, MB_ORDER_BADC, {0x3412, 0x7856}, HW_V_INT, 305419896, 0, false},
    {MB_T_U32, MB_ORDER_DCBA, {0x7856, 0x3412}, HW_V_INT, 305419896, 0, false},
    {MB_T_U32, MB_ORDER_ABCD, {0xFFFF, 0xFFFF}, HW_V_INT, 4294967295LL, 0, false},
    /* i32 -123456789 = 0xF8A432EB */
    {MB_T_I32, MB_ORDER_ABCD, {0xF8A4, 0x32EB}, HW_V_INT, -123456789, 0, false},
    {MB_T_I32, MB_ORDER_CDAB, {0x32EB, 0xF8A4}, HW_V_INT, -123456789, 0, false},
    {MB_T_I32, MB_ORDER_BADC, {0xA4F8, 0xEB32}, HW_V_INT, -123456789, 0, false},
    {MB_T_I32, MB_ORDER_DCBA, {0xEB32, 0xA4F8}, HW_V_INT, -123456789, 0, false},
    /* u64 0x0123456789ABCDEF = 81985529216486895 */
    {MB_T_U64,
     MB_ORDER_ABCD,
     {0x0123, 0x4567, 0x89AB, 0xCDEF},
     HW_V_INT,
     81985529216486895LL,
     0,
     false},
    {MB_T_U64,
     MB_ORDER_CDAB,
     {0xCDEF, 0x89AB, 0x4567, 0x0123},
     HW_V_INT,
     81985529216486895LL,
     0,
     false},
    {MB_T_U64,
     MB_ORDER_BADC,
     {0x2301, 0x6745, 0xAB89, 0xEFCD},
     HW_V_INT,
     81985529216486895LL,
     0,
     false},
    {MB_T_U64,
     MB_ORDER_DCBA,
     {0xEFCD, 0xAB89, 0x6745, 0x2301},
     HW_V_INT,
     81985529216486895LL,
     0,
     false},
    /* i64 -81985529216486895 = 0xFEDCBA9876543211 */
    {MB_T_I64,
     MB_ORDER_ABCD,
     {0xFEDC, 0xBA98, 0x7654, 0x3211},
     HW_V_INT,
     -81985529216486895LL,
     0,
     false},
    {MB_T_I64,
     MB_ORDER_CDAB,
     {0x3211, 0x7654, 0xBA98, 0xFEDC},
     HW_V_INT,
     -81985529216486895LL,
     0,
     false},
    {MB_T_I64,
     MB_ORDER_BADC,
     {0xDCFE, 0x98BA, 0x5476, 0x1132},
     HW_V_INT,
     -81985529216486895LL,
     0,
     false},
    {MB_T_I64,
     MB_ORDER_DCBA,
     {0x1132, 0x5476, 0x98BA, 0xDCFE},
     HW_V_INT,
     -81985529216486895LL,
     0,
     false},
    {MB_T_I64, MB_ORDER_ABCD, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE}, HW_V_INT, -2, 0, false},
    /* f32 123.456 = 0x42F6E979 */
    {MB_T_F32, MB_ORDER_ABCD, {0x42F6, 0xE979}, HW_V_FLOAT, 0, (double)123.456f, false},
    {MB_T_F32, MB_ORDER_CDAB, {0xE979, 0x42F6}, HW_V_FLOAT, 0, (double)123.456f, false},
    {MB_T_F32, MB_ORDER_BADC, {0xF642, 0x79E9}, HW_V_FLOAT, 0, (double)123.456f, false},
    {MB_T_F32, MB_ORDER_DCBA, {0x79E9, 0xF642}, HW_V_FLOAT, 0, (double)123.456f, false},
    /* f32 -2.5 = 0xC0200000 */
    {MB_T_F32, MB_ORDER_ABCD, {0xC020, 0x0000}, HW_V_FLOAT, 0, -2.5, false},
    {MB_T_F32, MB_ORDER_CDAB, {0x0000, 0xC020}, HW_V_FLOAT, 0, -2.5, false},
    {MB_T_F32, MB_ORDER_BADC, {0x20C0, 0x0000}, HW_V_FLOAT, 0, -2.5, false},
    {MB_T_F32, MB_ORDER_DCBA, {0x0000, 0x20C0}, HW_V_FLOAT, 0, -2.5, false},
    /* f64 123.456 = 0x405EDD2F1A9FBE77 */
    {MB_T_F64, MB_ORDER_ABCD, {0x405E, 0xDD2F, 0x1A9F, 0xBE77}, HW_V_FLOAT, 0, 123.456, false},
    {MB_T_F64, MB_ORDER_CDAB, {0xBE77, 0x1A9F, 0xDD2F, 0x405E}, HW_V_FLOAT, 0, 123.456, false},
    {MB_T_F64, MB_ORDER_BADC, {0x5E40, 0x2FDD, 0x9F1A, 0x77BE}, HW_V_FLOAT, 0, 123.456, false},
    {MB_T_F64, MB_ORDER_DCBA, {0x77BE, 0x9F1A, 0x2FDD, 0x5E40}, HW_V_FLOAT, 0, 123.456, false},
    /* f64 -2.5 = 0xC004000000000000 */
    {MB_T_F64, MB_ORDER_ABCD, {0xC004, 0, 0, 0}, HW_V_FLOAT, 0, -2.5, false},
    {MB_T_F64, MB_ORDER_CDAB, {0, 0, 0, 0xC004}, HW_V_FLOAT, 0, -2.5, false},
    {MB_T_F64, MB_ORDER_BADC, {0x04C0, 0, 0, 0}, HW_V_FLOAT, 0, -2.5, false},
    {MB_T_F64, MB_ORDER_DCBA, {0, 0, 0, 0x04C0}, HW_V_FLOAT, 0, -2.5, false},
};

static void test_types_and_orders(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(vectors) / sizeof(vectors[0]); k++) {
		const struct vec *v = &vectors[k];
		struct prof_point p =
		    v->type == MB_T_BOOL ? bit_point(9, 1, v->order) : reg_point(v->type, v->order);
		struct hw_value out;
		int64_t raw = 0;

		bool ok;

		memset(&out, 0xAA, sizeof(out));
		assert_int_equal(mb_decode_regs(&p, v->regs, &out), 0);
		assert_null(out.label);
		switch (v->vt) {
		case HW_V_BOOL:
			ok = out.type == HW_V_BOOL && out.b == v->b;
			break;
		case HW_V_INT:
			ok = out.type == HW_V_INT && out.i == v->i;
			break;
		default:
			/* Reinterpreted bits: exact. */
			ok = out.type == HW_V_FLOAT && out.f == v->f;
			break;
		}
		if (!ok)
			fail_msg("vector %zu (type %d, order %d): got type %d i %lld f %.17g", k,
				 v->type, v->order, out.type, (long long)out.i, out.f);

		if (v->vt == HW_V_FLOAT) {
			assert_int_equal(mb_decode_raw(&p, v->regs, &raw), -EINVAL);
		} else {
			assert_int_equal(mb_decode_raw(&p, v->regs, &raw), 0);
			assert_true(raw == v->i);
		}
	}
}

/* The same register point read from the holding table decodes the same way. */
static void test_holding_table(void **state)
{
	struct prof_point p = reg_point(MB_T_I32, MB_ORDER_CDAB);
	uint16_t regs[2] = {0x32EB, 0xF8A4};
	struct hw_value out;

	(void)state;
	p.table = MB_HOLDING;
	assert_int_equal(mb_decode_regs(&p, regs, &out), 0);
	assert_int_equal(out.type, HW_V_INT);
	assert_true(out.i == -123456789);
}

static void test_bool_whole_register(void **state)
{
	struct prof_point p = reg_point(MB_T_BOOL, MB_ORDER_ABCD);
	uint16_t zero = 0, some = 0x0100;
	struct hw_value out;

	(void)state;
	assert_int_equal(mb_decode_regs(&p, &zero, &out), 0);
	assert_int_equal(out.type, HW_V_BOOL);
	assert_false(out.b);
	assert_int_equal(mb_decode_regs(&p, &some, &out), 0);
	assert_int_equal(out.type, HW_V_BOOL);
	assert_true(out.b);
}

/* facp-generic system_state: fire, fault, manual mode and test mode set. */
static void test_single_bits(void **state)
{
	uint16_t reg = 0x2403; /* b0, b1, b10, b13 */
	static const struct {
		int bit;
		bool set;
	} want[] = {{0, true},	{1, true},   {2, false}, {3, false}, {8, false},
		    {10, true}, {11, false}, {13, true}, {15, false}};
	struct hw_value out;
	int64_t raw;

	(void)state;
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		struct prof_point p = bit_point(want[k].bit, 1, MB_ORDER_ABCD);

		assert_int_equal(mb_decode_regs(&p, &reg, &out), 0);
		assert_int_equal(out.type, HW_V_BOOL);
		assert_int_equal(out.b, want[k].set);
		assert_int_equal(mb_decode_raw(&p, &reg, &raw), 0);
		assert_true(raw == (want[k].set ? 1 : 0));
	}

	/* bits == 1 on a u16 point is a bool too; bits 0 counts as one bit. */
	struct prof_point p = bit_point(13, 1, MB_ORDER_ABCD);
	p.type = MB_T_U16;
	assert_int_equal(mb_decode_regs(&p, &reg, &out), 0);
	assert_int_equal(out.type, HW_V_BOOL);
	assert_true(out.b);
	p.bits = 0;
	assert_int_equal(mb_decode_regs(&p, &reg, &out), 0);
	assert_int_equal(out.type, HW_V_BOOL);
	assert_true(out.b);
}

static void test_bit_ranges(void **state)
{
	/* Vendor style: upper byte flags, lower byte event type code. */
	uint16_t reg = 0x0810;
	uint16_t swapped = 0x1008;
	uint16_t packed = 0xA5C3; /* 4 zones of 4 bits: 3, C, 5, A */
	static const int64_t nibbles[4] = {0x3, 0xC, 0x5, 0xA};
	struct prof_point p;
	struct hw_value out;
	int64_t raw;

	(void)state;
	p = bit_point(0, 8, MB_ORDER_ABCD);
	assert_int_equal(mb_decode_regs(&p, &reg, &out), 0);
	assert_int_equal(out.type, HW_V_INT);
	assert_true(out.i == 0x10);
	p = bit_point(8, 8, MB_ORDER_ABCD);
	assert_int_equal(mb_decode_regs(&p, &reg, &out), 0);
	assert_int_equal(out.type, HW_V_INT);
	assert_true(out.i == 0x08);

	/* Byte order applies before the field is taken. */
	p = bit_point(0, 8, MB_ORDER_BADC);
	assert_int_equal(mb_decode_regs(&p, &swapped, &out), 0);
	assert_true(out.i == 0x10);
	p = bit_point(11, 1, MB_ORDER_DCBA); /* b11 of 0x0810 */
	assert_int_equal(mb_decode_regs(&p, &swapped, &out), 0);
	assert_int_equal(out.type, HW_V_BOOL);
	assert_true(out.b);

	for (int z = 0; z < 4; z++) {
		p = bit_point(4 * z, 4, MB_ORDER_ABCD);
		assert_int_equal(mb_decode_regs(&p, &packed, &out), 0);
		assert_int_equal(out.type, HW_V_INT);
		assert_true(out.i == nibbles[z]);
		assert_int_equal(mb_decode_raw(&p, &packed, &raw), 0);
		assert_true(raw == nibbles[z]);
	}

	/* The whole register as a 16-bit field. */
	p = bit_point(0, 16, MB_ORDER_ABCD);
	assert_int_equal(mb_decode_regs(&p, &packed, &out), 0);
	assert_true(out.i == 0xA5C3);

	/* A field scaled like any integer. */
	p = bit_point(0, 8, MB_ORDER_ABCD);
	p.scale = 0.5;
	assert_int_equal(mb_decode_regs(&p, &reg, &out), 0);
	assert_int_equal(out.type, HW_V_FLOAT);
	assert_float_equal(out.f, 8.0, EPS);
	assert_int_equal(mb_decode_raw(&p, &reg, &raw), 0);
	assert_true(raw == 0x10);

	/* Fields that do not fit in a register. */
	p = bit_point(14, 4, MB_ORDER_ABCD);
	assert_int_equal(mb_decode_regs(&p, &reg, &out), -EINVAL);
	assert_int_equal(mb_decode_raw(&p, &reg, &raw), -EINVAL);
	p = bit_point(16, 1, MB_ORDER_ABCD);
	assert_int_equal(mb_decode_regs(&p, &reg, &out), -EINVAL);
}

static void test_scale_offset(void **state)
{
	struct prof_point p = reg_point(MB_T_U16, MB_ORDER_ABCD);
	uint16_t mains = 2305, battery = 2712, raw500 = 500;
	struct hw_value out;
	int64_t raw;

	(void)state;
	p.scale = 0.1; /* mains_voltage, ×0.1 V */
	assert_int_equal(mb_decode_regs(&p, &mains, &out), 0);
	assert_int_equal(out.type, HW_V_FLOAT);
	assert_float_equal(out.f, 230.5, EPS);
	assert_int_equal(mb_decode_raw(&p, &mains, &raw), 0);
	assert_true(raw == 2305);

	p.scale = 0.01; /* battery_voltage, ×0.01 V */
	assert_int_equal(mb_decode_regs(&p, &battery, &out), 0);
	assert_int_equal(out.type, HW_V_FLOAT);
	assert_float_equal(out.f, 27.12, EPS);

	p.scale = 0.1;
	p.offset = -40.0;
	assert_int_equal(mb_decode_regs(&p, &raw500, &out), 0);
	assert_int_equal(out.type, HW_V_FLOAT);
	assert_float_equal(out.f, 10.0, EPS);

	/* An offset alone still makes the value a float. */
	p.scale = 1.0;
	p.offset = 0.5;
	assert_int_equal(mb_decode_regs(&p, &raw500, &out), 0);
	assert_int_equal(out.type, HW_V_FLOAT);
	assert_float_equal(out.f, 500.5, EPS);

	/* A scale of 0 is unset: integral. */
	p.scale = 0.0;
	p.offset = 0.0;
	assert_int_equal(mb_decode_regs(&p, &raw500, &out), 0);
	assert_int_equal(out.type, HW_V_INT);
	assert_true(out.i == 500);

	/* Signed 32-bit with a scale. */
	struct prof_point q = reg_point(MB_T_I32, MB_ORDER_ABCD);
	uint16_t neg[2] = {0xFFFF, 0xFF9C}; /* -100 */
	q.scale = 0.01;
	assert_int_equal(mb_decode_regs(&q, neg, &out), 0);
	assert_float_equal(out.f, -1.0, EPS);

	/* Floats take scale and offset too. */
	struct prof_point f = reg_point(MB_T_F32, MB_ORDER_CDAB);
	uint16_t f25[2] = {0x0000, 0xC020}; /* -2.5 */
	f.scale = 10.0;
	f.offset = 1.0;
	assert_int_equal(mb_decode_regs(&f, f25, &out), 0);
	assert_int_equal(out.type, HW_V_FLOAT);
	assert_float_equal(out.f, -24.0, EPS);

	/* u64 above INT64_MAX keeps its magnitude when scaled. */
	struct prof_point u = reg_point(MB_T_U64, MB_ORDER_ABCD);
	uint16_t big[4] = {0x8000, 0, 0, 0};
	u.scale = 0.5;
	assert_int_equal(mb_decode_regs(&u, big, &out), 0);
	assert_int_equal(out.type, HW_V_FLOAT);
	assert_true(out.f == 4611686018427387904.0);
}

static struct prof_enum results[] = {
    {0, "none"},
    {1, "passed"},
    {2, "failed"},
    {3, "aborted"},
};

static void test_enums(void **state)
{
	struct prof_point p = reg_point(MB_T_U16, MB_ORDER_ABCD);
	uint16_t failed = 2, unknown = 7, none = 0;
	struct hw_value out;

	(void)state;
	p.enums = results;
	p.n_enums = 4;
	assert_int_equal(mb_decode_regs(&p, &failed, &out), 0);
	assert_int_equal(out.type, HW_V_INT);
	assert_true(out.i == 2);
	assert_string_equal(out.label, "failed");
	assert_ptr_equal(out.label, results[2].label);

	assert_int_equal(mb_decode_regs(&p, &none, &out), 0);
	assert_string_equal(out.label, "none");

	assert_int_equal(mb_decode_regs(&p, &unknown, &out), 0);
	assert_int_equal(out.type, HW_V_INT);
	assert_true(out.i == 7);
	assert_null(out.label);

	/* An enum on a byte: the event type code of a vendor point register. */
	static struct prof_enum codes[] = {
	    {0x10, "fire"},
	    {0x30, "supervisory"},
	    {0x71, "non_fire"},
	    {0xFF, "not_present"},
	};
	struct prof_point b = bit_point(0, 8, MB_ORDER_ABCD);
	uint16_t reg = 0x08FF, other = 0x0811;
	b.enums = codes;
	b.n_enums = 4;
	assert_int_equal(mb_decode_regs(&b, &reg, &out), 0);
	assert_true(out.i == 0xFF);
	assert_string_equal(out.label, "not_present");
	assert_int_equal(mb_decode_regs(&b, &other, &out), 0);
	assert_null(out.label);

	/* The enum matches the raw value, before scale. */
	p.scale = 0.5;
	assert_int_equal(mb_decode_regs(&p, &failed, &out), 0);
	assert_int_equal(out.type, HW_V_FLOAT);
	assert_float_equal(out.f, 1.0, EPS);
	assert_string_equal(out.label, "failed");
}

/* Values packed for the per-point tables come back as they were, label included. */
static void test_pack_round_trip(void **state)
{
	struct prof_point p = reg_point(MB_T_U16, MB_ORDER_ABCD);
	uint16_t failed = 2, unknown = 7;
	struct hw_value in, out;
	struct hw_pval pv = {.q = HW_Q_STALE, .flags = 5};

	(void)state;
	p.enums = results;
	p.n_enums = 4;
	assert_int_equal(mb_decode_regs(&p, &failed, &in), 0);
	hw_pval_pack(&p, &in, &pv);
	assert_int_equal(sizeof(pv), 16);
	assert_int_equal(pv.q, HW_Q_STALE); /* quality and flags are the holder's */
	assert_int_equal(pv.flags, 5);
	hw_pval_unpack(&p, &pv, &out);
	assert_true(hw_value_equal(&in, &out));
	assert_ptr_equal(out.label, results[2].label);

	assert_int_equal(mb_decode_regs(&p, &unknown, &in), 0);
	hw_pval_pack(&p, &in, &pv);
	hw_pval_unpack(&p, &pv, &out);
	assert_true(out.type == HW_V_INT && out.i == 7);
	assert_null(out.label);

	p.scale = 0.5;
	assert_int_equal(mb_decode_regs(&p, &failed, &in), 0);
	hw_pval_pack(&p, &in, &pv);
	hw_pval_unpack(&p, &pv, &out);
	assert_true(out.type == HW_V_FLOAT);
	assert_float_equal(out.f, 1.0, EPS);
	assert_string_equal(out.label, "failed");

	struct hw_value b = {.type = HW_V_BOOL, .b = true};
	hw_pval_pack(&p, &b, &pv);
	hw_pval_unpack(&p, &pv, &out);
	assert_true(out.type == HW_V_BOOL && out.b);
	struct hw_value none = {.type = HW_V_NONE};
	hw_pval_pack(&p, &none, &pv);
	hw_pval_unpack(&p, &pv, &out);
	assert_true(hw_value_equal(&none, &out));
}

static void test_bits_tables(void **state)
{
	struct prof_point p = reg_point(MB_T_BOOL, MB_ORDER_ABCD);
	static struct prof_enum onoff[] = {{0, "off"}, {1, "on"}};
	struct hw_value out;

	(void)state;
	p.table = MB_DISCRETE;
	assert_int_equal(mb_decode_bit(&p, 1, &out), 0);
	assert_int_equal(out.type, HW_V_BOOL);
	assert_true(out.b);
	assert_null(out.label);
	assert_int_equal(mb_decode_bit(&p, 0, &out), 0);
	assert_int_equal(out.type, HW_V_BOOL);
	assert_false(out.b);

	p.table = MB_COIL;
	p.enums = onoff;
	p.n_enums = 2;
	assert_int_equal(mb_decode_bit(&p, 1, &out), 0);
	assert_true(out.b);
	assert_string_equal(out.label, "on");
	assert_int_equal(mb_decode_bit(&p, 0, &out), 0);
	assert_string_equal(out.label, "off");
}

static void test_wrong_table(void **state)
{
	struct prof_point p = reg_point(MB_T_U16, MB_ORDER_ABCD);
	uint16_t reg = 1;
	struct hw_value out;
	int64_t raw;

	(void)state;
	p.table = MB_COIL;
	assert_int_equal(mb_decode_regs(&p, &reg, &out), -EINVAL);
	assert_int_equal(mb_decode_raw(&p, &reg, &raw), -EINVAL);
	p.table = MB_DISCRETE;
	assert_int_equal(mb_decode_regs(&p, &reg, &out), -EINVAL);
	assert_int_equal(mb_decode_raw(&p, &reg, &raw), -EINVAL);
	p.table = MB_INPUT;
	assert_int_equal(mb_decode_bit(&p, 1, &out), -EINVAL);
	p.table = MB_HOLDING;
	assert_int_equal(mb_decode_bit(&p, 1, &out), -EINVAL);
	assert_int_equal(mb_decode_regs(NULL, &reg, &out), -EINVAL);
	assert_int_equal(mb_decode_regs(&p, NULL, &out), -EINVAL);
}

/* Values from the reference maps in spec/reference-devices.md. */
static void test_reference_maps(void **state)
{
	struct hw_value out;
	int64_t raw;

	(void)state;
	/* elc-generic battery_temperature: i16 ×0.1 °C. */
	struct prof_point temp = reg_point(MB_T_I16, MB_ORDER_ABCD);
	uint16_t t = 0xFF38;
	temp.scale = 0.1;
	assert_int_equal(mb_decode_regs(&temp, &t, &out), 0);
	assert_int_equal(out.type, HW_V_FLOAT);
	assert_float_equal(out.f, -20.0, EPS);

	/* facp-generic panel_time: u32, big-endian word order. */
	struct prof_point clock = reg_point(MB_T_U32, MB_ORDER_ABCD);
	uint16_t ts[2] = {0x6553, 0xF100};
	assert_int_equal(mb_decode_regs(&clock, ts, &out), 0);
	assert_int_equal(out.type, HW_V_INT);
	assert_true(out.i == 1700000000);
	assert_int_equal(mb_decode_raw(&clock, ts, &raw), 0);
	assert_true(raw == 1700000000);

	/* facp-generic zone_count, read raw for the block count. */
	struct prof_point zones = reg_point(MB_T_U16, MB_ORDER_ABCD);
	uint16_t zc = 128;
	assert_int_equal(mb_decode_raw(&zones, &zc, &raw), 0);
	assert_true(raw == 128);

	/* elc-generic luminaire_state[i] b8 no response. */
	struct prof_point nr = bit_point(8, 1, MB_ORDER_ABCD);
	uint16_t lum = 0x0108;
	assert_int_equal(mb_decode_regs(&nr, &lum, &out), 0);
	assert_true(out.b);
}

static void test_quality_names(void **state)
{
	(void)state;
	assert_string_equal(hw_quality_name(HW_Q_NONE), "none");
	assert_string_equal(hw_quality_name(HW_Q_GOOD), "good");
	assert_string_equal(hw_quality_name(HW_Q_STALE), "stale");
	assert_string_equal(hw_quality_name(HW_Q_COMM_LOST), "comm_lost");
	assert_string_equal(hw_quality_name(HW_Q_CONFIG_ERROR), "config_error");
	assert_string_equal(hw_quality_name((enum hw_quality)99), "unknown");
}

static void test_value_equal(void **state)
{
	struct hw_value a = {.type = HW_V_INT, .i = 5}, b = {.type = HW_V_INT, .i = 5};
	char l1[] = "failed", l2[] = "failed";

	(void)state;
	assert_true(hw_value_equal(&a, &b));
	b.i = 6;
	assert_false(hw_value_equal(&a, &b));

	/* Same number, different type. */
	b = (struct hw_value){.type = HW_V_FLOAT, .f = 5.0};
	assert_false(hw_value_equal(&a, &b));

	a = (struct hw_value){.type = HW_V_FLOAT, .f = 0.1 + 0.2};
	b = (struct hw_value){.type = HW_V_FLOAT, .f = 0.3};
	assert_false(hw_value_equal(&a, &b)); /* exact */
	b.f = 0.1 + 0.2;
	assert_true(hw_value_equal(&a, &b));
	a.f = NAN;
	b.f = NAN;
	assert_true(hw_value_equal(&a, &b));

	a = (struct hw_value){.type = HW_V_BOOL, .b = true};
	b = (struct hw_value){.type = HW_V_BOOL, .b = true};
	assert_true(hw_value_equal(&a, &b));
	b.b = false;
	assert_false(hw_value_equal(&a, &b));

	/* Labels compare by string, not pointer. */
	a = (struct hw_value){.type = HW_V_INT, .i = 2, .label = l1};
	b = (struct hw_value){.type = HW_V_INT, .i = 2, .label = l2};
	assert_true(hw_value_equal(&a, &b));
	b.label = NULL;
	assert_false(hw_value_equal(&a, &b));
	b.label = "passed";
	assert_false(hw_value_equal(&a, &b));

	a = (struct hw_value){.type = HW_V_NONE};
	b = (struct hw_value){.type = HW_V_NONE};
	assert_true(hw_value_equal(&a, &b));
	assert_false(hw_value_equal(&a, NULL));
}

static void test_value_as_double(void **state)
{
	struct hw_value v = {.type = HW_V_NONE};

	(void)state;
	assert_true(hw_value_as_double(&v) == 0.0);
	v = (struct hw_value){.type = HW_V_BOOL, .b = true};
	assert_true(hw_value_as_double(&v) == 1.0);
	v.b = false;
	assert_true(hw_value_as_double(&v) == 0.0);
	v = (struct hw_value){.type = HW_V_INT, .i = -12345};
	assert_true(hw_value_as_double(&v) == -12345.0);
	v = (struct hw_value){.type = HW_V_FLOAT, .f = 230.5};
	assert_true(hw_value_as_double(&v) == 230.5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_types_and_orders),
	    cmocka_unit_test(test_holding_table),
	    cmocka_unit_test(test_bool_whole_register),
	    cmocka_unit_test(test_single_bits),
	    cmocka_unit_test(test_bit_ranges),
	    cmocka_unit_test(test_scale_offset),
	    cmocka_unit_test(test_enums),
	    cmocka_unit_test(test_pack_round_trip),
	    cmocka_unit_test(test_bits_tables),
	    cmocka_unit_test(test_wrong_table),
	    cmocka_unit_test(test_reference_maps),
	    cmocka_unit_test(test_quality_names),
	    cmocka_unit_test(test_value_equal),
	    cmocka_unit_test(test_value_as_double),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Modbus TCP framing of pipelined reads (devices/mbtcp.c): requests byte for byte as
 * the Modbus application protocol lays them out, and every way an answer can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <modbus.h>

#include "devices/mbtcp.h"

static void test_encode_read(void **state)
{
	(void)state;
	uint8_t out[MBTCP_REQ_LEN];
	/* Read input registers 100..107 of unit 17, transaction 0x1234. */
	static const uint8_t want[] = {0x12, 0x34, 0, 0, 0, 6, 17, 0x04, 0, 100, 0, 8};
	mbtcp_encode_read(out, 0x1234, 17, MB_INPUT, 100, 8);
	assert_memory_equal(out, want, sizeof(want));
	mbtcp_encode_read(out, 1, 1, MB_COIL, 0, 2);
	assert_int_equal(out[7], 0x01);
	mbtcp_encode_read(out, 1, 1, MB_DISCRETE, 0, 2);
	assert_int_equal(out[7], 0x02);
	mbtcp_encode_read(out, 1, 1, MB_HOLDING, 0x0102, 0x7D);
	assert_int_equal(out[7], 0x03);
	assert_int_equal(out[8], 0x01);
	assert_int_equal(out[9], 0x02);
	assert_int_equal(out[11], 0x7D);
}

static void test_frame_len(void **state)
{
	(void)state;
	/* Two registers: 7 + 1 + 1 + 4 = 13 bytes. */
	static const uint8_t a[] = {0, 7, 0, 0, 0, 7, 1, 0x04, 4, 0x12, 0x34, 0xAB, 0xCD};
	for (size_t n = 0; n < sizeof(a); n++)
		assert_int_equal(mbtcp_frame_len(a, n), 0); /* not whole yet */
	assert_int_equal(mbtcp_frame_len(a, sizeof(a)), 13);
	assert_int_equal(mbtcp_frame_len(a, sizeof(a) + 5), 13); /* the next one follows */
	assert_int_equal(mbtcp_tid(a), 7);

	static const uint8_t bad_proto[] = {0, 7, 0, 1, 0, 7};
	assert_int_equal(mbtcp_frame_len(bad_proto, sizeof(bad_proto)), -EMBBADDATA);
	static const uint8_t too_short[] = {0, 7, 0, 0, 0, 1};
	assert_int_equal(mbtcp_frame_len(too_short, sizeof(too_short)), -EMBBADDATA);
	static const uint8_t too_long[] = {0, 7, 0, 0, 0x01, 0x00};
	assert_int_equal(mbtcp_frame_len(too_long, sizeof(too_long)), -EMBBADDATA);
}

static void test_decode_registers(void **state)
{
	(void)state;
	static const uint8_t a[] = {0, 7, 0, 0, 0, 7, 1, 0x04, 4, 0x12, 0x34, 0xAB, 0xCD};
	uint16_t regs[2] = {0};
	assert_int_equal(mbtcp_decode_read(a, sizeof(a), 1, MB_INPUT, 2, regs), 2);
	assert_int_equal(regs[0], 0x1234);
	assert_int_equal(regs[1], 0xABCD);
	/* Another unit's answer, another function, a count that does not match. */
	assert_int_equal(mbtcp_decode_read(a, sizeof(a), 2, MB_INPUT, 2, regs), -EMBBADSLAVE);
	assert_int_equal(mbtcp_decode_read(a, sizeof(a), 1, MB_HOLDING, 2, regs), -EMBBADDATA);
	assert_int_equal(mbtcp_decode_read(a, sizeof(a), 1, MB_INPUT, 3, regs), -EMBBADDATA);
	assert_int_equal(mbtcp_decode_read(a, 8, 1, MB_INPUT, 2, regs), -EMBBADDATA);
}

static void test_decode_bits(void **state)
{
	(void)state;
	/* Ten coils: 0b10110101 then 0b10 (bits LSB first). */
	static const uint8_t a[] = {0, 9, 0, 0, 0, 5, 3, 0x01, 2, 0xB5, 0x02};
	uint8_t bits[10];
	static const uint8_t want[10] = {1, 0, 1, 0, 1, 1, 0, 1, 0, 1};
	memset(bits, 0xEE, sizeof(bits));
	assert_int_equal(mbtcp_decode_read(a, sizeof(a), 3, MB_COIL, 10, bits), 10);
	assert_memory_equal(bits, want, sizeof(want));
	/* 17 bits need 3 bytes, not 2. */
	uint8_t more[17];
	assert_int_equal(mbtcp_decode_read(a, sizeof(a), 3, MB_COIL, 17, more), -EMBBADDATA);
}

static void test_decode_exception(void **state)
{
	(void)state;
	uint16_t regs[1];
	static const uint8_t ill_addr[] = {0, 1, 0, 0, 0, 3, 1, 0x84, 0x02};
	assert_int_equal(mbtcp_decode_read(ill_addr, sizeof(ill_addr), 1, MB_INPUT, 1, regs),
			 -EMBXILADD);
	static const uint8_t gw_target[] = {0, 1, 0, 0, 0, 3, 1, 0x83, 0x0B};
	assert_int_equal(mbtcp_decode_read(gw_target, sizeof(gw_target), 1, MB_HOLDING, 1, regs),
			 -EMBXGTAR);
	static const uint8_t unknown[] = {0, 1, 0, 0, 0, 3, 1, 0x84, 0x7F};
	assert_int_equal(mbtcp_decode_read(unknown, sizeof(unknown), 1, MB_INPUT, 1, regs),
			 -EMBBADEXC);
	/* An exception for another function is not an answer to this read. */
	static const uint8_t other[] = {0, 1, 0, 0, 0, 3, 1, 0x83, 0x02};
	assert_int_equal(mbtcp_decode_read(other, sizeof(other), 1, MB_INPUT, 1, regs),
			 -EMBBADDATA);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_read),	     cmocka_unit_test(test_frame_len),
	    cmocka_unit_test(test_decode_registers), cmocka_unit_test(test_decode_bits),
	    cmocka_unit_test(test_decode_exception),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

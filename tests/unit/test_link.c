/* The RTU inter-frame silence the link enforces (devices/link.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/link.h"

static int64_t silence(int baud, enum bus_parity parity, int data_bits, int stop_bits)
{
	struct cfg_bus b = {.id = "rtu0",
			    .type = BUS_RTU,
			    .device = "/dev/null",
			    .baud = baud,
			    .parity = parity,
			    .data_bits = data_bits,
			    .stop_bits = stop_bits,
			    .timeout_ms = 100};
	struct mb_link *l = NULL;
	assert_int_equal(mb_link_create(&b, &l), 0);
	int64_t us = mb_link_silence_us(l);
	mb_link_destroy(l);
	return us;
}

static void test_rtu_silence(void **state)
{
	(void)state;
	/* 3.5 characters of 10 bits (8N1) at 9600 baud: 3645.8 us, rounded up. */
	assert_int_equal(silence(9600, PARITY_NONE, 8, 1), 3646);
	/* 11 bits a character with parity (8E1): 4010.4 us. */
	assert_int_equal(silence(9600, PARITY_EVEN, 8, 1), 4011);
	/* 8N2 at 19200: 11 bits, 2005.2 us. */
	assert_int_equal(silence(19200, PARITY_NONE, 8, 2), 2006);
	/* Above 19200 baud the standard fixes it at 1750 us. */
	assert_int_equal(silence(38400, PARITY_NONE, 8, 1), 1750);
	assert_int_equal(silence(115200, PARITY_EVEN, 8, 1), 1750);
}

static void test_tcp_no_silence(void **state)
{
	(void)state;
	struct cfg_bus b = {
	    .id = "tcp0", .type = BUS_TCP, .host = "127.0.0.1", .port = 502, .timeout_ms = 100};
	struct mb_link *l = NULL;
	assert_int_equal(mb_link_create(&b, &l), 0);
	assert_int_equal(mb_link_silence_us(l), 0);
	assert_false(mb_link_is_connected(l));
	mb_link_destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rtu_silence),
	    cmocka_unit_test(test_tcp_no_silence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

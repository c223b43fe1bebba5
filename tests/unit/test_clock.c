/* Unit tests of core/clock.c: the real time by default and no way to move it; the switch's
 * values; a test clock that starts where it is told, runs at the real pace, moves only
 * forward, and maps real times both ways. Single thread. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>

#include "core/clock.h"

/* 2027-01-01T00:00:00+08:00 */
#define JAN1 1798732800000LL
#define SLACK_MS 2000 /* a slow (sanitizer) machine between two readings */

static int teardown(void **state)
{
	(void)state;
	hw_clock_reset();
	return 0;
}

static void test_real_by_default(void **state)
{
	int64_t r = g_get_real_time() / 1000, c = hw_clock_ms();

	(void)state;
	assert_false(hw_clock_is_test());
	assert_int_equal(hw_clock_offset_ms(), 0);
	assert_true(c >= r && c - r < SLACK_MS);
	assert_int_equal(hw_clock_from_real(12345), 12345);
	assert_int_equal(hw_clock_to_real(12345), 12345);
	/* production: nothing moves it */
	assert_int_equal(hw_clock_set(c + 86400000), -EPERM);
	assert_int_equal(hw_clock_advance(1000), -EPERM);
	assert_int_equal(hw_clock_offset_ms(), 0);
}

static void test_switch(void **state)
{
	int64_t ms = -1;

	(void)state;
	assert_int_equal(hw_clock_switch(NULL, NULL, &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(hw_clock_switch("", NULL, &ms), 0);
	assert_int_equal(hw_clock_switch("0", NULL, &ms), 0);
	assert_int_equal(hw_clock_switch("1", NULL, &ms), 1);
	assert_int_equal(ms, 0);
	assert_int_equal(hw_clock_switch("2027-01-01T00:00:00+08:00", NULL, &ms), 1);
	assert_int_equal(ms, JAN1);
	assert_int_equal(hw_clock_switch("2027-01-01 00:00", "Asia/Shanghai", &ms), 1);
	assert_int_equal(ms, JAN1);
	assert_int_equal(hw_clock_switch("1798732800.25", NULL, &ms), 1);
	assert_int_equal(ms, JAN1 + 250);
	assert_int_equal(hw_clock_switch("yes", NULL, &ms), -EINVAL);
	assert_int_equal(hw_clock_switch("2027-13-01T00:00Z", NULL, &ms), -EINVAL);
	/* reading the switch enables nothing */
	assert_false(hw_clock_is_test());
}

static void test_test_clock(void **state)
{
	int64_t c, off;

	(void)state;
	hw_clock_enable_test(JAN1);
	assert_true(hw_clock_is_test());
	c = hw_clock_ms();
	assert_true(c >= JAN1 && c - JAN1 < SLACK_MS);
	off = hw_clock_offset_ms();
	assert_int_equal(hw_clock_from_real(1000), 1000 + off);
	assert_int_equal(hw_clock_to_real(hw_clock_from_real(777)), 777);
	/* forward by a day */
	assert_int_equal(hw_clock_advance(86400000), 0);
	assert_int_equal(hw_clock_offset_ms(), off + 86400000);
	c = hw_clock_ms();
	assert_true(c >= JAN1 + 86400000 && c - JAN1 - 86400000 < SLACK_MS);
	/* to a time: there exactly (within the readings) */
	assert_int_equal(hw_clock_set(JAN1 + 10 * 86400000LL), 0);
	c = hw_clock_ms();
	assert_true(c >= JAN1 + 10 * 86400000LL && c - JAN1 - 10 * 86400000LL < SLACK_MS);
	/* never back */
	off = hw_clock_offset_ms();
	assert_int_equal(hw_clock_set(JAN1), -EINVAL);
	assert_int_equal(hw_clock_advance(-1), -EINVAL);
	assert_int_equal(hw_clock_offset_ms(), off);
	assert_int_equal(hw_clock_advance(0), 0);
	/* the real time goes on under it */
	assert_true(hw_clock_real_ms() - (g_get_real_time() / 1000) < SLACK_MS);
	hw_clock_reset();
	assert_false(hw_clock_is_test());
	assert_int_equal(hw_clock_offset_ms(), 0);
}

static void test_enable_from_now(void **state)
{
	int64_t r = g_get_real_time() / 1000, c;

	(void)state;
	hw_clock_enable_test(0);
	assert_true(hw_clock_is_test());
	assert_int_equal(hw_clock_offset_ms(), 0);
	c = hw_clock_ms();
	assert_true(c >= r && c - r < SLACK_MS);
	assert_int_equal(hw_clock_advance(3600000), 0);
	assert_int_equal(hw_clock_offset_ms(), 3600000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_real_by_default, teardown),
	    cmocka_unit_test_teardown(test_switch, teardown),
	    cmocka_unit_test_teardown(test_test_clock, teardown),
	    cmocka_unit_test_teardown(test_enable_from_now, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

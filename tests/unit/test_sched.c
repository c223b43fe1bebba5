/* Scheduling order, deadline advance and back-off (devices/sched.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/sched.h"

#define MS 1000

static void test_pick_earliest_when_none_due(void **state)
{
	(void)state;
	const struct sched_entry e[] = {
	    {500 * MS, 0, 100 * MS}, {300 * MS, 0, 10000 * MS}, {400 * MS, 0, 250 * MS}};
	int64_t when = 0;
	assert_int_equal(sched_pick(e, 3, 0, &when), 1);
	assert_int_equal(when, 300 * MS);
}

static void test_pick_fast_group_first_when_behind(void **state)
{
	(void)state;
	/* All three are due: the analog group (10 s) has waited longest, the alarm group
	 * (100 ms) goes first anyway. */
	const struct sched_entry e[] = {
	    {100 * MS, 0, 10000 * MS}, {190 * MS, 0, 100 * MS}, {150 * MS, 0, 1000 * MS}};
	assert_int_equal(sched_pick(e, 3, 200 * MS, NULL), 1);
	/* Same interval: the earliest deadline. */
	const struct sched_entry f[] = {{180 * MS, 0, 100 * MS}, {120 * MS, 0, 100 * MS}};
	assert_int_equal(sched_pick(f, 2, 200 * MS, NULL), 1);
}

static void test_pick_respects_hold(void **state)
{
	(void)state;
	/* Device 0 is backed off until 900 ms: the slower but due entry goes first. */
	const struct sched_entry e[] = {{100 * MS, 900 * MS, 100 * MS}, {150 * MS, 0, 1000 * MS}};
	int64_t when;
	assert_int_equal(sched_pick(e, 2, 200 * MS, &when), 1);
	/* Nothing else due: the held one comes at the end of its hold. */
	const struct sched_entry f[] = {{100 * MS, 900 * MS, 100 * MS}, {950 * MS, 0, 1000 * MS}};
	assert_int_equal(sched_pick(f, 2, 200 * MS, &when), 0);
	assert_int_equal(when, 900 * MS);
	assert_int_equal(sched_pick(f, 0, 0, &when), -1);
}

static void test_advance_keeps_phase(void **state)
{
	(void)state;
	uint64_t over = 0;
	/* On time: the next deadline is exactly one interval later, whatever the poll took. */
	assert_int_equal(sched_advance(1000 * MS, 100 * MS, 1003 * MS, 0, &over), 1100 * MS);
	assert_int_equal(over, 0);
	/* 250 ms late: two deadlines were missed, counted; the grid is kept. */
	assert_int_equal(sched_advance(1000 * MS, 100 * MS, 1250 * MS, 0, &over), 1300 * MS);
	assert_int_equal(over, 2);
	/* Exactly on the next deadline counts as missing it. */
	over = 0;
	assert_int_equal(sched_advance(1000 * MS, 100 * MS, 1100 * MS, 0, &over), 1200 * MS);
	assert_int_equal(over, 1);
	/* After a back-off: a new phase from now, no overrun. */
	over = 0;
	assert_int_equal(sched_advance(1000 * MS, 100 * MS, 5000 * MS, 4990 * MS, &over),
			 5100 * MS);
	assert_int_equal(over, 0);
}

static void test_backoff(void **state)
{
	(void)state;
	int64_t iv = 100 * MS, cap = 1000 * MS;
	assert_int_equal(sched_backoff(iv, 1, cap), 100 * MS);
	assert_int_equal(sched_backoff(iv, 2, cap), 200 * MS);
	assert_int_equal(sched_backoff(iv, 3, cap), 400 * MS);
	assert_int_equal(sched_backoff(iv, 4, cap), 800 * MS);
	assert_int_equal(sched_backoff(iv, 5, cap), 1000 * MS);
	assert_int_equal(sched_backoff(iv, 60, cap), 1000 * MS);
	/* A cap below the interval never makes polling faster than the interval. */
	assert_int_equal(sched_backoff(iv, 5, 50 * MS), 100 * MS);
	assert_int_equal(sched_backoff(iv, 0, cap), 100 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pick_earliest_when_none_due),
	    cmocka_unit_test(test_pick_fast_group_first_when_behind),
	    cmocka_unit_test(test_pick_respects_hold),
	    cmocka_unit_test(test_advance_keeps_phase),
	    cmocka_unit_test(test_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

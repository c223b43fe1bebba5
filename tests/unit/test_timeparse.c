/* Unit tests of core/timeparse.c: every accepted form against known instants, in two time
 * zones named explicitly (one with DST), what is refused, and the formatter. Single thread. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "core/timeparse.h"

/* 2026-12-03T02:00:00Z */
#define T0 1796263200000LL

static void test_accepted(void **state)
{
	static const struct {
		const char *s, *tz;
		int64_t want;
	} cases[] = {
	    {"1796263200", NULL, T0},
	    {"0", NULL, 0},
	    {"1796263200.25", NULL, T0 + 250},
	    {"2026-12-03T02:00:00Z", NULL, T0},
	    {"2026-12-03T02:00Z", "Asia/Shanghai", T0},
	    {"2026-12-03T10:00:00+08:00", NULL, T0},
	    {"2026-12-03T10:00:00+0800", "Europe/Berlin", T0},
	    {"2026-12-03T10:00+08", NULL, T0},
	    {"2026-12-02T21:30:00-04:30", NULL, T0},
	    {"2026-12-03T02:00:00.5Z", NULL, T0 + 500},
	    {"2026-12-03T02:00:00.123456Z", NULL, T0 + 123},
	    /* local site time */
	    {"2026-12-03 10:00", "Asia/Shanghai", T0},
	    {"2026-12-03T10:00:00", "Asia/Shanghai", T0},
	    {"2026-12-03 03:00:00", "Europe/Berlin", T0},	       /* CET, +01:00 */
	    {"2026-07-03 04:00:00", "Europe/Berlin", 1783044000000LL}, /* CEST, +02:00 */
	    {"2026-12-03 02:00", "UTC", T0},
	    {"2024-02-29 00:00Z", NULL, 1709164800000LL},
	    {"9999-12-31T23:59:59Z", NULL, TIMEPARSE_MAX_S * 1000},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -1;

		print_message("%s in %s\n", cases[i].s, cases[i].tz ? cases[i].tz : "-");
		assert_int_equal(timeparse(cases[i].s, cases[i].tz, &ms), 0);
		assert_int_equal(ms, cases[i].want);
	}
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
	    "",
	    "-1",
	    "253402300800",
	    "1e9",
	    "nan",
	    "12x",
	    "1.",
	    ".5",
	    "2026-12-03",
	    "2026-12-03T10",
	    "2026-13-03T10:00Z",
	    "2026-02-29T10:00Z",
	    "2026-12-32 10:00",
	    "2026-12-03T24:00Z",
	    "2026-12-03T10:60Z",
	    "2026-12-03T10:00:60Z",
	    "2026-12-03T10:00:00.Z",
	    "2026-12-03T10:00+8",
	    "2026-12-03T10:00+08:",
	    "2026-12-03T10:00+24:00",
	    "2026-12-03T10:00:00Zjunk",
	    "2026-12-03  10:00",
	    "26-12-03 10:00",
	    "1969-12-31T23:59Z",
	};
	int64_t ms = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i]);
		assert_int_equal(timeparse(bad[i], "UTC", &ms), -EINVAL);
	}
	assert_int_equal(timeparse(NULL, NULL, &ms), -EINVAL);
	assert_int_equal(timeparse("2026-12-03 10:00", "Mars/Olympus_Mons", &ms), -EINVAL);
	assert_int_equal(ms, 42);
}

static void test_zones_and_format(void **state)
{
	char buf[64];

	(void)state;
	assert_true(timeparse_tz_valid(NULL));
	assert_true(timeparse_tz_valid(""));
	assert_true(timeparse_tz_valid("Asia/Shanghai"));
	assert_false(timeparse_tz_valid("Mars/Olympus_Mons"));
	assert_string_equal(timeparse_format(T0, "Asia/Shanghai", buf, sizeof(buf)),
			    "2026-12-03 10:00:00+08:00");
	assert_string_equal(timeparse_format(T0 + 999, "UTC", buf, sizeof(buf)),
			    "2026-12-03 02:00:00+00:00");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_zones_and_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the local point history: minutes folded (min/avg/max), written at a
 * flush and read back with those still in memory, and the bounds by days and rows. */
#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "outputs/history.h"

#define T0 1764763200000LL /* 2025-12-03 12:00:00 UTC, a minute's start */
#define MINUTE 60000LL

struct fx {
	char *dir, *path;
	struct history *h;
};

static int setup(void **state)
{
	struct fx *f = g_new0(struct fx, 1);

	f->dir = g_dir_make_tmp("hw-history-XXXXXX", NULL);
	f->path = g_build_filename(f->dir, "hallwatch.db", NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

	history_destroy(f->h);
	assert_int_equal(system(cmd), 0);
	g_free(cmd);
	g_free(f->path);
	g_free(f->dir);
	g_free(f);
	return 0;
}

static void test_minutes_folded_and_read(void **state)
{
	struct fx *f = *state;
	struct history_sample *s;
	size_t n;

	assert_int_equal(history_create(f->path, 7, 1000, &f->h), 0);
	history_add(f->h, "ups1", "battery_v", T0 + 1000, 26.0);
	history_add(f->h, "ups1", "battery_v", T0 + 20000, 28.0);
	history_add(f->h, "ups1", "battery_v", T0 + 59000, 24.0);
	history_add(f->h, "ups1", "battery_v", T0 + MINUTE + 5, 30.0); /* the next minute */
	history_add(f->h, "ups1", "load", T0 + 1000, 5.0);	       /* another point */
	assert_int_equal(history_rows(f->h), 0);		       /* nothing written yet */
	assert_int_equal(history_query(f->h, "ups1", "battery_v", T0, T0 + 10 * MINUTE, 0, &s, &n),
			 0);
	assert_int_equal(n, 2); /* one ended, one open: both from memory */
	assert_int_equal(s[0].t_ms, T0);
	assert_int_equal(s[0].n, 3);
	assert_true(s[0].min == 24.0 && s[0].max == 28.0 && s[0].avg == 26.0);
	assert_true(s[1].t_ms == T0 + MINUTE && s[1].avg == 30.0);
	g_free(s);
	/* A flush at T0+2min writes both ended minutes of battery_v and the one of load. */
	assert_int_equal(history_flush(f->h, T0 + 2 * MINUTE), 0);
	assert_int_equal(history_rows(f->h), 3);
	assert_int_equal(history_query(f->h, "ups1", "battery_v", T0, T0 + 10 * MINUTE, 0, &s, &n),
			 0);
	assert_int_equal(n, 2);
	assert_true(s[0].min == 24.0 && s[0].max == 28.0 && s[0].n == 3);
	g_free(s);
	/* Kept across a restart. */
	history_destroy(f->h);
	assert_int_equal(history_create(f->path, 7, 1000, &f->h), 0);
	assert_int_equal(history_query(f->h, "ups1", "load", T0, T0 + MINUTE, 0, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_true(s[0].avg == 5.0);
	g_free(s);
	/* The range and max: the newest. */
	assert_int_equal(history_query(f->h, "ups1", "battery_v", T0, T0 + 10 * MINUTE, 1, &s, &n),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].t_ms, T0 + MINUTE);
	g_free(s);
}

static void test_bounded_by_rows(void **state)
{
	struct fx *f = *state;
	struct history_sample *s;
	size_t n;

	assert_int_equal(history_create(f->path, 7, 10, &f->h), 0);
	for (int i = 0; i < 30; i++)
		history_add(f->h, "d", "p", T0 + i * MINUTE, i);
	assert_int_equal(history_flush(f->h, T0 + 30 * MINUTE), 0);
	assert_int_equal(history_rows(f->h), 10);
	assert_int_equal(history_dropped(f->h), 20);
	assert_int_equal(history_query(f->h, "d", "p", T0, T0 + 40 * MINUTE, 0, &s, &n), 0);
	assert_int_equal(n, 10);
	assert_int_equal(s[0].t_ms, T0 + 20 * MINUTE); /* the oldest went */
	g_free(s);
}

static void test_bounded_by_days(void **state)
{
	struct fx *f = *state;

	assert_int_equal(history_create(f->path, 1, 1000, &f->h), 0);
	history_add(f->h, "d", "p", T0, 1);
	history_add(f->h, "d", "p", T0 + 2 * MINUTE, 2);
	assert_int_equal(history_flush(f->h, T0 + 3 * MINUTE), 0);
	assert_int_equal(history_rows(f->h), 2);
	history_add(f->h, "d", "p", T0 + 86400000LL + MINUTE, 3);
	assert_int_equal(history_flush(f->h, T0 + 86400000LL + MINUTE + 1), 0);
	assert_int_equal(history_rows(f->h), 1); /* the minute a day old stays, the first goes */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_minutes_folded_and_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bounded_by_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bounded_by_days, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

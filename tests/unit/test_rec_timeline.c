/* Unit tests of rec_timeline (video/recindex.c): the segments of a range and the gaps between
 * them, from step tables of segments. Pure; single thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "video/recindex.h"

static void check(const struct rec_segment *s, int n, int64_t from, int64_t to, int64_t now,
		  const struct rec_span *want, int nwant)
{
	struct rec_span *got;
	int k = rec_timeline(s, n, from, to, now, 1000, &got);

	assert_int_equal(k, nwant);
	for (int i = 0; i < k; i++) {
		print_message("%d: %lld..%lld seg %d\n", i, (long long)got[i].start_ms,
			      (long long)got[i].end_ms, got[i].seg);
		assert_int_equal(got[i].start_ms, want[i].start_ms);
		assert_int_equal(got[i].end_ms, want[i].end_ms);
		assert_int_equal(got[i].seg, want[i].seg);
	}
	free(got);
}

static void test_timeline(void **state)
{
	/* back to back within the tolerance, then 5 s missing, then one still being written */
	const struct rec_segment s[] = {
	    {.start_ms = 10000, .end_ms = 13000},
	    {.start_ms = 13020, .end_ms = 16000},
	    {.start_ms = 21000, .end_ms = 0},
	};
	const struct rec_span all[] = {
	    {0, 10000, -1},	{10000, 13000, 0}, {13020, 16000, 1},
	    {16000, 21000, -1}, {21000, 23000, 2}, {23000, 30000, -1},
	};
	const struct rec_span inside[] = {{10000, 13000, 0}, {13020, 16000, 1}};
	const struct rec_span none[] = {{0, 30000, -1}};
	/* overlapping segments leave no gap; a gap at the tolerance is none */
	const struct rec_segment o[] = {
	    {.start_ms = 0, .end_ms = 9000},
	    {.start_ms = 5000, .end_ms = 6000},
	    {.start_ms = 10000, .end_ms = 12000},
	};
	const struct rec_span over[] = {{0, 9000, 0}, {5000, 6000, 1}, {10000, 12000, 2}};

	/* one left open by a failed recorder before the last: its end is unknown, the gap shows */
	const struct rec_segment u[] = {
	    {.start_ms = 0, .end_ms = 3000},
	    {.start_ms = 3000, .end_ms = 0},
	    {.start_ms = 9000, .end_ms = 12000},
	};
	const struct rec_span unclosed[] = {
	    {0, 3000, 0}, {3000, 3000, 1}, {3000, 9000, -1}, {9000, 12000, 2}};

	(void)state;
	check(u, 3, 0, 12000, 20000, unclosed, 4);
	check(s, 3, 0, 30000, 23000, all, 6);
	check(s, 2, 11000, 15500, 23000, inside, 2);
	check(NULL, 0, 0, 30000, 23000, none, 1);
	check(o, 3, 0, 13000, 0, over, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_timeline)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

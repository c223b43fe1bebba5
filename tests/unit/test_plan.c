/* Unit tests of devices/plan.c: merging, gaps, limits, tables, the reference read
 * sets, optimality against a brute-force planner, and halving a refused request.
 * Single-threaded cmocka binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "devices/plan.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const struct mb_plan_limits std_lim = {.max_regs = 125, .max_bits = 2000, .max_gap = 0};

static unsigned limit_of(const struct mb_plan_limits *lim, enum mb_table t)
{
	return t == MB_COIL || t == MB_DISCRETE ? lim->max_bits : lim->max_regs;
}

/* Invariants of every plan: sorted, within limits, every span no wider than the
 * limit inside one request, every register of every span read. */
static void check_plan(const struct mb_span *in, size_t n, const struct mb_plan_limits *lim,
		       const struct mb_span *out, size_t n_out)
{
	for (size_t k = 0; k < n_out; k++) {
		assert_true(out[k].count >= 1);
		assert_true(out[k].count <= limit_of(lim, out[k].table));
		assert_true((unsigned)out[k].address + out[k].count <= 65536u);
		if (k > 0) {
			assert_true(out[k - 1].table < out[k].table ||
				    (out[k - 1].table == out[k].table &&
				     out[k - 1].address <= out[k].address));
		}
	}
	for (size_t i = 0; i < n; i++) {
		unsigned a = in[i].address, e = a + in[i].count;
		bool whole = false;

		for (size_t k = 0; k < n_out; k++)
			if (out[k].table == in[i].table && out[k].address <= a &&
			    out[k].address + out[k].count >= e)
				whole = true;
		if (in[i].count <= limit_of(lim, in[i].table)) {
			assert_true(whole);
			continue;
		}
		for (unsigned r = a; r < e; r++) {
			bool read = false;

			for (size_t k = 0; k < n_out; k++)
				if (out[k].table == in[i].table && out[k].address <= r &&
				    out[k].address + out[k].count > r)
					read = true;
			assert_true(read);
		}
	}
}

static void expect_plan(const struct mb_span *in, size_t n, const struct mb_plan_limits *lim,
			const struct mb_span *want, size_t n_want)
{
	struct mb_span *out = NULL;
	size_t n_out = 99;

	assert_int_equal(mb_plan_build(in, n, lim, &out, &n_out), 0);
	for (size_t k = 0; k < n_out && k < n_want; k++) {
		if (out[k].table != want[k].table || out[k].address != want[k].address ||
		    out[k].count != want[k].count)
			fail_msg("request %zu: got table %d %u+%u, want table %d %u+%u", k,
				 out[k].table, out[k].address, out[k].count, want[k].table,
				 want[k].address, want[k].count);
	}
	assert_int_equal(n_out, n_want);
	check_plan(in, n, lim, out, n_out);
	free(out);
}

static void test_adjacent(void **state)
{
	const struct mb_span in[] = {{MB_INPUT, 0, 2}, {MB_INPUT, 2, 1}, {MB_INPUT, 3, 2}};
	const struct mb_span want[] = {{MB_INPUT, 0, 5}};

	(void)state;
	expect_plan(in, N_OF(in), &std_lim, want, N_OF(want));
}

static void test_overlapping(void **state)
{
	const struct mb_span in[] = {
	    {MB_HOLDING, 0, 10}, {MB_HOLDING, 5, 5}, {MB_HOLDING, 8, 12},
	    {MB_HOLDING, 2, 1},	 {MB_HOLDING, 0, 1}, {MB_HOLDING, 8, 12},
	};
	const struct mb_span want[] = {{MB_HOLDING, 0, 20}};

	(void)state;
	expect_plan(in, N_OF(in), &std_lim, want, N_OF(want));
}

static void test_gaps(void **state)
{
	struct mb_plan_limits lim = std_lim;
	const struct mb_span in[] = {{MB_INPUT, 0, 2}, {MB_INPUT, 6, 2}};
	const struct mb_span one[] = {{MB_INPUT, 0, 8}};
	const struct mb_span two[] = {{MB_INPUT, 0, 2}, {MB_INPUT, 6, 2}};

	(void)state;
	/* Gap of 4 registers (2..5). */
	lim.max_gap = 4;
	expect_plan(in, N_OF(in), &lim, one, N_OF(one));
	lim.max_gap = 10;
	expect_plan(in, N_OF(in), &lim, one, N_OF(one));
	lim.max_gap = 3;
	expect_plan(in, N_OF(in), &lim, two, N_OF(two));
	lim.max_gap = 0;
	expect_plan(in, N_OF(in), &lim, two, N_OF(two));

	/* Gaps chain: each within max_gap, the whole within the limit. */
	const struct mb_span chain[] = {
	    {MB_INPUT, 0, 1}, {MB_INPUT, 3, 1}, {MB_INPUT, 6, 1}, {MB_INPUT, 9, 1}};
	const struct mb_span chain_want[] = {{MB_INPUT, 0, 10}};
	lim.max_gap = 2;
	expect_plan(chain, N_OF(chain), &lim, chain_want, N_OF(chain_want));

	/* Gaps count for bits too. */
	const struct mb_span bits[] = {{MB_COIL, 0, 1}, {MB_COIL, 2, 1}};
	const struct mb_span bits_one[] = {{MB_COIL, 0, 3}};
	lim.max_gap = 1;
	expect_plan(bits, N_OF(bits), &lim, bits_one, N_OF(bits_one));
}

static void test_tables_separate(void **state)
{
	struct mb_plan_limits lim = std_lim;
	const struct mb_span in[] = {
	    {MB_HOLDING, 5, 5},	 {MB_INPUT, 0, 5}, {MB_COIL, 1, 1},
	    {MB_DISCRETE, 0, 2}, {MB_COIL, 0, 1},  {MB_INPUT, 5, 5},
	};
	const struct mb_span want[] = {
	    {MB_COIL, 0, 2},
	    {MB_DISCRETE, 0, 2},
	    {MB_INPUT, 0, 10},
	    {MB_HOLDING, 5, 5},
	};

	(void)state;
	lim.max_gap = 100;
	expect_plan(in, N_OF(in), &lim, want, N_OF(want));
}

static void test_limit_regs(void **state)
{
	const struct mb_span exact[] = {{MB_INPUT, 0, 100}, {MB_INPUT, 100, 25}};
	const struct mb_span exact_want[] = {{MB_INPUT, 0, 125}};
	const struct mb_span over[] = {{MB_INPUT, 0, 100}, {MB_INPUT, 100, 26}};
	const struct mb_span over_want[] = {{MB_INPUT, 0, 100}, {MB_INPUT, 100, 26}};
	/* A span wider than 125 is split at the limit into requests of its own. */
	const struct mb_span wide[] = {{MB_HOLDING, 1000, 300}, {MB_HOLDING, 1300, 5}};
	const struct mb_span wide_want[] = {
	    {MB_HOLDING, 1000, 125},
	    {MB_HOLDING, 1125, 125},
	    {MB_HOLDING, 1250, 50},
	    {MB_HOLDING, 1300, 5},
	};
	/* Overlap that does not fit: the second span is read whole on its own. */
	const struct mb_span ov[] = {{MB_INPUT, 0, 100}, {MB_INPUT, 90, 40}};
	const struct mb_span ov_want[] = {{MB_INPUT, 0, 100}, {MB_INPUT, 90, 40}};
	struct mb_plan_limits lim = std_lim;

	(void)state;
	expect_plan(exact, N_OF(exact), &std_lim, exact_want, N_OF(exact_want));
	expect_plan(over, N_OF(over), &std_lim, over_want, N_OF(over_want));
	expect_plan(wide, N_OF(wide), &std_lim, wide_want, N_OF(wide_want));
	expect_plan(ov, N_OF(ov), &std_lim, ov_want, N_OF(ov_want));

	/* A device with a smaller limit. */
	const struct mb_span small[] = {{MB_INPUT, 0, 20}};
	const struct mb_span small_want[] = {{MB_INPUT, 0, 8}, {MB_INPUT, 8, 8}, {MB_INPUT, 16, 4}};
	lim.max_regs = 8;
	expect_plan(small, N_OF(small), &lim, small_want, N_OF(small_want));

	/* Spans inside a split span are covered, also one straddling two chunks. */
	const struct mb_span inner[] = {{MB_INPUT, 0, 20}, {MB_INPUT, 2, 2}, {MB_INPUT, 7, 2}};
	const struct mb_span inner_want[] = {
	    {MB_INPUT, 0, 8}, {MB_INPUT, 7, 2}, {MB_INPUT, 8, 8}, {MB_INPUT, 16, 4}};
	expect_plan(inner, N_OF(inner), &lim, inner_want, N_OF(inner_want));

	/* The top of the address space. */
	const struct mb_span top[] = {{MB_HOLDING, 65530, 6}};
	const struct mb_span top_want[] = {{MB_HOLDING, 65530, 6}};
	expect_plan(top, N_OF(top), &std_lim, top_want, N_OF(top_want));
}

static void test_limit_bits(void **state)
{
	const struct mb_span in[] = {
	    {MB_COIL, 0, 1500},	    {MB_COIL, 1500, 500},  {MB_COIL, 2000, 1},
	    {MB_DISCRETE, 0, 2500}, {MB_HOLDING, 0, 1500},
	};
	struct mb_span want[4 + 12];
	size_t n = 0;

	(void)state;
	want[n++] = (struct mb_span){MB_COIL, 0, 2000};
	want[n++] = (struct mb_span){MB_COIL, 2000, 1};
	want[n++] = (struct mb_span){MB_DISCRETE, 0, 2000};
	want[n++] = (struct mb_span){MB_DISCRETE, 2000, 500};
	/* Registers keep their own limit: 1500 = 12 × 125. */
	for (unsigned k = 0; k < 12; k++)
		want[n++] = (struct mb_span){MB_HOLDING, (uint16_t)(k * 125), 125};
	expect_plan(in, N_OF(in), &std_lim, want, n);
}

static void test_unsorted(void **state)
{
	struct mb_plan_limits lim = std_lim;
	const struct mb_span in[] = {
	    {MB_INPUT, 40, 2}, {MB_INPUT, 3, 1},  {MB_INPUT, 0, 1}, {MB_INPUT, 41, 4},
	    {MB_INPUT, 1, 2},  {MB_INPUT, 20, 1}, {MB_INPUT, 4, 2},
	};
	const struct mb_span want[] = {{MB_INPUT, 0, 6}, {MB_INPUT, 20, 1}, {MB_INPUT, 40, 5}};

	(void)state;
	lim.max_gap = 5;
	expect_plan(in, N_OF(in), &lim, want, N_OF(want));
}

/* The facp-generic read set: points at input 0..7 (panel_time two registers wide),
 * zone_state at 100+z, the two discrete inputs. */
static size_t facp_spans(struct mb_span *s, unsigned zones)
{
	size_t n = 0;

	for (uint16_t a = 0; a <= 7; a++) {
		if (a == 5)
			continue;
		s[n++] = (struct mb_span){MB_INPUT, a, a == 4 ? 2 : 1};
	}
	for (unsigned z = 0; z < zones; z++)
		s[n++] = (struct mb_span){MB_INPUT, (uint16_t)(100 + z), 1};
	s[n++] = (struct mb_span){MB_DISCRETE, 0, 1};
	s[n++] = (struct mb_span){MB_DISCRETE, 1, 1};
	return n;
}

static void test_facp_generic(void **state)
{
	struct mb_span in[8 + 128 + 2];
	struct mb_plan_limits lim = std_lim;
	size_t n;

	(void)state;
	lim.max_gap = 16;
	n = facp_spans(in, 16);
	const struct mb_span want16[] = {
	    {MB_DISCRETE, 0, 2},
	    {MB_INPUT, 0, 8},
	    {MB_INPUT, 100, 16},
	};
	expect_plan(in, n, &lim, want16, N_OF(want16));

	/* 128 zones: 100..227 take two requests at the limit of 125. */
	n = facp_spans(in, 128);
	const struct mb_span want128[] = {
	    {MB_DISCRETE, 0, 2},
	    {MB_INPUT, 0, 8},
	    {MB_INPUT, 100, 125},
	    {MB_INPUT, 225, 3},
	};
	expect_plan(in, n, &lim, want128, N_OF(want128));

	/* Reading through the 92 unused registers saves a request when it fits. */
	lim.max_gap = 92;
	n = facp_spans(in, 16);
	const struct mb_span through[] = {
	    {MB_DISCRETE, 0, 2},
	    {MB_INPUT, 0, 116},
	};
	expect_plan(in, n, &lim, through, N_OF(through));
}

/* elc-generic: input 0..8 and 10..18 join across the unused register 9. */
static void test_elc_generic(void **state)
{
	struct mb_span in[32];
	struct mb_plan_limits lim = std_lim;
	size_t n = 0;

	(void)state;
	for (uint16_t a = 0; a <= 8; a++)
		in[n++] = (struct mb_span){MB_INPUT, a, 1};
	in[n++] = (struct mb_span){MB_INPUT, 10, 2};
	for (uint16_t a = 12; a <= 13; a++)
		in[n++] = (struct mb_span){MB_INPUT, a, 1};
	in[n++] = (struct mb_span){MB_INPUT, 14, 2};
	for (uint16_t a = 16; a <= 18; a++)
		in[n++] = (struct mb_span){MB_INPUT, a, 1};
	in[n++] = (struct mb_span){MB_COIL, 0, 3};

	const struct mb_span tight[] = {{MB_COIL, 0, 3}, {MB_INPUT, 0, 9}, {MB_INPUT, 10, 9}};
	expect_plan(in, n, &lim, tight, N_OF(tight));
	lim.max_gap = 1;
	const struct mb_span joined[] = {{MB_COIL, 0, 3}, {MB_INPUT, 0, 19}};
	expect_plan(in, n, &lim, joined, N_OF(joined));
}

/* Fewest requests for disjoint spans, by dynamic programming over the sorted spans. */
static size_t brute_min(const struct mb_span *s, size_t n, unsigned limit, unsigned gap)
{
	size_t best[64];

	best[0] = 0;
	for (size_t i = 1; i <= n; i++) {
		best[i] = SIZE_MAX;
		for (size_t j = i; j-- > 0;) {
			unsigned width = s[i - 1].address + s[i - 1].count - s[j].address;
			bool ok = width <= limit;

			for (size_t k = j + 1; k < i && ok; k++)
				if ((unsigned)(s[k].address - (s[k - 1].address + s[k - 1].count)) >
				    gap)
					ok = false;
			if (ok && best[j] + 1 < best[i])
				best[i] = best[j] + 1;
		}
	}
	return best[n];
}

static void test_optimal(void **state)
{
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 500; round++) {
		struct mb_span in[40], shuffled[40];
		struct mb_plan_limits lim = {
		    .max_regs = (uint16_t)(4 + rand_r(&seed) % 30),
		    .max_bits = 2000,
		    .max_gap = (uint16_t)(rand_r(&seed) % 6),
		};
		size_t n = 1 + (size_t)(rand_r(&seed) % 40);
		unsigned a = (unsigned)(rand_r(&seed) % 10);
		struct mb_span *out;
		size_t n_out;

		for (size_t i = 0; i < n; i++) {
			unsigned c = 1 + (unsigned)(rand_r(&seed) % 4);

			in[i] = (struct mb_span){MB_HOLDING, (uint16_t)a, (uint16_t)c};
			a += c + (unsigned)(rand_r(&seed) % 9);
		}
		for (size_t i = 0; i < n; i++)
			shuffled[i] = in[i];
		for (size_t i = n; i > 1; i--) {
			size_t j = (size_t)rand_r(&seed) % i;
			struct mb_span t = shuffled[i - 1];

			shuffled[i - 1] = shuffled[j];
			shuffled[j] = t;
		}
		assert_int_equal(mb_plan_build(shuffled, n, &lim, &out, &n_out), 0);
		check_plan(in, n, &lim, out, n_out);
		assert_int_equal(n_out, brute_min(in, n, lim.max_regs, lim.max_gap));
		free(out);
	}
}

static void test_invalid(void **state)
{
	const struct mb_span ok[] = {{MB_INPUT, 0, 1}};
	const struct mb_span zero[] = {{MB_INPUT, 0, 0}};
	const struct mb_span past[] = {{MB_INPUT, 65535, 2}};
	struct mb_plan_limits lim = std_lim;
	struct mb_span *out = (struct mb_span *)1;
	size_t n_out = 7;

	(void)state;
	assert_int_equal(mb_plan_build(zero, 1, &lim, &out, &n_out), -EINVAL);
	assert_int_equal(mb_plan_build(past, 1, &lim, &out, &n_out), -EINVAL);
	assert_int_equal(mb_plan_build(ok, 1, NULL, &out, &n_out), -EINVAL);
	assert_int_equal(mb_plan_build(ok, 1, &lim, NULL, &n_out), -EINVAL);
	assert_int_equal(mb_plan_build(NULL, 1, &lim, &out, &n_out), -EINVAL);
	lim.max_regs = 0;
	assert_int_equal(mb_plan_build(ok, 1, &lim, &out, &n_out), -EINVAL);
	lim.max_regs = 126;
	assert_int_equal(mb_plan_build(ok, 1, &lim, &out, &n_out), -EINVAL);
	lim = std_lim;
	lim.max_bits = 2001;
	assert_int_equal(mb_plan_build(ok, 1, &lim, &out, &n_out), -EINVAL);

	/* Nothing to read: no requests. */
	assert_int_equal(mb_plan_build(NULL, 0, &std_lim, &out, &n_out), 0);
	assert_null(out);
	assert_int_equal(n_out, 0);
}

static void test_split(void **state)
{
	const struct mb_span req = {MB_INPUT, 100, 125};
	const struct mb_span two = {MB_COIL, 7, 2};
	const struct mb_span one = {MB_HOLDING, 3, 1};
	struct mb_span out[2];

	(void)state;
	assert_int_equal(mb_plan_split(&req, out), 0);
	assert_int_equal(out[0].table, MB_INPUT);
	assert_int_equal(out[0].address, 100);
	assert_int_equal(out[0].count, 63);
	assert_int_equal(out[1].table, MB_INPUT);
	assert_int_equal(out[1].address, 163);
	assert_int_equal(out[1].count, 62);

	assert_int_equal(mb_plan_split(&two, out), 0);
	assert_int_equal(out[0].table, MB_COIL);
	assert_int_equal(out[0].address, 7);
	assert_int_equal(out[0].count, 1);
	assert_int_equal(out[1].address, 8);
	assert_int_equal(out[1].count, 1);

	assert_int_equal(mb_plan_split(&one, out), -EINVAL);

	/* Re-planning with the halves of a refused request keeps them apart. */
	const struct mb_span halves[] = {{MB_INPUT, 100, 63}, {MB_INPUT, 163, 62}};
	struct mb_span *plan;
	size_t n_plan;
	struct mb_plan_limits lim = std_lim;
	lim.max_regs = 63;
	assert_int_equal(mb_plan_build(halves, 2, &lim, &plan, &n_plan), 0);
	assert_int_equal(n_plan, 2);
	free(plan);
}

/* Addresses the device forbids are never read through, even within max_gap. */
static void test_avoid(void **state)
{
	(void)state;
	const struct mb_span spans[] = {{MB_INPUT, 0, 2}, {MB_INPUT, 6, 2}, {MB_INPUT, 10, 2}};
	const struct mb_span avoid[] = {{MB_INPUT, 8, 1}, {MB_HOLDING, 3, 1}};
	struct mb_plan_limits lim = {
	    .max_regs = 125, .max_bits = 2000, .max_gap = 10, .avoid = avoid, .n_avoid = 2};
	struct mb_span *out = NULL;
	size_t n = 0;

	assert_int_equal(mb_plan_build(spans, 3, &lim, &out, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].address, 0);
	assert_int_equal(out[0].count, 8); /* 0..7 read through 2..5: allowed */
	assert_int_equal(out[1].address, 10);
	assert_int_equal(out[1].count, 2); /* not merged across the forbidden 8 */
	free(out);
	/* Without the forbidden range everything is one request. */
	lim.n_avoid = 0;
	assert_int_equal(mb_plan_build(spans, 3, &lim, &out, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].count, 12);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_avoid),	    cmocka_unit_test(test_adjacent),
	    cmocka_unit_test(test_overlapping),	    cmocka_unit_test(test_gaps),
	    cmocka_unit_test(test_tables_separate), cmocka_unit_test(test_limit_regs),
	    cmocka_unit_test(test_limit_bits),	    cmocka_unit_test(test_unsorted),
	    cmocka_unit_test(test_facp_generic),    cmocka_unit_test(test_elc_generic),
	    cmocka_unit_test(test_optimal),	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

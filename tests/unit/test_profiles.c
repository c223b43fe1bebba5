/* Every shipped profile loads, and the vendor-style maps land where their manuals say:
 * layouts (devices/layout.c) and decoding of synthetic register images. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/decode.h"
#include "devices/layout.h"
#include "devices/plan.h"
#include "core/config.h"

static struct profile *load(const char *name)
{
	char path[512];
	struct cfg_errors errs = {0};
	struct profile *p = NULL;
	const char *src = getenv("HW_SRC");

	snprintf(path, sizeof(path), "%s/etc/profiles/%s.cfg", src ? src : ".", name);
	int rc = profile_load(path, &p, &errs);
	for (size_t i = 0; i < errs.n; i++)
		print_message("%s\n", errs.msgs[i]);
	cfg_errors_clear(&errs);
	assert_int_equal(rc, 0);
	assert_non_null(p);
	return p;
}

/* Layout with every block at its largest count. */
static struct mb_lpoint *layout(const struct profile *p, int base, size_t *n)
{
	int counts[16] = {0};
	struct mb_lpoint *v = NULL;

	assert_true(p->n_blocks <= 16);
	for (size_t b = 0; b < p->n_blocks; b++)
		counts[b] = p->blocks[b].max_count;
	assert_int_equal(mb_layout_build(p, counts, base, &v, n), 0);
	return v;
}

static const struct mb_lpoint *find(const struct profile *p, const struct mb_lpoint *v, size_t n,
				    const char *block, int inst, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		const char *bn = v[i].block == MB_TOP_LEVEL ? NULL : p->blocks[v[i].block].name;
		if (strcmp(v[i].def->name, name) != 0 || v[i].instance != inst)
			continue;
		if ((!block && !bn) || (block && bn && strcmp(block, bn) == 0))
			return &v[i];
	}
	fail_msg("no point %s[%d].%s", block ? block : "", inst, name);
	return NULL;
}

/* Decodes lp from a full register image, as the bus worker does. */
static struct hw_value decode(const struct mb_lpoint *lp, const uint16_t *image)
{
	struct prof_point tmp = *lp->def;
	struct hw_value v;
	tmp.bit = lp->bit;
	assert_int_equal(mb_decode_regs(&tmp, image + lp->address, &v), 0);
	return v;
}

static void test_all_shipped_load(void **state)
{
	(void)state;
	static const char *const names[] = {"facp-generic", "elc-generic", "vendor-pointword",
					    "vendor-bittable", "vendor-elgear"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		profile_free(load(names[i]));
}

static void test_pointword(void **state)
{
	(void)state;
	struct profile *p = load("vendor-pointword");
	size_t n;
	struct mb_lpoint *v = layout(p, 0, &n);
	uint16_t *img = calloc(65536, sizeof(uint16_t));

	const struct mb_lpoint *ev = find(p, v, n, "point", 7, "event");
	const struct mb_lpoint *act = find(p, v, n, "point", 7, "active");
	const struct mb_lpoint *trb = find(p, v, n, "point", 7, "trouble");
	assert_int_equal(ev->address, 1007);
	img[1007] = 0x0810; /* active, event 0x10: a fire */
	struct hw_value e = decode(ev, img), a = decode(act, img), t = decode(trb, img);
	assert_int_equal(e.type, HW_V_INT);
	assert_int_equal(e.i, 0x10);
	assert_string_equal(e.label, "fire");
	assert_true(a.type == HW_V_BOOL && a.b);
	assert_true(t.type == HW_V_BOOL && !t.b);
	img[1007] = 0x20FF; /* trouble, point not present */
	e = decode(ev, img);
	assert_string_equal(e.label, "not_present");
	assert_true(decode(trb, img).b);
	free(img);
	free(v);
	profile_free(p);
}

static void test_bittable(void **state)
{
	(void)state;
	struct profile *p = load("vendor-bittable");
	size_t n;
	struct mb_lpoint *v = layout(p, 0, &n);
	uint16_t *img = calloc(65536, sizeof(uint16_t));

	/* One bit per zone: zone 17 is bit 1 of 21001. */
	const struct mb_lpoint *z17 = find(p, v, n, "zone_alarm", 17, "fire");
	assert_int_equal(z17->address, 21001);
	assert_int_equal(z17->bit, 1);
	/* Four bits per zone: zone 5 is the second nibble of 23001. */
	const struct mb_lpoint *f5 = find(p, v, n, "zone", 5, "fire");
	const struct mb_lpoint *s5 = find(p, v, n, "zone", 5, "supervisory");
	assert_int_equal(f5->address, 23001);
	assert_int_equal(f5->bit, 4);
	assert_int_equal(s5->bit, 7);
	img[21001] = 1u << 1;
	img[23001] = 1u << 7;
	assert_true(decode(z17, img).b);
	assert_false(decode(find(p, v, n, "zone_alarm", 16, "fire"), img).b);
	assert_true(decode(s5, img).b);
	assert_false(decode(f5, img).b);
	/* 256 zones of one bit fill 16 registers; the last zone is bit 15 of 21015. */
	const struct mb_lpoint *last = find(p, v, n, "zone_alarm", 255, "fire");
	assert_int_equal(last->address, 21015);
	assert_int_equal(last->bit, 15);
	/* The heartbeat and change counter carry their roles. */
	assert_int_equal(find(p, v, n, NULL, 0, "heartbeat")->def->role, PR_LIFE_CHECK);
	assert_int_equal(find(p, v, n, NULL, 0, "change_counter")->def->role, PR_CHANGE_COUNTER);
	assert_non_null(profile_find_command(p, "reset"));
	assert_int_equal(profile_find_command(p, "reset")->value, 14);
	free(img);
	free(v);
	profile_free(p);
}

static void test_elgear(void **state)
{
	(void)state;
	struct profile *p = load("vendor-elgear");
	size_t n;
	struct mb_lpoint *v = layout(p, 0, &n);

	/* 7000 x channel + 100 x address: +42 failures, +46/+47 hours to the tests. */
	assert_int_equal(find(p, v, n, "ch1", 0, "failure")->address, 7042);
	assert_int_equal(find(p, v, n, "ch1", 63, "hours_to_duration_test")->address, 13347);
	assert_int_equal(find(p, v, n, "ch2", 3, "lamp_failure")->address, 14342);
	assert_int_equal(find(p, v, n, "ch2", 3, "lamp_failure")->bit, 3);
	assert_int_equal(find(p, v, n, "ch2", 3, "hours_to_function_test")->address, 14346);
	free(v);
	profile_free(p);
}

static void test_one_based(void **state)
{
	(void)state;
	struct profile *p = load("facp-generic");
	size_t n0, n1;
	struct mb_lpoint *v0 = layout(p, 0, &n0), *v1 = layout(p, 1, &n1);

	assert_int_equal(n0, n1);
	/* The same profile read with address_base 1: every address one lower on the wire,
	 * and the point at 0 cannot be addressed at all. */
	for (size_t i = 0; i < n0; i++) {
		if (v0[i].address == 0) {
			assert_true(v1[i].unreadable);
			continue;
		}
		assert_false(v1[i].unreadable);
		assert_int_equal(v1[i].address, v0[i].address - 1);
	}
	free(v0);
	free(v1);
	profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_all_shipped_load), cmocka_unit_test(test_pointword),
	    cmocka_unit_test(test_bittable),	     cmocka_unit_test(test_elgear),
	    cmocka_unit_test(test_one_based),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

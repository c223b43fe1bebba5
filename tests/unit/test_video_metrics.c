/* Unit tests of the video image metrics and detectors on synthetic grey images: black, flat
 * grey, noise, a sharp checkerboard against its box blur, a shifted scene, identical frames,
 * and the detector state machine driven by an injected clock. Single thread. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "video/metrics.h"

#define W 160
#define H 90

static uint8_t img_a[W * H], img_b[W * H];

static struct vm_image mk(const uint8_t *px)
{
	return (struct vm_image){px, W, H, W};
}

static void fill(uint8_t *px, uint8_t v)
{
	memset(px, v, W * H);
}

static uint32_t rng = 12345;
static unsigned rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 16) & 0x7fff;
}

/* A textured scene: 8-pixel checkerboard of 60/190 with a gradient, plus noise of +-n. */
static void scene(uint8_t *px, int shift, int noise)
{
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			int xs = x + shift;
			int v = (((xs / 8) + (y / 8)) & 1) ? 190 : 60;
			v += (xs % W) * 40 / W - 20;
			if (noise)
				v += (int)(rnd() % (2 * noise + 1)) - noise;
			px[y * W + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
}

/* A different scene: large bright and dark halves swapped against scene(). */
static void scene2(uint8_t *px)
{
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			px[y * W + x] = (uint8_t)((((x / 8) + (y / 8)) & 1) ? 20 : 240);
}

static void box_blur(uint8_t *dst, const uint8_t *src, int r)
{
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			int s = 0, n = 0;
			for (int dy = -r; dy <= r; dy++)
				for (int dx = -r; dx <= r; dx++) {
					int yy = y + dy, xx = x + dx;
					if (yy < 0 || yy >= H || xx < 0 || xx >= W)
						continue;
					s += src[yy * W + xx];
					n++;
				}
			dst[y * W + x] = (uint8_t)(s / n);
		}
}

static void test_black(void **st)
{
	struct vm_stats s;
	struct vm_image im = mk(img_a);

	(void)st;
	fill(img_a, 16);
	assert_int_equal(vm_stats_compute(&im, 25, &s), 0);
	assert_true(s.mean > 15.9 && s.mean < 16.1);
	assert_true(s.stddev < 0.001);
	assert_true(s.dark_frac > 0.999);
	assert_true(s.max_bin_frac > 0.999);
	assert_true(s.lap_var < 0.001);
}

static void test_flat_grey_and_noise(void **st)
{
	struct vm_stats s;
	struct vm_image im = mk(img_a);

	(void)st;
	fill(img_a, 128);
	assert_int_equal(vm_stats_compute(&im, 25, &s), 0);
	assert_true(s.dark_frac < 0.001);
	assert_true(s.stddev < 0.001);
	for (int i = 0; i < W * H; i++)
		img_a[i] = (uint8_t)(rnd() & 0xff);
	assert_int_equal(vm_stats_compute(&im, 25, &s), 0);
	assert_true(s.mean > 120 && s.mean < 135);
	assert_true(s.stddev > 60);
	assert_true(s.dark_frac > 0.07 && s.dark_frac < 0.13);
	assert_true(s.max_bin_frac < 0.2);
}

static void test_sharp_vs_blurred(void **st)
{
	struct vm_stats sharp, blur;
	struct vm_image a = mk(img_a), b = mk(img_b);

	(void)st;
	scene(img_a, 0, 0);
	box_blur(img_b, img_a, 2);
	assert_int_equal(vm_stats_compute(&a, 25, &sharp), 0);
	assert_int_equal(vm_stats_compute(&b, 25, &blur), 0);
	assert_true(blur.lap_var < 0.2 * sharp.lap_var);
	/* Blurring keeps the picture's contrast and brightness. */
	assert_true(blur.stddev > 0.6 * sharp.stddev);
	assert_true(blur.mean > sharp.mean - 2 && blur.mean < sharp.mean + 2);
}

static void test_mad(void **st)
{
	struct vm_image a = mk(img_a), b = mk(img_b), small = {img_b, W / 2, H, W};

	(void)st;
	scene(img_a, 0, 0);
	memcpy(img_b, img_a, sizeof(img_a));
	assert_true(vm_mad(&a, &b, 1) == 0.0);
	img_b[0] = (uint8_t)(img_b[0] + 100);
	assert_true(vm_mad(&a, &b, 1) > 0.0);
	/* Noise of +-3 is clearly above the frozen threshold (0.255). */
	scene(img_a, 0, 3);
	scene(img_b, 0, 3);
	assert_true(vm_mad(&a, &b, 1) > 1.0);
	assert_true(vm_mad(&a, &b, 2) > 1.0);
	assert_true(vm_mad(&a, &small, 1) < 0);
	assert_true(vm_mad(&a, &b, 0) < 0);
}

/* Point sampling of a large luma plane: from a planar plane with padded rows and from the
 * interleaved luma of a packed picture, each output pixel is the source pixel at the centre
 * of its cell, and a source smaller than the output is refused. */
static void test_sample(void **st)
{
	enum { SW = 1920, SH = 1080, PAD = 64 };
	uint8_t *plane = malloc((size_t)(SW + PAD) * SH), *packed = malloc((size_t)SW * 2 * SH);
	struct vm_image src = {plane, SW, SH, SW + PAD}, out = mk(img_a);
	struct vm_image psrc = {packed, SW, SH, SW * 2}, tiny = {plane, W - 1, H, SW + PAD};

	(void)st;
	assert_non_null(plane);
	assert_non_null(packed);
	/* Each source pixel holds its column / 12 + row / 12 (mod 256): one value per cell. */
	for (int y = 0; y < SH; y++)
		for (int x = 0; x < SW; x++) {
			uint8_t v = (uint8_t)(x / 12 + 7 * (y / 12));

			plane[(size_t)y * (SW + PAD) + x] = v;
			packed[(size_t)y * SW * 2 + 2 * x] = v;
			packed[(size_t)y * SW * 2 + 2 * x + 1] = 128; /* chroma, never read */
		}
	assert_int_equal(vm_sample(&src, 1, &out), 0);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			assert_int_equal(img_a[y * W + x], (uint8_t)(x + 7 * y));
	fill(img_a, 0);
	assert_int_equal(vm_sample(&psrc, 2, &out), 0);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			assert_int_equal(img_a[y * W + x], (uint8_t)(x + 7 * y));
	assert_int_equal(vm_sample(&tiny, 1, &out), -EINVAL);
	/* A pixel stride that runs past the row. */
	assert_int_equal(vm_sample(&src, 2, &out), -EINVAL);
	free(plane);
	free(packed);
}

static void test_reference(void **st)
{
	struct vm_ref r = {0};
	struct vm_image a = mk(img_a), b = mk(img_b);

	(void)st;
	scene(img_a, 0, 2);
	assert_true(vm_ref_changed(&r, &a, 30) < 0);
	assert_int_equal(vm_ref_reset(&r, &a, 8, 6), 0);
	scene(img_b, 0, 2);
	assert_true(vm_ref_changed(&r, &b, 30) < 0.01);
	/* A small shift keeps cell means close: a live scene is not a moved camera. */
	scene(img_b, 3, 2);
	assert_true(vm_ref_changed(&r, &b, 30) < 0.2);
	scene2(img_b);
	assert_true(vm_ref_changed(&r, &b, 30) >= 0.0);
	fill(img_b, 250);
	assert_true(vm_ref_changed(&r, &b, 30) > 0.95);
	/* The reference follows slowly: one update at alpha 0.01 is not enough. */
	vm_ref_update(&r, &b, 0.01);
	assert_true(vm_ref_changed(&r, &b, 30) > 0.95);
	for (int i = 0; i < 400; i++)
		vm_ref_update(&r, &b, 0.01);
	assert_true(vm_ref_changed(&r, &b, 30) < 0.01);
	assert_int_equal(vm_ref_reset(&r, &a, 100, 100), -22);
}

static void test_vdet_durations_hysteresis_cooldown(void **st)
{
	struct vdet d;

	(void)st;
	vdet_init(&d, 2000, 1000, 5000);
	assert_false(vdet_feed(&d, VD_ON, 0));
	assert_false(vdet_feed(&d, VD_ON, 1999));
	/* An off sample restarts the on timer. */
	assert_false(vdet_feed(&d, VD_OFF, 2000));
	assert_false(vdet_feed(&d, VD_ON, 3000));
	/* Hold neither restarts nor advances a decision. */
	assert_false(vdet_feed(&d, VD_HOLD, 4000));
	assert_true(vdet_feed(&d, VD_ON, 5000));
	assert_true(d.active);
	assert_int_equal(d.since, 5000);
	/* Needs off for 1000 ms; a hold in between does not clear. */
	assert_false(vdet_feed(&d, VD_OFF, 6000));
	assert_false(vdet_feed(&d, VD_HOLD, 6500));
	assert_false(vdet_feed(&d, VD_ON, 6900));
	assert_false(vdet_feed(&d, VD_OFF, 7000));
	assert_true(vdet_feed(&d, VD_OFF, 8000));
	assert_false(d.active);
	/* Cool-down: on again at once is not raised before 13000. */
	assert_false(vdet_feed(&d, VD_ON, 8100));
	assert_false(vdet_feed(&d, VD_ON, 12999));
	assert_true(vdet_feed(&d, VD_ON, 13000));
	assert_true(vdet_reset(&d, 14000));
	assert_false(d.active);
	assert_false(vdet_reset(&d, 14001));
}

static void test_thresholds(void **st)
{
	(void)st;
	assert_int_equal(vd_above(0.99, 0.98, 0.9), VD_ON);
	assert_int_equal(vd_above(0.95, 0.98, 0.9), VD_HOLD);
	assert_int_equal(vd_above(0.5, 0.98, 0.9), VD_OFF);
	assert_int_equal(vd_below(0.1, 0.255, 1.0), VD_ON);
	assert_int_equal(vd_below(0.5, 0.255, 1.0), VD_HOLD);
	assert_int_equal(vd_below(2.0, 0.255, 1.0), VD_OFF);
}

/* Runs the analysis over n frames 1 s apart produced by gen, from time *t. */
static unsigned run(struct va_state *s, void (*gen)(uint8_t *), int n, int64_t *t)
{
	unsigned changed = 0;
	struct vm_image im = mk(img_a);

	for (int i = 0; i < n; i++) {
		gen(img_a);
		assert_int_equal(va_feed(s, &im, *t, &changed), 0);
		*t += 1000;
	}
	return changed;
}

static void gen_live(uint8_t *px)
{
	scene(px, (int)(rnd() % 3), 3);
}
static void gen_black(uint8_t *px)
{
	fill(px, 16);
}
static void gen_frozen(uint8_t *px)
{
	scene(px, 0, 0);
}
static void gen_blur(uint8_t *px)
{
	static uint8_t tmp[W * H];
	scene(tmp, (int)(rnd() % 3), 3);
	box_blur(px, tmp, 2);
}
static void gen_moved(uint8_t *px)
{
	scene2(px);
	for (int i = 0; i < W * H; i++)
		px[i] = (uint8_t)(255 - px[i] / 2 + (int)(rnd() % 5));
}
static void gen_covered(uint8_t *px)
{
	for (int i = 0; i < W * H; i++)
		px[i] = (uint8_t)(30 + (int)(rnd() % 5));
}

static void test_analysis(void **st)
{
	struct va_params p;
	struct va_state *s = calloc(1, sizeof(*s));
	int64_t t = 1000;
	unsigned ch;

	(void)st;
	va_params_default(&p);
	p.defocus_ms = 3000;
	p.cooldown_ms = 0;
	va_init(s, &p);
	/* A live scene raises nothing. */
	assert_int_equal(run(s, gen_live, 10, &t), 0);

	ch = run(s, gen_black, 4, &t);
	assert_true(ch & (1u << VA_DARK));
	assert_true(s->det[VA_DARK].active);
	assert_false(s->det[VA_COVERED].active);
	assert_false(s->det[VA_FROZEN].active);
	ch = run(s, gen_live, 4, &t);
	assert_true(ch & (1u << VA_DARK));
	assert_false(s->det[VA_DARK].active);

	run(s, gen_frozen, 4, &t);
	assert_true(s->det[VA_FROZEN].active);
	run(s, gen_live, 4, &t);
	assert_false(s->det[VA_FROZEN].active);

	run(s, gen_blur, 5, &t);
	assert_true(s->det[VA_DEFOCUS].active);
	assert_false(s->det[VA_MOVED].active);
	run(s, gen_live, 4, &t);
	assert_false(s->det[VA_DEFOCUS].active);

	run(s, gen_covered, 7, &t);
	assert_true(s->det[VA_COVERED].active);
	assert_false(s->det[VA_DARK].active);
	run(s, gen_live, 4, &t);
	assert_false(s->det[VA_COVERED].active);

	run(s, gen_moved, 9, &t);
	assert_false(s->det[VA_MOVED].active);
	run(s, gen_moved, 3, &t);
	assert_true(s->det[VA_MOVED].active);
	/* The reference does not adapt to the moved scene. */
	run(s, gen_moved, 30, &t);
	assert_true(s->det[VA_MOVED].active);
	run(s, gen_live, 4, &t);
	assert_false(s->det[VA_MOVED].active);

	ch = 0;
	run(s, gen_black, 4, &t);
	va_reset(s, t, &ch);
	assert_true(ch & (1u << VA_DARK));
	assert_false(s->det[VA_DARK].active);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_black),
	    cmocka_unit_test(test_flat_grey_and_noise),
	    cmocka_unit_test(test_sharp_vs_blurred),
	    cmocka_unit_test(test_mad),
	    cmocka_unit_test(test_sample),
	    cmocka_unit_test(test_reference),
	    cmocka_unit_test(test_vdet_durations_hysteresis_cooldown),
	    cmocka_unit_test(test_thresholds),
	    cmocka_unit_test(test_analysis),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

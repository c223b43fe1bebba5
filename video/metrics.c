/* Image metrics (luma, contrast, darkness, sharpness, frame difference, scene reference) and
 * the detector state machine with time and value hysteresis and cool-down. Pure functions
 * on caller-owned data; any thread. */
#include "video/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static inline const uint8_t *row(const struct vm_image *img, int y)
{
	return img->px + (size_t)y * (size_t)img->stride;
}

static bool img_ok(const struct vm_image *img)
{
	return img && img->px && img->w > 0 && img->h > 0 && img->stride >= img->w;
}

int vm_stats_compute(const struct vm_image *img, int dark_level, struct vm_stats *out)
{
	uint64_t hist[16] = {0}, sum = 0, sum2 = 0, dark = 0, maxb = 0;
	double lsum = 0, lsum2 = 0, n;
	uint64_t ln = 0;

	if (!img_ok(img) || !out)
		return -EINVAL;
	for (int y = 0; y < img->h; y++) {
		const uint8_t *r = row(img, y);

		for (int x = 0; x < img->w; x++) {
			unsigned v = r[x];

			sum += v;
			sum2 += (uint64_t)v * v;
			hist[v >> 4]++;
			if ((int)v <= dark_level)
				dark++;
		}
	}
	/* Windows of two adjacent bins, so that a flat picture on a bin edge still counts. */
	for (int i = 0; i < 15; i++)
		if (hist[i] + hist[i + 1] > maxb)
			maxb = hist[i] + hist[i + 1];
	n = (double)img->w * img->h;
	out->mean = (double)sum / n;
	out->stddev = sqrt(fmax(0.0, (double)sum2 / n - out->mean * out->mean));
	out->dark_frac = (double)dark / n;
	out->max_bin_frac = (double)maxb / n;
	/* Laplacian on the interior: 4*c - up - down - left - right. */
	for (int y = 1; y + 1 < img->h; y++) {
		const uint8_t *u = row(img, y - 1), *c = row(img, y), *d = row(img, y + 1);

		for (int x = 1; x + 1 < img->w; x++) {
			double l = 4.0 * c[x] - u[x] - d[x] - c[x - 1] - c[x + 1];

			lsum += l;
			lsum2 += l * l;
			ln++;
		}
	}
	if (ln) {
		double m = lsum / (double)ln;

		out->lap_var = fmax(0.0, lsum2 / (double)ln - m * m);
	} else {
		out->lap_var = 0;
	}
	return 0;
}

int vm_sample(const struct vm_image *src, int pstride, struct vm_image *out)
{
	uint8_t *o = (uint8_t *)out->px;

	if (!img_ok(src) || !img_ok(out) || pstride < 1 || out->w > src->w || out->h > src->h ||
	    (int64_t)(src->w - 1) * pstride >= (int64_t)src->stride)
		return -EINVAL;
	for (int y = 0; y < out->h; y++) {
		/* Centre of the cell: (2y + 1) / 2 output rows scaled to the source. */
		const uint8_t *r = row(src, (int)((2 * (int64_t)y + 1) * src->h / (2 * out->h)));

		for (int x = 0; x < out->w; x++)
			o[(size_t)y * out->stride + x] =
			    r[(size_t)((2 * (int64_t)x + 1) * src->w / (2 * out->w)) * pstride];
	}
	return 0;
}

double vm_mad(const struct vm_image *a, const struct vm_image *b, int step)
{
	uint64_t sum = 0, n = 0;

	if (!img_ok(a) || !img_ok(b) || a->w != b->w || a->h != b->h || step < 1)
		return -1.0;
	for (int y = 0; y < a->h; y += step) {
		const uint8_t *ra = row(a, y), *rb = row(b, y);

		for (int x = 0; x < a->w; x += step) {
			sum += (uint64_t)abs((int)ra[x] - (int)rb[x]);
			n++;
		}
	}
	return n ? (double)sum / (double)n : -1.0;
}

int vm_cells(const struct vm_image *img, int cols, int rows, double *out)
{
	if (!img_ok(img) || cols < 1 || rows < 1 || cols * rows > VM_REF_MAX_CELLS ||
	    cols > img->w || rows > img->h)
		return -EINVAL;
	for (int cy = 0; cy < rows; cy++) {
		int y0 = cy * img->h / rows, y1 = (cy + 1) * img->h / rows;

		for (int cx = 0; cx < cols; cx++) {
			int x0 = cx * img->w / cols, x1 = (cx + 1) * img->w / cols;
			uint64_t s = 0;

			for (int y = y0; y < y1; y++) {
				const uint8_t *r = row(img, y);

				for (int x = x0; x < x1; x++)
					s += r[x];
			}
			out[cy * cols + cx] = (double)s / ((double)(y1 - y0) * (x1 - x0));
		}
	}
	return 0;
}

int vm_ref_reset(struct vm_ref *r, const struct vm_image *img, int cols, int rows)
{
	int rc = vm_cells(img, cols, rows, r->cell);

	r->valid = rc == 0;
	r->cols = cols;
	r->rows = rows;
	return rc;
}

double vm_ref_changed(const struct vm_ref *r, const struct vm_image *img, double diff)
{
	double cur[VM_REF_MAX_CELLS];
	int n = 0, n_cells;

	if (!r->valid || vm_cells(img, r->cols, r->rows, cur) < 0)
		return -1.0;
	n_cells = r->cols * r->rows;
	for (int i = 0; i < n_cells; i++)
		if (fabs(cur[i] - r->cell[i]) > diff)
			n++;
	return (double)n / n_cells;
}

void vm_ref_update(struct vm_ref *r, const struct vm_image *img, double alpha)
{
	double cur[VM_REF_MAX_CELLS];

	if (!r->valid) {
		vm_ref_reset(r, img, r->cols > 0 ? r->cols : 8, r->rows > 0 ? r->rows : 6);
		return;
	}
	if (vm_cells(img, r->cols, r->rows, cur) < 0)
		return;
	for (int i = 0; i < r->cols * r->rows; i++)
		r->cell[i] += alpha * (cur[i] - r->cell[i]);
}

void vdet_init(struct vdet *d, int on_ms, int off_ms, int cooldown_ms)
{
	memset(d, 0, sizeof(*d));
	d->on_ms = on_ms;
	d->off_ms = off_ms;
	d->cooldown_ms = cooldown_ms;
	d->on_since = -1;
	d->off_since = -1;
}

bool vdet_feed(struct vdet *d, enum vd_input in, int64_t now)
{
	switch (in) {
	case VD_ON:
		d->off_since = -1;
		if (d->active)
			return false;
		if (d->on_since < 0)
			d->on_since = now;
		if (now < d->cooldown_until)
			return false;
		if (now - d->on_since >= d->on_ms) {
			d->active = true;
			d->since = now;
			d->on_since = -1;
			return true;
		}
		return false;
	case VD_OFF:
		d->on_since = -1;
		if (!d->active)
			return false;
		if (d->off_since < 0)
			d->off_since = now;
		if (now - d->off_since >= d->off_ms) {
			d->active = false;
			d->since = now;
			d->off_since = -1;
			d->cooldown_until = now + d->cooldown_ms;
			return true;
		}
		return false;
	case VD_HOLD:
		break;
	}
	return false;
}

bool vdet_reset(struct vdet *d, int64_t now)
{
	bool was = d->active;

	d->on_since = -1;
	d->off_since = -1;
	if (was) {
		d->active = false;
		d->since = now;
	}
	return was;
}

enum vd_input vd_above(double v, double on, double off)
{
	if (v >= on)
		return VD_ON;
	if (v < off)
		return VD_OFF;
	return VD_HOLD;
}

enum vd_input vd_below(double v, double on, double off)
{
	if (v <= on)
		return VD_ON;
	if (v > off)
		return VD_OFF;
	return VD_HOLD;
}

void va_params_default(struct va_params *p)
{
	*p = (struct va_params){
	    .dark_level = 25,
	    .black_frac = 0.98,
	    .black_frac_off = 0.90,
	    .black_ms = 2000,
	    .covered_dark_frac = 0.75,
	    .covered_mean = 40,
	    .covered_bin_frac = 0.90,
	    .covered_stddev = 10,
	    .covered_ms = 5000,
	    .defocus_ratio = 0.4,
	    .defocus_off_ratio = 0.6,
	    .defocus_ms = 30000,
	    .baseline_frames = 5,
	    .frozen_mad = 0.255,
	    .frozen_off_mad = 1.0,
	    .frozen_ms = 2000,
	    .moved_diff = 30,
	    .moved_frac = 0.8,
	    .moved_off_frac = 0.5,
	    .moved_ms = 10000,
	    .ref_alpha = 0.01,
	    .clear_ms = 2000,
	    .cooldown_ms = 10000,
	};
}

void va_init(struct va_state *s, const struct va_params *p)
{
	const int on[VA_N] = {p->black_ms, p->covered_ms, p->defocus_ms, p->frozen_ms, p->moved_ms};

	memset(s, 0, sizeof(*s));
	s->p = *p;
	for (int i = 0; i < VA_N; i++)
		vdet_init(&s->det[i], on[i], p->clear_ms, p->cooldown_ms);
	s->ref.cols = 8;
	s->ref.rows = 6;
	s->last_mad = -1;
	s->last_moved = -1;
}

const char *va_cond_name(enum va_cond c)
{
	static const char *const names[VA_N] = {"dark", "covered", "defocus", "frozen", "moved"};

	return (unsigned)c < VA_N ? names[c] : "?";
}

static void feed(struct va_state *s, enum va_cond c, enum vd_input in, int64_t now,
		 unsigned *changed)
{
	if (vdet_feed(&s->det[c], in, now))
		*changed |= 1u << c;
}

int va_feed(struct va_state *s, const struct vm_image *img, int64_t now, unsigned *changed)
{
	const struct va_params *p = &s->p;
	struct vm_stats st;
	enum vd_input black, covered, defocus = VD_HOLD, frozen = VD_HOLD, moved = VD_HOLD;
	bool flat, usable;

	if (!img_ok(img) || (size_t)img->w * (size_t)img->h > VA_MAX_PIXELS ||
	    vm_stats_compute(img, p->dark_level, &st) < 0)
		return -EINVAL;
	s->frames++;
	s->last = st;
	black = vd_above(st.dark_frac, p->black_frac, p->black_frac_off);
	flat = (st.dark_frac >= p->covered_dark_frac && st.mean < p->covered_mean) ||
	       (st.max_bin_frac >= p->covered_bin_frac && st.stddev < p->covered_stddev);
	covered = black == VD_ON ? VD_OFF : flat ? VD_ON : VD_OFF;
	if (black != VD_OFF && covered == VD_OFF && s->det[VA_COVERED].active)
		covered = VD_HOLD;
	/* A dark or featureless picture says nothing about focus, motion or the scene. */
	usable = black == VD_OFF && !flat;

	/* Frozen: compared with the previous frame, point sampled. */
	if (s->has_prev && s->prev_w == img->w && s->prev_h == img->h) {
		struct vm_image prev = {s->prev, s->prev_w, s->prev_h, s->prev_w};

		s->last_mad = vm_mad(img, &prev, 1);
		frozen = usable ? vd_below(s->last_mad, p->frozen_mad, p->frozen_off_mad) : VD_OFF;
	} else {
		s->last_mad = -1;
	}
	for (int y = 0; y < img->h; y++)
		memcpy(s->prev + (size_t)y * img->w, img->px + (size_t)y * img->stride,
		       (size_t)img->w);
	s->prev_w = img->w;
	s->prev_h = img->h;
	s->has_prev = true;

	if (usable) {
		/* Defocus: against the camera's own baseline of sharp frames. */
		if (s->base_n < p->baseline_frames) {
			s->lap_base = (s->lap_base * s->base_n + st.lap_var) / (s->base_n + 1);
			s->base_n++;
		} else {
			defocus = vd_below(st.lap_var, p->defocus_ratio * s->lap_base,
					   p->defocus_off_ratio * s->lap_base);
			if (defocus == VD_OFF && !s->det[VA_DEFOCUS].active)
				s->lap_base += 0.02 * (st.lap_var - s->lap_base);
		}
		/* Moved: cells against a slowly updated reference, frozen while they differ. */
		if (!s->ref.valid) {
			vm_ref_reset(&s->ref, img, s->ref.cols, s->ref.rows);
			s->last_moved = 0;
			moved = VD_OFF;
		} else {
			s->last_moved = vm_ref_changed(&s->ref, img, p->moved_diff);
			moved = vd_above(s->last_moved, p->moved_frac, p->moved_off_frac);
			if (moved == VD_OFF && !s->det[VA_MOVED].active)
				vm_ref_update(&s->ref, img, p->ref_alpha);
		}
	}
	feed(s, VA_DARK, black, now, changed);
	feed(s, VA_COVERED, covered, now, changed);
	feed(s, VA_DEFOCUS, defocus, now, changed);
	feed(s, VA_FROZEN, frozen, now, changed);
	feed(s, VA_MOVED, moved, now, changed);
	return 0;
}

void va_reset(struct va_state *s, int64_t now, unsigned *changed)
{
	for (int i = 0; i < VA_N; i++)
		if (vdet_reset(&s->det[i], now))
			*changed |= 1u << i;
	s->has_prev = false;
	s->last_mad = -1;
}

/* Image metrics of the analysis branch and the detector state machine built on them.
 * Pure: no I/O, no globals, no clock of their own (time is passed in, in ms). Any thread, as
 * long as one object is used by one thread at a time. Images are 8-bit grey (luma), small
 * (e.g. 160x90), borrowed for the duration of a call. */
#ifndef HW_VIDEO_METRICS_H
#define HW_VIDEO_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A grey image: h rows of w pixels, row r starting at px + r * stride. (transfer none) */
struct vm_image {
	const uint8_t *px;
	int w, h;
	int stride;
};

/* Point-samples src (8 bits a sample, pixel i of a row at byte i * pstride, so the luma of a
 * semi-planar or packed picture can be read in place) into out, whose w, h and stride give
 * the size wanted: each output pixel takes the source pixel at the centre of its cell, with
 * no averaging (nearest-neighbour scaling; sensor noise survives, as vm_mad needs).
 * out->px must be writable. Returns 0 or -EINVAL (empty or smaller source, bad strides). */
int vm_sample(const struct vm_image *src, int pstride, struct vm_image *out);

/* Per-frame statistics. */
struct vm_stats {
	double mean;	     /* mean luma, 0..255 */
	double stddev;	     /* standard deviation of luma (contrast) */
	double dark_frac;    /* fraction of pixels <= dark_level */
	double max_bin_frac; /* fraction in the fullest 32-level window (two of 16 bins) */
	double lap_var;	     /* variance of the 4-neighbour Laplacian (sharpness) */
};

/* Computes every statistic of img. dark_level is the luma at or below which a pixel counts
 * as dark (ffmpeg blackdetect: 10 % of range, ~25). Returns 0 or -EINVAL (empty image). */
int vm_stats_compute(const struct vm_image *img, int dark_level, struct vm_stats *out);

/* Mean absolute difference of a and b over every step-th pixel of every step-th row,
 * point sampled (no averaging, so sensor noise keeps a live static scene "live"), in luma
 * units 0..255. Returns a negative value if the sizes differ or step < 1. */
double vm_mad(const struct vm_image *a, const struct vm_image *b, int step);

/* A slowly updated reference of the scene as a grid of cell means, for "camera moved". */
#define VM_REF_MAX_CELLS 256
struct vm_ref {
	int cols, rows;
	bool valid;
	double cell[VM_REF_MAX_CELLS];
};

/* Cell means of img on a cols x rows grid (cols * rows <= VM_REF_MAX_CELLS). */
int vm_cells(const struct vm_image *img, int cols, int rows, double *out);
/* Sets the reference to img. Returns 0 or -EINVAL. */
int vm_ref_reset(struct vm_ref *r, const struct vm_image *img, int cols, int rows);
/* Fraction (0..1) of cells whose mean differs from the reference by more than diff;
 * a negative value if the reference is not valid. */
double vm_ref_changed(const struct vm_ref *r, const struct vm_image *img, double diff);
/* Moves the reference towards img by alpha (0..1) per cell (an invalid reference is reset). */
void vm_ref_update(struct vm_ref *r, const struct vm_image *img, double alpha);

/* The detector state machine: a condition goes active once its raw input has been "on" for
 * on_ms, and inactive once it has been "off" for off_ms (time hysteresis); VD_HOLD (the
 * value between the on and off thresholds: value hysteresis) keeps the state and restarts
 * neither timer. After clearing, the condition cannot go active again for cooldown_ms. */
enum vd_input { VD_OFF = 0, VD_ON, VD_HOLD };

struct vdet {
	int on_ms, off_ms, cooldown_ms;
	bool active;
	int64_t since;	   /* when active last changed (0: never) */
	int64_t on_since;  /* start of the current run of VD_ON, -1 if none */
	int64_t off_since; /* start of the current run of VD_OFF, -1 if none */
	int64_t cooldown_until;
};

void vdet_init(struct vdet *d, int on_ms, int off_ms, int cooldown_ms);
/* Feeds one input at time now (ms, non-decreasing). Returns true if active changed. */
bool vdet_feed(struct vdet *d, enum vd_input in, int64_t now);
/* Forces the condition off (e.g. when the stream went away); returns true if it changed. */
bool vdet_reset(struct vdet *d, int64_t now);

/* Classifies value against on/off thresholds: "above" detectors (on when v >= on, off when
 * v < off, on > off) and "below" detectors (on when v <= on, off when v > off, on < off). */
enum vd_input vd_above(double v, double on, double off);
enum vd_input vd_below(double v, double on, double off);

/* The analysis of one camera: the five picture detectors fed with analysis frames. */
enum va_cond { VA_DARK = 0, VA_COVERED, VA_DEFOCUS, VA_FROZEN, VA_MOVED, VA_N };

struct va_params {
	int dark_level;		  /* luma of a dark pixel (25 = 10 % of range) */
	double black_frac;	  /* dark: on at this dark fraction (0.98) ... */
	double black_frac_off;	  /* ... off below this one (0.90) */
	int black_ms;		  /* for this long (2000) */
	double covered_dark_frac; /* covered: this dark fraction (0.75) with mean below */
	double covered_mean;	  /* covered_mean (40), or one histogram bin holding */
	double covered_bin_frac;  /* covered_bin_frac (0.90) with a stddev below */
	double covered_stddev;	  /* covered_stddev (10); while not black */
	int covered_ms;		  /* for this long (5000) */
	double defocus_ratio;	  /* defocus: Laplacian variance below ratio x baseline (0.4) */
	double defocus_off_ratio; /* cleared above this (0.6) */
	int defocus_ms;		  /* for this long (30000) */
	int baseline_frames;	  /* sharp frames averaged before defocus is judged (5) */
	double frozen_mad;	  /* frozen: mean abs difference at or below (0.255 = 0.1 %) */
	double frozen_off_mad;	  /* cleared above this (1.0) */
	int frozen_ms;		  /* for this long (2000) */
	double moved_diff;	  /* moved: a cell differs from the reference by more (30) */
	double moved_frac;	  /* in this fraction of cells (0.8) */
	double moved_off_frac;	  /* cleared below this fraction (0.5) */
	int moved_ms;		  /* for this long (10000) */
	double ref_alpha;	  /* reference update per frame while the scene matches (0.01) */
	int clear_ms;		  /* a condition clears after its input is off this long (2000) */
	int cooldown_ms;	  /* and cannot come back before this (10000) */
};

/* Fills p with the defaults above. */
void va_params_default(struct va_params *p);

#define VA_MAX_PIXELS (320 * 240)

struct va_state {
	struct va_params p;
	struct vdet det[VA_N];
	uint8_t prev[VA_MAX_PIXELS];
	int prev_w, prev_h;
	bool has_prev;
	double lap_base;
	int base_n;
	struct vm_ref ref;
	/* The last frame's figures, for health reports. */
	struct vm_stats last;
	double last_mad;   /* -1 before the second frame */
	double last_moved; /* -1 without a reference */
	uint64_t frames;
};

/* Copies params. */
void va_init(struct va_state *s, const struct va_params *p);
/* Analyses one frame (w * h <= VA_MAX_PIXELS) taken at now (ms); sets bit c of *changed for
 * each condition that changed. Returns 0 or -EINVAL. */
int va_feed(struct va_state *s, const struct vm_image *img, int64_t now, unsigned *changed);
/* Clears every condition and forgets the previous frame (stream lost or restarted); the
 * baseline and the scene reference are kept. Sets bits in *changed. */
void va_reset(struct va_state *s, int64_t now, unsigned *changed);
const char *va_cond_name(enum va_cond c);

#endif

/* Cutting a clip out of recorded segments without transcoding: each segment is demuxed in
 * turn, the compressed access units from the key frame at or before the start to the end are
 * restamped on one time line and remuxed into a single MP4. What the clip holds is measured
 * from the access units themselves, so a range the recordings do not cover is never passed
 * off as a whole clip. Runs on the caller's thread and blocks (bounded); touches no shared
 * state, so any thread may call it. */
#ifndef HW_VIDEO_CLIP_H
#define HW_VIDEO_CLIP_H

#include <stdbool.h>
#include <stdint.h>

#include "video/recindex.h"

/* A stretch of wall time with no access unit (between two units, or at either end of the
 * range) longer than this is missing from the clip. More than a frame interval and the
 * segments' clock rounding; less than the shortest reconnect. */
#define CLIP_HOLE_MS 1000
#define CLIP_SPANS_MAX 16 /* spans kept of each kind; the rest are counted */

struct clip_span {
	int64_t from_ms, to_ms;
};

/* What a cut found, within [from_ms, to_ms) as asked: the stretches the recordings hold and
 * the ones they do not (oldest first, at most CLIP_SPANS_MAX of each, n_* counts them all). */
struct clip_cover {
	int64_t from_ms, to_ms; /* as asked */
	int n_held, n_missing;
	struct clip_span held[CLIP_SPANS_MAX];
	struct clip_span missing[CLIP_SPANS_MAX];
	int64_t format_change_ms; /* 0, or where the stream changed format (the clip ends there) */
	uint64_t units;		  /* access units written */
};

/* Writes the access units of segs[0..n) (oldest first, transfer none) from the key frame at
 * or before from_ms up to to_ms into one MP4 at path. Wall times come from each segment's
 * start_ms plus the buffer's offset in its file. A change of caps that leaves the codec,
 * stream format, alignment, size, profile and codec data alone (a framerate the demuxer
 * infers for one segment and not for another) does not split the clip; any other ends it.
 * cov (may be NULL) receives what the range holds. Returns 0 (the whole range is in the
 * file; with partial, whatever of it exists is, and cov says what is missing), -ENODATA
 * (part of the range is not recorded and partial is false: no file), -ENOENT (nothing
 * recorded in the range: no file), -EINVAL (empty range) or -EIO. */
int clip_cut(const struct rec_segment *segs, int n, int64_t from_ms, int64_t to_ms, bool partial,
	     const char *path, struct clip_cover *cov);

/* The sentence saying what of cov's range camera has and what is missing (UTC), e.g.
 * "camera cam1 has recordings for 2026-12-03 10:00:05-10:00:40 UTC only; nothing for
 * 10:00:00-10:00:05 and 10:00:40-15:00:00", or "camera cam1 has no recording for ...".
 * NULL when nothing is missing. Pure; the caller g_free()s it. */
char *clip_cover_text(const struct clip_cover *cov, const char *camera);

#endif

/* Cutting a clip out of recorded segments without transcoding: each segment is demuxed in
 * turn, the compressed access units from the key frame at or before the start to the end are
 * restamped on one time line and remuxed into a single MP4. Runs on the caller's thread and
 * blocks (bounded); touches no shared state, so any thread may call it. */
#ifndef HW_VIDEO_CLIP_H
#define HW_VIDEO_CLIP_H

#include <stdint.h>

#include "video/recindex.h"

/* Writes the access units of segs[0..n) (oldest first, transfer none) from the key frame at
 * or before from_ms up to to_ms into one MP4 at path. Wall times come from each segment's
 * start_ms plus the buffer's offset in its file. Returns 0, -EINVAL (empty range), -ENOENT
 * (nothing recorded in the range) or -EIO. */
int clip_cut(const struct rec_segment *segs, int n, int64_t from_ms, int64_t to_ms,
	     const char *path);

#endif

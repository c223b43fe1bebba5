/* The index of recorded segments in SQLite (<state_dir>/hallwatch.db, table video_segments):
 * camera, start and end (ms since the epoch), path, bytes; through core/db.h, the one
 * connection of the process to that file, shared with other modules' tables. Retention by age
 * and by a disk budget, oldest first, and recovery of segments left open by a crash. A failure
 * to write is logged when a run of them starts and when it ends. One handle is used by one
 * thread at a time (the main loop, or a command line tool); the connection behind it may be
 * used by other threads meanwhile. */
#ifndef HW_VIDEO_RECINDEX_H
#define HW_VIDEO_RECINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct recindex;

struct rec_segment {
	int64_t id;
	char *camera;
	int64_t start_ms;
	int64_t end_ms; /* 0 while the segment is being written */
	char *path;
	int64_t bytes;
};

/* Opens the index in the database at path (db_open). Returns 0 and *out, or -errno (-EIO for
 * SQLite, -EPROTO for a schema newer than this build). */
int recindex_open(const char *path, struct recindex **out);
void recindex_close(struct recindex *ix); /* accepts NULL */

/* A segment was opened at start_ms (end unknown). Returns 0 or -errno (-ENOSPC: disk full,
 * -EIO). */
int recindex_begin(struct recindex *ix, const char *camera, int64_t start_ms, const char *path);
/* The segment at path was closed: end and size. Inserts it if absent (start from start_ms). */
int recindex_finish(struct recindex *ix, const char *camera, const char *path, int64_t start_ms,
		    int64_t end_ms, int64_t bytes);

/* A segment that will not be written any more (its recorder failed, or a crash cut it): closed
 * with the file's mtime as end and its size if the file has a moov box (it plays), else its row
 * and its file are deleted. Returns 1 (kept), 0 (deleted), -ENOENT (no file: row dropped) or
 * -errno. */
int recindex_settle(struct recindex *ix, const char *camera, const char *path, int64_t start_ms);

/* After a crash: every segment of camera still open gets its end from the file's mtime and its
 * size from the file (a missing file drops the row); every *.mp4 file in dir not in the index is
 * added (start from its name camera-YYYYmmddTHHMMSSmmm.mp4, end from its mtime). Returns the
 * number of segments repaired or added, or -errno. */
int recindex_recover(struct recindex *ix, const char *camera, const char *dir);

/* The segments of camera overlapping [from_ms, to_ms), oldest first; *out (caller frees with
 * rec_segments_free). Returns the count or -EIO. */
int recindex_query(struct recindex *ix, const char *camera, int64_t from_ms, int64_t to_ms,
		   struct rec_segment **out);
void rec_segments_free(struct rec_segment *s, int n);

/* As recindex_query, with the segment being written too (end_ms 0): what a listing shows. */
int recindex_list(struct recindex *ix, const char *camera, int64_t from_ms, int64_t to_ms,
		  struct rec_segment **out);

/* One line of a listing: a segment (seg >= 0, its index in the array given) or a gap (seg -1)
 * where nothing was recorded. */
struct rec_span {
	int64_t start_ms, end_ms;
	int seg;
};
/* The timeline of [from_ms, to_ms) from n segments as recindex_list gives them (oldest first;
 * the last one open ends at now_ms, an open one before it, left by a recorder that failed, at
 * its start: its end is unknown): each segment, and a gap wherever more than tolerance_ms of the
 * range is covered by none (before the first, between two, after the last; gaps are cut to
 * the range, segments are shown whole). *out (caller frees with free()). Pure.
 * Returns the number of spans or -ENOMEM. */
int rec_timeline(const struct rec_segment *s, int n, int64_t from_ms, int64_t to_ms, int64_t now_ms,
		 int64_t tolerance_ms, struct rec_span **out);

/* Oldest start_ms of camera's closed segments (0 if none) and their total bytes. */
int recindex_span(struct recindex *ix, const char *camera, int64_t *oldest_ms, int64_t *bytes);

/* Retention for camera: deletes (file and row) closed segments that ended before
 * now - max_age_ms, then the oldest while the camera's total exceeds budget_bytes (0: none),
 * then the oldest while need_free() says the disk is short (NULL: not checked). *young_deleted
 * is set if a segment younger than max_age_ms had to go. Returns the number deleted or -EIO. */
int recindex_retain(struct recindex *ix, const char *camera, int64_t now_ms, int64_t max_age_ms,
		    int64_t budget_bytes, bool (*need_free)(void *ud), void *ud,
		    bool *young_deleted);

#endif

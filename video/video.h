/* The video manager: one struct camera per configured camera, the segment index, and what
 * the cameras report into the hub (hub/hub.h): figures and conditions as they change,
 * snapshots taken, event clips written. It publishes nothing: camera/<id>/state, the
 * camera_health line and the camera alerts come from the hub's listeners. Snapshots and
 * clips on demand, made off the loop and reported back to it. Every function runs on the
 * main loop thread (the thread iterating ctx, the hub's), and none blocks it but
 * video_destroy (bounded) and the *_offline/_direct ones meant for the command line. */
#ifndef HW_VIDEO_VIDEO_H
#define HW_VIDEO_VIDEO_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

struct hub;
struct video;

/* Starts every camera of cfg (nothing if it has none); camera i reports into hub's camera i,
 * at once and whenever it changes. cfg and hub (made for cfg) are borrowed and must outlive
 * the manager. Recordings go to <state_dir>/video/<camera>/, the index to
 * <state_dir>/hallwatch.db. Calls gst_init() if needed. Returns 0 and *out, or -errno. */
int video_create(const struct hw_config *cfg, GMainContext *ctx, struct hub *hub,
		 struct video **out);
/* Stops every pipeline (bounded) and frees, before the hub goes. Snapshots in flight get
 * done(-ECANCELED) first; their workers are told to stop and waited for (at most 1 s: one
 * stuck in the file system is left to free its own job when it returns); clips being cut are
 * waited for and get done with their result. Accepts NULL. */
void video_destroy(struct video *v);

/* A reload with the same state_dir: the manager takes cfg's cameras, in its order, reporting
 * into hub (already reconfigured for cfg, hub_reconfigure). Camera i of cfg with keep[i] goes on
 * running unchanged (same pipeline, recording segment and configuration: the caller keeps the
 * configuration it came from loaded); the others start anew, after the old camera of the same id
 * (if any) stopped, and cameras cfg does not have stop. Clips and snapshots in flight for a
 * camera that stops are ended as video_destroy ends them. Returns 0 or -errno (cameras that
 * could not start are logged and left out: the caller restarts everything then). */
int video_reconfigure(struct video *v, const struct hw_config *cfg, struct hub *hub,
		      const bool *keep);
/* Whether camera_id is one of the configured cameras. */
bool video_has_camera(struct video *v, const char *camera_id);

/* Reports every camera's current figures (fps, bitrate... which move without being
 * changes) into the hub, before a heartbeat or a reconnect renders them. Accepts NULL. */
void video_report_all(struct video *v);

/* A snapshot was written (rc 0) or not: -EIO, -ETIMEDOUT (not written within
 * VIDEO_SNAPSHOT_TIMEOUT_MS of the request) or -ECANCELED (the manager was destroyed first).
 * path as given to video_snapshot_async (borrowed for the call). Main loop thread. */
typedef void (*video_done_fn)(int rc, const char *path, void *ud);
#define VIDEO_SNAPSHOT_TIMEOUT_MS 5000
/* Snapshots not yet ended on their worker threads (a stalled file system keeps them) beyond
 * which video_snapshot_async refuses with -EBUSY. */
#define VIDEO_SNAPSHOTS_MAX 8

/* Starts a JPEG of the camera's latest key frame at full resolution, written to path (copied;
 * NULL: <state_dir>/snapshots/<camera>-<UTC time to the ms>.jpg, one name per ms; its folder
 * is created if missing) on a worker thread: the decode, the encode and the file
 * system never block the loop. Returns at
 * once: 0, and done(rc, path, ud) is called exactly once later on the loop (never from within
 * this call; at the latest from video_destroy, with -ECANCELED); or -ENOENT (no such camera),
 * -EAGAIN (no picture yet), -EBUSY (VIDEO_SNAPSHOTS_MAX in flight), -ECANCELED (the manager
 * is being destroyed), and done is never called. On success the camera's state gets its
 * last_snapshot before done runs; a file written after the timeout is removed. */
int video_snapshot_async(struct video *v, const char *camera_id, const char *path,
			 video_done_fn done, void *ud);

/* A clip on demand was written (rc 0) or not (-errno). missing: the sentence saying what of
 * the range the recordings do not hold (clip_cover_text: "camera cam1 has recordings for ...
 * only; nothing for ..."), or NULL when the clip covers it all. path and missing are borrowed
 * for the call. Main loop thread. */
typedef void (*video_clip_reply_fn)(int rc, const char *path, const char *missing, void *ud);

/* Starts a clip of [from_ms, to_ms) cut from the recorded segments without transcoding,
 * starting at the key frame at or before from_ms, written to path (copied; NULL:
 * <state_dir>/clips/<camera>-<from, UTC>Z-req<request time in ms>.mp4) on a thread of its
 * own, which makes its folder. A clip covers the whole range or is not written (-ENODATA),
 * unless partial: then what exists of it is written (rc 0) and missing says what is not.
 * Returns at once: 0, and done(rc, path, missing, ud) follows exactly once on the loop (rc 0,
 * -ENODATA, -ENOENT or -EIO; never from within this call; at the latest from video_destroy,
 * which waits for the cut, bounded by its own timeouts); or -ENOENT (no such camera, or nothing
 * recorded in the range), -EINVAL (empty range), -ECANCELED (the manager is being destroyed), -EIO,
 * and done is never called. For a clip command: the range must be recorded already. */
int video_clip_async(struct video *v, const char *camera_id, int64_t from_ms, int64_t to_ms,
		     bool partial, const char *path, video_clip_reply_fn done, void *ud);

/* "camera <id> has no recording for <from>-<to> UTC" (caller g_free). Pure; any thread. */
char *video_clip_none_text(const char *camera_id, int64_t from_ms, int64_t to_ms);

/* An event clip was written (rc 0) or could not be (-errno); path as returned by
 * video_clip_for_event. Strings are borrowed for the call. Main loop thread. */
typedef void (*video_clip_done_fn)(const char *point_key, const char *camera_id, const char *path,
				   int rc, void *ud);

/* A device point ("facp1:zone[3].fire", as in a camera's alert_points) turned on at t_ms:
 * for every camera linking it, a clip from t_ms - preroll_s to t_ms + postroll_s is cut from
 * the recordings once they cover it (or at the latest segment_s + 10 s after its end), to
 * <state_dir>/clips/<camera>-<UTC time of t_ms>-<point>.mp4. If paths is not NULL it receives
 * those paths at once (NULL-terminated, caller g_strfreev; empty when no camera links the
 * point), so an alert can name them in its event before they are written. cb (may be NULL)
 * is called once per clip when it is done. Returns the number of clips scheduled (0: no
 * camera links the point) or -errno. */
int video_clip_for_event(struct video *v, const char *point_key, int64_t t_ms,
			 video_clip_done_fn cb, void *ud, char ***paths);

/* The hub listener's hook: every changed point of d that a camera links and that turned on
 * (a true bool or a non-zero number of good quality, after being off or unknown) gets its
 * clips through video_clip_for_event (logged; the newest clip becomes the hub camera's
 * last_clip). d is borrowed. Accepts v NULL. */
struct hub_device;
void video_on_device(struct video *v, const struct hub_device *d);

/* The paths of the clips last scheduled for point_key (NULL-terminated, caller g_strfreev;
 * NULL if none): for the alert engine, which sees the point turn on in the same listener. */
char **video_event_clips(struct video *v, const char *point_key);

/* The recorded segments of camera_id overlapping [from_ms, to_ms), the one being written
 * included (end_ms 0), oldest first (video/recindex.h; caller frees with rec_segments_free).
 * Returns their number, -ENOENT (no such camera) or -EIO. Reads the index on the calling
 * thread: the main loop. */
struct rec_segment;
int video_recordings(struct video *v, const char *camera_id, int64_t from_ms, int64_t to_ms,
		     struct rec_segment **out);

/* Parses a time as core/timeparse.h does (seconds since the epoch, ISO 8601 with an offset, or a
 * local time in the time zone tz: the site's, site.timezone; NULL: the machine's) into ms.
 * Returns 0 or -EINVAL. */
#define VIDEO_TIME_MAX_S 253402300799LL /* 9999-12-31T23:59:59Z */
int video_parse_time(const char *s, const char *tz, int64_t *out_ms);

#endif

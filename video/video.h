/* The video manager: one struct camera per configured camera, the segment index, and the
 * outputs: camera/<id>/state (retained JSON) on every change and every heartbeat, the
 * camera_health line-protocol measurement, and each condition change to a callback (the
 * alert engine). Snapshots and clips on demand. Every function runs on the main loop thread
 * (the thread iterating ctx). */
#ifndef HW_VIDEO_VIDEO_H
#define HW_VIDEO_VIDEO_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway/config.h"

struct mqtt;
struct influx;
struct video;

/* A condition of a camera changed: condition_name is one of offline, video_loss, dark,
 * covered, defocus, moved, frozen, recording_fault, disk_low, retention_short; ts in ms since
 * the epoch. Strings are borrowed for the call. Main loop thread. */
typedef void (*video_condition_fn)(const char *camera_id, const char *condition_name, bool active,
				   int64_t ts_ms, void *ud);

/* Starts every camera of cfg (nothing if it has none). cfg, mqtt and influx (both may be NULL)
 * are borrowed and must outlive the manager; fn may be NULL. Recordings go to
 * <state_dir>/video/<camera>/, the index to <state_dir>/hallwatch.db. Calls gst_init() if
 * needed. Returns 0 and *out, or -errno. */
int video_create(const struct hw_config *cfg, GMainContext *ctx, struct mqtt *mqtt,
		 struct influx *influx, video_condition_fn fn, void *ud, struct video **out);
/* Stops every pipeline (bounded) and frees. Accepts NULL. */
void video_destroy(struct video *v);

/* Republishes every camera's state (after an MQTT reconnect). */
void video_publish_all(struct video *v);

/* JPEG of the camera's latest key frame at full resolution. 0, -ENOENT (no such camera),
 * -EAGAIN (no picture yet) or -EIO. */
int video_snapshot(struct video *v, const char *camera_id, const char *path);
/* Clip of [from_ms, to_ms) cut from the recorded segments without transcoding, starting at
 * the key frame at or before from_ms. 0, -ENOENT (camera or no recording in range), -EIO. */
int video_clip(struct video *v, const char *camera_id, int64_t from_ms, int64_t to_ms,
	       const char *path);

/* The same without a daemon (command line): clip from the index in state_dir; snapshot by
 * connecting to the camera itself (timeout_ms). Any thread; they block. */
int video_clip_offline(const struct hw_config *cfg, const char *camera_id, int64_t from_ms,
		       int64_t to_ms, const char *path);
int video_snapshot_direct(const struct cfg_camera *cam, const char *path, int timeout_ms);

/* Parses "2024-05-01T10:00:00" (local time), "...Z" (UTC) or seconds since the epoch (a
 * fraction allowed: "1714557600.25") into ms.
 * Returns 0 or -EINVAL. */
int video_parse_time(const char *s, int64_t *out_ms);

#endif

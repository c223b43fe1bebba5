/* One camera: its GStreamer pipeline (rtspsrc -> depay -> parse -> tee -> recording into
 * crash-safe fragmented MP4 segments, and key frames -> decoder -> small grey image -> analysis),
 * the watchdog and restart with capped backoff, health figures and the conditions derived
 * from them. Created, ticked and destroyed on the main loop thread (ctx); GStreamer's
 * streaming threads only touch a per-pipeline block of counters under its own lock; a
 * pipeline is set to NULL on a thread of its own, so a dead source never blocks the loop.
 * Snapshots: camera_still copies the last key frame on the loop; cam_still_jpeg decodes and
 * encodes it on whichever thread calls it (video.c's snapshot workers), on that thread alone. */
#ifndef HW_VIDEO_CAMERA_H
#define HW_VIDEO_CAMERA_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "video/recindex.h"

enum cam_cond {
	CC_OFFLINE = 0,
	CC_VIDEO_LOSS,
	CC_DARK,
	CC_COVERED,
	CC_DEFOCUS,
	CC_MOVED,
	CC_FROZEN,
	CC_RECORDING_FAULT,
	CC_DISK_LOW,
	CC_RETENTION_SHORT,
	CC_N
};

const char *camera_cond_name(enum cam_cond c);

struct cam_condition {
	bool active;
	int64_t since_ms; /* wall clock of the last change; 0: never changed */
};

struct camera_health {
	bool online;
	bool recording;
	double fps;
	double bitrate_kbps;
	int width, height; /* 0 until known */
	const char *codec; /* "h264", "h265" or NULL */
	uint64_t reconnects;
	uint64_t frames;   /* access units received since creation */
	uint64_t analysed; /* frames analysed */
	uint64_t segments; /* segments finished */
	int64_t last_frame_ms;
	int64_t oldest_recording_ms; /* 0: none */
	int64_t recorded_bytes;
	double luma, contrast, sharpness, motion; /* last analysed frame; motion -1 unknown */
	struct cam_condition cond[CC_N];
};

struct camera;

/* Called on the main loop after a tick in which the conditions in mask (bits of enum
 * cam_cond) changed, or with mask 0 when another published figure changed (online,
 * recording, resolution). */
typedef void (*camera_changed_fn)(struct camera *c, unsigned mask, void *ud);

/* Starts the camera. cfg (transfer none) must outlive it; rec_dir is where its segments go
 * (created if missing); ix (transfer none, may be NULL: no index) must outlive it.
 * Returns 0 and *out, or -errno. Main loop thread. */
int camera_create(const struct cfg_camera *cfg, const char *rec_dir, struct recindex *ix,
		  GMainContext *ctx, camera_changed_fn fn, void *ud, struct camera **out);
/* Stops the pipeline and waits (at most ~5 s) for its teardown. Accepts NULL. */
void camera_destroy(struct camera *c);

const struct cfg_camera *camera_cfg(const struct camera *c);
/* The current figures (transfer none, valid until the next tick). */
const struct camera_health *camera_health(const struct camera *c);

/* A copy of a camera's last key frame (its buffer and caps), taken on the main loop, to be
 * decoded and encoded on any thread: it holds nothing of the camera, which may be destroyed
 * meanwhile. */
struct cam_still;

/* Takes the last key frame received. Returns 0 and *out (cam_still_free), or -EAGAIN (no frame
 * yet). Main loop thread; does not block. */
int camera_still(struct camera *c, struct cam_still **out);
/* Decodes st and writes a JPEG of it at full resolution to path (removed again on failure).
 * Blocks the calling thread, which does the whole work itself (no streaming thread): opening
 * the file (which waits as long as a stalled file system does), then the decode and encode.
 * Returns 0, -EIO, -ETIMEDOUT (no end within timeout_ms once decoding) or -ECANCELED
 * (cam_still_cancel was called before it returned). Any thread, one at a time per still. */
int cam_still_jpeg(struct cam_still *st, const char *path, int timeout_ms);
/* Makes a cam_still_jpeg running or to come return -ECANCELED (at its next step). Any thread. */
void cam_still_cancel(struct cam_still *st);
/* Accepts NULL. Not while cam_still_jpeg runs on it. */
void cam_still_free(struct cam_still *st);

/* Credentials never reach a log line: url with any user:pass@ replaced by ***@ (caller frees). */
char *camera_redact_url(const char *url);

#endif

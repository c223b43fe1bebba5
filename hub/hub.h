/* The state hub: the state of the whole hall. The latest value, quality and timestamp of
 * every point of every device, the health and conditions of every camera, and room for
 * inspections and patrols. Sources report into it in its own types (nothing of Modbus or
 * GStreamer here): devices/ (through devices/hubfeed.h) with hub_update_device and
 * hub_set_health, video/ with hub_camera_report, hub_camera_snapshot and hub_camera_clip.
 * Consumers (alerts, MQTT, line protocol, the console to come) are fed what changed
 * through listeners and read the hub; they never reach into a source.
 * Owns its entries; main-loop thread only (the types may be built on any thread). */
#ifndef HW_HUB_H
#define HW_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/value.h"

/* ---- Devices: what a source reports ---- */

#define HUB_TOP_LEVEL 0xFFFFu /* hub_lpoint.block of a point outside any block */

/* One point of a device's layout as its source describes it. */
struct hub_lpoint {
	const struct prof_point *def; /* owned by the profile */
	uint16_t block;		      /* index into profile->blocks, or HUB_TOP_LEVEL */
	uint16_t instance;
	int group; /* profile group, -1 for the device's own interval */
};

/* One point of an update: which one is in the device's layout, at index. */
struct hub_sample {
	uint32_t index; /* position of the point in the device's layout */
	/* The last value read (kept when not GOOD) and its quality: GOOD, STALE, or
	 * CONFIG_ERROR (the device refused it). hw_pval_unpack() gives the value. */
	struct hw_pval pv;
	int64_t t_ms; /* wall clock of the read that produced it */
};

/* How a device's last request failed; the names are those of docs/mqtt.md's last_error. */
enum hub_err_kind { HUB_E_NONE = 0, HUB_E_TIMEOUT, HUB_E_EXCEPTION, HUB_E_IO, HUB_E_INVALID };
const char *hub_err_kind_name(enum hub_err_kind k);

/* Communication counters of one device, cumulative since its source started. */
struct hub_dev_health {
	uint64_t polls; /* group polls attempted */
	uint64_t requests;
	uint64_t skipped;	 /* group reads skipped because the change counter did not move */
	uint64_t missed_changes; /* change counter jumps beyond one: transitions not seen */
	uint64_t err_timeout;
	uint64_t err_exception;
	uint64_t err_io;
	uint64_t err_invalid;
	uint64_t overruns; /* group deadlines missed by a whole interval */
	double rtt_ms_last;
	double rtt_ms_avg;  /* exponentially weighted, alpha 0.2 */
	int64_t last_ok_ms; /* wall clock, 0 = never */
	unsigned consecutive_failures;
};

/* One poll of a device, as its source tells the hub (everything borrowed for the call). */
struct hub_dev_update {
	size_t device_index;   /* into hw_config.devices */
	enum hub_err_kind err; /* first error of this poll */
	int64_t t_ms;	       /* wall clock of the poll */
	bool online;	       /* answered, and fewer than offline_after consecutive failures */
	bool frozen;	       /* life_check unchanged for life_check_s */
	int64_t device_time;   /* from a device_time point, -1 if none */
	struct hub_dev_health health;
	/* A layout the device does not have yet (a block count moved, or the first result):
	 * n_layout points, and samples then hold every one of them. NULL: the device's
	 * layout stays, and samples are the points that changed. */
	const struct hub_lpoint *layout;
	size_t n_layout;
	/* Indexes into the device's layout (the new one when given); the source drops those
	 * meant for another layout, the hub ignores those past the end of its own. */
	const struct hub_sample *samples;
	size_t n_samples;
};

/* ---- Devices: what the hub holds ---- */

/* The points of a device's layout: shared by every device with the same profile and
 * block counts (a hall's thousand panels of one model have one). */
struct hub_layout {
	size_t n;
	const struct prof_point **defs; /* owned by the profile */
	const char **keys;		/* "fire", or "zone[3].fire" */
	uint16_t *blocks;		/* block index or HUB_TOP_LEVEL, per point */
	uint16_t *instances;
	uint8_t *groups; /* poll group per point (0: the device's own interval) */
	size_t n_groups;
};

/* What changes of a point: 16 bytes. Its name and definition are in the layout, and
 * the time of its value is its poll group's (hub_point_t). */
struct hub_point {
	struct hw_pval pv; /* value and quality; pv.flags: HUB_POINT_CHANGED */
};

/* Value or quality changed in the last update. */
#define HUB_POINT_CHANGED 1u

static inline enum hw_quality hub_point_q(const struct hub_point *p)
{
	return (enum hw_quality)p->pv.q;
}

static inline bool hub_point_changed(const struct hub_point *p)
{
	return p->pv.flags & HUB_POINT_CHANGED;
}

enum hub_dev_quality { HUB_DQ_UNKNOWN = 0, HUB_DQ_GOOD, HUB_DQ_FROZEN, HUB_DQ_COMM_LOST };
const char *hub_dev_quality_name(enum hub_dev_quality q);

struct hub_device {
	const struct cfg_device *cfg;
	bool seen; /* at least one update arrived */
	bool online;
	bool frozen;
	enum hub_dev_quality quality;
	int64_t last_poll_ms;
	int64_t device_time; /* -1 when unknown */
	enum hub_err_kind last_err;
	struct hub_dev_health health;
	const struct hub_layout *layout; /* NULL until the first full update */
	int64_t *group_t;		 /* per poll group: wall clock of its last read */
	struct hub_point *points;	 /* layout->n of them */
	size_t n_points;
	size_t n_changed;   /* points with changed set by the last update */
	bool state_changed; /* online, frozen or quality changed in the last update */
};

static inline const char *hub_point_key(const struct hub_device *d, size_t i)
{
	return d->layout->keys[i];
}

static inline const struct prof_point *hub_point_def(const struct hub_device *d, size_t i)
{
	return d->layout->defs[i];
}

/* Wall clock of the read that produced point i's value; 0 = never. */
static inline int64_t hub_point_t(const struct hub_device *d, size_t i)
{
	return d->group_t[d->layout->groups[i]];
}

/* The value of point i of d, label included. */
void hub_point_value(const struct hub_device *d, size_t i, struct hw_value *v);

/* ---- Cameras ---- */

enum hub_cam_cond {
	HUB_CC_OFFLINE = 0,
	HUB_CC_VIDEO_LOSS,
	HUB_CC_DARK,
	HUB_CC_COVERED,
	HUB_CC_DEFOCUS,
	HUB_CC_MOVED,
	HUB_CC_FROZEN,
	HUB_CC_RECORDING_FAULT,
	HUB_CC_DISK_LOW,
	HUB_CC_RETENTION_SHORT,
	HUB_CC_N
};
/* "offline", "video_loss", ... (docs/mqtt.md, conditions). */
const char *hub_cam_cond_name(enum hub_cam_cond c);

struct hub_cam_condition {
	bool active;
	int64_t since_ms; /* wall clock of the last change; 0: never changed */
};

/* A camera's figures and conditions, as its source measures them. */
struct hub_cam_health {
	bool online;
	bool recording;
	double fps;
	double bitrate_kbps;
	int width, height; /* 0 until known */
	char codec[8];	   /* "h264", "h265" or "" until known */
	uint64_t reconnects;
	uint64_t frames;   /* access units received */
	uint64_t analysed; /* frames analysed */
	uint64_t segments; /* recording segments closed */
	int64_t last_frame_ms;
	int64_t oldest_recording_ms; /* 0: none */
	int64_t recorded_bytes;
	double luma, contrast, sharpness, motion; /* last analysed frame; motion -1 unknown */
	struct hub_cam_condition cond[HUB_CC_N];
};

/* The newest event clip of a camera. */
struct hub_cam_clip {
	char *path; /* NULL: none yet */
	char *point;
	int64_t t_ms; /* the event's time */
	bool ok;      /* written */
};

/* What the last update of a camera changed (hub_camera.changed). */
#define HUB_CAM_STATE 1u    /* a condition, online, recording or the resolution */
#define HUB_CAM_SNAPSHOT 2u /* a snapshot was taken */
#define HUB_CAM_CLIP 4u	    /* an event clip was written or failed */

struct hub_camera {
	const struct cfg_camera *cfg;
	bool seen; /* reported at least once */
	struct hub_cam_health health;
	int64_t last_snapshot_ms; /* 0: none */
	struct hub_cam_clip last_clip;
	unsigned changed;      /* HUB_CAM_* of the last update */
	unsigned cond_changed; /* 1u << enum hub_cam_cond: conditions the last update flipped */
};

/* ---- Alerts ----
 * The open alerts of the hall as the alert engine (alerts/, which owns their lifecycle and
 * their store) last reported them: what the console and the county read beside devices and
 * cameras. The alert service keeps them current; an alert that closed is removed. */
#define HUB_ALERT_ID_MAX 160
#define HUB_ALERT_NAME_MAX 64

struct hub_alert {
	char id[HUB_ALERT_ID_MAX];	    /* "facp1.zone-3.fire" */
	char device[HUB_ALERT_NAME_MAX];    /* a device, a camera or "gateway" */
	char condition[HUB_ALERT_NAME_MAX]; /* "fire", "offline", "store_fault"... */
	char state[24];			    /* unack, acked, rtn_unack, shelved, ... */
	char message[384]; /* the sentence people read, in the site's language ("" if none) */
	int priority;	   /* 1 (life safety) .. 5 */
	bool active;
	int64_t raised_ms;
	uint64_t seq; /* the event that last changed it */
};

/* ---- Room for what comes next: inspections and patrols ----
 * Inspections (a check of a device or a camera due at a time, done by a person or a rule)
 * and video patrols (a tour of cameras, step by step) will be hub entries like devices and
 * cameras: their source (the inspection scheduler) reports into the hub, listeners hear
 * what changed, outputs render them beside devices and cameras. Nothing holds these
 * types yet. */
enum hub_task_state {
	HUB_TASK_IDLE = 0,
	HUB_TASK_DUE,
	HUB_TASK_RUNNING,
	HUB_TASK_DONE,
	HUB_TASK_MISSED
};

struct hub_inspection {
	const char *id;	    /* owned by the configuration */
	const char *target; /* a device or camera id */
	enum hub_task_state state;
	int64_t due_ms, done_ms; /* 0: none */
};

struct hub_patrol {
	const char *id; /* owned by the configuration */
	enum hub_task_state state;
	size_t step, n_steps; /* the camera being shown, of how many */
	int64_t started_ms;
};

/* ---- The hub ---- */

struct hub;

/* Called after an update changed something of d: device state or at least one point. */
typedef void (*hub_change_fn)(struct hub *h, struct hub_device *d, void *ud);
/* Called after an update changed something of c worth telling (c->changed says what; a
 * figure such as fps alone is kept current but told to no one). */
typedef void (*hub_camera_fn)(struct hub *h, struct hub_camera *c, void *ud);

/* Called after an alert was set (a copy of it) or removed (removed = true; only its id is
 * meaningful). */
typedef void (*hub_alert_fn)(struct hub *h, const struct hub_alert *a, bool removed, void *ud);

/* A device and a camera entry per configured one. cfg must outlive the hub.
 * Returns 0 or -ENOMEM. */
int hub_create(const struct hw_config *cfg, struct hub **out);
void hub_destroy(struct hub *h); /* accepts NULL */
/* A reload: the entries become those of cfg, in its order. A device i of cfg with keep_dev[i]
 * (a camera j with keep_cam[j]) takes over the entry of the same id, values, state and cfg
 * pointer unchanged (the caller keeps the configuration that pointer is in loaded while the
 * entry holds it); every other entry of cfg starts empty, and entries of ids cfg does not keep
 * go. Listeners are told nothing. Returns 0 or -ENOMEM (the hub is unchanged then). */
int hub_reconfigure(struct hub *h, const struct hw_config *cfg, const bool *keep_dev,
		    const bool *keep_cam);
/* At most 8 of each kind; -ENOSPC beyond. Listeners are called in the order added. */
int hub_add_listener(struct hub *h, hub_change_fn fn, void *ud);
int hub_add_camera_listener(struct hub *h, hub_camera_fn fn, void *ud);

/* Applies one poll of a device (u and what it points to stay the caller's). */
void hub_update_device(struct hub *h, const struct hub_dev_update *u);
/* Updates the health counters of device i (fresher than its last update). */
void hub_set_health(struct hub *h, size_t i, const struct hub_dev_health *health);
size_t hub_n_devices(const struct hub *h);
struct hub_device *hub_device_at(struct hub *h, size_t i);

/* The current figures of camera i (hw_config.cameras[i]; health copied). Listeners hear of
 * it when a condition, online, recording or the resolution changed. */
void hub_camera_report(struct hub *h, size_t i, const struct hub_cam_health *health);
/* Camera i's snapshot was taken at t_ms; listeners hear of it. */
void hub_camera_snapshot(struct hub *h, size_t i, int64_t t_ms);
/* Camera i's newest event clip (strings copied); listeners hear of it. */
void hub_camera_clip(struct hub *h, size_t i, const char *path, const char *point, int64_t t_ms,
		     bool ok);
size_t hub_n_cameras(const struct hub *h);
struct hub_camera *hub_camera_at(struct hub *h, size_t i);

/* Alerts (see "Alerts" above). hub_alert_set adds or replaces the alert of a->id (copied);
 * hub_alert_remove forgets one (no-op when unknown). Both tell the alert listeners. */
int hub_add_alert_listener(struct hub *h, hub_alert_fn fn, void *ud);
int hub_alert_set(struct hub *h, const struct hub_alert *a);
void hub_alert_remove(struct hub *h, const char *id);
size_t hub_n_alerts(const struct hub *h);
/* By id, or NULL (transfer none: valid until the next set or remove). */
const struct hub_alert *hub_alert_get(const struct hub *h, const char *id);
/* The n-th alert in id order, or NULL. */
const struct hub_alert *hub_alert_at(const struct hub *h, size_t i);

#endif

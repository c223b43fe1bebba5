/* The alert service: wires the state hub to the alert engine, the SQLite store and
 * MQTT (alert/<id> retained, events at QoS 1, cmd/+ in with replies). Main loop
 * thread only. */
#ifndef HW_ALERT_SERVICE_H
#define HW_ALERT_SERVICE_H

#include <stdint.h>

#include "gateway/config.h"
#include "gateway/hub.h"
#include "gateway/mqtt.h"

struct alert_service;

/* Opens <state_dir>/hallwatch.db, restores the alerts it holds and, when m is not
 * NULL, takes over m's command and ack handlers. cfg and m (transfer none) must
 * outlive the service. Returns 0 or -errno. */
int alert_service_create(const struct hw_config *cfg, struct mqtt *m, struct alert_service **out);
/* Flushes, releases m's handlers and closes the store. Accepts NULL. */
void alert_service_destroy(struct alert_service *s);

/* Feeds one changed device (from the hub listener). */
void alert_service_on_device(struct alert_service *s, const struct hub_device *d);
/* The MQTT session is (re)established: republish alert/<id>, resend undelivered events. */
void alert_service_on_connected(struct alert_service *s);

/* Runs a device's profile command for cmd/device: returns 0 when it was queued on the
 * device's bus, -ENOENT (no such device or command), -EPERM (not in the device's
 * allow_commands). Main loop thread. */
typedef int (*alert_device_cmd_fn)(const char *device, const char *command, const char *who,
				   void *ud);
/* A camera condition changed (video/video.h's video_condition_fn): "offline" is the
 * camera's communication loss (alert <camera>.offline, which mutes the others); video_loss,
 * dark, covered, defocus, moved, frozen, recording_fault, disk_low and retention_short are
 * P3 fault alerts <camera>.<condition>. Main loop thread. */
void alert_service_on_camera(struct alert_service *s, const char *camera, const char *condition,
			     bool active);

/* The clips kept for a point that just turned on (NULL-terminated, g_strfreev; NULL if
 * none): named in the alert's raised event. Main loop thread. */
typedef char **(*alert_clip_fn)(const char *device, const char *point, void *ud);
void alert_service_set_clips(struct alert_service *s, alert_clip_fn fn, void *ud);

/* Offers the device layer's commands on cmd/device, under the operators check. */
void alert_service_set_device_commands(struct alert_service *s, alert_device_cmd_fn fn, void *ud);

/* The end of a snapshot started by alert_snapshot_fn: rc 0 and the path of the file written,
 * or -errno (-EIO, -ETIMEDOUT, -ECANCELED) and path NULL or to be ignored. Main loop thread. */
typedef void (*alert_snapshot_done_fn)(int rc, const char *path, void *done_ud);
/* Starts a JPEG snapshot of a camera for cmd/snapshot without blocking: 0 when started, and
 * done(rc, path, done_ud) follows exactly once on the main loop (never from within this
 * call); or -ENOENT (no such camera), -EAGAIN (no picture yet), -EBUSY (too many in flight),
 * and done is not called. The service replies to the request from done. Main loop thread. */
typedef int (*alert_snapshot_fn)(const char *camera, alert_snapshot_done_fn done, void *done_ud,
				 void *ud);
/* Offers snapshots on cmd/snapshot, under the operators check. */
void alert_service_set_snapshots(struct alert_service *s, alert_snapshot_fn fn, void *ud);

/* Counters for the heartbeat and benchmarks. */
struct alert_service_stats {
	size_t active;
	uint64_t events;
	uint64_t undelivered;
	uint64_t commands;
	uint64_t refused;
	/* The store (docs/alerts.md, "When the store cannot write"). */
	bool store_ok;		 /* the last write succeeded */
	int64_t store_failed_ms; /* start of the current failure run, 0 when ok */
	const char *store_error; /* what the store said ("" when ok; transfer none) */
	uint64_t store_failures; /* failure runs since start */
	size_t held;		 /* events kept in memory, not yet safe in store and outbox */
	size_t unstored;	 /* of which not in the event log */
	uint64_t held_dropped;	 /* delivered events let go unstored beyond the bound */
};
void alert_service_get_stats(struct alert_service *s, struct alert_service_stats *out);

#endif

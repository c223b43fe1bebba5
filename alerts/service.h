/* The alert service: wires the state hub to the alert engine, the SQLite store and
 * MQTT (alert/<id> retained, events at QoS 1); owns the alert verbs of the command router
 * (cmd/ack, shelve, unshelve, list) and is the router's audit sink. Main loop thread
 * only. */
#ifndef HW_ALERT_SERVICE_H
#define HW_ALERT_SERVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "hub/hub.h"
#include "outputs/mqtt.h"
#include "router/router.h"

struct alert_service;

/* Opens <state_dir>/hallwatch.db, restores the alerts it holds and, when m is not
 * NULL, takes over m's ack handler. cfg and m (transfer none) must
 * outlive the service. Returns 0 or -errno. */
int alert_service_create(const struct hw_config *cfg, struct mqtt *m, struct alert_service **out);
/* Flushes, releases m's handlers and closes the store. Accepts NULL. */
void alert_service_destroy(struct alert_service *s);
/* A reload keeping the site, the state_dir and the MQTT session: the service goes on with cfg
 * (same terms as create), its open alerts, their states and its event numbering kept. */
void alert_service_rebind(struct alert_service *s, const struct hw_config *cfg);
/* Evaluates every point of d again, as if each had just changed: after a reload changed a rule
 * of d, so that it applies at once. A condition whose state stays the same makes no event. */
void alert_service_reevaluate(struct alert_service *s, const struct hub_device *d);
/* Mirrors the open alerts into h from now on (those restored at start at once): the hub's
 * alerts (hub_alert_*) follow every transition. h (transfer none) must outlive s. */
void alert_service_set_hub(struct alert_service *s, struct hub *h);

/* Feeds one changed device (from the hub listener). */
void alert_service_on_device(struct alert_service *s, const struct hub_device *d);
/* The MQTT session is (re)established: republish alert/<id>, resend undelivered events. */
void alert_service_on_connected(struct alert_service *s);
/* Publishes alert/<id> of every open alert again as retained latest-value state, rendered
 * when it goes out by render(ud, ...) (the heartbeat's: a broker that acknowledged a retained
 * message and lost it, as a NATS node electing its JetStream leaders may, has it again).
 * render and ud must outlive the MQTT client (the service may not: see
 * alert_service_render). Main loop. */
void alert_service_refresh(struct alert_service *s, mqtt_render_fn render, void *ud);
/* The current payload of subtopic "alert/<id>" (transfer full: free) and its length, or NULL
 * when that alert is closed (its removal goes through the outbox). Main loop. */
char *alert_service_render(struct alert_service *s, const char *subtopic, size_t *len);

/* A camera condition changed (a hub camera's cond_changed, wired in main.c): "offline" is the
 * camera's communication loss (alert <camera>.offline, which mutes the others); video_loss,
 * dark, covered, defocus, moved, frozen, recording_fault, disk_low and retention_short are
 * P3 fault alerts <camera>.<condition>. Main loop thread. */
void alert_service_on_camera(struct alert_service *s, const char *camera, const char *condition,
			     bool active);

/* A condition of another source (gateway/inspections.c: "inspection", plan, "overdue" or
 * "missed") as alert <device>.<point>.<cond> with priority prio and text. Main loop thread. */
void alert_service_on_condition(struct alert_service *s, const char *device, const char *point,
				const char *cond, int prio, const char *text, bool active);
/* One event of another source (transfer full: {"event":"inspection", ...}) into the events
 * log, numbered, stored and delivered like every other (seq, t and site added). Main loop
 * thread. */
void alert_service_log_event(struct alert_service *s, json_t *ev);

/* The clips kept for a point that just turned on (NULL-terminated, g_strfreev; NULL if
 * none): named in the alert's raised event. Main loop thread. */
typedef char **(*alert_clip_fn)(const char *device, const char *point, void *ud);
void alert_service_set_clips(struct alert_service *s, alert_clip_fn fn, void *ud);

/* Registers the alert verbs with r (ack, shelve, unshelve: operators; list: viewers) and
 * makes the service r's audit sink: every command record becomes an event of the log
 * (docs/commands.md). r (transfer none) must be destroyed before the service. Returns 0 or
 * -errno (a verb already taken). */
int alert_service_attach_router(struct alert_service *s, struct router *r);

/* Counters for the heartbeat and benchmarks. */
struct alert_service_stats {
	size_t active;
	uint64_t events;
	uint64_t undelivered;
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

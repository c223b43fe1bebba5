/* hallwatch: the daemon. Owns the main loop, the loaded configuration and the wiring:
 * sources (buses, cameras) into the hub, the hub's device and camera listeners out to alerts,
 * MQTT and line protocol, the command router and its verbs' owners. The command line is
 * gateway/cli.c. Everything here runs on the main thread. */
#define LOG_TAG "main"

#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <jansson.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/service.h"
#include "devices/bus.h"
#include "devices/hubfeed.h"
#include "core/clock.h"
#include "core/config.h"
#include "hub/hub.h"
#include "outputs/influx.h"
#include "core/log.h"
#include "outputs/mqtt.h"
#include "outputs/outbox.h"
#include "gateway/cli.h"
#include "gateway/sdnotify.h"
#include "outputs/selfmetrics.h"
#include "outputs/state.h"
#include "core/statedir.h"
#include "core/timeparse.h"
#include "gateway/checklist.h"
#include "gateway/eltest.h"
#include "gateway/inspections.h"
#include "gateway/patrol.h"
#include "router/router.h"
#include "video/recindex.h"
#include "video/video.h"
#include "web/web.h"

/* What main knows of a running bus beside its handle: the results it sends carry its own
 * generation and its own configuration's device indexes, which a reload that keeps the bus
 * maps to the hub's. */
struct bus_slot {
	unsigned gen;
	const struct hw_config *cfg; /* the configuration it was started with */
	size_t *hub_of;		     /* cfg->devices index -> hub index, SIZE_MAX: not on it */
};

struct app {
	GMainLoop *loop;
	char *config_path;
	struct hw_config *cfg;
	struct hub *hub;
	struct mb_bus **buses;
	struct bus_slot *slots; /* one per bus */
	size_t n_buses;
	unsigned generation; /* of the last bus started */
	/* Earlier configurations a reload kept something of running (a bus, a device's hub entry,
	 * a camera): freed once nothing started from them runs. */
	GPtrArray *held;
	struct mqtt *mqtt;
	struct influx *influx;
	struct outbox *outbox;	      /* durable delivery of both outputs (docs/delivery.md) */
	guint watchdog;		      /* sd_notify WATCHDOG=1 timer */
	uint64_t beats;		      /* `gateway` points written since start */
	struct alert_service *alerts; /* recreated with the hub */
	struct router *router;	      /* cmd/<verb>; recreated with the hub, before the alerts */
	struct video *video;	      /* cameras; recreated on reload */
	struct web *web;	      /* the console: kept across reloads, re-attached */
	struct insp_service *insp;    /* inspections; recreated with the alert service */
	struct eltest *eltest;	      /* emergency-lighting tests; with the inspections */
	struct checklist *checklist;  /* cmd/checklist; with the inspections */
	struct patrol *patrol;	      /* video patrols: the runner of video_patrol tasks */
	uint64_t seq;		      /* per-gateway sequence number of state messages */
	uint64_t cam_seq;	      /* sequence number of camera state messages */
	guint heartbeat;
	guint camera_beat; /* camera/<id>/state and camera_health every heartbeat_s (or 60 s) */
	int64_t started_ms;
	int exit_code;
};

static int64_t now_ms(void)
{
	return g_get_real_time() / 1000;
}

/* The state of the device idx names, if the topic is still that device's (a reload
 * may have changed the list while it waited). */
static char *render_device(void *ud, const char *subtopic, size_t idx, size_t *len)
{
	struct app *a = ud;
	const struct hub_device *d = a->hub ? hub_device_at(a->hub, idx) : NULL;
	char topic[256];
	char *js;

	if (!d || !d->seen)
		return NULL;
	snprintf(topic, sizeof(topic), "device/%s/state", d->cfg->id);
	if (strcmp(topic, subtopic) != 0)
		return NULL;
	js = state_device_json(d, a->cfg->site.id, ++a->seq);
	*len = js ? strlen(js) : 0;
	return js;
}

static void publish_device(struct app *a, const struct hub_device *d)
{
	char topic[256];

	if (!a->mqtt || !d->seen)
		return;
	snprintf(topic, sizeof(topic), "device/%s/state", d->cfg->id);
	mqtt_publish_lazy(a->mqtt, topic, render_device, a, (size_t)(d - hub_device_at(a->hub, 0)));
}

static void submit_lines(struct app *a, GString *buf)
{
	if (a->influx && buf->len)
		influx_submit(a->influx, buf->str, buf->len);
}

static void on_change(struct hub *h, struct hub_device *d, void *ud)
{
	struct app *a = ud;

	/* Before the alerts: a zone linked to cameras has its clip paths when its alert is built
	 * (video_event_clips). It only schedules; the clips are cut later, off the loop. */
	video_on_device(a->video, d);
	if (a->alerts) /* first: a fire alarm goes out before the device state */
		alert_service_on_device(a->alerts, d);
	publish_device(a, d);
	if (a->influx) {
		GString *buf = g_string_sized_new(1024);
		state_lp_points(buf, d, a->cfg->site.id, true, now_ms());
		if (d->state_changed)
			state_lp_health(buf, d, a->cfg->site.id, now_ms());
		submit_lines(a, buf);
		g_string_free(buf, TRUE);
	}
}

static void on_result(struct mb_poll_result *r, void *ud)
{
	struct app *a = ud;

	/* A stopped bus's late results match no slot and are dropped. */
	for (size_t k = 0; a->hub && k < a->n_buses; k++) {
		const struct bus_slot *sl = &a->slots[k];

		if (sl->gen != r->generation)
			continue;
		if (r->device_index < sl->cfg->n_devices &&
		    sl->hub_of[r->device_index] != SIZE_MAX) {
			r->device_index = sl->hub_of[r->device_index];
			mb_hubfeed_apply(a->hub, r);
		}
		break;
	}
	mb_poll_result_free(r);
}

/* Bus k's own index of hub device i, or SIZE_MAX when i is not on it. */
static size_t bus_index_of(const struct app *a, size_t k, size_t i)
{
	const struct bus_slot *sl = &a->slots[k];

	if (i < sl->cfg->n_devices && sl->hub_of[i] == i)
		return i; /* started from the running configuration, or nothing moved */
	for (size_t j = 0; j < sl->cfg->n_devices; j++)
		if (sl->hub_of[j] == i)
			return j;
	return SIZE_MAX;
}

/* ---- cameras: from the hub to MQTT, line protocol and the alerts ---- */

static void publish_camera(struct app *a, const struct hub_camera *c)
{
	char topic[256], *js;

	if (!a->mqtt)
		return;
	js = state_camera_json(c, a->cfg->site.id, ++a->cam_seq);
	if (!js)
		return;
	snprintf(topic, sizeof(topic), "camera/%s/state", c->cfg->id);
	mqtt_publish(a->mqtt, topic, js, strlen(js), true);
	free(js);
}

static void camera_line(struct app *a, const struct hub_camera *c)
{
	GString *buf;

	if (!a->influx)
		return;
	buf = g_string_sized_new(512);
	state_lp_camera_health(buf, c, a->cfg->site.id, now_ms());
	submit_lines(a, buf);
	g_string_free(buf, TRUE);
}

/* A camera changed in the hub: a condition that flipped becomes an alert (offline,
 * dark, frozen...) first, then camera/<id>/state goes out, and for a change of its state
 * (not a snapshot or a clip alone) its camera_health line. */
static void on_camera_change(struct hub *h, struct hub_camera *c, void *ud)
{
	struct app *a = ud;

	(void)h;
	for (int j = 0; j < HUB_CC_N && a->alerts; j++)
		if (c->cond_changed & (1u << j))
			alert_service_on_camera(a->alerts, c->cfg->id, hub_cam_cond_name(j),
						c->health.cond[j].active);
	publish_camera(a, c);
	if (c->changed & HUB_CAM_STATE)
		camera_line(a, c);
}

/* Every camera's state and camera_health line, with figures fresh from the cameras. */
static gboolean on_camera_beat(gpointer ud)
{
	struct app *a = ud;

	video_report_all(a->video);
	for (size_t i = 0; a->hub && i < hub_n_cameras(a->hub); i++) {
		publish_camera(a, hub_camera_at(a->hub, i));
		camera_line(a, hub_camera_at(a->hub, i));
	}
	return G_SOURCE_CONTINUE;
}

static void on_mqtt_connected(struct mqtt *m, void *ud)
{
	struct app *a = ud;
	/* The broker (or the county behind it) may have lost what was retained. */
	for (size_t i = 0; a->hub && i < hub_n_devices(a->hub); i++)
		publish_device(a, hub_device_at(a->hub, i));
	if (a->alerts)
		alert_service_on_connected(a->alerts);
	video_report_all(a->video);
	for (size_t i = 0; a->hub && i < hub_n_cameras(a->hub); i++)
		publish_camera(a, hub_camera_at(a->hub, i));
}

/* ---- delivery (docs/delivery.md): outbox, self metrics, sd_notify ---- */

/* The figures of this heartbeat, for the self metrics (outputs/selfmetrics.h). */
static void gather(struct app *a, int64_t t, struct selfmetrics *m)
{
	*m = (struct selfmetrics){.t_ms = t,
				  .started_ms = a->started_ms,
				  .devices = hub_n_devices(a->hub),
				  .have_mqtt = a->mqtt != NULL,
				  .have_outbox = a->outbox != NULL,
				  .have_store = a->alerts != NULL,
				  .limit = {a->cfg->mqtt.outbox_max, a->cfg->influx.outbox_max}};
	if (a->mqtt)
		mqtt_get_stats(a->mqtt, &m->mqtt);
	if (a->influx)
		influx_stats(a->influx, &m->lp);
	for (int i = 0; a->outbox && i < OUTBOX_NOUT; i++)
		outbox_get_stats(a->outbox, i, &m->ob[i]);
	if (a->alerts) {
		struct alert_service_stats as;
		alert_service_get_stats(a->alerts, &as);
		m->store = (struct selfmetrics_store){.ok = as.store_ok,
						      .held = as.held,
						      .unstored = as.unstored,
						      .failures = as.store_failures,
						      .failed_ms = as.store_failed_ms,
						      .error = as.store_error};
	}
}

static int open_outbox(struct app *a)
{
	char *path;
	int rc;

	if (g_mkdir_with_parents(a->cfg->storage.state_dir, 0750) < 0) {
		rc = -errno;
		log_err("state_dir %s: %s", a->cfg->storage.state_dir, strerror(-rc));
		return rc;
	}
	path = g_build_filename(a->cfg->storage.state_dir, "hallwatch.db", NULL);
	rc = outbox_open(path, &a->outbox);
	if (rc < 0)
		log_err("%s: cannot open the outbox", path);
	g_free(path);
	return rc;
}

static void outbox_limits(struct app *a)
{
	if (!a->outbox)
		return;
	outbox_set_limit(a->outbox, OUTBOX_MQTT, a->cfg->mqtt.outbox_max);
	outbox_set_limit(a->outbox, OUTBOX_LP, a->cfg->influx.outbox_max);
}

static gboolean on_watchdog(gpointer ud)
{
	(void)ud;
	sd_notify_send("WATCHDOG=1");
	return G_SOURCE_CONTINUE;
}

static void notify_ready(struct app *a)
{
	uint64_t us = sd_watchdog_usec();

	sd_notify_send("READY=1\nSTATUS=running");
	/* From the main loop: a stuck loop stops the pings and systemd restarts us. */
	if (us && !a->watchdog)
		a->watchdog = g_timeout_add((guint)MAX(us / 2000, 1), on_watchdog, a);
}

/* alert/<id> as it is when it goes out; nothing once the alert service is gone (a reload or
 * the stop destroy it before the MQTT client). */
static char *render_alert(void *ud, const char *subtopic, size_t idx, size_t *len)
{
	struct app *a = ud;

	(void)idx;
	return a->alerts ? alert_service_render(a->alerts, subtopic, len) : NULL;
}

static gboolean on_heartbeat(gpointer ud)
{
	struct app *a = ud;
	int64_t t = now_ms();
	GString *buf = g_string_sized_new(4096);
	struct selfmetrics m;
	char *detail;

	for (size_t i = 0; i < hub_n_devices(a->hub); i++) {
		struct hub_device *d = hub_device_at(a->hub, i);
		struct hub_dev_health h;
		if (!d->seen)
			continue;
		for (size_t k = 0; k < a->n_buses; k++) {
			size_t j = bus_index_of(a, k, i);

			if (j != SIZE_MAX && mb_bus_device_health(a->buses[k], j, &h)) {
				hub_set_health(a->hub, i, &h);
				break;
			}
		}
		publish_device(a, d);
		if (a->influx) {
			state_lp_points(buf, d, a->cfg->site.id, false, t);
			state_lp_health(buf, d, a->cfg->site.id, t);
		}
	}
	for (size_t i = 0; a->influx && i < a->n_buses; i++) {
		struct mb_bus_stats bs;
		mb_bus_get_stats(a->buses[i], &bs);
		selfmetrics_bus_line(
		    buf, a->cfg->site.id,
		    &(struct selfmetrics_bus){.id = mb_bus_config(a->buses[i])->id,
					      .connected = bs.link.connects > bs.link.disconnects,
					      .polls = bs.polls,
					      .requests = bs.link.requests,
					      .errors = bs.link.errors,
					      .connects = bs.link.connects,
					      .disconnects = bs.link.disconnects,
					      .late = bs.link.late,
					      .overruns = bs.overruns,
					      .commands = bs.commands},
		    t);
	}
	gather(a, t, &m);
	if (a->influx) {
		if (a->outbox)
			m.beat = ++a->beats; /* numbered from 1 per start: none is missing */
		selfmetrics_gateway_line(buf, a->cfg->site.id, &m);
		submit_lines(a, buf);
	}
	/* alert/<id> again, as the device states: a broker that lost a retained one has it. */
	if (a->alerts)
		alert_service_refresh(a->alerts, render_alert, a);
	/* The retained `status` carries the delivery counters, refreshed at every heartbeat. */
	detail = selfmetrics_delivery_json(&m);
	if (detail)
		mqtt_set_status_detail(a->mqtt, detail);
	free(detail);
	g_string_free(buf, TRUE);
	return G_SOURCE_CONTINUE;
}

static void stop_buses(struct app *a)
{
	for (size_t i = 0; i < a->n_buses; i++) {
		mb_bus_stop(a->buses[i]);
		free(a->slots[i].hub_of);
	}
	free(a->buses);
	a->buses = NULL;
	free(a->slots);
	a->slots = NULL;
	a->n_buses = 0;
}

/* Starts bus b of a->cfg as the next of a->buses (room for it is there); its devices' hub
 * indexes are their a->cfg indexes. */
static int start_bus(struct app *a, size_t b)
{
	struct bus_slot *sl = &a->slots[a->n_buses];
	int rc;

	sl->hub_of = malloc((a->cfg->n_devices ? a->cfg->n_devices : 1) * sizeof(*sl->hub_of));
	if (!sl->hub_of)
		return -ENOMEM;
	for (size_t i = 0; i < a->cfg->n_devices; i++)
		sl->hub_of[i] = a->cfg->devices[i].bus == &a->cfg->buses[b] ? i : SIZE_MAX;
	sl->cfg = a->cfg;
	sl->gen = ++a->generation;
	rc = mb_bus_start(a->cfg, b, sl->gen, NULL, on_result, a, &a->buses[a->n_buses]);
	if (rc < 0) {
		log_err("bus %s: cannot start: %s", a->cfg->buses[b].id, strerror(-rc));
		free(sl->hub_of);
		sl->hub_of = NULL;
		return rc;
	}
	a->n_buses++;
	return 0;
}

/* The clips the cameras keep for a device point that just turned on. */
static char **event_clips(const char *device, const char *point, void *ud)
{
	struct app *a = ud;
	char key[256];

	if (!a->video)
		return NULL;
	snprintf(key, sizeof(key), "%s:%s", device, point);
	return video_event_clips(a->video, key);
}

static void device_command_done(int rc, void *ud)
{
	(void)rc; /* the bus logged the outcome with who asked */
	(void)ud;
}

/* cmd/device: queues a profile command on the device's bus (authorised there by the
 * device's allow_commands; the router has checked the operator). */
static int device_command(struct router_req *q, void *ud)
{
	struct app *a = ud;
	const struct cmdreq *r = router_req_args(q);
	int rc;

	if (!r->device || !r->command)
		return router_req_fail(q, -EINVAL, NULL,
				       "cmd/device needs \"device\" and \"command\"");
	for (size_t i = 0; i < a->cfg->n_devices; i++) {
		if (strcmp(a->cfg->devices[i].id, r->device) != 0)
			continue;
		for (size_t k = 0; k < a->n_buses; k++) {
			if (strcmp(mb_bus_config(a->buses[k])->id, a->cfg->devices[i].bus_id) != 0)
				continue;
			rc = mb_bus_command(a->buses[k], bus_index_of(a, k, i), r->command, r->user,
					    device_command_done, NULL);
			if (rc == -ENOENT)
				return router_req_fail(q, rc, "unknown_command",
						       "device \"%s\" has no command \"%s\"",
						       r->device, r->command);
			if (rc == -EPERM)
				return router_req_fail(q, rc, NULL,
						       "\"%s\" is not in the allow_commands of "
						       "device \"%s\"",
						       r->command, r->device);
			if (rc == 0)
				router_req_message(q, "queued on bus %s",
						   a->cfg->devices[i].bus->id);
			return rc;
		}
	}
	return router_req_fail(q, -ENOENT, "unknown_device", "no device \"%s\"", r->device);
}

/* cmd/snapshot: the camera's latest key frame as a JPEG, written off the loop by video/
 * (docs/video.md, "Snapshots"); the reply follows once the file is written. */
static void snapshot_done(int rc, const char *path, void *ud)
{
	struct router_req *q = ud;
	const char *camera = router_req_args(q)->camera;

	if (rc == 0)
		router_req_record(q, "path", path);
	else if (rc == -ETIMEDOUT)
		router_req_fail(q, rc, NULL,
				"the snapshot of camera \"%s\" was not written within %d s", camera,
				VIDEO_SNAPSHOT_TIMEOUT_MS / 1000);
	else if (rc != -ECANCELED)
		router_req_fail(q, rc, NULL, "the snapshot of camera \"%s\" failed: %s", camera,
				strerror(-rc));
	router_done(q, rc, NULL);
}

static int snapshot_command(struct router_req *q, void *ud)
{
	struct app *a = ud;
	const char *camera = router_req_args(q)->camera;
	int rc;

	if (!camera)
		return router_req_fail(q, -EINVAL, NULL, "cmd/snapshot needs \"camera\"");
	rc = a->video ? video_snapshot_async(a->video, camera, NULL, snapshot_done, q) : -ENOENT;
	if (rc == -ENOENT)
		return router_req_fail(q, rc, "unknown_camera", "no camera \"%s\"", camera);
	if (rc == -EAGAIN)
		return router_req_fail(q, rc, NULL, "camera \"%s\" has sent no picture yet",
				       camera);
	if (rc == -EBUSY)
		return router_req_fail(q, rc, NULL, "%d snapshots are still being written",
				       VIDEO_SNAPSHOTS_MAX);
	if (rc < 0)
		return router_req_fail(q, rc, NULL, "the snapshot of camera \"%s\" failed: %s",
				       camera, strerror(-rc));
	return ROUTER_PENDING;
}

/* cmd/clip: a clip cut from the recordings without transcoding, on a thread of its own
 * (docs/video.md); the reply follows once the file is written. */
#define CLIP_MAX_S 600 /* longest clip on demand */

static int clip_time(const struct app *a, const json_t *v, int64_t *ms)
{
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		if (x < 0 || x > VIDEO_TIME_MAX_S)
			return -ERANGE;
		*ms = (int64_t)x * 1000;
		return 0;
	}
	return json_is_string(v) ? video_parse_time(json_string_value(v), a->cfg->site.timezone, ms)
				 : -EINVAL;
}

static void clip_done(int rc, const char *path, const char *missing, void *ud)
{
	struct router_req *q = ud;
	const char *camera = router_req_args(q)->camera;

	if (rc == 0) {
		router_req_record(q, "path", path);
		if (missing) { /* partial: what exists, and what does not */
			router_req_record(q, "missing", missing);
			router_req_message(q, "partial clip: %s", missing);
		}
	} else if ((rc == -ENOENT || rc == -ENODATA) && missing)
		router_req_fail(q, rc, "not_recorded", "%s%s", missing,
				rc == -ENODATA ? "; \"partial\": true cuts what exists" : "");
	else if (rc == -ENOENT)
		router_req_fail(q, rc, "not_recorded",
				"camera \"%s\" has no recording in that range", camera);
	else if (rc != -ECANCELED)
		router_req_fail(q, rc, NULL, "the clip of camera \"%s\" failed: %s", camera,
				strerror(-rc));
	router_done(q, rc, NULL);
}

static int clip_command(struct router_req *q, void *ud)
{
	struct app *a = ud;
	const struct cmdreq *r = router_req_args(q);
	const json_t *partial = json_object_get(r->doc, "partial");
	int64_t from, to;
	int rc;

	if (!r->camera)
		return router_req_fail(q, -EINVAL, NULL, "cmd/clip needs \"camera\"");
	if (partial && !json_is_boolean(partial))
		return router_req_fail(q, -EINVAL, NULL, "cmd/clip: \"partial\" is true or false");
	if (clip_time(a, json_object_get(r->doc, "from"), &from) < 0 ||
	    clip_time(a, json_object_get(r->doc, "to"), &to) < 0)
		return router_req_fail(q, -EINVAL, NULL,
				       "cmd/clip needs \"from\" and \"to\": " TIMEPARSE_FORMATS);
	if (to <= from || to - from > (int64_t)CLIP_MAX_S * 1000)
		return router_req_fail(q, -ERANGE, NULL,
				       "a clip runs from \"from\" to a later \"to\", at most %d s",
				       CLIP_MAX_S);
	rc = a->video ? video_clip_async(a->video, r->camera, from, to, json_is_true(partial), NULL,
					 clip_done, q)
		      : -ENOENT;
	if (rc == -ENOENT && a->video && video_has_camera(a->video, r->camera)) {
		char *none = video_clip_none_text(r->camera, from, to);

		router_req_fail(q, rc, "not_recorded", "%s", none);
		g_free(none);
		return rc;
	}
	if (rc == -ENOENT)
		return router_req_fail(q, rc, "unknown_camera", "no camera \"%s\"", r->camera);
	if (rc < 0)
		return router_req_fail(q, rc, NULL, "the clip of camera \"%s\" failed: %s",
				       r->camera, strerror(-rc));
	return ROUTER_PENDING;
}

/* cmd/recordings: the camera's segments in a range and the gaps between them (gaps of more
 * than a second: segments follow each other within a few ms). */
static int recordings_command(struct router_req *q, void *ud)
{
	struct app *a = ud;
	const struct cmdreq *r = router_req_args(q);
	struct rec_segment *segs = NULL;
	struct rec_span *sp = NULL;
	int64_t from, to, now = router_req_now(q);
	int n, k, gaps = 0;
	json_t *arr;

	if (!r->camera)
		return router_req_fail(q, -EINVAL, NULL, "cmd/recordings needs \"camera\"");
	if (clip_time(a, json_object_get(r->doc, "from"), &from) < 0 ||
	    clip_time(a, json_object_get(r->doc, "to"), &to) < 0 || to <= from)
		return router_req_fail(
		    q, -EINVAL, NULL,
		    "cmd/recordings needs \"from\" before \"to\": " TIMEPARSE_FORMATS);
	n = video_recordings(a->video, r->camera, from, to, &segs);
	if (n == -ENOENT)
		return router_req_fail(q, n, "unknown_camera", "no camera \"%s\"", r->camera);
	k = n < 0 ? n : rec_timeline(segs, n, from, to, now, 1000, &sp);
	if (k < 0) {
		rec_segments_free(segs, n > 0 ? n : 0);
		return router_req_fail(q, k, NULL, "the recording index cannot be read");
	}
	arr = json_array();
	for (int i = 0; i < k; i++) {
		json_t *o = json_pack("{s:I, s:I}", "start", (json_int_t)sp[i].start_ms, "end",
				      (json_int_t)sp[i].end_ms);
		if (sp[i].seg < 0) {
			json_object_set_new(o, "gap", json_true());
			gaps++;
		} else {
			json_object_set_new(o, "path", json_string(segs[sp[i].seg].path));
			json_object_set_new(o, "bytes", json_integer(segs[sp[i].seg].bytes));
			/* open: being written; unclosed: left open by a recorder that failed */
			json_object_set_new(
			    o, !segs[sp[i].seg].end_ms && sp[i].seg < n - 1 ? "unclosed" : "open",
			    json_boolean(!segs[sp[i].seg].end_ms));
		}
		json_array_append_new(arr, o);
	}
	router_req_reply(q, "items", arr);
	router_req_message(q, "%d segment(s), %d gap(s)", n, gaps);
	free(sp);
	rec_segments_free(segs, n);
	return 0;
}

/* The command router and the owners of its verbs (docs/commands.md). */
static int start_router(struct app *a)
{
	int rc = router_create(a->cfg, a->mqtt, &a->router);

	if (rc == 0)
		rc = alert_service_attach_router(a->alerts, a->router);
	if (rc == 0)
		rc = router_add(a->router, "device", ROUTER_OPERATOR, 0, device_command, a);
	if (rc == 0)
		rc = router_add(a->router, "snapshot", ROUTER_OPERATOR, 0, snapshot_command, a);
	if (rc == 0)
		rc = router_add(a->router, "clip", ROUTER_OPERATOR, 0, clip_command, a);
	if (rc == 0)
		rc = router_add(a->router, "recordings", ROUTER_VIEWER, ROUTER_READ_ONLY,
				recordings_command, a);
	if (rc < 0)
		log_err("commands: %s", strerror(-rc));
	else
		web_attach(a->web, a->cfg, a->hub, a->router);
	return rc;
}

static void stop_router(struct app *a)
{
	web_detach(a->web);
	router_destroy(a->router);
	a->router = NULL;
}

/* A profile command for device i on its bus (the test runner's). */
static int bus_command(size_t i, const char *command, const char *who, void *ud)
{
	struct app *a = ud;

	/* By the bus's id and its own index of the device, as cmd/device: a bus kept across a
	 * reload runs on with the configuration it was started from. */
	for (size_t k = 0; k < a->n_buses; k++)
		if (strcmp(mb_bus_config(a->buses[k])->id, a->cfg->devices[i].bus_id) == 0)
			return mb_bus_command(a->buses[k], bus_index_of(a, k, i), command, who,
					      device_command_done, NULL);
	return -ENODEV;
}

/* Inspections (gateway/inspections.c): after the alert service and the router it raises
 * alerts through and adds its verbs to; stopped before them. */
static int start_inspections(struct app *a)
{
	int rc = insp_service_create(a->cfg, a->alerts, a->mqtt, a->influx, &a->insp);

	if (rc == 0)
		rc = insp_service_attach_router(a->insp, a->router);
	if (rc == 0)
		rc = eltest_create(a->cfg, a->insp, a->hub, bus_command, a, &a->eltest);
	if (rc == 0)
		rc = checklist_create(a->cfg, a->insp, a->hub, a->router, &a->checklist);
	if (rc == 0)
		rc = patrol_create(a->cfg, a->insp, a->video, a->hub, a->alerts, a->mqtt,
				   &a->patrol);
	if (rc == 0)
		rc = patrol_attach_router(a->patrol, a->router);
	if (rc < 0)
		log_err("inspections: %s", strerror(-rc));
	return rc;
}

static void stop_inspections(struct app *a)
{
	eltest_destroy(a->eltest);
	a->eltest = NULL;
	checklist_destroy(a->checklist);
	a->checklist = NULL;
	patrol_destroy(a->patrol);
	a->patrol = NULL;
	insp_service_destroy(a->insp);
	a->insp = NULL;
}

/* The hub of a->cfg and its listeners: before the sources that report into it. */
static int start_hub(struct app *a)
{
	int rc = hub_create(a->cfg, &a->hub);
	if (rc < 0)
		return rc;
	hub_add_listener(a->hub, on_change, a);
	hub_add_camera_listener(a->hub, on_camera_change, a);
	return 0;
}

/* Builds the alert service and the buses for a->cfg (the hub is there). */
static int start_devices(struct app *a)
{
	int rc = alert_service_create(a->cfg, a->mqtt, &a->alerts);
	if (rc < 0) {
		log_err("alerts: %s", strerror(-rc));
		return rc;
	}
	alert_service_set_clips(a->alerts, event_clips, a);
	alert_service_set_hub(a->alerts, a->hub);
	rc = start_router(a);
	if (rc == 0)
		rc = start_inspections(a);
	if (rc < 0)
		return rc;
	a->buses = calloc(a->cfg->n_buses ? a->cfg->n_buses : 1, sizeof(*a->buses));
	a->slots = calloc(a->cfg->n_buses ? a->cfg->n_buses : 1, sizeof(*a->slots));
	if (!a->buses || !a->slots)
		return -ENOMEM;
	for (size_t i = 0; i < a->cfg->n_buses; i++) {
		rc = start_bus(a, i);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int start_outputs(struct app *a, bool mqtt, bool influx)
{
	int rc;
	if (mqtt && a->cfg->mqtt.enabled) {
		rc = mqtt_create(&a->cfg->mqtt, a->cfg->site.id, NULL, on_mqtt_connected, a,
				 &a->mqtt);
		if (rc < 0) {
			log_err("mqtt: %s", strerror(-rc));
			return rc;
		}
		if (a->outbox)
			mqtt_set_outbox(a->mqtt, a->outbox);
	}
	if (influx && a->cfg->influx.enabled) {
		rc = a->outbox ? influx_create_durable(&a->cfg->influx, a->outbox, &a->influx)
			       : influx_create(&a->cfg->influx, &a->influx);
		if (rc < 0) {
			log_err("influx: %s", strerror(-rc));
			return rc;
		}
	}
	rc = video_create(a->cfg, NULL, a->hub, &a->video);
	if (rc < 0) {
		log_err("video: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

static void stop_outputs(struct app *a)
{
	video_destroy(a->video);
	a->video = NULL;
	influx_destroy(a->influx, 2000);
	a->influx = NULL;
	mqtt_destroy(a->mqtt, 1000);
	a->mqtt = NULL;
}

static gboolean on_term(gpointer ud)
{
	struct app *a = ud;
	log_info("stopping");
	g_main_loop_quit(a->loop);
	return G_SOURCE_CONTINUE;
}

static void arm_heartbeat(struct app *a)
{
	if (a->heartbeat)
		g_source_remove(a->heartbeat);
	a->heartbeat = 0;
	if (a->cfg->mqtt.heartbeat_s > 0)
		a->heartbeat =
		    g_timeout_add_seconds((guint)a->cfg->mqtt.heartbeat_s, on_heartbeat, a);
	if (a->camera_beat)
		g_source_remove(a->camera_beat);
	a->camera_beat = 0;
	/* Cameras are republished even with the gateway's heartbeat off. */
	if (a->cfg->n_cameras)
		a->camera_beat = g_timeout_add_seconds(
		    a->cfg->mqtt.heartbeat_s > 0 ? (guint)a->cfg->mqtt.heartbeat_s : 60,
		    on_camera_beat, a);
}

/* A reload's first half: everything made for the running configuration goes but the
 * outputs, which keep their session and queue when their settings do not change (keep_*).
 * Late results of the stopped buses are dropped as they come (the generation moves on). */
static void stop_for_reload(struct app *a, bool keep_mqtt, bool keep_influx)
{
	/* A session that goes: every command it received is handled (answered, or cancelled
	 * below) while it can still be answered. A kept one keeps them for the new router. */
	if (!keep_mqtt)
		mqtt_stop_commands(a->mqtt, 1000);
	stop_buses(a);
	stop_inspections(a);
	stop_router(a);
	alert_service_destroy(a->alerts);
	a->alerts = NULL;
	video_destroy(a->video); /* before the hub it reports into */
	a->video = NULL;
	hub_destroy(a->hub);
	a->hub = NULL;
	if (!keep_influx) {
		influx_destroy(a->influx, 2000);
		a->influx = NULL;
	}
	if (!keep_mqtt) {
		mqtt_destroy(a->mqtt, 1000);
		a->mqtt = NULL;
	}
	/* Nothing started from an earlier configuration runs now. */
	if (a->held)
		g_ptr_array_set_size(a->held, 0);
}

/* A reload whose configuration loaded but did not start (a state_dir that cannot be created,
 * an output that cannot be made): what it started goes, outputs it kept are bound to the old
 * configuration again, and the old configuration starts as it ran before. False when even the
 * old one does not start. */
static bool reload_rollback(struct app *a, struct hw_config *old, bool keep_mqtt, bool keep_influx)
{
	struct hw_config *nc = a->cfg;

	stop_for_reload(a, keep_mqtt, keep_influx);
	if (keep_mqtt)
		mqtt_rebind(a->mqtt, &old->mqtt, old->site.id);
	a->cfg = old;
	outbox_limits(a);
	config_free(nc);
	return start_hub(a) == 0 && start_outputs(a, !keep_mqtt, !keep_influx) == 0 &&
	       start_devices(a) == 0;
}

/* ---- reload by difference (docs/configuration.md, "Reload") ---- */

static void log_setting(const char *key, const char *was, const char *now, void *ud)
{
	++*(size_t *)ud;
	if (was && now)
		log_info("reload: %s %s -> %s", key, was, now);
	else
		log_info("reload: %s changed", key);
}

/* Gathers the names of the settings that differ: "uri, dark_ms". */
static void name_setting(const char *key, const char *was, const char *now, void *ud)
{
	GString *g = ud;

	(void)was;
	(void)now;
	g_string_append_printf(g, "%s%s", g->len ? ", " : "", key);
}

/* What differs between two elements of a list, for the log (a static buffer: one at a time). */
static const char *what_changed(const char *list, const void *was, const void *now)
{
	static char buf[256];
	GString *g = g_string_new(NULL);

	config_item_diff(list, was, now, name_setting, g);
	g_strlcpy(buf, g->len ? g->str : "?", sizeof(buf));
	g_string_free(g, TRUE);
	return buf;
}

/* Whether c (a configuration a reload replaced) still has something running: a bus started
 * from it, or a hub entry (a device's, whose layout names its profile's points, or a
 * camera's, whose camera runs on its settings) pointing into it. */
static bool cfg_in_use(const struct app *a, const struct hw_config *c)
{
	for (size_t k = 0; k < a->n_buses; k++)
		if (a->slots[k].cfg == c)
			return true;
	for (size_t i = 0; a->hub && i < hub_n_devices(a->hub); i++) {
		const struct cfg_device *d = hub_device_at(a->hub, i)->cfg;
		if (d >= c->devices && d < c->devices + c->n_devices)
			return true;
	}
	for (size_t i = 0; a->hub && i < hub_n_cameras(a->hub); i++) {
		const struct cfg_camera *k = hub_camera_at(a->hub, i)->cfg;
		if (k >= c->cameras && k < c->cameras + c->n_cameras)
			return true;
	}
	return false;
}

/* The running bus of that id, or -1. */
static ssize_t running_bus(const struct app *a, const char *id)
{
	for (size_t k = 0; k < a->n_buses; k++)
		if (strcmp(mb_bus_config(a->buses[k])->id, id) == 0)
			return (ssize_t)k;
	return -1;
}

/* Whether the running bus k goes on unchanged under nc's bus b: the same settings and the same
 * devices, in the same order, each with the same settings and profile. */
static bool bus_kept(const struct app *a, size_t k, const struct hw_config *nc, size_t b)
{
	const struct bus_slot *sl = &a->slots[k];
	const struct cfg_bus *nb = &nc->buses[b];
	size_t j = 0;

	if (!config_bus_same(mb_bus_config(a->buses[k]), nb))
		return false;
	for (size_t i = 0; i < nc->n_devices; i++) {
		if (nc->devices[i].bus != nb)
			continue;
		while (j < sl->cfg->n_devices && sl->hub_of[j] == SIZE_MAX)
			j++;
		if (j == sl->cfg->n_devices ||
		    strcmp(sl->cfg->devices[j].id, nc->devices[i].id) != 0 ||
		    !config_device_same(&sl->cfg->devices[j], &nc->devices[i]))
			return false;
		j++;
	}
	while (j < sl->cfg->n_devices && sl->hub_of[j] == SIZE_MAX)
		j++;
	return j == sl->cfg->n_devices;
}

static const struct hub_camera *running_camera(struct app *a, const char *id)
{
	for (size_t i = 0; a->hub && i < hub_n_cameras(a->hub); i++)
		if (strcmp(hub_camera_at(a->hub, i)->cfg->id, id) == 0)
			return hub_camera_at(a->hub, i);
	return NULL;
}

static const struct cfg_rule *find_rule(const struct hw_config *c, const char *name,
					const char *device)
{
	for (size_t i = 0; i < c->n_rules; i++)
		if (strcmp(c->rules[i].name, name) == 0 && strcmp(c->rules[i].device, device) == 0)
			return &c->rules[i];
	return NULL;
}

/* An empty retained message: what removes a retained state from the broker. */
static char *render_empty(void *ud, const char *subtopic, size_t idx, size_t *len)
{
	(void)ud;
	(void)subtopic;
	(void)idx;
	*len = 0;
	return strdup("");
}

/* Clears the retained state of a device or camera that left the configuration (a state of it
 * still waiting to go out is replaced). */
static void clear_retained(struct app *a, const char *kind, const char *id)
{
	char topic[256];

	if (!a->mqtt)
		return;
	snprintf(topic, sizeof(topic), "%s/%s/state", kind, id);
	mqtt_publish_lazy(a->mqtt, topic, render_empty, NULL, 0);
}

/* The reload of nc when the site, the state_dir and the MQTT session stay: what changed
 * restarts, the rest runs on (buses, cameras, hub entries, the alert engine). Returns 0, or
 * -errno with the daemon in a state the caller rolls back from (reload_rollback). *changes
 * counts what was logged. */
static int reload_in_place(struct app *a, struct hw_config *nc, bool keep_influx, size_t *changes)
{
	struct hw_config *old = a->cfg;
	bool *keep_dev = calloc(nc->n_devices ? nc->n_devices : 1, sizeof(bool));
	bool *keep_cam = calloc(nc->n_cameras ? nc->n_cameras : 1, sizeof(bool));
	bool *bus_keep = calloc(nc->n_buses ? nc->n_buses : 1, sizeof(bool));
	bool *rule_new = calloc(nc->n_rules ? nc->n_rules : 1, sizeof(bool));
	struct mb_bus **buses = calloc(nc->n_buses ? nc->n_buses : 1, sizeof(*buses));
	struct bus_slot *slots = calloc(nc->n_buses ? nc->n_buses : 1, sizeof(*slots));
	size_t n = 0;
	int rc = -ENOMEM;

	a->cfg = nc; /* from here on a failure rolls back from nc (reload_rollback) */
	if (!keep_dev || !keep_cam || !bus_keep || !rule_new || !buses || !slots)
		goto out;
	/* Buses: the unchanged ones keep running, with their devices' hub entries. */
	for (size_t b = 0; b < nc->n_buses; b++) {
		ssize_t k = running_bus(a, nc->buses[b].id);

		bus_keep[b] = k >= 0 && bus_kept(a, (size_t)k, nc, b);
		for (size_t i = 0; i < nc->n_devices; i++)
			if (nc->devices[i].bus == &nc->buses[b])
				keep_dev[i] = bus_keep[b];
		if (k < 0) {
			log_info("reload: bus %s added", nc->buses[b].id);
			++*changes;
		} else if (!bus_keep[b]) {
			const struct cfg_bus *ob = mb_bus_config(a->buses[k]);
			log_info("reload: bus %s changed (%s), restarted", nc->buses[b].id,
				 config_bus_same(ob, &nc->buses[b])
				     ? "its devices"
				     : what_changed("buses", ob, &nc->buses[b]));
			++*changes;
		}
	}
	for (size_t k = 0; k < a->n_buses; k++) {
		const char *id = mb_bus_config(a->buses[k])->id;
		size_t b;

		for (b = 0; b < nc->n_buses && strcmp(nc->buses[b].id, id) != 0; b++)
			;
		if (b < nc->n_buses && bus_keep[b]) {
			buses[n] = a->buses[k];
			slots[n++] = a->slots[k];
			continue;
		}
		if (b == nc->n_buses) {
			log_info("reload: bus %s removed", id);
			++*changes;
		}
		mb_bus_stop(a->buses[k]); /* its late results match no slot: dropped */
		free(a->slots[k].hub_of);
	}
	free(a->buses);
	free(a->slots);
	a->buses = buses;
	a->slots = slots;
	a->n_buses = n;
	buses = NULL;
	slots = NULL;
	/* Devices: added, removed, changed (those restart with their bus). */
	for (size_t i = 0; i < nc->n_devices; i++) {
		const struct cfg_device *o = NULL;

		for (size_t j = 0; j < hub_n_devices(a->hub) && !o; j++)
			if (strcmp(hub_device_at(a->hub, j)->cfg->id, nc->devices[i].id) == 0)
				o = hub_device_at(a->hub, j)->cfg;
		if (!o) {
			log_info("reload: device %s added", nc->devices[i].id);
			++*changes;
		} else if (!config_device_same(o, &nc->devices[i]) ||
			   strcmp(o->bus_id, nc->devices[i].bus_id) != 0) {
			log_info("reload: device %s changed (%s), restarted with bus %s",
				 nc->devices[i].id, what_changed("devices", o, &nc->devices[i]),
				 nc->devices[i].bus_id);
			++*changes;
		}
	}
	for (size_t j = 0; j < hub_n_devices(a->hub); j++) {
		const char *id = hub_device_at(a->hub, j)->cfg->id;
		size_t i;

		for (i = 0; i < nc->n_devices && strcmp(nc->devices[i].id, id) != 0; i++)
			;
		if (i == nc->n_devices) {
			log_info("reload: device %s removed, its retained state cleared", id);
			clear_retained(a, "device", id);
			++*changes;
		}
	}
	/* Cameras: the unchanged ones keep their session and recording. */
	for (size_t i = 0; i < nc->n_cameras; i++) {
		const struct hub_camera *c = running_camera(a, nc->cameras[i].id);

		keep_cam[i] = c && config_camera_same(c->cfg, &nc->cameras[i]);
		if (!c) {
			log_info("reload: camera %s added", nc->cameras[i].id);
			++*changes;
		} else if (!keep_cam[i]) {
			log_info("reload: camera %s changed (%s), restarted", nc->cameras[i].id,
				 what_changed("cameras", c->cfg, &nc->cameras[i]));
			++*changes;
		}
	}
	for (size_t j = 0; a->hub && j < hub_n_cameras(a->hub); j++) {
		const char *id = hub_camera_at(a->hub, j)->cfg->id;
		size_t i;

		for (i = 0; i < nc->n_cameras && strcmp(nc->cameras[i].id, id) != 0; i++)
			;
		if (i == nc->n_cameras) {
			log_info("reload: camera %s removed, its retained state cleared", id);
			clear_retained(a, "camera", id);
			++*changes;
		}
	}
	/* Rules: the engine keeps its alerts; a changed or added rule is evaluated at once on the
	 * devices it names (below). */
	for (size_t i = 0; i < nc->n_rules; i++) {
		const struct cfg_rule *o = find_rule(old, nc->rules[i].name, nc->rules[i].device);

		if (!o || !config_rule_same(o, &nc->rules[i]))
			rule_new[i] = true;
		if (!o) {
			log_info("reload: rule %s (%s) added", nc->rules[i].name,
				 nc->rules[i].device);
			++*changes;
		} else if (!config_rule_same(o, &nc->rules[i])) {
			log_info("reload: rule %s (%s) changed (%s)", nc->rules[i].name,
				 nc->rules[i].device, what_changed("rules", o, &nc->rules[i]));
			++*changes;
		}
	}
	for (size_t i = 0; i < old->n_rules; i++)
		if (!find_rule(nc, old->rules[i].name, old->rules[i].device)) {
			log_info("reload: rule %s (%s) removed", old->rules[i].name,
				 old->rules[i].device);
			++*changes;
		}
	/* The inspection service holds the configuration, the router and the line protocol
	 * client: made again from the store (its tasks and tickets live there), after the router.
	 */
	stop_inspections(a);
	stop_router(a);
	rc = hub_reconfigure(a->hub, nc, keep_dev, keep_cam);
	if (rc < 0)
		goto out;
	/* The kept buses' devices are at their new hub places. */
	for (size_t k = 0; k < a->n_buses; k++) {
		struct bus_slot *sl = &a->slots[k];

		for (size_t j = 0; j < sl->cfg->n_devices; j++) {
			if (sl->hub_of[j] == SIZE_MAX)
				continue;
			sl->hub_of[j] = SIZE_MAX;
			for (size_t i = 0; i < nc->n_devices; i++)
				if (strcmp(nc->devices[i].id, sl->cfg->devices[j].id) == 0)
					sl->hub_of[j] = i;
		}
	}
	outbox_limits(a);
	if (!keep_influx) {
		influx_destroy(a->influx, 2000);
		a->influx = NULL;
		if (nc->influx.enabled) {
			rc = a->outbox ? influx_create_durable(&nc->influx, a->outbox, &a->influx)
				       : influx_create(&nc->influx, &a->influx);
			if (rc < 0) {
				log_err("influx: %s", strerror(-rc));
				goto out;
			}
		}
	}
	if (a->mqtt)
		mqtt_rebind(a->mqtt, &nc->mqtt, nc->site.id);
	rc = video_reconfigure(a->video, nc, a->hub, keep_cam);
	if (rc < 0)
		goto out;
	alert_service_rebind(a->alerts, nc);
	for (size_t i = 0; i < hub_n_devices(a->hub); i++) {
		const struct hub_device *d = hub_device_at(a->hub, i);
		bool named = false;

		for (size_t r = 0; r < nc->n_rules && !named; r++)
			named = rule_new[r] && (strcmp(nc->rules[r].device, "*") == 0 ||
						strcmp(nc->rules[r].device, d->cfg->id) == 0);
		if (named)
			alert_service_reevaluate(a->alerts, d);
	}
	rc = start_router(a);
	if (rc == 0)
		rc = start_inspections(a);
	if (rc < 0)
		goto out;
	/* The new and changed buses, now that the hub has their devices. */
	rc = -ENOMEM;
	buses = realloc(a->buses, (nc->n_buses ? nc->n_buses : 1) * sizeof(*buses));
	if (!buses)
		goto out;
	a->buses = buses;
	buses = NULL;
	slots = realloc(a->slots, (nc->n_buses ? nc->n_buses : 1) * sizeof(*slots));
	if (!slots)
		goto out;
	a->slots = slots;
	slots = NULL;
	for (size_t b = 0; b < nc->n_buses; b++) {
		if (bus_keep[b])
			continue;
		rc = start_bus(a, b);
		if (rc < 0)
			goto out;
	}
	/* What the replaced configurations no longer run is freed. */
	g_ptr_array_add(a->held, old);
	for (guint i = a->held->len; i-- > 0;)
		if (!cfg_in_use(a, a->held->pdata[i]))
			g_ptr_array_remove_index(a->held, i);
	rc = 0;
out:
	free(buses);
	free(slots);
	free(bus_keep);
	free(rule_new);
	free(keep_cam);
	free(keep_dev);
	return rc;
}

/* SIGHUP: parse the file into a fresh config; swap it in only if it is valid. */
static gboolean on_hup(gpointer ud)
{
	struct app *a = ud;
	struct cfg_errors errs = {0};
	struct hw_config *nc = NULL;
	struct hw_config *old = a->cfg;

	log_info("SIGHUP: reloading %s", a->config_path);
	if (config_load(a->config_path, &nc, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			log_err("%s", errs.msgs[i]);
		log_err("reload refused: %zu error(s); still running on the previous configuration",
			errs.n);
		cfg_errors_clear(&errs);
		return G_SOURCE_CONTINUE;
	}
	/* Outputs whose settings did not change keep their session and queue. */
	bool keep_mqtt = a->mqtt && strcmp(old->site.id, nc->site.id) == 0 &&
			 config_section_same(old, nc, "mqtt");
	bool keep_influx = a->influx && config_section_same(old, nc, "influx");
	size_t changes = 0;
	static const char *const sections[] = {"site",	  "mqtt", "influx",
					       "storage", "http", "alerts"};

	for (size_t i = 0; i < G_N_ELEMENTS(sections); i++)
		config_section_diff(old, nc, sections[i], log_setting, &changes);
	/* The same site, state_dir and MQTT session: what changed is applied in place. */
	if (strcmp(old->site.id, nc->site.id) == 0 &&
	    strcmp(old->storage.state_dir, nc->storage.state_dir) == 0 &&
	    (keep_mqtt || (!a->mqtt && !nc->mqtt.enabled))) {
		bool influx_stays = keep_influx || (!a->influx && !nc->influx.enabled);
		/* old may be freed by the reload (nothing of it runs on): decided before */
		bool rearm = old->mqtt.heartbeat_s != nc->mqtt.heartbeat_s ||
			     !old->n_cameras != !nc->n_cameras;

		if (reload_in_place(a, nc, influx_stays, &changes) < 0) {
			log_err("reload failed: the new configuration does not start; back to the "
				"previous one");
			if (!reload_rollback(a, old, keep_mqtt, false)) {
				log_err("the previous configuration does not start again either: "
					"stopping");
				a->exit_code = 1;
				g_main_loop_quit(a->loop);
				return G_SOURCE_CONTINUE;
			}
			arm_heartbeat(a);
			log_info("still running on the previous configuration");
			sd_notify_send("READY=1");
			return G_SOURCE_CONTINUE;
		}
		if (rearm)
			arm_heartbeat(a);
		log_info("configuration reloaded: %zu bus(es), %zu device(s), %zu camera(s); %zu "
			 "change(s) applied, the rest runs on",
			 nc->n_buses, nc->n_devices, nc->n_cameras, changes);
		statedir_check(nc->storage.state_dir);
		sd_notify_send("READY=1");
		return G_SOURCE_CONTINUE;
	}
	log_info(
	    "reload: the site, the state_dir or the MQTT session changed: everything restarts");

	/* Results of the stopped buses may still sit in the loop (mqtt_destroy runs it): they
	 * are for the old configuration's devices, and are dropped as they come. */
	stop_for_reload(a, keep_mqtt, keep_influx);
	if (keep_mqtt)
		mqtt_rebind(a->mqtt, &nc->mqtt, nc->site.id);
	a->cfg = nc;
	outbox_limits(a);
	if (start_hub(a) < 0 || start_outputs(a, !keep_mqtt, !keep_influx) < 0 ||
	    start_devices(a) < 0) {
		log_err("reload failed: the new configuration does not start; back to the "
			"previous one");
		if (!reload_rollback(a, old, keep_mqtt, keep_influx)) {
			log_err("the previous configuration does not start again either: stopping");
			a->exit_code = 1;
			g_main_loop_quit(a->loop);
			return G_SOURCE_CONTINUE;
		}
		arm_heartbeat(a);
		log_info("still running on the previous configuration");
		sd_notify_send("READY=1");
		return G_SOURCE_CONTINUE;
	}
	arm_heartbeat(a);
	config_free(old);
	log_info("configuration reloaded: %zu bus(es), %zu device(s)", nc->n_buses, nc->n_devices);
	statedir_check(nc->storage.state_dir);
	sd_notify_send("READY=1");
	return G_SOURCE_CONTINUE;
}

/* The local web console (web/, docs/http.md): made once, attached to each (re)load's hub
 * and router by start_router. */
static int start_web(struct app *a)
{
	int rc = web_create(a->cfg, &a->web);

	if (rc < 0)
		log_err("http: %s", strerror(-rc));
	return rc;
}

/* The test clock (core/clock.h, docs/inspections.md): HALLWATCH_TEST_CLOCK is a switch of
 * the test suite, never of production; said loudly when it is on. -EINVAL for a value it
 * cannot read. */
static int start_test_clock(const struct hw_config *cfg)
{
	const char *tc = getenv("HALLWATCH_TEST_CLOCK");
	int64_t start = 0;
	char at[48];
	int on = hw_clock_switch(tc, cfg->site.timezone, &start);

	if (on < 0) {
		log_err("HALLWATCH_TEST_CLOCK=\"%s\" is not 1 or a time (%s)", tc,
			TIMEPARSE_FORMATS);
		return on;
	}
	if (on) {
		hw_clock_enable_test(start);
		log_warn(
		    "HALLWATCH_TEST_CLOCK is set: the inspections run on a TEST CLOCK, now %s, "
		    "which cmd/clock moves; never use it in production",
		    timeparse_format(hw_clock_ms(), cfg->site.timezone, at, sizeof(at)));
	}
	return 0;
}

static int cmd_run(const char *path)
{
	struct app a = {0};
	struct cfg_errors errs = {0};
	struct statedir_lock *lock = NULL;
	long holder;
	int rc;

	/* One malloc arena for every thread: glibc otherwise gives each bus worker one of
	 * its own, and each keeps its free memory (about 100 KB a bus) resident. The
	 * threads allocate little once running, and small blocks come from per-thread
	 * caches without the arena's lock. */
	mallopt(M_ARENA_MAX, 1);
	/* Files 0640 and directories 0750 at most, whoever starts the daemon (a unit's stricter
	 * UMask= stays): the database, recordings and snapshots are nobody else's to read. */
	mode_t um = statedir_umask();
	log_info("files are created with umask %04o", (unsigned)um);

	if (config_load(path, &a.cfg, &errs) < 0) {
		/* logged, so that under systemd they are errors in the journal */
		for (size_t i = 0; i < errs.n; i++)
			log_err("%s", errs.msgs[i]);
		cfg_errors_clear(&errs);
		return 1;
	}
	log_info("hallwatch %s starting: site %s, %zu bus(es), %zu device(s)", HW_VERSION,
		 a.cfg->site.id, a.cfg->n_buses, a.cfg->n_devices);
	if (start_test_clock(a.cfg) < 0) {
		config_free(a.cfg);
		return 1;
	}
	/* One daemon per state directory: before anything opens what is in it. */
	rc = statedir_lock(a.cfg->storage.state_dir, &lock, &holder);
	if (rc < 0) {
		if (rc == -EBUSY && holder)
			log_err("state directory %s is in use by hallwatch PID %ld; stop it first",
				a.cfg->storage.state_dir, holder);
		else if (rc == -EBUSY)
			log_err("state directory %s is in use by another hallwatch; stop it first",
				a.cfg->storage.state_dir);
		else
			log_err("state directory %s cannot be locked: %s", a.cfg->storage.state_dir,
				strerror(-rc));
		config_free(a.cfg);
		return 1;
	}
	a.config_path = g_strdup(path);
	a.held = g_ptr_array_new_with_free_func((GDestroyNotify)config_free);
	a.started_ms = now_ms();
	a.loop = g_main_loop_new(NULL, FALSE);
	signal(SIGPIPE, SIG_IGN);
	g_unix_signal_add(SIGTERM, on_term, &a);
	g_unix_signal_add(SIGINT, on_term, &a);
	g_unix_signal_add(SIGHUP, on_hup, &a);

	if ((a.cfg->mqtt.enabled || a.cfg->influx.enabled) && open_outbox(&a) < 0) {
		a.exit_code = 1;
		goto out;
	}
	outbox_limits(&a);
	if (start_web(&a) < 0 || start_hub(&a) < 0 || start_outputs(&a, true, true) < 0 ||
	    start_devices(&a) < 0) {
		a.exit_code = 1;
		goto out;
	}
	arm_heartbeat(&a);
	statedir_check(a.cfg->storage.state_dir);
	notify_ready(&a);
	g_main_loop_run(a.loop);
	sd_notify_send("STOPPING=1");
out:
	/* Every command received is handled (answered, or cancelled below) before the end. */
	mqtt_stop_commands(a.mqtt, 1000);
	stop_buses(&a);
	/* Results the workers handed over before stopping still reach the outputs: each
	 * holds its own layout, so a stopped bus leaves none dangling. */
	while (g_main_context_iteration(NULL, FALSE))
		;
	stop_inspections(&a);
	stop_router(&a);
	web_destroy(a.web);
	alert_service_destroy(a.alerts);
	a.alerts = NULL; /* the heartbeat may still run while the outputs stop */
	stop_outputs(&a);
	hub_destroy(a.hub);
	g_ptr_array_free(a.held, TRUE);
	if (a.heartbeat)
		g_source_remove(a.heartbeat);
	if (a.camera_beat)
		g_source_remove(a.camera_beat);
	if (a.watchdog)
		g_source_remove(a.watchdog);
	outbox_close(a.outbox);
	g_main_loop_unref(a.loop);
	config_free(a.cfg);
	g_free(a.config_path);
	statedir_unlock(lock);
	log_info("stopped");
	return a.exit_code;
}

int main(int argc, char **argv)
{
	hw_log_init();
	return cli_main(argc, argv, cmd_run);
}

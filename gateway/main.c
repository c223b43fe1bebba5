/* hallwatch: the command line and the daemon. Owns the main loop, the loaded
 * configuration and the wiring between buses, hub, MQTT and line protocol.
 * Everything here runs on the main thread. */
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

#include "alerts/cli.h"
#include "alerts/service.h"
#include "devices/bus.h"
#include "gateway/config.h"
#include "gateway/hub.h"
#include "gateway/influx.h"
#include "gateway/lineproto.h"
#include "gateway/log.h"
#include "gateway/mqtt.h"
#include "gateway/outbox.h"
#include "gateway/sdnotify.h"
#include "gateway/state.h"
#include "gateway/statedir.h"
#include "video/video.h"

struct app {
	GMainLoop *loop;
	char *config_path;
	struct hw_config *cfg;
	struct hub *hub;
	struct mb_bus **buses;
	size_t n_buses;
	unsigned generation;
	struct mqtt *mqtt;
	struct influx *influx;
	struct outbox *outbox;	      /* durable delivery of both outputs (docs/delivery.md) */
	guint watchdog;		      /* sd_notify WATCHDOG=1 timer */
	uint64_t beats;		      /* `gateway` points written since start */
	struct alert_service *alerts; /* recreated with the hub */
	struct video *video;	      /* cameras; recreated on reload */
	uint64_t seq;		      /* per-gateway sequence number of state messages */
	guint heartbeat;
	int64_t started_ms;
	int64_t last_snapshot_ms; /* names a snapshot file: one per ms */
	int exit_code;
};

static int64_t now_ms(void)
{
	return g_get_real_time() / 1000;
}

static void print_errors(const struct cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(stderr, "%s\n", e->msgs[i]);
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
	if (a->hub && r->generation == a->generation)
		hub_apply(a->hub, r);
	mb_poll_result_free(r);
}

static void on_mqtt_connected(struct mqtt *m, void *ud)
{
	struct app *a = ud;
	/* The broker (or the county behind it) may have lost what was retained. */
	for (size_t i = 0; a->hub && i < hub_n_devices(a->hub); i++)
		publish_device(a, hub_device_at(a->hub, i));
	if (a->alerts)
		alert_service_on_connected(a->alerts);
	video_publish_all(a->video);
}

/* ---- delivery (docs/delivery.md): outbox, self metrics, sd_notify ---- */

static void delivery_fields(struct app *a, struct lp_line *l, int64_t t)
{
	struct outbox_stats o[OUTBOX_NOUT];
	struct mqtt_stats ms = {0};
	struct influx_stats is = {0};
	static const char *const pfx[OUTBOX_NOUT] = {"mqtt_", "lp_"};
	char k[64];

	if (!a->outbox)
		return;
	if (a->mqtt)
		mqtt_get_stats(a->mqtt, &ms);
	if (a->influx)
		influx_stats(a->influx, &is);
	for (int i = 0; i < OUTBOX_NOUT; i++) {
		outbox_get_stats(a->outbox, i, &o[i]);
#define F(name, v)                                                                                 \
	do {                                                                                       \
		snprintf(k, sizeof(k), "%s%s", pfx[i], name);                                      \
		lp_field_int(l, k, (int64_t)(v));                                                  \
	} while (0)
		F("outbox_depth", o[i].depth);
		F("outbox_oldest_s", o[i].oldest_ms ? (t - o[i].oldest_ms) / 1000 : 0);
		F("outbox_sent", o[i].sent);
		F("outbox_dropped", o[i].dropped);
		F("outbox_rejected", o[i].rejected);
		F("outbox_failed", o[i].failed);
#undef F
	}
	if (a->alerts) {
		struct alert_service_stats as;
		alert_service_get_stats(a->alerts, &as);
		lp_field_bool(l, "store_ok", as.store_ok);
		lp_field_int(l, "store_held", (int64_t)as.held);
	}
	lp_field_int(l, "mqtt_retried", (int64_t)ms.retried);
	lp_field_int(l, "mqtt_reconnects", (int64_t)ms.reconnects);
	lp_field_int(l, "mqtt_inflight", (int64_t)ms.inflight);
	lp_field_int(l, "lp_retried", (int64_t)is.lines_retried);
	/* Numbered from 1 per start: a reader can tell that none is missing. */
	lp_field_int(l, "beat", (int64_t)++a->beats);
	lp_field_int(l, "started_ms", a->started_ms);
}

/* The retained `status` carries the delivery counters, refreshed at every heartbeat. */
static void delivery_status(struct app *a, int64_t t)
{
	json_t *d = json_object();
	struct mqtt_stats ms = {0};
	struct influx_stats is = {0};
	char *txt;

	if (!a->mqtt || !a->outbox) {
		json_decref(d);
		return;
	}
	mqtt_get_stats(a->mqtt, &ms);
	if (a->influx)
		influx_stats(a->influx, &is);
	for (int i = 0; i < OUTBOX_NOUT; i++) {
		struct outbox_stats o;
		outbox_get_stats(a->outbox, i, &o);
		json_object_set_new(
		    d, outbox_output_name(i),
		    json_pack(
			"{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "depth", (json_int_t)o.depth,
			"oldest_age_s", (json_int_t)(o.oldest_ms ? (t - o.oldest_ms) / 1000 : 0),
			"sent", (json_int_t)o.sent, "retried",
			(json_int_t)(i == OUTBOX_MQTT ? ms.retried : is.lines_retried), "dropped",
			(json_int_t)o.dropped, "rejected", (json_int_t)o.rejected, "limit",
			(json_int_t)(i == OUTBOX_MQTT ? a->cfg->mqtt.outbox_max
						      : a->cfg->influx.outbox_max)));
	}
	json_object_set_new(json_object_get(d, "mqtt"), "reconnects",
			    json_integer((json_int_t)ms.reconnects));
	for (int i = 0; i < OUTBOX_NOUT; i++) {
		struct outbox_stats o;
		outbox_get_stats(a->outbox, i, &o);
		json_object_set_new(json_object_get(d, outbox_output_name(i)), "failed",
				    json_integer((json_int_t)o.failed));
		if (i == OUTBOX_LP)
			json_object_set_new(
			    json_object_get(d, outbox_output_name(i)), "memory",
			    json_integer((json_int_t)(is.lines_queued > o.depth
							  ? is.lines_queued - o.depth
							  : 0)));
	}
	if (a->alerts) {
		struct alert_service_stats as;
		json_t *st;

		alert_service_get_stats(a->alerts, &as);
		st = json_pack("{s:b, s:I, s:I, s:I}", "ok", as.store_ok, "held",
			       (json_int_t)as.held, "unstored", (json_int_t)as.unstored, "failures",
			       (json_int_t)as.store_failures);
		if (!as.store_ok) {
			json_object_set_new(st, "since", json_integer(as.store_failed_ms));
			json_object_set_new(st, "error", json_string(as.store_error));
		}
		json_object_set_new(d, "store", st);
	}
	json_object_set_new(d, "t", json_integer((json_int_t)t));
	txt = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	mqtt_set_status_detail(a->mqtt, txt);
	free(txt);
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

static gboolean on_heartbeat(gpointer ud)
{
	struct app *a = ud;
	int64_t t = now_ms();
	GString *buf = g_string_sized_new(4096);

	for (size_t i = 0; i < hub_n_devices(a->hub); i++) {
		struct hub_device *d = hub_device_at(a->hub, i);
		struct mb_health h;
		if (!d->seen)
			continue;
		for (size_t k = 0; k < a->n_buses; k++)
			if (mb_bus_device_health(a->buses[k], i, &h)) {
				hub_set_health(a->hub, i, &h);
				break;
			}
		publish_device(a, d);
		if (a->influx) {
			state_lp_points(buf, d, a->cfg->site.id, false, t);
			state_lp_health(buf, d, a->cfg->site.id, t);
		}
	}
	for (size_t i = 0; a->influx && i < a->n_buses; i++) {
		struct mb_bus_stats bs;
		struct lp_line l;
		mb_bus_get_stats(a->buses[i], &bs);
		lp_begin(&l, buf, "bus_health");
		lp_tag(&l, "bus", mb_bus_config(a->buses[i])->id);
		lp_tag(&l, "site", a->cfg->site.id);
		lp_field_bool(&l, "connected", bs.link.connects > bs.link.disconnects);
		lp_field_int(&l, "polls", (int64_t)bs.polls);
		lp_field_int(&l, "requests", (int64_t)bs.link.requests);
		lp_field_int(&l, "errors", (int64_t)bs.link.errors);
		lp_field_int(&l, "connects", (int64_t)bs.link.connects);
		lp_field_int(&l, "disconnects", (int64_t)bs.link.disconnects);
		lp_field_int(&l, "late_answers", (int64_t)bs.link.late);
		lp_field_int(&l, "overruns", (int64_t)bs.overruns);
		lp_field_int(&l, "commands", (int64_t)bs.commands);
		lp_end(&l, t * 1000000);
	}
	if (a->influx) {
		struct lp_line l;
		struct mqtt_stats ms = {0};
		struct influx_stats is;
		if (a->mqtt)
			mqtt_get_stats(a->mqtt, &ms);
		influx_stats(a->influx, &is);
		lp_begin(&l, buf, "gateway");
		lp_tag(&l, "site", a->cfg->site.id);
		lp_field_int(&l, "uptime_s", (t - a->started_ms) / 1000);
		lp_field_int(&l, "devices", (int64_t)hub_n_devices(a->hub));
		lp_field_bool(&l, "mqtt_connected", ms.connected);
		lp_field_int(&l, "mqtt_published", (int64_t)ms.published);
		lp_field_int(&l, "mqtt_skipped", (int64_t)ms.skipped);
		lp_field_int(&l, "lp_queued", (int64_t)is.lines_queued);
		lp_field_int(&l, "lp_sent", (int64_t)is.lines_sent);
		lp_field_int(&l, "lp_dropped", (int64_t)is.lines_dropped);
		delivery_fields(a, &l, t);
		lp_end(&l, t * 1000000);
		submit_lines(a, buf);
	}
	delivery_status(a, t);
	g_string_free(buf, TRUE);
	return G_SOURCE_CONTINUE;
}

static void stop_buses(struct app *a)
{
	for (size_t i = 0; i < a->n_buses; i++)
		mb_bus_stop(a->buses[i]);
	free(a->buses);
	a->buses = NULL;
	a->n_buses = 0;
}

/* A camera condition (offline, dark, frozen...) becomes an alert. */
static void on_camera_condition(const char *camera, const char *condition, bool active,
				int64_t ts_ms, void *ud)
{
	struct app *a = ud;

	(void)ts_ms;
	if (a->alerts)
		alert_service_on_camera(a->alerts, camera, condition, active);
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
 * device's allow_commands; the caller has checked the operator). */
static int device_command(const char *device, const char *command, const char *who, void *ud)
{
	struct app *a = ud;

	for (size_t i = 0; i < a->cfg->n_devices; i++) {
		if (strcmp(a->cfg->devices[i].id, device) != 0)
			continue;
		for (size_t k = 0; k < a->n_buses; k++)
			if (mb_bus_config(a->buses[k]) == a->cfg->devices[i].bus)
				return mb_bus_command(a->buses[k], i, command, who,
						      device_command_done, NULL);
	}
	return -ENOENT;
}

/* cmd/snapshot: a JPEG of the camera's latest key frame, kept under
 * <state_dir>/snapshots/<camera>-<UTC time>.jpg, written off the loop; done gets the path.
 * Snapshots run side by side: two in the same millisecond get the next one. The folder is
 * made by the snapshot's worker, off the loop. */
static int snapshot_command(const char *camera, alert_snapshot_done_fn done, void *done_ud,
			    void *ud)
{
	struct app *a = ud;
	char when[32], *dir, *path;
	int64_t t = MAX(now_ms(), a->last_snapshot_ms + 1);
	time_t sec = (time_t)(t / 1000);
	struct tm tm;
	int rc;

	if (!a->video)
		return -ENOENT;
	for (const char *c = camera; *c; c++)
		if (!g_ascii_isalnum(*c) && *c != '_' && *c != '-')
			return -ENOENT; /* not a camera id: nothing to name a file after */
	dir = g_build_filename(a->cfg->storage.state_dir, "snapshots", NULL);
	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%S", &tm);
	path = g_strdup_printf("%s/%s-%s.%03dZ.jpg", dir, camera, when, (int)(t % 1000));
	g_free(dir);
	rc = video_snapshot_async(a->video, camera, path, done, done_ud);
	g_free(path);
	if (rc == 0)
		a->last_snapshot_ms = t;
	return rc;
}

/* Builds hub and buses for a->cfg. */
static int start_devices(struct app *a)
{
	int rc = hub_create(a->cfg, &a->hub);
	if (rc < 0)
		return rc;
	hub_add_listener(a->hub, on_change, a);
	rc = alert_service_create(a->cfg, a->mqtt, &a->alerts);
	if (rc < 0) {
		log_err("alerts: %s", strerror(-rc));
		return rc;
	}
	alert_service_set_device_commands(a->alerts, device_command, a);
	alert_service_set_clips(a->alerts, event_clips, a);
	alert_service_set_snapshots(a->alerts, snapshot_command, a);
	a->generation++;
	a->buses = calloc(a->cfg->n_buses ? a->cfg->n_buses : 1, sizeof(*a->buses));
	if (!a->buses)
		return -ENOMEM;
	for (size_t i = 0; i < a->cfg->n_buses; i++) {
		rc = mb_bus_start(a->cfg, i, a->generation, NULL, on_result, a, &a->buses[i]);
		if (rc < 0) {
			log_err("bus %s: cannot start: %s", a->cfg->buses[i].id, strerror(-rc));
			return rc;
		}
		a->n_buses++;
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
	rc = video_create(a->cfg, NULL, a->mqtt, a->influx, on_camera_condition, a, &a->video);
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
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_mqtt(const struct hw_config *a, const struct hw_config *b)
{
	const struct cfg_mqtt *x = &a->mqtt, *y = &b->mqtt;
	return same_str(a->site.id, b->site.id) && x->enabled == y->enabled &&
	       same_str(x->host, y->host) && x->port == y->port &&
	       same_str(x->client_id, y->client_id) && same_str(x->username, y->username) &&
	       same_str(x->password, y->password) && x->keepalive_s == y->keepalive_s &&
	       x->qos == y->qos && same_str(x->topic_root, y->topic_root) &&
	       x->reconnect_min_ms == y->reconnect_min_ms &&
	       x->reconnect_max_ms == y->reconnect_max_ms && same_str(x->cafile, y->cafile) &&
	       same_str(x->certfile, y->certfile) && same_str(x->keyfile, y->keyfile) &&
	       same_str(x->tls_version, y->tls_version) && x->insecure == y->insecure &&
	       x->max_inflight == y->max_inflight;
}

static bool same_influx(const struct cfg_influx *x, const struct cfg_influx *y)
{
	return x->enabled == y->enabled && same_str(x->url, y->url) && x->version == y->version &&
	       same_str(x->database, y->database) && same_str(x->username, y->username) &&
	       same_str(x->password, y->password) && same_str(x->org, y->org) &&
	       same_str(x->bucket, y->bucket) && same_str(x->token, y->token) &&
	       x->batch_size == y->batch_size && x->flush_interval_ms == y->flush_interval_ms &&
	       x->timeout_ms == y->timeout_ms && x->max_buffer == y->max_buffer &&
	       x->retry_min_ms == y->retry_min_ms && x->retry_max_ms == y->retry_max_ms &&
	       x->gzip == y->gzip;
}

/* A reload whose configuration loaded but did not start (a state_dir that cannot be created,
 * an output that cannot be made): what it started goes, outputs it kept are bound to the old
 * configuration again, and the old configuration starts as it ran before. False when even the
 * old one does not start. */
static bool reload_rollback(struct app *a, struct hw_config *old, bool keep_mqtt, bool keep_influx)
{
	struct hw_config *nc = a->cfg;

	stop_buses(a);
	alert_service_destroy(a->alerts);
	a->alerts = NULL;
	hub_destroy(a->hub);
	a->hub = NULL;
	video_destroy(a->video);
	a->video = NULL;
	if (!keep_influx) {
		influx_destroy(a->influx, 2000);
		a->influx = NULL;
	}
	if (keep_mqtt) {
		mqtt_rebind(a->mqtt, &old->mqtt, old->site.id);
	} else {
		mqtt_destroy(a->mqtt, 1000);
		a->mqtt = NULL;
	}
	a->cfg = old;
	outbox_limits(a);
	config_free(nc);
	return start_outputs(a, !keep_mqtt, !keep_influx) == 0 && start_devices(a) == 0;
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
	stop_buses(a);
	alert_service_destroy(a->alerts);
	a->alerts = NULL;
	hub_destroy(a->hub);
	a->hub = NULL;
	video_destroy(a->video);
	a->video = NULL;
	/* Outputs whose settings did not change keep their session and queue. */
	bool keep_mqtt = a->mqtt && same_mqtt(old, nc);
	bool keep_influx = a->influx && same_influx(&old->influx, &nc->influx);
	if (!keep_influx) {
		influx_destroy(a->influx, 2000);
		a->influx = NULL;
	}
	if (keep_mqtt) {
		mqtt_rebind(a->mqtt, &nc->mqtt, nc->site.id);
	} else {
		mqtt_destroy(a->mqtt, 1000);
		a->mqtt = NULL;
	}
	a->cfg = nc;
	outbox_limits(a);
	if (start_outputs(a, !keep_mqtt, !keep_influx) < 0 || start_devices(a) < 0) {
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

static int cmd_run(const char *path)
{
	struct app a = {0};
	struct cfg_errors errs = {0};

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
		print_errors(&errs);
		cfg_errors_clear(&errs);
		return 1;
	}
	a.config_path = g_strdup(path);
	a.started_ms = now_ms();
	a.loop = g_main_loop_new(NULL, FALSE);
	signal(SIGPIPE, SIG_IGN);
	g_unix_signal_add(SIGTERM, on_term, &a);
	g_unix_signal_add(SIGINT, on_term, &a);
	g_unix_signal_add(SIGHUP, on_hup, &a);

	log_info("hallwatch %s starting: site %s, %zu bus(es), %zu device(s)", HW_VERSION,
		 a.cfg->site.id, a.cfg->n_buses, a.cfg->n_devices);
	if ((a.cfg->mqtt.enabled || a.cfg->influx.enabled) && open_outbox(&a) < 0) {
		a.exit_code = 1;
		goto out;
	}
	outbox_limits(&a);
	if (start_outputs(&a, true, true) < 0 || start_devices(&a) < 0) {
		a.exit_code = 1;
		goto out;
	}
	arm_heartbeat(&a);
	statedir_check(a.cfg->storage.state_dir);
	notify_ready(&a);
	g_main_loop_run(a.loop);
	sd_notify_send("STOPPING=1");
out:
	stop_buses(&a);
	/* Results the workers handed over before stopping still reach the outputs. */
	while (g_main_context_iteration(NULL, FALSE))
		;
	alert_service_destroy(a.alerts);
	stop_outputs(&a);
	hub_destroy(a.hub);
	if (a.heartbeat)
		g_source_remove(a.heartbeat);
	if (a.watchdog)
		g_source_remove(a.watchdog);
	outbox_close(a.outbox);
	g_main_loop_unref(a.loop);
	config_free(a.cfg);
	g_free(a.config_path);
	log_info("stopped");
	return a.exit_code;
}

static int cmd_check(const char *path)
{
	struct cfg_errors errs = {0};
	struct hw_config *cfg = NULL;

	if (config_load(path, &cfg, &errs) < 0) {
		print_errors(&errs);
		cfg_errors_clear(&errs);
		return 1;
	}
	printf("%s: ok (site %s, %zu bus(es), %zu device(s), %zu profile(s))\n", path, cfg->site.id,
	       cfg->n_buses, cfg->n_devices, cfg->n_profiles);
	config_free(cfg);
	return 0;
}

/* hallwatch snapshot -c FILE CAMERA OUT.jpg | clip -c FILE CAMERA FROM TO OUT.mp4 */
static int cmd_video(const char *cmd, const char *path, char **pos, int npos)
{
	struct cfg_errors errs = {0};
	struct hw_config *cfg = NULL;
	const struct cfg_camera *cam = NULL;
	int64_t from, to;
	int rc;

	if (npos != (strcmp(cmd, "clip") == 0 ? 4 : 2)) {
		fprintf(stderr, "hallwatch: %s: wrong number of arguments\n", cmd);
		return 2;
	}
	if (config_load(path, &cfg, &errs) < 0) {
		print_errors(&errs);
		cfg_errors_clear(&errs);
		return 1;
	}
	for (size_t i = 0; i < cfg->n_cameras; i++)
		if (strcmp(cfg->cameras[i].id, pos[0]) == 0)
			cam = &cfg->cameras[i];
	if (!cam) {
		fprintf(stderr, "hallwatch: no camera %s in %s\n", pos[0], path);
		rc = -ENOENT;
	} else if (strcmp(cmd, "snapshot") == 0) {
		rc = video_snapshot_direct(cam, pos[1], 10000);
	} else if (video_parse_time(pos[1], &from) < 0 || video_parse_time(pos[2], &to) < 0) {
		fprintf(stderr, "hallwatch: clip: times are seconds since the epoch or "
				"YYYY-MM-DDTHH:MM:SS[Z]\n");
		rc = -EINVAL;
	} else {
		rc = video_clip_offline(cfg, cam->id, from, to, pos[3]);
	}
	if (rc < 0 && cam)
		fprintf(stderr, "hallwatch: %s of %s failed: %s\n", cmd, cam->id, strerror(-rc));
	config_free(cfg);
	return rc < 0 ? 1 : 0;
}

/* hallwatch command -c FILE DEVICE COMMAND [--user NAME]: runs one profile command on a
 * device over a connection of its own (not through a running daemon), under the same
 * allow_commands authorisation, logged with who asked. */
static int cmd_command(const char *path, char **pos, int npos, const char *user)
{
	struct cfg_errors errs = {0};
	struct hw_config *cfg = NULL;
	const struct cfg_device *d = NULL;
	char who[128];
	int rc;

	if (npos != 2) {
		fprintf(stderr, "usage: hallwatch command -c FILE DEVICE COMMAND [--user NAME]\n");
		return 2;
	}
	if (config_load(path, &cfg, &errs) < 0) {
		print_errors(&errs);
		cfg_errors_clear(&errs);
		return 1;
	}
	for (size_t i = 0; i < cfg->n_devices; i++)
		if (strcmp(cfg->devices[i].id, pos[0]) == 0)
			d = &cfg->devices[i];
	if (!d) {
		fprintf(stderr, "hallwatch: no device %s in %s\n", pos[0], path);
		config_free(cfg);
		return 1;
	}
	snprintf(who, sizeof(who), "%s (command line)",
		 user ? user : (getenv("USER") ? getenv("USER") : "unknown"));
	rc = mb_command_once(d, pos[1], who);
	if (rc < 0)
		fprintf(stderr, "hallwatch: command %s on %s: %s\n", pos[1], pos[0],
			rc == -EPERM	? "not allowed (allow_commands)"
			: rc == -ENOENT ? "no such command in the device's profile"
					: strerror(-rc));
	else
		printf("%s: %s done\n", pos[0], pos[1]);
	config_free(cfg);
	return rc < 0 ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hallwatch run -c FILE [--log-level error|warn|info|debug]\n"
		   "       hallwatch check-config -c FILE\n"
		   "       hallwatch command -c FILE DEVICE COMMAND [--user NAME]\n"
		   "       hallwatch alerts -c FILE\n"
		   "       hallwatch ack -c FILE ID [--user NAME]\n"
		   "       hallwatch shelve -c FILE ID --for 2h --reason TEXT [--user NAME]\n"
		   "       hallwatch unshelve -c FILE ID [--user NAME]\n"
		   "       hallwatch snapshot -c FILE CAMERA OUT.jpg\n"
		   "       hallwatch clip -c FILE CAMERA FROM TO OUT.mp4\n"
		   "       hallwatch version\n");
}

int main(int argc, char **argv)
{
	const char *cmd, *path = NULL;
	enum hw_log_level lvl = HW_LOG_INFO;
	char *pos[4];
	int npos = 0;
	const char *user = NULL;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (alert_cli_handles(cmd))
		return alert_cli_main(argc, argv);
	for (int i = 2; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
			if (hw_log_parse_level(argv[++i], &lvl) < 0) {
				fprintf(stderr, "hallwatch: unknown log level %s\n", argv[i]);
				return 2;
			}
		} else if (argv[i][0] != '-' && npos < 4 &&
			   (strcmp(cmd, "snapshot") == 0 || strcmp(cmd, "clip") == 0 ||
			    strcmp(cmd, "command") == 0)) {
			pos[npos++] = argv[i];
		} else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc &&
			   strcmp(cmd, "command") == 0) {
			user = argv[++i];
		} else {
			fprintf(stderr, "hallwatch: unexpected argument %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	hw_log_set_level(lvl);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("hallwatch %s\n", HW_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (!path) {
		fprintf(stderr, "hallwatch: %s needs -c FILE\n", cmd);
		return 2;
	}
	if (strcmp(cmd, "run") == 0)
		return cmd_run(path);
	if (strcmp(cmd, "check-config") == 0)
		return cmd_check(path);
	if (strcmp(cmd, "snapshot") == 0 || strcmp(cmd, "clip") == 0)
		return cmd_video(cmd, path, pos, npos);
	if (strcmp(cmd, "command") == 0)
		return cmd_command(path, pos, npos, user);
	fprintf(stderr, "hallwatch: unknown command %s\n", cmd);
	usage(stderr);
	return 2;
}

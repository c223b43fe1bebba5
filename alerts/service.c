/* The alert service: owns the engine, the store and the alert side of MQTT. Every
 * batch of transitions is committed to SQLite before anything is published, so a
 * crash can lose nothing that was seen outside. Runs on the main loop thread. */
#define LOG_TAG "alerts"
#include "alerts/service.h"

#include <errno.h>
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alerts/alert_json.h"
#include "alerts/command.h"
#include "alerts/engine.h"
#include "alerts/store.h"
#include "gateway/log.h"
#include "gateway/outbox.h"

#define TICK_MS 200
#define RESEND_BATCH 500
#define PRUNE_EVERY 500

struct item {
	uint64_t seq;
	char *event;	  /* event JSON */
	char *id;	  /* alert id, or NULL for events without an alert */
	char *state_full; /* stored JSON; "" = closed (tombstone until the removal is sent) */
	char *state_pub;  /* published JSON; NULL when closed */
	int cls;	  /* outbox class of the event: P1 alerts' events go first */
};

struct alert_service {
	const struct hw_config *cfg;
	const char *site;
	struct mqtt *mqtt;
	struct alert_engine *engine;
	struct alert_store *store;
	GPtrArray *batch; /* struct item * */
	uint64_t next_seq;
	alert_device_cmd_fn device_cmd; /* cmd/device, NULL: not offered */
	alert_clip_fn clips;		/* clips of a point, NULL: no cameras */
	GHashTable *cams;		/* camera id -> struct cam_state */
	void *clips_ud;
	void *device_cmd_ud;
	alert_snapshot_fn snapshot; /* cmd/snapshot, NULL: not offered */
	void *snapshot_ud;
	int64_t now;
	guint tick;
	GHashTable *tombstones; /* ids whose empty retained message is still to be sent */
	uint64_t since_prune;
	bool store_failed;
	struct alert_cmd_limiter *limiter; /* audit records of requests that changed nothing */
	struct alert_service_stats st;
};

static int64_t wall_ms(void)
{
	return g_get_real_time() / 1000;
}

static void item_free(gpointer p)
{
	struct item *it = p;

	free(it->event);
	g_free(it->id);
	free(it->state_full);
	free(it->state_pub);
	g_free(it);
}

static char *dump(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

/* Queues one event (and the alert it changed) for the next flush. */
static void queue_event(struct alert_service *s, json_t *ev, const struct alert *a)
{
	struct item *it = g_new0(struct item, 1);

	it->seq = json_integer_value(json_object_get(ev, "seq"));
	it->event = dump(ev);
	it->cls = a && a->prio == AP_P1 ? OUTBOX_ALARM : OUTBOX_ALERT;
	if (a) {
		it->id = g_strdup(a->id);
		if (a->core == AC_NORMAL) {
			it->state_full = strdup("");
		} else {
			it->state_full = dump(alert_to_json(a, s->site, true));
			it->state_pub = dump(alert_to_json(a, s->site, false));
		}
	}
	g_ptr_array_add(s->batch, it);
}

static void on_emit(const struct alert_ev *ev, void *ud)
{
	struct alert_service *s = ud;
	uint64_t seq = ++s->next_seq;

	json_t *o;

	if (ev->a)
		alert_engine_set_seq(s->engine, ev->a->id, seq);
	o = alert_event_json(ev, s->site, seq, s->now);
	/* The cameras that see the point keep a clip around the moment it turned on. */
	if (s->clips && ev->a && ev->a->point[0] &&
	    (ev->kind == AE_RAISED || ev->kind == AE_RETURNED)) {
		char **paths = s->clips(ev->a->device, ev->a->point, s->clips_ud);
		if (paths && paths[0]) {
			json_t *arr = json_array();
			for (char **p = paths; *p; p++)
				json_array_append_new(arr, json_string(*p));
			json_object_set_new(o, "clips", arr);
		}
		g_strfreev(paths);
	}
	queue_event(s, o, ev->a);
	s->st.events++;
	log_debug("event %" G_GUINT64_FORMAT " %s %s", seq, alert_ev_name(ev->kind),
		  ev->a ? ev->a->id : "-");
}

/* With an outbox (docs/delivery.md) events and alert/<id> go through it: committed,
 * sent by class then age, removed on PUBACK. Without one, straight to the broker. */
static void publish_event(struct alert_service *s, uint64_t seq, const char *json, int cls)
{
	if (s->mqtt &&
	    mqtt_enqueue(s->mqtt, cls, "events", json, strlen(json), false, seq) == -ENOTSUP)
		mqtt_publish_acked(s->mqtt, "events", json, strlen(json), false, seq);
}

static int publish_state(struct alert_service *s, const char *topic, const char *json)
{
	int rc = mqtt_enqueue(s->mqtt, OUTBOX_STATE, topic, json, strlen(json), true, 0);

	return rc == -ENOTSUP ? mqtt_publish(s->mqtt, topic, json, strlen(json), true) : rc;
}

static int event_class(const char *json)
{
	json_t *o = json_loads(json, 0, NULL);
	int cls = json_integer_value(json_object_get(o, "priority")) == AP_P1 ? OUTBOX_ALARM
									      : OUTBOX_ALERT;
	json_decref(o);
	return cls;
}

static void publish_removal(struct alert_service *s, const char *id)
{
	char topic[ALERT_ID_MAX + 16];

	if (!s->mqtt)
		return;
	snprintf(topic, sizeof(topic), "alert/%s", id);
	if (publish_state(s, topic, "") == 0) {
		g_hash_table_remove(s->tombstones, id);
		if (!s->store_failed)
			alert_store_del_alert(s->store, id);
	}
}

/* Commits the batch, then publishes it. */
static void flush(struct alert_service *s)
{
	GPtrArray *b = s->batch;
	char topic[ALERT_ID_MAX + 16];
	int rc;

	if (b->len == 0)
		return;
	rc = alert_store_begin(s->store);
	for (guint i = 0; rc == 0 && i < b->len; i++) {
		struct item *it = b->pdata[i];
		rc = alert_store_add_event(s->store, it->seq, s->now, it->event);
		if (rc == 0 && it->id)
			rc = alert_store_put_alert(s->store, it->id, it->state_full, s->now);
	}
	if (rc == 0)
		rc = alert_store_commit(s->store);
	if (rc < 0) {
		alert_store_rollback(s->store);
		if (!s->store_failed)
			log_err("cannot store %u alert event(s): they are published but will not "
				"survive a restart",
				b->len);
		s->store_failed = true;
	} else if (s->store_failed) {
		log_info("alert store writable again");
		s->store_failed = false;
	}
	for (guint i = 0; i < b->len; i++) {
		struct item *it = b->pdata[i];
		if (it->id) {
			if (it->state_pub) {
				snprintf(topic, sizeof(topic), "alert/%s", it->id);
				if (s->mqtt)
					publish_state(s, topic, it->state_pub);
			} else {
				g_hash_table_add(s->tombstones, g_strdup(it->id));
				publish_removal(s, it->id);
			}
		}
		publish_event(s, it->seq, it->event, it->cls);
	}
	s->since_prune += b->len;
	g_ptr_array_set_size(b, 0);
	if (s->since_prune >= PRUNE_EVERY) {
		s->since_prune = 0;
		rc = alert_store_prune(s->store, s->cfg->alerts.keep_events);
		if (rc > 0)
			log_debug("pruned %d delivered event(s)", rc);
	}
}

/* ---- commands ---- */

/* Audit records of requests that changed nothing (refused, or list): at most this many
 * per verb and user a minute, the rest counted (docs/alerts.md). */
#define AUDIT_PER_MINUTE 10
#define AUDIT_WINDOW_MS 60000
#define AUDIT_KEYS 64

static const char *err_name(int rc)
{
	switch (rc) {
	case -ENOENT:
		return "unknown_alert";
	case -EALREADY:
		return "no_change";
	case -EPERM:
		return "not_allowed";
	case -EINVAL:
		return "invalid";
	case -EACCES:
		return "not_authorized";
	case -ENOTSUP:
		return "not_supported";
	case -EAGAIN:
		return "not_ready";
	case -EMSGSIZE:
		return "too_large";
	case -ERANGE:
		return "out_of_range";
	case -EDESTADDRREQ:
		return "bad_reply_topic";
	default:
		return "failed";
	}
}

static bool is_operator(const struct alert_service *s, const char *user)
{
	if (!user || !*user)
		return false;
	for (size_t i = 0; i < s->cfg->alerts.n_operators; i++)
		if (strcmp(s->cfg->alerts.operators[i], user) == 0)
			return true;
	return false;
}

static json_t *list_json(struct alert_service *s)
{
	size_t n = alert_engine_count(s->engine);
	const struct alert **v = calloc(n ? n : 1, sizeof(*v));
	json_t *arr = json_array();

	n = alert_engine_list(s->engine, v, n);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, alert_to_json(v[i], s->site, false));
	free(v);
	return arr;
}

/* Sets o[key] = v when v is given. */
static void set_opt(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

/* What a command's event and its reply both echo of the request. */
static void set_request(json_t *o, const struct alert_cmd_req *r)
{
	set_opt(o, "device", r->device);
	set_opt(o, "command", r->command);
	set_opt(o, "request_id", r->request_id);
	set_opt(o, "camera", r->camera);
}

/* The summary of the audit records a window did not keep: one event and one log line. */
static void on_audit_summary(const char *verb, const char *user, uint64_t dropped, int64_t since,
			     void *ud)
{
	struct alert_service *s = ud;
	json_t *ev = json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:I, s:b}", "seq",
			       (json_int_t)++s->next_seq, "t", (json_int_t)s->now, "site", s->site,
			       "event", "commands_unrecorded", "verb", verb, "count",
			       (json_int_t)dropped, "since", (json_int_t)since, "notify", false);

	json_object_set_new(ev, "by", user ? json_string(user) : json_null());
	queue_event(s, ev, NULL);
	s->st.events++;
	log_warn("%" G_GUINT64_FORMAT " more request(s) cmd/%s from %s refused or read-only "
		 "since %" G_GINT64_FORMAT " ms ago: counted, not recorded one by one",
		 dropped, verb, user ? user : "(nobody)", s->now - since);
}

/* Runs one request; returns 0 or -errno. *changed: it changed something. */
static int run_cmd(struct alert_service *s, const struct alert_cmd_req *r, char **snap,
		   bool *changed)
{
	const char *verb = r->verb;
	int64_t for_ms = 0;
	int rc;

	*changed = false;
	if (strcmp(verb, "list") == 0)
		return 0; /* read-only: anyone who may publish a request may read alert/# too */
	if (!is_operator(s, r->user))
		return -EACCES;
	if (strcmp(verb, "ack") == 0) {
		rc = alert_engine_ack(s->engine, r->id, r->user, s->now);
	} else if (strcmp(verb, "shelve") == 0) {
		rc = alert_cmd_duration(r->for_v, &for_ms);
		if (rc == 0 && for_ms > (int64_t)s->cfg->alerts.shelve_max_s * 1000)
			rc = -ERANGE;
		if (rc == 0)
			rc = alert_engine_shelve(s->engine, r->id, r->user, r->reason, for_ms,
						 s->now);
	} else if (strcmp(verb, "unshelve") == 0) {
		rc = alert_engine_unshelve(s->engine, r->id, r->user, s->now);
	} else if (strcmp(verb, "device") == 0) {
		if (!s->device_cmd)
			rc = -ENOTSUP;
		else if (!r->device || !r->command)
			rc = -EINVAL;
		else
			rc = s->device_cmd(r->device, r->command, r->user, s->device_cmd_ud);
	} else if (strcmp(verb, "snapshot") == 0) {
		if (!s->snapshot)
			rc = -ENOTSUP;
		else if (!r->camera)
			rc = -EINVAL;
		else
			rc = s->snapshot(r->camera, snap, s->snapshot_ud);
	} else {
		rc = -ENOTSUP;
	}
	*changed = rc == 0;
	return rc;
}

/* The audit record of a request: an event (unless the limiter keeps it out) and a log
 * line with it. */
static void audit_cmd(struct alert_service *s, const struct mqtt_cmd *c,
		      const struct alert_cmd_req *r, int rc, bool changed, const char *snap)
{
	const char *verb = r->verb ? r->verb : "(too long)";
	const char *id = r->id ? r->id : "-", *who = r->user ? r->user : "(nobody)";
	enum alert_cmd_admit adm = ALERT_CMD_RECORD;
	json_t *ev;

	/* What changed something is always recorded; the rest within the limiter's bound. */
	if (!changed)
		adm = alert_cmd_limiter_admit(s->limiter, verb, r->user, s->now);
	if (adm == ALERT_CMD_FIRST_DROP)
		log_warn("more than %d requests cmd/%s from %s refused or read-only within a "
			 "minute: counting the rest, recording them in one event",
			 AUDIT_PER_MINUTE, verb, who);
	if (adm != ALERT_CMD_RECORD)
		return;
	ev = json_pack("{s:I, s:I, s:s, s:s, s:s, s:b}", "seq", (json_int_t)++s->next_seq, "t",
		       (json_int_t)s->now, "site", s->site, "event", "command", "verb", verb,
		       "notify", false);
	json_object_set_new(ev, "id", r->id ? json_string(r->id) : json_null());
	json_object_set_new(ev, "by", r->user ? json_string(r->user) : json_null());
	json_object_set_new(ev, "result", json_string(rc < 0 ? "refused" : "accepted"));
	if (rc < 0)
		json_object_set_new(ev, "error", json_string(err_name(rc)));
	if (rc == -EMSGSIZE && r->too_large) {
		json_object_set_new(ev, "too_large", json_string(r->too_large));
		json_object_set_new(ev, "size", json_integer((json_int_t)r->too_large_len));
	}
	if (rc == -EDESTADDRREQ && strlen(c->response_topic) <= MQTT_REPLY_TOPIC_MAX)
		set_opt(ev, "response_topic", c->response_topic);
	set_opt(ev, "reason", r->reason);
	set_request(ev, r);
	set_opt(ev, "path", snap);
	queue_event(s, ev, NULL);
	s->st.events++;
	if (rc == -EDESTADDRREQ)
		log_warn("command %s on %s from %s refused: its response topic %.256s%s is outside "
			 "the reply prefix %s",
			 verb, id, who, c->response_topic,
			 strlen(c->response_topic) > 256 ? "..." : "", mqtt_reply_prefix(s->mqtt));
	else if (rc == -EMSGSIZE)
		log_warn("command %s from %s refused: %s of %zu bytes is too large", verb, who,
			 r->too_large, r->too_large_len);
	else if (rc < 0)
		log_warn("command %s on %s from %s refused: %s", verb, id, who, err_name(rc));
	else
		log_info("command %s on %s by %s", verb, id, who);
}

static void on_cmd(struct mqtt *m, const struct mqtt_cmd *c, void *ud)
{
	struct alert_service *s = ud;
	struct alert_cmd_req r;
	json_t *reply;
	char *snap = NULL;
	const struct alert *a;
	bool changed = false;
	int rc;
	char *txt;

	s->now = wall_ms();
	s->st.commands++;
	alert_cmd_limiter_expire(s->limiter, s->now, on_audit_summary, s);
	rc = alert_cmd_parse(c->verb, c->payload, c->len, c->user, c->protocol, &r);
	/* A request is not obeyed unless its answer can go where it asks. */
	if (mqtt_reply_check(m, c) < 0)
		rc = -EDESTADDRREQ;
	if (rc == 0)
		rc = run_cmd(s, &r, &snap, &changed);
	if (rc < 0)
		s->st.refused++;
	audit_cmd(s, c, &r, rc, changed, snap);
	flush(s);
	if (rc == -EDESTADDRREQ)
		goto out; /* nothing is published outside the reply prefix */
	reply = json_pack("{s:b, s:s?}", "ok", rc == 0, "verb", r.verb);
	set_opt(reply, "id", r.id);
	set_request(reply, &r);
	set_opt(reply, "path", snap);
	if (rc < 0)
		json_object_set_new(reply, "error", json_string(err_name(rc)));
	if (rc == -EMSGSIZE && r.too_large)
		json_object_set_new(reply, "too_large", json_string(r.too_large));
	if (rc == 0 && strcmp(r.verb, "list") == 0)
		json_object_set_new(reply, "alerts", list_json(s));
	else if (rc == 0 && r.id && (a = alert_engine_get(s->engine, r.id)))
		json_object_set_new(reply, "alert", alert_to_json(a, s->site, false));
	txt = dump(reply);
	rc = mqtt_reply(m, c, r.request_id, txt, strlen(txt));
	if (rc < 0 && rc != -ENOENT)
		log_debug("reply to %s: %s", c->verb, strerror(-rc));
	free(txt);
out:
	g_free(snap);
	alert_cmd_req_clear(&r);
}

static void on_ack(struct mqtt *m, uint64_t token, bool ok, void *ud)
{
	struct alert_service *s = ud;

	if (ok && !s->store_failed)
		alert_store_mark_delivered(s->store, token);
}

/* ---- lifecycle ---- */

static gboolean on_tick(gpointer ud)
{
	struct alert_service *s = ud;

	s->now = wall_ms();
	alert_engine_tick(s->engine, s->now);
	alert_cmd_limiter_expire(s->limiter, s->now, on_audit_summary, s);
	flush(s);
	return G_SOURCE_CONTINUE;
}

static int restore_one(const char *id, const char *json, void *ud)
{
	struct alert_service *s = ud;
	json_error_t jerr;
	json_t *o;
	struct alert a;

	if (!json || !*json) {
		g_hash_table_add(s->tombstones, g_strdup(id));
		return 0;
	}
	o = json_loads(json, 0, &jerr);
	if (!o || alert_from_json(o, &a) < 0 || alert_engine_restore(s->engine, &a) < 0)
		log_err("stored alert %s is unreadable; ignored", id);
	json_decref(o);
	return 0;
}

struct resend {
	struct alert_service *s;
	uint64_t last;
	size_t n;    /* handed to MQTT */
	size_t seen; /* read from the event log */
};

static int resend_one(uint64_t seq, const char *json, void *ud)
{
	struct resend *r = ud;

	struct outbox *ob = r->s->mqtt ? mqtt_outbox(r->s->mqtt) : NULL;

	/* With an outbox, only what a crash left between the event log and the outbox. */
	if (!ob || !outbox_has_token(ob, OUTBOX_MQTT, seq))
		publish_event(r->s, seq, json, event_class(json));
	else
		r->n--;
	r->last = seq;
	r->n++;
	r->seen++;
	return 0;
}

int alert_service_create(const struct hw_config *cfg, struct mqtt *m, struct alert_service **out)
{
	struct alert_service *s = calloc(1, sizeof(*s));
	char *path = NULL;
	int rc;

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->site = cfg->site.id;
	s->mqtt = m;
	s->batch = g_ptr_array_new_with_free_func(item_free);
	s->tombstones = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	s->cams = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	alert_cmd_limiter_create(AUDIT_PER_MINUTE, AUDIT_WINDOW_MS, AUDIT_KEYS, &s->limiter);
	if (g_mkdir_with_parents(cfg->storage.state_dir, 0750) < 0) {
		rc = -errno;
		log_err("state_dir %s: %s", cfg->storage.state_dir, strerror(-rc));
		goto fail;
	}
	path = g_build_filename(cfg->storage.state_dir, "hallwatch.db", NULL);
	rc = alert_store_open(path, &s->store);
	if (rc < 0) {
		log_err("%s: cannot open the alert store", path);
		goto fail;
	}
	rc = alert_engine_create(s->site, &cfg->alerts, cfg->rules, cfg->n_rules, on_emit, s,
				 &s->engine);
	if (rc < 0)
		goto fail;
	rc = alert_store_load(s->store, restore_one, s);
	if (rc < 0)
		goto fail;
	s->next_seq = alert_store_last_seq(s->store);
	log_info("%zu open alert(s) restored from %s, last event %" G_GUINT64_FORMAT ", %zu "
		 "undelivered",
		 alert_engine_count(s->engine), path, s->next_seq,
		 alert_store_count_events(s->store, true));
	g_free(path);
	s->tick = g_timeout_add(TICK_MS, on_tick, s);
	if (m && mqtt_outbox(m)) {
		/* Undelivered events a crash left out of the outbox go in now. */
		struct resend r = {.s = s};
		size_t before;
		do {
			before = r.seen;
			alert_store_undelivered(s->store, r.last, RESEND_BATCH, resend_one, &r);
		} while (r.seen - before == RESEND_BATCH);
		if (r.n)
			log_info("%zu undelivered event(s) put in the outbox", r.n);
	}
	if (m) {
		mqtt_set_command_handler(m, on_cmd, s);
		mqtt_set_ack_handler(m, on_ack, s);
		if (mqtt_is_connected(m))
			alert_service_on_connected(s);
	}
	*out = s;
	return 0;
fail:
	g_free(path);
	alert_engine_destroy(s->engine);
	alert_store_close(s->store);
	g_ptr_array_free(s->batch, TRUE);
	g_hash_table_destroy(s->tombstones);
	if (s->cams)
		g_hash_table_destroy(s->cams);
	alert_cmd_limiter_destroy(s->limiter);
	free(s);
	return rc;
}

void alert_service_destroy(struct alert_service *s)
{
	if (!s)
		return;
	/* requests counted and not yet summarised get their summary now */
	s->now = wall_ms();
	alert_cmd_limiter_expire(s->limiter, s->now + AUDIT_WINDOW_MS, on_audit_summary, s);
	flush(s);
	if (s->tick)
		g_source_remove(s->tick);
	if (s->mqtt) {
		mqtt_set_command_handler(s->mqtt, NULL, NULL);
		mqtt_set_ack_handler(s->mqtt, NULL, NULL);
	}
	alert_engine_destroy(s->engine);
	alert_store_close(s->store);
	g_ptr_array_free(s->batch, TRUE);
	g_hash_table_destroy(s->tombstones);
	if (s->cams)
		g_hash_table_destroy(s->cams);
	alert_cmd_limiter_destroy(s->limiter);
	free(s);
}

void alert_service_on_device(struct alert_service *s, const struct hub_device *d)
{
	struct alert_point_in stackbuf[64];
	struct alert_point_in *pts =
	    d->n_points <= 64 ? stackbuf : calloc(d->n_points, sizeof(*pts));
	struct alert_device_in in = {.id = d->cfg->id,
				     .seen = d->seen,
				     .online = d->online,
				     .frozen = d->frozen,
				     .pts = pts,
				     .n = d->n_points};

	if (!pts)
		return;
	for (size_t i = 0; i < d->n_points; i++) {
		const struct hub_point *p = &d->points[i];
		pts[i] = (struct alert_point_in){.key = hub_point_key(d, i),
						 .cls = hub_point_def(d, i)->cls,
						 .q = hub_point_q(p),
						 .changed = hub_point_changed(p)};
		hub_point_value(d, i, &pts[i].v);
	}
	s->now = wall_ms();
	alert_engine_update(s->engine, &in, s->now);
	if (pts != stackbuf)
		free(pts);
	flush(s);
}

/* The conditions of one camera as the engine sees them: a device whose points are the
 * conditions. */
static const char *const cam_conds[] = {"video_loss",	   "dark",     "covered",
					"defocus",	   "moved",    "frozen",
					"recording_fault", "disk_low", "retention_short"};
#define N_CAM_CONDS (sizeof(cam_conds) / sizeof(cam_conds[0]))

struct cam_state {
	bool offline;
	bool active[N_CAM_CONDS];
};

void alert_service_on_camera(struct alert_service *s, const char *camera, const char *condition,
			     bool active)
{
	struct alert_point_in pts[N_CAM_CONDS];
	struct cam_state *cs = g_hash_table_lookup(s->cams, camera);
	int which = -1;

	if (!cs) {
		cs = g_new0(struct cam_state, 1);
		g_hash_table_insert(s->cams, g_strdup(camera), cs);
	}
	if (strcmp(condition, "offline") == 0) {
		cs->offline = active;
	} else {
		for (size_t i = 0; i < N_CAM_CONDS; i++)
			if (strcmp(cam_conds[i], condition) == 0)
				which = (int)i;
		if (which < 0) {
			log_debug("camera %s: condition %s has no alert", camera, condition);
			return;
		}
		cs->active[which] = active;
	}
	for (size_t i = 0; i < N_CAM_CONDS; i++)
		pts[i] = (struct alert_point_in){.key = cam_conds[i],
						 .cls = PC_FAULT,
						 .v = {.type = HW_V_BOOL, .b = cs->active[i]},
						 .q = HW_Q_GOOD,
						 .changed = (int)i == which};
	struct alert_device_in in = {.id = camera,
				     .seen = true,
				     .online = !cs->offline,
				     .frozen = false,
				     .pts = pts,
				     .n = N_CAM_CONDS};
	s->now = wall_ms();
	alert_engine_update(s->engine, &in, s->now);
	flush(s);
}

void alert_service_on_connected(struct alert_service *s)
{
	size_t n = alert_engine_count(s->engine);
	const struct alert **v = calloc(n ? n : 1, sizeof(*v));
	char topic[ALERT_ID_MAX + 16];
	struct resend r = {.s = s};
	GPtrArray *ids;
	size_t before;

	/* The broker (or the county behind it) may have lost what was retained. */
	n = alert_engine_list(s->engine, v, n);
	for (size_t i = 0; i < n; i++) {
		char *js = dump(alert_to_json(v[i], s->site, false));
		snprintf(topic, sizeof(topic), "alert/%s", v[i]->id);
		publish_state(s, topic, js);
		free(js);
	}
	free(v);
	ids = g_ptr_array_new_with_free_func(g_free);
	{
		GHashTableIter it;
		gpointer k;
		g_hash_table_iter_init(&it, s->tombstones);
		while (g_hash_table_iter_next(&it, &k, NULL))
			g_ptr_array_add(ids, g_strdup(k));
	}
	for (guint i = 0; i < ids->len; i++)
		publish_removal(s, ids->pdata[i]);
	g_ptr_array_free(ids, TRUE);
	/* Events the broker never acknowledged, in sequence order (with an outbox, it
	 * replays them itself: see alert_service_create). */
	if (mqtt_outbox(s->mqtt))
		return;
	do {
		before = r.seen;
		alert_store_undelivered(s->store, r.last, RESEND_BATCH, resend_one, &r);
	} while (r.seen - before == RESEND_BATCH);
	if (r.n)
		log_info("resent %zu undelivered event(s)", r.n);
}

void alert_service_set_clips(struct alert_service *s, alert_clip_fn fn, void *ud)
{
	s->clips = fn;
	s->clips_ud = ud;
}

void alert_service_set_snapshots(struct alert_service *s, alert_snapshot_fn fn, void *ud)
{
	s->snapshot = fn;
	s->snapshot_ud = ud;
}

void alert_service_set_device_commands(struct alert_service *s, alert_device_cmd_fn fn, void *ud)
{
	s->device_cmd = fn;
	s->device_cmd_ud = ud;
}

void alert_service_get_stats(struct alert_service *s, struct alert_service_stats *out)
{
	*out = s->st;
	out->active = alert_engine_count(s->engine);
	out->undelivered = alert_store_count_events(s->store, true);
}

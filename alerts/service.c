/* The alert service: owns the engine, the store and the alert side of MQTT. Every
 * batch of transitions is committed to SQLite before anything is published, so a
 * crash can lose nothing that was seen outside. A store that cannot write (disk full,
 * I/O error) never holds an event back: it is published from memory and kept there
 * until the store takes it, and the failure is an alert of its own (gateway.store_fault).
 * Runs on the main loop thread. */
#define LOG_TAG "alerts"
#include "alerts/service.h"

#include <errno.h>
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alerts/alert_json.h"
#include "alerts/command.h"
#include "alerts/engine.h"
#include "alerts/store.h"
#include "gateway/log.h"
#include "gateway/outbox.h"

#define TICK_MS 200
#define RESEND_BATCH 500
#define PRUNE_EVERY 500
#define HELD_MAX 20000	       /* events kept in memory while the store cannot write */
#define STORE_RETRY_MIN_MS 500 /* first retry of a failing store, doubling up to: */
#define STORE_RETRY_MAX_MS 5000
#define GATEWAY_DEVICE "gateway" /* the device of the gateway's own alerts */
#define GUARD_FILE "alert-seq"
#define GUARD_LEN 32

struct item {
	uint64_t seq;
	char *event;	  /* event JSON */
	char *id;	  /* alert id, or NULL for events without an alert */
	char *state_full; /* stored JSON; "" = closed (tombstone until the removal is sent) */
	char *state_pub;  /* published JSON; NULL when closed */
	int cls;	  /* outbox class of the event: P1 alerts' events go first */
	/* Where the event is on its way out (an item is dropped once it is safe). */
	bool stored;	/* in the event log, its alert's state in alert_state */
	bool queued;	/* in the outbox, which delivers it from then on */
	bool sent;	/* published from memory, its PUBACK not in yet */
	bool delivered; /* the broker acknowledged it */
	bool marked;	/* its delivery is recorded in the store */
};

struct alert_service {
	const struct hw_config *cfg;
	const char *site;
	struct mqtt *mqtt;
	struct alert_engine *engine;
	struct alert_store *store;
	GPtrArray *batch; /* struct item *: queued by on_emit for the next flush */
	GPtrArray *held;  /* struct item * (owned): not yet both stored and delivered or
			     queued, in sequence order */
	uint64_t next_seq;
	alert_device_cmd_fn device_cmd; /* cmd/device, NULL: not offered */
	alert_clip_fn clips;		/* clips of a point, NULL: no cameras */
	GHashTable *cams;		/* camera id -> struct cam_state */
	void *clips_ud;
	void *device_cmd_ud;
	alert_snapshot_fn snapshot; /* cmd/snapshot, NULL: not offered */
	void *snapshot_ud;
	GList *snap_reqs; /* struct snap_req: snapshots started, not answered yet */
	int64_t now;
	guint tick;
	GHashTable *tombstones; /* ids whose empty retained message is still to be sent */
	uint64_t since_prune;
	bool store_failed;
	int64_t store_failed_ms; /* when the current failure run started */
	int64_t store_retry_ms;	 /* next attempt while failing */
	int store_backoff_ms;
	char store_err[256]; /* what the store said last (while failing) */
	bool flushing;
	int guard_fd;	    /* <state_dir>/alert-seq, or -1 */
	uint64_t guard_seq; /* what it says: highest seq published and not stored, 0: none */
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

static void item_free_fn(gpointer p, gpointer ud)
{
	(void)ud;
	item_free(p);
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
 * sent by class then age, removed on PUBACK. Without one, or when the outbox cannot
 * take it (disk full), straight to the broker. Returns 0 when queued, 1 when published
 * from memory (the ack handler follows), or -errno (not sent). */
static int publish_event(struct alert_service *s, uint64_t seq, const char *json, int cls)
{
	int rc;

	if (!s->mqtt)
		return -ENOTCONN;
	if (mqtt_enqueue(s->mqtt, cls, "events", json, strlen(json), false, seq) == 0)
		return 0;
	rc = mqtt_publish_acked(s->mqtt, "events", json, strlen(json), false, seq);
	return rc < 0 ? rc : 1;
}

/* alert/<id>: through the outbox, or as the latest retained value from memory when the
 * outbox cannot take it (a reconnect republishes every open alert from the engine). */
static int publish_state(struct alert_service *s, const char *topic, const char *json)
{
	int rc = mqtt_enqueue(s->mqtt, OUTBOX_STATE, topic, json, strlen(json), true, 0);

	return rc < 0 ? mqtt_publish(s->mqtt, topic, json, strlen(json), true) : rc;
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

/* The sequence guard: <state_dir>/alert-seq names the highest sequence number published
 * from memory while the store could not take it, so that the next start numbers after it
 * (a consumer deduplicating on seq would otherwise drop the new events that reuse it).
 * Its blocks are allocated at start and it is overwritten in place, so it can be written
 * when the disk is full. */
static void guard_open(struct alert_service *s, const char *dir)
{
	char *path = g_build_filename(dir, GUARD_FILE, NULL);
	char buf[GUARD_LEN + 1];
	ssize_t n;
	int rc;

	s->guard_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (s->guard_fd < 0) {
		log_warn("%s: %s: events published while the store cannot write may be numbered "
			 "again after a restart",
			 path, strerror(errno));
		g_free(path);
		return;
	}
	n = pread(s->guard_fd, buf, GUARD_LEN, 0);
	buf[n > 0 ? n : 0] = '\0';
	s->guard_seq = g_ascii_strtoull(buf, NULL, 10);
	rc = posix_fallocate(s->guard_fd, 0, GUARD_LEN);
	if (rc != 0)
		log_warn("%s: cannot allocate: %s", path, strerror(rc));
	g_free(path);
}

static void guard_write(struct alert_service *s, uint64_t seq)
{
	char buf[GUARD_LEN];

	s->guard_seq = seq;
	if (s->guard_fd < 0)
		return;
	memset(buf, ' ', sizeof(buf));
	buf[snprintf(buf, sizeof(buf) - 1, "%" PRIu64, seq)] = ' ';
	buf[GUARD_LEN - 1] = '\n';
	if (pwrite(s->guard_fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
	    fdatasync(s->guard_fd) < 0)
		log_debug("%s: %s", GUARD_FILE, strerror(errno));
}

/* The gateway's own condition "store_fault" as a device the engine sees. */
static void store_condition(struct alert_service *s, bool failing)
{
	struct alert_point_in pt = {.key = "store_fault",
				    .cls = PC_SUPERVISORY,
				    .v = {.type = HW_V_BOOL, .b = failing},
				    .q = HW_Q_GOOD,
				    .changed = true};
	struct alert_device_in in = {
	    .id = GATEWAY_DEVICE, .seen = true, .online = true, .pts = &pt, .n = 1};

	alert_engine_update(s->engine, &in, s->now);
}

static void store_failing(struct alert_service *s, int rc)
{
	g_strlcpy(s->store_err, alert_store_error(s->store), sizeof(s->store_err));
	s->store_retry_ms = s->now + s->store_backoff_ms;
	s->store_backoff_ms = MIN(s->store_backoff_ms * 2, STORE_RETRY_MAX_MS);
	if (s->store_failed)
		return;
	s->store_failed = true;
	s->store_failed_ms = s->now;
	s->st.store_failures++;
	log_err("cannot write the alert store (%s%s): alert events go out from memory and are "
		"kept there until it can be written",
		rc == -ENOSPC ? "disk full: " : "", s->store_err);
	store_condition(s, true);
}

static void store_recovered(struct alert_service *s, guint n)
{
	s->store_backoff_ms = STORE_RETRY_MIN_MS;
	if (!s->store_failed)
		return;
	log_info("alert store writable again after %" G_GINT64_FORMAT " s: %u held event(s) "
		 "written",
		 (s->now - s->store_failed_ms) / 1000, n);
	s->store_failed = false;
	s->store_err[0] = '\0';
	store_condition(s, false);
}

/* Writes what the store does not have yet in one transaction: held events and their
 * alerts' states, and deliveries not yet recorded. */
static void store_held(struct alert_service *s)
{
	GPtrArray *h = s->held;
	guint n = 0;
	int rc;

	if (s->store_failed && s->now < s->store_retry_ms)
		return;
	for (guint i = 0; i < h->len; i++) {
		struct item *it = h->pdata[i];
		n += !it->stored || (it->delivered && !it->marked);
	}
	if (n == 0)
		return;
	rc = alert_store_begin(s->store);
	for (guint i = 0; rc == 0 && i < h->len; i++) {
		struct item *it = h->pdata[i];
		if (!it->stored) {
			rc = alert_store_add_event(s->store, it->seq, s->now, it->event);
			if (rc == 0 && it->id)
				rc =
				    alert_store_put_alert(s->store, it->id, it->state_full, s->now);
		}
		if (rc == 0 && it->delivered && !it->marked)
			rc = alert_store_mark_delivered(s->store, it->seq);
	}
	if (rc == 0)
		rc = alert_store_commit(s->store);
	if (rc < 0) {
		alert_store_rollback(s->store);
		store_failing(s, rc);
		return;
	}
	for (guint i = 0; i < h->len; i++) {
		struct item *it = h->pdata[i];
		it->stored = true;
		it->marked = it->delivered;
	}
	if (s->guard_seq)
		guard_write(s, 0); /* the event log has every number published */
	store_recovered(s, n);
}

/* Hands every held event that is not on its way to MQTT: to the outbox once stored,
 * else (or when the outbox cannot take it) straight to the broker from memory. Then
 * lets go of what is safe. */
static void deliver_held(struct alert_service *s)
{
	GPtrArray *h = s->held;
	bool outbox = s->mqtt && mqtt_outbox(s->mqtt);
	guint keep = 0;

	for (guint i = 0; i < h->len; i++) {
		struct item *it = h->pdata[i];

		if (s->mqtt && !it->queued && !it->sent && !it->delivered) {
			if (it->stored && outbox &&
			    mqtt_enqueue(s->mqtt, it->cls, "events", it->event, strlen(it->event),
					 false, it->seq) == 0) {
				it->queued = true;
			} else if (mqtt_is_connected(s->mqtt)) {
				if (!it->stored && it->seq > s->guard_seq)
					guard_write(s, it->seq); /* before it is seen outside */
				it->sent =
				    mqtt_publish_acked(s->mqtt, "events", it->event,
						       strlen(it->event), false, it->seq) == 0;
			}
		}
		/* Without an outbox, the store's undelivered events are resent on reconnect. */
		if (it->stored && (it->queued || !outbox || (it->delivered && it->marked))) {
			item_free(it);
			continue;
		}
		h->pdata[keep++] = it;
	}
	g_ptr_array_set_size(h, keep);
	/* Bounded: beyond HELD_MAX, the oldest events the broker has are let go (they only
	 * miss from the event log); an undelivered event is never dropped. */
	for (guint i = 0; h->len > HELD_MAX && i < h->len;) {
		struct item *it = h->pdata[i];
		if (it->delivered) {
			if (s->st.held_dropped++ == 0)
				log_err("more than %d alert events held in memory: the oldest "
					"delivered ones will miss from the event log",
					HELD_MAX);
			item_free(it);
			g_ptr_array_remove_index(h, i);
		} else {
			i++;
		}
	}
}

/* Commits the batch, then publishes it (from memory if the store cannot take it). */
static void flush(struct alert_service *s)
{
	char topic[ALERT_ID_MAX + 16];

	if (s->flushing)
		return;
	s->flushing = true;
	/* A failure or recovery of the store raises or clears an alert: flush that too. */
	while (s->batch->len || s->held->len) {
		GPtrArray *b = s->batch;
		guint first = s->held->len;

		for (guint i = 0; i < b->len; i++)
			g_ptr_array_add(s->held, b->pdata[i]);
		s->since_prune += b->len;
		g_ptr_array_set_size(b, 0);
		store_held(s);
		for (guint i = first; i < s->held->len; i++) {
			struct item *it = s->held->pdata[i];
			if (!it->id)
				continue;
			if (it->state_pub) {
				snprintf(topic, sizeof(topic), "alert/%s", it->id);
				if (s->mqtt)
					publish_state(s, topic, it->state_pub);
			} else {
				g_hash_table_add(s->tombstones, g_strdup(it->id));
				publish_removal(s, it->id);
			}
		}
		deliver_held(s);
		if (s->batch->len == 0)
			break;
	}
	s->flushing = false;
	if (s->since_prune >= PRUNE_EVERY && !s->store_failed) {
		int rc;

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
	case -ETIMEDOUT:
		return "timeout";
	case -ECANCELED:
		return "cancelled";
	case -EBUSY:
		return "busy";
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

#define CMD_PENDING 1 /* run_cmd: the request is answered later (snapshot_done) */
static int snapshot_start(struct alert_service *s, const struct mqtt_cmd *c,
			  struct alert_cmd_req *r);

/* Runs one request; returns 0, -errno or CMD_PENDING (r was taken over). *changed: it
 * changed something. */
static int run_cmd(struct alert_service *s, const struct mqtt_cmd *c, struct alert_cmd_req *r,
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
			rc = snapshot_start(s, c, r);
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

/* Audits a request, flushes and replies: rc 0 or -errno, path the snapshot's file. */
static void cmd_finish(struct alert_service *s, struct mqtt *m, const struct mqtt_cmd *c,
		       const struct alert_cmd_req *r, int rc, bool changed, const char *path)
{
	const struct alert *a;
	json_t *reply;
	char *txt;

	if (rc < 0)
		s->st.refused++;
	audit_cmd(s, c, r, rc, changed, path);
	flush(s);
	if (rc == -EDESTADDRREQ)
		return; /* nothing is published outside the reply prefix */
	reply = json_pack("{s:b, s:s?}", "ok", rc == 0, "verb", r->verb);
	set_opt(reply, "id", r->id);
	set_request(reply, r);
	set_opt(reply, "path", path);
	if (rc < 0)
		json_object_set_new(reply, "error", json_string(err_name(rc)));
	if (rc == -EMSGSIZE && r->too_large)
		json_object_set_new(reply, "too_large", json_string(r->too_large));
	if (rc == 0 && strcmp(r->verb, "list") == 0)
		json_object_set_new(reply, "alerts", list_json(s));
	else if (rc == 0 && r->id && (a = alert_engine_get(s->engine, r->id)))
		json_object_set_new(reply, "alert", alert_to_json(a, s->site, false));
	txt = dump(reply);
	rc = mqtt_reply(m, c, r->request_id, txt, strlen(txt));
	if (rc < 0 && rc != -ENOENT)
		log_debug("reply to %s: %s", c->verb, strerror(-rc));
	free(txt);
}

/* A cmd/snapshot waiting for its file: the request and what its reply needs of the MQTT
 * message, copied. s is NULL once the service answered it on its way out. */
struct snap_req {
	struct alert_service *s;
	struct alert_cmd_req r;
	struct mqtt_cmd c;
	char *verb, *topic, *response_topic, *user;
	void *corr;
};

static void snapshot_done(int rc, const char *path, void *ud)
{
	struct snap_req *q = ud;
	struct alert_service *s = q->s;

	if (s) {
		s->snap_reqs = g_list_remove(s->snap_reqs, q);
		s->now = wall_ms();
		cmd_finish(s, s->mqtt, &q->c, &q->r, rc, rc == 0, rc == 0 ? path : NULL);
	}
	alert_cmd_req_clear(&q->r);
	g_free(q->verb);
	g_free(q->topic);
	g_free(q->response_topic);
	g_free(q->user);
	g_free(q->corr);
	g_free(q);
}

/* Starts the snapshot; on success takes r over and returns CMD_PENDING: snapshot_done
 * replies once the file is written or failed. */
static int snapshot_start(struct alert_service *s, const struct mqtt_cmd *c,
			  struct alert_cmd_req *r)
{
	struct snap_req *q = g_new0(struct snap_req, 1);
	int rc;

	q->s = s;
	q->r = *r;
	q->verb = g_strdup(c->verb);
	q->topic = g_strdup(c->topic);
	q->response_topic = g_strdup(c->response_topic);
	q->user = g_strdup(c->user);
	q->corr = c->corr ? g_memdup2(c->corr, c->corr_len) : NULL;
	q->c = (struct mqtt_cmd){.verb = q->verb,
				 .topic = q->topic,
				 .response_topic = q->response_topic,
				 .corr = q->corr,
				 .corr_len = c->corr_len,
				 .user = q->user,
				 .protocol = c->protocol};
	/* verb and a v5 user point into the MQTT message: at the copies now */
	if (r->verb == c->verb)
		q->r.verb = q->verb;
	if (r->user && r->user == c->user)
		q->r.user = q->user;
	rc = s->snapshot(r->camera, snapshot_done, q, s->snapshot_ud);
	if (rc < 0) {
		q->s = NULL;
		q->r = (struct alert_cmd_req){0}; /* still the caller's */
		snapshot_done(rc, NULL, q);
		return rc;
	}
	*r = (struct alert_cmd_req){0};
	s->snap_reqs = g_list_prepend(s->snap_reqs, q);
	return CMD_PENDING;
}

static void on_cmd(struct mqtt *m, const struct mqtt_cmd *c, void *ud)
{
	struct alert_service *s = ud;
	struct alert_cmd_req r;
	bool changed = false;
	int rc;

	s->now = wall_ms();
	s->st.commands++;
	alert_cmd_limiter_expire(s->limiter, s->now, on_audit_summary, s);
	rc = alert_cmd_parse(c->verb, c->payload, c->len, c->user, c->protocol, &r);
	/* A request is not obeyed unless its answer can go where it asks. */
	if (mqtt_reply_check(m, c) < 0)
		rc = -EDESTADDRREQ;
	if (rc == 0)
		rc = run_cmd(s, c, &r, &changed);
	if (rc != CMD_PENDING)
		cmd_finish(s, m, c, &r, rc, changed, NULL);
	alert_cmd_req_clear(&r);
}

static void on_ack(struct mqtt *m, uint64_t token, bool ok, void *ud)
{
	struct alert_service *s = ud;

	for (guint i = 0; i < s->held->len; i++) {
		struct item *it = s->held->pdata[i];
		if (it->seq != token)
			continue;
		it->sent = false;
		if (!ok)
			return; /* refused by the broker: the outbox sets such records aside */
		it->delivered = true;
		if (it->stored && !s->store_failed)
			it->marked = alert_store_mark_delivered(s->store, token) == 0;
		deliver_held(s);
		return;
	}
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
	s->batch = g_ptr_array_new();
	s->held = g_ptr_array_new(); /* items freed by hand: they move in and out */
	s->store_backoff_ms = STORE_RETRY_MIN_MS;
	s->guard_fd = -1;
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
	guard_open(s, cfg->storage.state_dir);
	if (s->guard_seq > s->next_seq) {
		log_warn("the last run published events up to %" G_GUINT64_FORMAT " that the store "
			 "could not take (%" G_GUINT64_FORMAT
			 " is the last stored): numbering goes "
			 "on after them",
			 s->guard_seq, s->next_seq);
		s->next_seq = s->guard_seq;
	}
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
	g_ptr_array_foreach(s->held, item_free_fn, NULL);
	g_ptr_array_free(s->held, TRUE);
	if (s->guard_fd >= 0)
		close(s->guard_fd);
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
	s->store_retry_ms = 0; /* one last attempt */
	/* Snapshots still running are answered now; their completion finds nobody waiting. */
	while (s->snap_reqs) {
		struct snap_req *q = s->snap_reqs->data;

		s->snap_reqs = g_list_delete_link(s->snap_reqs, s->snap_reqs);
		q->s = NULL;
		cmd_finish(s, s->mqtt, &q->c, &q->r, -ECANCELED, false, NULL);
	}
	flush(s);
	if (s->held->len) {
		guint unstored = 0;
		for (guint i = 0; i < s->held->len; i++)
			unstored += !((struct item *)s->held->pdata[i])->stored;
		if (unstored)
			log_err("stopping with %u alert event(s) the store could not take (%s): "
				"they were published but are not in the event log",
				unstored, s->store_err);
	}
	if (s->tick)
		g_source_remove(s->tick);
	if (s->mqtt) {
		mqtt_set_command_handler(s->mqtt, NULL, NULL);
		mqtt_set_ack_handler(s->mqtt, NULL, NULL);
	}
	alert_engine_destroy(s->engine);
	alert_store_close(s->store);
	g_ptr_array_free(s->batch, TRUE);
	g_ptr_array_foreach(s->held, item_free_fn, NULL);
	g_ptr_array_free(s->held, TRUE);
	if (s->guard_fd >= 0)
		close(s->guard_fd);
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
	/* Held events in flight in the lost session got no ack: send them again. */
	for (guint i = 0; i < s->held->len; i++)
		((struct item *)s->held->pdata[i])->sent = false;
	deliver_held(s);
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
	out->undelivered = s->store_failed ? 0 : alert_store_count_events(s->store, true);
	out->store_ok = !s->store_failed;
	out->store_failed_ms = s->store_failed ? s->store_failed_ms : 0;
	out->store_error = s->store_err;
	out->held = s->held->len;
	for (guint i = 0; i < s->held->len; i++) {
		const struct item *it = s->held->pdata[i];
		out->unstored += !it->stored;
		out->undelivered += !it->stored && !it->delivered;
	}
}

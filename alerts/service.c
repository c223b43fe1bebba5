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
#include "alerts/alert_text.h"
#include "alerts/command.h"
#include "alerts/engine.h"
#include "alerts/store.h"
#include "core/log.h"
#include "core/timeparse.h"
#include "outputs/outbox.h"

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
	bool state_out; /* its alert/<id> went into the outbox with the store's commit */
};

struct alert_service {
	struct hub *hub; /* where the open alerts are mirrored, or NULL */
	const struct hw_config *cfg;
	const char *site;
	struct mqtt *mqtt;
	struct alert_engine *engine;
	struct alert_store *store;
	GPtrArray *batch; /* struct item *: queued by on_emit for the next flush */
	GPtrArray *held;  /* struct item * (owned): not yet both stored and delivered or
			     queued, in sequence order */
	uint64_t next_seq;
	alert_clip_fn clips; /* clips of a point, NULL: no cameras */
	GHashTable *cams;    /* camera id -> struct cam_state */
	void *clips_ud;
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
/* The hub's copy of an alert (the console and the county read it there). */
static void mirror(struct alert_service *s, const struct alert *a)
{
	struct hub_alert h = {
	    .priority = a->prio, .active = a->active, .raised_ms = a->raised_ms, .seq = a->seq};

	if (!s->hub)
		return;
	if (a->core == AC_NORMAL) {
		hub_alert_remove(s->hub, a->id);
		return;
	}
	g_strlcpy(h.id, a->id, sizeof(h.id));
	g_strlcpy(h.device, a->device, sizeof(h.device));
	g_strlcpy(h.condition, a->cond, sizeof(h.condition));
	g_strlcpy(h.state, alert_state_name(a), sizeof(h.state));
	g_strlcpy(h.message, a->message, sizeof(h.message));
	hub_alert_set(s->hub, &h);
}

static void queue_event(struct alert_service *s, json_t *ev, const struct alert *a)
{
	struct item *it = g_new0(struct item, 1);

	it->seq = json_integer_value(json_object_get(ev, "seq"));
	it->event = dump(ev);
	it->cls = a && a->prio == AP_P1 ? OUTBOX_ALARM : OUTBOX_ALERT;
	if (a) {
		mirror(s, a);
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

/* The outbox the alert records go to inside the store's own transactions: the MQTT
 * client's, when it keeps its tables in the same database (in the daemon it does: one
 * connection per file). NULL: each record goes in on its own (mqtt_enqueue) or from memory. */
static struct outbox *tx_outbox(struct alert_service *s)
{
	struct outbox *ob = s->mqtt ? mqtt_outbox(s->mqtt) : NULL;

	return ob && outbox_db(ob) == alert_store_db(s->store) ? ob : NULL;
}

/* An event the transaction hands to the outbox: not on its way to MQTT yet. */
static bool to_queue(const struct item *it)
{
	return !it->queued && !it->sent && !it->delivered;
}

/* alert/<id> of a held item, inside the open transaction: its state, or the empty retained
 * message that removes it and the end of its tombstone row. */
static int queue_state_in(struct alert_service *s, const struct item *it)
{
	char topic[ALERT_ID_MAX + 16];
	const char *js = it->state_pub ? it->state_pub : "";
	int rc;

	snprintf(topic, sizeof(topic), "alert/%s", it->id);
	rc = mqtt_enqueue_in(s->mqtt, OUTBOX_STATE, topic, js, strlen(js), true, 0);
	if (rc == 0 && !it->state_pub)
		rc = alert_store_del_alert(s->store, it->id);
	return rc;
}

/* Writes what the store does not have yet in one transaction: held events and their
 * alerts' states, deliveries not yet recorded and, with the outbox in the same database,
 * the outbox records of the events not on their way out and of alert/<id> for the held
 * items from first on (their state_out set). One commit; MQTT is fed after it. */
static void store_held(struct alert_service *s, guint first)
{
	GPtrArray *h = s->held;
	struct outbox *ob = tx_outbox(s);
	guint n = 0, q = 0;
	int rc;

	if (s->store_failed && s->now < s->store_retry_ms)
		return;
	for (guint i = 0; i < h->len; i++) {
		struct item *it = h->pdata[i];
		n += !it->stored || (it->delivered && !it->marked);
		q += ob && to_queue(it);
	}
	if (n == 0 && q == 0)
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
		if (rc == 0 && ob && to_queue(it))
			rc = mqtt_enqueue_in(s->mqtt, it->cls, "events", it->event,
					     strlen(it->event), false, it->seq);
		if (rc == 0 && ob && i >= first && it->id)
			rc = queue_state_in(s, it);
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
		it->queued = it->queued || (ob && to_queue(it));
		it->state_out = ob && i >= first && it->id;
		it->stored = true;
		it->marked = it->delivered;
	}
	if (ob)
		mqtt_feed(s->mqtt);
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

/* Commits the batch with its outbox records in one transaction, then publishes what did
 * not go into the outbox (from memory if the store cannot take it). */
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
		store_held(s, first);
		for (guint i = first; i < s->held->len; i++) {
			struct item *it = s->held->pdata[i];
			if (!it->id)
				continue;
			if (it->state_pub)
				g_hash_table_remove(s->tombstones, it->id); /* open again */
			if (it->state_out)
				continue; /* in the outbox with the store's commit */
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

/* ---- commands: the alert verbs of the router, and its audit sink ---- */

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

/* The outcome of an alert verb on id: the alert's state in the reply, or the reason. */
static int alert_result(struct alert_service *s, struct router_req *q, const char *id, int rc)
{
	const struct alert *a;

	switch (rc) {
	case 0:
		if ((a = alert_engine_get(s->engine, id)))
			router_req_reply(q, "alert", alert_to_json(a, s->site, false));
		return 0;
	case -ENOENT:
		return router_req_fail(q, rc, NULL, "no open alert \"%s\"", id);
	default:
		return rc;
	}
}

/* An alert verb needs the alert's id. */
static int need_id(struct router_req *q, const struct cmdreq *a)
{
	return a->id ? 0
		     : router_req_fail(q, -ENOENT, NULL,
				       "the request names no alert: \"id\" is missing");
}

static int cmd_ack(struct router_req *q, void *ud)
{
	struct alert_service *s = ud;
	const struct cmdreq *a = router_req_args(q);
	int rc = need_id(q, a);

	if (rc < 0)
		return rc;
	s->now = router_req_now(q);
	rc = alert_engine_ack(s->engine, a->id, a->user, s->now);
	if (rc == -EALREADY)
		return router_req_fail(q, rc, NULL, "alert \"%s\" is already acknowledged", a->id);
	return alert_result(s, q, a->id, rc);
}

static int cmd_shelve(struct router_req *q, void *ud)
{
	struct alert_service *s = ud;
	const struct cmdreq *a = router_req_args(q);
	int64_t for_ms = 0;
	int rc;

	s->now = router_req_now(q);
	rc = alert_cmd_duration(a->for_v, &for_ms);
	if (rc == -EINVAL)
		return router_req_fail(q, rc, NULL,
				       "\"for\" must be a positive number of seconds or a duration "
				       "such as \"90\", \"1.5h\", \"2d\"");
	if (rc == 0 && for_ms > (int64_t)s->cfg->alerts.shelve_max_s * 1000)
		rc = -ERANGE;
	if (rc == -ERANGE)
		return router_req_fail(q, rc, NULL,
				       "\"for\" is longer than alerts.shelve_max_s (%d s)",
				       s->cfg->alerts.shelve_max_s);
	if (rc < 0)
		return rc;
	if ((rc = need_id(q, a)) < 0)
		return rc;
	rc = alert_engine_shelve(s->engine, a->id, a->user, a->reason, for_ms, s->now);
	if (rc == -EPERM)
		return router_req_fail(q, rc, NULL,
				       "alert \"%s\" is P1 (life safety): P1 alerts cannot be "
				       "shelved",
				       a->id);
	if (rc == -EINVAL)
		return router_req_fail(q, rc, NULL, "a shelve needs a \"reason\"");
	return alert_result(s, q, a->id, rc);
}

static int cmd_unshelve(struct router_req *q, void *ud)
{
	struct alert_service *s = ud;
	const struct cmdreq *a = router_req_args(q);
	int rc = need_id(q, a);

	if (rc < 0)
		return rc;
	s->now = router_req_now(q);
	rc = alert_engine_unshelve(s->engine, a->id, a->user, s->now);
	if (rc == -EALREADY)
		return router_req_fail(q, rc, NULL, "alert \"%s\" is not shelved", a->id);
	return alert_result(s, q, a->id, rc);
}

/* Read-only: anyone who may publish a request may read alert/# too. */
static int cmd_list(struct router_req *q, void *ud)
{
	router_req_reply(q, "alerts", list_json(ud));
	return 0;
}

/* cmd/history: the event log of a range, filtered, the latest "limit" of it, oldest first
 * (docs/commands.md). Read-only. */
#define HISTORY_DEFAULT 100
#define HISTORY_MAX 1000   /* events in one reply */
#define HISTORY_SCAN 20000 /* events read to find them */

struct history {
	json_t *out;
	const char *device, *event;
	int priority;
	size_t limit;
};

/* One event of the log as the history shows it, if it passes the filters: the record without
 * the alert's full state, but with its text and message. Newest first, until limit. */
static int history_row(uint64_t seq, const char *txt, void *ud)
{
	struct history *h = ud;
	json_t *e = json_loads(txt, 0, NULL), *a;
	const char *dev, *id, *ev;

	(void)seq;
	if (!json_is_object(e)) {
		json_decref(e);
		return 0;
	}
	a = json_object_get(e, "alert");
	if (json_is_object(a))
		for (const char *const *k =
			 (const char *const[]){"text", "message", "device", NULL};
		     *k; k++)
			if (json_is_string(json_object_get(a, *k)) && !json_object_get(e, *k))
				json_object_set(e, *k, json_object_get(a, *k));
	json_object_del(e, "alert");
	json_object_del(e, "site");
	dev = json_string_value(json_object_get(e, "device"));
	id = json_string_value(json_object_get(e, "id"));
	ev = json_string_value(json_object_get(e, "event"));
	if ((!h->device || (dev && strcmp(dev, h->device) == 0) ||
	     (id && g_str_has_prefix(id, h->device) && id[strlen(h->device)] == '.')) &&
	    (!h->event || (ev && strcmp(ev, h->event) == 0)) &&
	    (!h->priority || json_integer_value(json_object_get(e, "priority")) == h->priority))
		json_array_append(h->out, e);
	json_decref(e);
	return json_array_size(h->out) >= h->limit ? -ECANCELED : 0;
}

/* A bound of history: seconds since the epoch or a time as core/timeparse.h reads it. */
static int history_time(const struct alert_service *s, const json_t *v, int64_t *ms)
{
	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= TIMEPARSE_MAX_S) {
		*ms = json_integer_value(v) * 1000;
		return 0;
	}
	return json_is_string(v) ? timeparse(json_string_value(v), s->cfg->site.timezone, ms)
				 : -EINVAL;
}

static int cmd_history(struct router_req *q, void *ud)
{
	struct alert_service *s = ud;
	const json_t *doc = router_req_args(q)->doc, *lim = json_object_get(doc, "limit");
	const json_t *pri = json_object_get(doc, "priority");
	struct history h = {.device = router_req_args(q)->device, .limit = HISTORY_DEFAULT};
	int64_t from = 0, to = (TIMEPARSE_MAX_S + 1) * 1000;
	json_t *rev;
	int rc;

	if (history_time(s, json_object_get(doc, "from"), &from) < 0 ||
	    history_time(s, json_object_get(doc, "to"), &to) < 0)
		return router_req_fail(q, -EINVAL, NULL,
				       "\"from\" and \"to\" are " TIMEPARSE_FORMATS);
	if (lim) {
		json_int_t l = json_is_integer(lim) ? json_integer_value(lim) : 0;
		if (l < 1 || l > HISTORY_MAX)
			return router_req_fail(q, -EINVAL, NULL,
					       "\"limit\" is a number from 1 to %d", HISTORY_MAX);
		h.limit = (size_t)l;
	}
	if (pri) {
		json_int_t p = json_is_integer(pri) ? json_integer_value(pri) : 0;
		if (p < 1 || p > 5)
			return router_req_fail(q, -EINVAL, NULL,
					       "\"priority\" is a number from 1 to 5");
		h.priority = (int)p;
	}
	h.event = json_string_value(json_object_get(doc, "event"));
	if (!s->store)
		return router_req_fail(q, -ENOENT, NULL, "the gateway keeps no event log");
	h.out = json_array();
	rc = alert_store_history(s->store, from, to, HISTORY_SCAN, history_row, &h);
	if (rc < 0 && rc != -ECANCELED) {
		json_decref(h.out);
		return router_req_fail(q, rc, NULL, "the event log cannot be read: %s",
				       alert_store_error(s->store));
	}
	rev = json_array(); /* oldest first */
	for (size_t i = json_array_size(h.out); i-- > 0;)
		json_array_append(rev, json_array_get(h.out, i));
	json_decref(h.out);
	router_req_reply(q, "events", rev);
	return 0;
}

/* The router's audit sink: a command's record becomes an event of the log, numbered like
 * every other, committed and published by the next flush (now). */
static void on_audit(json_t *rec, void *ud)
{
	struct alert_service *s = ud;
	json_t *ev;

	s->now = wall_ms();
	ev = json_pack("{s:I, s:I, s:s}", "seq", (json_int_t)++s->next_seq, "t", (json_int_t)s->now,
		       "site", s->site);
	json_object_update(ev, rec);
	json_decref(rec);
	queue_event(s, ev, NULL);
	s->st.events++;
	flush(s);
}

void alert_service_log_event(struct alert_service *s, json_t *ev)
{
	on_audit(ev, s);
}

int alert_service_attach_router(struct alert_service *s, struct router *r)
{
	static const struct {
		const char *verb;
		enum router_role role;
		unsigned flags;
		router_handler_fn fn;
	} verbs[] = {
	    {"ack", ROUTER_OPERATOR, 0, cmd_ack},
	    {"shelve", ROUTER_OPERATOR, 0, cmd_shelve},
	    {"unshelve", ROUTER_OPERATOR, 0, cmd_unshelve},
	    {"list", ROUTER_VIEWER, ROUTER_READ_ONLY, cmd_list},
	    {"history", ROUTER_VIEWER, ROUTER_READ_ONLY, cmd_history},
	};
	int rc;

	for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++) {
		rc = router_add(r, verbs[i].verb, verbs[i].role, verbs[i].flags, verbs[i].fn, s);
		if (rc < 0)
			return rc;
	}
	router_set_audit(r, on_audit, s);
	return 0;
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
	flush(s);
	return G_SOURCE_CONTINUE;
}

/* The sentence people read, from the configuration's names in the site's language. */
static void message_fn(struct alert *a, void *ud)
{
	const struct alert_service *s = ud;

	alert_text_format(s->cfg, a, a->message, sizeof(a->message));
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
	if (!o || alert_from_json(o, &a) < 0) {
		log_err("stored alert %s is unreadable; ignored", id);
	} else {
		if (!a.message[0]) /* stored before alerts had messages */
			alert_text_format(s->cfg, &a, a.message, sizeof(a.message));
		if (alert_engine_restore(s->engine, &a) < 0)
			log_err("stored alert %s is unreadable; ignored", id);
	}
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
	alert_engine_set_message_fn(s->engine, message_fn, s);
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
	free(s);
	return rc;
}

void alert_service_rebind(struct alert_service *s, const struct hw_config *cfg)
{
	s->cfg = cfg;
	s->site = cfg->site.id;
	alert_engine_rebind(s->engine, s->site, &cfg->alerts, cfg->rules, cfg->n_rules);
}

void alert_service_destroy(struct alert_service *s)
{
	if (!s)
		return;
	s->now = wall_ms();
	s->store_retry_ms = 0; /* one last attempt */
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
	if (s->mqtt)
		mqtt_set_ack_handler(s->mqtt, NULL, NULL);
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
	free(s);
}

static void on_device(struct alert_service *s, const struct hub_device *d, bool all);

void alert_service_on_device(struct alert_service *s, const struct hub_device *d)
{
	on_device(s, d, false);
}

void alert_service_reevaluate(struct alert_service *s, const struct hub_device *d)
{
	if (d->seen && d->layout)
		on_device(s, d, true);
}

/* The engine's input from d: the points that changed in its last update, or all of them. */
static void on_device(struct alert_service *s, const struct hub_device *d, bool all)
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
						 .changed = all || hub_point_changed(p)};
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

void alert_service_on_condition(struct alert_service *s, const char *device, const char *point,
				const char *cond, int prio, const char *text, bool active)
{
	s->now = wall_ms();
	alert_engine_condition(s->engine, device, point, cond, prio, text, active, s->now);
	flush(s);
}

/* alert/<id> of every open alert (v, n) and the removals still owed (ids) into the outbox
 * in one transaction of the store. Returns 0 or -errno (nothing queued then). */
static int republish_in(struct alert_service *s, const struct alert **v, size_t n, GPtrArray *ids)
{
	char topic[ALERT_ID_MAX + 16];
	int rc = alert_store_begin(s->store);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		char *js = dump(alert_to_json(v[i], s->site, false));
		snprintf(topic, sizeof(topic), "alert/%s", v[i]->id);
		rc = mqtt_enqueue_in(s->mqtt, OUTBOX_STATE, topic, js, strlen(js), true, 0);
		free(js);
	}
	for (guint i = 0; rc == 0 && i < ids->len; i++) {
		snprintf(topic, sizeof(topic), "alert/%s", (const char *)ids->pdata[i]);
		rc = mqtt_enqueue_in(s->mqtt, OUTBOX_STATE, topic, "", 0, true, 0);
		if (rc == 0)
			rc = alert_store_del_alert(s->store, ids->pdata[i]);
	}
	if (rc == 0)
		rc = alert_store_commit(s->store);
	if (rc < 0) {
		alert_store_rollback(s->store);
		return rc;
	}
	for (guint i = 0; i < ids->len; i++)
		g_hash_table_remove(s->tombstones, ids->pdata[i]);
	mqtt_feed(s->mqtt);
	return 0;
}

char *alert_service_render(struct alert_service *s, const char *subtopic, size_t *len)
{
	const struct alert *a;
	char *js;

	if (strncmp(subtopic, "alert/", 6) != 0 || !(a = alert_engine_get(s->engine, subtopic + 6)))
		return NULL;
	js = dump(alert_to_json(a, s->site, false));
	if (js)
		*len = strlen(js);
	return js;
}

void alert_service_refresh(struct alert_service *s, mqtt_render_fn render, void *ud)
{
	size_t n = alert_engine_count(s->engine);
	const struct alert **v;
	char topic[ALERT_ID_MAX + 16];

	if (!s->mqtt || !n || !mqtt_is_connected(s->mqtt))
		return;
	v = calloc(n, sizeof(*v));
	if (!v)
		return;
	n = alert_engine_list(s->engine, v, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(topic, sizeof(topic), "alert/%s", v[i]->id);
		mqtt_publish_lazy(s->mqtt, topic, render, ud, 0);
	}
	free(v);
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
	ids = g_ptr_array_new_with_free_func(g_free);
	{
		GHashTableIter it;
		gpointer k;
		g_hash_table_iter_init(&it, s->tombstones);
		while (g_hash_table_iter_next(&it, &k, NULL))
			g_ptr_array_add(ids, g_strdup(k));
	}
	if (!tx_outbox(s) || s->store_failed || republish_in(s, v, n, ids) < 0) {
		for (size_t i = 0; i < n; i++) {
			char *js = dump(alert_to_json(v[i], s->site, false));
			snprintf(topic, sizeof(topic), "alert/%s", v[i]->id);
			publish_state(s, topic, js);
			free(js);
		}
		for (guint i = 0; i < ids->len; i++)
			publish_removal(s, ids->pdata[i]);
	}
	free(v);
	g_ptr_array_free(ids, TRUE);
	/* Held events in flight in the lost session got no ack: send them again, through the
	 * outbox when the store takes them. */
	for (guint i = 0; i < s->held->len; i++)
		((struct item *)s->held->pdata[i])->sent = false;
	store_held(s, s->held->len);
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

void alert_service_set_hub(struct alert_service *s, struct hub *h)
{
	size_t n = alert_engine_count(s->engine);
	const struct alert **v = calloc(n ? n : 1, sizeof(*v));

	s->hub = h;
	if (!v)
		return;
	n = alert_engine_list(s->engine, v, n);
	for (size_t i = 0; i < n; i++)
		mirror(s, v[i]);
	free(v);
}

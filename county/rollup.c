/* Owns the roll-up of the halls: the picture of each hall from its retained topics and
 * events, and the time-weighted counters of its day. Pure logic, the clock passed in;
 * runs on the county's main loop. */
#include "county/rollup.h"

#include <errno.h>
#include <stddef.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

/* Detail caps per hall (docs/county.md, "A hall's detail"): rows beyond them are counted
 * (their figures still count) but not listed. */
#define CAP_DEVS 64
#define CAP_CAMS 64
#define CAP_PLANS 32
#define CAP_TICKETS 64
#define CAP_RECORDS 20
#define TEXT_MAX 120 /* longest compact text kept (names, joined point lists) */

struct dev {
	bool online;
	bool fault;  /* quality other than good */
	bool fire;   /* a fire point is true */
	bool listed; /* within CAP_DEVS: the fields below are kept */
	char quality[12];
	char *name, *location; /* NULL: none */
	char *active;	       /* active alarm/fault points, comma-joined; NULL: none */
};

struct cam {
	bool online;
	bool recording;
	bool faulty;		  /* a condition is active */
	int64_t oldest_recording; /* Unix ms, 0: none */
	bool has_footage;
	bool listed;	       /* within CAP_CAMS */
	int64_t last_snapshot; /* Unix ms, 0: none */
	char *conditions;      /* active conditions, comma-joined; NULL: none */
};

struct ticket {
	int64_t deadline; /* Unix ms, 0: none */
	bool listed;	  /* within CAP_TICKETS */
	char state[16];
	char *kind, *target;
};

struct rec {
	int64_t t;
	char event[12];	       /* inspection, review, ticket */
	char *subject, *state; /* task, record or ticket id; the state it went to */
};

struct alert {
	int priority;
	int64_t raised;
	bool active;
	bool fire;
	bool fault;
};

struct insp {
	int64_t passed, failed, missed, overdue;
	bool listed;   /* within CAP_PLANS */
	char last[12]; /* the last task's state */
	int64_t last_t, next_due;
};

struct rollup_hall {
	char *site;
	bool have_status;
	bool online;	   /* status says online */
	bool silent;	   /* no message within silent_after_ms */
	bool fire;	   /* a fire alarm now */
	int64_t last_seen; /* Unix ms of the newest message (its own time when retained) */
	int64_t started;
	int64_t status_t;
	GHashTable *devs;	      /* id -> struct dev */
	GHashTable *cams;	      /* id -> struct cam */
	GHashTable *alerts;	      /* id -> struct alert */
	GHashTable *insps;	      /* plan -> struct insp */
	GHashTable *tickets;	      /* ticket id -> struct ticket, open ones: retained, events */
	int64_t tickets_more;	      /* open ones the retained `tickets` counts, not lists */
	struct rec recs[CAP_RECORDS]; /* the newest records, a ring */
	size_t rec_next, rec_n;
	int64_t recs_dropped; /* records pushed out of the ring */
	int64_t acc_t;	      /* integrated up to (Unix ms), 0: not yet */
	int64_t footage_required_ms;
	bool dirty; /* changed since text was made */
	char *text; /* its JSON as rollup_json_text last made it */
	struct rollup_day day;
};

struct rollup {
	struct rollup_cfg cfg;
	rollup_day_fn on_day;
	void *ud;
	GHashTable *halls; /* site -> struct rollup_hall */
};

#define DAY_MS (86400LL * 1000)

int64_t rollup_day_of(int64_t ms)
{
	return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
}

static void dev_free(gpointer p)
{
	struct dev *d = p;

	g_free(d->name);
	g_free(d->location);
	g_free(d->active);
	g_free(d);
}

static void cam_free(gpointer p)
{
	struct cam *c = p;

	g_free(c->conditions);
	g_free(c);
}

static void ticket_free(gpointer p)
{
	struct ticket *t = p;

	g_free(t->kind);
	g_free(t->target);
	g_free(t);
}

static void hall_free(gpointer p)
{
	struct rollup_hall *h = p;

	for (size_t i = 0; i < CAP_RECORDS; i++) {
		g_free(h->recs[i].subject);
		g_free(h->recs[i].state);
	}
	g_hash_table_destroy(h->devs);
	g_hash_table_destroy(h->cams);
	g_hash_table_destroy(h->alerts);
	g_hash_table_destroy(h->insps);
	g_hash_table_destroy(h->tickets);
	g_free(h->text);
	g_free(h->site);
	g_free(h);
}

int rollup_create(const struct rollup_cfg *cfg, rollup_day_fn on_day, void *ud, struct rollup **out)
{
	struct rollup *r = g_new0(struct rollup, 1);

	r->cfg = *cfg;
	r->on_day = on_day;
	r->ud = ud;
	r->halls = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, hall_free);
	*out = r;
	return 0;
}

void rollup_destroy(struct rollup *r)
{
	if (!r)
		return;
	g_hash_table_destroy(r->halls);
	g_free(r);
}

struct rollup_hall *rollup_find(struct rollup *r, const char *site)
{
	return g_hash_table_lookup(r->halls, site);
}

struct rollup_hall *rollup_hall(struct rollup *r, const char *site)
{
	struct rollup_hall *h = g_hash_table_lookup(r->halls, site);

	if (h)
		return h;
	h = g_new0(struct rollup_hall, 1);
	h->site = g_strdup(site);
	h->devs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, dev_free);
	h->cams = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, cam_free);
	h->alerts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	h->insps = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	h->tickets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, ticket_free);
	h->day.day = -1;
	h->footage_required_ms = r->cfg.footage_required_ms;
	g_hash_table_insert(r->halls, h->site, h);
	return h;
}

size_t rollup_count(const struct rollup *r)
{
	return g_hash_table_size(r->halls);
}

size_t rollup_count_status(const struct rollup *r)
{
	GHashTableIter it;
	gpointer v;
	size_t n = 0;

	g_hash_table_iter_init(&it, r->halls);
	while (g_hash_table_iter_next(&it, NULL, &v))
		n += ((struct rollup_hall *)v)->have_status;
	return n;
}

const char *rollup_hall_site(const struct rollup_hall *h)
{
	return h->site;
}

bool rollup_hall_fire(const struct rollup_hall *h)
{
	return h->fire;
}

const struct rollup_day *rollup_hall_day(const struct rollup_hall *h)
{
	return &h->day;
}

void rollup_hall_restore_day(struct rollup_hall *h, const struct rollup_day *d)
{
	h->day = *d;
}

static int64_t jint(const json_t *o, const char *k, int64_t dflt)
{
	json_t *v = json_object_get(o, k);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	return dflt;
}

static bool jbool(const json_t *o, const char *k, bool dflt)
{
	json_t *v = json_object_get(o, k);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static const char *jstr(const json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A copy of s cut to TEXT_MAX bytes (at a UTF-8 boundary); NULL for NULL or empty. */
static char *short_dup(const char *s)
{
	size_t n;

	if (!s || !*s)
		return NULL;
	n = strlen(s);
	if (n <= TEXT_MAX)
		return g_strdup(s);
	n = TEXT_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return g_strndup(s, n);
}

/* Appends word to a comma-joined list kept within TEXT_MAX. */
static void join_add(GString *g, const char *word)
{
	if (g->len + strlen(word) + 1 > TEXT_MAX)
		return;
	if (g->len)
		g_string_append_c(g, ',');
	g_string_append(g, word);
}

static char *join_take(GString *g)
{
	return g_string_free(g, g->len == 0);
}

/* An alarm or fault point: its last name part says fire, fault, alarm or trouble. */
static bool point_is_alarm(const char *key)
{
	const char *last = strrchr(key, '.');

	last = last ? last + 1 : key;
	return strstr(last, "fire") || strstr(last, "fault") || strstr(last, "alarm") ||
	       strstr(last, "trouble");
}

static bool point_is_fire(const char *key)
{
	size_t n = strlen(key);

	return strcmp(key, "fire") == 0 || (n > 5 && strcmp(key + n - 5, ".fire") == 0);
}

/* Fire now: an active fire alert, or a device's fire point true. */
static bool hall_fire_now(const struct rollup_hall *h)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, h->alerts);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct alert *a = v;
		if (a->fire && a->active)
			return true;
	}
	g_hash_table_iter_init(&it, h->devs);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (((struct dev *)v)->fire)
			return true;
	return false;
}

static void alert_from_json(struct alert *a, const json_t *o)
{
	const char *cond = jstr(o, "condition");
	const char *text = jstr(o, "text");

	a->priority = (int)jint(o, "priority", 3);
	a->raised = jint(o, "raised", 0);
	a->active = jbool(o, "active", true);
	a->fire =
	    (cond && strcmp(cond, "fire") == 0) || (!cond && text && strcmp(text, "fire") == 0);
	a->fault = (cond && strcmp(cond, "fault") == 0) || (text && strcmp(text, "fault") == 0) ||
		   (text && strncmp(text, "device ", 7) == 0);
}

static void dev_from_json(struct dev *d, const json_t *o, bool listed)
{
	const char *q = jstr(o, "quality");
	json_t *pts = json_object_get(o, "points");
	GString *act = g_string_new(NULL);
	const char *k;
	json_t *p;

	d->listed = listed;
	if (listed) {
		g_strlcpy(d->quality, q ? q : "", sizeof(d->quality));
		d->name = short_dup(jstr(o, "name"));
		d->location = short_dup(jstr(o, "location"));
	}
	d->online = jbool(o, "online", false);
	d->fault = !d->online || (q && strcmp(q, "good") != 0);
	d->fire = false;
	json_object_foreach(pts, k, p)
	{
		bool on = json_is_true(json_object_get(p, "v"));
		if (point_is_fire(k) && on)
			d->fire = true;
		if (listed && on && point_is_alarm(k))
			join_add(act, k);
	}
	d->active = join_take(act);
}

static void cam_from_json(struct cam *c, const json_t *o, bool listed)
{
	json_t *conds = json_object_get(o, "conditions");
	GString *act = g_string_new(NULL);
	const char *k;
	json_t *v;

	c->listed = listed;
	c->last_snapshot = listed ? jint(o, "last_snapshot", 0) : 0;
	c->online = jbool(o, "online", false);
	c->recording = jbool(o, "recording", false);
	c->has_footage = json_object_get(o, "oldest_recording") != NULL;
	c->oldest_recording = jint(o, "oldest_recording", 0);
	c->faulty = !c->online;
	json_object_foreach(conds, k, v)
	{
		if (jbool(v, "active", false)) {
			c->faulty = true;
			if (listed)
				join_add(act, k);
		}
	}
	c->conditions = join_take(act);
}

static void insp_from_json(struct insp *in, const json_t *o, bool listed)
{
	json_t *tasks = json_object_get(o, "tasks");
	json_t *last = json_object_get(o, "last");
	const char *ls = jstr(last, "state");
	size_t i;
	json_t *t;

	in->listed = listed;
	if (listed) {
		g_strlcpy(in->last, ls ? ls : "", sizeof(in->last));
		in->last_t = jint(last, "t", 0);
		in->next_due = jint(o, "next_due", 0);
	}
	in->passed = jint(o, "passed", 0);
	in->failed = jint(o, "failed", 0);
	in->missed = jint(o, "missed", 0);
	in->overdue = 0;
	json_array_foreach(tasks, i, t)
	{
		const char *s = jstr(t, "state");
		if (s && strcmp(s, "overdue") == 0)
			in->overdue++;
	}
}

/* The time a retained message speaks of: its own time field where it has one. */
static int64_t msg_time(const json_t *o, const char *kind)
{
	int64_t t = 0;

	if (strcmp(kind, "status") == 0) {
		t = jint(json_object_get(o, "delivery"), "t", 0);
		if (!t)
			t = jint(o, "started", 0) * 1000;
	} else if (strncmp(kind, "device/", 7) == 0) {
		t = jint(o, "last_poll", 0);
	} else if (strncmp(kind, "camera/", 7) == 0) {
		t = jint(o, "last_frame", 0);
	} else {
		t = jint(o, "t", 0);
	}
	return t;
}

/* The id between prefix and suffix of kind ("device/facp1/state" -> "facp1"). */
static char *kind_id(const char *kind, size_t skip, const char *suffix)
{
	const char *id = kind + skip;
	size_t n = strlen(id), s = suffix ? strlen(suffix) : 0;

	if (n <= s || (s && strcmp(id + n - s, suffix) != 0))
		return NULL;
	return g_strndup(id, n - s);
}

/* The rows of t that are listed. */
static size_t listed_count(GHashTable *t, size_t off)
{
	GHashTableIter it;
	gpointer v;
	size_t n = 0;

	g_hash_table_iter_init(&it, t);
	while (g_hash_table_iter_next(&it, NULL, &v))
		n += *(const bool *)((const char *)v + off);
	return n;
}

/* Whether row id of t is listed: it is already, or fewer than cap rows are. off: where the
 * row's struct keeps its listed flag. */
static bool fits(GHashTable *t, const char *id, size_t cap, size_t off)
{
	gpointer v = g_hash_table_lookup(t, id);

	if (v)
		return *(const bool *)((const char *)v + off);
	return g_hash_table_size(t) < cap || listed_count(t, off) < cap;
}

/* Adds or updates open ticket tid of h from o (a ticket event or an entry of the retained
 * `tickets`), in state. */
static void ticket_put(struct rollup_hall *h, const char *tid, const json_t *o, const char *state)
{
	struct ticket *tk = g_hash_table_lookup(h->tickets, tid);

	if (!tk) {
		bool listed = fits(h->tickets, tid, CAP_TICKETS, offsetof(struct ticket, listed));
		tk = g_new0(struct ticket, 1);
		tk->listed = listed;
		g_hash_table_replace(h->tickets, g_strdup(tid), tk);
	}
	tk->deadline = jint(o, "deadline", tk->deadline);
	if (tk->listed) {
		g_strlcpy(tk->state, state ? state : "", sizeof(tk->state));
		if (!tk->kind)
			tk->kind = short_dup(jstr(o, "kind"));
		if (!tk->target)
			tk->target = short_dup(jstr(o, "target"));
	}
}

/* The retained `tickets` of a hall: its open tickets now, replacing what events built. */
static void tickets_from_json(struct rollup_hall *h, json_t *o)
{
	json_t *arr = json_object_get(o, "tickets"), *e;
	size_t i;

	g_hash_table_remove_all(h->tickets);
	json_array_foreach(arr, i, e)
	{
		const char *tid = jstr(e, "ticket");
		if (tid && *tid)
			ticket_put(h, tid, e, jstr(e, "state"));
	}
	h->tickets_more = jint(o, "more", 0);
}

/* Keeps a record of an event in the hall's ring, the oldest pushed out. */
static void rec_add(struct rollup_hall *h, int64_t t, const char *event, const char *subject,
		    const char *state)
{
	struct rec *r = &h->recs[h->rec_next];

	if (h->rec_n == CAP_RECORDS)
		h->recs_dropped++;
	else
		h->rec_n++;
	g_free(r->subject);
	g_free(r->state);
	r->t = t;
	g_strlcpy(r->event, event, sizeof(r->event));
	r->subject = short_dup(subject);
	r->state = short_dup(state);
	h->rec_next = (h->rec_next + 1) % CAP_RECORDS;
}

/* A record the county did not see as an event but a retained `inspection/<plan>` names as
 * its plan's last task (after the county's restart): put in the ring at its time, unless
 * the ring has it already or it is older than all the ring holds when the ring is full. */
static void rec_seed(struct rollup_hall *h, int64_t t, const char *task, const char *state)
{
	struct rec v[CAP_RECORDS + 1];
	size_t n = h->rec_n, at;

	if (!task || !*task || t <= 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct rec *r = &h->recs[(h->rec_next + CAP_RECORDS - n + i) % CAP_RECORDS];
		if (strcmp(r->event, "inspection") == 0 && r->subject &&
		    strcmp(r->subject, task) == 0)
			return;
	}
	/* oldest first, then insert by time */
	for (size_t i = 0; i < n; i++)
		v[i] = h->recs[(h->rec_next + CAP_RECORDS - n + i) % CAP_RECORDS];
	for (at = n; at > 0 && v[at - 1].t > t; at--)
		;
	if (n == CAP_RECORDS && at == 0)
		return;
	memmove(&v[at + 1], &v[at], (n - at) * sizeof(v[0]));
	v[at] = (struct rec){.t = t, .subject = short_dup(task), .state = short_dup(state)};
	g_strlcpy(v[at].event, "inspection", sizeof(v[at].event));
	n++;
	if (n > CAP_RECORDS) {
		g_free(v[0].subject);
		g_free(v[0].state);
		memmove(&v[0], &v[1], (n - 1) * sizeof(v[0]));
		n--;
		h->recs_dropped++;
	}
	for (size_t i = 0; i < CAP_RECORDS; i++)
		h->recs[i] = i < n ? v[i] : (struct rec){0};
	h->rec_n = n;
	h->rec_next = n % CAP_RECORDS;
}

/* ROLLUP_ONLINE only for a hall seen before (offline or silent): first sight is no news. */
static unsigned hall_settle(struct rollup_hall *h, bool was_known, bool was_online, bool was_fire)
{
	unsigned ch = ROLLUP_HALL;
	bool on = h->have_status && h->online && !h->silent;

	h->fire = hall_fire_now(h);
	if (h->fire && !was_fire)
		ch |= ROLLUP_FIRE;
	if (!h->fire && was_fire)
		ch |= ROLLUP_FIRE_CLEARED;
	if (on && !was_online && was_known)
		ch |= ROLLUP_ONLINE;
	return ch;
}

static bool hall_up(const struct rollup_hall *h)
{
	return h->have_status && h->online && !h->silent;
}

/* Integrates h from acc_t to now, cutting at midnight. */
static void hall_integrate(struct rollup *r, struct rollup_hall *h, int64_t now)
{
	if (h->acc_t == 0 || now <= h->acc_t) {
		if (h->acc_t == 0) {
			h->acc_t = now;
			if (h->day.day != rollup_day_of(now)) {
				int64_t keep = h->day.day;
				if (keep >= 0 && r->on_day)
					r->on_day(h->site, &h->day, r->ud);
				memset(&h->day, 0, sizeof(h->day));
				h->day.day = rollup_day_of(now);
			}
		}
		return;
	}
	while (h->acc_t < now) {
		int64_t end = (rollup_day_of(h->acc_t) + 1) * DAY_MS;
		int64_t to = now < end ? now : end;
		int64_t dt = to - h->acc_t;
		GHashTableIter it;
		gpointer v;

		if (h->day.day != rollup_day_of(h->acc_t)) {
			memset(&h->day, 0, sizeof(h->day));
			h->day.day = rollup_day_of(h->acc_t);
		}
		h->day.observed_ms += dt;
		if (hall_up(h))
			h->day.online_ms += dt;
		if (h->silent)
			h->day.silent_ms += dt;
		if (hall_up(h)) {
			g_hash_table_iter_init(&it, h->devs);
			while (g_hash_table_iter_next(&it, NULL, &v)) {
				h->day.dev_ms += dt;
				h->day.dev_up_ms += ((struct dev *)v)->online ? dt : 0;
			}
			g_hash_table_iter_init(&it, h->cams);
			while (g_hash_table_iter_next(&it, NULL, &v)) {
				struct cam *c = v;
				h->day.cam_ms += dt;
				h->day.cam_up_ms += c->online ? dt : 0;
				if (c->has_footage) {
					h->day.footage_ms += dt;
					if (c->oldest_recording > 0 &&
					    to - c->oldest_recording >= r->cfg.footage_required_ms)
						h->day.footage_ok_ms += dt;
				}
			}
		} else {
			/* A hall offline: its devices and cameras count as unavailable. */
			h->day.dev_ms += dt * (int64_t)g_hash_table_size(h->devs);
			h->day.cam_ms += dt * (int64_t)g_hash_table_size(h->cams);
		}
		h->acc_t = to;
		if (to == end) {
			if (r->on_day)
				r->on_day(h->site, &h->day, r->ud);
			memset(&h->day, 0, sizeof(h->day));
			h->day.day = rollup_day_of(to);
		}
	}
}

unsigned rollup_message(struct rollup *r, const char *site, const char *kind, const char *payload,
			size_t len, bool retained, int64_t now_ms)
{
	struct rollup_hall *h = rollup_hall(r, site);
	bool was_online = hall_up(h), was_fire = h->fire, was_silent = h->silent;
	bool was_known = h->have_status;
	json_t *o = NULL;
	char *id = NULL;
	unsigned ch;
	int64_t t;

	hall_integrate(r, h, now_ms);
	h->dirty = true;
	if (payload && len) {
		o = json_loadb(payload, len, 0, NULL);
		if (!json_is_object(o)) {
			json_decref(o);
			return ROLLUP_NONE;
		}
	}
	t = o && retained ? msg_time(o, kind) : now_ms;
	if (t <= 0 || t > now_ms)
		t = now_ms;
	if (t > h->last_seen)
		h->last_seen = t;
	if (h->silent && now_ms - h->last_seen < r->cfg.silent_after_ms)
		h->silent = false;

	if (strcmp(kind, "status") == 0) {
		if (o) {
			const char *st = jstr(o, "state");
			h->have_status = true;
			h->online = st && strcmp(st, "online") == 0;
			h->started = jint(o, "started", 0);
			h->status_t = t;
		}
	} else if (strncmp(kind, "device/", 7) == 0 && (id = kind_id(kind, 7, "/state"))) {
		if (o) {
			struct dev *d = g_new0(struct dev, 1);
			dev_from_json(d, o,
				      fits(h->devs, id, CAP_DEVS, offsetof(struct dev, listed)));
			g_hash_table_replace(h->devs, id, d);
			id = NULL;
		} else {
			g_hash_table_remove(h->devs, id);
		}
	} else if (strncmp(kind, "camera/", 7) == 0 && (id = kind_id(kind, 7, "/state"))) {
		if (o) {
			struct cam *c = g_new0(struct cam, 1);
			cam_from_json(c, o,
				      fits(h->cams, id, CAP_CAMS, offsetof(struct cam, listed)));
			g_hash_table_replace(h->cams, id, c);
			id = NULL;
		} else {
			g_hash_table_remove(h->cams, id);
		}
	} else if (strncmp(kind, "alert/", 6) == 0 && (id = kind_id(kind, 6, NULL))) {
		if (o) {
			struct alert *a = g_new0(struct alert, 1);
			alert_from_json(a, o);
			g_hash_table_replace(h->alerts, id, a);
			id = NULL;
		} else {
			g_hash_table_remove(h->alerts, id);
		}
	} else if (strcmp(kind, "tickets") == 0) {
		if (o)
			tickets_from_json(h, o);
	} else if (strncmp(kind, "inspection/", 11) == 0 && (id = kind_id(kind, 11, NULL))) {
		if (o) {
			struct insp *in = g_new0(struct insp, 1);
			json_t *last = json_object_get(o, "last");
			insp_from_json(
			    in, o, fits(h->insps, id, CAP_PLANS, offsetof(struct insp, listed)));
			if (retained)
				rec_seed(h, jint(last, "t", 0), jstr(last, "task"),
					 jstr(last, "state"));
			g_hash_table_replace(h->insps, id, in);
			id = NULL;
		} else {
			g_hash_table_remove(h->insps, id);
		}
	}
	g_free(id);
	json_decref(o);
	ch = hall_settle(h, was_known, was_online, was_fire);
	if (was_online && h->have_status && !h->online)
		ch |= ROLLUP_OFFLINE;
	if (was_silent && !h->silent && !(ch & ROLLUP_ONLINE) && hall_up(h))
		ch |= ROLLUP_ONLINE;
	return ch;
}

unsigned rollup_event(struct rollup *r, const char *site, const json_t *ev, int64_t now_ms)
{
	struct rollup_hall *h = rollup_hall(r, site);
	bool was_online = hall_up(h), was_fire = h->fire, was_known = h->have_status;
	const char *e = jstr(ev, "event");
	const char *id = jstr(ev, "id");
	json_t *al = json_object_get(ev, "alert");
	unsigned ch, extra = 0;

	hall_integrate(r, h, now_ms);
	h->dirty = true;
	if (now_ms > h->last_seen)
		h->last_seen = now_ms;
	h->silent = false;
	h->day.events++;
	if (!e)
		e = "";
	if (id && json_is_object(al)) {
		struct alert a = {0};
		alert_from_json(&a, al);
		if (strcmp(e, "raised") == 0 || strcmp(e, "returned") == 0) {
			h->day.alerts += strcmp(e, "raised") == 0;
			h->day.fire_alarms += a.fire;
			h->day.faults += a.fault && strcmp(e, "raised") == 0;
			if (!a.fire && a.priority <= 2)
				extra |= ROLLUP_ALERT;
		}
		g_hash_table_replace(h->alerts, g_strdup(id), g_memdup2(&a, sizeof(a)));
	} else if (strcmp(e, "inspection") == 0) {
		const char *to = jstr(ev, "to");
		const char *kind = jstr(ev, "kind");
		rec_add(h, jint(ev, "t", now_ms), "inspection", jstr(ev, "task"), to);
		if (to && (strcmp(to, "passed") == 0 || strcmp(to, "failed") == 0 ||
			   strcmp(to, "missed") == 0))
			h->day.patrols_due++;
		if (to && strcmp(to, "passed") == 0) {
			h->day.patrols_done++;
			if (kind && strstr(kind, "test"))
				h->day.tests_passed++;
		}
	} else if (strcmp(e, "ticket") == 0) {
		const char *from = jstr(ev, "from");
		const char *to = jstr(ev, "to");
		const char *tid = jstr(ev, "ticket");
		rec_add(h, jint(ev, "t", now_ms), "ticket", tid, to);
		if (!from || !*from || strcmp(from, "none") == 0)
			h->day.tickets_opened++;
		if (to && strcmp(to, "closed") == 0) {
			h->day.tickets_closed++;
			if (tid)
				g_hash_table_remove(h->tickets, tid);
		} else if (tid) {
			ticket_put(h, tid, ev, to);
		}
	} else if (strcmp(e, "review") == 0) {
		json_t *rid = json_object_get(ev, "record");
		char num[24];
		const char *subj = jstr(ev, "task");
		if (!subj && json_is_integer(rid)) {
			snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(rid));
			subj = num;
		}
		rec_add(h, jint(ev, "t", now_ms), "review", subj, jstr(ev, "verdict"));
	}
	ch = hall_settle(h, was_known, was_online, was_fire);
	return ch | extra;
}

size_t rollup_tick(struct rollup *r, int64_t now_ms, struct rollup_hall **silent, size_t cap)
{
	GHashTableIter it;
	gpointer v;
	size_t n = 0;

	g_hash_table_iter_init(&it, r->halls);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct rollup_hall *h = v;
		hall_integrate(r, h, now_ms);
		if (!h->silent && h->have_status && h->online && h->last_seen > 0 &&
		    now_ms - h->last_seen >= r->cfg.silent_after_ms) {
			h->silent = true;
			h->dirty = true;
			if (silent && n < cap)
				silent[n] = h;
			n++;
		}
	}
	return n;
}

void rollup_foreach(struct rollup *r, void (*fn)(struct rollup_hall *h, void *ud), void *ud)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, r->halls);
	while (g_hash_table_iter_next(&it, NULL, &v))
		fn(v, ud);
}

static double rate(int64_t num, int64_t den)
{
	return den > 0 ? (double)num / (double)den : 1.0;
}

static const char *hall_status(const struct rollup_hall *h)
{
	if (!h->have_status)
		return "unknown";
	if (!h->online)
		return "offline";
	return h->silent ? "silent" : "online";
}

json_t *rollup_hall_json(const struct rollup_hall *h, int64_t now_ms)
{
	json_t *o = json_object(), *al = json_object(), *byp = json_object();
	int64_t nprio[ROLLUP_PRIORITIES + 1] = {0}, oldest = 0, open = 0, faults = 0;
	int64_t dev_on = 0, cam_on = 0, cam_rec = 0, overdue = 0, passed = 0, failed = 0,
		missed = 0, min_kept = -1, t_overdue = 0;
	bool have_footage = false;
	const char *worst;
	GHashTableIter it;
	gpointer v;
	char key[8];

	g_hash_table_iter_init(&it, h->alerts);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct alert *a = v;
		int p = a->priority < 1			  ? 1
			: a->priority > ROLLUP_PRIORITIES ? ROLLUP_PRIORITIES
							  : a->priority;
		nprio[p]++;
		open++;
		faults += a->fault;
		if (a->raised > 0 && (oldest == 0 || a->raised < oldest))
			oldest = a->raised;
	}
	for (int p = 1; p <= ROLLUP_PRIORITIES; p++) {
		snprintf(key, sizeof(key), "%d", p);
		json_object_set_new(byp, key, json_integer(nprio[p]));
	}
	json_object_set_new(al, "open", json_integer(open));
	json_object_set_new(al, "by_priority", byp);
	json_object_set_new(al, "oldest_age_s",
			    oldest ? json_integer((now_ms - oldest) / 1000) : json_null());
	g_hash_table_iter_init(&it, h->devs);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct dev *d = v;
		dev_on += d->online;
		faults += d->fault;
	}
	g_hash_table_iter_init(&it, h->cams);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct cam *c = v;
		cam_on += c->online;
		cam_rec += c->recording;
		faults += c->faulty;
		if (c->has_footage) {
			int64_t kept = c->oldest_recording > 0 ? now_ms - c->oldest_recording : 0;
			have_footage = true;
			if (min_kept < 0 || kept < min_kept)
				min_kept = kept;
		}
	}
	g_hash_table_iter_init(&it, h->insps);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct insp *in = v;
		overdue += in->overdue;
		passed += in->passed;
		failed += in->failed;
		missed += in->missed;
	}
	g_hash_table_iter_init(&it, h->tickets);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		int64_t dl = ((const struct ticket *)v)->deadline;
		t_overdue += dl > 0 && dl < now_ms;
	}
	if (h->fire)
		worst = "fire";
	else if (!h->have_status || !h->online)
		worst = h->have_status ? "offline" : "unknown";
	else if (h->silent)
		worst = "silent";
	else if (nprio[1] + nprio[2] > 0)
		worst = "alarm";
	else if (faults > 0 || overdue > 0 || t_overdue > 0)
		worst = "fault";
	else
		worst = "ok";

	json_object_set_new(o, "site", json_string(h->site));
	json_object_set_new(o, "status", json_string(hall_status(h)));
	json_object_set_new(o, "worst", json_string(worst));
	json_object_set_new(o, "online", json_boolean(hall_up(h)));
	json_object_set_new(o, "fire", json_boolean(h->fire));
	json_object_set_new(o, "last_seen", json_integer(h->last_seen));
	json_object_set_new(o, "started", json_integer(h->started));
	json_object_set_new(o, "alerts", al);
	json_object_set_new(o, "faults", json_integer(faults));
	json_object_set_new(o, "devices",
			    json_pack("{s:I,s:I}", "total", (json_int_t)g_hash_table_size(h->devs),
				      "online", (json_int_t)dev_on));
	json_object_set_new(o, "cameras",
			    json_pack("{s:I,s:I,s:I}", "total",
				      (json_int_t)g_hash_table_size(h->cams), "online",
				      (json_int_t)cam_on, "recording", (json_int_t)cam_rec));
	json_object_set_new(o, "inspections",
			    json_pack("{s:I,s:I,s:I,s:I,s:I}", "plans",
				      (json_int_t)g_hash_table_size(h->insps), "passed",
				      (json_int_t)passed, "failed", (json_int_t)failed, "missed",
				      (json_int_t)missed, "overdue", (json_int_t)overdue));
	json_object_set_new(o, "tickets",
			    json_pack("{s:I,s:I}", "open",
				      (json_int_t)g_hash_table_size(h->tickets) + h->tickets_more,
				      "overdue", (json_int_t)t_overdue));
	json_object_set_new(o, "footage",
			    have_footage ? json_pack("{s:f,s:f,s:b}", "min_days_kept",
						     (double)min_kept / DAY_MS, "required_days",
						     (double)h->footage_required_ms / DAY_MS, "ok",
						     min_kept >= h->footage_required_ms)
					 : json_null());
	json_object_set_new(
	    o, "today",
	    json_pack("{s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:I}", "online_rate",
		      rate(h->day.online_ms, h->day.observed_ms), "device_availability",
		      rate(h->day.dev_up_ms, h->day.dev_ms), "camera_availability",
		      rate(h->day.cam_up_ms, h->day.cam_ms), "events", (json_int_t)h->day.events,
		      "alerts", (json_int_t)h->day.alerts, "fire_alarms",
		      (json_int_t)h->day.fire_alarms, "faults", (json_int_t)h->day.faults,
		      "patrols_done", (json_int_t)h->day.patrols_done, "patrols_due",
		      (json_int_t)h->day.patrols_due));
	return o;
}

json_t *rollup_json(const struct rollup *r, int64_t now_ms)
{
	json_t *o = json_object(), *halls = json_array();
	int64_t n = 0, on = 0, fire = 0, silent = 0, off = 0;
	GList *keys = g_list_sort(g_hash_table_get_keys(r->halls), (GCompareFunc)strcmp);

	for (GList *l = keys; l; l = l->next) {
		const struct rollup_hall *h = g_hash_table_lookup(r->halls, l->data);
		n++;
		on += hall_up(h);
		fire += h->fire;
		silent += h->silent && h->online;
		off += h->have_status && !h->online;
		json_array_append_new(halls, rollup_hall_json(h, now_ms));
	}
	g_list_free(keys);
	json_object_set_new(o, "t", json_integer(now_ms));
	json_object_set_new(o, "summary",
			    json_pack("{s:I,s:I,s:I,s:I,s:I}", "halls", (json_int_t)n, "online",
				      (json_int_t)on, "fire", (json_int_t)fire, "silent",
				      (json_int_t)silent, "offline", (json_int_t)off));
	json_object_set_new(o, "halls", halls);
	return o;
}

void rollup_json_text(struct rollup *r, int64_t now_ms, GString *out)
{
	int64_t n = 0, on = 0, fire = 0, silent = 0, off = 0;
	GList *keys = g_list_sort(g_hash_table_get_keys(r->halls), (GCompareFunc)strcmp);
	GString *halls = g_string_new("[");

	for (GList *l = keys; l; l = l->next) {
		struct rollup_hall *h = g_hash_table_lookup(r->halls, l->data);
		n++;
		on += hall_up(h);
		fire += h->fire;
		silent += h->silent && h->online;
		off += h->have_status && !h->online;
		if (h->dirty || !h->text) {
			json_t *o = rollup_hall_json(h, now_ms);
			free(h->text);
			h->text = json_dumps(o, JSON_COMPACT);
			json_decref(o);
			h->dirty = false;
		}
		if (h->text) {
			if (halls->len > 1)
				g_string_append_c(halls, ',');
			g_string_append(halls, h->text);
		}
	}
	g_list_free(keys);
	g_string_append_c(halls, ']');
	g_string_append_printf(
	    out,
	    "{\"t\":%" G_GINT64_FORMAT ",\"summary\":{\"halls\":%" G_GINT64_FORMAT
	    ",\"online\":%" G_GINT64_FORMAT ",\"fire\":%" G_GINT64_FORMAT
	    ",\"silent\":%" G_GINT64_FORMAT ",\"offline\":%" G_GINT64_FORMAT "},\"halls\":%s",
	    now_ms, n, on, fire, silent, off, halls->str);
	g_string_free(halls, TRUE);
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *ms_or_null(int64_t t)
{
	return t > 0 ? json_integer(t) : json_null();
}

static gint row_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The ids of t's listed rows, sorted (the strings are t's keys); *dropped: the rows not
 * listed. Free with g_ptr_array_free(a, TRUE). */
static GPtrArray *listed_ids(GHashTable *t, size_t off, int64_t *dropped)
{
	GPtrArray *a = g_ptr_array_new();
	GHashTableIter it;
	gpointer k, v;

	*dropped = 0;
	g_hash_table_iter_init(&it, t);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (*(const bool *)((const char *)v + off))
			g_ptr_array_add(a, k);
		else
			(*dropped)++;
	}
	g_ptr_array_sort(a, row_cmp);
	return a;
}

json_t *rollup_hall_detail(const struct rollup_hall *h)
{
	json_t *o = json_object(), *arr;
	int64_t dd, dc, dp, dt;
	GPtrArray *rows;

	rows = listed_ids(h->devs, offsetof(struct dev, listed), &dd);
	arr = json_array();
	for (guint i = 0; i < rows->len; i++) {
		const struct dev *d = g_hash_table_lookup(h->devs, rows->pdata[i]);
		json_t *act = json_array();
		if (d->active) {
			char **w = g_strsplit(d->active, ",", -1);
			for (char **p = w; *p; p++)
				json_array_append_new(act, json_string(*p));
			g_strfreev(w);
		}
		json_array_append_new(arr, json_pack("{s:s,s:b,s:o,s:o,s:o,s:o}", "id",
						     (const char *)rows->pdata[i], "online",
						     d->online, "quality", str_or_null(d->quality),
						     "name", str_or_null(d->name), "location",
						     str_or_null(d->location), "active", act));
	}
	g_ptr_array_free(rows, TRUE);
	json_object_set_new(o, "devices", arr);

	rows = listed_ids(h->cams, offsetof(struct cam, listed), &dc);
	arr = json_array();
	for (guint i = 0; i < rows->len; i++) {
		const struct cam *c = g_hash_table_lookup(h->cams, rows->pdata[i]);
		json_t *act = json_array();
		if (c->conditions) {
			char **w = g_strsplit(c->conditions, ",", -1);
			for (char **p = w; *p; p++)
				json_array_append_new(act, json_string(*p));
			g_strfreev(w);
		}
		json_array_append_new(
		    arr, json_pack("{s:s,s:b,s:b,s:o,s:o}", "id", (const char *)rows->pdata[i],
				   "online", c->online, "recording", c->recording, "conditions",
				   act, "last_snapshot", ms_or_null(c->last_snapshot)));
	}
	g_ptr_array_free(rows, TRUE);
	json_object_set_new(o, "cameras", arr);

	rows = listed_ids(h->insps, offsetof(struct insp, listed), &dp);
	arr = json_array();
	for (guint i = 0; i < rows->len; i++) {
		const struct insp *in = g_hash_table_lookup(h->insps, rows->pdata[i]);
		json_array_append_new(
		    arr, json_pack("{s:s,s:o,s:o,s:o,s:I,s:I,s:I,s:I}", "plan",
				   (const char *)rows->pdata[i], "last", str_or_null(in->last),
				   "last_t", ms_or_null(in->last_t), "next_due",
				   ms_or_null(in->next_due), "passed", (json_int_t)in->passed,
				   "failed", (json_int_t)in->failed, "missed",
				   (json_int_t)in->missed, "overdue", (json_int_t)in->overdue));
	}
	g_ptr_array_free(rows, TRUE);
	json_object_set_new(o, "plans", arr);

	rows = listed_ids(h->tickets, offsetof(struct ticket, listed), &dt);
	arr = json_array();
	for (guint i = 0; i < rows->len; i++) {
		const struct ticket *t = g_hash_table_lookup(h->tickets, rows->pdata[i]);
		json_array_append_new(
		    arr,
		    json_pack("{s:s,s:o,s:o,s:o,s:o}", "id", (const char *)rows->pdata[i], "kind",
			      str_or_null(t->kind), "target", str_or_null(t->target), "state",
			      str_or_null(t->state), "deadline", ms_or_null(t->deadline)));
	}
	g_ptr_array_free(rows, TRUE);
	json_object_set_new(o, "tickets", arr);

	arr = json_array();
	for (size_t i = 0; i < h->rec_n; i++) {
		/* newest first */
		size_t at = (h->rec_next + CAP_RECORDS - 1 - i) % CAP_RECORDS;
		const struct rec *r = &h->recs[at];
		json_array_append_new(arr,
				      json_pack("{s:I,s:s,s:o,s:o}", "t", (json_int_t)r->t, "event",
						r->event, "subject", str_or_null(r->subject),
						"state", str_or_null(r->state)));
	}
	json_object_set_new(o, "records", arr);
	json_object_set_new(o, "dropped",
			    json_pack("{s:I,s:I,s:I,s:I,s:I}", "devices", (json_int_t)dd, "cameras",
				      (json_int_t)dc, "plans", (json_int_t)dp, "tickets",
				      (json_int_t)(dt + h->tickets_more), "records",
				      (json_int_t)h->recs_dropped));
	return o;
}

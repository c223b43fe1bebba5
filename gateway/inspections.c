/* Owns the daemon's inspection service: the scheduler's timer, the store of tasks,
 * records and tickets, the alerts, events, retained inspection/<plan> and line protocol
 * they produce, and the verbs tasks, task, ticket and clock (the test clock). Main loop
 * thread only. */
#define LOG_TAG "inspections"
#include "gateway/inspections.h"

#include <errno.h>
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/db.h"
#include "core/log.h"
#include "core/timeparse.h"
#include "gateway/records.h"
#include "inspect/insp_store.h"
#include "outputs/lineproto.h"
#include "outputs/outbox.h"

#define PRUNE_EVERY_MS (6 * 3600 * 1000LL)
#define PLAN_LINES_EVERY_MS (3600 * 1000LL)
#define TICKET_PRIO 4
#define TEXT_MAX 128	   /* an alert's text */
#define TICKETS_LISTED 256 /* in the retained `tickets`; more are counted */

struct runner {
	insp_runner_fn fn;
	void *ud;
};

struct plan_dur {
	uint64_t n;
	int64_t sum_s, max_s;
};

struct insp_service {
	const struct hw_config *cfg;
	struct alert_service *alerts;
	struct mqtt *mqtt;
	struct influx *influx;
	struct insp_store *store;
	struct insp_sched *sched;
	GTimeZone *tz;
	guint timer;
	insp_cond_fn cond;
	void *cond_ud;
	struct runner runners[INSP_DURATION_TEST + 1];
	bool *touched;		 /* per plan: alerts and inspection/<plan> after this step */
	int *missed;		 /* per plan: the missed alert after this step (1 raise, 2 clear) */
	GPtrArray *events;	 /* json_t * of this step, logged after its commit */
	GHashTable *open;	 /* ticket id -> struct ticket * (not closed) */
	GString *lines;		 /* line protocol of this step */
	const char *details;	 /* of the completion being applied */
	struct db_run run;	 /* store failures, logged when they start and end */
	struct records *records; /* the inspectors' verbs (gateway/records.c) */
	struct plan_dur *dur;	 /* per plan: durations of tasks done since start */
	bool *line_due;		 /* per plan: an inspection_plan line at the next tick */
	int64_t plan_lines_ms;	 /* when every plan last had its line */
	int64_t pruned_ms;
};

static unsigned conditions(const char *plan, const char *target, void *ud)
{
	struct insp_service *s = ud;
	return s->cond ? s->cond(plan, target, s->cond_ud) : ~0u;
}

static int plan_index(const struct insp_service *s, const char *plan)
{
	for (size_t i = 0; i < s->cfg->inspections.n_plans; i++)
		if (strcmp(s->cfg->inspections.plans[i].id, plan) == 0)
			return (int)i;
	return -1;
}

/* Every live task, oldest due first (g_free the array; the tasks: transfer none). */
static const struct insp_task **live_tasks(struct insp_service *s, size_t *n)
{
	size_t total = insp_sched_list(s->sched, NULL, 0);
	const struct insp_task **v = g_new(const struct insp_task *, total ? total : 1);

	*n = MIN(insp_sched_list(s->sched, v, total), total);
	return v;
}

static json_t *ms_or_null(int64_t ms)
{
	return ms > 0 && ms < INT64_MAX ? json_integer(ms) : json_null();
}

static const char *const recur_names[] = {"every", "days", "monthly", "yearly", "times"};

/* inspection/<plan>: schedule, last result, next due, the tasks not over. */
static json_t *plan_json(struct insp_service *s, size_t i)
{
	const struct cfg_plan *p = &s->cfg->inspections.plans[i];
	struct insp_plan_status st;
	json_t *o, *sch, *targets = json_array(), *live = json_array(), *at = json_array();
	const struct insp_task **v;
	size_t n;

	insp_sched_plan_status(s->sched, i, &st);
	for (size_t k = 0; k < p->n_targets; k++)
		json_array_append_new(targets, json_string(p->targets[k]));
	for (size_t k = 0; k < p->n_at; k++)
		json_array_append_new(
		    at, json_sprintf("%02d:%02d", p->at_min[k] / 60, p->at_min[k] % 60));
	sch = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "recurrence", recur_names[p->recur],
			"when", p->when == WHEN_OPEN ? "open" : "any", "early_s",
			(json_int_t)p->early_s, "window_s", (json_int_t)p->window_s, "grace_s",
			(json_int_t)p->grace_s, "stagger_s", (json_int_t)p->stagger_s, "priority",
			(json_int_t)p->priority);
	if (p->recur == RECUR_EVERY)
		json_object_set_new(sch, "every_s", json_integer(p->every_s));
	if (p->recur == RECUR_DAYS)
		json_object_set_new(sch, "days", json_integer(p->days));
	if (p->recur == RECUR_MONTHLY || p->recur == RECUR_YEARLY)
		json_object_set_new(sch, "day", json_integer(p->day));
	if (p->recur == RECUR_YEARLY)
		json_object_set_new(sch, "month", json_integer(p->month));
	json_object_set_new(sch, "at", at);
	v = live_tasks(s, &n);
	for (size_t k = 0; k < n; k++) {
		if (strcmp(v[k]->plan, p->id) != 0)
			continue;
		json_array_append_new(live,
				      json_pack("{s:s, s:s, s:s, s:I}", "task", v[k]->id, "target",
						v[k]->target, "state", insp_state_name(v[k]->state),
						"due", (json_int_t)v[k]->due_ms));
	}
	g_free(v);
	o = json_pack(
	    "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I}", "site", s->cfg->site.id,
	    "plan", p->id, "kind", cfg_insp_kind_name(p->kind), "targets", targets, "schedule", sch,
	    "next_due", ms_or_null(st.next_due_ms), "last",
	    st.last_ms ? json_pack("{s:s, s:s, s:I}", "task", st.last_task, "state",
				   insp_state_name(st.last), "t", (json_int_t)st.last_ms)
		       : json_null(),
	    "tasks", live, "passed", (json_int_t)st.passed, "failed", (json_int_t)st.failed,
	    "missed", (json_int_t)st.missed, "t", (json_int_t)hw_clock_ms());
	return o;
}

/* Publishes txt retained on topic and frees it; durable when there is an outbox: it goes
 * out after a reconnect too. */
static void publish_retained(struct insp_service *s, const char *topic, char *txt)
{
	int rc;

	if (!s->mqtt) { /* MQTT disabled */
		free(txt);
		return;
	}
	rc = mqtt_enqueue(s->mqtt, OUTBOX_STATE, topic, txt, strlen(txt), true, 0);
	if (rc == -ENOTSUP)
		rc = mqtt_publish(s->mqtt, topic, txt, strlen(txt), true);
	if (rc < 0 && rc != -ENOTCONN)
		log_debug("%s: %s", topic, strerror(-rc));
	free(txt);
}

static void publish_plan(struct insp_service *s, size_t i)
{
	char topic[INSP_NAME_MAX + 16];
	json_t *o = plan_json(s, i);
	char *txt = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	if (!txt)
		return;
	snprintf(topic, sizeof(topic), "inspection/%s", s->cfg->inspections.plans[i].id);
	publish_retained(s, topic, txt);
}

/* The alerts of plan i: overdue while a task of it is OVERDUE; missed from a MISSED task
 * until one passes (missed[i]: 1 raise, 2 clear, 0 leave). */
static void plan_alerts(struct insp_service *s, size_t i)
{
	const struct cfg_plan *p = &s->cfg->inspections.plans[i];
	size_t n;
	const struct insp_task **v = live_tasks(s, &n);
	bool overdue = false;
	char text[TEXT_MAX];

	for (size_t k = 0; k < n; k++)
		overdue |= v[k]->state == IS_OVERDUE && strcmp(v[k]->plan, p->id) == 0;
	g_free(v);
	snprintf(text, sizeof(text), "%s %s overdue", cfg_insp_kind_name(p->kind), p->id);
	alert_service_on_condition(s->alerts, "inspection", p->id, "overdue", p->priority, text,
				   overdue);
	if (s->missed[i]) {
		snprintf(text, sizeof(text), "%s %s missed", cfg_insp_kind_name(p->kind), p->id);
		alert_service_on_condition(s->alerts, "inspection", p->id, "missed", p->priority,
					   text, s->missed[i] == 1);
	}
	s->missed[i] = 0;
}

static void task_line(struct insp_service *s, const struct insp_task *t)
{
	struct lp_line l;

	if (!s->influx)
		return;
	lp_begin(&l, s->lines, "inspection_task");
	lp_tag(&l, "site", s->cfg->site.id);
	lp_tag(&l, "plan", t->plan);
	lp_tag(&l, "target", t->target);
	lp_tag(&l, "kind", cfg_insp_kind_name(t->kind));
	lp_field_string(&l, "state", insp_state_name(t->state));
	lp_field_bool(&l, "on_time", t->state == IS_PASSED && t->done_ms < t->late_ms);
	lp_field_int(&l, "late_s", t->done_ms > t->late_ms ? (t->done_ms - t->late_ms) / 1000 : 0);
	lp_field_int(&l, "duration_s",
		     t->started_ms > 0 && t->done_ms >= t->started_ms
			 ? (t->done_ms - t->started_ms) / 1000
			 : 0);
	lp_end(&l, t->done_ms * 1000000);
}

/* inspection_plan: plan i's completion since the service started (docs/lineproto.md). */
static void plan_line(struct insp_service *s, size_t i, int64_t now)
{
	struct insp_plan_status st;
	const struct cfg_plan *p = &s->cfg->inspections.plans[i];
	uint64_t due, done;
	struct lp_line l;

	if (insp_sched_plan_status(s->sched, i, &st) < 0)
		return;
	done = st.passed + st.failed;
	due = done + st.missed;
	lp_begin(&l, s->lines, "inspection_plan");
	lp_tag(&l, "site", s->cfg->site.id);
	lp_tag(&l, "plan", p->id);
	lp_tag(&l, "kind", cfg_insp_kind_name(p->kind));
	lp_field_int(&l, "due", (int64_t)due);
	lp_field_int(&l, "done", (int64_t)done);
	lp_field_int(&l, "passed", (int64_t)st.passed);
	lp_field_int(&l, "failed", (int64_t)st.failed);
	lp_field_int(&l, "missed", (int64_t)st.missed);
	lp_field_float_dec(&l, "rate", due ? (double)done / (double)due : 1.0, 4);
	lp_field_int(&l, "live", (int64_t)st.live);
	lp_field_int(&l, "duration_mean_s",
		     s->dur[i].n ? s->dur[i].sum_s / (int64_t)s->dur[i].n : 0);
	lp_field_int(&l, "duration_max_s", s->dur[i].max_s);
	lp_end(&l, now * 1000000);
}

/* After a tick: the line of every plan with a task over since, and of all once an hour. */
static void plan_lines(struct insp_service *s, int64_t now)
{
	bool all = now - s->plan_lines_ms >= PLAN_LINES_EVERY_MS;

	if (!s->influx)
		return;
	if (all)
		s->plan_lines_ms = now;
	for (size_t i = 0; i < s->cfg->inspections.n_plans; i++) {
		if (all || s->line_due[i])
			plan_line(s, i, now);
		s->line_due[i] = false;
	}
	if (s->lines->len)
		influx_submit(s->influx, s->lines->str, s->lines->len);
	g_string_truncate(s->lines, 0);
}

static void on_emit(const struct insp_ev *ev, void *ud)
{
	struct insp_service *s = ud;
	const struct insp_task *t = ev->t;
	int pi = plan_index(s, t->plan);
	json_t *e;
	int rc;

	rc = insp_store_put_task(s->store, t);
	if (rc == 0 && insp_state_final(t->state)) {
		json_t *d = s->details ? json_loads(s->details, 0, NULL) : NULL;
		json_t *o = json_pack("{s:I, s:I, s:I, s:s}", "due", (json_int_t)t->due_ms,
				      "started", (json_int_t)t->started_ms, "late",
				      (json_int_t)t->late_ms, "note", t->reason);
		char *txt;
		if (d)
			json_object_set_new(o, "details", d);
		txt = json_dumps(o, JSON_COMPACT);
		rc = insp_store_add_record(s->store, t->id, t->plan, t->target, t->kind, t->done_ms,
					   insp_state_name(t->state), t->by, txt, NULL);
		free(txt);
		json_decref(o);
		task_line(s, t);
		if (pi >= 0) {
			s->line_due[pi] = true;
			if (t->started_ms > 0 && t->done_ms >= t->started_ms &&
			    (t->state == IS_PASSED || t->state == IS_FAILED)) {
				int64_t secs = (t->done_ms - t->started_ms) / 1000;
				s->dur[pi].n++;
				s->dur[pi].sum_s += secs;
				s->dur[pi].max_s = MAX(s->dur[pi].max_s, secs);
			}
		}
	}
	if (db_run_fail(&s->run, insp_store_db(s->store), rc) == 0)
		db_run_ok(&s->run);
	if (pi >= 0) {
		s->touched[pi] = true;
		if (ev->to == IS_MISSED || ev->to == IS_PASSED)
			s->missed[pi] = ev->to == IS_MISSED ? 1 : 2;
	}
	if (!(ev->from == IS_SCHEDULED && ev->to == IS_SCHEDULED)) {
		e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "event",
			      "inspection", "task", t->id, "plan", t->plan, "target", t->target,
			      "kind", cfg_insp_kind_name(t->kind), "from",
			      insp_state_name(ev->from), "to", insp_state_name(ev->to), "due",
			      (json_int_t)t->due_ms, "by", t->by, "reason", t->reason);
		g_ptr_array_add(s->events, e);
	}
	if (ev->from != ev->to)
		log_info("task %s: %s -> %s%s%s", t->id, insp_state_name(ev->from),
			 insp_state_name(ev->to), t->reason[0] ? ": " : "", t->reason);
}

/* Around every step: one transaction for its writes, then the lines, then inspection/#. */
static void step_begin(struct insp_service *s)
{
	if (db_run_fail(&s->run, insp_store_db(s->store), insp_store_begin(s->store)) < 0)
		return;
}

static void step_end(struct insp_service *s)
{
	struct db *db = insp_store_db(s->store);

	if (db_in_tx(db) && db_run_fail(&s->run, db, insp_store_commit(s->store)) < 0)
		insp_store_rollback(s->store);
	if (s->influx && s->lines->len)
		influx_submit(s->influx, s->lines->str, s->lines->len);
	g_string_truncate(s->lines, 0);
	/* after the commit: the alert service writes in a transaction of its own */
	for (guint i = 0; i < s->events->len; i++) {
		if (s->alerts)
			alert_service_log_event(s->alerts, s->events->pdata[i]);
		else
			json_decref(s->events->pdata[i]);
	}
	g_ptr_array_set_size(s->events, 0);
	for (size_t i = 0; i < s->cfg->inspections.n_plans; i++) {
		if (!s->touched[i])
			continue;
		s->touched[i] = false;
		if (s->alerts)
			plan_alerts(s, i);
		if (s->mqtt)
			publish_plan(s, i);
	}
}

/* ---- tickets ---- */

static void ticket_event(struct insp_service *s, const struct ticket *t, const struct ticket_tr *tr)
{
	static const char *const rc_names[] = {"", "pass", "fail"};

	if (!s->alerts)
		return;
	alert_service_log_event(
	    s->alerts, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "event",
				 "ticket", "ticket", t->id, "kind", t->kind, "target", t->target,
				 "from", ticket_state_name(tr->from), "to",
				 ticket_state_name(tr->to), "by", tr->by, "note", tr->note,
				 "recheck", rc_names[tr->recheck <= TR_FAIL ? tr->recheck : 0],
				 "deadline", (json_int_t)t->deadline_ms));
}

static void ticket_alert(struct insp_service *s, const struct ticket *t, int64_t now)
{
	char text[TEXT_MAX];

	if (!s->alerts)
		return;
	snprintf(text, sizeof(text), "ticket %.80s not closed by its deadline", t->id);
	alert_service_on_condition(s->alerts, "ticket", t->id, "overdue", TICKET_PRIO, text,
				   ticket_overdue(t, now));
}

static int keep_open(const struct ticket *t, void *ud)
{
	struct insp_service *s = ud;
	g_hash_table_replace(s->open, g_strdup(t->id), g_memdup2(t, sizeof(*t)));
	return 0;
}

static json_t *ticket_json(const struct ticket *t)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "ticket", t->id, "kind",
			 t->kind, "target", t->target, "state", ticket_state_name(t->state),
			 "assignee", t->assignee, "text", t->text, "opened",
			 (json_int_t)t->opened_ms, "deadline", (json_int_t)t->deadline_ms);
}

static gint by_opened(gconstpointer a, gconstpointer b)
{
	const struct ticket *x = *(const struct ticket *const *)a;
	const struct ticket *y = *(const struct ticket *const *)b;

	if (x->opened_ms != y->opened_ms)
		return x->opened_ms < y->opened_ms ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The retained `tickets`: every open ticket (the oldest TICKETS_LISTED, the rest counted in
 * "more"), so that a reader who starts later (the county) has them without the events. */
static void publish_tickets(struct insp_service *s)
{
	GPtrArray *v = g_ptr_array_new();
	json_t *arr = json_array(), *o;
	GHashTableIter it;
	gpointer val;
	char *txt;

	g_hash_table_iter_init(&it, s->open);
	while (g_hash_table_iter_next(&it, NULL, &val))
		g_ptr_array_add(v, val);
	g_ptr_array_sort(v, by_opened);
	for (guint i = 0; i < v->len && i < TICKETS_LISTED; i++)
		json_array_append_new(arr, ticket_json(v->pdata[i]));
	o = json_pack("{s:s, s:I, s:I, s:o, s:I}", "site", s->cfg->site.id, "t",
		      (json_int_t)hw_clock_ms(), "open", (json_int_t)v->len, "tickets", arr, "more",
		      (json_int_t)(v->len > TICKETS_LISTED ? v->len - TICKETS_LISTED : 0));
	g_ptr_array_unref(v);
	txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (txt)
		publish_retained(s, "tickets", txt);
}

int insp_service_open_ticket(struct insp_service *s, const char *kind, const char *target,
			     const char *source, const char *text, const char *by, char *id_out)
{
	const struct cfg_inspections *in = &s->cfg->inspections;
	int64_t now = hw_clock_ms();
	struct ticket t;
	struct ticket_tr tr;
	int h = kind && strcmp(kind, "camera") == 0 ? in->camera_ticket_h : in->ticket_h;
	int rc = ticket_open(&t, kind, target, source, text, (int64_t)h * 3600, by, now, &tr);

	if (rc < 0)
		return rc;
	if (g_hash_table_contains(s->open, t.id))
		return -EEXIST;
	rc = insp_store_put_ticket(s->store, &t, &tr);
	if (rc < 0) {
		log_err("cannot store ticket %s: %s", t.id, insp_store_error(s->store));
		return rc;
	}
	keep_open(&t, s);
	ticket_event(s, &t, &tr);
	publish_tickets(s);
	log_info("ticket %s opened by %s: %s", t.id, by, t.text);
	if (id_out)
		g_strlcpy(id_out, t.id, TICKET_ID_MAX);
	return 0;
}

bool insp_service_find_ticket(struct insp_service *s, const char *kind, const char *target,
			      char *id_out)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, s->open);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct ticket *t = v;
		if (t->state != TK_CLOSED && strcmp(t->kind, kind) == 0 &&
		    strcmp(t->target, target) == 0) {
			if (id_out)
				g_strlcpy(id_out, t->id, TICKET_ID_MAX);
			return true;
		}
	}
	return false;
}

size_t insp_service_list(struct insp_service *s, const struct insp_task **v, size_t n)
{
	return insp_sched_list(s->sched, v, n);
}

int insp_service_ticket(struct insp_service *s, const char *id, enum ticket_action a,
			const char *by, const char *note, const char *assignee,
			enum ticket_recheck recheck)
{
	int64_t now = hw_clock_ms();
	struct ticket t;
	struct ticket_tr tr;
	int rc = insp_store_get_ticket(s->store, id, &t);

	if (rc < 0)
		return rc;
	rc = ticket_apply(&t, a, by, note, assignee, recheck, now, &tr);
	if (rc < 0)
		return rc;
	rc = insp_store_put_ticket(s->store, &t, &tr);
	if (rc < 0) {
		log_err("cannot store ticket %s: %s", t.id, insp_store_error(s->store));
		return rc;
	}
	if (t.state == TK_CLOSED)
		g_hash_table_remove(s->open, t.id);
	else
		keep_open(&t, s);
	ticket_event(s, &t, &tr);
	publish_tickets(s);
	ticket_alert(s, &t, now);
	log_info("ticket %s: %s -> %s by %s", t.id, ticket_state_name(tr.from),
		 ticket_state_name(tr.to), by);
	return 0;
}

/* ---- the timer ---- */

static void offer_runners(struct insp_service *s)
{
	size_t n, m = 0;
	const struct insp_task **v = live_tasks(s, &n);
	char **ids = g_new0(char *, n + 1);

	for (size_t i = 0; i < n; i++)
		if ((v[i]->state == IS_DUE || v[i]->state == IS_OVERDUE) &&
		    (unsigned)v[i]->kind < G_N_ELEMENTS(s->runners) && s->runners[v[i]->kind].fn)
			ids[m++] = g_strdup(v[i]->id);
	g_free(v);
	/* by id: a runner changes the list as it goes */
	for (size_t i = 0; i < m; i++) {
		const struct insp_task *t = insp_sched_get(s->sched, ids[i]);
		if (t && (t->state == IS_DUE || t->state == IS_OVERDUE))
			s->runners[t->kind].fn(s, t, s->runners[t->kind].ud);
	}
	g_strfreev(ids);
}

void insp_service_tick(struct insp_service *s)
{
	int64_t now = hw_clock_ms();
	GHashTableIter it;
	gpointer v;

	step_begin(s);
	insp_sched_tick(s->sched, now);
	if (db_in_tx(insp_store_db(s->store)))
		insp_store_set_meta(s->store, "last_run_ms", now);
	step_end(s);
	plan_lines(s, now);
	g_hash_table_iter_init(&it, s->open);
	while (g_hash_table_iter_next(&it, NULL, &v))
		ticket_alert(s, v, now);
	if (now - s->pruned_ms >= PRUNE_EVERY_MS) {
		s->pruned_ms = now;
		insp_store_prune(s->store, now - (int64_t)s->cfg->inspections.keep_days * 86400000,
				 NULL);
	}
	offer_runners(s);
}

static gboolean on_timer(gpointer ud)
{
	insp_service_tick(ud);
	return G_SOURCE_CONTINUE;
}

/* ---- actions ---- */

int insp_service_start(struct insp_service *s, const char *id, const char *by)
{
	int rc;

	step_begin(s);
	rc = insp_sched_start(s->sched, id, by, hw_clock_ms());
	step_end(s);
	return rc;
}

int insp_service_complete(struct insp_service *s, const char *id, bool passed, const char *by,
			  const char *note, const char *details)
{
	int rc;

	step_begin(s);
	s->details = details;
	rc = insp_sched_complete(s->sched, id, passed, by, note, hw_clock_ms());
	s->details = NULL;
	step_end(s);
	return rc;
}

int insp_service_postpone(struct insp_service *s, const char *id, int64_t until_ms,
			  const char *reason, const char *by)
{
	int rc;

	step_begin(s);
	rc = insp_sched_postpone(s->sched, id, until_ms, reason, by, hw_clock_ms());
	step_end(s);
	return rc;
}

int insp_service_cancel(struct insp_service *s, const char *id, const char *reason, const char *by)
{
	int rc;

	step_begin(s);
	rc = insp_sched_cancel(s->sched, id, reason, by, hw_clock_ms());
	step_end(s);
	return rc;
}

int insp_service_run_now(struct insp_service *s, const char *plan, const char *target,
			 const char *by, char *id_out)
{
	int rc;

	step_begin(s);
	rc = insp_sched_run_now(s->sched, plan, target, by, hw_clock_ms(), id_out);
	step_end(s);
	if (rc == 0)
		offer_runners(s);
	return rc;
}

bool insp_service_open_ticket_of(struct insp_service *s, const char *kind, const char *target,
				 struct ticket *out)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, s->open);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct ticket *t = v;
		if (strcmp(t->kind, kind) == 0 && strcmp(t->target, target) == 0) {
			if (out)
				*out = *t;
			return true;
		}
	}
	return false;
}

const struct insp_task *insp_service_task(struct insp_service *s, const char *id)
{
	return insp_sched_get(s->sched, id);
}

void insp_service_set_conditions(struct insp_service *s, insp_cond_fn fn, void *ud)
{
	s->cond = fn;
	s->cond_ud = ud;
}

void insp_service_set_runner(struct insp_service *s, int kind, insp_runner_fn fn, void *ud)
{
	if (kind < 0 || (size_t)kind >= G_N_ELEMENTS(s->runners))
		return;
	s->runners[kind].fn = fn;
	s->runners[kind].ud = ud;
}

/* ---- verbs ---- */

static const char *doc_str(const struct cmdreq *r, const char *key, size_t max)
{
	const json_t *v = r->doc ? json_object_get(r->doc, key) : NULL;
	const char *str = json_is_string(v) ? json_string_value(v) : NULL;

	return str && strlen(str) <= max ? str : NULL;
}

static int cmd_tasks(struct router_req *q, void *ud)
{
	struct insp_service *s = ud;
	size_t n;
	const struct insp_task **v = live_tasks(s, &n);
	json_t *tasks = json_array(), *plans = json_array(), *tickets = json_array();
	GHashTableIter it;
	gpointer val;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    tasks, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "task",
				     v[i]->id, "plan", v[i]->plan, "target", v[i]->target, "kind",
				     cfg_insp_kind_name(v[i]->kind), "state",
				     insp_state_name(v[i]->state), "due", (json_int_t)v[i]->due_ms,
				     "overdue_at", (json_int_t)v[i]->late_ms, "missed_at",
				     (json_int_t)v[i]->miss_ms, "reason", v[i]->reason));
	g_free(v);
	for (size_t i = 0; i < s->cfg->inspections.n_plans; i++)
		json_array_append_new(plans, plan_json(s, i));
	g_hash_table_iter_init(&it, s->open);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		json_array_append_new(tickets, ticket_json(val));
	}
	router_req_reply(q, "tasks", tasks);
	router_req_reply(q, "plans", plans);
	router_req_reply(q, "tickets", tickets);
	return 0;
}

/* cmd/task {"id": task, "action": start|complete|postpone|cancel|run_now, "result":
 * passed|failed, "reason": note, "for": seconds (postpone), "plan", "target" (run_now)} */
static int cmd_task(struct router_req *q, void *ud)
{
	struct insp_service *s = ud;
	const struct cmdreq *r = router_req_args(q);
	const char *action = doc_str(r, "action", 16), *result = doc_str(r, "result", 16);
	const char *by = r->user ? r->user : "";
	char id[INSP_ID_MAX];
	int rc;

	if (!action)
		return router_req_fail(q, -EINVAL, NULL,
				       "cmd/task needs \"action\" (start, complete, postpone, "
				       "cancel, run_now)");
	if (strcmp(action, "run_now") == 0) {
		const char *plan = doc_str(r, "plan", INSP_NAME_MAX),
			   *target = doc_str(r, "target", INSP_NAME_MAX);
		if (!plan)
			return router_req_fail(q, -EINVAL, NULL, "run_now needs \"plan\"");
		int pi = plan_index(s, plan);
		if (pi < 0)
			return router_req_fail(q, -ENOENT, "unknown_plan", "no plan \"%s\"", plan);
		if (!target)
			target = s->cfg->inspections.plans[pi].targets[0];
		rc = insp_service_run_now(s, plan, target, by, id);
		if (rc == 0)
			router_req_record(q, "task", id);
		else if (rc == -ENOENT)
			return router_req_fail(q, rc, "unknown_target",
					       "plan \"%s\" has no target \"%s\"", plan, target);
		return rc;
	}
	if (!r->id)
		return router_req_fail(q, -EINVAL, NULL, "cmd/task needs \"id\" (a task)");
	if (strcmp(action, "start") == 0) {
		rc = insp_service_start(s, r->id, by);
	} else if (strcmp(action, "complete") == 0) {
		if (!result || (strcmp(result, "passed") != 0 && strcmp(result, "failed") != 0))
			return router_req_fail(q, -EINVAL, NULL,
					       "complete needs \"result\": passed or failed");
		rc = insp_service_complete(s, r->id, strcmp(result, "passed") == 0, by, r->reason,
					   NULL);
	} else if (strcmp(action, "postpone") == 0) {
		const json_t *f = r->for_v;
		if (!json_is_integer(f) || json_integer_value(f) <= 0 || !r->reason)
			return router_req_fail(q, -EINVAL, NULL,
					       "postpone needs \"for\" (seconds) and \"reason\"");
		rc = insp_service_postpone(s, r->id, hw_clock_ms() + json_integer_value(f) * 1000,
					   r->reason, by);
	} else if (strcmp(action, "cancel") == 0) {
		if (!r->reason)
			return router_req_fail(q, -EINVAL, NULL, "cancel needs \"reason\"");
		rc = insp_service_cancel(s, r->id, r->reason, by);
	} else {
		return router_req_fail(q, -EINVAL, NULL, "unknown action \"%s\"", action);
	}
	if (rc == -ENOENT)
		return router_req_fail(q, rc, "unknown_task", "no task \"%s\" that is not over",
				       r->id);
	if (rc == -EAGAIN)
		return router_req_fail(q, rc, NULL,
				       "task \"%s\" is not due (or a precondition "
				       "fails)",
				       r->id);
	if (rc == -EBUSY)
		return router_req_fail(q, rc, NULL, "another target of this plan is in progress");
	if (rc == 0)
		router_req_record(q, "task", r->id);
	return rc;
}

/* cmd/ticket {"id": ticket, "action": open|assign|start|repaired|verify|close|reopen,
 * "reason": note, "assignee", "recheck": pass|fail; open: "kind", "target"} */
static int cmd_ticket(struct router_req *q, void *ud)
{
	struct insp_service *s = ud;
	const struct cmdreq *r = router_req_args(q);
	const char *action = doc_str(r, "action", 16), *rcs = doc_str(r, "recheck", 8);
	const char *by = r->user ? r->user : "";
	enum ticket_action a;
	enum ticket_recheck recheck = TR_NONE;
	char id[TICKET_ID_MAX];
	int rc;

	if (action && strcmp(action, "open") == 0) {
		const char *kind = doc_str(r, "kind", TICKET_NAME_MAX - 1),
			   *target = doc_str(r, "target", TICKET_NAME_MAX - 1);
		if (!kind || !target)
			return router_req_fail(q, -EINVAL, NULL,
					       "open needs \"kind\" and \"target\"");
		rc = insp_service_open_ticket(s, kind, target, "", r->reason, by, id);
		if (rc == 0)
			router_req_record(q, "ticket", id);
		return rc;
	}
	if (!action || ticket_action_parse(action, &a) < 0)
		return router_req_fail(
		    q, -EINVAL, NULL,
		    "cmd/ticket needs \"action\" (open, assign, start, repaired, "
		    "verify, close, reopen)");
	if (!r->id)
		return router_req_fail(q, -EINVAL, NULL, "cmd/ticket needs \"id\" (a ticket)");
	if (rcs)
		recheck = strcmp(rcs, "pass") == 0   ? TR_PASS
			  : strcmp(rcs, "fail") == 0 ? TR_FAIL
						     : TR_NONE;
	rc = insp_service_ticket(s, r->id, a, by, r->reason, doc_str(r, "assignee", 63), recheck);
	if (rc == -ENOENT)
		return router_req_fail(q, rc, "unknown_ticket", "no ticket \"%s\"", r->id);
	if (rc == -EPERM)
		return router_req_fail(q, rc, NULL, "closing needs a passing re-check");
	if (rc == -ENOTSUP)
		return router_req_fail(q, rc, NULL, "ticket \"%s\" cannot %s from its state", r->id,
				       action);
	if (rc == 0)
		router_req_record(q, "ticket", r->id);
	return rc;
}

/* cmd/clock {"set_ms": Unix ms} | {"advance_ms": ms} | {}: moves the test clock (core/clock.h)
 * forward and runs the scheduler at once, so that the tasks due by then are DUE (and offered
 * to their runners) when the reply goes; {} only reads it. Moving it is refused unless the
 * gateway was started with HALLWATCH_TEST_CLOCK (docs/inspections.md). */
static int cmd_clock(struct router_req *q, void *ud)
{
	struct insp_service *s = ud;
	const struct cmdreq *r = router_req_args(q);
	const json_t *set = r->doc ? json_object_get(r->doc, "set_ms") : NULL;
	const json_t *adv = r->doc ? json_object_get(r->doc, "advance_ms") : NULL;
	char a[48];
	int rc = 0;

	if (set && adv)
		return router_req_fail(q, -EINVAL, NULL,
				       "give \"set_ms\" or \"advance_ms\", not both");
	if ((set && !json_is_integer(set)) || (adv && !json_is_integer(adv)))
		return router_req_fail(q, -EINVAL, NULL,
				       "\"set_ms\" (Unix ms) and \"advance_ms\" (ms) are integers");
	if ((set || adv) && !hw_clock_is_test())
		return router_req_fail(q, -EPERM, "not_allowed",
				       "the clock is the real one: cmd/clock moves it only in a "
				       "gateway started with HALLWATCH_TEST_CLOCK (tests, never in "
				       "production)");
	if (set)
		rc = hw_clock_set(json_integer_value(set));
	else if (adv)
		rc = hw_clock_advance(json_integer_value(adv));
	if (rc < 0)
		return router_req_fail(
		    q, rc, NULL, "the test clock only moves forward; it is %s",
		    timeparse_format(hw_clock_ms(), s->cfg->site.timezone, a, sizeof(a)));
	if (set || adv) {
		log_info("test clock moved to %s",
			 timeparse_format(hw_clock_ms(), s->cfg->site.timezone, a, sizeof(a)));
		insp_service_tick(s);
	}
	router_req_reply(q, "now", json_integer(hw_clock_ms()));
	router_req_reply(q, "offset_ms", json_integer(hw_clock_offset_ms()));
	router_req_reply(q, "test", json_boolean(hw_clock_is_test()));
	router_req_record(q, "time",
			  timeparse_format(hw_clock_ms(), s->cfg->site.timezone, a, sizeof(a)));
	return 0;
}

int insp_service_attach_router(struct insp_service *s, struct router *r)
{
	int rc = router_add(r, "tasks", ROUTER_VIEWER, ROUTER_READ_ONLY, cmd_tasks, s);

	if (rc == 0)
		rc = router_add(r, "task", ROUTER_OPERATOR, 0, cmd_task, s);
	if (rc == 0)
		rc = router_add(r, "ticket", ROUTER_OPERATOR, 0, cmd_ticket, s);
	if (rc == 0)
		rc = router_add(r, "clock", ROUTER_ADMIN, 0, cmd_clock, s);
	if (rc == 0 && !s->records)
		rc = records_create(s->cfg, s->store, s->alerts, &s->records);
	if (rc == 0)
		rc = records_attach_router(s->records, r);
	return rc;
}

/* ---- lifecycle ---- */

static int restore_task(const struct insp_task *t, void *ud)
{
	struct insp_service *s = ud;
	int rc = insp_sched_restore(s->sched, t);

	if (rc < 0)
		log_warn("task %s: not restored: %s", t->id, strerror(-rc));
	return 0;
}

int insp_service_create(const struct hw_config *cfg, struct alert_service *alerts, struct mqtt *m,
			struct influx *ix, struct insp_service **out)
{
	const struct cfg_inspections *in = &cfg->inspections;
	struct insp_service *s = g_new0(struct insp_service, 1);
	int64_t last;
	char *path;
	int rc;

	s->cfg = cfg;
	s->alerts = alerts;
	s->mqtt = m;
	s->influx = ix;
	s->run = (struct db_run){.tag = LOG_TAG, .what = "the inspection records"};
	s->touched = g_new0(bool, in->n_plans ? in->n_plans : 1);
	s->missed = g_new0(int, in->n_plans ? in->n_plans : 1);
	s->dur = g_new0(struct plan_dur, in->n_plans ? in->n_plans : 1);
	s->line_due = g_new0(bool, in->n_plans ? in->n_plans : 1);
	s->events = g_ptr_array_new();
	s->open = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	s->lines = g_string_new(NULL);
	s->tz = cfg->site.timezone ? g_time_zone_new_identifier(cfg->site.timezone)
				   : g_time_zone_new_local();
	if (!s->tz) {
		rc = -EINVAL;
		goto fail;
	}
	if (g_mkdir_with_parents(cfg->storage.state_dir, 0750) < 0) {
		rc = -errno;
		log_err("state_dir %s: %s", cfg->storage.state_dir, strerror(-rc));
		goto fail;
	}
	path = g_build_filename(cfg->storage.state_dir, "hallwatch.db", NULL);
	rc = insp_store_open(path, &s->store);
	g_free(path);
	if (rc < 0)
		goto fail;
	rc = insp_sched_create(in->plans, in->n_plans, &cfg->site.cal, s->tz, on_emit, conditions,
			       s, &s->sched);
	if (rc < 0)
		goto fail;
	rc = insp_store_load_tasks(s->store, restore_task, s);
	if (rc == 0)
		rc = insp_store_open_tickets(s->store, keep_open, s);
	if (rc < 0) {
		log_err("cannot read the inspection records: %s", insp_store_error(s->store));
		goto fail;
	}
	/* A gap of more than two ticks since the scheduler last ran is a downtime (a reload
	 * recreates the service a moment after the last tick). */
	last = insp_store_get_meta(s->store, "last_run_ms", 0);
	if (last > 0 && hw_clock_ms() - last > 2000LL * in->tick_s + 1000)
		insp_sched_set_last_run(s->sched, last);
	for (size_t i = 0; i < in->n_plans; i++)
		s->touched[i] = true;
	insp_service_tick(s); /* the catch-up after downtime, and inspection/<plan> */
	publish_tickets(s);
	s->timer = g_timeout_add_seconds((guint)in->tick_s, on_timer, s);
	log_info("%zu inspection plan(s), %u open ticket(s), every %d s", in->n_plans,
		 g_hash_table_size(s->open), in->tick_s);
	*out = s;
	return 0;
fail:
	insp_service_destroy(s);
	return rc;
}

void insp_service_destroy(struct insp_service *s)
{
	if (!s)
		return;
	if (s->timer)
		g_source_remove(s->timer);
	records_destroy(s->records);
	insp_sched_destroy(s->sched);
	insp_store_close(s->store);
	if (s->tz)
		g_time_zone_unref(s->tz);
	g_hash_table_destroy(s->open);
	g_string_free(s->lines, TRUE);
	g_free(s->touched);
	g_free(s->missed);
	g_free(s->dur);
	g_free(s->line_due);
	for (guint i = 0; i < s->events->len; i++)
		json_decref(s->events->pdata[i]);
	g_ptr_array_free(s->events, TRUE);
	g_free(s);
}

/* Owns the emergency-lighting test runner: the tests it follows (task, controller, since,
 * deadline) and its poll timer; the state it reads is the hub's. Main loop thread only.
 *
 * Two clocks: a task's times are the inspection clock's (core/clock.h); a test's progress
 * (its deadline) and what the controller reports (its last test time, by its own clock)
 * are real time, mapped with hw_clock_from_real / _to_real. In production they are one. */
#define LOG_TAG "eltest"
#include "gateway/eltest.h"

#include <errno.h>
#include <inttypes.h>
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"

#define POLL_MS 500
#define RECHARGE_MS (24 * 3600 * 1000LL)
#define BY "eltest"

struct follow {
	char task[INSP_ID_MAX];
	size_t dev;
	int kind;	     /* INSP_FUNCTION_TEST or INSP_DURATION_TEST */
	int64_t since_ms;    /* the start command was sent (the task's start, inspection clock) */
	int64_t real_since;  /* the same, real time */
	int64_t deadline_ms; /* expected + margin after it, real time */
	bool running_seen;
	double base; /* the last test time when it was started */
	bool base_known;
	bool resumed;	      /* taken up again after a restart */
	bool answered;	      /* the controller answered since the runner follows it */
	int64_t silent_since; /* it stopped answering (not ready) after that, 0: it answers */
};

struct eltest {
	const struct hw_config *cfg;
	struct insp_service *insp;
	struct hub *hub;
	eltest_send_fn send;
	void *ud;
	GPtrArray *follows; /* struct follow */
	guint timer;
	bool adopted; /* tasks IN_PROGRESS before this runner were looked at */
	bool *warned; /* per device: a target without tests was logged */
};

static int device_of(const struct hw_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->n_devices; i++)
		if (strcmp(cfg->devices[i].id, id) == 0)
			return (int)i;
	return -1;
}

static const struct prof_test *test_of(const struct cfg_device *d, int kind)
{
	const struct prof_tests *ts = &d->profile->tests;
	const struct prof_test *t = kind == INSP_DURATION_TEST ? &ts->duration : &ts->function;

	return t->result || t->last_time || t->start ? t : NULL;
}

static const struct cfg_plan *plan_of(const struct hw_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->inspections.n_plans; i++)
		if (strcmp(cfg->inspections.plans[i].id, id) == 0)
			return &cfg->inspections.plans[i];
	return NULL;
}

/* The value of a point of d as a number, when it is GOOD. */
static bool point_num(const struct hub_device *d, const char *key, double *out)
{
	struct hw_value v;

	if (!key || !d->layout)
		return false;
	for (size_t i = 0; i < d->n_points; i++) {
		if (strcmp(hub_point_key(d, i), key) != 0)
			continue;
		if (hub_point_q(&d->points[i]) != HW_Q_GOOD)
			return false;
		hub_point_value(d, i, &v);
		*out = v.type == HW_V_BOOL ? v.b : v.type == HW_V_INT ? (double)v.i : v.f;
		return v.type != HW_V_NONE;
	}
	return false;
}

static bool ready(const struct hub_device *d)
{
	return d && d->seen && d->online && d->layout;
}

/* Any fire point of any device of the hall is active. */
static bool fire_active(struct hub *h)
{
	for (size_t k = 0; k < hub_n_devices(h); k++) {
		const struct hub_device *d = hub_device_at(h, k);
		struct hw_value v;

		if (!d || !d->layout)
			continue;
		for (size_t i = 0; i < d->n_points; i++) {
			if (hub_point_def(d, i)->cls != PC_FIRE ||
			    hub_point_q(&d->points[i]) == HW_Q_NONE)
				continue;
			hub_point_value(d, i, &v);
			if ((v.type == HW_V_BOOL && v.b) || (v.type == HW_V_INT && v.i != 0))
				return true;
		}
	}
	return false;
}

/* ---- the preconditions ---- */

static unsigned conditions(const char *plan, const char *target, void *ud)
{
	struct eltest *e = ud;
	unsigned ok = ~0u;
	int di = device_of(e->cfg, target);
	const struct hub_device *d = di >= 0 ? hub_device_at(e->hub, (size_t)di) : NULL;
	const struct prof_tests *ts = di >= 0 ? &e->cfg->devices[di].profile->tests : NULL;
	double v;

	(void)plan;
	if (fire_active(e->hub))
		ok &= ~INSP_REQ_NO_FIRE;
	if (!ts || !test_of(&e->cfg->devices[di], INSP_FUNCTION_TEST))
		return ok;
	/* a controller not read yet (or offline) is not started by the runner either: its
	 * task stays DUE rather than postponed for a mains failure nobody saw */
	if (ready(d) && ts->mains_fault && point_num(d, ts->mains_fault, &v) && v != 0)
		ok &= ~INSP_REQ_MAINS_OK;
	if (ready(d) && point_num(d, ts->duration.last_time, &v) && v > 0 &&
	    hw_clock_real_ms() - (int64_t)v * 1000 < RECHARGE_MS)
		ok &= ~INSP_REQ_BATTERY_RECHARGED;
	return ok;
}

/* ---- completing ---- */

static struct follow *find(struct eltest *e, const char *task)
{
	for (guint i = 0; i < e->follows->len; i++) {
		struct follow *f = e->follows->pdata[i];
		if (strcmp(f->task, task) == 0)
			return f;
	}
	return NULL;
}

/* Completes the task with the controller's result: details {"controller", "test",
 * "result", "passed", "started", "ended", "length", "length_unit", "rated",
 * "luminaires_failed", "resumed", "self_test", "error", "interrupted"}; a test that lasted
 * less than its rated time fails; a failure opens the controller's el_test ticket. */
static void finish(struct eltest *e, const char *task_id, size_t dev, int kind, int64_t since_ms,
		   bool resumed, bool self_test, const char *error)
{
	char task[INSP_ID_MAX]; /* a live task's id goes with the task once it is complete */
	const struct cfg_device *cd = &e->cfg->devices[dev];
	const struct hub_device *d = hub_device_at(e->hub, dev);
	const struct prof_test *pt = test_of(cd, kind);
	const char *name = kind == INSP_DURATION_TEST ? "duration" : "function";
	json_t *o =
	    json_pack("{s:s, s:s, s:I, s:b, s:b}", "controller", cd->id, "test", name, "started",
		      (json_int_t)since_ms, "resumed", resumed, "self_test", self_test);
	json_t *lum = json_array();
	bool passed = false, have_len = false, have_rated = false;
	double v, len = 0, rated = 0;
	const char *unit = "", *label = NULL;
	char note[INSP_TEXT_MAX], *txt;
	int rc;

	g_strlcpy(task, task_id, sizeof(task));
	if (!error && ready(d) && pt) {
		if (point_num(d, pt->result, &v)) {
			const struct prof_point *rp = profile_find_point(cd->profile, pt->result);
			for (size_t i = 0; rp && i < rp->n_enums; i++)
				if (rp->enums[i].value == (int64_t)v)
					label = rp->enums[i].label;
			json_object_set_new(
			    o, "result", label ? json_string(label) : json_integer((json_int_t)v));
			passed = (int64_t)v == pt->passed;
		}
		if (point_num(d, pt->last_time, &v))
			json_object_set_new(
			    o, "ended",
			    json_integer((json_int_t)hw_clock_from_real((int64_t)v * 1000)));
		if (point_num(d, pt->length, &v)) {
			const struct prof_point *lp = profile_find_point(cd->profile, pt->length);
			unit = lp && lp->unit ? lp->unit : "";
			json_object_set_new(o, "length", json_real(v));
			json_object_set_new(o, "length_unit", json_string(unit));
			len = v;
			have_len = true;
		}
		if (point_num(d, pt->rated, &v)) {
			json_object_set_new(o, "rated", json_real(v));
			rated = v;
			have_rated = v > 0;
		}
		for (size_t i = 0; pt->luminaire_failed && i < d->n_points; i++) {
			const char *key = hub_point_key(d, i), *dot = strrchr(key, '.');
			if (!dot || strcmp(dot + 1, pt->luminaire_failed) != 0 ||
			    !point_num(d, key, &v) || v == 0)
				continue;
			json_array_append_new(lum, json_stringn(key, (size_t)(dot - key)));
		}
		if (json_array_size(lum) || (have_len && have_rated && len < rated))
			passed = false;
	} else if (!error) {
		error = "the controller did not answer";
	}
	json_object_set_new(o, "passed", json_boolean(passed));
	json_object_set_new(o, "luminaires_failed", lum);
	if (error)
		json_object_set_new(o, "error", json_string(error));
	if (error && strncmp(error, "interrupted", 11) == 0)
		json_object_set_new(o, "interrupted", json_true());
	if (passed && have_len && have_rated)
		snprintf(note, sizeof(note), "%s test passed: lasted %g of %g %s rated", name, len,
			 rated, unit);
	else if (passed)
		snprintf(note, sizeof(note), "%s test passed", name);
	else if (error)
		snprintf(note, sizeof(note), "%s test failed: %s", name, error);
	else if (have_len && have_rated && len < rated)
		snprintf(note, sizeof(note),
			 "%s test failed: lasted %g of %g %s rated, %zu luminaire(s) failed", name,
			 len, rated, unit, json_array_size(lum));
	else if (json_array_size(lum))
		snprintf(note, sizeof(note), "%s test failed: %zu luminaire(s) failed", name,
			 json_array_size(lum));
	else
		snprintf(note, sizeof(note), "%s test failed: the controller reports %s", name,
			 label ? label : "no pass");
	txt = json_dumps(o, JSON_COMPACT);
	rc = insp_service_complete(e->insp, task, passed, BY, note, txt);
	if (rc < 0)
		log_warn("task %s: cannot complete: %s", task, strerror(-rc));
	else
		log_info("task %s: %s", task, note);
	if (rc == 0 && !passed && !insp_service_find_ticket(e->insp, "el_test", cd->id, NULL)) {
		rc = insp_service_open_ticket(e->insp, "el_test", cd->id, task, note, BY, NULL);
		if (rc < 0)
			log_warn("task %s: cannot open a ticket: %s", task, strerror(-rc));
	}
	free(txt);
	json_decref(o);
}

static void drop(struct eltest *e, struct follow *f)
{
	g_ptr_array_remove(e->follows, f); /* frees f */
}

/* ---- following ---- */

/* One followed test: over once it no longer runs and the controller's last test time
 * differs from what it was when the test was started (the controller's clock may be off:
 * never compared with ours). Taken up after a restart, what it was is unknown: over when
 * the last test time is after the task's start. Without a last test time: when the running
 * point fell after it was seen. Failed past the deadline. */
static void follow_step(struct eltest *e, struct follow *f, int64_t now)
{
	const struct cfg_device *cd = &e->cfg->devices[f->dev];
	const struct hub_device *d = hub_device_at(e->hub, f->dev);
	const struct prof_test *pt = test_of(cd, f->kind);
	const struct insp_task *t = insp_service_task(e->insp, f->task);
	double running = 0, last = 0;
	bool have_last, done;

	if (!t || t->state != IS_IN_PROGRESS) { /* completed or cancelled by a person */
		drop(e, f);
		return;
	}
	if (ready(d))
		f->answered = true;
	if (!ready(d) && f->answered && !f->silent_since)
		f->silent_since = now;
	else if (ready(d) && f->silent_since) {
		log_info("task %s: %s answers again", f->task, cd->id);
		f->silent_since = 0;
	}
	if (f->silent_since && f->silent_since == now)
		log_warn("task %s: %s stopped answering during the test; followed until %" PRId64
			 " s after its start",
			 f->task, cd->id, (f->deadline_ms - f->since_ms) / 1000);
	if (ready(d) && pt) {
		point_num(d, pt->running, &running);
		have_last = point_num(d, pt->last_time, &last);
		if (running != 0)
			f->running_seen = true;
		if (running != 0)
			done = false;
		else if (!pt->last_time)
			done = f->running_seen;
		else if (f->base_known)
			done = have_last && last != f->base;
		else
			done = have_last && (int64_t)last * 1000 > f->real_since;
		if (done) {
			finish(e, f->task, f->dev, f->kind, f->since_ms, f->resumed, false, NULL);
			drop(e, f);
			return;
		}
	}
	if (now < f->deadline_ms)
		return;
	if (f->silent_since) {
		char err[INSP_TEXT_MAX];

		snprintf(err, sizeof(err),
			 "interrupted: the controller stopped answering during the test (no "
			 "answer for %" PRId64 " s)",
			 (now - f->silent_since) / 1000);
		finish(e, f->task, f->dev, f->kind, f->since_ms, f->resumed, false, err);
		drop(e, f);
		return;
	}
	finish(e, f->task, f->dev, f->kind, f->since_ms, f->resumed, false,
	       f->resumed && !f->running_seen
		   ? "interrupted: the gateway stopped during the test and the controller "
		     "reports none since"
	       : running != 0 ? "still running past its expected duration"
			      : "no result from the controller in time");
	drop(e, f);
}

static struct follow *follow_add(struct eltest *e, const struct insp_task *t, size_t dev,
				 int64_t since_ms, bool resumed)
{
	const struct cfg_plan *p = plan_of(e->cfg, t->plan);
	struct follow *f = g_new0(struct follow, 1);

	g_strlcpy(f->task, t->id, sizeof(f->task));
	f->dev = dev;
	f->kind = t->kind;
	f->since_ms = since_ms;
	f->real_since = hw_clock_to_real(since_ms);
	f->deadline_ms = f->real_since + (p ? p->expected_s + p->margin_s : 240) * 1000;
	f->resumed = resumed;
	if (!resumed) {
		const struct hub_device *d = hub_device_at(e->hub, dev);
		const struct prof_test *pt = test_of(&e->cfg->devices[dev], t->kind);
		f->base_known = ready(d) && pt && point_num(d, pt->last_time, &f->base);
	}
	g_ptr_array_add(e->follows, f);
	return f;
}

/* Tasks IN_PROGRESS from before this runner (the gateway restarted, or reloaded, during a
 * test): followed again from their start, never started a second time. */
static void adopt(struct eltest *e)
{
	const struct insp_task *v[1024];
	size_t n = insp_service_list(e->insp, v, G_N_ELEMENTS(v));
	char **ids;
	size_t m = 0;

	if (n > G_N_ELEMENTS(v))
		n = G_N_ELEMENTS(v);
	ids = g_new0(char *, n + 1);
	for (size_t i = 0; i < n; i++)
		if (v[i]->state == IS_IN_PROGRESS &&
		    (v[i]->kind == INSP_FUNCTION_TEST || v[i]->kind == INSP_DURATION_TEST) &&
		    !find(e, v[i]->id))
			ids[m++] = g_strdup(v[i]->id);
	for (size_t i = 0; i < m; i++) {
		const struct insp_task *t = insp_service_task(e->insp, ids[i]);
		int di = t ? device_of(e->cfg, t->target) : -1;

		if (di < 0 || !test_of(&e->cfg->devices[di], t->kind))
			continue;
		log_info("task %s: in progress since before the restart: followed again, not "
			 "started again",
			 t->id);
		follow_add(e, t, (size_t)di, t->started_ms ? t->started_ms : hw_clock_ms(), true);
	}
	g_strfreev(ids);
}

static gboolean on_poll(gpointer ud)
{
	struct eltest *e = ud;
	int64_t now = hw_clock_real_ms();

	if (!e->adopted) {
		e->adopted = true;
		adopt(e);
	}
	for (guint i = e->follows->len; i > 0; i--)
		follow_step(e, e->follows->pdata[i - 1], now);
	return G_SOURCE_CONTINUE;
}

/* ---- the runner ---- */

static int64_t period_ms(const struct cfg_plan *p)
{
	if (p->recur == RECUR_DAYS)
		return (int64_t)p->days * 86400000;
	if (p->recur == RECUR_EVERY)
		return p->every_s * 1000;
	if (p->recur == RECUR_YEARLY)
		return 366LL * 86400000;
	return 31LL * 86400000;
}

/* A self-testing controller: its own test in the task's period passes (or fails) the task;
 * none leaves it DUE, to go OVERDUE and MISSED with the plan's alerts ("test overdue"). */
static void self_check(struct eltest *e, const struct insp_task *t, size_t dev)
{
	const struct cfg_plan *p = plan_of(e->cfg, t->plan);
	const struct hub_device *d = hub_device_at(e->hub, dev);
	const struct prof_test *pt = test_of(&e->cfg->devices[dev], t->kind);
	double last;

	if (!p || !ready(d) || !point_num(d, pt->last_time, &last) || last <= 0)
		return;
	if (hw_clock_from_real((int64_t)last * 1000) <= t->due_ms - period_ms(p))
		return;
	finish(e, t->id, dev, t->kind, hw_clock_from_real((int64_t)last * 1000), false, true, NULL);
}

/* A test of controller dev runs: one this runner follows, or either kind's running point
 * (its own test, or a person's). A controller ignores a start while it tests. */
static bool testing(struct eltest *e, size_t dev)
{
	const struct hub_device *d = hub_device_at(e->hub, dev);
	const struct prof_tests *ts = &e->cfg->devices[dev].profile->tests;
	double v;

	for (guint i = 0; i < e->follows->len; i++)
		if (((struct follow *)e->follows->pdata[i])->dev == dev)
			return true;
	return (point_num(d, ts->function.running, &v) && v != 0) ||
	       (point_num(d, ts->duration.running, &v) && v != 0);
}

static void run(struct insp_service *s, const struct insp_task *t, void *ud)
{
	struct eltest *e = ud;
	int di = device_of(e->cfg, t->target);
	const struct prof_test *pt = di >= 0 ? test_of(&e->cfg->devices[di], t->kind) : NULL;
	char id[INSP_ID_MAX];
	int64_t now;
	int rc;

	if (!pt) {
		if (di >= 0 && !e->warned[di]) {
			e->warned[di] = true;
			log_warn("plan %s: device %s declares no %s test in its profile: left to a "
				 "person",
				 t->plan, t->target,
				 t->kind == INSP_DURATION_TEST ? "duration" : "function");
		}
		return;
	}
	if (find(e, t->id))
		return;
	if (e->cfg->devices[di].profile->tests.self_testing || !pt->start) {
		self_check(e, t, (size_t)di);
		return;
	}
	if (!ready(hub_device_at(e->hub, (size_t)di)))
		return; /* not read yet: the next tick */
	if (testing(e, (size_t)di))
		return; /* the next tick after it: the controller would ignore the start */
	g_strlcpy(id, t->id, sizeof(id));
	rc = insp_service_start(s, id, BY);
	if (rc < 0)
		return; /* busy (a serial plan's other target), postponed, ... */
	now = hw_clock_ms();
	t = insp_service_task(s, id);
	if (!t)
		return;
	rc = e->send((size_t)di, pt->start, BY, e->ud);
	if (rc < 0) {
		char err[INSP_TEXT_MAX];
		snprintf(err, sizeof(err), "cannot send %s: %s", pt->start, strerror(-rc));
		log_warn("task %s: %s", id, err);
		finish(e, id, (size_t)di, t->kind, now, false, false, err);
		return;
	}
	log_info("task %s: %s sent to %s", id, pt->start, t->target);
	follow_add(e, t, (size_t)di, now, false);
}

/* ---- lifecycle ---- */

int eltest_create(const struct hw_config *cfg, struct insp_service *insp, struct hub *hub,
		  eltest_send_fn send, void *ud, struct eltest **out)
{
	struct eltest *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->warned = calloc(cfg->n_devices + 1, sizeof(bool));
	e->follows = g_ptr_array_new_with_free_func(g_free);
	if (!e->warned) {
		eltest_destroy(e);
		return -ENOMEM;
	}
	e->cfg = cfg;
	e->insp = insp;
	e->hub = hub;
	e->send = send;
	e->ud = ud;
	insp_service_set_conditions(insp, conditions, e);
	insp_service_set_runner(insp, INSP_FUNCTION_TEST, run, e);
	insp_service_set_runner(insp, INSP_DURATION_TEST, run, e);
	e->timer = g_timeout_add(POLL_MS, on_poll, e);
	*out = e;
	return 0;
}

void eltest_destroy(struct eltest *e)
{
	if (!e)
		return;
	if (e->insp) {
		insp_service_set_conditions(e->insp, NULL, NULL);
		insp_service_set_runner(e->insp, INSP_FUNCTION_TEST, NULL, NULL);
		insp_service_set_runner(e->insp, INSP_DURATION_TEST, NULL, NULL);
	}
	if (e->timer)
		g_source_remove(e->timer);
	g_ptr_array_free(e->follows, TRUE);
	free(e->warned);
	free(e);
}

/* The inspection scheduler (inspect/insp_sched.c) with an injected clock over a simulated
 * year in Asia/Shanghai: opening hours, closed days, holidays, recurrences, windows,
 * postponement, misses, catch-up after downtime and staggering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "inspect/insp_sched.h"

#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

/* 2026-01-01T00:00:00+08:00 */
#define Y2026 (1767196800000LL)

struct rec {
	char id[INSP_ID_MAX];
	enum insp_state from, to;
	int64_t t;
	char reason[INSP_TEXT_MAX];
};

struct fx {
	GTimeZone *tz;
	struct cfg_calendar cal;
	int32_t holidays[7];
	int32_t workdays[1];
	struct cfg_plan plan[2];
	char *targets[3];
	struct insp_sched *s;
	GArray *ev;	   /* struct rec */
	GHashTable *store; /* id -> struct insp_task copy (the latest) */
	unsigned have;	   /* preconditions that hold */
	bool complete_due; /* complete every task as soon as it is DUE */
};

static void on_emit(const struct insp_ev *ev, void *ud)
{
	struct fx *f = ud;
	struct rec r = {.from = ev->from, .to = ev->to, .t = ev->t_ms};

	g_strlcpy(r.id, ev->t->id, sizeof(r.id));
	g_strlcpy(r.reason, ev->t->reason, sizeof(r.reason));
	g_array_append_val(f->ev, r);
	g_hash_table_replace(f->store, g_strdup(ev->t->id), g_memdup2(ev->t, sizeof(*ev->t)));
}

static unsigned on_cond(const char *plan, const char *target, void *ud)
{
	return ((struct fx *)ud)->have;
}

static int setup(void **state)
{
	struct fx *f = g_new0(struct fx, 1);

	f->tz = g_time_zone_new_identifier("Asia/Shanghai");
	assert_non_null(f->tz);
	for (int d = 1; d <= 5; d++) {
		f->cal.open_min[d] = 8 * 60 + 30;
		f->cal.close_min[d] = 17 * 60 + 30;
	}
	f->cal.open_min[6] = 9 * 60;
	f->cal.close_min[6] = 12 * 60;
	f->cal.open_min[0] = -1;
	for (int i = 0; i < 7; i++)
		f->holidays[i] = 20261001 + i;
	f->workdays[0] = 20260927; /* a Sunday worked in exchange */
	f->cal.holidays = f->holidays;
	f->cal.n_holidays = 7;
	f->cal.workdays = f->workdays;
	f->cal.n_workdays = 1;
	f->targets[0] = "elc1";
	f->targets[1] = "elc2";
	f->targets[2] = "elc3";
	f->ev = g_array_new(FALSE, TRUE, sizeof(struct rec));
	f->store = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	f->have = ~0u;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	insp_sched_destroy(f->s);
	g_array_free(f->ev, TRUE);
	g_hash_table_destroy(f->store);
	g_time_zone_unref(f->tz);
	g_free(f);
	return 0;
}

static struct cfg_plan *plan(struct fx *f, int i, const char *id, int kind, int recur)
{
	struct cfg_plan *p = &f->plan[i];

	memset(p, 0, sizeof(*p));
	p->id = (char *)id;
	p->kind = kind;
	p->recur = recur;
	p->targets = f->targets;
	p->n_targets = 1;
	p->start_ms = -1;
	p->priority = 4;
	return p;
}

static void start(struct fx *f, size_t n)
{
	assert_int_equal(insp_sched_create(f->plan, n, &f->cal, f->tz, on_emit, on_cond, f, &f->s),
			 0);
}

/* Ticks every step from t0 to t1 (inclusive), completing DUE tasks when asked. */
static void run(struct fx *f, int64_t t0, int64_t t1, int64_t step)
{
	for (int64_t t = t0; t <= t1; t += step) {
		insp_sched_tick(f->s, t);
		if (!f->complete_due)
			continue;
		const struct insp_task *v[64];
		size_t n = insp_sched_list(f->s, v, 64);
		char ids[64][INSP_ID_MAX];
		size_t m = 0;
		for (size_t i = 0; i < n && i < 64; i++)
			if (v[i]->state == IS_DUE)
				g_strlcpy(ids[m++], v[i]->id, INSP_ID_MAX);
		for (size_t i = 0; i < m; i++)
			assert_int_equal(insp_sched_complete(f->s, ids[i], true, "li", "ok", t), 0);
	}
}

static size_t count_to(const struct fx *f, enum insp_state to)
{
	size_t n = 0;
	for (guint i = 0; i < f->ev->len; i++) {
		const struct rec *r = &g_array_index(f->ev, struct rec, i);
		n += r->to == to && r->from != r->to;
	}
	return n;
}

/* The last transition (creations of tasks left out). */
static const struct rec *last_ev(const struct fx *f)
{
	for (guint i = f->ev->len; i > 0; i--) {
		const struct rec *r = &g_array_index(f->ev, struct rec, i - 1);
		if (r->from != r->to)
			return r;
	}
	fail_msg("no transition");
	return NULL;
}

/* Fire patrols every 2 h while open, a year long: only within opening hours, none on a
 * Sunday or a holiday, the worked Sunday included, every one done on time. */
static void test_year_of_patrols(void **state)
{
	struct fx *f = *state;
	struct cfg_plan *p = plan(f, 0, "fire_patrol", INSP_STAFF_PATROL, RECUR_EVERY);
	GHashTableIter it;
	gpointer v;
	size_t expect = 0, made = 0;
	GHashTable *per_day = g_hash_table_new(g_direct_hash, g_direct_equal);

	p->every_s = 7200;
	p->when = WHEN_OPEN;
	p->window_s = 1800;
	p->grace_s = 1800;
	start(f, 1);
	f->complete_due = true;
	run(f, Y2026, Y2026 + 365 * DAY_MS - 1, MIN_MS);
	/* expected: weekdays 08:30 10:30 12:30 14:30 16:30, Saturdays 09:00 11:00 */
	for (int64_t d = 0; d < 365; d++) {
		GDateTime *dt =
		    g_date_time_new_from_unix_utc((Y2026 + d * DAY_MS) / 1000 + 8 * 3600);
		int wd = g_date_time_get_day_of_week(dt) % 7;
		int ymd = g_date_time_get_year(dt) * 10000 + g_date_time_get_month(dt) * 100 +
			  g_date_time_get_day_of_month(dt);
		g_date_time_unref(dt);
		if (ymd >= 20261001 && ymd <= 20261007)
			continue;
		if (ymd == 20260927)
			wd = 1;
		expect += wd == 0 ? 0 : wd == 6 ? 2 : 5;
	}
	g_hash_table_iter_init(&it, f->store);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct insp_task *t = v;
		int32_t ymd;
		int minute;
		if (t->due_ms >= Y2026 + 365 * DAY_MS)
			continue; /* the one scheduled ahead into 2027 */
		made++;
		assert_true(insp_cal_is_open(&f->cal, f->tz, t->due_ms));
		insp_local(f->tz, t->due_ms, &ymd, &minute);
		assert_false(ymd >= 20261001 && ymd <= 20261007);
		assert_int_equal(t->state, IS_PASSED);
		assert_true(t->done_ms - t->due_ms < 2 * MIN_MS);
		g_hash_table_insert(
		    per_day, GINT_TO_POINTER(ymd),
		    GINT_TO_POINTER(
			GPOINTER_TO_INT(g_hash_table_lookup(per_day, GINT_TO_POINTER(ymd))) + 1));
	}
	assert_int_equal(made, expect);
	assert_int_equal(GPOINTER_TO_INT(g_hash_table_lookup(per_day, GINT_TO_POINTER(20260927))),
			 5);
	assert_int_equal(GPOINTER_TO_INT(g_hash_table_lookup(per_day, GINT_TO_POINTER(20260926))),
			 2);
	assert_null(g_hash_table_lookup(per_day, GINT_TO_POINTER(20260920))); /* a Sunday */
	assert_int_equal(count_to(f, IS_MISSED), 0);
	assert_int_equal(count_to(f, IS_OVERDUE), 0);
	g_hash_table_destroy(per_day);
}

/* A monthly check on the 31st at 10:00 local: on the last day of shorter months. */
static void test_monthly(void **state)
{
	struct fx *f = *state;
	struct cfg_plan *p = plan(f, 0, "fire_check", INSP_FIRE_CHECK, RECUR_MONTHLY);
	int64_t t = Y2026;
	static const int32_t want[] = {20260131, 20260228, 20260331, 20260430, 20260531, 20260630,
				       20260731, 20260831, 20260930, 20261031, 20261130, 20261231};

	p->day = 31;
	p->at_min[0] = 600;
	p->n_at = 1;
	for (int i = 0; i < 12; i++) {
		int32_t ymd;
		int minute;
		t = insp_next_occurrence(p, &f->cal, f->tz, t);
		insp_local(f->tz, t, &ymd, &minute);
		assert_int_equal(ymd, want[i]);
		assert_int_equal(minute, 600);
	}
}

/* Function test every 30 days, DUE 2 days early, OVERDUE 2 days late: the first within
 * 48 h of commissioning; one not done is OVERDUE then MISSED after its grace. */
static void test_function_test_window(void **state)
{
	struct fx *f = *state;
	struct cfg_plan *p = plan(f, 0, "el_function", INSP_FUNCTION_TEST, RECUR_DAYS);
	const int64_t c0 = Y2026 + 10 * DAY_MS + 10 * HOUR_MS; /* commissioned 01-11 10:00 */
	const struct insp_task *t;
	char first[INSP_ID_MAX];

	p->days = 30;
	p->early_s = 2 * 86400;
	p->window_s = 2 * 86400;
	p->grace_s = 86400;
	p->first_within_s = 48 * 3600;
	p->start_ms = c0;
	start(f, 1);
	insp_sched_tick(f->s, c0);
	t = insp_sched_due(f->s, "el_function", NULL);
	assert_non_null(t);
	assert_int_equal(t->due_ms, c0);
	assert_int_equal(t->late_ms, c0 + 48 * HOUR_MS);
	g_strlcpy(first, t->id, sizeof(first));
	assert_int_equal(
	    insp_sched_complete(f->s, first, true, "runner", "90 s on battery", c0 + HOUR_MS), 0);
	/* the next: due 30 days on, DUE only from 2 days before */
	run(f, c0 + HOUR_MS, c0 + 28 * DAY_MS - MIN_MS, HOUR_MS);
	assert_null(insp_sched_due(f->s, "el_function", NULL));
	insp_sched_tick(f->s, c0 + 28 * DAY_MS);
	t = insp_sched_due(f->s, "el_function", NULL);
	assert_non_null(t);
	assert_int_equal(t->due_ms, c0 + 30 * DAY_MS);
	/* not done: OVERDUE 2 days after, MISSED a day later */
	insp_sched_tick(f->s, c0 + 32 * DAY_MS - MIN_MS);
	assert_int_equal(insp_sched_due(f->s, "el_function", NULL)->state, IS_DUE);
	insp_sched_tick(f->s, c0 + 32 * DAY_MS);
	assert_int_equal(insp_sched_due(f->s, "el_function", NULL)->state, IS_OVERDUE);
	run(f, c0 + 32 * DAY_MS + HOUR_MS, c0 + 33 * DAY_MS, HOUR_MS);
	assert_int_equal(last_ev(f)->to, IS_MISSED);
	assert_int_equal(last_ev(f)->t, c0 + 33 * DAY_MS);
	assert_non_null(strstr(last_ev(f)->reason, "window and grace"));
	assert_null(insp_sched_due(f->s, "el_function", NULL));
	{
		struct insp_plan_status st;
		assert_int_equal(insp_sched_plan_status(f->s, 0, &st), 0);
		assert_int_equal(st.last, IS_MISSED);
		assert_int_equal(st.passed, 1);
		assert_int_equal(st.missed, 1);
		assert_int_equal(st.next_due_ms, c0 + 60 * DAY_MS);
	}
}

/* A mains failure at the due time postpones the test; it runs once mains is back, and its
 * overdue time moves by as long as it waited. */
static void test_postponed_by_mains_then_runs(void **state)
{
	struct fx *f = *state;
	struct cfg_plan *p = plan(f, 0, "el_function", INSP_FUNCTION_TEST, RECUR_DAYS);
	const int64_t c0 = Y2026 + 3 * HOUR_MS;
	const struct insp_task *v[4];
	char id[INSP_ID_MAX];

	p->days = 30;
	p->window_s = 86400;
	p->grace_s = 86400;
	p->start_ms = c0;
	p->requires = INSP_REQ_MAINS_OK | INSP_REQ_NO_FIRE;
	p->postpone_max_s = 7 * 86400;
	start(f, 1);
	f->have = INSP_REQ_NO_FIRE; /* mains failed */
	insp_sched_tick(f->s, c0);
	assert_int_equal(insp_sched_list(f->s, v, 4), 2);
	assert_int_equal(v[0]->state, IS_POSTPONED);
	assert_non_null(strstr(v[0]->reason, "mains_ok"));
	g_strlcpy(id, v[0]->id, sizeof(id));
	/* three days without mains: still postponed, not overdue nor missed */
	run(f, c0 + HOUR_MS, c0 + 3 * DAY_MS, HOUR_MS);
	assert_int_equal(insp_sched_get(f->s, id)->state, IS_POSTPONED);
	assert_int_equal(count_to(f, IS_MISSED), 0);
	f->have = ~0u;
	insp_sched_tick(f->s, c0 + 3 * DAY_MS + HOUR_MS);
	assert_int_equal(insp_sched_get(f->s, id)->state, IS_DUE);
	assert_int_equal(insp_sched_get(f->s, id)->late_ms, c0 + DAY_MS + 3 * DAY_MS + HOUR_MS);
	assert_int_equal(insp_sched_start(f->s, id, "runner", c0 + 3 * DAY_MS + HOUR_MS), 0);
	assert_int_equal(insp_sched_complete(f->s, id, true, "runner", "",
					     c0 + 3 * DAY_MS + HOUR_MS + 2 * MIN_MS),
			 0);
	assert_int_equal(last_ev(f)->to, IS_PASSED);
	/* a failure while starting postpones again: -EAGAIN */
	assert_int_equal(count_to(f, IS_POSTPONED), 1);
}

/* A postponed duration test waits for closing time (outside_opening_hours is the
 * scheduler's own precondition, from the calendar). */
static void test_duration_outside_opening(void **state)
{
	struct fx *f = *state;
	struct cfg_plan *p = plan(f, 0, "el_duration", INSP_DURATION_TEST, RECUR_YEARLY);
	const struct insp_task *v[4];
	int minute;

	p->month = 3;
	p->day = 2; /* a Monday */
	p->at_min[0] = 10 * 60;
	p->n_at = 1;
	p->window_s = 7 * 86400;
	p->requires = INSP_REQ_OUTSIDE_OPENING | INSP_REQ_BATTERY_RECHARGED;
	start(f, 1);
	run(f, Y2026 + 60 * DAY_MS, Y2026 + 61 * DAY_MS + 12 * HOUR_MS, 15 * MIN_MS);
	assert_int_equal(insp_sched_list(f->s, v, 4), 2);
	assert_int_equal(v[0]->state, IS_POSTPONED);
	assert_non_null(strstr(v[0]->reason, "outside_opening_hours"));
	run(f, Y2026 + 61 * DAY_MS + 12 * HOUR_MS, Y2026 + 61 * DAY_MS + 18 * HOUR_MS, 15 * MIN_MS);
	assert_int_equal(insp_sched_list(f->s, v, 4), 2);
	assert_int_equal(v[0]->state, IS_DUE);
	insp_local(f->tz, last_ev(f)->t, NULL, &minute);
	assert_int_equal(minute, 17 * 60 + 30); /* the first tick after closing */
}

/* A patrol nobody does: DUE, OVERDUE after its window, MISSED after its grace. */
static void test_missed_after_grace(void **state)
{
	struct fx *f = *state;
	struct cfg_plan *p = plan(f, 0, "fire_patrol", INSP_STAFF_PATROL, RECUR_EVERY);
	const int64_t mon = Y2026 + 4 * DAY_MS; /* Monday 01-05 */

	p->every_s = 7200;
	p->when = WHEN_OPEN;
	p->window_s = 900;
	p->grace_s = 1800;
	start(f, 1);
	run(f, mon, mon + 8 * HOUR_MS + 30 * MIN_MS, MIN_MS);
	assert_int_equal(last_ev(f)->to, IS_DUE);
	{
		/* the next one is known as soon as this one is due */
		struct insp_plan_status st;
		assert_int_equal(insp_sched_plan_status(f->s, 0, &st), 0);
		assert_int_equal(st.next_due_ms, mon + 10 * HOUR_MS + 30 * MIN_MS);
	}
	run(f, mon + 8 * HOUR_MS + 31 * MIN_MS, mon + 8 * HOUR_MS + 45 * MIN_MS, MIN_MS);
	assert_int_equal(last_ev(f)->to, IS_OVERDUE);
	assert_int_equal(last_ev(f)->t, mon + 8 * HOUR_MS + 45 * MIN_MS);
	run(f, mon + 8 * HOUR_MS + 46 * MIN_MS, mon + 9 * HOUR_MS + 15 * MIN_MS, MIN_MS);
	assert_int_equal(last_ev(f)->to, IS_MISSED);
	assert_int_equal(last_ev(f)->t, mon + 9 * HOUR_MS + 15 * MIN_MS);
	assert_non_null(strstr(last_ev(f)->reason, "window and grace"));
}

/* The gateway is down from Monday 11:00 to Wednesday 08:50: every patrol of that time is
 * MISSED with the reason, none skipped, and the schedule goes on. */
static void test_catchup_after_downtime(void **state)
{
	struct fx *f = *state;
	struct cfg_plan *p = plan(f, 0, "fire_patrol", INSP_STAFF_PATROL, RECUR_EVERY);
	const int64_t mon = Y2026 + 4 * DAY_MS;
	const int64_t down = mon + 11 * HOUR_MS, up = mon + 2 * DAY_MS + 8 * HOUR_MS + 50 * MIN_MS;
	GHashTableIter it;
	gpointer v;
	size_t missed = 0;

	p->every_s = 7200;
	p->when = WHEN_OPEN;
	p->window_s = 1800;
	p->grace_s = 1800;
	start(f, 1);
	f->complete_due = true;
	run(f, mon, down, MIN_MS);
	insp_sched_destroy(f->s);
	f->s = NULL;
	g_array_set_size(f->ev, 0);
	/* a new process: restored from the store */
	start(f, 1);
	g_hash_table_iter_init(&it, f->store);
	while (g_hash_table_iter_next(&it, NULL, &v))
		assert_int_equal(insp_sched_restore(f->s, v), 0);
	insp_sched_set_last_run(f->s, down);
	f->complete_due = false;
	insp_sched_tick(f->s, up);
	for (guint i = 0; i < f->ev->len; i++) {
		const struct rec *r = &g_array_index(f->ev, struct rec, i);
		if (r->to != IS_MISSED)
			continue;
		missed++;
		assert_non_null(strstr(r->reason, "not running"));
	}
	/* Mon 12:30 14:30 16:30, Tue 08:30 .. 16:30 (5); Wed 08:30 is DUE (window till 09:00) */
	assert_int_equal(missed, 3 + 5);
	assert_int_equal(last_ev(f)->to, IS_DUE);
}

/* Function tests of three controllers, 10 minutes apart, one at a time. */
static void test_stagger_and_serial(void **state)
{
	struct fx *f = *state;
	struct cfg_plan *p = plan(f, 0, "el_function", INSP_FUNCTION_TEST, RECUR_DAYS);
	const int64_t c0 = Y2026 + 2 * HOUR_MS;
	const struct insp_task *v[8];
	char id[3][INSP_ID_MAX];

	p->n_targets = 3;
	p->days = 30;
	p->window_s = 86400;
	p->stagger_s = 600;
	p->start_ms = c0;
	p->serial = true;
	start(f, 1);
	insp_sched_tick(f->s, c0 + 20 * MIN_MS);
	assert_int_equal(insp_sched_list(f->s, v, 8), 6);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(v[i]->due_ms, c0 + i * 10 * MIN_MS);
		assert_string_equal(v[i]->target, f->targets[i]);
		assert_int_equal(v[i]->state, IS_DUE);
		g_strlcpy(id[i], v[i]->id, INSP_ID_MAX);
	}
	assert_int_equal(insp_sched_start(f->s, id[0], "runner", c0 + 20 * MIN_MS), 0);
	assert_int_equal(insp_sched_start(f->s, id[0], "runner", c0 + 20 * MIN_MS), -EALREADY);
	assert_int_equal(insp_sched_start(f->s, id[1], "runner", c0 + 20 * MIN_MS), -EBUSY);
	assert_int_equal(
	    insp_sched_complete(f->s, id[0], false, "runner", "lamp 3 dark", c0 + 22 * MIN_MS), 0);
	assert_int_equal(last_ev(f)->to, IS_FAILED);
	assert_int_equal(insp_sched_start(f->s, id[1], "runner", c0 + 22 * MIN_MS), 0);
	assert_int_equal(insp_sched_cancel(f->s, id[2], "", "li", c0 + 22 * MIN_MS), -EINVAL);
	assert_int_equal(
	    insp_sched_cancel(f->s, id[2], "controller replaced", "li", c0 + 22 * MIN_MS), 0);
	assert_int_equal(last_ev(f)->to, IS_CANCELLED);
	assert_string_equal(last_ev(f)->reason, "controller replaced");
	assert_int_equal(insp_sched_complete(f->s, id[2], true, "li", "", c0 + 23 * MIN_MS),
			 -ENOENT);
}

/* A surprise inspection, and a person postponing a task to a later time. */
static void test_run_now_and_postpone(void **state)
{
	struct fx *f = *state;
	struct cfg_plan *p = plan(f, 0, "video_patrol", INSP_VIDEO_PATROL, RECUR_EVERY);
	const int64_t t0 = Y2026 + 5 * DAY_MS + 9 * HOUR_MS; /* Tuesday 09:00 */
	char id[INSP_ID_MAX];

	p->every_s = 4 * 3600;
	p->when = WHEN_OPEN;
	p->window_s = 600;
	p->grace_s = 600;
	start(f, 1);
	insp_sched_tick(f->s, t0);
	assert_int_equal(insp_sched_run_now(f->s, "video_patrol", "nope", "county", t0, id),
			 -ENOENT);
	assert_int_equal(insp_sched_run_now(f->s, "video_patrol", "elc1", "county", t0, id), 0);
	assert_int_equal(last_ev(f)->to, IS_DUE);
	assert_int_equal(insp_sched_run_now(f->s, "video_patrol", "elc1", "county", t0, NULL),
			 -EEXIST);
	assert_int_equal(insp_sched_postpone(f->s, id, t0 + HOUR_MS, "", "li", t0), -EINVAL);
	assert_int_equal(insp_sched_postpone(f->s, id, t0 + HOUR_MS, "lobby full", "li", t0), 0);
	insp_sched_tick(f->s, t0 + 30 * MIN_MS);
	assert_int_equal(insp_sched_get(f->s, id)->state, IS_POSTPONED);
	insp_sched_tick(f->s, t0 + HOUR_MS);
	assert_int_equal(insp_sched_get(f->s, id)->state, IS_DUE);
	assert_int_equal(insp_sched_get(f->s, id)->late_ms, t0 + HOUR_MS + 10 * MIN_MS);
	assert_int_equal(
	    insp_sched_complete(f->s, id, true, "li", "all 8 cameras fine", t0 + HOUR_MS + MIN_MS),
	    0);
}

/* Seconds-scale plans (tests, demos): every 2 s, at any hour. */
static void test_every_seconds(void **state)
{
	struct fx *f = *state;
	struct cfg_plan *p = plan(f, 0, "quick", INSP_STAFF_PATROL, RECUR_EVERY);
	const int64_t t0 = Y2026 + 6 * DAY_MS + 3 * HOUR_MS; /* 03:00, closed */

	p->every_s = 2;
	p->window_s = 1;
	p->grace_s = 1;
	start(f, 1);
	for (int64_t t = t0; t <= t0 + 10000; t += 250)
		insp_sched_tick(f->s, t);
	/* due at +2, +4, +6, +8 s: each missed 2 s after it; +10 s made and DUE */
	assert_int_equal(count_to(f, IS_MISSED), 4);
	assert_int_equal(count_to(f, IS_OVERDUE), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_year_of_patrols, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_monthly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_function_test_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_postponed_by_mains_then_runs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duration_outside_opening, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missed_after_grace, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_catchup_after_downtime, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stagger_and_serial, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_run_now_and_postpone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_seconds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

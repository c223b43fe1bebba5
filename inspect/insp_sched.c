/* Owns the inspection scheduler: the calendar arithmetic (local time of the site's zone,
 * opening hours, holidays), the recurrences, one task series per plan target and the life
 * of every task. Pure (clock passed in); run by the main loop thread in the daemon. */
#include "inspect/insp_sched.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_S 86400
#define SCAN_DAYS 800 /* how far an occurrence is looked for (over two years) */

static const char *const state_names[] = {"scheduled", "due",	    "in_progress",
					  "passed",    "failed",    "overdue",
					  "missed",    "postponed", "cancelled"};

const char *insp_state_name(enum insp_state s)
{
	return (unsigned)s < G_N_ELEMENTS(state_names) ? state_names[s] : "?";
}

int insp_state_parse(const char *s, enum insp_state *out)
{
	for (size_t i = 0; i < G_N_ELEMENTS(state_names); i++)
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum insp_state)i;
			return 0;
		}
	return -EINVAL;
}

bool insp_state_final(enum insp_state s)
{
	return s == IS_PASSED || s == IS_FAILED || s == IS_MISSED || s == IS_CANCELLED;
}

/* ---- civil dates and local time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era;
	int yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (int)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era;
	int doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (int)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400) + (*m <= 2);
}

static int month_days(int y, int m)
{
	static const int n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : n[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Local seconds (seconds since 1970-01-01 00:00 local) of Unix seconds, and back. */
static int64_t loc_of(GTimeZone *tz, int64_t utc_s)
{
	int i = g_time_zone_find_interval(tz, G_TIME_TYPE_UNIVERSAL, utc_s);
	return utc_s + (i >= 0 ? g_time_zone_get_offset(tz, i) : 0);
}

static int64_t utc_of(GTimeZone *tz, int64_t loc_s)
{
	gint64 t = loc_s;
	int i = g_time_zone_adjust_time(tz, G_TIME_TYPE_STANDARD, &t);
	return t - (i >= 0 ? g_time_zone_get_offset(tz, i) : 0);
}

void insp_local(GTimeZone *tz, int64_t t_ms, int32_t *ymd, int *minute)
{
	int64_t l = loc_of(tz, floor_div(t_ms, 1000)), z = floor_div(l, DAY_S);
	int y, m, d;

	civil_from_days(z, &y, &m, &d);
	if (ymd)
		*ymd = y * 10000 + m * 100 + d;
	if (minute)
		*minute = (int)((l - z * DAY_S) / 60);
}

static bool in_dates(const int32_t *v, size_t n, int32_t ymd)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == ymd)
			return true;
	return false;
}

/* Opening hours of local day z in minutes; false: closed all day. */
static bool day_hours(const struct cfg_calendar *cal, int64_t z, int *o, int *c)
{
	int y, m, d, wd = (int)(((z % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
	int32_t ymd;

	civil_from_days(z, &y, &m, &d);
	ymd = y * 10000 + m * 100 + d;
	if (in_dates(cal->holidays, cal->n_holidays, ymd))
		return false;
	if (in_dates(cal->workdays, cal->n_workdays, ymd))
		wd = 1;
	if (cal->open_min[wd] < 0 || cal->close_min[wd] <= cal->open_min[wd])
		return false;
	*o = cal->open_min[wd];
	*c = cal->close_min[wd];
	return true;
}

bool insp_cal_is_open(const struct cfg_calendar *cal, GTimeZone *tz, int64_t t_ms)
{
	int64_t l = loc_of(tz, floor_div(t_ms, 1000)), z = floor_div(l, DAY_S), sod = l - z * DAY_S;
	int o, c;

	return day_hours(cal, z, &o, &c) && sod >= o * 60 && sod < c * 60;
}

/* The first instant at or after t_ms when the hall is open (t_ms itself if open). */
static int64_t open_at_or_after(const struct cfg_calendar *cal, GTimeZone *tz, int64_t t_ms)
{
	int64_t l = loc_of(tz, floor_div(t_ms, 1000)), z0 = floor_div(l, DAY_S);
	int o, c;

	if (insp_cal_is_open(cal, tz, t_ms))
		return t_ms;
	for (int64_t z = z0; z < z0 + SCAN_DAYS; z++) {
		if (!day_hours(cal, z, &o, &c))
			continue;
		int64_t start = utc_of(tz, z * DAY_S + o * 60) * 1000;
		if (start >= t_ms)
			return start;
	}
	return INT64_MAX;
}

/* ---- recurrences ---- */

static int64_t every_open(const struct cfg_plan *p, const struct cfg_calendar *cal, GTimeZone *tz,
			  int64_t after_ms)
{
	int64_t l = loc_of(tz, floor_div(after_ms, 1000)), z0 = floor_div(l, DAY_S);
	int o, c;

	for (int64_t z = z0 - 1; z < z0 + SCAN_DAYS; z++) {
		if (!day_hours(cal, z, &o, &c))
			continue;
		for (int64_t t = z * DAY_S + o * 60; t < z * DAY_S + c * 60; t += p->every_s) {
			int64_t u = utc_of(tz, t) * 1000;
			if (u > after_ms)
				return u;
			/* jump close to after_ms instead of stepping through a long day */
			if (t < l - p->every_s)
				t += ((l - t) / p->every_s - 1) * p->every_s;
		}
	}
	return INT64_MAX;
}

static int64_t at_day(GTimeZone *tz, int64_t z, int minute)
{
	return utc_of(tz, z * DAY_S + minute * 60) * 1000;
}

int64_t insp_next_occurrence(const struct cfg_plan *p, const struct cfg_calendar *cal,
			     GTimeZone *tz, int64_t after_ms)
{
	int64_t l = loc_of(tz, floor_div(after_ms, 1000)), z0 = floor_div(l, DAY_S), u;
	int y, m, d, at = p->n_at ? p->at_min[0] : 0;

	switch (p->recur) {
	case RECUR_EVERY:
		if (p->every_s <= 0)
			return INT64_MAX;
		if (p->when == WHEN_OPEN)
			return every_open(p, cal, tz, after_ms);
		/* aligned to local midnight of 1970-01-01: 2 h is 00:00, 02:00, ... */
		return utc_of(tz, (floor_div(l, p->every_s) + 1) * p->every_s) * 1000;
	case RECUR_DAYS:
		if (p->days <= 0)
			return INT64_MAX;
		return utc_of(tz, l + (int64_t)p->days * DAY_S) * 1000 +
		       (after_ms - floor_div(after_ms, 1000) * 1000);
	case RECUR_MONTHLY:
		civil_from_days(z0, &y, &m, &d);
		for (int k = 0; k < 25; k++) {
			int yy = y + (m - 1 + k) / 12, mm = (m - 1 + k) % 12 + 1;
			int dd = MIN(p->day, month_days(yy, mm));
			u = at_day(tz, days_from_civil(yy, mm, dd), at);
			if (u > after_ms)
				return u;
		}
		return INT64_MAX;
	case RECUR_YEARLY:
		civil_from_days(z0, &y, &m, &d);
		for (int k = 0; k < 3; k++) {
			int dd = MIN(p->day, month_days(y + k, p->month));
			u = at_day(tz, days_from_civil(y + k, p->month, dd), at);
			if (u > after_ms)
				return u;
		}
		return INT64_MAX;
	case RECUR_TIMES:
		for (int64_t z = z0; z < z0 + SCAN_DAYS; z++) {
			int best = -1, o, c;
			bool open = day_hours(cal, z, &o, &c);
			if (p->when == WHEN_OPEN && !open)
				continue;
			for (size_t i = 0; i < p->n_at; i++) {
				if (p->when == WHEN_OPEN && (p->at_min[i] < o || p->at_min[i] >= c))
					continue;
				if (at_day(tz, z, p->at_min[i]) > after_ms &&
				    (best < 0 || p->at_min[i] < best))
					best = p->at_min[i];
			}
			if (best >= 0)
				return at_day(tz, z, best);
		}
		return INT64_MAX;
	default:
		return INT64_MAX;
	}
}

/* ---- the scheduler ---- */

struct series {
	int64_t last_base; /* nominal time of the newest task made, 0: none yet */
	bool first_done;   /* the plan's very first task exists (first_within_s used) */
	size_t n_scheduled;
};

struct plan_rt {
	const struct cfg_plan *p;
	struct series *ser; /* one per target */
	enum insp_state last;
	int64_t last_ms;
	char last_task[INSP_ID_MAX];
	uint64_t passed, failed, missed;
};

struct task {
	struct insp_task t; /* first: a struct insp_task * is a struct task * */
	size_t pi;
	size_t ti;
	bool in_series; /* counted in its series (not ad hoc) */
};

struct insp_sched {
	struct plan_rt *plans;
	size_t n_plans;
	const struct cfg_calendar *cal;
	GTimeZone *tz;
	insp_emit_fn emit;
	insp_cond_fn cond;
	void *ud;
	GHashTable *live; /* id -> struct task * (owned) */
	int64_t last_run_ms;
	int64_t down_since; /* the gateway was not running from then to the first tick; 0: no */
	bool started;
};

int insp_sched_create(const struct cfg_plan *plans, size_t n_plans, const struct cfg_calendar *cal,
		      GTimeZone *tz, insp_emit_fn emit, insp_cond_fn cond, void *ud,
		      struct insp_sched **out)
{
	struct insp_sched *s = g_new0(struct insp_sched, 1);

	s->plans = g_new0(struct plan_rt, n_plans ? n_plans : 1);
	s->n_plans = n_plans;
	for (size_t i = 0; i < n_plans; i++) {
		s->plans[i].p = &plans[i];
		s->plans[i].ser =
		    g_new0(struct series, plans[i].n_targets ? plans[i].n_targets : 1);
	}
	s->cal = cal;
	s->tz = g_time_zone_ref(tz);
	s->emit = emit;
	s->cond = cond;
	s->ud = ud;
	s->live = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	*out = s;
	return 0;
}

void insp_sched_destroy(struct insp_sched *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_plans; i++)
		g_free(s->plans[i].ser);
	g_free(s->plans);
	g_hash_table_destroy(s->live);
	g_time_zone_unref(s->tz);
	g_free(s);
}

static bool find_plan(const struct insp_sched *s, const char *plan, const char *target, size_t *pi,
		      size_t *ti)
{
	for (size_t i = 0; i < s->n_plans; i++) {
		const struct cfg_plan *p = s->plans[i].p;
		if (strcmp(p->id, plan) != 0)
			continue;
		for (size_t k = 0; k < p->n_targets; k++)
			if (strcmp(p->targets[k], target) == 0) {
				*pi = i;
				*ti = k;
				return true;
			}
		return false;
	}
	return false;
}

static void note_final(struct insp_sched *s, struct task *k)
{
	struct plan_rt *r = &s->plans[k->pi];

	if (k->t.done_ms < r->last_ms)
		return;
	r->last = k->t.state;
	r->last_ms = k->t.done_ms;
	g_strlcpy(r->last_task, k->t.id, sizeof(r->last_task));
}

int insp_sched_restore(struct insp_sched *s, const struct insp_task *t)
{
	struct task *k;
	size_t pi, ti;

	if (!find_plan(s, t->plan, t->target, &pi, &ti))
		return 1;
	if (t->base_ms > 0 && t->base_ms > s->plans[pi].ser[ti].last_base)
		s->plans[pi].ser[ti].last_base = t->base_ms;
	s->plans[pi].ser[ti].first_done = true;
	k = g_new0(struct task, 1);
	k->t = *t;
	k->pi = pi;
	k->ti = ti;
	if (insp_state_final(t->state)) {
		note_final(s, k);
		g_free(k);
		return 0;
	}
	if (g_hash_table_contains(s->live, k->t.id)) {
		g_free(k);
		return -EEXIST;
	}
	k->in_series = t->base_ms > 0;
	if (k->in_series && t->state == IS_SCHEDULED)
		s->plans[pi].ser[ti].n_scheduled++;
	g_hash_table_insert(s->live, k->t.id, k);
	return 0;
}

void insp_sched_set_last_run(struct insp_sched *s, int64_t ms)
{
	s->last_run_ms = ms;
	s->down_since = ms;
}

/* Moves k to state to, emits, and frees k when it is over. */
static void set_state(struct insp_sched *s, struct task *k, enum insp_state to, int64_t now,
		      const char *by, const char *reason)
{
	struct insp_ev ev = {.t = &k->t, .from = k->t.state, .to = to, .t_ms = now};
	struct plan_rt *r = &s->plans[k->pi];

	if (k->t.state == IS_SCHEDULED && k->in_series && r->ser[k->ti].n_scheduled > 0)
		r->ser[k->ti].n_scheduled--;
	k->t.state = to;
	k->t.changed_ms = now;
	g_strlcpy(k->t.by, by ? by : "", sizeof(k->t.by));
	if (reason)
		g_strlcpy(k->t.reason, reason, sizeof(k->t.reason));
	if (to == IS_IN_PROGRESS)
		k->t.started_ms = now;
	if (insp_state_final(to)) {
		k->t.done_ms = now;
		if (to == IS_PASSED)
			r->passed++;
		else if (to == IS_FAILED)
			r->failed++;
		else if (to == IS_MISSED)
			r->missed++;
		note_final(s, k);
	}
	if (s->emit)
		s->emit(&ev, s->ud);
	if (insp_state_final(to))
		g_hash_table_remove(s->live, k->t.id);
}

static int64_t plan_due(const struct insp_sched *s, const struct cfg_plan *p, int64_t base,
			size_t ti)
{
	int64_t due = base;

	if (p->when == WHEN_OPEN &&
	    (p->recur == RECUR_DAYS || p->recur == RECUR_MONTHLY || p->recur == RECUR_YEARLY))
		due = open_at_or_after(s->cal, s->tz, base);
	if (due == INT64_MAX)
		return due;
	return due + (int64_t)ti * p->stagger_s * 1000;
}

static struct task *new_task(struct insp_sched *s, size_t pi, size_t ti, int64_t base, int64_t due,
			     const char *suffix)
{
	const struct cfg_plan *p = s->plans[pi].p;
	struct series *se = &s->plans[pi].ser[ti];
	struct task *k = g_new0(struct task, 1);

	if (suffix)
		snprintf(k->t.id, sizeof(k->t.id), "%s/%s/%s", p->id, p->targets[ti], suffix);
	else
		snprintf(k->t.id, sizeof(k->t.id), "%s/%s/%" G_GINT64_FORMAT, p->id, p->targets[ti],
			 floor_div(due, 1000));
	g_strlcpy(k->t.plan, p->id, sizeof(k->t.plan));
	g_strlcpy(k->t.target, p->targets[ti], sizeof(k->t.target));
	k->t.kind = p->kind;
	k->t.state = IS_SCHEDULED;
	k->t.base_ms = base;
	k->t.due_ms = due;
	k->t.open_ms = due - p->early_s * 1000;
	k->t.late_ms = due + p->window_s * 1000;
	if (!se->first_done && base > 0 && p->first_within_s > 0)
		k->t.late_ms = due + p->first_within_s * 1000;
	k->t.miss_ms = k->t.late_ms + p->grace_s * 1000;
	k->pi = pi;
	k->ti = ti;
	k->in_series = base > 0;
	if (base > 0) {
		se->first_done = true;
		se->last_base = base;
	}
	return k;
}

static unsigned unmet(struct insp_sched *s, const struct task *k, int64_t now)
{
	const struct cfg_plan *p = s->plans[k->pi].p;
	unsigned have = s->cond ? s->cond(p->id, k->t.target, s->ud) : ~0u;

	have &= ~INSP_REQ_OUTSIDE_OPENING;
	if (!insp_cal_is_open(s->cal, s->tz, now))
		have |= INSP_REQ_OUTSIDE_OPENING;
	return p->requires & ~have;
}

static const char *req_name(unsigned bit)
{
	switch (bit) {
	case INSP_REQ_MAINS_OK:
		return "mains_ok";
	case INSP_REQ_NO_FIRE:
		return "no_fire";
	case INSP_REQ_OUTSIDE_OPENING:
		return "outside_opening_hours";
	case INSP_REQ_BATTERY_RECHARGED:
		return "battery_recharged";
	default:
		return "?";
	}
}

static void unmet_reason(unsigned bits, char *buf, size_t sz)
{
	size_t n = (size_t)snprintf(buf, sz, "precondition not met:");

	for (unsigned b = 1; b <= INSP_REQ_BATTERY_RECHARGED && n < sz; b <<= 1)
		if (bits & b)
			n += (size_t)snprintf(buf + n, sz - n, " %s", req_name(b));
}

static void fmt_time(GTimeZone *tz, int64_t ms, char *buf, size_t sz)
{
	GDateTime *dt = g_date_time_new_from_unix_utc(floor_div(ms, 1000));
	GDateTime *lt = dt ? g_date_time_to_timezone(dt, tz) : NULL;
	char *str = lt ? g_date_time_format_iso8601(lt) : NULL;

	snprintf(buf, sz, "%s", str ? str : "?");
	g_free(str);
	if (lt)
		g_date_time_unref(lt);
	if (dt)
		g_date_time_unref(dt);
}

/* Why k is missed: its time ran out while the gateway ran, or while it did not (the first
 * tick after a downtime, and its time ran out after the gateway last ran). */
static void missed_reason(struct insp_sched *s, const struct task *k, int64_t now, char *why,
			  size_t sz)
{
	char a[40], b[40];

	if (!s->started && s->down_since > 0 && k->t.miss_ms > s->down_since) {
		fmt_time(s->tz, s->down_since, a, sizeof(a));
		fmt_time(s->tz, now, b, sizeof(b));
		snprintf(why, sz, "not done in time; the gateway was not running from %s to %s", a,
			 b);
	} else {
		snprintf(why, sz, "not done within its window and grace");
	}
}

/* Moves one live task on as far as now takes it. */
static void advance(struct insp_sched *s, struct task *k, int64_t now)
{
	const struct cfg_plan *p = s->plans[k->pi].p;
	char why[320];
	unsigned bad;

	if (k->t.state == IS_SCHEDULED) {
		if (now < k->t.open_ms)
			return;
		if (now >= k->t.miss_ms && k->in_series) {
			/* its whole time passed unseen (catch-up): straight to MISSED */
			missed_reason(s, k, now, why, sizeof(why));
			set_state(s, k, IS_MISSED, now, NULL, why);
			return;
		}
		set_state(s, k, IS_DUE, now, NULL, NULL);
	}
	if (k->t.state == IS_POSTPONED) {
		bool max_hit = p->postpone_max_s > 0 && k->t.postponed_ms > 0 &&
			       now - k->t.postponed_ms >= p->postpone_max_s * 1000;
		bool go = k->t.retry_ms > 0 ? now >= k->t.retry_ms : unmet(s, k, now) == 0;
		if (max_hit && !go) {
			snprintf(why, sizeof(why),
				 "postponed longer than %" G_GINT64_FORMAT " s (%s)",
				 p->postpone_max_s, k->t.reason);
			set_state(s, k, IS_MISSED, now, NULL, why);
			return;
		}
		if (!go)
			return;
		/* the time it waited does not count against it */
		k->t.late_ms += now - k->t.postponed_ms;
		k->t.miss_ms += now - k->t.postponed_ms;
		k->t.postponed_ms = 0;
		k->t.retry_ms = 0;
		set_state(s, k, now >= k->t.late_ms ? IS_OVERDUE : IS_DUE, now, NULL, "");
	}
	if (k->t.state != IS_DUE && k->t.state != IS_OVERDUE)
		return;
	bad = p->requires ? unmet(s, k, now) : 0;
	if (bad) {
		unmet_reason(bad, why, sizeof(why));
		k->t.postponed_ms = now;
		k->t.retry_ms = 0;
		set_state(s, k, IS_POSTPONED, now, NULL, why);
		return;
	}
	if (k->t.state == IS_DUE && now >= k->t.late_ms)
		set_state(s, k, IS_OVERDUE, now, NULL, NULL);
	if (k->t.state == IS_OVERDUE && now >= k->t.miss_ms) {
		missed_reason(s, k, now, why, sizeof(why));
		set_state(s, k, IS_MISSED, now, NULL, why);
	}
}

/* Makes the tasks of one series whose time has come, and one SCHEDULED ahead. */
static void fill_series(struct insp_sched *s, size_t pi, size_t ti, int64_t now, GPtrArray *made)
{
	const struct cfg_plan *p = s->plans[pi].p;
	struct series *se = &s->plans[pi].ser[ti];
	int64_t base, due, first_skip = 0, last_skip = 0;
	size_t n = 0, skipped = 0, pending = 0;
	char why[320], a[40], b[40];

	if (se->last_base > 0)
		base = insp_next_occurrence(p, s->cal, s->tz, se->last_base);
	else if (p->recur == RECUR_DAYS)
		base = p->start_ms > 0 ? p->start_ms : now;
	else
		base = insp_next_occurrence(p, s->cal, s->tz, now);
	for (;;) {
		if (base == INT64_MAX)
			return;
		due = plan_due(s, p, base, ti);
		if (due == INT64_MAX)
			return;
		int64_t open = due - p->early_s * 1000;
		int64_t miss = due + (p->window_s + p->grace_s) * 1000;
		if (open > now && se->n_scheduled > pending)
			break;
		if (n >= INSP_CATCHUP_MAX && miss <= now) {
			/* far behind (a long downtime): counted, not made one by one */
			if (!skipped)
				first_skip = due;
			last_skip = due;
			skipped++;
			se->last_base = base;
			base = insp_next_occurrence(p, s->cal, s->tz, base);
			continue;
		}
		if (skipped) {
			struct task *k = new_task(s, pi, ti, 0, last_skip, NULL);
			fmt_time(s->tz, first_skip, a, sizeof(a));
			fmt_time(s->tz, last_skip, b, sizeof(b));
			snprintf(why, sizeof(why),
				 "%zu occurrences from %s to %s not done while the gateway was not "
				 "running",
				 skipped, a, b);
			k->t.base_ms = 0;
			g_hash_table_insert(s->live, k->t.id, k);
			set_state(s, k, IS_MISSED, now, NULL, why);
			skipped = 0;
		}
		struct task *k = new_task(s, pi, ti, base, due, NULL);
		if (g_hash_table_contains(s->live, k->t.id)) {
			g_free(k); /* restored already */
		} else {
			g_hash_table_insert(s->live, k->t.id, k);
			se->n_scheduled++;
			g_ptr_array_add(made, k);
			n++;
			pending += open <= now;
		}
		if (open > now)
			break;
		base = insp_next_occurrence(p, s->cal, s->tz, base);
	}
}

static gint by_due(gconstpointer x, gconstpointer y)
{
	const struct task *a = *(struct task *const *)x, *b = *(struct task *const *)y;

	if (a->t.due_ms != b->t.due_ms)
		return a->t.due_ms < b->t.due_ms ? -1 : 1;
	return strcmp(a->t.id, b->t.id);
}

static GPtrArray *live_sorted(const struct insp_sched *s)
{
	GPtrArray *v = g_ptr_array_sized_new(g_hash_table_size(s->live));
	GHashTableIter it;
	gpointer val;

	g_hash_table_iter_init(&it, s->live);
	while (g_hash_table_iter_next(&it, NULL, &val))
		g_ptr_array_add(v, val);
	g_ptr_array_sort(v, by_due);
	return v;
}

/* Makes the tasks whose time has come (and one ahead per series) and says so. */
static void fill_all(struct insp_sched *s, int64_t now)
{
	GPtrArray *made = g_ptr_array_new();

	for (size_t i = 0; i < s->n_plans; i++)
		for (size_t k = 0; k < s->plans[i].p->n_targets; k++)
			fill_series(s, i, k, now, made);
	/* a task made now starts as SCHEDULED: say so before it moves on */
	for (guint i = 0; i < made->len; i++) {
		struct task *k = made->pdata[i];
		struct insp_ev ev = {
		    .t = &k->t, .from = IS_SCHEDULED, .to = IS_SCHEDULED, .t_ms = now};
		k->t.changed_ms = now;
		if (s->emit)
			s->emit(&ev, s->ud);
	}
	g_ptr_array_free(made, TRUE);
}

void insp_sched_tick(struct insp_sched *s, int64_t now)
{
	GPtrArray *v;

	fill_all(s, now);
	v = live_sorted(s);
	for (guint i = 0; i < v->len; i++)
		advance(s, v->pdata[i], now);
	g_ptr_array_free(v, TRUE);
	/* the tasks that just became DUE leave their series without one SCHEDULED ahead */
	fill_all(s, now);
	s->started = true;
	s->last_run_ms = now;
}

int64_t insp_sched_next_deadline(const struct insp_sched *s)
{
	int64_t best = INT64_MAX;
	GHashTableIter it;
	gpointer val;

	g_hash_table_iter_init(&it, s->live);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		const struct task *k = val;
		const struct cfg_plan *p = s->plans[k->pi].p;
		int64_t t = INT64_MAX;
		switch (k->t.state) {
		case IS_SCHEDULED:
			t = k->t.open_ms;
			break;
		case IS_DUE:
			t = k->t.late_ms;
			break;
		case IS_OVERDUE:
			t = k->t.miss_ms;
			break;
		case IS_POSTPONED:
			t = k->t.retry_ms > 0	    ? k->t.retry_ms
			    : p->postpone_max_s > 0 ? k->t.postponed_ms + p->postpone_max_s * 1000
						    : INT64_MAX;
			break;
		default:
			break;
		}
		best = MIN(best, t);
	}
	return best;
}

/* ---- from outside ---- */

static struct task *live(const struct insp_sched *s, const char *id)
{
	return id ? g_hash_table_lookup(s->live, id) : NULL;
}

int insp_sched_start(struct insp_sched *s, const char *id, const char *by, int64_t now)
{
	struct task *k = live(s, id);
	char why[320];
	GHashTableIter it;
	gpointer val;
	unsigned bad;

	if (!k)
		return -ENOENT;
	if (k->t.state == IS_IN_PROGRESS)
		return -EALREADY;
	if (k->t.state != IS_DUE && k->t.state != IS_OVERDUE)
		return -EAGAIN;
	bad = unmet(s, k, now);
	if (bad) {
		unmet_reason(bad, why, sizeof(why));
		k->t.postponed_ms = now;
		set_state(s, k, IS_POSTPONED, now, by, why);
		return -EAGAIN;
	}
	if (s->plans[k->pi].p->serial) {
		g_hash_table_iter_init(&it, s->live);
		while (g_hash_table_iter_next(&it, NULL, &val)) {
			const struct task *o = val;
			if (o != k && o->pi == k->pi && o->t.state == IS_IN_PROGRESS)
				return -EBUSY;
		}
	}
	set_state(s, k, IS_IN_PROGRESS, now, by, "");
	return 0;
}

int insp_sched_complete(struct insp_sched *s, const char *id, bool passed, const char *by,
			const char *note, int64_t now)
{
	struct task *k = live(s, id);

	if (!k)
		return -ENOENT;
	if (k->t.state != IS_IN_PROGRESS && k->t.state != IS_DUE && k->t.state != IS_OVERDUE)
		return -EAGAIN;
	if (k->t.started_ms == 0)
		k->t.started_ms = now;
	set_state(s, k, passed ? IS_PASSED : IS_FAILED, now, by, note ? note : "");
	return 0;
}

int insp_sched_postpone(struct insp_sched *s, const char *id, int64_t until_ms, const char *reason,
			const char *by, int64_t now)
{
	struct task *k = live(s, id);

	if (!k)
		return -ENOENT;
	if (!reason || !*reason || until_ms <= now)
		return -EINVAL;
	if (k->t.state != IS_DUE && k->t.state != IS_OVERDUE && k->t.state != IS_IN_PROGRESS)
		return -EAGAIN;
	k->t.postponed_ms = now;
	k->t.retry_ms = until_ms;
	set_state(s, k, IS_POSTPONED, now, by, reason);
	return 0;
}

int insp_sched_cancel(struct insp_sched *s, const char *id, const char *reason, const char *by,
		      int64_t now)
{
	struct task *k = live(s, id);

	if (!k)
		return -ENOENT;
	if (!reason || !*reason)
		return -EINVAL;
	set_state(s, k, IS_CANCELLED, now, by, reason);
	return 0;
}

int insp_sched_run_now(struct insp_sched *s, const char *plan, const char *target, const char *by,
		       int64_t now, char *id_out)
{
	char suffix[40];
	struct task *k;
	size_t pi, ti;

	if (!find_plan(s, plan, target, &pi, &ti))
		return -ENOENT;
	/* to the ms: a second surprise inspection within the same second is another task */
	snprintf(suffix, sizeof(suffix), "now-%" G_GINT64_FORMAT, now);
	k = new_task(s, pi, ti, 0, now, suffix);
	k->t.open_ms = now;
	if (g_hash_table_contains(s->live, k->t.id)) {
		g_free(k);
		return -EEXIST;
	}
	if (id_out)
		g_strlcpy(id_out, k->t.id, INSP_ID_MAX);
	g_hash_table_insert(s->live, k->t.id, k);
	k->t.changed_ms = now;
	{
		struct insp_ev ev = {
		    .t = &k->t, .from = IS_SCHEDULED, .to = IS_SCHEDULED, .t_ms = now};
		if (s->emit)
			s->emit(&ev, s->ud);
	}
	set_state(s, k, IS_DUE, now, by, "run now");
	return 0;
}

/* ---- reading ---- */

const struct insp_task *insp_sched_get(const struct insp_sched *s, const char *id)
{
	struct task *k = live(s, id);
	return k ? &k->t : NULL;
}

size_t insp_sched_list(const struct insp_sched *s, const struct insp_task **v, size_t n)
{
	GPtrArray *all = live_sorted(s);
	size_t total = all->len;

	for (size_t i = 0; i < n && i < total; i++)
		v[i] = all->pdata[i];
	g_ptr_array_free(all, TRUE);
	return total;
}

const struct insp_task *insp_sched_due(const struct insp_sched *s, const char *plan,
				       const char *target)
{
	GPtrArray *all = live_sorted(s);
	const struct insp_task *found = NULL;

	for (guint i = 0; i < all->len && !found; i++) {
		const struct task *k = all->pdata[i];
		if ((k->t.state == IS_DUE || k->t.state == IS_OVERDUE) &&
		    strcmp(k->t.plan, plan) == 0 && (!target || strcmp(k->t.target, target) == 0))
			found = &k->t;
	}
	g_ptr_array_free(all, TRUE);
	return found;
}

int insp_sched_plan_status(const struct insp_sched *s, size_t i, struct insp_plan_status *out)
{
	const struct plan_rt *r;
	GHashTableIter it;
	gpointer val;

	if (i >= s->n_plans)
		return -ENOENT;
	r = &s->plans[i];
	memset(out, 0, sizeof(*out));
	out->plan = r->p;
	out->next_due_ms = INT64_MAX;
	out->last = r->last_ms ? r->last : IS_SCHEDULED;
	out->last_ms = r->last_ms;
	g_strlcpy(out->last_task, r->last_task, sizeof(out->last_task));
	out->passed = r->passed;
	out->failed = r->failed;
	out->missed = r->missed;
	g_hash_table_iter_init(&it, s->live);
	while (g_hash_table_iter_next(&it, NULL, &val)) {
		const struct task *k = val;
		if (k->pi != i)
			continue;
		out->live++;
		if (k->t.state == IS_SCHEDULED)
			out->next_due_ms = MIN(out->next_due_ms, k->t.due_ms);
	}
	return 0;
}

/* The monthly report (inspect/report.c) and the record and ticket listings it reads
 * (inspect/insp_store.c), and a simulated month: the pure scheduler driven by an injected
 * clock over November 2026 in Asia/Shanghai into a real store, then the report over that
 * store, whose numbers must match the records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "inspect/insp_sched.h"
#include "inspect/insp_store.h"
#include "inspect/report.h"
#include <jansson.h>

#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
/* 2026-11-01T00:00:00+08:00 */
#define NOV (1793462400000LL)

static char *tmpdir(void)
{
	char *d = g_dir_make_tmp("hw-report-XXXXXX", NULL);
	assert_non_null(d);
	return d;
}

static void rmdir_all(char *d)
{
	GDir *g = g_dir_open(d, 0, NULL);
	const char *n;

	while (g && (n = g_dir_read_name(g))) {
		char *p = g_build_filename(d, n, NULL);
		g_unlink(p);
		g_free(p);
	}
	if (g)
		g_dir_close(g);
	g_rmdir(d);
	g_free(d);
}

static void test_month_range(void **state)
{
	GTimeZone *tz = g_time_zone_new_identifier("Asia/Shanghai");
	int64_t a, b;

	(void)state;
	assert_int_equal(report_month_range("2026-11", tz, &a, &b), 0);
	assert_int_equal(a, NOV);
	assert_int_equal(b, NOV + 30 * DAY_MS);
	assert_int_equal(report_month_range("2026-12", tz, &a, &b), 0);
	assert_int_equal(b - a, 31 * DAY_MS);
	assert_int_equal(report_month_range("2026-13", tz, &a, &b), -EINVAL);
	assert_int_equal(report_month_range("2026-1", tz, &a, &b), -EINVAL);
	assert_int_equal(report_month_range("2026-11x", tz, &a, &b), -EINVAL);
	assert_int_equal(report_month_range(NULL, tz, &a, &b), -EINVAL);
	g_time_zone_unref(tz);
}

static void test_online_share(void **state)
{
	struct report_flip v[] = {{NOV - HOUR_MS, true},
				  {NOV + HOUR_MS, false},
				  {NOV + 10 * HOUR_MS, true},
				  {NOV + 12 * HOUR_MS, false}};

	(void)state;
	/* down from before the start to +1 h, and +10 h to +12 h: 3 h of 100 */
	assert_float_equal(report_online_share(false, v, 4, NOV, NOV + 100 * HOUR_MS), 0.97, 1e-9);
	/* no flips: the state at the start holds */
	assert_float_equal(report_online_share(false, NULL, 0, NOV, NOV + HOUR_MS), 1.0, 1e-9);
	assert_float_equal(report_online_share(true, NULL, 0, NOV, NOV + HOUR_MS), 0.0, 1e-9);
	/* still down at the end */
	assert_float_equal(report_online_share(false, v + 2, 1, NOV, NOV + 20 * HOUR_MS), 0.5,
			   1e-9);
	assert_float_equal(report_online_share(false, v, 4, NOV, NOV), 1.0, 1e-9);
}

/* ---- the store's listings ---- */

static int count_rec(const struct insp_record *r, void *ud)
{
	GArray *v = ud;
	g_array_append_val(v, r->id);
	return 0;
}

static GArray *list(struct insp_store *s, const struct insp_record_filter *f)
{
	GArray *v = g_array_new(FALSE, FALSE, sizeof(int64_t));
	assert_int_equal(insp_store_list_records(s, f, count_rec, v), 0);
	return v;
}

static int get_review(const struct insp_record *r, void *ud)
{
	struct insp_record *o = ud;
	*o = *r;
	o->json = NULL;
	o->review_note = NULL;
	return 0;
}

static int count_ticket(const struct ticket *t, void *ud)
{
	(*(int *)ud)++;
	(void)t;
	return 0;
}

/* OPEN -> REPAIRING -> PENDING_VERIFY -> CLOSED (a passing re-check) at t_ms, stored. */
static void close_ticket(struct insp_store *s, struct ticket *t, int64_t t_ms)
{
	struct ticket_tr tr;

	assert_int_equal(ticket_apply(t, TA_START, "li", "", NULL, TR_NONE, t_ms - 2, &tr), 0);
	assert_int_equal(insp_store_put_ticket(s, t, &tr), 0);
	assert_int_equal(ticket_apply(t, TA_REPAIRED, "li", "", NULL, TR_NONE, t_ms - 1, &tr), 0);
	assert_int_equal(insp_store_put_ticket(s, t, &tr), 0);
	assert_int_equal(ticket_apply(t, TA_VERIFY, "li", "", NULL, TR_PASS, t_ms, &tr), 0);
	assert_int_equal(insp_store_put_ticket(s, t, &tr), 0);
}

static void test_listing(void **state)
{
	char *d = tmpdir(), *p = g_build_filename(d, "hallwatch.db", NULL);
	struct insp_store *s;
	int64_t id[6];
	GArray *v;
	struct insp_record r;
	struct ticket t;
	struct ticket_tr tr;
	int n = 0;

	(void)state;
	assert_int_equal(insp_store_open(p, &s), 0);
	assert_int_equal(insp_store_add_record(s, "a/cam1/1", "a", "cam1", INSP_VIDEO_PATROL,
					       NOV + 1 * HOUR_MS, "passed", "", "{\"due\":1}",
					       &id[0]),
			 0);
	assert_int_equal(insp_store_add_record(s, "a/cam2/1", "a", "cam2", INSP_VIDEO_PATROL,
					       NOV + 2 * HOUR_MS, "failed", "", NULL, &id[1]),
			 0);
	assert_int_equal(insp_store_add_record(s, "b/r1/1", "b", "r1", INSP_STAFF_PATROL,
					       NOV + 3 * HOUR_MS, "missed", "", NULL, &id[2]),
			 0);
	assert_int_equal(insp_store_add_record(s, "c/elc1/1", "c", "elc1", INSP_FUNCTION_TEST,
					       NOV + 4 * HOUR_MS, "passed", "li", NULL, &id[3]),
			 0);
	assert_int_equal(insp_store_review(s, id[3], "ingrid", "accepted", "fine", NOV + DAY_MS),
			 0);

	v = list(s, &(struct insp_record_filter){.kind = -1, .reviewed = -1});
	assert_int_equal(v->len, 4);
	assert_int_equal(g_array_index(v, int64_t, 0), id[3]); /* newest first */
	g_array_free(v, TRUE);
	v = list(s, &(struct insp_record_filter){.kind = -1, .reviewed = -1, .oldest_first = true});
	assert_int_equal(g_array_index(v, int64_t, 0), id[0]);
	g_array_free(v, TRUE);
	v = list(s, &(struct insp_record_filter){.kind = INSP_VIDEO_PATROL, .reviewed = -1});
	assert_int_equal(v->len, 2);
	g_array_free(v, TRUE);
	v = list(s, &(struct insp_record_filter){
			.plan = "a", .result = "failed", .kind = -1, .reviewed = -1});
	assert_int_equal(v->len, 1);
	assert_int_equal(g_array_index(v, int64_t, 0), id[1]);
	g_array_free(v, TRUE);
	v = list(s, &(struct insp_record_filter){.target = "r1", .kind = -1, .reviewed = -1});
	assert_int_equal(v->len, 1);
	g_array_free(v, TRUE);
	v = list(s, &(struct insp_record_filter){.kind = -1, .reviewed = 1});
	assert_int_equal(v->len, 1);
	assert_int_equal(g_array_index(v, int64_t, 0), id[3]);
	g_array_free(v, TRUE);
	v = list(s, &(struct insp_record_filter){.kind = -1, .reviewed = 0});
	assert_int_equal(v->len, 3);
	g_array_free(v, TRUE);
	/* [from, to) */
	v = list(s, &(struct insp_record_filter){.kind = -1,
						 .reviewed = -1,
						 .from_ms = NOV + 2 * HOUR_MS,
						 .to_ms = NOV + 4 * HOUR_MS});
	assert_int_equal(v->len, 2);
	g_array_free(v, TRUE);
	v = list(s, &(struct insp_record_filter){.kind = -1, .reviewed = -1, .limit = 3});
	assert_int_equal(v->len, 3);
	g_array_free(v, TRUE);

	assert_int_equal(insp_store_get_record(s, id[3], get_review, &r), 0);
	assert_string_equal(r.reviewed_by, "ingrid");
	assert_string_equal(r.verdict, "accepted");
	assert_int_equal(r.reviewed_ms, NOV + DAY_MS);
	assert_int_equal(insp_store_get_record(s, 9999, get_review, &r), -ENOENT);

	/* tickets: one closed in the month, one open */
	assert_int_equal(ticket_open(&t, "camera", "cam1", "", "dark", 86400, "hw", NOV, &tr), 0);
	assert_int_equal(insp_store_put_ticket(s, &t, &tr), 0);
	close_ticket(s, &t, NOV + 2 * HOUR_MS);
	assert_int_equal(
	    ticket_open(&t, "camera", "cam2", "", "dark", 86400, "hw", NOV + DAY_MS, &tr), 0);
	assert_int_equal(insp_store_put_ticket(s, &t, &tr), 0);
	assert_int_equal(
	    insp_store_list_tickets(s, &(struct insp_ticket_filter){0}, count_ticket, &n), 0);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(insp_store_list_tickets(s, &(struct insp_ticket_filter){.state = "closed"},
						 count_ticket, &n),
			 0);
	assert_int_equal(n, 1);
	n = 0;
	/* alive after the first closed: only the open one */
	assert_int_equal(
	    insp_store_list_tickets(s, &(struct insp_ticket_filter){.from_ms = NOV + 3 * HOUR_MS},
				    count_ticket, &n),
	    0);
	assert_int_equal(n, 1);
	insp_store_close(s);
	g_unlink(p);
	g_free(p);
	rmdir_all(d);
}

/* ---- the report builder: its numbers are the records' ---- */

static bool has(const GString *s, const char *needle)
{
	return strstr(s->str, needle) != NULL;
}

static int count(const GString *s, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(s->str, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_build(void **state)
{
	GTimeZone *tz = g_time_zone_new_identifier("Asia/Shanghai");
	struct insp_record r[6] = {
	    {.id = 1,
	     .plan = "vp",
	     .kind = INSP_VIDEO_PATROL,
	     .t_ms = NOV + HOUR_MS,
	     .result = "passed",
	     .json = "{\"due\":1793466000000}"},
	    {.id = 2,
	     .plan = "vp",
	     .kind = INSP_VIDEO_PATROL,
	     .t_ms = NOV + 8 * DAY_MS,
	     .result = "failed",
	     .reviewed_ms = NOV + 9 * DAY_MS,
	     .verdict = "rejected"},
	    {.id = 3,
	     .plan = "sp",
	     .kind = INSP_STAFF_PATROL,
	     .t_ms = NOV + 15 * DAY_MS,
	     .result = "missed"},
	    {.id = 4,
	     .plan = "sp",
	     .kind = INSP_STAFF_PATROL,
	     .t_ms = NOV + 29 * DAY_MS,
	     .result = "cancelled"},
	    {.id = 5,
	     .plan = "ft",
	     .kind = INSP_FUNCTION_TEST,
	     .t_ms = NOV + 2 * DAY_MS,
	     .result = "passed",
	     .reviewed_ms = NOV + 3 * DAY_MS,
	     .verdict = "accepted"},
	    {.id = 6,
	     .plan = "ft",
	     .kind = INSP_FUNCTION_TEST,
	     .t_ms = NOV + 3 * DAY_MS,
	     .result = "failed"},
	};
	struct ticket t[3] = {
	    {.id = "camera-cam1-1",
	     .target = "cam1",
	     .state = TK_CLOSED,
	     .opened_ms = NOV,
	     .closed_ms = NOV + 2 * HOUR_MS},
	    {.id = "camera-cam2-1",
	     .target = "cam2<x>",
	     .state = TK_CLOSED,
	     .opened_ms = NOV + DAY_MS,
	     .closed_ms = NOV + DAY_MS + 10 * HOUR_MS},
	    {.id = "camera-cam3-1",
	     .target = "cam3",
	     .state = TK_OPEN,
	     .opened_ms = NOV + 20 * DAY_MS},
	};
	struct report_camera cams[3] = {
	    {.id = "cam1",
	     .online_share = 0.975,
	     .oldest_ms = NOV - 40 * DAY_MS,
	     .retention_days = 30},
	    {.id = "cam2",
	     .online_share = 1.0,
	     .oldest_ms = NOV + 20 * DAY_MS,
	     .retention_days = 30},
	    {.id = "cam3", .online_share = -1, .retention_days = 0}, /* not recorded */
	};
	struct report_in in = {.site = "hall-1",
			       .month = "2026-11",
			       .zh = false,
			       .tz = tz,
			       .from_ms = NOV,
			       .to_ms = NOV + 30 * DAY_MS,
			       .made_ms = NOV + 30 * DAY_MS,
			       .recs = r,
			       .n_recs = 6,
			       .tickets = t,
			       .n_tickets = 3,
			       .cams = cams,
			       .n_cams = 3};
	GString *html = g_string_new(NULL), *csv = g_string_new(NULL);
	struct report_sums s;

	(void)state;
	assert_int_equal(report_build(&in, html, csv, &s), 0);
	assert_int_equal(s.due, 3); /* patrols: not the cancelled one */
	assert_int_equal(s.done, 2);
	assert_int_equal(s.passed, 1);
	assert_int_equal(s.failed, 1);
	assert_int_equal(s.missed, 1);
	assert_int_equal(s.cancelled, 1);
	assert_int_equal(s.tests_passed, 1);
	assert_int_equal(s.tests_failed, 1);
	assert_int_equal(s.opened, 3);
	assert_int_equal(s.closed, 2);
	assert_int_equal(s.still_open, 1);
	assert_int_equal(s.repair_median_ms, 6 * HOUR_MS); /* (2 h + 10 h) / 2 */
	assert_int_equal(s.repair_max_ms, 10 * HOUR_MS);
	assert_int_equal(s.reviewed, 2);
	assert_int_equal(s.accepted, 1);
	assert_int_equal(s.rejected, 1);

	/* the CSV says the same */
	assert_true(has(csv, "section,item,period,metric,value\n"));
	assert_true(has(csv, "completion,\"vp\",week1,due,1\n"));
	assert_true(has(csv, "completion,\"vp\",week2,done,1\n")); /* day 9 */
	assert_true(has(csv, "completion,\"vp\",month,due,2\n"));
	assert_true(has(csv, "completion,\"sp\",week3,due,1\n"));
	assert_true(has(csv, "completion,\"sp\",week5,due,0\n")); /* cancelled */
	assert_true(has(csv, "completion,\"sp\",month,missed,1\n"));
	assert_true(has(csv, "patrols,\"all\",month,due,3\n"));
	assert_true(has(csv, "tests,\"all\",month,failed,1\n"));
	assert_true(has(csv, "tickets,\"all\",month,opened,3\n"));
	assert_true(has(csv, "tickets,\"all\",month,closed,2\n"));
	assert_true(has(csv, "tickets,\"all\",month,repair_median_s,21600\n"));
	assert_true(has(csv, "tickets,\"all\",month,repair_max_s,36000\n"));
	assert_true(has(csv, "camera,\"cam1\",month,online_pct,97.50\n"));
	assert_true(has(csv, "camera,\"cam1\",month,footage_days,70.0\n"));
	assert_true(has(csv, "camera,\"cam2\",month,footage_days,10.0\n"));
	assert_true(has(csv, "reviews,\"all\",month,reviewed,2\n"));
	/* the page: self-contained, printable, escaped, with the same figures */
	assert_true(has(html, "<!DOCTYPE html>"));
	assert_true(has(html, "@media print"));
	assert_true(has(html, "<svg"));
	assert_false(has(html, "http://") || has(html, "https://") || has(html, "src=") ||
		     has(html, "<script") || has(html, "<link"));
	assert_true(has(html, "cam2&lt;x&gt;"));
	assert_false(has(html, "cam2<x>"));
	assert_true(has(html, "<td>66.7 %</td>")); /* 2 done of 3 due */
	assert_true(has(html, "6.0 h"));
	assert_true(has(html, "97.50 %"));
	assert_true(has(html, "SHORT"));	   /* cam2 keeps 10 of 30 days */
	assert_int_equal(count(html, "SHORT"), 1); /* not cam3, which records nothing */
	assert_true(has(csv, "camera,\"cam3\",month,online_pct,\n"));
	assert_true(has(csv, "camera,\"cam3\",month,required_days,0\n"));
	g_string_truncate(html, 0);
	g_string_truncate(csv, 0);
	in.zh = true;
	assert_int_equal(report_build(&in, html, csv, NULL), 0);
	assert_true(has(html, "lang=\"zh-CN\""));
	assert_true(has(html, "月度巡查报告"));
	/* ticket states in the report's language, not their ids */
	assert_int_equal(count(html, "<td>已关闭</td>"), 2);
	assert_int_equal(count(html, "<td>待处理</td>"), 1);
	assert_false(has(html, "<td>closed</td>"));
	in.month = NULL;
	assert_int_equal(report_build(&in, html, csv, NULL), -EINVAL);
	g_string_free(html, TRUE);
	g_string_free(csv, TRUE);
	g_time_zone_unref(tz);
}

/* ---- a simulated month ---- */

struct month {
	struct insp_store *st;
	struct cfg_calendar cal;
	GTimeZone *tz;
	int64_t skip_day; /* the staff patrols of this local day are not done */
	unsigned patrols_closed;
};

static void on_emit(const struct insp_ev *ev, void *ud)
{
	struct month *m = ud;
	const struct insp_task *t = ev->t;

	assert_int_equal(insp_store_put_task(m->st, t), 0);
	if (insp_state_final(t->state) && ev->from != ev->to) {
		char *json =
		    g_strdup_printf("{\"due\":%lld,\"started\":%lld,\"note\":\"%s\"}",
				    (long long)t->due_ms, (long long)t->started_ms, t->reason);
		assert_int_equal(insp_store_add_record(m->st, t->id, t->plan, t->target, t->kind,
						       t->done_ms, insp_state_name(t->state), t->by,
						       json, NULL),
				 0);
		g_free(json);
	}
}

struct tally {
	struct month *m;
	unsigned vp_passed, sp_passed, sp_missed, other, closed_due;
	int64_t last_vp_due;
};

static int tally(const struct insp_record *r, void *ud)
{
	struct tally *t = ud;
	json_t *j = json_loads(r->json, 0, NULL);
	int64_t due = json_integer_value(json_object_get(j, "due"));

	json_decref(j);
	/* nothing was due while the hall was closed */
	if (!insp_cal_is_open(&t->m->cal, t->m->tz, due))
		t->closed_due++;
	if (strcmp(r->plan, "vp") == 0 && strcmp(r->result, "passed") == 0) {
		t->vp_passed++;
		/* on time: ended within its first 5 minutes */
		assert_true(r->t_ms - due <= 5 * MIN_MS);
	} else if (strcmp(r->plan, "sp") == 0 && strcmp(r->result, "passed") == 0) {
		t->sp_passed++;
	} else if (strcmp(r->plan, "sp") == 0 && strcmp(r->result, "missed") == 0) {
		t->sp_missed++;
	} else {
		t->other++;
	}
	return 0;
}

static int copy_rec(const struct insp_record *r, void *ud)
{
	struct insp_record c = *r;

	c.json = g_strdup(r->json);
	c.review_note = g_strdup(r->review_note);
	g_array_append_val(ud, c);
	return 0;
}

static int copy_tk(const struct ticket *t, void *ud)
{
	g_array_append_vals(ud, t, 1);
	return 0;
}

static void test_simulated_month(void **state)
{
	char *d = tmpdir(), *p = g_build_filename(d, "hallwatch.db", NULL);
	struct month m = {0};
	struct cfg_plan plans[2] = {0};
	char *cams[] = {"cam1"}, *routes[] = {"route1"};
	struct insp_sched *s;
	struct insp_record_filter f = {.kind = -1,
				       .reviewed = -1,
				       .from_ms = NOV,
				       .to_ms = NOV + 30 * DAY_MS,
				       .oldest_first = true};
	struct tally tl = {.m = &m};
	struct ticket t;
	struct ticket_tr tr;
	int64_t end = NOV + 30 * DAY_MS;

	(void)state;
	m.tz = g_time_zone_new_identifier("Asia/Shanghai");
	for (int wd = 1; wd <= 5; wd++) {
		m.cal.open_min[wd] = 9 * 60;
		m.cal.close_min[wd] = 17 * 60;
	}
	m.cal.open_min[0] = m.cal.open_min[6] = -1; /* closed at weekends */
	for (int i = 0; i < 2; i++) {
		plans[i].recur = RECUR_EVERY;
		plans[i].every_s = 7200;
		plans[i].when = WHEN_OPEN;
		plans[i].window_s = 1800;
		plans[i].grace_s = 1800;
		plans[i].start_ms = -1;
		plans[i].priority = 4;
		plans[i].n_targets = 1;
	}
	plans[0].id = "vp";
	plans[0].kind = INSP_VIDEO_PATROL;
	plans[0].targets = cams;
	plans[1].id = "sp";
	plans[1].kind = INSP_STAFF_PATROL;
	plans[1].targets = routes;
	m.skip_day = 20261111; /* a Wednesday: its staff patrols are missed */
	assert_int_equal(insp_store_open(p, &m.st), 0);
	assert_int_equal(insp_sched_create(plans, 2, &m.cal, m.tz, on_emit, NULL, &m, &s), 0);
	for (int64_t now = NOV; now < end; now += 5 * MIN_MS) {
		const struct insp_task *v[16];
		char ids[16][INSP_ID_MAX];
		size_t n, k = 0;
		int32_t ymd;

		insp_sched_tick(s, now);
		n = insp_sched_list(s, v, 16);
		insp_local(m.tz, now, &ymd, NULL);
		for (size_t i = 0; i < n && i < 16; i++)
			if (v[i]->state == IS_DUE &&
			    !(strcmp(v[i]->plan, "sp") == 0 && ymd == m.skip_day))
				g_strlcpy(ids[k++], v[i]->id, INSP_ID_MAX);
		for (size_t i = 0; i < k; i++)
			assert_int_equal(insp_sched_complete(s, ids[i], true, "li", "ok", now), 0);
	}
	/* a camera ticket open 5 h and one open 9 h: median 7 h */
	assert_int_equal(
	    ticket_open(&t, "camera", "cam1", "", "dark", 86400, "hw", NOV + 2 * DAY_MS, &tr), 0);
	assert_int_equal(insp_store_put_ticket(m.st, &t, &tr), 0);
	close_ticket(m.st, &t, NOV + 2 * DAY_MS + 5 * HOUR_MS);
	assert_int_equal(
	    ticket_open(&t, "camera", "cam1", "", "dark", 86400, "hw", NOV + 9 * DAY_MS, &tr), 0);
	assert_int_equal(insp_store_put_ticket(m.st, &t, &tr), 0);
	close_ticket(m.st, &t, NOV + 9 * DAY_MS + 9 * HOUR_MS);

	assert_int_equal(insp_store_list_records(m.st, &f, tally, &tl), 0);
	/* 21 working days in November 2026, 4 patrols a day (9, 11, 13, 15 h) */
	assert_int_equal(tl.vp_passed, 21 * 4);
	assert_int_equal(tl.sp_passed, 20 * 4);
	assert_int_equal(tl.sp_missed, 4);
	assert_int_equal(tl.other, 0);
	assert_int_equal(tl.closed_due, 0);

	/* the report over that store */
	{
		GArray *recs = g_array_new(FALSE, FALSE, sizeof(struct insp_record));
		GArray *tks = g_array_new(FALSE, FALSE, sizeof(struct ticket));
		GString *html = g_string_new(NULL), *csv = g_string_new(NULL);
		struct report_in in = {.site = "hall-1",
				       .month = "2026-11",
				       .tz = m.tz,
				       .from_ms = NOV,
				       .to_ms = end,
				       .made_ms = end};
		struct report_sums sums;
		char line[96];

		assert_int_equal(insp_store_list_records(m.st, &f, copy_rec, recs), 0);
		assert_int_equal(insp_store_list_tickets(
				     m.st,
				     &(struct insp_ticket_filter){.from_ms = NOV, .to_ms = end},
				     copy_tk, tks),
				 0);
		in.recs = (struct insp_record *)(void *)recs->data;
		in.n_recs = recs->len;
		in.tickets = (struct ticket *)(void *)tks->data;
		in.n_tickets = tks->len;
		assert_int_equal(report_build(&in, html, csv, &sums), 0);
		assert_int_equal(sums.due, recs->len);
		assert_int_equal(sums.done, tl.vp_passed + tl.sp_passed);
		assert_int_equal(sums.missed, tl.sp_missed);
		assert_int_equal(sums.closed, 2);
		assert_int_equal(sums.repair_median_ms, 7 * HOUR_MS);
		assert_int_equal(sums.repair_max_ms, 9 * HOUR_MS);
		snprintf(line, sizeof(line), "completion,\"vp\",month,done,%u\n", tl.vp_passed);
		assert_true(has(csv, line));
		snprintf(line, sizeof(line), "completion,\"sp\",month,missed,%u\n", tl.sp_missed);
		assert_true(has(csv, line));
		/* week 2 (8-14 Nov) holds the missed day: 5 working days, 4 of them done */
		assert_true(has(csv, "completion,\"sp\",week2,due,20\n"));
		assert_true(has(csv, "completion,\"sp\",week2,done,16\n"));
		assert_true(has(csv, "tickets,\"all\",month,repair_median_s,25200\n"));
		for (guint i = 0; i < recs->len; i++) {
			g_free((char *)g_array_index(recs, struct insp_record, i).json);
			g_free((char *)g_array_index(recs, struct insp_record, i).review_note);
		}
		g_array_free(recs, TRUE);
		g_array_free(tks, TRUE);
		g_string_free(html, TRUE);
		g_string_free(csv, TRUE);
	}
	insp_sched_destroy(s);
	insp_store_close(m.st);
	g_time_zone_unref(m.tz);
	g_unlink(p);
	g_free(p);
	rmdir_all(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_month_range),	    cmocka_unit_test(test_online_share),
	    cmocka_unit_test(test_listing),	    cmocka_unit_test(test_build),
	    cmocka_unit_test(test_simulated_month),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

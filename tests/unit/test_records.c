/* The inspectors' verbs (gateway/records.c) through the router's in-process entry, as the
 * console calls them: the roles of cmd/review (an inspector or an admin; a viewer and an
 * operator of the console are refused), no_change without amend, the records' filters,
 * and the monthly report's files with camera availability from the alert event log and
 * footage kept from the recording index, against a real store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <sqlite3.h>

#include "core/db.h"
#include "gateway/records.h"

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)
#define NOV (1793462400000LL) /* 2026-11-01T00:00:00+08:00 */

struct fx {
	char *dir;
	struct hw_config cfg;
	struct cfg_camera cams[2];
	struct insp_store *st;
	struct records *rec;
	struct router *r;
	json_t *got;
	int64_t id[3];
};

static void on_call(const char *json, void *ud)
{
	struct fx *f = ud;

	json_decref(f->got);
	f->got = json_loads(json, 0, NULL);
}

static json_t *call(struct fx *f, const char *verb, const char *args, enum router_role role)
{
	json_t *a = json_loads(args, 0, NULL);

	assert_non_null(a);
	json_decref(f->got);
	f->got = NULL;
	assert_int_equal(router_call(f->r, verb, a, "ivy", role, on_call, f), 0);
	json_decref(a);
	/* cmd/report answers from its worker thread, through the main loop */
	for (int i = 0; !f->got && i < 1000; i++)
		g_main_context_iteration(NULL, TRUE);
	assert_non_null(f->got);
	return f->got;
}

static const char *err(json_t *o)
{
	const char *e = json_string_value(json_object_get(o, "error"));
	return e ? e : "";
}

static void exec(struct fx *f, const char *sql)
{
	assert_int_equal(sqlite3_exec(db_sqlite(insp_store_db(f->st)), sql, NULL, NULL, NULL),
			 SQLITE_OK);
}

static int setup(void **state)
{
	struct fx *f = g_new0(struct fx, 1);
	char *p;

	f->dir = g_dir_make_tmp("hw-records-XXXXXX", NULL);
	assert_non_null(f->dir);
	f->cfg.site.id = "hall-1";
	f->cfg.site.timezone = "Asia/Shanghai";
	f->cfg.site.language = LANG_EN;
	f->cfg.storage.state_dir = f->dir;
	f->cams[0].id = "cam1";
	f->cams[1].id = "cam2";
	f->cams[0].retention_days = f->cams[1].retention_days = 30;
	f->cams[0].record = f->cams[1].record = true;
	f->cfg.cameras = f->cams;
	f->cfg.n_cameras = 2;
	p = g_build_filename(f->dir, "hallwatch.db", NULL);
	assert_int_equal(insp_store_open(p, &f->st), 0);
	g_free(p);
	assert_int_equal(records_create(&f->cfg, f->st, NULL, &f->rec), 0);
	assert_int_equal(router_create(&f->cfg, NULL, &f->r), 0);
	assert_int_equal(records_attach_router(f->rec, f->r), 0);
	assert_int_equal(insp_store_add_record(f->st, "vp/cam1/1", "vp", "cam1", INSP_VIDEO_PATROL,
					       NOV + HOUR_MS, "passed", "li",
					       "{\"due\":1793465000000,\"note\":\"fine\","
					       "\"details\":{\"cameras\":2}}",
					       &f->id[0]),
			 0);
	assert_int_equal(insp_store_add_record(f->st, "sp/r1/1", "sp", "r1", INSP_STAFF_PATROL,
					       NOV + 2 * HOUR_MS, "missed", "", NULL, &f->id[1]),
			 0);
	assert_int_equal(insp_store_add_record(f->st, "ft/elc1/1", "ft", "elc1", INSP_FUNCTION_TEST,
					       NOV + 3 * HOUR_MS, "failed", "li", NULL, &f->id[2]),
			 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	GDir *d;
	const char *n;

	router_destroy(f->r);
	records_destroy(f->rec);
	insp_store_close(f->st);
	json_decref(f->got);
	for (const char *sub = "reports"; sub; sub = NULL) {
		char *p = g_build_filename(f->dir, sub, NULL);
		d = g_dir_open(p, 0, NULL);
		while (d && (n = g_dir_read_name(d))) {
			char *q = g_build_filename(p, n, NULL);
			g_unlink(q);
			g_free(q);
		}
		if (d)
			g_dir_close(d);
		g_rmdir(p);
		g_free(p);
	}
	d = g_dir_open(f->dir, 0, NULL);
	while (d && (n = g_dir_read_name(d))) {
		char *q = g_build_filename(f->dir, n, NULL);
		g_unlink(q);
		g_free(q);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(f->dir);
	g_free(f->dir);
	g_free(f);
	return 0;
}

static void test_review_roles(void **state)
{
	struct fx *f = *state;
	char args[160];
	json_t *o;

	snprintf(args, sizeof(args), "{\"id\":%lld,\"verdict\":\"accepted\",\"note\":\"ok\"}",
		 (long long)f->id[0]);
	assert_string_equal(err(call(f, "review", args, ROUTER_VIEWER)), "not_authorized");
	assert_string_equal(err(call(f, "review", args, ROUTER_OPERATOR)), "not_authorized");
	o = call(f, "review", args, ROUTER_INSPECTOR);
	assert_true(json_is_true(json_object_get(o, "ok")));
	o = json_object_get(json_object_get(o, "record"), "review");
	assert_string_equal(json_string_value(json_object_get(o, "by")), "ivy");
	assert_string_equal(json_string_value(json_object_get(o, "verdict")), "accepted");
	assert_string_equal(json_string_value(json_object_get(o, "note")), "ok");
	/* once only, unless amended; an admin may */
	assert_string_equal(err(call(f, "review", args, ROUTER_INSPECTOR)), "no_change");
	snprintf(args, sizeof(args), "{\"id\":\"%lld\",\"verdict\":\"rejected\",\"amend\":true}",
		 (long long)f->id[0]);
	o = call(f, "review", args, ROUTER_ADMIN);
	assert_true(json_is_true(json_object_get(o, "ok")));
	assert_string_equal(
	    json_string_value(json_object_get(
		json_object_get(json_object_get(o, "record"), "review"), "verdict")),
	    "rejected");
	assert_string_equal(
	    err(call(f, "review", "{\"id\":99999,\"verdict\":\"accepted\"}", ROUTER_INSPECTOR)),
	    "unknown_record");
	assert_string_equal(
	    err(call(f, "review", "{\"id\":\"x1\",\"verdict\":\"accepted\"}", ROUTER_INSPECTOR)),
	    "invalid");
	{
		char big[400];

		snprintf(big, sizeof(big),
			 "{\"id\":1,\"verdict\":\"accepted\",\"note\":\"%0200d\"}", 0);
		assert_string_equal(err(call(f, "review", big, ROUTER_INSPECTOR)), "too_large");
	}
	assert_string_equal(
	    err(call(f, "review", "{\"id\":1,\"verdict\":\"fine\"}", ROUTER_INSPECTOR)), "invalid");
}

static void test_records_filters(void **state)
{
	struct fx *f = *state;
	json_t *o, *v;

	o = call(f, "records", "{}", ROUTER_VIEWER);
	v = json_object_get(o, "records");
	assert_int_equal(json_array_size(v), 3);
	/* newest first, with the record's fields */
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "plan")), "ft");
	v = json_array_get(v, 2);
	assert_int_equal(json_integer_value(json_object_get(v, "id")), f->id[0]);
	assert_string_equal(json_string_value(json_object_get(v, "kind")), "video_patrol");
	assert_string_equal(json_string_value(json_object_get(v, "note")), "fine");
	assert_int_equal(json_integer_value(json_object_get(v, "due")), 1793465000000LL);
	assert_int_equal(json_integer_value(json_object_get(v, "ended")), NOV + HOUR_MS);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(v, "details"), "cameras")), 2);
	assert_true(json_is_null(json_object_get(v, "review")));
	o = call(f, "records", "{\"kind\":\"function_test\",\"result\":\"failed\"}", ROUTER_VIEWER);
	assert_int_equal(json_array_size(json_object_get(o, "records")), 1);
	o = call(f, "records", "{\"from\":\"2026-11-01 02:00\",\"to\":1793473200}",
		 ROUTER_VIEWER); /* [02:00, 03:00) local */
	v = json_object_get(o, "records");
	assert_int_equal(json_array_size(v), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "plan")), "sp");
	assert_string_equal(err(call(f, "records", "{\"result\":\"meh\"}", ROUTER_VIEWER)),
			    "invalid");
	assert_string_equal(err(call(f, "records", "{\"from\":\"yesterday\"}", ROUTER_VIEWER)),
			    "invalid");
	assert_string_equal(err(call(f, "records", "{\"limit\":1001}", ROUTER_VIEWER)), "invalid");
	assert_string_equal(err(call(f, "records", "{\"reviewed\":1}", ROUTER_VIEWER)), "invalid");
	o = call(f, "records", "{\"reviewed\":false,\"limit\":2}", ROUTER_VIEWER);
	assert_int_equal(json_array_size(json_object_get(o, "records")), 2);
}

static char *slurp(const char *p)
{
	char *s = NULL;
	assert_true(g_file_get_contents(p, &s, NULL, NULL));
	return s;
}

static void test_report_files(void **state)
{
	struct fx *f = *state;
	char *html = NULL, *csv = NULL, *h, *c, sql[512];
	json_t *o;

	/* cam1: offline 12 h on 2 Nov; cam2: video lost since before the month until 4 Nov */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO alert_event(seq, t_ms, json) VALUES (1, %lld, "
		 "'{\"event\":\"raised\",\"id\":\"cam2.video_loss\"}'), (2, %lld, "
		 "'{\"event\":\"raised\",\"id\":\"cam1.offline\"}'), (3, %lld, "
		 "'{\"event\":\"acked\",\"id\":\"cam1.offline\"}'), (4, %lld, "
		 "'{\"event\":\"cleared\",\"id\":\"cam1.offline\"}'), (5, %lld, "
		 "'{\"event\":\"cleared\",\"id\":\"cam2.video_loss\"}')",
		 (long long)(NOV - DAY_MS), (long long)(NOV + DAY_MS),
		 (long long)(NOV + DAY_MS + HOUR_MS), (long long)(NOV + DAY_MS + 12 * HOUR_MS),
		 (long long)(NOV + 3 * DAY_MS));
	exec(f, sql);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO video_segments(camera, start_ms, end_ms, path) VALUES ('cam1', %lld, "
		 "%lld, '/a'), ('cam1', %lld, %lld, '/b'), ('cam2', %lld, %lld, '/c')",
		 (long long)(NOV - 40 * DAY_MS), (long long)(NOV - 40 * DAY_MS + 60000),
		 (long long)(NOV - 2 * DAY_MS), (long long)(NOV - 2 * DAY_MS + 60000),
		 (long long)(NOV + 20 * DAY_MS), (long long)(NOV + 20 * DAY_MS + 60000));
	exec(f, sql);
	assert_int_equal(records_report(f->rec, "2026-11", NOV + 30 * DAY_MS, &html, &csv), 0);
	h = slurp(html);
	c = slurp(csv);
	assert_non_null(strstr(html, "/reports/report-2026-11.html"));
	assert_non_null(strstr(c, "camera,\"cam1\",month,online_pct,98.33\n")); /* 12 h of 30 d */
	assert_non_null(strstr(c, "camera,\"cam2\",month,online_pct,90.00\n")); /* 3 d of 30 */
	assert_non_null(strstr(c, "camera,\"cam1\",month,footage_days,70.0\n"));
	assert_non_null(strstr(c, "camera,\"cam2\",month,footage_days,10.0\n"));
	assert_non_null(strstr(c, "patrols,\"all\",month,missed,1\n"));
	assert_non_null(strstr(c, "tests,\"all\",month,failed,1\n"));
	assert_non_null(strstr(h, "Monthly inspection report"));
	assert_null(strstr(h, "http://"));
	g_free(h);
	g_free(c);
	g_free(html);
	g_free(csv);
	assert_int_equal(records_report(f->rec, "2026-00", NOV, &html, &csv), -EINVAL);
	/* and through the verb */
	o = call(f, "report", "{\"month\":\"2026-11\"}", ROUTER_VIEWER);
	assert_true(json_is_true(json_object_get(o, "ok")));
	assert_true(g_file_test(json_string_value(json_object_get(o, "csv")), G_FILE_TEST_EXISTS));
	assert_string_equal(err(call(f, "report", "{\"month\":\"november\"}", ROUTER_VIEWER)),
			    "invalid");
	/* one report at a time: a second one asked meanwhile is refused "busy" */
	{
		json_t *a = json_loads("{\"month\":\"2026-11\"}", 0, NULL);
		json_t *first;

		json_decref(f->got);
		f->got = NULL;
		assert_int_equal(router_call(f->r, "report", a, "ivy", ROUTER_VIEWER, on_call, f),
				 0);
		assert_null(f->got); /* made on the worker thread */
		first = f->got;
		assert_int_equal(router_call(f->r, "report", a, "ivy", ROUTER_VIEWER, on_call, f),
				 0);
		assert_non_null(f->got);
		assert_string_equal(err(f->got), "busy");
		json_decref(f->got);
		f->got = first;
		for (int i = 0; !f->got && i < 1000; i++)
			g_main_context_iteration(NULL, TRUE);
		assert_true(json_is_true(json_object_get(f->got, "ok")));
		json_decref(a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_review_roles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_records_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_report_files, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The hall's calendar (site.timezone, opening_hours, holidays, extra_workdays) and the
 * inspections section of core/config.c (core/config_inspect.inc): values, per-kind
 * defaults, and every error as FILE:LINE: message. */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"

static char *write_cfg(const char *body)
{
	char *path = NULL;
	int fd = g_file_open_tmp("insp-cfg-XXXXXX.cfg", &path, NULL);

	assert_true(fd >= 0);
	assert_true(write(fd, body, strlen(body)) == (ssize_t)strlen(body));
	close(fd);
	return path;
}

static struct hw_config *load_ok(const char *body)
{
	char *path = write_cfg(body);
	struct cfg_errors e = {0};
	struct hw_config *c = NULL;
	int rc = config_load(path, &c, &e);

	for (size_t i = 0; i < e.n; i++)
		print_message("  error: %s\n", e.msgs[i]);
	assert_int_equal(rc, 0);
	cfg_errors_clear(&e);
	g_unlink(path);
	g_free(path);
	return c;
}

/* Loads body, expects failure with an error "<file>:<line>: <want>". */
static void load_bad(const char *body, int line, const char *want)
{
	char *path = write_cfg(body);
	char *expect = g_strdup_printf("%s:%d: %s", path, line, want);
	struct cfg_errors e = {0};
	struct hw_config *c = NULL;
	bool found = false;

	assert_int_equal(config_load(path, &c, &e), -EINVAL);
	for (size_t i = 0; i < e.n; i++)
		found |= strcmp(e.msgs[i], expect) == 0;
	if (!found) {
		print_message("  want: %s\n", expect);
		for (size_t i = 0; i < e.n; i++)
			print_message("  got:  %s\n", e.msgs[i]);
	}
	assert_true(found);
	cfg_errors_clear(&e);
	g_unlink(path);
	g_free(path);
	g_free(expect);
}

static void test_calendar_and_plans(void **state)
{
	(void)state;
	struct hw_config *c = load_ok(
	    "site = { id = \"hall1\";\n"
	    "  timezone = \"Asia/Shanghai\";\n"
	    "  opening_hours = { mon = \"08:30-17:30\"; tue = \"08:30-17:30\"; sat = "
	    "\"09:00-12:00\";"
	    " sun = \"closed\"; };\n"
	    "  holidays = [\"2026-10-01\", \"2026-10-02\"];\n"
	    "  extra_workdays = [\"2026-09-27\"];\n"
	    "};\n"
	    "inspections = {\n"
	    "  tick_s = 5; keep_days = 90; camera_ticket_h = 12;\n"
	    "  plans = (\n"
	    "    { id = \"fire_patrol\"; kind = \"staff_patrol\"; },\n"
	    "    { id = \"el_function\"; kind = \"function_test\"; targets = [\"elc1\", \"elc2\"];"
	    "      start = \"2026-11-01T09:00:00+08:00\"; priority = 3; },\n"
	    "    { id = \"el_duration\"; kind = \"duration_test\"; requires = [\"mains_ok\"]; },\n"
	    "    { id = \"fire_check\"; kind = \"fire_check\"; day = 15; at = \"14:00\"; },\n"
	    "    { id = \"quick\"; kind = \"video_patrol\"; recurrence = \"every\"; every_s = 2;"
	    "      when = \"any\"; window_s = 1; grace_s = 1; },\n"
	    "    { id = \"rounds\"; kind = \"staff_patrol\"; recurrence = \"times\";"
	    "      at = [\"09:00\", \"15:00\"]; }\n"
	    "  );\n"
	    "};\n");
	const struct cfg_inspections *in = &c->inspections;
	const struct cfg_plan *p;

	assert_string_equal(c->site.timezone, "Asia/Shanghai");
	assert_int_equal(c->site.cal.open_min[1], 8 * 60 + 30);
	assert_int_equal(c->site.cal.close_min[1], 17 * 60 + 30);
	assert_int_equal(c->site.cal.open_min[6], 9 * 60);
	assert_int_equal(c->site.cal.open_min[0], -1);
	assert_int_equal(c->site.cal.open_min[3], -1); /* wed not named: closed */
	assert_int_equal(c->site.cal.n_holidays, 2);
	assert_int_equal(c->site.cal.holidays[1], 20261002);
	assert_int_equal(c->site.cal.workdays[0], 20260927);
	assert_int_equal(in->tick_s, 5);
	assert_int_equal(in->keep_days, 90);
	assert_int_equal(in->camera_ticket_h, 12);
	assert_int_equal(in->ticket_h, 168);
	assert_int_equal(in->n_plans, 6);
	p = &in->plans[0]; /* fire patrol: every 2 h while open */
	assert_int_equal(p->recur, RECUR_EVERY);
	assert_int_equal(p->every_s, 7200);
	assert_int_equal(p->when, WHEN_OPEN);
	assert_int_equal(p->n_targets, 1);
	assert_string_equal(p->targets[0], "fire_patrol");
	assert_int_equal(p->priority, 4);
	assert_int_equal(p->requires, 0);
	p = &in->plans[1]; /* function test: 30 days +-2, first within 48 h */
	assert_int_equal(p->recur, RECUR_DAYS);
	assert_int_equal(p->days, 30);
	assert_int_equal(p->early_s, 2 * 86400);
	assert_int_equal(p->window_s, 2 * 86400);
	assert_int_equal(p->first_within_s, 48 * 3600);
	assert_int_equal(p->requires,
			 INSP_REQ_MAINS_OK | INSP_REQ_NO_FIRE | INSP_REQ_BATTERY_RECHARGED);
	assert_true(p->serial);
	assert_int_equal(p->n_targets, 2);
	assert_int_equal(p->start_ms, 1793494800000LL);
	assert_int_equal(p->priority, 3);
	p = &in->plans[2]; /* duration test: yearly, its preconditions as given */
	assert_int_equal(p->days, 365);
	assert_int_equal(p->requires, INSP_REQ_MAINS_OK);
	p = &in->plans[3];
	assert_int_equal(p->recur, RECUR_MONTHLY);
	assert_int_equal(p->day, 15);
	assert_int_equal(p->at_min[0], 14 * 60);
	p = &in->plans[4];
	assert_int_equal(p->every_s, 2);
	assert_int_equal(p->when, WHEN_ANY);
	assert_int_equal(p->start_ms, -1);
	p = &in->plans[5];
	assert_int_equal(p->n_at, 2);
	assert_int_equal(p->at_min[1], 15 * 60);
	assert_string_equal(cfg_insp_kind_name(INSP_DURATION_TEST), "duration_test");
	assert_int_equal(cfg_insp_kind_parse("fire_check"), INSP_FIRE_CHECK);
	config_free(c);
}

/* Without a calendar: Monday to Friday 08:30-17:30, the machine's zone; the empty list of
 * earlier versions still loads. */
static void test_defaults(void **state)
{
	(void)state;
	struct hw_config *c = load_ok("site = { id = \"hall1\"; };\ninspections = ();\n");

	assert_null(c->site.timezone);
	assert_int_equal(c->site.cal.open_min[5], 8 * 60 + 30);
	assert_int_equal(c->site.cal.open_min[6], -1);
	assert_int_equal(c->site.cal.open_min[0], -1);
	assert_int_equal(c->inspections.n_plans, 0);
	assert_int_equal(c->inspections.tick_s, 60);
	assert_int_equal(c->inspections.keep_days, 400);
	config_free(c);
	c = load_ok("site = { id = \"hall1\"; };\n");
	assert_int_equal(c->inspections.tick_s, 60);
	config_free(c);
}

static void test_errors(void **state)
{
	(void)state;
	load_bad("site = { id = \"h\";\n opening_hours = { mon = \"8:30-17:30\"; };\n};\n", 2,
		 "site.opening_hours.mon: \"8:30-17:30\" is not \"HH:MM-HH:MM\" or \"closed\"");
	load_bad("site = { id = \"h\";\n opening_hours = { mon = \"18:30-17:30\"; };\n};\n", 2,
		 "site.opening_hours.mon: \"18:30-17:30\" is not an opening time before a closing "
		 "time (\"08:30-17:30\")");
	load_bad("site = { id = \"h\";\n opening_hours = { monday = \"08:30-17:30\"; };\n};\n", 2,
		 "site.opening_hours: unknown setting \"monday\" (sun, mon, ... sat)");
	load_bad("site = { id = \"h\";\n holidays = [\"2026-02-30\"];\n};\n", 2,
		 "site.holidays: element 0 is not a date \"YYYY-MM-DD\"");
	load_bad("site = { id = \"h\";\n timezone = \"Mars/Olympus\";\n};\n", 2,
		 "site.timezone: \"Mars/Olympus\" is no time zone this machine knows (an IANA "
		 "name such as \"Asia/Shanghai\" from /usr/share/zoneinfo, or \"+08:00\")");
	load_bad("site = { id = \"h\"; };\ninspections = { plans = (\n { id = \"a\"; kind = "
		 "\"patrol\"; }\n); };\n",
		 3,
		 "inspections.plans[0].kind: \"patrol\" is not one of video_patrol, staff_patrol, "
		 "fire_check, function_test, duration_test");
	load_bad("site = { id = \"h\"; };\ninspections = { plans = (\n { id = \"a\"; kind = "
		 "\"function_test\";\n requires = [\"sunny\"]; }\n); };\n",
		 4,
		 "inspections.plans[0].requires: element 0 is not a precondition (mains_ok, "
		 "no_fire, outside_opening_hours, battery_recharged)");
	load_bad("site = { id = \"h\"; };\ninspections = { plans = (\n { id = \"a\"; kind = "
		 "\"staff_patrol\"; },\n { id = \"a\"; kind = \"fire_check\"; }\n); };\n",
		 4, "inspections.plans[1]: id \"a\" is used already (plans[0])");
	load_bad("site = { id = \"h\"; };\ninspections = { plans = (\n { id = \"a\"; kind = "
		 "\"staff_patrol\";\n every_s = 0; }\n); };\n",
		 4, "inspections.plans[0].every_s: 0 is out of range (1..31536000)");
	load_bad("site = { id = \"h\"; };\ninspections = { plans = (\n { id = \"a\"; kind = "
		 "\"staff_patrol\"; recurrence = \"times\";\n at = [\"9:00\"]; }\n); };\n",
		 4, "inspections.plans[0].at: \"9:00\" is not a local time \"HH:MM\"");
	load_bad("site = { id = \"h\"; };\ninspections = { tick = 5; };\n", 2,
		 "inspections: unknown setting \"tick\"");
}

/* Checklists, a plan's checklist and the test lengths (expected_s, margin_s). */
static void test_checklists(void **state)
{
	(void)state;
	struct hw_config *c = load_ok(
	    "site = { id = \"h\"; };\ninspections = {\n checklists = (\n { id = \"fc\"; items = "
	    "(\n { id = \"ext\"; text = { zh = \"灭火器\"; en = \"extinguishers\"; }; },\n { id = "
	    "\"exits\"; }\n ); }\n );\n plans = (\n { id = \"chk\"; kind = \"fire_check\"; "
	    "checklist = \"fc\"; },\n { id = \"ft\"; kind = \"function_test\"; },\n { id = "
	    "\"dt\"; kind = \"duration_test\"; expected_s = 60; margin_s = 5; }\n );\n};\n");

	assert_int_equal(c->inspections.n_checklists, 1);
	assert_string_equal(c->inspections.checklists[0].id, "fc");
	assert_int_equal(c->inspections.checklists[0].n_items, 2);
	assert_string_equal(c->inspections.checklists[0].items[0].text.zh, "灭火器");
	assert_string_equal(c->inspections.checklists[0].items[0].text.en, "extinguishers");
	assert_null(c->inspections.checklists[0].items[1].text.en);
	assert_string_equal(c->inspections.plans[0].checklist, "fc");
	assert_null(c->inspections.plans[1].checklist);
	assert_int_equal(c->inspections.plans[1].expected_s, 180);
	assert_int_equal(c->inspections.plans[1].margin_s, 60);
	assert_int_equal(c->inspections.plans[2].expected_s, 60);
	assert_int_equal(c->inspections.plans[2].margin_s, 5);
	config_free(c);

	load_bad("site = { id = \"h\"; };\ninspections = { plans = (\n { id = \"a\"; kind = "
		 "\"fire_check\";\n checklist = \"nope\"; }\n); };\n",
		 3, "inspections.plans[0]: checklist \"nope\" is not in inspections.checklists");
	load_bad("site = { id = \"h\"; };\ninspections = { checklists = ( { id = \"c\"; items = "
		 "( { id = \"x\"; } ); } );\n plans = (\n { id = \"a\"; kind = "
		 "\"function_test\";\n checklist = \"c\"; }\n); };\n",
		 4,
		 "inspections.plans[0]: a checklist goes with a staff_patrol or a fire_check plan");
	load_bad("site = { id = \"h\"; };\ninspections = { checklists = (\n { id = \"c\"; items = "
		 "( { id = \"x\"; }, { id = \"x\"; } ); }\n); };\n",
		 3, "inspections.checklists[0].items[1]: id \"x\" is used already");
}

/* A video patrol's clip window: 5 s either side by default, set per plan, at least 1 s. */
static void test_clip_window(void **state)
{
	(void)state;
	struct hw_config *c = load_ok(
	    "site = { id = \"h\"; };\ninspections = { plans = (\n { id = \"vp\"; kind = "
	    "\"video_patrol\"; },\n { id = \"fast\"; kind = \"video_patrol\"; clip_before_s = "
	    "2; clip_after_s = 0; }\n); };\n");

	assert_int_equal(c->inspections.plans[0].clip_before_s, 5);
	assert_int_equal(c->inspections.plans[0].clip_after_s, 5);
	assert_int_equal(c->inspections.plans[1].clip_before_s, 2);
	assert_int_equal(c->inspections.plans[1].clip_after_s, 0);
	config_free(c);
	load_bad("site = { id = \"h\"; };\ninspections = { plans = (\n { id = \"a\"; kind = "
		 "\"video_patrol\"; clip_before_s = 0;\n clip_after_s = 0; }\n); };\n",
		 3,
		 "inspections.plans[0]: a patrol's clip needs clip_before_s + clip_after_s of at "
		 "least 1 s");
	load_bad("site = { id = \"h\"; };\ninspections = { plans = (\n { id = \"a\"; kind = "
		 "\"video_patrol\";\n clip_after_s = 601; }\n); };\n",
		 4, "inspections.plans[0].clip_after_s: 601 is out of range (0..600)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_calendar_and_plans),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_checklists),
	    cmocka_unit_test(test_clip_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

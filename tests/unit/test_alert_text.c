/* Unit tests of alerts/alert_text.c (the message of an alert in the site's language, from the
 * configuration's names and the profiles' labels) and of the resolution values are published
 * with (core/profile.c decimals, outputs/lineproto.c lp_field_float_dec). HW_SRC is the
 * repository root: the shipped profiles are used. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alerts/alert_text.h"
#include "core/config.h"
#include "outputs/lineproto.h"

static char dir[64];

static const char *src_dir(void)
{
	const char *s = getenv("HW_SRC");

	return s && *s ? s : ".";
}

/* A configuration in `language` with the shipped profiles, named devices and cameras. */
static struct hw_config *load(const char *language)
{
	char path[PATH_MAX], prof[PATH_MAX], real[PATH_MAX];
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;
	FILE *f;

	snprintf(prof, sizeof(prof), "%s/etc/profiles", src_dir());
	assert_non_null(realpath(prof, real));
	snprintf(path, sizeof(path), "%s/%s.cfg", dir, language);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(
	    f,
	    "site = { id = \"t1\"; profile_dir = \"%s\"; %s };\n"
	    "buses = ( { id = \"b1\"; host = \"127.0.0.1\"; } );\n"
	    "devices = (\n"
	    "  { id = \"facp1\"; bus = \"b1\"; profile = \"facp-generic\";\n"
	    "    location = \"%s\";\n"
	    "    names = ( { element = \"zone[3]\"; name = \"%s\"; },\n"
	    "              { element = \"zone[4]\"; name = \"%s\"; location = \"2F\"; } ); },\n"
	    "  { id = \"elc1\"; bus = \"b1\"; profile = \"elc-generic\"; name = \"%s\";\n"
	    "    names = ( { element = \"luminaire[12]\"; name = \"%s\"; } ); }\n"
	    ");\n"
	    "cameras = ( { id = \"cam1\"; url = \"rtsp://127.0.0.1/x\"; location = \"%s\"; },\n"
	    "  { id = \"cam2\"; url = \"rtsp://127.0.0.1/y\"; } );\n"
	    "rules = ( { name = \"low-charge\"; device = \"elc1\"; point = \"battery_charge\";\n"
	    "  below = 30.0; text = \"%s\"; } );\n",
	    real,
	    strcmp(language, "default") == 0 ? ""
	    : strcmp(language, "en") == 0    ? "language = \"en\";"
					     : "language = \"zh\";",
	    strcmp(language, "en") == 0 ? "1F control room" : "一楼消控室",
	    strcmp(language, "en") == 0 ? "2F east corridor" : "二楼东走廊",
	    strcmp(language, "en") == 0 ? "west corridor" : "西走廊",
	    strcmp(language, "en") == 0 ? "ELC-A" : "应急照明A",
	    strcmp(language, "en") == 0 ? "exit sign, stair B" : "B梯安全出口",
	    strcmp(language, "en") == 0 ? "lobby" : "大厅",
	    strcmp(language, "en") == 0 ? "Battery charge low" : "电池电量低");
	assert_int_equal(fclose(f), 0);
	if (config_load(path, &c, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			print_message("  error: %s\n", errs.msgs[i]);
		cfg_errors_clear(&errs);
		fail();
	}
	return c;
}

struct tcase {
	const char *device, *point, *cond;
	bool rule;
	const char *text;
	const char *want;
};

static void check(const struct hw_config *c, const struct tcase *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct alert a = {0};
		char buf[ALERT_MSG_MAX];

		snprintf(a.device, sizeof(a.device), "%s", t[i].device);
		snprintf(a.point, sizeof(a.point), "%s", t[i].point);
		snprintf(a.cond, sizeof(a.cond), "%s", t[i].cond);
		snprintf(a.text, sizeof(a.text), "%s", t[i].text ? t[i].text : "");
		a.from_rule = t[i].rule;
		alert_text_format(c, &a, buf, sizeof(buf));
		print_message("  %s\n", buf);
		assert_string_equal(buf, t[i].want);
	}
}

static void test_english(void **state)
{
	static const struct tcase t[] = {
	    {"facp1", "zone[3].fire", "fire", false, "fire",
	     "Fire alarm: zone 3 (2F east corridor), fire alarm panel facp1 (1F control room)"},
	    {"facp1", "zone[4].pre_alarm", "supervisory", false, "supervisory",
	     "Supervisory (pre-alarm): zone 4 (west corridor, 2F), fire alarm panel facp1 (1F "
	     "control room)"},
	    {"facp1", "zone[7].fault", "fault", false, "fault",
	     "Fault: zone 7, fire alarm panel facp1 (1F control room)"},
	    {"facp1", "fire", "fire", false, "fire",
	     "Fire alarm: fire alarm panel facp1 (1F control room)"},
	    {"facp1", "mains_power_fault", "fault", false, "fault",
	     "Fault: mains power fault, fire alarm panel facp1 (1F control room)"},
	    {"elc1", "luminaire[12].lamp_fault", "fault", false, "fault",
	     "Fault (lamp fault): luminaire 12 (exit sign, stair B), emergency lighting controller "
	     "ELC-A"},
	    {"facp1", "", "offline", false, "device offline",
	     "Device offline: fire alarm panel facp1 (1F control room)"},
	    {"elc1", "battery_charge", "low-charge", true, "Battery charge low",
	     "Battery charge low: battery_charge, emergency lighting controller ELC-A"},
	    {"cam1", "dark", "fault", false, "fault", "Camera cam1 (lobby) is dark or covered"},
	    {"cam1", "covered", "fault", false, "fault",
	     "Camera cam1 (lobby) is covered or blocked"},
	    {"cam2", "frozen", "fault", false, "fault", "Camera cam2 shows a frozen picture"},
	    {"cam1", "", "offline", false, "device offline", "Camera cam1 (lobby) is offline"},
	    {"gateway", "", "store_fault", false, "the alert store cannot write",
	     "the alert store cannot write"},
	};
	struct hw_config *c = load("en");

	(void)state;
	check(c, t, sizeof(t) / sizeof(t[0]));
	config_free(c);
}

static void test_chinese(void **state)
{
	static const struct tcase t[] = {
	    {"facp1", "zone[3].fire", "fire", false, "fire",
	     "火警：3号防区（二楼东走廊），火灾报警控制器 facp1（一楼消控室）"},
	    {"facp1", "zone[4].pre_alarm", "supervisory", false, "supervisory",
	     "监管（预警）：4号防区（西走廊，2F），火灾报警控制器 facp1（一楼消控室）"},
	    {"facp1", "mains_power_fault", "fault", false, "fault",
	     "故障：主电故障，火灾报警控制器 facp1（一楼消控室）"},
	    {"elc1", "luminaire[12].lamp_fault", "fault", false, "fault",
	     "故障（光源故障）：12号灯具（B梯安全出口），应急照明控制器 应急照明A"},
	    {"facp1", "", "frozen", false, "",
	     "设备接口冻结（心跳计数不变）：火灾报警控制器 facp1（一楼消控室）"},
	    {"cam1", "dark", "fault", false, "fault", "摄像机 cam1（大厅）画面过暗或被遮挡"},
	    {"cam2", "video_loss", "fault", false, "fault", "摄像机 cam2 视频信号丢失"},
	    {"cam1", "", "offline", false, "", "摄像机 cam1（大厅）离线"},
	};
	struct hw_config *c = load("zh");

	(void)state;
	check(c, t, sizeof(t) / sizeof(t[0]));
	config_free(c);
	/* Chinese is the default: the halls are Chinese. */
	c = load("default");
	assert_int_equal(c->site.language, LANG_ZH);
	check(c, t, 1);
	config_free(c);
}

/* A message too long for its buffer is cut at a character, never inside one. */
static void test_cut_utf8(void **state)
{
	struct hw_config *c = load("zh");
	struct alert a = {0};
	char buf[40];

	(void)state;
	strcpy(a.device, "facp1");
	strcpy(a.point, "zone[3].fire");
	strcpy(a.cond, "fire");
	for (size_t sz = 1; sz <= sizeof(buf); sz++) {
		const char *end;

		memset(buf, 'x', sizeof(buf));
		alert_text_format(c, &a, buf, sz);
		assert_true(strlen(buf) < sz);
		assert_true(g_utf8_validate(buf, -1, &end));
	}
	config_free(c);
}

/* Scale 0.1 -> 1 decimal, 0.01 -> 2; unscaled integers and floats are not rounded. */
static void test_resolution(void **state)
{
	struct hw_config *c = load("en");
	const struct profile *facp = c->devices[0].profile, *elc = c->devices[1].profile;
	const struct prof_point *bv = profile_find_point(facp, "battery_voltage");

	(void)state;
	assert_int_equal(bv->decimals, 2);
	assert_int_equal(profile_find_point(facp, "mains_voltage")->decimals, 1);
	assert_int_equal(profile_find_point(facp, "zone_count")->decimals, -1);
	assert_int_equal(profile_find_point(elc, "battery_temperature")->decimals, 1);
	assert_int_equal(prof_decimals_of(0.25), 2);
	assert_int_equal(prof_decimals_of(1.0 / 3.0), -1);
	/* 2640 x 0.01 */
	assert_true(prof_point_round(bv, 2640 * 0.01) == 26.4);
	assert_false(2640 * 0.01 == 26.4);
	config_free(c);
}

static void test_lp_decimals(void **state)
{
	static const struct {
		double v;
		int dec;
		const char *want;
	} t[] = {
	    {2640 * 0.01, 2, "m v=26.4\n"}, {2300 * 0.1, 1, "m v=230\n"},
	    {0.05 * 3, 2, "m v=0.15\n"},    {-0.001, 2, "m v=0\n"},
	    {-12.345, 1, "m v=-12.3\n"},    {0.1 + 0.2, -1, "m v=0.30000000000000004\n"},
	};
	GString *b = g_string_new(NULL);

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct lp_line l;

		g_string_truncate(b, 0);
		lp_begin(&l, b, "m");
		assert_int_equal(lp_field_float_dec(&l, "v", t[i].v, t[i].dec), 0);
		assert_int_equal(lp_end(&l, LP_NO_TIMESTAMP), 0);
		assert_string_equal(b->str, t[i].want);
	}
	g_string_free(b, TRUE);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/hw-text-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_english),	cmocka_unit_test(test_chinese),
	    cmocka_unit_test(test_cut_utf8),	cmocka_unit_test(test_resolution),
	    cmocka_unit_test(test_lp_decimals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

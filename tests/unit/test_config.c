/* Unit tests of core/config.c and core/profile.c: the shipped example and profiles load
 * with exactly the expected content, and every kind of error is reported as FILE:LINE: message.
 * Data files are under tests/unit/data/config; HW_SRC is the repository root. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf, realpath */
#endif
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"

/* snprintf that fails the test when buf is too small. */
static void fmt(char *buf, size_t sz, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t sz, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, sz, f, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sz);
}

static const char *src_dir(void)
{
	const char *s = getenv("HW_SRC");

	return s && *s ? s : ".";
}

/* Path of a file in the repository. */
static char *src_path(char *buf, size_t sz, const char *rel)
{
	fmt(buf, sz, "%s/%s", src_dir(), rel);
	return buf;
}

#define DATA "tests/unit/data/config/"

/* Absolute path of a test profile, as config_load reports it (profile_dir is made absolute). */
static void profile_abs(char *buf, size_t sz, const char *name)
{
	char rel[PATH_MAX], real[PATH_MAX];

	src_path(rel, sizeof(rel), DATA "profiles");
	assert_non_null(realpath(rel, real));
	fmt(buf, sz, "%s/%s.cfg", real, name);
}

static void print_errors(const struct cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		print_message("  error: %s\n", e->msgs[i]);
}

/* ---- the shipped example and profiles ---- */

static void test_example_loads(void **state)
{
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;
	char path[PATH_MAX];
	const char *pd;
	int rc;

	(void)state;
	rc = config_load(src_path(path, sizeof(path), "etc/hallwatch.cfg"), &c, &errs);
	print_errors(&errs);
	assert_int_equal(rc, 0);
	assert_int_equal(errs.n, 0);
	assert_non_null(c);
	assert_string_equal(c->site.id, "hall-demo");
	pd = c->site.profile_dir;
	assert_true(pd[0] == '/');
	assert_string_equal(pd + strlen(pd) - strlen("/etc/profiles"), "/etc/profiles");
	assert_true(c->mqtt.enabled);
	assert_string_equal(c->mqtt.host, "127.0.0.1");
	assert_int_equal(c->mqtt.port, 1883);
	assert_string_equal(c->mqtt.client_id, "hallwatch-hall-demo");
	assert_false(c->influx.enabled);
	assert_int_equal(c->n_buses, 1);
	assert_string_equal(c->buses[0].id, "bus1");
	assert_int_equal(c->buses[0].type, BUS_TCP);
	assert_string_equal(c->buses[0].host, "127.0.0.1");
	assert_int_equal(c->buses[0].port, 1502);
	assert_int_equal(c->n_devices, 2);
	assert_string_equal(c->devices[0].id, "facp1");
	assert_int_equal(c->devices[0].unit, 1);
	assert_ptr_equal(c->devices[0].bus, &c->buses[0]);
	assert_string_equal(c->devices[0].profile->name, "facp-generic");
	assert_string_equal(c->devices[1].id, "elc1");
	assert_int_equal(c->devices[1].unit, 2);
	assert_ptr_equal(c->devices[1].bus, &c->buses[0]);
	assert_string_equal(c->devices[1].profile->name, "elc-generic");
	assert_int_equal(c->n_profiles, 2);
	config_free(c);
	cfg_errors_clear(&errs);
}

/* Every default of config.h, and a profile shared by two devices loaded once. */
static void test_defaults(void **state)
{
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;
	char path[PATH_MAX], pd[PATH_MAX];
	const struct cfg_device *d;
	int rc;

	(void)state;
	rc = config_load(src_path(path, sizeof(path), DATA "ok_minimal.cfg"), &c, &errs);
	print_errors(&errs);
	assert_int_equal(rc, 0);
	assert_string_equal(c->site.name, "t1");
	profile_abs(pd, sizeof(pd), "x");
	pd[strlen(pd) - strlen("/x.cfg")] = '\0';
	assert_string_equal(c->site.profile_dir, pd);

	assert_true(c->mqtt.enabled);
	assert_string_equal(c->mqtt.host, "127.0.0.1");
	assert_int_equal(c->mqtt.port, 1883);
	assert_string_equal(c->mqtt.client_id, "hallwatch-t1");
	assert_null(c->mqtt.username);
	assert_null(c->mqtt.password);
	assert_int_equal(c->mqtt.keepalive_s, 30);
	assert_int_equal(c->mqtt.qos, 1);
	assert_int_equal(c->mqtt.heartbeat_s, 60);
	assert_string_equal(c->mqtt.topic_root, "hallwatch/v1");
	assert_int_equal(c->mqtt.topic_escape, TOPIC_ESC_NONE);
	assert_int_equal(c->mqtt.reconnect_min_ms, 500);
	assert_int_equal(c->mqtt.reconnect_max_ms, 30000);

	assert_false(c->influx.enabled);
	assert_string_equal(c->influx.url, "http://127.0.0.1:8086");
	assert_int_equal(c->influx.version, 1);
	assert_string_equal(c->influx.database, "hallwatch");
	assert_null(c->influx.token);
	assert_int_equal(c->influx.batch_size, 500);
	assert_int_equal(c->influx.flush_interval_ms, 1000);
	assert_int_equal(c->influx.timeout_ms, 5000);
	assert_int_equal(c->influx.max_buffer, 100000);
	assert_int_equal(c->influx.retry_min_ms, 500);
	assert_int_equal(c->influx.retry_max_ms, 30000);

	assert_string_equal(c->storage.state_dir, "/var/lib/hallwatch");
	assert_false(c->http.enabled);
	assert_string_equal(c->http.bind, "127.0.0.1");
	assert_int_equal(c->http.port, 8080);

	assert_int_equal(c->n_buses, 1);
	assert_int_equal(c->buses[0].type, BUS_TCP);
	assert_int_equal(c->buses[0].port, 502);
	assert_int_equal(c->buses[0].timeout_ms, 1000);
	assert_int_equal(c->buses[0].line, 2);

	assert_int_equal(c->n_devices, 2);
	d = &c->devices[0];
	assert_int_equal(d->unit, 1);
	assert_int_equal(d->interval_ms, 1000);
	assert_int_equal(d->offline_after, 3);
	assert_int_equal(d->backoff_max_ms, 30000);
	assert_int_equal(d->life_check_s, 10);
	assert_int_equal(d->max_regs, 125);
	assert_int_equal(d->max_gap, 0);
	assert_int_equal(d->line, 4);
	assert_string_equal(d->bus_id, "b1");
	assert_string_equal(d->profile_name, "mini");
	assert_int_equal(c->devices[1].unit, 2);
	assert_int_equal(c->n_profiles, 1);
	assert_ptr_equal(c->devices[0].profile, c->profiles[0]);
	assert_ptr_equal(c->devices[1].profile, c->profiles[0]);
	config_free(c);
	cfg_errors_clear(&errs);
}

struct want_point {
	const char *name;
	enum mb_table table;
	unsigned address;
	enum mb_type type;
	int bit;
	enum point_class cls;
	double scale;
	const char *unit;
	enum point_role role;
};

static void check_points(const struct prof_point *pts, size_t n, const struct want_point *w,
			 size_t nw)
{
	assert_int_equal(n, nw);
	for (size_t i = 0; i < n; i++) {
		const struct prof_point *p = &pts[i];

		print_message("  point %s\n", w[i].name);
		assert_string_equal(p->name, w[i].name);
		assert_int_equal(p->table, w[i].table);
		assert_int_equal(p->address, w[i].address);
		assert_int_equal(p->type, w[i].type);
		assert_int_equal(p->bit, w[i].bit);
		assert_int_equal(p->bits, w[i].bit >= 0 ? 1 : 0);
		assert_int_equal(p->cls, w[i].cls);
		assert_true(p->scale == (w[i].scale ? w[i].scale : 1.0));
		assert_true(p->offset == 0.0);
		assert_int_equal(p->order, MB_ORDER_ABCD);
		if (w[i].unit)
			assert_string_equal(p->unit, w[i].unit);
		else
			assert_null(p->unit);
		assert_int_equal(p->role, w[i].role);
	}
}

static struct profile *load_profile(const char *rel)
{
	struct cfg_errors errs = {0};
	struct profile *p = NULL;
	char path[PATH_MAX];
	int rc;

	rc = profile_load(src_path(path, sizeof(path), rel), &p, &errs);
	print_errors(&errs);
	assert_int_equal(rc, 0);
	assert_int_equal(errs.n, 0);
	assert_non_null(p);
	assert_string_equal(p->path, path);
	cfg_errors_clear(&errs);
	return p;
}

#define IN MB_INPUT
#define BIT(n, a, b, c)                                                                            \
	{                                                                                          \
		n, IN, a, MB_T_BOOL, b, c, 0, NULL, PR_NONE                                        \
	}
#define U16(n, a, c)                                                                               \
	{                                                                                          \
		n, IN, a, MB_T_U16, -1, c, 0, NULL, PR_NONE                                        \
	}

static void test_facp_profile(void **state)
{
	static const struct want_point top[] = {
	    U16("system_state", 0, PC_STATUS),
	    BIT("fire", 0, 0, PC_FIRE),
	    BIT("fault", 0, 1, PC_FAULT),
	    BIT("disabled", 0, 2, PC_DISABLED),
	    BIT("supervisory", 0, 3, PC_SUPERVISORY),
	    BIT("started", 0, 4, PC_STATUS),
	    BIT("feedback", 0, 5, PC_STATUS),
	    BIT("delay", 0, 6, PC_STATUS),
	    BIT("mains_power_fault", 0, 7, PC_FAULT),
	    BIT("backup_power_fault", 0, 8, PC_FAULT),
	    BIT("bus_fault", 0, 9, PC_FAULT),
	    BIT("manual_mode", 0, 10, PC_STATUS),
	    BIT("config_changed", 0, 11, PC_STATUS),
	    BIT("reset_in_progress", 0, 12, PC_STATUS),
	    BIT("test_mode", 0, 13, PC_TEST),
	    {"life_check", IN, 1, MB_T_U16, -1, PC_STATUS, 0, NULL, PR_LIFE_CHECK},
	    {"data_change", IN, 2, MB_T_U16, -1, PC_STATUS, 0, NULL, PR_CHANGE_COUNTER},
	    U16("zone_count", 3, PC_STATUS),
	    {"panel_time", IN, 4, MB_T_U32, -1, PC_STATUS, 0, "s", PR_DEVICE_TIME},
	    {"mains_voltage", IN, 6, MB_T_U16, -1, PC_MEASUREMENT, 0.1, "V", PR_NONE},
	    {"battery_voltage", IN, 7, MB_T_U16, -1, PC_MEASUREMENT, 0.01, "V", PR_NONE},
	    {"manual_call_point", MB_DISCRETE, 0, MB_T_BOOL, -1, PC_FIRE, 0, NULL, PR_NONE},
	    {"sounder_active", MB_DISCRETE, 1, MB_T_BOOL, -1, PC_STATUS, 0, NULL, PR_NONE},
	};
	static const struct want_point zone[] = {
	    U16("state", 0, PC_STATUS),
	    BIT("fire", 0, 0, PC_FIRE),
	    BIT("fault", 0, 1, PC_FAULT),
	    BIT("disabled", 0, 2, PC_DISABLED),
	    BIT("supervisory", 0, 3, PC_SUPERVISORY),
	    BIT("started", 0, 4, PC_STATUS),
	    BIT("feedback", 0, 5, PC_STATUS),
	    BIT("pre_alarm", 0, 6, PC_SUPERVISORY),
	};
	struct profile *p = load_profile("etc/profiles/facp-generic.cfg");
	const struct prof_block *b;

	(void)state;
	assert_string_equal(p->name, "facp-generic");
	assert_non_null(p->description);
	check_points(p->points, p->n_points, top, sizeof(top) / sizeof(top[0]));
	assert_int_equal(prof_point_width(profile_find_point(p, "panel_time")), 2);
	assert_int_equal(prof_point_width(profile_find_point(p, "fire")), 1);
	assert_null(profile_find_point(p, "zone_state"));
	assert_int_equal(p->n_blocks, 1);
	b = &p->blocks[0];
	assert_string_equal(b->name, "zone");
	assert_int_equal(b->base, 100);
	assert_int_equal(b->stride, 1);
	assert_string_equal(b->count_point, "zone_count");
	assert_int_equal(b->max_count, 128);
	check_points(b->points, b->n_points, zone, sizeof(zone) / sizeof(zone[0]));
	assert_int_equal(p->n_commands, 2);
	assert_int_equal(profile_find_command(p, "silence")->table, MB_COIL);
	assert_int_equal(profile_find_command(p, "silence")->address, 0);
	assert_int_equal(profile_find_command(p, "reset")->address, 1);
	assert_int_equal(p->n_groups, 3);
	assert_string_equal(p->groups[1].when_changed, "data_change");
	assert_ptr_equal(&p->points[p->groups[1].change_point],
			 profile_find_point(p, "data_change"));
	profile_free(p);
}

static void check_result_enum(const struct prof_point *p)
{
	static const char *const labels[] = {"none", "passed", "failed", "aborted"};

	assert_non_null(p);
	assert_int_equal(p->n_enums, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(p->enums[i].value, (int64_t)i);
		assert_string_equal(p->enums[i].label, labels[i]);
	}
}

static void test_elc_profile(void **state)
{
	static const struct want_point top[] = {
	    U16("controller_state", 0, PC_STATUS),
	    BIT("mains_fault", 0, 0, PC_FAULT),
	    BIT("battery_fault", 0, 1, PC_FAULT),
	    BIT("charger_fault", 0, 2, PC_FAULT),
	    BIT("emergency_mode", 0, 3, PC_STATUS),
	    BIT("function_test_running", 0, 4, PC_TEST),
	    BIT("duration_test_running", 0, 5, PC_TEST),
	    BIT("luminaire_bus_fault", 0, 6, PC_FAULT),
	    BIT("function_test_overdue", 0, 7, PC_SUPERVISORY),
	    BIT("duration_test_overdue", 0, 8, PC_SUPERVISORY),
	    BIT("function_test_failed", 0, 9, PC_FAULT),
	    BIT("duration_test_failed", 0, 10, PC_FAULT),
	    BIT("output_overload", 0, 11, PC_FAULT),
	    {"life_check", IN, 1, MB_T_U16, -1, PC_STATUS, 0, NULL, PR_LIFE_CHECK},
	    U16("luminaire_count", 2, PC_STATUS),
	    U16("luminaires_faulty", 3, PC_MEASUREMENT),
	    {"battery_voltage", IN, 4, MB_T_U16, -1, PC_MEASUREMENT, 0.01, "V", PR_NONE},
	    {"battery_charge", IN, 5, MB_T_U16, -1, PC_MEASUREMENT, 0, "%", PR_NONE},
	    {"output_current", IN, 6, MB_T_U16, -1, PC_MEASUREMENT, 0.01, "A", PR_NONE},
	    {"mains_voltage", IN, 7, MB_T_U16, -1, PC_MEASUREMENT, 0.1, "V", PR_NONE},
	    {"battery_temperature", IN, 8, MB_T_I16, -1, PC_MEASUREMENT, 0.1, "°C", PR_NONE},
	    {"ft_last_time", IN, 10, MB_T_U32, -1, PC_STATUS, 0, "s", PR_NONE},
	    U16("ft_last_result", 12, PC_STATUS),
	    {"ft_last_seconds", IN, 13, MB_T_U16, -1, PC_MEASUREMENT, 0, "s", PR_NONE},
	    {"dt_last_time", IN, 14, MB_T_U32, -1, PC_STATUS, 0, "s", PR_NONE},
	    U16("dt_last_result", 16, PC_STATUS),
	    {"dt_last_minutes", IN, 17, MB_T_U16, -1, PC_MEASUREMENT, 0, "min", PR_NONE},
	    {"rated_minutes", IN, 18, MB_T_U16, -1, PC_STATUS, 0, "min", PR_NONE},
	};
	static const struct want_point lum[] = {
	    U16("state", 0, PC_STATUS),
	    BIT("circuit_fault", 0, 0, PC_FAULT),
	    BIT("battery_duration_fault", 0, 1, PC_FAULT),
	    BIT("battery_fault", 0, 2, PC_FAULT),
	    BIT("lamp_fault", 0, 3, PC_FAULT),
	    BIT("function_test_overdue", 0, 4, PC_SUPERVISORY),
	    BIT("duration_test_overdue", 0, 5, PC_SUPERVISORY),
	    BIT("function_test_failed", 0, 6, PC_FAULT),
	    BIT("duration_test_failed", 0, 7, PC_FAULT),
	    BIT("no_response", 0, 8, PC_FAULT),
	    BIT("in_emergency", 0, 9, PC_STATUS),
	};
	struct profile *p = load_profile("etc/profiles/elc-generic.cfg");
	const struct prof_block *b;

	(void)state;
	assert_string_equal(p->name, "elc-generic");
	check_points(p->points, p->n_points, top, sizeof(top) / sizeof(top[0]));
	check_result_enum(profile_find_point(p, "ft_last_result"));
	check_result_enum(profile_find_point(p, "dt_last_result"));
	assert_int_equal(profile_find_point(p, "battery_voltage")->n_enums, 0);
	assert_int_equal(p->n_blocks, 1);
	b = &p->blocks[0];
	assert_string_equal(b->name, "luminaire");
	assert_int_equal(b->base, 100);
	assert_int_equal(b->stride, 1);
	assert_string_equal(b->count_point, "luminaire_count");
	assert_int_equal(b->max_count, 256);
	check_points(b->points, b->n_points, lum, sizeof(lum) / sizeof(lum[0]));
	/* The coils are commands (written only where allowed), never read as points. */
	assert_int_equal(p->n_commands, 3);
	assert_int_equal(profile_find_command(p, "start_function_test")->table, MB_COIL);
	assert_int_equal(profile_find_command(p, "start_function_test")->address, 0);
	assert_int_equal(profile_find_command(p, "stop_test")->address, 2);
	assert_int_equal(p->n_groups, 3);
	profile_free(p);
}

/* The parts of the format the reference maps do not use. */
static void test_profile_format(void **state)
{
	struct profile *p = load_profile(DATA "profiles/mini.cfg");
	const struct prof_point *pt;
	const struct prof_block *b;

	(void)state;
	pt = profile_find_point(p, "mode");
	assert_int_equal(pt->table, MB_HOLDING);
	assert_int_equal(pt->type, MB_T_U16);
	assert_int_equal(pt->bit, 4);
	assert_int_equal(pt->bits, 3);
	assert_int_equal(prof_point_width(pt), 1);
	pt = profile_find_point(p, "energy");
	assert_int_equal(pt->type, MB_T_F64);
	assert_int_equal(pt->order, MB_ORDER_DCBA);
	assert_true(pt->scale == 2.0);
	assert_true(pt->offset == -1.5);
	assert_string_equal(pt->unit, "kWh");
	assert_int_equal(prof_point_width(pt), 4);
	assert_int_equal(pt->line, 9);
	pt = profile_find_point(p, "door");
	assert_int_equal(pt->table, MB_DISCRETE);
	assert_int_equal(pt->type, MB_T_BOOL);
	assert_int_equal(pt->cls, PC_SUPERVISORY);
	assert_int_equal(prof_point_width(pt), 1);
	assert_int_equal(p->n_blocks, 2);
	b = &p->blocks[0];
	assert_string_equal(b->name, "ch");
	assert_int_equal(b->base, 200);
	assert_int_equal(b->stride, 10);
	assert_int_equal(b->count, 4);
	assert_null(b->count_point);
	assert_int_equal(b->max_count, 4);
	assert_int_equal(b->points[0].type, MB_T_I32);
	assert_int_equal(b->points[0].order, MB_ORDER_CDAB);
	assert_int_equal(prof_point_width(&b->points[0]), 2);
	b = &p->blocks[1];
	assert_int_equal(b->stride, 1);
	assert_string_equal(b->count_point, "count");
	assert_int_equal(b->max_count, 32);
	assert_int_equal(b->line, 15);
	assert_null(profile_find_point(p, "temp"));
	assert_null(profile_find_point(NULL, "temp"));

	assert_string_equal(mb_table_name(MB_COIL), "coil");
	assert_string_equal(mb_table_name(MB_DISCRETE), "discrete");
	assert_string_equal(mb_table_name(MB_INPUT), "input");
	assert_string_equal(mb_table_name(MB_HOLDING), "holding");
	assert_string_equal(point_class_name(PC_MEASUREMENT), "measurement");
	assert_string_equal(point_class_name(PC_STATUS), "status");
	assert_string_equal(point_class_name(PC_FIRE), "fire");
	assert_string_equal(point_class_name(PC_SUPERVISORY), "supervisory");
	assert_string_equal(point_class_name(PC_FAULT), "fault");
	assert_string_equal(point_class_name(PC_DISABLED), "disabled");
	assert_string_equal(point_class_name(PC_TEST), "test");
	profile_free(p);
	profile_free(NULL);
}

/* ---- errors ---- */

/* Checks that errs holds exactly the lines given, each "FILE:LINE: message". */
static void expect_errors(const struct cfg_errors *errs, const char *const *want, size_t n)
{
	print_errors(errs);
	assert_int_equal(errs->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(errs->msgs[i], want[i]);
}

struct bad_case {
	const char *file; /* under DATA */
	int line;
	const char *msg;
	const char *in_profile; /* the error's FILE is this profile, not the config file */
};

static void run_bad_config(const struct bad_case *bc)
{
	struct cfg_errors errs = {0};
	struct hw_config *c = (struct hw_config *)1;
	char path[PATH_MAX], rel[PATH_MAX], file[PATH_MAX], *want;
	int rc;

	fmt(rel, sizeof(rel), DATA "%s", bc->file);
	src_path(path, sizeof(path), rel);
	if (bc->in_profile)
		profile_abs(file, sizeof(file), bc->in_profile);
	else
		fmt(file, sizeof(file), "%s", path);
	assert_true(asprintf(&want, "%s:%d: %s", file, bc->line, bc->msg) > 0);
	print_message("%s\n", bc->file);
	rc = config_load(path, &c, &errs);
	assert_int_equal(rc, -EINVAL);
	assert_null(c);
	expect_errors(&errs, (const char *const *)&want, 1);
	free(want);
	cfg_errors_clear(&errs);
	assert_int_equal(errs.n, 0);
	assert_null(errs.msgs);
}

static void test_bad_configs(void **state)
{
	static const struct bad_case cases[] = {
	    {"unknown_key.cfg", 4, "mqtt: unknown setting \"prot\"", NULL},
	    {"wrong_type.cfg", 3, "mqtt.port: expected an integer, got a string", NULL},
	    {"out_of_range.cfg", 5, "devices[0].unit: 300 is out of range (0..247)", NULL},
	    {"dup_device.cfg", 6, "duplicate device id \"d1\" (first defined at line 4)", NULL},
	    {"dup_bus.cfg", 4, "duplicate bus id \"b1\" (first defined at line 3)", NULL},
	    {"unknown_bus.cfg", 5, "device \"d1\": unknown bus \"b9\"", NULL},
	    {"parse_error.cfg", 4, "syntax error", NULL},
	    {"bad_site_id.cfg", 2,
	     "site.id: \"hall demo/1\" is not a valid name (use only A-Z a-z 0-9 _ -)", NULL},
	    {"bad_timezone.cfg", 2,
	     "site.timezone: \"Mars/Olympus_Mons\" is no time zone this machine knows (an IANA "
	     "name such as \"Asia/Shanghai\" from /usr/share/zoneinfo, or \"+08:00\")",
	     NULL},
	    {"missing_required.cfg", 4, "devices[0]: missing required setting \"profile\"", NULL},
	    {"rtu_bus.cfg", 3, "buses[0]: missing required setting \"device\"", NULL},
	    {"tcp_baud.cfg", 4, "buses[0]: baud does not apply to a tcp bus", NULL},
	    {"bad_maint.cfg", 5,
	     "alerts.maintenance[0].from: \"tomorrow\" is not an ISO 8601 time with its zone "
	     "(2026-11-25T08:00:00+08:00)",
	     NULL},
	    {"bad_interval.cfg", 5, "device \"d1\": profile \"mini\" has no group \"fast\"", NULL},
	    {"bad_allow.cfg", 5, "device \"d1\": profile \"mini\" has no command \"self_destruct\"",
	     NULL},
	    {"cameras.cfg", 3, "cameras[0]: missing required setting \"url\"", NULL},
	    {"http_bad_hash.cfg", 4,
	     "http.users[0].password_hash: not a yescrypt hash (\"$y$...\": make one with "
	     "`hallwatch passwd`)",
	     NULL},
	    {"http_bad_role.cfg", 4,
	     "http.users[0].role: \"root\" is not one of viewer, operator, inspector, admin", NULL},
	    {"http_bad_token.cfg", 4,
	     "http.tokens[0].token_sha256: not 64 hex digits (make one with `hallwatch passwd "
	     "--token`)",
	     NULL},
	    {"http_tls_half.cfg", 4, "http: tls_cert and tls_key go together", NULL},
	    {"http_dup_user.cfg", 3, "http.users: \"olga\" is listed twice", NULL},
	    /* Two devices use the broken profile: its error is reported once, in its file. */
	    {"bad_profile.cfg", 3,
	     "point \"field\": bit 14 + bits 4 exceed the 16 bits of the register",
	     "bad-bit-range"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_bad_config(&cases[i]);
}

static void test_missing_profile(void **state)
{
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;
	char path[PATH_MAX], prof[PATH_MAX], *want;

	(void)state;
	src_path(path, sizeof(path), DATA "missing_profile.cfg");
	profile_abs(prof, sizeof(prof), "nope");
	assert_true(asprintf(&want, "%s:5: device \"d1\": profile \"nope\" not found (no file %s)",
			     path, prof) > 0);
	assert_int_equal(config_load(path, &c, &errs), -EINVAL);
	expect_errors(&errs, (const char *const *)&want, 1);
	free(want);
	cfg_errors_clear(&errs);
}

static void test_many_errors(void **state)
{
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;
	char path[PATH_MAX], prof[PATH_MAX];
	char *want[10];
	const char *msgs[10] = {
	    "1: site: unknown setting \"colour\"",
	    "2: mqtt.port: 0 is out of range (1..65535)",
	    "2: mqtt.qos: expected an integer, got a string",
	    "3: influx.enabled: expected a boolean (true or false), got a string",
	    "7: devices[1].interval_ms: 5 is out of range (10..3600000)",
	    "9: rules[0]: missing required setting \"device\"",
	    "9: rules[0]: needs exactly one of equals, above, below, quality, offline",
	    "6: device \"d1\": unknown bus \"b2\"",
	    "7: duplicate device id \"d1\" (first defined at line 6)",
	    NULL,
	};

	(void)state;
	src_path(path, sizeof(path), DATA "many_errors.cfg");
	profile_abs(prof, sizeof(prof), "absent");
	for (size_t i = 0; i < 9; i++)
		assert_true(asprintf(&want[i], "%s:%s", path, msgs[i]) > 0);
	assert_true(asprintf(&want[9],
			     "%s:7: device \"d1\": profile \"absent\" not found (no file %s)", path,
			     prof) > 0);
	assert_int_equal(config_load(path, &c, &errs), -EINVAL);
	assert_null(c);
	expect_errors(&errs, (const char *const *)want, 10);
	for (size_t i = 0; i < 10; i++)
		free(want[i]);
	cfg_errors_clear(&errs);
}

static void test_unreadable(void **state)
{
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;
	struct profile *p = NULL;
	char path[PATH_MAX];
	const char *want[1];
	char *w;

	(void)state;
	src_path(path, sizeof(path), DATA "no_such_file.cfg");
	assert_int_equal(config_load(path, &c, &errs), -ENOENT);
	assert_true(asprintf(&w, "%s:0: cannot read the configuration: No such file or directory",
			     path) > 0);
	want[0] = w;
	expect_errors(&errs, want, 1);
	free(w);
	cfg_errors_clear(&errs);
	assert_int_equal(profile_load(path, &p, &errs), -ENOENT);
	assert_null(p);
	assert_int_equal(errs.n, 1);
	cfg_errors_clear(&errs);
	/* Without an error list the result is the same. */
	assert_int_equal(config_load(path, &c, NULL), -ENOENT);
	src_path(path, sizeof(path), DATA "dup_bus.cfg");
	assert_int_equal(config_load(path, &c, NULL), -EINVAL);
	assert_null(c);
	config_free(NULL);
	cfg_errors_clear(&errs);
}

/* One file per kind of profile error, loaded with profile_load. */
static void test_bad_profiles(void **state)
{
	static const struct {
		const char *name;
		size_t n;
		const char *err[2]; /* "LINE: message" */
	} cases[] = {
	    {"bad-dup-name", 1, {"4: point \"a\": name already used at line 3"}},
	    {"bad-bit-range",
	     1,
	     {"3: point \"field\": bit 14 + bits 4 exceed the 16 bits of the register"}},
	    {"bad-bit-type",
	     1,
	     {"3: point \"wide\": bit applies only to a 16-bit register (u16 or i16), not u32"}},
	    {"bad-coil-type", 1, {"4: point \"relay\": a coil point has type bool, not u16"}},
	    {"bad-count-point",
	     1,
	     {"6: block \"zone\": count point \"zones\" is not a top-level point"}},
	    {"bad-addr-overflow",
	     1,
	     {"3: point \"big\": address 65535 + 2 registers run past 65535"}},
	    {"bad-block-overflow",
	     1,
	     {"7: point \"zone.s\": instance 127 ends at address 65627, past 65535"}},
	    {"bad-unknown-key",
	     2,
	     {"3: profile.points[0]: unknown setting \"adress\"",
	      "3: profile.points[0]: missing required setting \"address\""}},
	    {"bad-enum", 1, {"5: point \"result\": enum value 0 given twice"}},
	    {"bad-group", 1, {"3: point \"a\": unknown group \"fast\""}},
	    {"bad-bit-stride",
	     1,
	     {"5: point \"zone.fire\": in a block with bit_stride 4 a point is a bit field within "
	      "the instance's 4 bits"}},
	    {"bad-command",
	     1,
	     {"4: command \"go\": only a coil or a holding register can be written"}},
	    {"bad-role",
	     1,
	     {"3: point \"clock\": role device_time needs a whole integer register point"}},
	    {"bad-max", 1, {"6: block \"zone\": max is required when count names a point"}},
	    {"bad-name",
	     1,
	     {"2: profile.name: \"something-else\" does not match the file name "
	      "\"bad-name.cfg\""}},
	    {"bad-table",
	     1,
	     {"2: profile.points[0].table: \"inputs\" is not one of coil, discrete, input, "
	      "holding"}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg_errors errs = {0};
		struct profile *p = (struct profile *)1;
		char rel[PATH_MAX], path[PATH_MAX];
		char *want[2] = {NULL, NULL};

		fmt(rel, sizeof(rel), DATA "profiles/%s.cfg", cases[i].name);
		src_path(path, sizeof(path), rel);
		print_message("%s\n", cases[i].name);
		for (size_t j = 0; j < cases[i].n; j++)
			assert_true(asprintf(&want[j], "%s:%s", path, cases[i].err[j]) > 0);
		assert_int_equal(profile_load(path, &p, &errs), -EINVAL);
		assert_null(p);
		expect_errors(&errs, (const char *const *)want, cases[i].n);
		for (size_t j = 0; j < cases[i].n; j++)
			free(want[j]);
		cfg_errors_clear(&errs);
	}
}

/* Secrets may come from files: the camera password is read from password_file, and giving
 * both the password and the file is an error. */
static void test_camera_password_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/hw-cfg-XXXXXX";
	char pw[512], cfgp[512], text[2048];
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(pw, sizeof(pw), "%s/cam.pw", dir);
	snprintf(cfgp, sizeof(cfgp), "%s/hw.cfg", dir);
	f = fopen(pw, "w");
	assert_non_null(f);
	fputs("s3cret\n", f);
	fclose(f);
	chmod(pw, 0600);
	snprintf(text, sizeof(text),
		 "site = { id = \"t1\"; };\n"
		 "cameras = ( { id = \"cam1\"; url = \"rtsp://127.0.0.1:8554/cam1\";\n"
		 "  username = \"admin\"; password_file = \"%s\"; } );\n",
		 pw);
	f = fopen(cfgp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(config_load(cfgp, &c, &errs), 0);
	assert_int_equal(c->n_cameras, 1);
	assert_string_equal(c->cameras[0].password, "s3cret");
	config_free(c);
	c = NULL;

	snprintf(text, sizeof(text),
		 "site = { id = \"t1\"; };\n"
		 "cameras = ( { id = \"cam1\"; url = \"rtsp://127.0.0.1:8554/cam1\";\n"
		 "  password = \"x\"; password_file = \"%s\"; } );\n",
		 pw);
	f = fopen(cfgp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(config_load(cfgp, &c, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msgs[0], ":3: cameras.[0].password_file: give either "
					     "cameras[0].password or the file, not both"));
	cfg_errors_clear(&errs);
	unlink(pw);
	unlink(cfgp);
	rmdir(dir);
}

/* ---- files that cannot be read, and bounds (cfgsrc.h) ---- */

/* A scratch folder per test, removed with everything in it. */
static char scratch[64];

static int scratch_setup(void **state)
{
	(void)state;
	snprintf(scratch, sizeof(scratch), "/tmp/hw-cfgsrc-XXXXXX");
	return mkdtemp(scratch) ? 0 : -1;
}

static int scratch_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	return system(cmd) == 0 ? 0 : -1;
}

static char *in_scratch(char *buf, size_t sz, const char *name)
{
	fmt(buf, sz, "%s/%s", scratch, name);
	return buf;
}

static void put(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f = fopen(in_scratch(path, sizeof(path), name), "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* A file of `size` bytes: a setting whose string fills it (or a comment: `comment`). */
static void put_big(const char *name, size_t size, bool comment)
{
	char path[PATH_MAX];
	FILE *f = fopen(in_scratch(path, sizeof(path), name), "w");

	assert_non_null(f);
	assert_true(fputs(comment ? "#" : "filler = \"", f) >= 0);
	for (size_t i = comment ? 1 : 10; i < size - (comment ? 1 : 3); i++)
		assert_true(fputc('x', f) != EOF);
	assert_true(fputs(comment ? "\n" : "\";\n", f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* config_load of a scratch file, which must fail with rc within max_s seconds (a hang is
 * ended by SIGALRM, which fails the test) with exactly the n errors of want, each "NAME:"
 * (NAME a scratch file) followed by the rest. */
static void expect_load(const char *name, int rc, double max_s, size_t n, const char *const *want)
{
	struct cfg_errors errs = {0};
	struct hw_config *c = (struct hw_config *)1;
	char path[PATH_MAX], *w[4];
	double t0 = mono_s(), took;

	assert_true(n <= 4);
	in_scratch(path, sizeof(path), name);
	alarm(10);
	assert_int_equal(config_load(path, &c, &errs), rc);
	alarm(0);
	took = mono_s() - t0;
	print_message("%s: %.3f s\n", name, took);
	assert_true(took < max_s);
	assert_null(c);
	for (size_t i = 0; i < n; i++) {
		/* want[i] is "FILE\tREST": FILE made a scratch path. */
		const char *tab = strchr(want[i], '\t');

		assert_non_null(tab);
		assert_true(asprintf(&w[i], "%s/%.*s%s", scratch, (int)(tab - want[i]), want[i],
				     tab + 1) > 0);
	}
	expect_errors(&errs, (const char *const *)w, n);
	for (size_t i = 0; i < n; i++)
		free(w[i]);
	cfg_errors_clear(&errs);
}

#define SITE "site = { id = \"t1\"; };\n"

/* An @include of a directory is an error at the directive; libconfig's scanner used to end
 * the process ("input in flex scanner failed", exit 2). */
static void test_include_directory(void **state)
{
	char path[PATH_MAX], w0[PATH_MAX + 128];
	const char *want[] = {w0};

	(void)state;
	assert_int_equal(mkdir(in_scratch(path, sizeof(path), "sub"), 0750), 0);
	put("main.cfg", SITE "@include \"sub\"\nmqtt = { enabled = false; };\n");
	fmt(w0, sizeof(w0), "main.cfg\t:2: @include \"sub\": cannot read %s/sub: it is a directory",
	    scratch);
	expect_load("main.cfg", -EINVAL, 1.0, 1, want);
	/* The directory named as the configuration itself. */
	fmt(w0, sizeof(w0), "sub\t:0: cannot read the configuration: it is a directory");
	expect_load("sub", -EISDIR, 1.0, 1, want);
}

/* A FIFO, included or named as the configuration, is refused at once (it used to block
 * until someone wrote to it). */
static void test_include_fifo(void **state)
{
	char path[PATH_MAX], w0[PATH_MAX + 128];
	const char *want[] = {w0};

	(void)state;
	assert_int_equal(mkfifo(in_scratch(path, sizeof(path), "fifo.cfg"), 0600), 0);
	put("main.cfg", SITE "\n@include \"fifo.cfg\"\n");
	fmt(w0, sizeof(w0),
	    "main.cfg\t:3: @include \"fifo.cfg\": cannot read %s/fifo.cfg: not a regular file (a "
	    "FIFO)",
	    scratch);
	expect_load("main.cfg", -EINVAL, 1.0, 1, want);
	fmt(w0, sizeof(w0),
	    "fifo.cfg\t:0: cannot read the configuration: not a regular file (a FIFO)");
	expect_load("fifo.cfg", -EINVAL, 1.0, 1, want);
}

/* A symlink loop and a file that includes itself are errors at the directive. */
static void test_include_loops(void **state)
{
	char path[PATH_MAX], w0[PATH_MAX + 128];
	const char *want[] = {w0};

	(void)state;
	assert_int_equal(symlink("loop-b.cfg", in_scratch(path, sizeof(path), "loop-a.cfg")), 0);
	assert_int_equal(symlink("loop-a.cfg", in_scratch(path, sizeof(path), "loop-b.cfg")), 0);
	put("main.cfg", SITE "# a loop of links:\n@include \"loop-a.cfg\"\n");
	fmt(w0, sizeof(w0),
	    "main.cfg\t:3: @include \"loop-a.cfg\": cannot read %s/loop-a.cfg: Too many levels of "
	    "symbolic links",
	    scratch);
	expect_load("main.cfg", -EINVAL, 1.0, 1, want);

	put("self.cfg", SITE "@include \"again.cfg\"\n");
	put("again.cfg", "\n@include \"self.cfg\"\n");
	fmt(w0, sizeof(w0),
	    "again.cfg\t:2: @include \"self.cfg\": %s/self.cfg includes itself (an include loop)",
	    scratch);
	expect_load("self.cfg", -EINVAL, 1.0, 1, want);
}

/* Big inputs are refused within a fraction of a second, with the bound they exceed: a 2 MiB
 * string took libconfig 2.5 s and 8 MiB more than 10 s. */
static void test_huge_inputs(void **state)
{
	char w0[PATH_MAX + 128];
	const char *want[] = {w0};

	(void)state;
	put_big("big.cfg", 8 * 1024 * 1024, false);
	fmt(w0, sizeof(w0),
	    "big.cfg\t:0: cannot read the configuration: 8388608 bytes, more than the 1048576 "
	    "allowed");
	expect_load("big.cfg", -EFBIG, 1.0, 1, want);

	put("main.cfg", SITE "@include \"big.cfg\"\n");
	fmt(w0, sizeof(w0),
	    "main.cfg\t:2: @include \"big.cfg\": cannot read %s/big.cfg: 8388608 bytes, more than "
	    "the 1048576 allowed",
	    scratch);
	expect_load("main.cfg", -EINVAL, 1.0, 1, want);

	/* Within the file size, a string is bounded on its own. */
	put_big("str.cfg", 1000 * 1000, false);
	put("main.cfg", SITE "mqtt = { enabled = false; };\n@include \"str.cfg\"\n");
	fmt(w0, sizeof(w0), "str.cfg\t:1: a string of more than 65536 bytes");
	expect_load("main.cfg", -EINVAL, 1.0, 1, want);
	/* Adjacent strings are one string to libconfig. */
	{
		char *text = malloc(80 * 1024);

		assert_non_null(text);
		strcpy(text, SITE "site2 =\n");
		for (int i = 0; i < 40; i++) {
			size_t n = strlen(text);

			text[n] = '"';
			memset(text + n + 1, 'y', 2000);
			strcpy(text + n + 2001, "\"\n");
		}
		strcat(text, ";\n");
		put("join.cfg", text);
		free(text);
	}
	fmt(w0, sizeof(w0), "join.cfg\t:3: a string of more than 65536 bytes");
	expect_load("join.cfg", -EINVAL, 1.0, 1, want);

	/* What a file includes counts: three files of 800 kB pass 2 MiB at the third. */
	put_big("c800.cfg", 800 * 1000, true);
	put("main.cfg",
	    SITE "@include \"c800.cfg\"\n@include \"c800.cfg\"\n@include \"c800.cfg\"\n");
	fmt(w0, sizeof(w0),
	    "main.cfg\t:4: @include \"c800.cfg\": more than 2097152 bytes with what is already "
	    "included");
	expect_load("main.cfg", -EINVAL, 1.0, 1, want);

	/* libconfig checks each new member against the group's others: bounded too. */
	{
		char *text = malloc(64 * 1024);

		assert_non_null(text);
		strcpy(text, SITE "g = {\n");
		for (int i = 0; i < 300; i++)
			sprintf(text + strlen(text), "  m%d = %d;\n", i, i);
		strcat(text, "};\n");
		put("wide.cfg", text);
		free(text);
	}
	fmt(w0, sizeof(w0), "wide.cfg\t:259: more than 256 settings in one group");
	expect_load("wide.cfg", -EINVAL, 1.0, 1, want);

	put("deep.cfg",
	    SITE "g = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]];\n");
	fmt(w0, sizeof(w0), "deep.cfg\t:2: groups, lists or arrays nested more than 32 deep");
	expect_load("deep.cfg", -EINVAL, 1.0, 1, want);

	put("nul.cfg", SITE "mqtt = { enabled = false; };\n");
	{
		char path[PATH_MAX];
		FILE *f = fopen(in_scratch(path, sizeof(path), "nul.cfg"), "a");

		assert_non_null(f);
		assert_int_equal(fwrite("x = 1;\0\n", 1, 8, f), 8);
		assert_int_equal(fclose(f), 0);
	}
	fmt(w0, sizeof(w0), "nul.cfg\t:3: a NUL byte: not a text file");
	expect_load("nul.cfg", -EINVAL, 1.0, 1, want);
}

/* A profile that cannot be read is an error at the device that names it (it used to be
 * FILE:0:, and a directory ended the process). */
static void test_unreadable_profile(void **state)
{
	char path[PATH_MAX], w[3][PATH_MAX + 160];
	const char *want[] = {w[0], w[1], w[2]};
	struct cfg_errors errs = {0};
	struct profile *p = (struct profile *)1;

	(void)state;
	assert_int_equal(mkdir(in_scratch(path, sizeof(path), "profiles"), 0750), 0);
	assert_int_equal(mkdir(in_scratch(path, sizeof(path), "profiles/dirp.cfg"), 0750), 0);
	assert_int_equal(symlink("loopp.cfg", in_scratch(path, sizeof(path), "profiles/loopp.cfg")),
			 0);
	assert_int_equal(symlink("nowhere", in_scratch(path, sizeof(path), "profiles/gone.cfg")),
			 0);
	put("main.cfg", SITE "buses = ( { id = \"b1\"; host = \"127.0.0.1\"; } );\n"
			     "devices = (\n"
			     "  { id = \"d1\"; bus = \"b1\";\n"
			     "    profile = \"dirp\"; },\n"
			     "  { id = \"d2\"; bus = \"b1\"; unit = 2; profile = \"loopp\"; },\n"
			     "  { id = \"d3\"; bus = \"b1\"; unit = 3; profile = \"gone\"; }\n"
			     ");\n");
	fmt(w[0], sizeof(w[0]),
	    "main.cfg\t:5: device \"d1\": cannot read the profile %s/profiles/dirp.cfg: it is a "
	    "directory",
	    scratch);
	fmt(w[1], sizeof(w[1]),
	    "main.cfg\t:6: device \"d2\": cannot read the profile %s/profiles/loopp.cfg: Too many "
	    "levels of symbolic links",
	    scratch);
	fmt(w[2], sizeof(w[2]),
	    "main.cfg\t:7: device \"d3\": profile \"gone\" not found (no file "
	    "%s/profiles/gone.cfg)",
	    scratch);
	expect_load("main.cfg", -EINVAL, 1.0, 3, want);

	/* profile_load, which has no device to name, names the file. */
	alarm(10);
	assert_int_equal(
	    profile_load(in_scratch(path, sizeof(path), "profiles/dirp.cfg"), &p, &errs), -EISDIR);
	alarm(0);
	assert_null(p);
	fmt(w[0], sizeof(w[0]), "%s:0: cannot read the profile: it is a directory", path);
	expect_errors(&errs, want, 1);
	cfg_errors_clear(&errs);
}

/* A secret or TLS file that is a FIFO or a directory is refused at its setting at once (a
 * FIFO used to block the load, or the TLS library at start; a directory gave an empty
 * password). */
static void test_secret_not_a_file(void **state)
{
	char path[PATH_MAX], text[PATH_MAX + 256], w[3][PATH_MAX + 160];
	const char *want[] = {w[0], w[1], w[2]};

	(void)state;
	assert_int_equal(mkfifo(in_scratch(path, sizeof(path), "pw.fifo"), 0600), 0);
	assert_int_equal(mkdir(in_scratch(path, sizeof(path), "pw.d"), 0750), 0);
	fmt(text, sizeof(text),
	    SITE "mqtt = { username = \"u\";\n"
		 "  password_file = \"%s/pw.fifo\";\n"
		 "  cafile = \"%s/pw.fifo\"; };\n"
		 "influx = { enabled = true; password_file = \"%s/pw.d\"; };\n",
	    scratch, scratch, scratch);
	put("main.cfg", text);
	fmt(w[0], sizeof(w[0]),
	    "main.cfg\t:3: mqtt.password_file: cannot read \"%s/pw.fifo\": not a regular file",
	    scratch);
	fmt(w[1], sizeof(w[1]),
	    "main.cfg\t:5: influx.password_file: cannot read \"%s/pw.d\": not a regular file",
	    scratch);
	fmt(w[2], sizeof(w[2]),
	    "main.cfg\t:4: mqtt.cafile: cannot read \"%s/pw.fifo\": not a regular file", scratch);
	expect_load("main.cfg", -EINVAL, 1.0, 3, want);
}

/* Errors in and after included text name the file and line they come from; an absolute name
 * is taken as is; a directive in a comment or a string is not one; a list may be split
 * across files. */
static void test_include_lines(void **state)
{
	char path[PATH_MAX], text[PATH_MAX + 512], w[3][PATH_MAX + 160];
	const char *want[] = {w[0], w[1], w[2]};
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;

	(void)state;
	assert_int_equal(mkdir(in_scratch(path, sizeof(path), "profiles"), 0750), 0);
	put("profiles/p.cfg",
	    "profile = {\n  points = ( { name = \"s\"; table = \"input\"; address = 0; } );\n};\n");
	put("devs.cfg", "  { id = \"d1\"; bus = \"b1\"; profile = \"p\"; },\n"
			"  { id = \"d2\"; bus = \"b1\"; unit = 2; profile = \"p\"; }\n");
	fmt(text, sizeof(text),
	    SITE "/* @include \"nothing.cfg\"\n"
		 "@include \"nothing.cfg\" */\n"
		 "buses = ( { id = \"b1\"; host = \"127.0.0.1\"; } );\n"
		 "devices = (\n"
		 "  @include \"%s/devs.cfg\"   # absolute\n"
		 ");\n",
	    scratch);
	put("main.cfg", text);
	alarm(10);
	assert_int_equal(config_load(in_scratch(path, sizeof(path), "main.cfg"), &c, &errs), 0);
	alarm(0);
	print_errors(&errs);
	assert_int_equal(c->n_devices, 2);
	assert_string_equal(c->devices[1].id, "d2");
	assert_ptr_equal(c->devices[1].profile, c->profiles[0]);
	config_free(c);
	c = NULL;

	put("more.cfg", "mqtt = { enabled = false; };\n"
			"\n"
			"colour = \"red\";\n"
			"devices = ( { id = \"d1\"; bus = \"b1\"; profile = \"p\"; } );\n");
	put("main.cfg", SITE "buses = ( { id = \"b1\"; host = \"127.0.0.1\"; } );\n"
			     "@include \"more.cfg\"\n"
			     "mqtt2 = 1;\n"
			     "buses2 = ( { id = \"b1\"; bus = \"b1\"; } );\n");
	fmt(w[0], sizeof(w[0]), "more.cfg\t:3: unknown setting \"colour\"");
	fmt(w[1], sizeof(w[1]), "main.cfg\t:4: unknown setting \"mqtt2\"");
	fmt(w[2], sizeof(w[2]), "main.cfg\t:5: unknown setting \"buses2\"");
	expect_load("main.cfg", -EINVAL, 1.0, 3, want);

	/* A duplicate across files names the first one's file. */
	put("main.cfg", SITE "buses = ( { id = \"b1\"; host = \"127.0.0.1\"; } );\n"
			     "devices = (\n"
			     "@include \"devs.cfg\"\n"
			     ", { id = \"d2\"; bus = \"b1\"; unit = 3; profile = \"p\"; } );\n");
	fmt(w[0], sizeof(w[0]),
	    "main.cfg\t:5: duplicate device id \"d2\" (first defined at %s/devs.cfg:2)", scratch);
	expect_load("main.cfg", -EINVAL, 1.0, 1, want);

	/* A syntax error in an included file, and what may not follow a directive. */
	put("bad.cfg", "x = 1;\ny = ;\n");
	put("main.cfg", SITE "@include \"bad.cfg\"\n");
	fmt(w[0], sizeof(w[0]), "bad.cfg\t:2: syntax error");
	expect_load("main.cfg", -EINVAL, 1.0, 1, want);
	put("main.cfg", SITE "@include \"devs.cfg\" x = 1;\n");
	fmt(w[0], sizeof(w[0]),
	    "main.cfg\t:2: @include \"devs.cfg\": nothing but a comment may follow on its line");
	expect_load("main.cfg", -EINVAL, 1.0, 1, want);
	put("main.cfg", SITE "@include \"absent.cfg\"\n");
	fmt(w[0], sizeof(w[0]),
	    "main.cfg\t:2: @include \"absent.cfg\": cannot read %s/absent.cfg: No such file or "
	    "directory",
	    scratch);
	expect_load("main.cfg", -EINVAL, 1.0, 1, want);
}

/* ---- references between parts of the configuration (issue 12, item 7) ---- */

/* The two shipped profiles, two devices, one camera: `body` is appended. */
static void put_refs(const char *name, const char *body)
{
	char text[4096], prof[PATH_MAX], real[PATH_MAX];

	assert_non_null(realpath(src_path(prof, sizeof(prof), "etc/profiles"), real));
	fmt(text, sizeof(text),
	    "site = { id = \"t1\"; profile_dir = \"%s\"; };\n"				   /* 1 */
	    "buses = ( { id = \"b1\"; host = \"127.0.0.1\"; } );\n"			   /* 2 */
	    "devices = ( { id = \"facp1\"; bus = \"b1\"; profile = \"facp-generic\"; },\n" /* 3 */
	    "  { id = \"elc1\"; bus = \"b1\"; profile = \"elc-generic\"; } );\n"	   /* 4 */
	    "%s",
	    real, body);
	put(name, text);
}

/* config_load of a scratch file fails with exactly the errors of want, each "LINE: message"
 * after the file's path. */
static void expect_refs(const char *name, size_t n, const char *const *want)
{
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;
	char path[PATH_MAX], w[1024];

	in_scratch(path, sizeof(path), name);
	assert_int_equal(config_load(path, &c, &errs), -EINVAL);
	assert_null(c);
	print_errors(&errs);
	assert_int_equal(errs.n, n);
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		fmt(w, sizeof(w), "%s:%s", path, want[i]);
		for (size_t k = 0; k < errs.n; k++)
			found |= strcmp(errs.msgs[k], w) == 0;
		if (!found)
			print_message("  missing: %s\n", w);
		assert_true(found);
	}
	cfg_errors_clear(&errs);
}

/* A camera's alert_points: no such device, an index beyond the block, no such point. */
static void test_refs_alert_points(void **state)
{
	static const char *const want[] = {
	    "6: camera \"cam1\": alert_points \"facp9:zone[3].fire\": unknown device \"facp9\"",
	    "7: camera \"cam1\": alert_points \"facp1:zone[128].fire\": zone 128 is out of range: "
	    "profile \"facp-generic\" has zone[0] .. zone[127]",
	    "8: camera \"cam1\": alert_points \"facp1:zone[3].fier\": profile \"facp-generic\" has "
	    "no point \"fier\" in block \"zone\"",
	    "9: camera \"cam1\": alert_points \"facp1:fier\": profile \"facp-generic\" has no "
	    "point "
	    "\"fier\"",
	    "10: camera \"cam1\": alert_points \"facp1:zone[x].fire\": \"zone[x].fire\" is not a "
	    "point key (NAME or BLOCK[i].NAME)",
	    "11: camera \"cam1\": alert_points \"elc1:luminaire[256].lamp_fault\": luminaire 256 "
	    "is "
	    "out of range: profile \"elc-generic\" has luminaire[0] .. luminaire[255]",
	};
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;
	char path[PATH_MAX];

	(void)state;
	put_refs("cam.cfg", "cameras = ( { id = \"cam1\"; url = \"rtsp://127.0.0.1/x\";\n" /* 5 */
			    "  alert_points = [ \"facp9:zone[3].fire\",\n"		   /* 6 */
			    "    \"facp1:zone[128].fire\",\n"				   /* 7 */
			    "    \"facp1:zone[3].fier\",\n"				   /* 8 */
			    "    \"facp1:fier\",\n"					   /* 9 */
			    "    \"facp1:zone[x].fire\",\n"				   /* 10 */
			    "    \"elc1:luminaire[256].lamp_fault\",\n"			   /* 11 */
			    "    \"facp1:zone[127].fire\", \"facp1:manual_call_point\",\n"
			    "    \"elc1:luminaire[0].lamp_fault\" ]; } );\n");
	expect_refs("cam.cfg", sizeof(want) / sizeof(want[0]), want);
	/* The good ones alone load. */
	put_refs("good.cfg",
		 "cameras = ( { id = \"cam1\"; url = \"rtsp://127.0.0.1/x\";\n"
		 "  alert_points = [ \"facp1:zone[3].fire\", \"facp1:zone[127].fire\",\n"
		 "    \"facp1:manual_call_point\", \"elc1:luminaire[0].lamp_fault\" ]; } "
		 ");\n");
	assert_int_equal(config_load(in_scratch(path, sizeof(path), "good.cfg"), &c, &errs), 0);
	assert_int_equal(c->cameras[0].n_alert_points, 4);
	config_free(c);
}

/* Rules: a point pattern no point of the device matches, inhibit_when not a point. */
static void test_refs_rules(void **state)
{
	static const char *const want[] = {
	    "6: rule \"r1\": point \"luminaire[*].in_emergensy\" matches no point of device "
	    "\"elc1\"",
	    "7: rule \"r1\": inhibit_when \"mains_fualt\": profile \"elc-generic\" has no point "
	    "\"mains_fualt\"",
	    "9: rule \"r2\": point \"nothing*\" matches no point of any device",
	    "9: rule \"r2\": inhibit_when \"nope\" is a point of no device",
	    "10: rule \"r4\": unknown device \"elc9\"",
	};

	(void)state;
	put_refs(
	    "rules.cfg",
	    "rules = (\n"								     /* 5 */
	    "  { name = \"r1\"; device = \"elc1\"; point = \"luminaire[*].in_emergensy\";\n" /* 6 */
	    "    equals = 1; inhibit_when = \"mains_fualt\"; },\n"			     /* 7 */
	    "  { name = \"r3\"; device = \"elc1\"; point = \"luminaire[*].in_emergency\"; equals = "
	    "1; "
	    "inhibit_when = \"mains_fault\"; },\n" /* 8 */
	    "  { name = \"r2\"; device = \"*\"; point = \"nothing*\"; equals = 1; inhibit_when = "
	    "\"nope\"; },\n"						 /* 9 */
	    "  { name = \"r4\"; device = \"elc9\"; offline = true; },\n" /* 10 */
	    "  { name = \"r5\"; device = \"*\"; point = \"*\"; quality = \"bad\"; },\n"
	    "  { name = \"r6\"; device = \"*\"; point = \"zone[*].fire\"; equals = 1; "
	    "inhibit_when = \"test_mode\"; }\n"
	    ");\n");
	expect_refs("rules.cfg", sizeof(want) / sizeof(want[0]), want);
}

/* The alerts section: out_of_service and maintenance name devices (or cameras), each user
 * is named once. */
static void test_refs_alerts(void **state)
{
	static const char *const want[] = {
	    "7: alerts.out_of_service: unknown device \"elc9\"",
	    "9: alerts.maintenance[0].device: unknown device or camera \"cam2\"",
	    "6: alerts.operators: \"alice\" is named twice",
	};

	(void)state;
	put_refs("alerts.cfg",
		 "cameras = ( { id = \"cam1\"; url = \"rtsp://127.0.0.1/x\"; } );\n" /* 5 */
		 "alerts = { operators = [ \"alice\", \"bob\", \"alice\" ];\n"	     /* 6 */
		 "  out_of_service = [ \"elc1\", \"elc9\" ];\n"			     /* 7 */
		 "  maintenance = (\n"						     /* 8 */
		 "    { device = \"cam2\"; from = \"2026-11-25T08:00:00+08:00\";\n"  /* 9 */
		 "      to = \"2026-11-25T12:00:00+08:00\"; },\n"
		 "    { device = \"cam1\"; from = \"2026-11-25T08:00:00+08:00\";\n"
		 "      to = \"2026-11-25T12:00:00+08:00\"; },\n"
		 "    { device = \"*\"; from = \"2026-11-25T08:00:00+08:00\";\n"
		 "      to = \"2026-11-25T12:00:00+08:00\"; } ); };\n");
	expect_refs("alerts.cfg", sizeof(want) / sizeof(want[0]), want);
}

/* devices[].names: each element an instance within the profile's range or a point, named once,
 * with a name or a location. */
static void test_refs_names(void **state)
{
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;
	char path[PATH_MAX];
	static const char *const want[] = {
	    "6: device \"facp1\": names: zone 128 is out of range: profile \"facp-generic\" has "
	    "zone[0] .. zone[127]",
	    "7: device \"facp1\": names: \"zone[3]\" is named already at line 5",
	    "8: device \"facp1\": names: profile \"facp-generic\" has no block \"zonk\"",
	    "9: device \"facp1\": names: \"fier\": profile \"facp-generic\" has no point \"fier\"",
	    "10: devices[0].names[5]: give a name, a location or both",
	};
	const struct cfg_name *n;

	(void)state;
	/* A devices list of its own (put_refs names no elements). */
	{
		char prof[PATH_MAX], real[PATH_MAX], text[4096];

		assert_non_null(realpath(src_path(prof, sizeof(prof), "etc/profiles"), real));
		fmt(text, sizeof(text),
		    "site = { id = \"t1\"; profile_dir = \"%s\"; };\n"
		    "buses = ( { id = \"b1\"; host = \"127.0.0.1\"; } );\n"
		    "devices = ( { id = \"facp1\"; bus = \"b1\"; profile = \"facp-generic\";\n"
		    "  names = (\n"
		    "    { element = \"zone[3]\"; name = \"east\"; },\n"
		    "    { element = \"zone[128]\"; name = \"x\"; },\n"
		    "    { element = \"zone[3]\"; location = \"2F\"; },\n"
		    "    { element = \"zonk[1]\"; name = \"x\"; },\n"
		    "    { element = \"fier\"; name = \"x\"; },\n"
		    "    { element = \"fire\"; },\n"
		    "    { element = \"mains_power_fault\"; location = \"power room\"; } ); } );\n",
		    real);
		put("names.cfg", text);
	}
	expect_refs("names.cfg", sizeof(want) / sizeof(want[0]), want);
	/* The good ones load, and a point finds the name of its element. */
	{
		char prof[PATH_MAX], real[PATH_MAX], text[4096];

		assert_non_null(realpath(src_path(prof, sizeof(prof), "etc/profiles"), real));
		fmt(text, sizeof(text),
		    "site = { id = \"t1\"; profile_dir = \"%s\"; };\n"
		    "buses = ( { id = \"b1\"; host = \"127.0.0.1\"; } );\n"
		    "devices = ( { id = \"facp1\"; bus = \"b1\"; profile = \"facp-generic\";\n"
		    "  names = ( { element = \"zone[3]\"; name = \"east\"; },\n"
		    "    { element = \"mains_power_fault\"; location = \"power room\"; } ); } );\n",
		    real);
		put("good.cfg", text);
	}
	assert_int_equal(config_load(in_scratch(path, sizeof(path), "good.cfg"), &c, &errs), 0);
	n = cfg_device_name_of(&c->devices[0], "zone[3].fire");
	assert_non_null(n);
	assert_string_equal(n->name, "east");
	assert_null(cfg_device_name_of(&c->devices[0], "zone[30].fire"));
	assert_string_equal(cfg_device_name_of(&c->devices[0], "mains_power_fault")->location,
			    "power room");
	config_free(c);
}

/* config_section_same: what a reload compares to keep an output's session. */
static struct hw_config *load_text(const char *name, const char *mqtt, const char *influx)
{
	char path[PATH_MAX], text[1024];
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;

	fmt(text, sizeof(text),
	    "site = { id = \"hall-1\"; };\nmqtt = { %s };\ninflux = { %s };\n"
	    "storage = { state_dir = \"%s/state\"; };\n",
	    mqtt, influx, scratch);
	put(name, text);
	if (config_load(in_scratch(path, sizeof(path), name), &c, &errs) < 0) {
		print_errors(&errs);
		fail();
	}
	return c;
}

static void test_section_same(void **state)
{
	struct hw_config *a, *b;

	(void)state;
	a = load_text("a.cfg", "port = 1883; heartbeat_s = 60;",
		      "enabled = true; batch_size = 500;");
	/* Applied live: the heartbeat, the reply prefix and the outbox bounds. */
	b = load_text("b.cfg",
		      "port = 1883; heartbeat_s = 5; outbox_max = 50; "
		      "reply_prefix = \"hallwatch/v1/hall-1/reply/ops/\";",
		      "enabled = true; batch_size = 500; outbox_max = 100;");
	assert_true(config_section_same(a, b, "mqtt"));
	assert_true(config_section_same(a, b, "influx"));
	config_free(b);
	/* Anything else restarts what uses the section. */
	b = load_text("c.cfg", "port = 1884; heartbeat_s = 60;",
		      "enabled = true; batch_size = 50;");
	assert_false(config_section_same(a, b, "mqtt"));
	assert_false(config_section_same(a, b, "influx"));
	config_free(b);
	b = load_text("d.cfg", "port = 1883; heartbeat_s = 60; username = \"gw\";",
		      "enabled = true; batch_size = 500; gzip = false;");
	assert_false(config_section_same(a, b, "mqtt"));
	assert_false(config_section_same(a, b, "influx"));
	assert_false(config_section_same(a, b, "no such section"));
	config_free(b);
	config_free(a);
}

/* What a reload compares item by item (gateway/main.c, docs/configuration.md "Reload"). */
static struct hw_config *load_items(const char *name, const char *bus, const char *dev,
				    const char *cam, const char *rule, int heartbeat)
{
	char path[PATH_MAX], pd[PATH_MAX], real[PATH_MAX], text[4096];
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;

	assert_non_null(realpath(src_path(pd, sizeof(pd), "etc/profiles"), real));
	fmt(text, sizeof(text),
	    "site = { id = \"hall-1\"; profile_dir = \"%s\"; };\n"
	    "mqtt = { heartbeat_s = %d; };\n"
	    "storage = { state_dir = \"%s/state\"; };\n"
	    "buses = ( { id = \"b1\"; host = \"127.0.0.1\"; %s } );\n"
	    "devices = ( { id = \"facp1\"; bus = \"b1\"; profile = \"facp-generic\"; %s } );\n"
	    "cameras = ( { id = \"cam1\"; url = \"rtsp://127.0.0.1/c\"; %s } );\n"
	    "rules = ( { name = \"low\"; device = \"facp1\"; point = \"mains_voltage\"; "
	    "below = 200.0; %s } );\n",
	    real, heartbeat, scratch, bus, dev, cam, rule);
	put(name, text);
	if (config_load(in_scratch(path, sizeof(path), name), &c, &errs) < 0) {
		print_errors(&errs);
		fail();
	}
	return c;
}

struct diff_seen {
	char keys[256];
	char last[64];
};

static void diff_cb(const char *key, const char *was, const char *now, void *ud)
{
	struct diff_seen *d = ud;

	fmt(d->keys + strlen(d->keys), sizeof(d->keys) - strlen(d->keys), "%s%s",
	    d->keys[0] ? "," : "", key);
	fmt(d->last, sizeof(d->last), "%s>%s", was ? was : "-", now ? now : "-");
}

static void test_item_same(void **state)
{
	struct hw_config *a, *b;
	struct diff_seen d;

	(void)state;
	memset(&d, 0, sizeof(d));
	a = load_items("ia.cfg", "timeout_ms = 300;", "interval_ms = 200;",
		       "dark_ms = 2000; alert_points = [ \"facp1:zone[3].fire\" ];",
		       "text = \"x\";", 60);
	/* The same text loaded again: every item the same, profiles compared by content. */
	b = load_items("ib.cfg", "timeout_ms = 300;", "interval_ms = 200;",
		       "dark_ms = 2000; alert_points = [ \"facp1:zone[3].fire\" ];",
		       "text = \"x\";", 5);
	assert_ptr_not_equal(a->devices[0].profile, b->devices[0].profile);
	assert_true(config_profile_same(a->devices[0].profile, b->devices[0].profile));
	assert_true(config_bus_same(&a->buses[0], &b->buses[0]));
	assert_true(config_device_same(&a->devices[0], &b->devices[0]));
	assert_true(config_camera_same(&a->cameras[0], &b->cameras[0]));
	assert_true(config_rule_same(&a->rules[0], &b->rules[0]));
	/* Only the heartbeat differs, and the section diff names it with both values. */
	config_section_diff(a, b, "mqtt", diff_cb, &d);
	assert_string_equal(d.keys, "mqtt.heartbeat_s");
	assert_string_equal(d.last, "60>5");
	memset(&d, 0, sizeof(d));
	config_section_diff(a, b, "alerts", diff_cb, &d);
	assert_string_equal(d.keys, "");
	config_free(b);
	/* One setting of each item. */
	b = load_items("ic.cfg", "timeout_ms = 400;",
		       "interval_ms = 200; allow_commands = [ "
		       "\"reset\" ];",
		       "dark_ms = 1500; alert_points = [ \"facp1:zone[4].fire\" ];",
		       "text = \"y\";", 60);
	assert_false(config_bus_same(&a->buses[0], &b->buses[0]));
	assert_false(config_device_same(&a->devices[0], &b->devices[0]));
	assert_false(config_camera_same(&a->cameras[0], &b->cameras[0]));
	assert_false(config_rule_same(&a->rules[0], &b->rules[0]));
	config_item_diff("cameras", &a->cameras[0], &b->cameras[0], diff_cb, &d);
	assert_string_equal(d.keys, "dark_ms,alert_points");
	memset(&d, 0, sizeof(d));
	config_item_diff("devices", &a->devices[0], &b->devices[0], diff_cb, &d);
	assert_string_equal(d.keys, "allow_commands");
	memset(&d, 0, sizeof(d));
	config_item_diff("buses", &a->buses[0], &b->buses[0], diff_cb, &d);
	assert_string_equal(d.keys, "timeout_ms");
	assert_string_equal(d.last, "300>400");
	config_free(b);
	b = load_items("id.cfg", "timeout_ms = 300;", "interval_ms = 250;",
		       "dark_ms = 2000; alert_points = [ \"facp1:zone[3].fire\" ];",
		       "text = \"x\";", 60);
	assert_true(config_bus_same(&a->buses[0], &b->buses[0]));
	assert_false(config_device_same(&a->devices[0], &b->devices[0]));
	config_free(b);
	config_free(a);
}

/* mqtt.hosts: the brokers of a cluster, parsed into host and port; compared on reload. */
/* mqtt.topic_escape: "none" (default) or "percent"; a change restarts the session. */
static void test_mqtt_topic_escape(void **state)
{
	struct hw_config *a, *b;
	struct cfg_errors errs = {0};
	struct hw_config *c = NULL;
	char path[PATH_MAX], text[1024];
	bool found = false;

	(void)state;
	a = load_text("e1.cfg", "topic_escape = \"percent\";", "");
	assert_int_equal(a->mqtt.topic_escape, TOPIC_ESC_PERCENT);
	b = load_text("e2.cfg", "topic_escape = \"none\";", "");
	assert_int_equal(b->mqtt.topic_escape, TOPIC_ESC_NONE);
	assert_false(config_section_same(a, b, "mqtt"));
	config_free(b);
	config_free(a);
	fmt(text, sizeof(text),
	    "site = { id = \"hall-1\"; };\nmqtt = { topic_escape = \"dots\"; };\n"
	    "storage = { state_dir = \"%s/state\"; };\n",
	    scratch);
	put("ebad.cfg", text);
	assert_int_equal(config_load(in_scratch(path, sizeof(path), "ebad.cfg"), &c, &errs),
			 -EINVAL);
	for (size_t i = 0; i < errs.n; i++)
		found |= strstr(errs.msgs[i], "mqtt.topic_escape") != NULL;
	if (!found)
		print_errors(&errs);
	assert_true(found);
	cfg_errors_clear(&errs);
}

static void test_mqtt_hosts(void **state)
{
	static const char *const bad[][2] = {
	    {"hosts = [ \"a:0\" ];", "mqtt.hosts: \"a:0\": the port is not 1..65535"},
	    {"hosts = [ \":1883\" ];", "mqtt.hosts: \":1883\" has no host"},
	    {"hosts = [ \"::1:1883\" ];",
	     "mqtt.hosts: \"::1:1883\": write an IPv6 address as [address]:port"},
	    {"hosts = [ \"[::1\" ];", "mqtt.hosts: \"[::1\" is not [address]:port"},
	    {"hosts = [ ];", "mqtt.hosts: expected a non-empty array of brokers"},
	    {"hosts = \"a:1\";", "mqtt.hosts: expected a non-empty array of brokers"},
	};
	struct hw_config *a, *b;
	char path[PATH_MAX], text[1024];

	(void)state;
	a = load_text("h1.cfg", "hosts = [ \"10.0.0.1:1884\", \"[fd00::2]:1885\", \"b3\" ];", "");
	assert_int_equal(a->mqtt.n_hosts, 3);
	assert_string_equal(a->mqtt.hosts[0].host, "10.0.0.1");
	assert_int_equal(a->mqtt.hosts[0].port, 1884);
	assert_string_equal(a->mqtt.hosts[1].host, "fd00::2");
	assert_int_equal(a->mqtt.hosts[1].port, 1885);
	assert_string_equal(a->mqtt.hosts[2].host, "b3");
	assert_int_equal(a->mqtt.hosts[2].port, 1883);
	b = load_text("h2.cfg", "hosts = [ \"10.0.0.1:1884\", \"[fd00::2]:1885\", \"b3:1883\" ];",
		      "");
	assert_true(config_section_same(a, b, "mqtt")); /* a reload keeps the session */
	config_free(b);
	b = load_text("h3.cfg", "hosts = [ \"10.0.0.1:1884\", \"[fd00::2]:1885\" ];", "");
	assert_false(config_section_same(a, b, "mqtt"));
	config_free(b);
	b = load_text("h4.cfg", "", "");
	assert_int_equal(b->mqtt.n_hosts, 0);
	assert_false(config_section_same(a, b, "mqtt"));
	config_free(b);
	config_free(a);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cfg_errors errs = {0};
		struct hw_config *c = NULL;
		bool found = false;

		fmt(text, sizeof(text),
		    "site = { id = \"hall-1\"; };\nmqtt = { %s };\n"
		    "storage = { state_dir = \"%s/state\"; };\n",
		    bad[i][0], scratch);
		put("hbad.cfg", text);
		assert_int_equal(config_load(in_scratch(path, sizeof(path), "hbad.cfg"), &c, &errs),
				 -EINVAL);
		for (size_t j = 0; j < errs.n; j++)
			found |= strstr(errs.msgs[j], bad[i][1]) != NULL;
		if (!found) {
			print_message("%s: wanted \"%s\"\n", bad[i][0], bad[i][1]);
			print_errors(&errs);
		}
		assert_true(found);
		cfg_errors_clear(&errs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_camera_password_file),
	    cmocka_unit_test(test_example_loads),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_facp_profile),
	    cmocka_unit_test(test_elc_profile),
	    cmocka_unit_test(test_profile_format),
	    cmocka_unit_test(test_bad_configs),
	    cmocka_unit_test(test_mqtt_hosts),
	    cmocka_unit_test_setup_teardown(test_mqtt_topic_escape, scratch_setup,
					    scratch_teardown),
	    cmocka_unit_test(test_missing_profile),
	    cmocka_unit_test(test_many_errors),
	    cmocka_unit_test(test_unreadable),
	    cmocka_unit_test(test_bad_profiles),
	    cmocka_unit_test_setup_teardown(test_include_directory, scratch_setup,
					    scratch_teardown),
	    cmocka_unit_test_setup_teardown(test_include_fifo, scratch_setup, scratch_teardown),
	    cmocka_unit_test_setup_teardown(test_include_loops, scratch_setup, scratch_teardown),
	    cmocka_unit_test_setup_teardown(test_huge_inputs, scratch_setup, scratch_teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_profile, scratch_setup,
					    scratch_teardown),
	    cmocka_unit_test_setup_teardown(test_include_lines, scratch_setup, scratch_teardown),
	    cmocka_unit_test_setup_teardown(test_secret_not_a_file, scratch_setup,
					    scratch_teardown),
	    cmocka_unit_test_setup_teardown(test_section_same, scratch_setup, scratch_teardown),
	    cmocka_unit_test_setup_teardown(test_refs_alert_points, scratch_setup,
					    scratch_teardown),
	    cmocka_unit_test_setup_teardown(test_refs_rules, scratch_setup, scratch_teardown),
	    cmocka_unit_test_setup_teardown(test_refs_alerts, scratch_setup, scratch_teardown),
	    cmocka_unit_test_setup_teardown(test_refs_names, scratch_setup, scratch_teardown),
	    cmocka_unit_test_setup_teardown(test_item_same, scratch_setup, scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

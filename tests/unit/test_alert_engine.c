/* Unit tests of alerts/engine.c: every lifecycle transition and refusal as step tables
 * run against one simulated device with an injected clock, plus ids, globs, durations
 * and the JSON round trip of alerts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alerts/alert_json.h"
#include "alerts/engine.h"

enum op { SET, QUAL, ONLINE, FROZEN, ACK, SHELVE, UNSHELVE, TICK, END };

struct step {
	int64_t t;
	enum op op;
	const char *arg; /* point key or alert id */
	double v;	 /* value, online/frozen flag, shelve seconds, quality */
	int rc;		 /* expected return of an operator action */
	const char *ev;	 /* expected events: "+kind id state; ..." ('+' = notify) */
};

static const struct {
	const char *key;
	enum point_class cls;
} points[] = {
    {"fire", PC_FIRE},
    {"fault", PC_FAULT},
    {"supervisory", PC_SUPERVISORY},
    {"test_mode", PC_TEST},
    {"zone[3].fire", PC_FIRE},
    {"zone[3].disabled", PC_DISABLED},
    {"zone[4].fire", PC_FIRE},
    {"battery", PC_MEASUREMENT},
    {"mains_fault", PC_FAULT},
    {"lum[1].em", PC_STATUS},
    {"lum[2].em", PC_STATUS},
    {"f0", PC_FAULT},
    {"f1", PC_FAULT},
    {"f2", PC_FAULT},
    {"f3", PC_FAULT},
    {"f4", PC_FAULT},
    {"f5", PC_FAULT},
    {"f6", PC_FAULT},
    {"f7", PC_FAULT},
    {"f8", PC_FAULT},
    {"f9", PC_FAULT},
};
#define NP (sizeof(points) / sizeof(points[0]))

struct fx {
	struct cfg_alerts ac;
	struct cfg_rule rules[3];
	struct alert_engine *e;
	struct alert_point_in pts[NP];
	struct alert_device_in dev;
	char log[4096];
};

static void on_emit(const struct alert_ev *ev, void *ud)
{
	struct fx *f = ud;
	size_t n = strlen(f->log);

	snprintf(f->log + n, sizeof(f->log) - n, "%s%s%s %s %s", n ? "; " : "",
		 ev->notify ? "+" : "", alert_ev_name(ev->kind), ev->a ? ev->a->id : "-",
		 ev->a ? alert_state_name(ev->a) : "-");
}

static char *oos_list[] = {"elc9"};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->ac = (struct cfg_alerts){.repeat_s = 60,
				    .chatter_count = 3,
				    .chatter_window_s = 60,
				    .flood_high = 10,
				    .flood_low = 5,
				    .flood_window_s = 600,
				    .escalate_after_s = 86400,
				    .shelve_max_s = 3600,
				    .keep_events = 10000,
				    .out_of_service = oos_list,
				    .n_out_of_service = 1};
	f->rules[0] = (struct cfg_rule){.name = "low",
					.device = "facp1",
					.point = "battery",
					.priority = 3,
					.kind = RULE_BELOW,
					.below = 20,
					.deadband = 2,
					.on_delay_ms = 5000,
					.off_delay_ms = 3000};
	f->rules[1] = (struct cfg_rule){.name = "on-battery",
					.device = "*",
					.point = "lum[*].em",
					.priority = 3,
					.kind = RULE_EQUALS,
					.equals = 1,
					.inhibit_when = "mains_fault"};
	f->rules[2] = (struct cfg_rule){.name = "bad",
					.device = "facp1",
					.point = "battery",
					.priority = 4,
					.kind = RULE_QUALITY,
					.quality = "config_error"};
	assert_int_equal(alert_engine_create("s1", &f->ac, f->rules, 3, on_emit, f, &f->e), 0);
	for (size_t i = 0; i < NP; i++) {
		f->pts[i].key = points[i].key;
		f->pts[i].cls = points[i].cls;
		f->pts[i].q = HW_Q_GOOD;
		f->pts[i].changed = true;
		if (points[i].cls == PC_MEASUREMENT)
			f->pts[i].v = (struct hw_value){.type = HW_V_FLOAT, .f = 50};
		else
			f->pts[i].v = (struct hw_value){.type = HW_V_BOOL, .b = false};
	}
	f->dev = (struct alert_device_in){
	    .id = "facp1", .seen = true, .online = true, .pts = f->pts, .n = NP};
	alert_engine_update(f->e, &f->dev, 0);
	assert_string_equal(f->log, "");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	alert_engine_destroy(f->e);
	free(f);
	return 0;
}

static struct alert_point_in *pt(struct fx *f, const char *key)
{
	for (size_t i = 0; i < NP; i++)
		if (strcmp(f->pts[i].key, key) == 0)
			return &f->pts[i];
	fail_msg("no point %s", key);
	return NULL;
}

static void update(struct fx *f, int64_t t)
{
	alert_engine_update(f->e, &f->dev, t);
	for (size_t i = 0; i < NP; i++)
		f->pts[i].changed = false;
}

static void run(struct fx *f, const struct step *s)
{
	for (int i = 0; s[i].op != END; i++) {
		struct alert_point_in *p;
		int rc = 0;

		f->log[0] = '\0';
		switch (s[i].op) {
		case SET:
			p = pt(f, s[i].arg);
			if (p->v.type == HW_V_BOOL)
				p->v.b = s[i].v != 0;
			else
				p->v.f = s[i].v;
			p->changed = true;
			update(f, s[i].t);
			break;
		case QUAL:
			p = pt(f, s[i].arg);
			p->q = (enum hw_quality)(int)s[i].v;
			p->changed = true;
			update(f, s[i].t);
			break;
		case ONLINE:
			f->dev.online = s[i].v != 0;
			update(f, s[i].t);
			break;
		case FROZEN:
			f->dev.frozen = s[i].v != 0;
			update(f, s[i].t);
			break;
		case ACK:
			rc = alert_engine_ack(f->e, s[i].arg, "alice", s[i].t);
			break;
		case SHELVE:
			rc = alert_engine_shelve(f->e, s[i].arg, "alice",
						 s[i].v == 7 ? "" : "maintenance",
						 (int64_t)(s[i].v * 1000), s[i].t);
			break;
		case UNSHELVE:
			rc = alert_engine_unshelve(f->e, s[i].arg, "alice", s[i].t);
			break;
		case TICK:
			alert_engine_tick(f->e, s[i].t);
			break;
		case END:
			break;
		}
		if (rc != s[i].rc || strcmp(f->log, s[i].ev) != 0)
			fail_msg("step %d (t=%lld): rc %d (want %d), events \"%s\" (want \"%s\")",
				 i, (long long)s[i].t, rc, s[i].rc, f->log, s[i].ev);
	}
}

/* P1: raise, clear while unacknowledged (latched, stays unack), ack closes it. */
static void test_p1_latch(void **state)
{
	static const struct step s[] = {
	    {0, SET, "fire", 1, 0, "+raised facp1.fire unack"},
	    {100, SET, "fire", 0, 0, "cleared facp1.fire unack"},
	    {200, ACK, "nope", 0, -ENOENT, ""},
	    {300, ACK, "facp1.fire", 0, 0, "acked facp1.fire normal"},
	    {400, ACK, "facp1.fire", 0, -ENOENT, ""},
	    {90000, SET, "fire", 1, 0, "+raised facp1.fire unack"},
	    {0, END, NULL, 0, 0, NULL},
	};
	run(*state, s);
}

/* P1 latched, condition back before the ack: returned, not a second alert. */
static void test_p1_return(void **state)
{
	static const struct step s[] = {
	    {0, SET, "zone[3].fire", 1, 0, "+raised facp1.zone-3.fire unack"},
	    {100, SET, "zone[3].fire", 0, 0, "cleared facp1.zone-3.fire unack"},
	    {70000, SET, "zone[3].fire", 1, 0, "+returned facp1.zone-3.fire unack"},
	    {70100, ACK, "facp1.zone-3.fire", 0, 0, "acked facp1.zone-3.fire acked"},
	    {70200, ACK, "facp1.zone-3.fire", 0, -EALREADY, ""},
	    {70300, SET, "zone[3].fire", 0, 0, "cleared facp1.zone-3.fire normal"},
	    {0, END, NULL, 0, 0, NULL},
	};
	run(*state, s);
}

/* P3: unack -> rtn_unack -> unack (returned) -> acked -> normal; rtn_unack + ack -> normal. */
static void test_p3_lifecycle(void **state)
{
	static const struct step s[] = {
	    {0, SET, "fault", 1, 0, "+raised facp1.fault unack"},
	    {70000, SET, "fault", 0, 0, "cleared facp1.fault rtn_unack"},
	    {140000, SET, "fault", 1, 0, "+returned facp1.fault unack"},
	    {140100, ACK, "facp1.fault", 0, 0, "acked facp1.fault acked"},
	    {210000, SET, "fault", 0, 0, "cleared facp1.fault normal"},
	    {280000, SET, "supervisory", 1, 0, "+raised facp1.supervisory unack"},
	    {350000, SET, "supervisory", 0, 0, "cleared facp1.supervisory rtn_unack"},
	    {350100, ACK, "facp1.supervisory", 0, 0, "acked facp1.supervisory normal"},
	    {0, END, NULL, 0, 0, NULL},
	};
	run(*state, s);
}

/* Shelving: refusals, shelve, unshelve, expiry. v == 7 means "no reason". */
static void test_shelve(void **state)
{
	static const struct step s[] = {
	    {0, SET, "fire", 1, 0, "+raised facp1.fire unack"},
	    {0, SET, "fault", 1, 0, "+raised facp1.fault unack"},
	    {10, SHELVE, "facp1.fire", 60, -EPERM, ""},
	    {10, SHELVE, "nope", 60, -ENOENT, ""},
	    {10, SHELVE, "facp1.fault", 0, -EINVAL, ""},
	    {10, SHELVE, "facp1.fault", 7, -EINVAL, ""},
	    {10, SHELVE, "facp1.fault", 3601, -EINVAL, ""},
	    {10, UNSHELVE, "facp1.fault", 0, -EALREADY, ""},
	    {20, SHELVE, "facp1.fault", 60, 0, "shelved facp1.fault shelved"},
	    {30, UNSHELVE, "facp1.fault", 0, 0, "+unshelved facp1.fault unack"},
	    {40, SHELVE, "facp1.fault", 10, 0, "shelved facp1.fault shelved"},
	    {10039, TICK, NULL, 0, 0, ""},
	    {10040, TICK, NULL, 0, 0, "+unshelved facp1.fault unack"},
	    {10050, SHELVE, "facp1.fault", 10, 0, "shelved facp1.fault shelved"},
	    {10060, SET, "fault", 0, 0, "cleared facp1.fault shelved"},
	    {10070, ACK, "facp1.fault", 0, 0, "acked facp1.fault normal"},
	    {10080, UNSHELVE, "facp1.fault", 0, -ENOENT, ""},
	    {0, END, NULL, 0, 0, NULL},
	};
	run(*state, s);
}

/* Suppression by test mode and by a disabled zone; comm loss inhibits point alerts. */
static void test_suppression(void **state)
{
	static const struct step s[] = {
	    {0, SET, "test_mode", 1, 0, ""},
	    {10, SET, "fire", 1, 0, "raised facp1.fire suppressed"},
	    {20, SET, "test_mode", 0, 0, "unsuppressed facp1.fire unack"},
	    {30, SET, "zone[3].disabled", 1, 0, ""},
	    {40, SET, "zone[3].fire", 1, 0, "raised facp1.zone-3.fire suppressed"},
	    {50, SET, "zone[4].fire", 1, 0, "+raised facp1.zone-4.fire unack"},
	    {60, SET, "zone[3].disabled", 0, 0, "unsuppressed facp1.zone-3.fire unack"},
	    {70, ONLINE, NULL, 0, 0,
	     "+raised facp1.offline unack; suppressed facp1.fire suppressed; "
	     "suppressed facp1.zone-3.fire suppressed; suppressed facp1.zone-4.fire suppressed"},
	    {80, ONLINE, NULL, 1, 0,
	     "cleared facp1.offline rtn_unack; unsuppressed facp1.fire unack; "
	     "unsuppressed facp1.zone-3.fire unack; unsuppressed facp1.zone-4.fire unack"},
	    {90, FROZEN, NULL, 1, 0,
	     "+raised facp1.frozen unack; suppressed facp1.fire suppressed; "
	     "suppressed facp1.zone-3.fire suppressed; suppressed facp1.zone-4.fire suppressed"},
	    {0, END, NULL, 0, 0, NULL},
	};
	run(*state, s);
}

/* A value seen through comm loss is kept: the fire alert neither clears nor re-raises. */
static void test_comm_lost_keeps(void **state)
{
	static const struct step s[] = {
	    {0, SET, "fire", 1, 0, "+raised facp1.fire unack"},
	    {10, QUAL, "fire", HW_Q_COMM_LOST, 0, ""},
	    {20, SET, "fire", 0, 0, ""}, /* still comm_lost: ignored */
	    {30, QUAL, "fire", HW_Q_GOOD, 0, "cleared facp1.fire unack"},
	    {0, END, NULL, 0, 0, NULL},
	};
	run(*state, s);
}

/* Threshold with deadband, on-delay and off-delay; a short dip never raises. */
static void test_threshold_delays(void **state)
{
	static const struct step s[] = {
	    {0, SET, "battery", 19, 0, ""},
	    {4999, TICK, NULL, 0, 0, ""},
	    {5000, TICK, NULL, 0, 0, "+raised facp1.battery.low unack"},
	    {6000, SET, "battery", 21, 0, ""}, /* inside the deadband: still low */
	    {6500, TICK, NULL, 0, 0, ""},
	    {7000, SET, "battery", 23, 0, ""},
	    {9999, TICK, NULL, 0, 0, ""},
	    {10000, TICK, NULL, 0, 0, "cleared facp1.battery.low rtn_unack"},
	    {10100, ACK, "facp1.battery.low", 0, 0, "acked facp1.battery.low normal"},
	    {100000, SET, "battery", 19, 0, ""},
	    {101000, SET, "battery", 25, 0, ""},
	    {110000, TICK, NULL, 0, 0, ""},
	    {0, END, NULL, 0, 0, NULL},
	};
	run(*state, s);
	assert_null(alert_engine_get(((struct fx *)*state)->e, "facp1.battery.low"));
}

/* Quality rule: the point reads config_error. */
static void test_quality_rule(void **state)
{
	static const struct step s[] = {
	    {0, QUAL, "battery", HW_Q_CONFIG_ERROR, 0, "+raised facp1.battery.bad unack"},
	    {10, QUAL, "battery", HW_Q_GOOD, 0, "cleared facp1.battery.bad rtn_unack"},
	    {0, END, NULL, 0, 0, NULL},
	};
	run(*state, s);
}

/* Three transitions in 60 s: latched as chattering, reported once, held until acked. */
static void test_chattering(void **state)
{
	static const struct step s[] = {
	    {0, SET, "fault", 1, 0, "+raised facp1.fault unack"},
	    {1000, SET, "fault", 0, 0, "cleared facp1.fault rtn_unack"},
	    {2000, SET, "fault", 1, 0, "+chattering facp1.fault unack"},
	    {3000, SET, "fault", 0, 0, ""},
	    {4000, SET, "fault", 1, 0, ""},
	    {5000, SET, "fault", 0, 0, ""},
	    {6000, TICK, NULL, 0, 0, ""},
	    {7000, ACK, "facp1.fault", 0, 0, "acked facp1.fault normal"},
	    {0, END, NULL, 0, 0, NULL},
	};
	run(*state, s);
}

/* Repeat of an unacknowledged P1 until acked; escalation after 24 h. */
static void test_repeat_escalate(void **state)
{
	static const struct step s[] = {
	    {0, SET, "fire", 1, 0, "+raised facp1.fire unack"},
	    {0, SET, "fault", 1, 0, "+raised facp1.fault unack"},
	    {59999, TICK, NULL, 0, 0, ""},
	    {60000, TICK, NULL, 0, 0, "+repeat facp1.fire unack"},
	    {119999, TICK, NULL, 0, 0, ""},
	    {120000, TICK, NULL, 0, 0, "+repeat facp1.fire unack"},
	    {120001, ACK, "facp1.fire", 0, 0, "acked facp1.fire acked"},
	    {200000, TICK, NULL, 0, 0, ""},
	    {0, END, NULL, 0, 0, NULL},
	};
	struct fx *f = *state;

	run(f, s);
	f->log[0] = '\0';
	alert_engine_tick(f->e, 86400000);
	assert_true(strstr(f->log, "+escalated facp1.fault unack") != NULL);
	assert_true(strstr(f->log, "escalated facp1.fire acked") != NULL);
	f->log[0] = '\0';
	alert_engine_tick(f->e, 86400001);
	assert_string_equal(f->log, "");
}

/* More than 10 new alerts in 10 min: summary mode, P1 still notified; ends below 5. */
static void test_flood(void **state)
{
	struct fx *f = *state;
	char key[8];

	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "f%d", i);
		pt(f, key)->v.b = true;
		pt(f, key)->changed = true;
		f->log[0] = '\0';
		update(f, i * 1000);
		assert_int_equal(f->log[0], '+');
	}
	assert_false(alert_engine_flooding(f->e));
	f->log[0] = '\0';
	pt(f, "fault")->v.b = true;
	pt(f, "fault")->changed = true;
	update(f, 10000);
	assert_string_equal(f->log, "+flood_start - -; raised facp1.fault unack");
	assert_true(alert_engine_flooding(f->e));
	f->log[0] = '\0';
	pt(f, "fire")->v.b = true;
	pt(f, "fire")->changed = true;
	update(f, 11000);
	assert_string_equal(f->log, "+raised facp1.fire unack");
	assert_int_equal(alert_engine_ack(f->e, "facp1.fire", "bob", 11500), 0);
	f->log[0] = '\0';
	alert_engine_tick(f->e, 600000 + 6000); /* raises at 7000..11000 left: 5 */
	assert_string_equal(f->log, "");
	alert_engine_tick(f->e, 600000 + 7000); /* 4 left */
	assert_string_equal(f->log, "+flood_end - -");
	assert_false(alert_engine_flooding(f->e));
}

/* The controller's mains failure mutes per-luminaire on-battery alerts. */
static void test_inhibition(void **state)
{
	static const struct step s[] = {
	    {0, SET, "mains_fault", 1, 0, "+raised facp1.mains_fault unack"},
	    {10, SET, "lum[1].em", 1, 0, "raised facp1.lum-1.em.on-battery suppressed"},
	    {20, SET, "mains_fault", 0, 0,
	     "cleared facp1.mains_fault rtn_unack; unsuppressed facp1.lum-1.em.on-battery unack"},
	    {30, SET, "lum[2].em", 1, 0, "+raised facp1.lum-2.em.on-battery unack"},
	    {0, END, NULL, 0, 0, NULL},
	};
	run(*state, s);
}

/* Out of service devices: alerts exist but never notify. */
static void test_out_of_service(void **state)
{
	struct fx *f = *state;
	const struct alert *a;

	f->dev.id = "elc9";
	pt(f, "fault")->v.b = true;
	pt(f, "fault")->changed = true;
	update(f, 0);
	assert_string_equal(f->log, "raised elc9.fault out_of_service");
	a = alert_engine_get(f->e, "elc9.fault");
	assert_non_null(a);
	assert_true(a->out_of_service);
}

/* A maintenance window of the configuration suppresses the device's alerts within it, its
 * going offline included; after it they are back. */
static void test_maintenance(void **state)
{
	struct fx *f = *state;
	static struct cfg_maint win[] = {
	    {.device = "facp1", .from_ms = 100, .to_ms = 200, .reason = "detector swap"}};
	static const struct step s[] = {
	    {50, SET, "fault", 1, 0, "+raised facp1.fault unack"},
	    {150, SET, "fire", 1, 0,
	     "raised facp1.fire suppressed; suppressed facp1.fault suppressed"},
	    {160, ONLINE, NULL, 0, 0, "raised facp1.offline suppressed"},
	    {170, ONLINE, NULL, 1, 0, "cleared facp1.offline suppressed"},
	    {250, SET, "supervisory", 1, 0,
	     "unsuppressed facp1.offline rtn_unack; +raised facp1.supervisory unack; "
	     "unsuppressed facp1.fault unack; unsuppressed facp1.fire unack"},
	    {0, END, NULL, 0, 0, NULL},
	};
	f->ac.maint = win;
	f->ac.n_maint = 1;
	run(f, s);
}

/* A restored alert, evaluated against unchanged data, gives no event; changed data does. */
static void test_restore(void **state)
{
	struct fx *f = *state;
	struct alert a;
	json_t *j;
	const struct alert *got;
	char *s1, *s2;

	pt(f, "fire")->v.b = true;
	pt(f, "fire")->changed = true;
	update(f, 1000);
	alert_engine_set_seq(f->e, "facp1.fire", 42);
	j = alert_to_json(alert_engine_get(f->e, "facp1.fire"), "s1", true);
	s1 = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_int_equal(alert_from_json(j, &a), 0);
	json_decref(j);
	alert_engine_destroy(f->e);
	assert_int_equal(alert_engine_create("s1", &f->ac, f->rules, 3, on_emit, f, &f->e), 0);
	assert_int_equal(alert_engine_restore(f->e, &a), 0);
	assert_int_equal(alert_engine_restore(f->e, &a), -EEXIST);
	got = alert_engine_get(f->e, "facp1.fire");
	j = alert_to_json(got, "s1", true);
	s2 = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	assert_string_equal(s1, s2);
	free(s1);
	free(s2);
	for (size_t i = 0; i < NP; i++)
		f->pts[i].changed = true;
	f->log[0] = '\0';
	update(f, 5000);
	assert_string_equal(f->log, "");
	pt(f, "fire")->v.b = false;
	pt(f, "fire")->changed = true;
	update(f, 6000);
	assert_string_equal(f->log, "cleared facp1.fire unack");
}

static void test_ids(void **state)
{
	char b[ALERT_ID_MAX];
	int64_t ms;

	(void)state;
	assert_int_equal(alert_make_id(b, sizeof(b), "facp1", "zone[3].fire", ""), 0);
	assert_string_equal(b, "facp1.zone-3.fire");
	assert_int_equal(alert_make_id(b, sizeof(b), "elc1", "", "offline"), 0);
	assert_string_equal(b, "elc1.offline");
	assert_int_equal(alert_make_id(b, sizeof(b), "d/1", "a+b#c", "r"), 0);
	assert_string_equal(b, "d_1.a_b_c.r");
	assert_int_equal(alert_make_id(b, 8, "facp1", "zone[3].fire", ""), -ENAMETOOLONG);
	assert_true(alert_glob("lum[*].em", "lum[12].em"));
	assert_false(alert_glob("lum[*].em", "lum[12].emx"));
	assert_true(alert_glob("*", "x"));
	assert_true(alert_glob("a*b*c", "aXbYc"));
	assert_false(alert_glob("abc", "abd"));
	assert_int_equal(alert_parse_duration("2h", &ms), 0);
	assert_int_equal(ms, 7200000);
	assert_int_equal(alert_parse_duration("90", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(alert_parse_duration("15m", &ms), 0);
	assert_int_equal(ms, 900000);
	assert_int_equal(alert_parse_duration("1d", &ms), 0);
	assert_int_equal(ms, 86400000);
	assert_int_equal(alert_parse_duration("0", &ms), -EINVAL);
	assert_int_equal(alert_parse_duration("2x", &ms), -EINVAL);
	assert_int_equal(alert_parse_duration("", &ms), -EINVAL);
	assert_int_equal(alert_parse_duration("-5", &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_p1_latch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_p1_return, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_p3_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shelve, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_suppression, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_comm_lost_keeps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threshold_delays, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_quality_rule, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chattering, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_repeat_escalate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flood, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inhibition, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out_of_service, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maintenance, setup, teardown),
	    cmocka_unit_test(test_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

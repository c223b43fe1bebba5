/* Unit tests of county/rollup.c: the picture of a hall from its topics and events, the
 * time-weighted day counters (split at midnight UTC), silence, and what counts as news. The
 * clock is passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "county/rollup.h"

#define DAY (86400LL * 1000)
#define T0 (20000LL * DAY) /* midnight UTC */

static struct rollup_day ended[8];
static char ended_site[8][32];
static int n_ended;

static void on_day(const char *site, const struct rollup_day *d, void *ud)
{
	(void)ud;
	if (n_ended < 8) {
		ended[n_ended] = *d;
		strncpy(ended_site[n_ended], site, 31);
		n_ended++;
	}
}

static struct rollup *mk(void)
{
	struct rollup_cfg cfg = {.silent_after_ms = 180000, .footage_required_ms = 30 * DAY};
	struct rollup *r;

	n_ended = 0;
	assert_int_equal(rollup_create(&cfg, on_day, NULL, &r), 0);
	return r;
}

static unsigned msg(struct rollup *r, const char *site, const char *kind, const char *json,
		    int64_t now)
{
	return rollup_message(r, site, kind, json, json ? strlen(json) : 0, false, now);
}

static json_t *hall(struct rollup *r, const char *site, int64_t now)
{
	return rollup_hall_json(rollup_find(r, site), now);
}

static void test_online_and_news(void **state)
{
	struct rollup *r = mk();
	unsigned ch;

	(void)state;
	/* First sight of a hall online is the picture, not news. */
	ch = msg(r, "h1", "status", "{\"state\":\"online\",\"started\":1}", T0);
	assert_false(ch & ROLLUP_ONLINE);
	assert_int_equal(rollup_count_status(r), 1);
	ch = msg(r, "h1", "status", "{\"state\":\"offline\"}", T0 + 1000);
	assert_true(ch & ROLLUP_OFFLINE);
	ch = msg(r, "h1", "status", "{\"state\":\"online\"}", T0 + 2000);
	assert_true(ch & ROLLUP_ONLINE);
	/* Garbage changes nothing. */
	assert_int_equal(msg(r, "h1", "status", "not json", T0 + 3000), ROLLUP_NONE);
	rollup_destroy(r);
}

static void test_fire_from_alert_and_point(void **state)
{
	struct rollup *r = mk();
	unsigned ch;
	json_t *o;

	(void)state;
	msg(r, "h1", "status", "{\"state\":\"online\"}", T0);
	ch = msg(r, "h1", "alert/a1",
		 "{\"id\":\"a1\",\"condition\":\"fire\",\"priority\":1,\"active\":true,"
		 "\"raised\":1}",
		 T0 + 10);
	assert_true(ch & ROLLUP_FIRE);
	o = hall(r, "h1", T0 + 20);
	assert_string_equal(json_string_value(json_object_get(o, "worst")), "fire");
	json_decref(o);
	ch = msg(r, "h1", "alert/a1", "", T0 + 30); /* removed */
	assert_true(ch & ROLLUP_FIRE_CLEARED);
	/* A block point ending in .fire counts too; other points do not. */
	ch = msg(r, "h1", "device/facp1/state",
		 "{\"online\":true,\"quality\":\"good\",\"points\":{\"zone[3].fire\":{\"v\":true},"
		 "\"fireman\":{\"v\":true}}}",
		 T0 + 40);
	assert_true(ch & ROLLUP_FIRE);
	ch = msg(r, "h1", "device/facp1/state",
		 "{\"online\":true,\"quality\":\"good\",\"points\":{\"zone[3].fire\":{\"v\":false},"
		 "\"fireman\":{\"v\":true}}}",
		 T0 + 50);
	assert_true(ch & ROLLUP_FIRE_CLEARED);
	rollup_destroy(r);
}

static void test_time_weighted_and_midnight(void **state)
{
	struct rollup *r = mk();
	const struct rollup_day *d;

	(void)state;
	/* Two devices from 23:00; one goes offline at 23:30; the hall offline 00:30..01:00. */
	msg(r, "h1", "status", "{\"state\":\"online\"}", T0 + DAY - 3600000);
	msg(r, "h1", "device/d1/state", "{\"online\":true,\"quality\":\"good\"}",
	    T0 + DAY - 3600000);
	msg(r, "h1", "device/d2/state", "{\"online\":true,\"quality\":\"good\"}",
	    T0 + DAY - 3600000);
	msg(r, "h1", "device/d2/state", "{\"online\":false,\"quality\":\"comm_lost\"}",
	    T0 + DAY - 1800000);
	/* heartbeats keep the hall from silence */
	for (int64_t t = T0 + DAY - 3600000; t < T0 + DAY + 1800000; t += 60000) {
		msg(r, "h1", "device/d1/state", "{\"online\":true,\"quality\":\"good\"}", t);
		rollup_tick(r, t, NULL, 0);
	}
	msg(r, "h1", "status", "{\"state\":\"offline\"}", T0 + DAY + 1800000);
	rollup_tick(r, T0 + DAY + 3600000, NULL, 0);
	/* The day before midnight went to on_day. */
	assert_int_equal(n_ended, 1);
	assert_string_equal(ended_site[0], "h1");
	assert_int_equal(ended[0].day, 20000);
	assert_int_equal(ended[0].observed_ms, 3600000);
	assert_int_equal(ended[0].online_ms, 3600000);
	assert_int_equal(ended[0].dev_ms, 2 * 3600000);
	assert_int_equal(ended[0].dev_up_ms, 3600000 + 1800000);
	d = rollup_hall_day(rollup_find(r, "h1"));
	assert_int_equal(d->day, 20001);
	assert_int_equal(d->observed_ms, 3600000);
	assert_int_equal(d->online_ms, 1800000);
	/* offline: its devices count as unavailable */
	assert_int_equal(d->dev_ms, 2 * 3600000);
	assert_int_equal(d->dev_up_ms, 1800000);
	rollup_destroy(r);
}

static void test_silent(void **state)
{
	struct rollup *r = mk();
	struct rollup_hall *s[4];
	json_t *o;

	(void)state;
	msg(r, "h1", "status", "{\"state\":\"online\"}", T0);
	msg(r, "h2", "status", "{\"state\":\"online\"}", T0);
	msg(r, "h2", "device/d/state", "{\"online\":true}", T0 + 100000);
	assert_int_equal(rollup_tick(r, T0 + 179999, s, 4), 0);
	assert_int_equal(rollup_tick(r, T0 + 180000, s, 4), 1);
	assert_string_equal(rollup_hall_site(s[0]), "h1");
	assert_int_equal(rollup_tick(r, T0 + 200000, s, 4), 0); /* once */
	o = hall(r, "h1", T0 + 200000);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "silent");
	json_decref(o);
	/* A message ends the silence: news. */
	assert_true(msg(r, "h1", "device/d/state", "{\"online\":true}", T0 + 210000) &
		    ROLLUP_ONLINE);
	/* An offline hall (Last Will) is never silent. */
	msg(r, "h2", "status", "{\"state\":\"offline\"}", T0 + 210000);
	assert_int_equal(rollup_tick(r, T0 + 900000, s, 4), 1); /* h1 again, not h2 */
	assert_string_equal(rollup_hall_site(s[0]), "h1");
	rollup_destroy(r);
}

static void test_events_and_inspections(void **state)
{
	struct rollup *r = mk();
	const struct rollup_day *d;
	json_t *ev, *o;
	unsigned ch;

	(void)state;
	msg(r, "h1", "status", "{\"state\":\"online\"}", T0);
	ev = json_loads("{\"seq\":1,\"event\":\"raised\",\"id\":\"f\",\"alert\":{\"condition\":"
			"\"fire\",\"priority\":1,\"active\":true,\"raised\":5}}",
			0, NULL);
	ch = rollup_event(r, "h1", ev, T0 + 10);
	assert_true(ch & ROLLUP_FIRE);
	json_decref(ev);
	ev = json_loads("{\"seq\":2,\"event\":\"raised\",\"id\":\"x\",\"alert\":{\"condition\":"
			"\"fault\",\"priority\":2,\"active\":true}}",
			0, NULL);
	ch = rollup_event(r, "h1", ev, T0 + 20);
	assert_true(ch & ROLLUP_ALERT);
	json_decref(ev);
	ev = json_loads("{\"seq\":3,\"event\":\"inspection\",\"kind\":\"function_test\","
			"\"to\":\"passed\"}",
			0, NULL);
	rollup_event(r, "h1", ev, T0 + 30);
	json_decref(ev);
	ev = json_loads("{\"seq\":4,\"event\":\"inspection\",\"kind\":\"staff_patrol\","
			"\"to\":\"missed\"}",
			0, NULL);
	rollup_event(r, "h1", ev, T0 + 40);
	json_decref(ev);
	d = rollup_hall_day(rollup_find(r, "h1"));
	assert_int_equal(d->events, 4);
	assert_int_equal(d->alerts, 2);
	assert_int_equal(d->fire_alarms, 1);
	assert_int_equal(d->faults, 1);
	assert_int_equal(d->patrols_done, 1);
	assert_int_equal(d->patrols_due, 2);
	assert_int_equal(d->tests_passed, 1);
	msg(r, "h1", "inspection/p",
	    "{\"passed\":3,\"missed\":1,\"tasks\":[{\"state\":\"overdue\"},{\"state\":"
	    "\"scheduled\"}]}",
	    T0 + 50);
	ev = json_loads("{\"seq\":5,\"event\":\"ticket\",\"ticket\":\"t1\",\"from\":null,"
			"\"to\":\"open\",\"deadline\":100}",
			0, NULL);
	rollup_event(r, "h1", ev, T0 + 55);
	json_decref(ev);
	ev = json_loads("{\"seq\":6,\"event\":\"ticket\",\"ticket\":\"t2\",\"from\":null,"
			"\"to\":\"open\",\"deadline\":100}",
			0, NULL);
	rollup_event(r, "h1", ev, T0 + 56);
	json_decref(ev);
	ev = json_loads("{\"seq\":7,\"event\":\"ticket\",\"ticket\":\"t2\",\"from\":"
			"\"pending_verify\",\"to\":\"closed\"}",
			0, NULL);
	rollup_event(r, "h1", ev, T0 + 57);
	json_decref(ev);
	assert_int_equal(rollup_hall_day(rollup_find(r, "h1"))->tickets_opened, 2);
	assert_int_equal(rollup_hall_day(rollup_find(r, "h1"))->tickets_closed, 1);
	o = hall(r, "h1", T0 + 60);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "tickets"), "open")),
			 1);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(o, "tickets"), "overdue")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(o, "inspections"), "overdue")), 1);
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(json_object_get(o, "alerts"), "by_priority"), "2")),
			 1);
	json_decref(o);
	rollup_destroy(r);
}

static void test_footage(void **state)
{
	struct rollup *r = mk();
	char buf[256];
	json_t *o;

	(void)state;
	msg(r, "h1", "status", "{\"state\":\"online\"}", T0);
	snprintf(buf, sizeof(buf), "{\"online\":true,\"oldest_recording\":%lld}",
		 (long long)(T0 - 29 * DAY));
	msg(r, "h1", "camera/c1/state", buf, T0);
	o = hall(r, "h1", T0);
	assert_false(json_is_true(json_object_get(json_object_get(o, "footage"), "ok")));
	json_decref(o);
	o = hall(r, "h1", T0 + DAY);
	assert_true(json_is_true(json_object_get(json_object_get(o, "footage"), "ok")));
	json_decref(o);
	rollup_destroy(r);
}

static json_t *detail(struct rollup *r, const char *site, const char *list)
{
	json_t *d = rollup_hall_detail(rollup_find(r, site));
	json_t *a = json_incref(json_object_get(d, list));

	json_decref(d);
	assert_true(json_is_array(a));
	return a;
}

static int64_t dropped(struct rollup *r, const char *site, const char *list)
{
	json_t *d = rollup_hall_detail(rollup_find(r, site));
	int64_t n = json_integer_value(json_object_get(json_object_get(d, "dropped"), list));

	json_decref(d);
	return n;
}

/* A device, a camera, a plan, a ticket and a record reach the hall's detail lists. */
static void test_detail_rows(void **state)
{
	struct rollup *r = mk();
	json_t *a, *row, *ev;

	(void)state;
	msg(r, "h1", "status", "{\"state\":\"online\"}", T0);
	msg(r, "h1", "device/facp1/state",
	    "{\"online\":true,\"quality\":\"good\",\"name\":\"主机\",\"location\":\"消防控制室\","
	    "\"points\":{\"zone[3].fire\":{\"v\":true},\"zone[4].fault\":{\"v\":false},"
	    "\"temp\":{\"v\":21}}}",
	    T0 + 1);
	msg(r, "h1", "camera/cam1/state",
	    "{\"online\":true,\"recording\":false,\"last_snapshot\":123456,"
	    "\"conditions\":{\"dark\":{\"active\":true},\"blur\":{\"active\":false}}}",
	    T0 + 2);
	msg(r, "h1", "inspection/fire_patrol",
	    "{\"plan\":\"fire_patrol\",\"next_due\":777,\"passed\":3,\"failed\":1,\"missed\":0,"
	    "\"last\":{\"state\":\"passed\",\"t\":555}}",
	    T0 + 3);
	ev = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "event", "ticket", "ticket",
		       "camera-cam1-1", "kind", "camera", "target", "cam1", "from", "none", "to",
		       "open", "deadline", (json_int_t)(T0 + DAY), "t", (json_int_t)(T0 + 4));
	rollup_event(r, "h1", ev, T0 + 4);
	json_decref(ev);
	ev = json_pack("{s:s,s:s,s:s,s:I}", "event", "inspection", "task", "fire_patrol/fp/1", "to",
		       "passed", "t", (json_int_t)(T0 + 5));
	rollup_event(r, "h1", ev, T0 + 5);
	json_decref(ev);

	a = detail(r, "h1", "devices");
	assert_int_equal(json_array_size(a), 1);
	row = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(row, "id")), "facp1");
	assert_true(json_is_true(json_object_get(row, "online")));
	assert_string_equal(json_string_value(json_object_get(row, "quality")), "good");
	assert_string_equal(json_string_value(json_object_get(row, "name")), "主机");
	assert_string_equal(json_string_value(json_object_get(row, "location")), "消防控制室");
	assert_int_equal(json_array_size(json_object_get(row, "active")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(row, "active"), 0)),
			    "zone[3].fire");
	json_decref(a);

	a = detail(r, "h1", "cameras");
	row = json_array_get(a, 0);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_object_get(row, "id")), "cam1");
	assert_true(json_is_false(json_object_get(row, "recording")));
	assert_int_equal(json_integer_value(json_object_get(row, "last_snapshot")), 123456);
	assert_int_equal(json_array_size(json_object_get(row, "conditions")), 1);
	json_decref(a);

	a = detail(r, "h1", "plans");
	row = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(row, "plan")), "fire_patrol");
	assert_string_equal(json_string_value(json_object_get(row, "last")), "passed");
	assert_int_equal(json_integer_value(json_object_get(row, "next_due")), 777);
	assert_int_equal(json_integer_value(json_object_get(row, "passed")), 3);
	json_decref(a);

	a = detail(r, "h1", "tickets");
	row = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(row, "id")), "camera-cam1-1");
	assert_string_equal(json_string_value(json_object_get(row, "target")), "cam1");
	assert_string_equal(json_string_value(json_object_get(row, "state")), "open");
	assert_int_equal(json_integer_value(json_object_get(row, "deadline")), T0 + DAY);
	json_decref(a);

	a = detail(r, "h1", "records");
	assert_int_equal(json_array_size(a), 2);
	row = json_array_get(a, 0); /* newest first */
	assert_string_equal(json_string_value(json_object_get(row, "event")), "inspection");
	assert_string_equal(json_string_value(json_object_get(row, "subject")), "fire_patrol/fp/1");
	assert_string_equal(json_string_value(json_object_get(row, "state")), "passed");
	json_decref(a);

	/* A closed ticket leaves the list; a removed device leaves it too. */
	ev = json_pack("{s:s,s:s,s:s,s:s}", "event", "ticket", "ticket", "camera-cam1-1", "from",
		       "open", "to", "closed");
	rollup_event(r, "h1", ev, T0 + 6);
	json_decref(ev);
	msg(r, "h1", "device/facp1/state", NULL, T0 + 7);
	a = detail(r, "h1", "tickets");
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	a = detail(r, "h1", "devices");
	assert_int_equal(json_array_size(a), 0);
	json_decref(a);
	rollup_destroy(r);
}

static int64_t open_tickets(struct rollup *r, const char *site)
{
	json_t *o = hall(r, site, T0 + 100);
	int64_t n = json_integer_value(json_object_get(json_object_get(o, "tickets"), "open"));

	json_decref(o);
	return n;
}

/* The retained `tickets` replaces what events built (a county that starts later has the open
 * tickets); events move them on in between; "more" counts what the hall does not list. */
static void test_tickets_retained(void **state)
{
	struct rollup *r = mk();
	json_t *ev, *a;

	(void)state;
	msg(r, "h1", "status", "{\"state\":\"online\"}", T0);
	ev = json_loads("{\"seq\":1,\"event\":\"ticket\",\"ticket\":\"gone\",\"from\":null,"
			"\"to\":\"open\",\"deadline\":1}",
			0, NULL);
	rollup_event(r, "h1", ev, T0 + 1);
	json_decref(ev);
	assert_int_equal(open_tickets(r, "h1"), 1);
	msg(r, "h1", "tickets",
	    "{\"t\":5,\"open\":5,\"more\":3,\"tickets\":["
	    "{\"ticket\":\"camera-cam1-1\",\"kind\":\"camera\",\"target\":\"cam1\","
	    "\"state\":\"repairing\",\"deadline\":1},"
	    "{\"ticket\":\"checklist-exits-2\",\"kind\":\"checklist\",\"target\":\"exits\","
	    "\"state\":\"open\",\"deadline\":99999999999999}]}",
	    T0 + 2);
	assert_int_equal(open_tickets(r, "h1"), 5);
	a = detail(r, "h1", "tickets");
	assert_int_equal(json_array_size(a), 2); /* "gone" is not among them */
	assert_int_equal(dropped(r, "h1", "tickets"), 3);
	json_decref(a);
	ev = json_loads("{\"seq\":2,\"event\":\"ticket\",\"ticket\":\"camera-cam1-1\","
			"\"from\":\"pending_verify\",\"to\":\"closed\"}",
			0, NULL);
	rollup_event(r, "h1", ev, T0 + 3);
	json_decref(ev);
	assert_int_equal(open_tickets(r, "h1"), 4);
	msg(r, "h1", "tickets", "{\"t\":6,\"open\":0,\"more\":0,\"tickets\":[]}", T0 + 4);
	assert_int_equal(open_tickets(r, "h1"), 0);
	rollup_destroy(r);
}

/* After a restart the county has no events of a hall yet: the last task of each plan, from
 * its retained inspection/<plan>, seeds the records, in time order and once. */
static void test_records_seeded(void **state)
{
	struct rollup *r = mk();
	const char *p1 = "{\"plan\":\"vp\",\"last\":{\"task\":\"vp/vp/100\",\"state\":\"passed\","
			 "\"t\":5000}}";
	const char *p2 = "{\"plan\":\"fp\",\"last\":{\"task\":\"fp/fp/90\",\"state\":\"missed\","
			 "\"t\":3000}}";
	json_t *ev, *a;

	(void)state;
	msg(r, "h1", "status", "{\"state\":\"online\"}", T0);
	ev = json_loads("{\"seq\":1,\"event\":\"ticket\",\"ticket\":\"k1\",\"from\":null,"
			"\"to\":\"open\",\"t\":4000}",
			0, NULL);
	rollup_event(r, "h1", ev, T0 + 1);
	json_decref(ev);
	rollup_message(r, "h1", "inspection/vp", p1, strlen(p1), true, T0 + 2);
	rollup_message(r, "h1", "inspection/fp", p2, strlen(p2), true, T0 + 3);
	rollup_message(r, "h1", "inspection/vp", p1, strlen(p1), true, T0 + 4); /* again */
	a = detail(r, "h1", "records");
	assert_int_equal(json_array_size(a), 3);
	/* newest first: vp (5000), the ticket (4000), fp (3000) */
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "subject")),
			    "vp/vp/100");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "subject")),
			    "k1");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 2), "subject")),
			    "fp/fp/90");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 2), "state")),
			    "missed");
	json_decref(a);
	/* a live (not retained) copy seeds nothing: its task comes as an event */
	p1 = "{\"plan\":\"vp\",\"last\":{\"task\":\"vp/vp/200\",\"state\":\"passed\",\"t\":6000}}";
	rollup_message(r, "h1", "inspection/vp", p1, strlen(p1), false, T0 + 5);
	a = detail(r, "h1", "records");
	assert_int_equal(json_array_size(a), 3);
	json_decref(a);
	/* a full ring: an older seed is left out, a newer one pushes the oldest out */
	for (int i = 0; i < 20; i++) {
		ev =
		    json_pack("{s:I,s:s,s:s,s:s,s:I}", "seq", (json_int_t)(10 + i), "event",
			      "ticket", "ticket", "kx", "to", "open", "t", (json_int_t)(10000 + i));
		rollup_event(r, "h1", ev, T0 + 10 + i);
		json_decref(ev);
	}
	p2 = "{\"plan\":\"fp\",\"last\":{\"task\":\"fp/fp/1\",\"state\":\"passed\",\"t\":1}}";
	rollup_message(r, "h1", "inspection/fp", p2, strlen(p2), true, T0 + 40);
	assert_int_equal(dropped(r, "h1", "records"), 3);
	p2 = "{\"plan\":\"fp\",\"last\":{\"task\":\"fp/fp/2\",\"state\":\"passed\","
	     "\"t\":10005}}";
	rollup_message(r, "h1", "inspection/fp", p2, strlen(p2), true, T0 + 41);
	assert_int_equal(dropped(r, "h1", "records"), 4);
	a = detail(r, "h1", "records");
	assert_int_equal(json_array_size(a), 20);
	/* newest first: 10019 .. 10006, the seed (after the event of its own time), 10005 ..
	 * 10001 (10000 pushed out) */
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 14), "subject")),
			    "fp/fp/2");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 15), "t")), 10005);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 19), "t")), 10001);
	json_decref(a);
	rollup_destroy(r);
}

/* The caps hold: 64 devices, 64 cameras, 32 plans, 64 tickets, 20 records listed; the rest
 * counted as dropped while the hall's counts still see every one. */
static void test_detail_caps(void **state)
{
	struct rollup *r = mk();
	char kind[64], id[32];
	json_t *a, *h;

	(void)state;
	msg(r, "h1", "status", "{\"state\":\"online\"}", T0);
	for (int i = 0; i < 70; i++) {
		snprintf(kind, sizeof(kind), "device/d%02d/state", i);
		msg(r, "h1", kind, "{\"online\":true,\"name\":\"x\"}", T0 + i);
		snprintf(kind, sizeof(kind), "camera/c%02d/state", i);
		msg(r, "h1", kind, "{\"online\":true}", T0 + i);
	}
	for (int i = 0; i < 40; i++) {
		snprintf(kind, sizeof(kind), "inspection/p%02d", i);
		msg(r, "h1", kind, "{\"passed\":1}", T0 + i);
	}
	for (int i = 0; i < 70; i++) {
		json_t *ev;
		snprintf(id, sizeof(id), "t%02d", i);
		ev = json_pack("{s:s,s:s,s:s,s:s}", "event", "ticket", "ticket", id, "from", "none",
			       "to", "open");
		rollup_event(r, "h1", ev, T0 + 100 + i);
		json_decref(ev);
	}
	a = detail(r, "h1", "devices");
	assert_int_equal(json_array_size(a), 64);
	json_decref(a);
	assert_int_equal(dropped(r, "h1", "devices"), 6);
	a = detail(r, "h1", "cameras");
	assert_int_equal(json_array_size(a), 64);
	json_decref(a);
	assert_int_equal(dropped(r, "h1", "cameras"), 6);
	a = detail(r, "h1", "plans");
	assert_int_equal(json_array_size(a), 32);
	json_decref(a);
	assert_int_equal(dropped(r, "h1", "plans"), 8);
	a = detail(r, "h1", "tickets");
	assert_int_equal(json_array_size(a), 64);
	json_decref(a);
	assert_int_equal(dropped(r, "h1", "tickets"), 6);
	a = detail(r, "h1", "records");
	assert_int_equal(json_array_size(a), 20);
	/* the newest record first: the last ticket opened */
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "subject")),
			    "t69");
	json_decref(a);
	assert_int_equal(dropped(r, "h1", "records"), 50);
	/* An update of a listed row keeps it listed; the counts see all 70. */
	msg(r, "h1", "device/d00/state", "{\"online\":false}", T0 + 500);
	a = detail(r, "h1", "devices");
	assert_int_equal(json_array_size(a), 64);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "id")), "d00");
	json_decref(a);
	h = hall(r, "h1", T0 + 500);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(h, "devices"), "total")), 70);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(h, "tickets"), "open")),
			 70);
	json_decref(h);
	rollup_destroy(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_online_and_news),
	    cmocka_unit_test(test_fire_from_alert_and_point),
	    cmocka_unit_test(test_time_weighted_and_midnight),
	    cmocka_unit_test(test_silent),
	    cmocka_unit_test(test_events_and_inspections),
	    cmocka_unit_test(test_footage),
	    cmocka_unit_test(test_detail_rows),
	    cmocka_unit_test(test_detail_caps),
	    cmocka_unit_test(test_tickets_retained),
	    cmocka_unit_test(test_records_seeded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

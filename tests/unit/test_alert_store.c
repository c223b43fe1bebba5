/* Unit tests of alerts/store.c on a temporary SQLite file: alert state and event round
 * trip, a crash (a child process killed in the middle of a transaction, no close)
 * followed by a reopen, delivery marks, and pruning that keeps undelivered events. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "alerts/alert_json.h"
#include "alerts/store.h"

struct tmp {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	snprintf(t->dir, sizeof(t->dir), "/tmp/hw-store-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/hallwatch.db", t->dir);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

struct rows {
	char ids[16][64];
	char json[16][512];
	int n;
};

static int collect(const char *id, const char *json, void *ud)
{
	struct rows *r = ud;

	snprintf(r->ids[r->n], sizeof(r->ids[0]), "%s", id);
	snprintf(r->json[r->n], sizeof(r->json[0]), "%s", json);
	r->n++;
	return 0;
}

struct evs {
	uint64_t seq[64];
	int n;
};

static int collect_ev(uint64_t seq, const char *json, void *ud)
{
	struct evs *e = ud;

	(void)json;
	e->seq[e->n++] = seq;
	return 0;
}

static void test_round_trip(void **state)
{
	struct tmp *t = *state;
	struct alert_store *s;
	struct rows r = {0};
	struct alert a = {0}, b;
	json_t *j;
	char *txt;

	snprintf(a.id, sizeof(a.id), "facp1.zone-3.fire");
	snprintf(a.device, sizeof(a.device), "facp1");
	snprintf(a.point, sizeof(a.point), "zone[3].fire");
	snprintf(a.cond, sizeof(a.cond), "fire");
	a.prio = AP_P1;
	a.core = AC_UNACK;
	a.active = a.raw = true;
	a.raised_ms = 1234;
	a.seq = 7;
	j = alert_to_json(&a, "s1", true);
	txt = json_dumps(j, JSON_COMPACT);
	json_decref(j);

	assert_int_equal(alert_store_open(t->path, &s), 0);
	assert_int_equal(alert_store_last_seq(s), 0);
	assert_int_equal(alert_store_begin(s), 0);
	assert_int_equal(alert_store_put_alert(s, a.id, txt, 1234), 0);
	assert_int_equal(alert_store_add_event(s, 1, 1234, "{\"seq\":1}"), 0);
	assert_int_equal(alert_store_commit(s), 0);
	alert_store_close(s);

	assert_int_equal(alert_store_open(t->path, &s), 0);
	assert_int_equal(alert_store_last_seq(s), 1);
	assert_int_equal(alert_store_load(s, collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ids[0], "facp1.zone-3.fire");
	assert_string_equal(r.json[0], txt);
	j = json_loads(r.json[0], 0, NULL);
	assert_int_equal(alert_from_json(j, &b), 0);
	json_decref(j);
	assert_int_equal(memcmp(&a, &b, sizeof(a)), 0);
	/* an update then a delete */
	assert_int_equal(alert_store_begin(s), 0);
	assert_int_equal(alert_store_put_alert(s, a.id, "{}", 2000), 0);
	assert_int_equal(alert_store_del_alert(s, a.id), 0);
	assert_int_equal(alert_store_commit(s), 0);
	r.n = 0;
	assert_int_equal(alert_store_load(s, collect, &r), 0);
	assert_int_equal(r.n, 0);
	alert_store_close(s);
	free(txt);
}

/* The child commits one batch, starts a second and dies by SIGKILL inside it. */
static void test_crash(void **state)
{
	struct tmp *t = *state;
	struct alert_store *s;
	struct rows r = {0};
	struct evs e = {0};
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (alert_store_open(t->path, &s) < 0)
			_exit(2);
		alert_store_begin(s);
		alert_store_put_alert(s, "a.one", "{\"n\":1}", 1);
		alert_store_add_event(s, 1, 1, "{\"seq\":1}");
		alert_store_add_event(s, 2, 1, "{\"seq\":2}");
		alert_store_commit(s);
		alert_store_begin(s);
		alert_store_put_alert(s, "a.two", "{\"n\":2}", 2);
		alert_store_add_event(s, 3, 2, "{\"seq\":3}");
		raise(SIGKILL); /* no commit, no close */
		_exit(3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	assert_int_equal(alert_store_open(t->path, &s), 0);
	assert_int_equal(alert_store_last_seq(s), 2);
	assert_int_equal(alert_store_load(s, collect, &r), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ids[0], "a.one");
	assert_int_equal(alert_store_undelivered(s, 0, 100, collect_ev, &e), 0);
	assert_int_equal(e.n, 2);
	assert_int_equal(e.seq[0], 1);
	assert_int_equal(e.seq[1], 2);
	alert_store_close(s);
}

static void test_delivery_and_prune(void **state)
{
	struct tmp *t = *state;
	struct alert_store *s;
	struct evs e = {0};

	assert_int_equal(alert_store_open(t->path, &s), 0);
	assert_int_equal(alert_store_begin(s), 0);
	for (uint64_t q = 1; q <= 30; q++)
		assert_int_equal(alert_store_add_event(s, q, (int64_t)q, "{}"), 0);
	assert_int_equal(alert_store_commit(s), 0);
	/* 1..10 delivered, 11 not, 12..25 delivered */
	for (uint64_t q = 1; q <= 25; q++)
		if (q != 11)
			assert_int_equal(alert_store_mark_delivered(s, q), 0);
	assert_int_equal(alert_store_count_events(s, true), 6);
	assert_int_equal(alert_store_undelivered(s, 0, 3, collect_ev, &e), 0);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.seq[0], 11);
	assert_int_equal(e.seq[1], 26);
	assert_int_equal(e.seq[2], 27);
	/* keep the newest 10 (21..30): delivered 1..10 and 12..20 go, undelivered 11 stays */
	assert_int_equal(alert_store_prune(s, 10), 19);
	assert_int_equal(alert_store_count_events(s, false), 11);
	e.n = 0;
	assert_int_equal(alert_store_undelivered(s, 0, 100, collect_ev, &e), 0);
	assert_int_equal(e.n, 6);
	assert_int_equal(e.seq[0], 11);
	/* a sequence number is never reused */
	assert_int_equal(alert_store_begin(s), 0);
	assert_int_not_equal(alert_store_add_event(s, 30, 31, "{}"), 0);
	alert_store_rollback(s);
	alert_store_close(s);
}

/* The history an inspector asks for: a time range scanned newest first, at most N of it (the
 * service filters and turns it oldest first). */
static void test_history(void **state)
{
	struct tmp *t = *state;
	struct alert_store *s;
	struct evs e = {0};

	assert_int_equal(alert_store_open(t->path, &s), 0);
	assert_int_equal(alert_store_begin(s), 0);
	for (uint64_t q = 1; q <= 20; q++) /* seq q at t = 1000 q */
		assert_int_equal(alert_store_add_event(s, q, (int64_t)q * 1000, "{}"), 0);
	assert_int_equal(alert_store_commit(s), 0);
	assert_int_equal(alert_store_history(s, 5000, 9000, 100, collect_ev, &e), 0);
	assert_int_equal(e.n, 4); /* 8..5: from inclusive, to exclusive */
	assert_int_equal(e.seq[0], 8);
	assert_int_equal(e.seq[3], 5);
	e.n = 0;
	assert_int_equal(alert_store_history(s, 0, INT64_MAX, 3, collect_ev, &e), 0);
	assert_int_equal(e.n, 3); /* the latest three, newest first */
	assert_int_equal(e.seq[0], 20);
	assert_int_equal(e.seq[2], 18);
	e.n = 0;
	assert_int_equal(alert_store_history(s, 21000, 30000, 10, collect_ev, &e), 0);
	assert_int_equal(e.n, 0);
	alert_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delivery_and_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The inspection tables (inspect/insp_store.c) and their migration (core/db.c version 2):
 * a version-1 file is upgraded with its rows kept; tasks, records, tickets and their
 * transitions round-trip; retention prunes only what is over and counts it. */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sqlite3.h>

#include <cmocka.h>

#include "core/db.h"
#include "inspect/insp_store.h"

#define DAY (86400 * 1000LL)
#define T0 1767196800000LL

struct fx {
	char *dir;
	char *path;
	struct insp_store *s;
};

static int setup(void **state)
{
	struct fx *f = g_new0(struct fx, 1);

	f->dir = g_dir_make_tmp("insp-store-XXXXXX", NULL);
	f->path = g_build_filename(f->dir, "hallwatch.db", NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char *p;

	insp_store_close(f->s);
	for (const char *const *sfx = (const char *const[]){"", "-wal", "-shm", NULL}; *sfx;
	     sfx++) {
		p = g_strconcat(f->path, *sfx, NULL);
		g_unlink(p);
		g_free(p);
	}
	g_rmdir(f->dir);
	g_free(f->path);
	g_free(f->dir);
	g_free(f);
	return 0;
}

static int64_t query(const char *path, const char *sql)
{
	sqlite3 *c;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(c);
	return v;
}

/* A file of version 1 (as the previous release left it) gets the inspection tables and
 * keeps its rows. */
static void test_v1_file_upgraded(void **state)
{
	struct fx *f = *state;
	sqlite3 *c;

	assert_int_equal(sqlite3_open(f->path, &c), SQLITE_OK);
	assert_int_equal(sqlite3_exec(c,
				      "CREATE TABLE alert_state(id TEXT PRIMARY KEY, json TEXT NOT "
				      "NULL, updated_ms INTEGER NOT NULL);"
				      "INSERT INTO alert_state VALUES('cam1.dark', '{}', 5);"
				      "PRAGMA user_version = 1;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(c);
	assert_int_equal(insp_store_open(f->path, &f->s), 0);
	assert_int_equal(db_version(insp_store_db(f->s)), DB_VERSION);
	assert_int_equal(query(f->path, "PRAGMA user_version"), DB_VERSION);
	assert_int_equal(query(f->path, "SELECT updated_ms FROM alert_state"), 5);
	assert_int_equal(query(f->path, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE "
					"'insp_%' AND type = 'table'"),
			 5);
}

static struct insp_task task(const char *plan, const char *target, int64_t base, enum insp_state st,
			     int64_t done)
{
	struct insp_task t = {0};

	snprintf(t.id, sizeof(t.id), "%s/%s/%lld", plan, target, (long long)(base / 1000));
	g_strlcpy(t.plan, plan, sizeof(t.plan));
	g_strlcpy(t.target, target, sizeof(t.target));
	t.kind = INSP_STAFF_PATROL;
	t.state = st;
	t.base_ms = base;
	t.due_ms = base + 5;
	t.open_ms = base;
	t.late_ms = base + 10;
	t.miss_ms = base + 20;
	t.changed_ms = done ? done : base;
	t.done_ms = done;
	g_strlcpy(t.by, "li", sizeof(t.by));
	g_strlcpy(t.reason, "note 'quoted'", sizeof(t.reason));
	return t;
}

static int collect(const struct insp_task *t, void *ud)
{
	g_array_append_val((GArray *)ud, *t);
	return 0;
}

static void test_tasks(void **state)
{
	struct fx *f = *state;
	GArray *v = g_array_new(FALSE, FALSE, sizeof(struct insp_task));
	struct insp_task t;

	assert_int_equal(insp_store_open(f->path, &f->s), 0);
	assert_int_equal(insp_store_begin(f->s), 0);
	for (int i = 0; i < 5; i++) {
		t = task("patrol", "hall", T0 + i * DAY, IS_PASSED, T0 + i * DAY + 100);
		assert_int_equal(insp_store_put_task(f->s, &t), 0);
	}
	t = task("patrol", "hall", T0 + 5 * DAY, IS_OVERDUE, 0);
	assert_int_equal(insp_store_put_task(f->s, &t), 0);
	t = task("patrol", "hall", T0 + 6 * DAY, IS_SCHEDULED, 0);
	assert_int_equal(insp_store_put_task(f->s, &t), 0);
	assert_int_equal(insp_store_commit(f->s), 0);
	/* what a restart needs: the live two and the newest final one */
	assert_int_equal(insp_store_load_tasks(f->s, collect, v), 0);
	assert_int_equal(v->len, 3);
	t = g_array_index(v, struct insp_task, 0);
	assert_int_equal(t.state, IS_PASSED);
	assert_int_equal(t.base_ms, T0 + 4 * DAY);
	assert_int_equal(t.done_ms, T0 + 4 * DAY + 100);
	assert_string_equal(t.reason, "note 'quoted'");
	assert_int_equal(g_array_index(v, struct insp_task, 1).state, IS_OVERDUE);
	assert_int_equal(g_array_index(v, struct insp_task, 2).late_ms, T0 + 6 * DAY + 10);
	g_array_set_size(v, 0);
	assert_int_equal(
	    insp_store_list_tasks(f->s, "patrol", T0 + DAY, T0 + 3 * DAY, 10, collect, v), 0);
	assert_int_equal(v->len, 2);
	assert_int_equal(insp_store_set_meta(f->s, "last_run_ms", T0 + 99), 0);
	assert_int_equal(insp_store_get_meta(f->s, "last_run_ms", 0), T0 + 99);
	assert_int_equal(insp_store_get_meta(f->s, "nothing", -7), -7);
	g_array_free(v, TRUE);
}

static int count_tr(const struct ticket_tr *tr, void *ud)
{
	GArray *v = ud;
	g_array_append_val(v, *tr);
	return 0;
}

static int count_ticket(const struct ticket *t, void *ud)
{
	(*(int *)ud)++;
	return 0;
}

static void test_tickets_and_records(void **state)
{
	struct fx *f = *state;
	struct ticket t, back;
	struct ticket_tr tr;
	GArray *h = g_array_new(FALSE, FALSE, sizeof(struct ticket_tr));
	int64_t rid = 0;
	int n = 0;

	assert_int_equal(insp_store_open(f->path, &f->s), 0);
	assert_int_equal(
	    ticket_open(&t, "camera", "cam1", "patrol/cam1/1", "dark", 86400, "gateway", T0, &tr),
	    0);
	assert_int_equal(insp_store_put_ticket(f->s, &t, &tr), 0);
	assert_int_equal(
	    ticket_apply(&t, TA_START, "wang", "on site", NULL, TR_NONE, T0 + 1000, &tr), 0);
	assert_int_equal(insp_store_put_ticket(f->s, &t, &tr), 0);
	assert_int_equal(ticket_apply(&t, TA_REPAIRED, "wang", "", NULL, TR_NONE, T0 + 2000, &tr),
			 0);
	assert_int_equal(insp_store_put_ticket(f->s, &t, &tr), 0);
	assert_int_equal(
	    ticket_apply(&t, TA_VERIFY, "gateway", "picture fine", NULL, TR_PASS, T0 + 3000, &tr),
	    0);
	assert_int_equal(insp_store_put_ticket(f->s, &t, &tr), 0);
	assert_int_equal(insp_store_get_ticket(f->s, t.id, &back), 0);
	assert_int_equal(back.state, TK_CLOSED);
	assert_int_equal(back.closed_ms, T0 + 3000);
	assert_int_equal(back.deadline_ms, T0 + DAY);
	assert_int_equal(insp_store_get_ticket(f->s, "nope", &back), -ENOENT);
	assert_int_equal(insp_store_ticket_history(f->s, t.id, count_tr, h), 0);
	assert_int_equal(h->len, 4);
	assert_int_equal(g_array_index(h, struct ticket_tr, 3).recheck, TR_PASS);
	assert_string_equal(g_array_index(h, struct ticket_tr, 1).by, "wang");
	assert_int_equal(g_array_index(h, struct ticket_tr, 2).to, TK_PENDING_VERIFY);
	/* a second one stays open */
	assert_int_equal(
	    ticket_open(&t, "camera", "cam2", "", "covered", 86400, "gateway", T0 + 10 * DAY, &tr),
	    0);
	assert_int_equal(insp_store_put_ticket(f->s, &t, &tr), 0);
	assert_int_equal(insp_store_open_tickets(f->s, count_ticket, &n), 0);
	assert_int_equal(n, 1);

	assert_int_equal(insp_store_add_record(f->s, "patrol/hall/1", "patrol", "hall",
					       INSP_STAFF_PATROL, T0, "passed", "li", NULL, &rid),
			 0);
	assert_true(rid > 0);
	assert_int_equal(insp_store_review(f->s, rid, "county", "ok", "seen", T0 + DAY), 0);
	assert_int_equal(insp_store_review(f->s, rid + 100, "county", "ok", "", T0 + DAY), -ENOENT);
	assert_int_equal(query(f->path, "SELECT reviewed_ms FROM insp_record"), T0 + DAY);
	g_array_free(h, TRUE);
}

/* Retention: what is over and older than the cut goes, counted; live tasks and open
 * tickets stay whatever their age. */
static void test_prune(void **state)
{
	struct fx *f = *state;
	struct insp_prune p;
	struct insp_task t;
	struct ticket k;
	struct ticket_tr tr;

	assert_int_equal(insp_store_open(f->path, &f->s), 0);
	for (int i = 0; i < 10; i++) {
		t = task("patrol", "hall", T0 + i * DAY, IS_MISSED, T0 + i * DAY + 50);
		assert_int_equal(insp_store_put_task(f->s, &t), 0);
		assert_int_equal(insp_store_add_record(f->s, t.id, "patrol", "hall", 1,
						       T0 + i * DAY, "missed", "", NULL, NULL),
				 0);
	}
	t = task("patrol", "hall", T0 - 100 * DAY, IS_POSTPONED, 0); /* old but live */
	assert_int_equal(insp_store_put_task(f->s, &t), 0);
	assert_int_equal(ticket_open(&k, "camera", "cam1", "", "", 3600, "gw", T0, &tr), 0);
	assert_int_equal(insp_store_put_ticket(f->s, &k, &tr), 0); /* open: stays */
	assert_int_equal(ticket_open(&k, "camera", "cam2", "", "", 3600, "gw", T0, &tr), 0);
	assert_int_equal(insp_store_put_ticket(f->s, &k, &tr), 0);
	assert_int_equal(ticket_apply(&k, TA_START, "w", "", NULL, TR_NONE, T0, &tr), 0);
	assert_int_equal(insp_store_put_ticket(f->s, &k, &tr), 0);
	assert_int_equal(ticket_apply(&k, TA_REPAIRED, "w", "", NULL, TR_NONE, T0, &tr), 0);
	assert_int_equal(insp_store_put_ticket(f->s, &k, &tr), 0);
	assert_int_equal(ticket_apply(&k, TA_CLOSE, "w", "", NULL, TR_PASS, T0 + 1, &tr), 0);
	assert_int_equal(insp_store_put_ticket(f->s, &k, &tr), 0);

	assert_int_equal(insp_store_prune(f->s, T0 + 4 * DAY, &p), 0);
	assert_int_equal(p.tasks, 4);
	assert_int_equal(p.records, 4);
	assert_int_equal(p.tickets, 1);
	assert_int_equal(p.transitions, 4);
	assert_int_equal(p.total, 13);
	assert_int_equal(query(f->path, "SELECT COUNT(*) FROM insp_task"), 7);
	assert_int_equal(query(f->path, "SELECT COUNT(*) FROM insp_task WHERE state = 'postponed'"),
			 1);
	assert_int_equal(query(f->path, "SELECT COUNT(*) FROM insp_ticket"), 1);
	assert_int_equal(insp_store_prune(f->s, T0 + 5 * DAY, &p), 0);
	assert_int_equal(p.tasks, 1);
	assert_int_equal(p.total, 15);
	assert_int_equal(insp_store_get_meta(f->s, "pruned_total", 0), 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_v1_file_upgraded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tasks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tickets_and_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of core/db.c on temporary files: the pragmas of a new file, migrations run
 * once and in order, an appended migration alone on reopen, a failing migration leaving the
 * file untouched, a newer schema refused, one connection per file, the error mapping (a
 * full database is -ENOSPC with its text kept, anything else -EIO), transactions (no
 * nesting, rollback, commit count, end watchers) and the statement cache. */
#include <errno.h>
#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/wait.h>
#include <unistd.h>

#include "core/db.h"

struct tmp {
	char *dir;
	char *path;
};

static int setup(void **state)
{
	struct tmp *t = g_new0(struct tmp, 1);

	t->dir = g_dir_make_tmp("hw-dbmod-XXXXXX", NULL);
	assert_non_null(t->dir);
	t->path = g_build_filename(t->dir, "hallwatch.db", NULL);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	char *cmd = g_strdup_printf("rm -rf '%s'", t->dir);

	assert_int_equal(system(cmd), 0);
	g_free(cmd);
	g_free(t->path);
	g_free(t->dir);
	g_free(t);
	return 0;
}

/* One integer a query gives on db's connection (-1 if none). */
static long long query(struct db *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	db_lock(db);
	assert_int_equal(db_prepare(db, sql, &st), 0);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	db_reset(st);
	db_unlock(db);
	return v;
}

static const char *text(struct db *db, const char *sql, char *buf, size_t n)
{
	sqlite3_stmt *st;

	buf[0] = '\0';
	db_lock(db);
	assert_int_equal(db_prepare(db, sql, &st), 0);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
	db_reset(st);
	db_unlock(db);
	return buf;
}

static void test_new_file(void **state)
{
	struct tmp *t = *state;
	struct db *db;
	char buf[32];
	static const char *const tables[] = {"outbox_msg", "outbox_rejected", "alert_state",
					     "alert_event", "video_segments"};

	assert_int_equal(db_open(t->path, &db), 0);
	assert_int_equal(db_version(db), DB_VERSION);
	assert_int_equal(query(db, "PRAGMA user_version"), DB_VERSION);
	assert_string_equal(text(db, "PRAGMA journal_mode", buf, sizeof(buf)), "wal");
	assert_int_equal(query(db, "PRAGMA synchronous"), 2); /* FULL */
	assert_int_equal(query(db, "PRAGMA busy_timeout"), 5000);
	for (size_t i = 0; i < G_N_ELEMENTS(tables); i++) {
		char *sql = g_strdup_printf("SELECT COUNT(*) FROM sqlite_master WHERE type = "
					    "'table' AND name = '%s'",
					    tables[i]);
		assert_int_equal(query(db, sql), 1);
		g_free(sql);
	}
	db_close(db);
}

static int calls[3];

static int count0(sqlite3 *c)
{
	calls[0]++;
	return sqlite3_exec(c, "CREATE TABLE a(x)", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static int count1(sqlite3 *c)
{
	calls[1]++;
	return sqlite3_exec(c, "INSERT INTO a VALUES(1)", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static int count2(sqlite3 *c)
{
	calls[2]++;
	return sqlite3_exec(c, "UPDATE a SET x = x + 1", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static const struct db_migration counted[] = {
    {.name = "a", .fn = count0},
    {.name = "a row", .fn = count1},
    {.name = "a row changed", .fn = count2},
};

/* Each migration runs once, in order; reopening runs none; an appended one runs alone. */
static void test_migrations_once(void **state)
{
	struct tmp *t = *state;
	struct db *db;

	memset(calls, 0, sizeof(calls));
	assert_int_equal(db_open_with(t->path, counted, 2, &db), 0);
	assert_int_equal(db_version(db), 2);
	assert_int_equal(query(db, "SELECT x FROM a"), 1);
	db_close(db);
	assert_int_equal(db_open_with(t->path, counted, 2, &db), 0);
	db_close(db);
	assert_int_equal(calls[0], 1);
	assert_int_equal(calls[1], 1);
	assert_int_equal(db_open_with(t->path, counted, 3, &db), 0);
	assert_int_equal(db_version(db), 3);
	assert_int_equal(query(db, "PRAGMA user_version"), 3);
	assert_int_equal(query(db, "SELECT x FROM a"), 2);
	db_close(db);
	assert_int_equal(calls[0], 1);
	assert_int_equal(calls[1], 1);
	assert_int_equal(calls[2], 1);
}

/* A migration that fails leaves the file as it was: the earlier steps of the same open are
 * undone too, and the version stays. */
static void test_failed_migration(void **state)
{
	struct tmp *t = *state;
	static const struct db_migration bad[] = {
	    {.name = "a", .sql = "CREATE TABLE a(x)"},
	    {.name = "b", .sql = "CREATE TABLE b(x)"},
	    {.name = "broken", .sql = "CREATE TABLE c(x); INSERT INTO nowhere VALUES(1)"},
	};
	struct db *db;

	assert_int_equal(db_open_with(t->path, bad, 1, &db), 0);
	db_close(db);
	assert_int_equal(db_open_with(t->path, bad, 3, &db), -EIO);
	assert_int_equal(db_open_with(t->path, bad, 1, &db), 0);
	assert_int_equal(query(db, "PRAGMA user_version"), 1);
	assert_int_equal(query(db, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('b', 'c')"),
			 0);
	db_close(db);
}

/* A file of a version beyond the list is refused and not changed. */
static void test_newer_refused(void **state)
{
	struct tmp *t = *state;
	struct db *db;

	assert_int_equal(db_open_with(t->path, counted, 3, &db), 0);
	db_close(db);
	memset(calls, 0, sizeof(calls));
	assert_int_equal(db_open_with(t->path, counted, 2, &db), -EPROTO);
	assert_int_equal(db_open_with(t->path, counted, 3, &db), 0);
	assert_int_equal(query(db, "PRAGMA user_version"), 3);
	assert_int_equal(query(db, "SELECT x FROM a"), 2);
	db_close(db);
	assert_int_equal(calls[0] + calls[1] + calls[2], 0);
}

/* hallwatch's own list refuses a file one version beyond DB_VERSION. */
static void test_newer_than_hallwatch(void **state)
{
	struct tmp *t = *state;
	char *sql = g_strdup_printf("PRAGMA user_version = %d", DB_VERSION + 1);
	sqlite3 *c;
	struct db *db;

	assert_int_equal(sqlite3_open(t->path, &c), SQLITE_OK);
	assert_int_equal(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(c);
	g_free(sql);
	assert_int_equal(db_open(t->path, &db), -EPROTO);
}

/* The same file opened twice is one connection until its last reference goes. */
static void test_shared(void **state)
{
	struct tmp *t = *state;
	char *other = g_build_filename(t->dir, "other.db", NULL);
	struct db *a, *b, *c;

	assert_int_equal(db_open(t->path, &a), 0);
	assert_int_equal(db_open(t->path, &b), 0);
	assert_ptr_equal(a, b);
	assert_int_equal(db_open(other, &c), 0);
	assert_ptr_not_equal(a, c);
	db_close(a);
	assert_int_equal(query(b, "SELECT COUNT(*) FROM alert_event"), 0);
	db_close(b);
	db_close(c);
	g_free(other);
}

/* A full database (its page limit reached) is -ENOSPC with SQLite's text kept; a constraint
 * violation is -EIO; the statement is usable again afterwards. */
static void test_error_mapping(void **state)
{
	struct tmp *t = *state;
	static const char ins[] = "INSERT INTO alert_event(seq, t_ms, json) VALUES(?1, 0, ?2)";
	char *big = g_malloc(64 * 1024 + 1);
	sqlite3_stmt *st;
	struct db *db;

	memset(big, 'x', 64 * 1024);
	big[64 * 1024] = '\0';
	assert_int_equal(db_open(t->path, &db), 0);
	db_lock(db);
	assert_int_equal(db_exec(db, "PRAGMA max_page_count = 1"), 0);
	assert_int_equal(db_prepare(db, ins, &st), 0);
	sqlite3_bind_int(st, 1, 1);
	sqlite3_bind_text(st, 2, big, -1, SQLITE_STATIC);
	assert_int_equal(db_step_done(db, st, "log event"), -ENOSPC);
	assert_non_null(strstr(db_error(db), "log event: database or disk is full"));

	assert_int_equal(db_exec(db, "PRAGMA max_page_count = 1000000"), 0);
	assert_int_equal(db_prepare(db, ins, &st), 0);
	sqlite3_bind_int(st, 1, 1);
	sqlite3_bind_text(st, 2, "{}", -1, SQLITE_STATIC);
	assert_int_equal(db_step_done(db, st, "log event"), 0);
	assert_int_equal(db_prepare(db, ins, &st), 0);
	sqlite3_bind_int(st, 1, 1);
	sqlite3_bind_text(st, 2, "{}", -1, SQLITE_STATIC);
	assert_int_equal(db_step_done(db, st, "log event"), -EIO);
	assert_non_null(strstr(db_error(db), "UNIQUE"));
	assert_int_equal(db_exec(db, "SELECT nothing FROM nowhere"), -EIO);
	db_unlock(db);
	db_close(db);
	g_free(big);
}

struct ends {
	int committed;
	int rolled_back;
};

static void on_end(bool committed, void *ud)
{
	struct ends *e = ud;

	if (committed)
		e->committed++;
	else
		e->rolled_back++;
}

/* A transaction does not nest; a rollback leaves nothing; a commit counts once; watchers
 * see both ends; COMMIT without a transaction is refused. */
static void test_transactions(void **state)
{
	struct tmp *t = *state;
	struct ends e = {0};
	struct db *db;
	uint64_t commits;

	assert_int_equal(db_open(t->path, &db), 0);
	db_watch(db, on_end, &e);
	commits = db_commits(db);
	assert_false(db_in_tx(db));
	assert_int_equal(db_commit(db), -EINVAL);

	assert_int_equal(db_begin(db), 0);
	assert_true(db_in_tx(db));
	assert_int_equal(db_begin(db), -EINPROGRESS);
	assert_int_equal(db_exec(db, "INSERT INTO alert_state VALUES('a', '{}', 1)"), 0);
	db_rollback(db);
	assert_false(db_in_tx(db));
	assert_int_equal(query(db, "SELECT COUNT(*) FROM alert_state"), 0);
	assert_int_equal(e.rolled_back, 1);

	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_exec(db, "INSERT INTO alert_state VALUES('a', '{}', 1)"), 0);
	assert_int_equal(db_exec(db, "INSERT INTO alert_state VALUES('b', '{}', 1)"), 0);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(query(db, "SELECT COUNT(*) FROM alert_state"), 2);
	assert_int_equal(db_commits(db) - commits, 1);
	assert_int_equal(e.committed, 1);

	/* A failed statement leaves the transaction open for the caller to end. */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_exec(db, "INSERT INTO alert_state VALUES('a', '{}', 1)"), -EIO);
	assert_true(db_in_tx(db));
	db_rollback(db);
	assert_int_equal(e.rolled_back, 2);
	db_unwatch(db, on_end, &e);
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(e.committed, 1);
	db_close(db);
}

/* A cached statement in the middle of its rows is not handed out a second time. */
static void test_statement_in_use(void **state)
{
	struct tmp *t = *state;
	static const char sel[] = "SELECT id FROM alert_state ORDER BY id";
	sqlite3_stmt *a, *b;
	struct db *db;

	assert_int_equal(db_open(t->path, &db), 0);
	db_lock(db);
	assert_int_equal(db_exec(db, "INSERT INTO alert_state VALUES('a', '{}', 1), "
				     "('b', '{}', 1)"),
			 0);
	assert_int_equal(db_prepare(db, sel, &a), 0);
	assert_int_equal(sqlite3_step(a), SQLITE_ROW);
	assert_int_equal(db_prepare(db, sel, &b), -EBUSY);
	db_reset(a);
	assert_int_equal(db_prepare(db, sel, &b), 0);
	assert_ptr_equal(a, b);
	db_reset(b);
	db_unlock(db);
	db_close(db);
}

/* Two processes creating the same new file at once (two county instances sharing a
 * state_dir, started together): both open it. SQLite answers "database is locked" at once,
 * without its busy handler, to one of two connections upgrading their locks together (the
 * switch to WAL of a new file): db_open waits and tries again. */
static void test_created_by_two(void **state)
{
	struct tmp *t = *state;
	int failed = 0;

	for (int i = 0; i < 40; i++) {
		char *path = g_strdup_printf("%s/race-%d.db", t->dir, i);
		pid_t kids[2];

		for (int k = 0; k < 2; k++) {
			kids[k] = fork();
			assert_true(kids[k] >= 0);
			if (kids[k] == 0) {
				struct db *db = NULL;
				int rc = db_open(path, &db);
				if (rc == 0)
					db_close(db);
				_exit(rc == 0 && db ? 0 : 1);
			}
		}
		for (int k = 0; k < 2; k++) {
			int st = 0;
			assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
			failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
		g_free(path);
	}
	assert_int_equal(failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_new_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrations_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failed_migration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_than_hallwatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shared, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_error_mapping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_statement_in_use, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_created_by_two, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

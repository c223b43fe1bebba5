/* SQLite store of alert state and the alert event log: its tables in hallwatch.db, through
 * the shared connection of core/db.c. Used on the main loop thread only.
 *
 * WAL with synchronous=FULL: a commit returns only once the WAL is on disk, so an
 * alert published after its commit survives a power cut too, not only a SIGKILL
 * (NORMAL would survive SIGKILL but may lose the last commits on power loss).
 * Commits happen per transition batch, not per poll, so the fsync is affordable. */
#define LOG_TAG "alert-store"
#include "alerts/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"

static const char sql_put[] =
    "INSERT INTO alert_state(id, json, updated_ms) VALUES(?1, ?2, ?3) "
    "ON CONFLICT(id) DO UPDATE SET json = excluded.json, updated_ms = excluded.updated_ms";
static const char sql_del[] = "DELETE FROM alert_state WHERE id = ?1";
static const char sql_event[] =
    "INSERT INTO alert_event(seq, t_ms, json, delivered) VALUES(?1, ?2, ?3, 0)";
static const char sql_delivered[] = "UPDATE alert_event SET delivered = 1 WHERE seq = ?1";
static const char sql_undelivered[] = "SELECT seq, json FROM alert_event WHERE delivered = 0 "
				      "AND seq > ?1 ORDER BY seq LIMIT ?2";
static const char sql_history[] = "SELECT seq, json FROM alert_event WHERE t_ms >= ?1 AND "
				  "t_ms < ?2 ORDER BY seq DESC LIMIT ?3";
static const char sql_load[] = "SELECT id, json FROM alert_state ORDER BY id";
static const char sql_last[] = "SELECT COALESCE(MAX(seq), 0) FROM alert_event";
static const char sql_count_all[] = "SELECT COUNT(*) FROM alert_event";
static const char sql_count_undelivered[] = "SELECT COUNT(*) FROM alert_event WHERE delivered = 0";
static const char sql_prune[] = "DELETE FROM alert_event WHERE delivered = 1 AND seq <= "
				"(SELECT COALESCE(MAX(seq), 0) FROM alert_event) - ?1";

struct alert_store {
	struct db *db;
	uint64_t last_seq;
	char err[256]; /* the last failure of this store */
};

/* Keeps the text of a failure of ours (lock held). Failures to write are not logged here:
 * the service logs a failure run when it starts and ends. */
static int failed(struct alert_store *s, int rc)
{
	if (rc < 0)
		snprintf(s->err, sizeof(s->err), "%s", db_error(s->db));
	return rc;
}

/* Runs sql once with bindings made by bind, expecting no row. */
static int run(struct alert_store *s, const char *sql, const char *what,
	       void (*bind)(sqlite3_stmt *st, const void *a), const void *a)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, sql, &st);
	if (rc == 0) {
		bind(st, a);
		rc = db_step_done(s->db, st, what);
	}
	failed(s, rc);
	db_unlock(s->db);
	return rc;
}

/* The one integer a query gives (0 if none). */
static int64_t query_int(struct alert_store *s, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v = 0;

	db_lock(s->db);
	if (db_prepare(s->db, sql, &st) == 0) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		db_reset(st);
	}
	db_unlock(s->db);
	return v;
}

int alert_store_open(const char *path, struct alert_store **out)
{
	struct alert_store *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	rc = db_open(path, &s->db);
	if (rc < 0) {
		free(s);
		return rc;
	}
	s->last_seq = (uint64_t)query_int(s, sql_last);
	*out = s;
	return 0;
}

void alert_store_close(struct alert_store *s)
{
	if (!s)
		return;
	db_close(s->db);
	free(s);
}

struct db *alert_store_db(const struct alert_store *s)
{
	return s->db;
}

/* Calls fn with the text columns 0 and 1 (or the integer 0 and the text 1) of every row
 * st gives. */
static int each_row(struct alert_store *s, sqlite3_stmt *st, const char *what,
		    int (*fn_text)(const char *a, const char *b, void *ud),
		    int (*fn_seq)(uint64_t a, const char *b, void *ud), void *ud)
{
	int rc = 0, r;

	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *b = (const char *)sqlite3_column_text(st, 1);
		rc = fn_text ? fn_text((const char *)sqlite3_column_text(st, 0), b, ud)
			     : fn_seq((uint64_t)sqlite3_column_int64(st, 0), b, ud);
		if (rc < 0)
			break;
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = failed(s, db_fail(s->db, what));
	db_reset(st);
	return rc;
}

int alert_store_load(struct alert_store *s, int (*fn)(const char *id, const char *json, void *ud),
		     void *ud)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = failed(s, db_prepare(s->db, sql_load, &st));
	if (rc == 0)
		rc = each_row(s, st, "load alerts", fn, NULL, ud);
	db_unlock(s->db);
	return rc;
}

uint64_t alert_store_last_seq(struct alert_store *s)
{
	return s->last_seq;
}

int alert_store_begin(struct alert_store *s)
{
	int rc = db_begin(s->db);

	if (rc < 0) {
		db_lock(s->db);
		failed(s, rc);
		db_unlock(s->db);
	}
	return rc;
}

int alert_store_commit(struct alert_store *s)
{
	return failed(s, db_commit(s->db));
}

const char *alert_store_error(const struct alert_store *s)
{
	return s->err;
}

void alert_store_rollback(struct alert_store *s)
{
	/* What failed may be another module's write in the transaction (outbox_put_in): the
	 * connection's last error is the one that ends it. */
	if (db_in_tx(s->db) && db_error(s->db)[0])
		failed(s, -EIO);
	db_rollback(s->db);
}

struct row {
	const char *id;
	const char *json;
	int64_t t_ms;
	uint64_t seq;
};

static void bind_put(sqlite3_stmt *st, const void *a)
{
	const struct row *r = a;

	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->t_ms);
}

static void bind_id(sqlite3_stmt *st, const void *a)
{
	sqlite3_bind_text(st, 1, ((const struct row *)a)->id, -1, SQLITE_STATIC);
}

static void bind_event(sqlite3_stmt *st, const void *a)
{
	const struct row *r = a;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->seq);
	sqlite3_bind_int64(st, 2, r->t_ms);
	sqlite3_bind_text(st, 3, r->json, -1, SQLITE_STATIC);
}

static void bind_seq(sqlite3_stmt *st, const void *a)
{
	sqlite3_bind_int64(st, 1, (sqlite3_int64)((const struct row *)a)->seq);
}

int alert_store_put_alert(struct alert_store *s, const char *id, const char *json, int64_t t_ms)
{
	struct row r = {.id = id, .json = json, .t_ms = t_ms};

	return run(s, sql_put, "store alert", bind_put, &r);
}

int alert_store_del_alert(struct alert_store *s, const char *id)
{
	struct row r = {.id = id};

	return run(s, sql_del, "delete alert", bind_id, &r);
}

int alert_store_add_event(struct alert_store *s, uint64_t seq, int64_t t_ms, const char *json)
{
	struct row r = {.seq = seq, .t_ms = t_ms, .json = json};
	int rc = run(s, sql_event, "log event", bind_event, &r);

	if (rc == 0 && seq > s->last_seq)
		s->last_seq = seq;
	return rc;
}

int alert_store_mark_delivered(struct alert_store *s, uint64_t seq)
{
	struct row r = {.seq = seq};

	return run(s, sql_delivered, "mark delivered", bind_seq, &r);
}

int alert_store_undelivered(struct alert_store *s, uint64_t after_seq, size_t max,
			    int (*fn)(uint64_t seq, const char *json, void *ud), void *ud)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = failed(s, db_prepare(s->db, sql_undelivered, &st));
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)after_seq);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
		rc = each_row(s, st, "undelivered events", NULL, fn, ud);
	}
	db_unlock(s->db);
	return rc;
}

int alert_store_history(struct alert_store *s, int64_t since_ms, int64_t until_ms, size_t max,
			int (*fn)(uint64_t seq, const char *json, void *ud), void *ud)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = failed(s, db_prepare(s->db, sql_history, &st));
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)since_ms);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)until_ms);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
		rc = each_row(s, st, "event history", NULL, fn, ud);
	}
	db_unlock(s->db);
	return rc;
}

size_t alert_store_count_events(struct alert_store *s, bool undelivered_only)
{
	return (size_t)query_int(s, undelivered_only ? sql_count_undelivered : sql_count_all);
}

int alert_store_prune(struct alert_store *s, int keep)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_prune, &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, keep);
		rc = db_step_done(s->db, st, "prune events");
	}
	rc = rc < 0 ? failed(s, rc) : sqlite3_changes(db_sqlite(s->db));
	db_unlock(s->db);
	return rc;
}

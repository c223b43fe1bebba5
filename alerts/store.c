/* SQLite store of alert state and the alert event log. Owns its connection and
 * prepared statements; used on the main loop thread only.
 *
 * WAL with synchronous=FULL: a commit returns only once the WAL is on disk, so an
 * alert published after its commit survives a power cut too, not only a SIGKILL
 * (NORMAL would survive SIGKILL but may lose the last commits on power loss).
 * Commits happen per transition batch, not per poll, so the fsync is affordable. */
#define LOG_TAG "alert-store"
#include "alerts/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/log.h"

enum {
	ST_PUT,
	ST_DEL,
	ST_EVENT,
	ST_DELIVERED,
	ST_UNDELIVERED,
	ST_LOAD,
	ST_LAST,
	ST_COUNT_ALL,
	ST_COUNT_UNDELIVERED,
	ST_PRUNE,
	ST_N
};

static const char *const sql_text[ST_N] = {
    [ST_PUT] =
	"INSERT INTO alert_state(id, json, updated_ms) VALUES(?1, ?2, ?3) "
	"ON CONFLICT(id) DO UPDATE SET json = excluded.json, updated_ms = excluded.updated_ms",
    [ST_DEL] = "DELETE FROM alert_state WHERE id = ?1",
    [ST_EVENT] = "INSERT INTO alert_event(seq, t_ms, json, delivered) VALUES(?1, ?2, ?3, 0)",
    [ST_DELIVERED] = "UPDATE alert_event SET delivered = 1 WHERE seq = ?1",
    [ST_UNDELIVERED] = "SELECT seq, json FROM alert_event WHERE delivered = 0 AND seq > ?1 "
		       "ORDER BY seq LIMIT ?2",
    [ST_LOAD] = "SELECT id, json FROM alert_state ORDER BY id",
    [ST_LAST] = "SELECT COALESCE(MAX(seq), 0) FROM alert_event",
    [ST_COUNT_ALL] = "SELECT COUNT(*) FROM alert_event",
    [ST_COUNT_UNDELIVERED] = "SELECT COUNT(*) FROM alert_event WHERE delivered = 0",
    [ST_PRUNE] = "DELETE FROM alert_event WHERE delivered = 1 AND seq <= "
		 "(SELECT COALESCE(MAX(seq), 0) FROM alert_event) - ?1",
};

struct alert_store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_N];
	uint64_t last_seq;
	char err[256]; /* the last failure */
};

/* SQLite's error as ours: a full disk is -ENOSPC, anything else -EIO. Failures to write
 * are not logged here (the service logs a failure run when it starts and ends); the
 * text stays available through alert_store_error(). */
static int fail(struct alert_store *s, const char *what)
{
	int code = sqlite3_extended_errcode(s->db);

	snprintf(s->err, sizeof(s->err), "%s: %s", what, sqlite3_errmsg(s->db));
	log_debug("%s", s->err);
	return (code & 0xff) == SQLITE_FULL ? -ENOSPC : -EIO;
}

static int exec(struct alert_store *s, const char *sql)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail(s, sql);
	return 0;
}

static int step_done(struct alert_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : fail(s, what);
}

int alert_store_open(const char *path, struct alert_store **out)
{
	struct alert_store *s = calloc(1, sizeof(*s));
	sqlite3_stmt *st;

	if (!s)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		log_err("%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (exec(s, "PRAGMA journal_mode=WAL") || exec(s, "PRAGMA synchronous=FULL") ||
	    exec(s, "CREATE TABLE IF NOT EXISTS alert_state(id TEXT PRIMARY KEY, json TEXT NOT "
		    "NULL, updated_ms INTEGER NOT NULL)") ||
	    exec(s,
		 "CREATE TABLE IF NOT EXISTS alert_event(seq INTEGER PRIMARY KEY, t_ms "
		 "INTEGER NOT NULL, json TEXT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0)") ||
	    exec(s, "CREATE INDEX IF NOT EXISTS alert_event_undelivered ON alert_event(seq) "
		    "WHERE delivered = 0")) {
		log_err("%s: %s", path, s->err);
		goto fail;
	}
	for (int i = 0; i < ST_N; i++) {
		if (sqlite3_prepare_v2(s->db, sql_text[i], -1, &s->st[i], NULL) != SQLITE_OK) {
			fail(s, sql_text[i]);
			log_err("%s: %s", path, s->err);
			goto fail;
		}
	}
	st = s->st[ST_LAST];
	if (sqlite3_step(st) == SQLITE_ROW)
		s->last_seq = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	*out = s;
	return 0;
fail:
	alert_store_close(s);
	return -EIO;
}

void alert_store_close(struct alert_store *s)
{
	if (!s)
		return;
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

int alert_store_load(struct alert_store *s, int (*fn)(const char *id, const char *json, void *ud),
		     void *ud)
{
	sqlite3_stmt *st = s->st[ST_LOAD];
	int rc = 0, r;

	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		rc = fn((const char *)sqlite3_column_text(st, 0),
			(const char *)sqlite3_column_text(st, 1), ud);
		if (rc < 0)
			break;
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = fail(s, "load alerts");
	sqlite3_reset(st);
	return rc;
}

uint64_t alert_store_last_seq(struct alert_store *s)
{
	return s->last_seq;
}

int alert_store_begin(struct alert_store *s)
{
	return exec(s, "BEGIN IMMEDIATE");
}

int alert_store_commit(struct alert_store *s)
{
	return exec(s, "COMMIT");
}

const char *alert_store_error(const struct alert_store *s)
{
	return s->err;
}

void alert_store_rollback(struct alert_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		exec(s, "ROLLBACK");
}

int alert_store_put_alert(struct alert_store *s, const char *id, const char *json, int64_t t_ms)
{
	sqlite3_stmt *st = s->st[ST_PUT];

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, t_ms);
	return step_done(s, st, "store alert");
}

int alert_store_del_alert(struct alert_store *s, const char *id)
{
	sqlite3_stmt *st = s->st[ST_DEL];

	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	return step_done(s, st, "delete alert");
}

int alert_store_add_event(struct alert_store *s, uint64_t seq, int64_t t_ms, const char *json)
{
	sqlite3_stmt *st = s->st[ST_EVENT];
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	sqlite3_bind_int64(st, 2, t_ms);
	sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
	rc = step_done(s, st, "log event");
	if (rc == 0 && seq > s->last_seq)
		s->last_seq = seq;
	return rc;
}

int alert_store_mark_delivered(struct alert_store *s, uint64_t seq)
{
	sqlite3_stmt *st = s->st[ST_DELIVERED];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	return step_done(s, st, "mark delivered");
}

int alert_store_undelivered(struct alert_store *s, uint64_t after_seq, size_t max,
			    int (*fn)(uint64_t seq, const char *json, void *ud), void *ud)
{
	sqlite3_stmt *st = s->st[ST_UNDELIVERED];
	int rc = 0, r;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)after_seq);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		rc = fn((uint64_t)sqlite3_column_int64(st, 0),
			(const char *)sqlite3_column_text(st, 1), ud);
		if (rc < 0)
			break;
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = fail(s, "undelivered events");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

size_t alert_store_count_events(struct alert_store *s, bool undelivered_only)
{
	sqlite3_stmt *st = s->st[undelivered_only ? ST_COUNT_UNDELIVERED : ST_COUNT_ALL];
	size_t n = 0;

	if (sqlite3_step(st) == SQLITE_ROW)
		n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

int alert_store_prune(struct alert_store *s, int keep)
{
	sqlite3_stmt *st = s->st[ST_PRUNE];
	int rc;

	sqlite3_bind_int64(st, 1, keep);
	rc = step_done(s, st, "prune events");
	return rc < 0 ? rc : sqlite3_changes(s->db);
}

/* Owns the SQLite connections to hallwatch.db (one per file, shared by reference), the
 * schema migrations, the statement cache and the transaction lock. Opened and closed on the
 * main thread; used from any thread behind the connection's recursive lock. */
#define LOG_TAG "db"
#include "core/db.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

/* The schema hallwatch wrote before it had a version (user_version 0): every table as the
 * outbox, the alert store and the recording index created them. IF NOT EXISTS: a file of
 * that time keeps its tables and rows, and becomes version 1 as it is. */
static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS outbox_msg(id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "output INTEGER NOT NULL, cls INTEGER NOT NULL, t_ms INTEGER NOT NULL, "
    "token INTEGER NOT NULL DEFAULT 0, topic TEXT, data BLOB NOT NULL, "
    "retain INTEGER NOT NULL DEFAULT 0, weight INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX IF NOT EXISTS outbox_msg_order ON outbox_msg(output, cls, id);"
    "CREATE INDEX IF NOT EXISTS outbox_msg_token ON outbox_msg(output, token) "
    "WHERE token != 0;"
    "CREATE TABLE IF NOT EXISTS outbox_rejected(id INTEGER PRIMARY KEY, output INTEGER NOT "
    "NULL, cls INTEGER NOT NULL, t_ms INTEGER NOT NULL, rejected_ms INTEGER NOT NULL, "
    "topic TEXT, data BLOB NOT NULL, reason TEXT);"
    "CREATE TABLE IF NOT EXISTS alert_state(id TEXT PRIMARY KEY, json TEXT NOT NULL, "
    "updated_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS alert_event(seq INTEGER PRIMARY KEY, t_ms INTEGER NOT NULL, "
    "json TEXT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS alert_event_undelivered ON alert_event(seq) "
    "WHERE delivered = 0;"
    "CREATE TABLE IF NOT EXISTS video_segments(id INTEGER PRIMARY KEY, camera TEXT NOT "
    "NULL, start_ms INTEGER NOT NULL, end_ms INTEGER, path TEXT NOT NULL UNIQUE, "
    "bytes INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS video_segments_cam ON video_segments(camera, start_ms);";

/* Inspections (inspect/insp_store.c, docs/inspections.md): every task and its state, the
 * records of what was done (patrols, checks, tests, with an inspector's review), the
 * rectification tickets and each of their transitions, and the scheduler's own notes
 * (when it last ran, what retention pruned). */
static const char schema_v2[] =
    "CREATE TABLE insp_task(id TEXT PRIMARY KEY, plan TEXT NOT NULL, target TEXT NOT NULL, "
    "kind INTEGER NOT NULL, state TEXT NOT NULL, base_ms INTEGER NOT NULL, due_ms INTEGER "
    "NOT NULL, open_ms INTEGER NOT NULL, late_ms INTEGER NOT NULL, miss_ms INTEGER NOT NULL, "
    "changed_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL DEFAULT 0, done_ms INTEGER NOT "
    "NULL DEFAULT 0, postponed_ms INTEGER NOT NULL DEFAULT 0, retry_ms INTEGER NOT NULL "
    "DEFAULT 0, by TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX insp_task_plan ON insp_task(plan, target, base_ms);"
    "CREATE INDEX insp_task_done ON insp_task(done_ms) WHERE done_ms > 0;"
    "CREATE TABLE insp_record(id INTEGER PRIMARY KEY, task TEXT NOT NULL DEFAULT '', plan "
    "TEXT NOT NULL, target TEXT NOT NULL, kind INTEGER NOT NULL, t_ms INTEGER NOT NULL, "
    "result TEXT NOT NULL, by TEXT NOT NULL DEFAULT '', json TEXT NOT NULL DEFAULT '{}', "
    "reviewed_ms INTEGER NOT NULL DEFAULT 0, reviewed_by TEXT NOT NULL DEFAULT '', verdict "
    "TEXT NOT NULL DEFAULT '', review_note TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX insp_record_t ON insp_record(t_ms);"
    "CREATE INDEX insp_record_plan ON insp_record(plan, t_ms);"
    "CREATE TABLE insp_ticket(id TEXT PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, "
    "source TEXT NOT NULL DEFAULT '', text TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, "
    "assignee TEXT NOT NULL DEFAULT '', opened_ms INTEGER NOT NULL, deadline_ms INTEGER NOT "
    "NULL, changed_ms INTEGER NOT NULL, closed_ms INTEGER NOT NULL DEFAULT 0, reopened "
    "INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX insp_ticket_open ON insp_ticket(closed_ms);"
    "CREATE TABLE insp_ticket_tr(seq INTEGER PRIMARY KEY, ticket TEXT NOT NULL, from_state "
    "TEXT NOT NULL, to_state TEXT NOT NULL, t_ms INTEGER NOT NULL, by TEXT NOT NULL, note "
    "TEXT NOT NULL DEFAULT '', recheck TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX insp_ticket_tr_ticket ON insp_ticket_tr(ticket, seq);"
    "CREATE TABLE insp_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

/* The local history of numeric points (outputs/history.c): one row per point and minute. */
static const char schema_v3[] =
    "CREATE TABLE hist_sample(device TEXT NOT NULL, point TEXT NOT NULL, t_ms INTEGER NOT "
    "NULL, n INTEGER NOT NULL, min REAL NOT NULL, sum REAL NOT NULL, max REAL NOT NULL, "
    "PRIMARY KEY(device, point, t_ms));"
    "CREATE INDEX hist_sample_t ON hist_sample(t_ms);";

/* hallwatch's migrations, in order: DB_VERSION of them. */
static const struct db_migration migrations[] = {
    {.name = "the outbox, alert and recording index tables", .sql = schema_v1},
    {.name = "inspection tasks, records and tickets", .sql = schema_v2},
    {.name = "the local history of numeric points", .sql = schema_v3},
};
G_STATIC_ASSERT(G_N_ELEMENTS(migrations) == DB_VERSION);

struct watch {
	db_end_fn fn;
	void *ud;
};

struct db {
	sqlite3 *conn;
	char *path;
	dev_t dev; /* the file, to share the connection */
	ino_t ino;
	pid_t pid; /* the process that opened it (a forked child opens its own) */
	int refs;  /* under reg_lock */
	int version;
	GRecMutex lock;
	GThread *tx_owner; /* the thread with a transaction open, or NULL */
	GHashTable *stmts; /* SQL text -> sqlite3_stmt * */
	GArray *watches;   /* struct watch */
	uint64_t commits;
	char err[256];
};

static GMutex reg_lock;
static GSList *reg; /* struct db * open in this process */

int db_fail(struct db *db, const char *what)
{
	int code = sqlite3_extended_errcode(db->conn);

	snprintf(db->err, sizeof(db->err), "%s: %s", what, sqlite3_errmsg(db->conn));
	log_debug("%s: %s", db->path, db->err);
	return (code & 0xff) == SQLITE_FULL ? -ENOSPC : -EIO;
}

const char *db_error(const struct db *db)
{
	return db->err;
}

int db_exec(struct db *db, const char *sql)
{
	if (sqlite3_exec(db->conn, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, sql);
	return 0;
}

void db_reset(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int db_prepare(struct db *db, const char *sql, sqlite3_stmt **out)
{
	sqlite3_stmt *st = g_hash_table_lookup(db->stmts, sql);

	if (st && sqlite3_stmt_busy(st)) {
		log_err("%s: statement in use already: %s", db->path, sql);
		return -EBUSY;
	}
	if (!st) {
		if (sqlite3_prepare_v3(db->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
		    SQLITE_OK)
			return db_fail(db, sql);
		g_hash_table_insert(db->stmts, g_strdup(sql), st);
	}
	db_reset(st);
	*out = st;
	return 0;
}

int db_step_done(struct db *db, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(db, what);

	db_reset(st);
	return rc;
}

sqlite3 *db_sqlite(struct db *db)
{
	return db->conn;
}

void db_lock(struct db *db)
{
	g_rec_mutex_lock(&db->lock);
}

void db_unlock(struct db *db)
{
	g_rec_mutex_unlock(&db->lock);
}

bool db_in_tx(const struct db *db)
{
	/* GLib's atomic get takes no pointer to const. */
	return g_atomic_pointer_get(&((struct db *)db)->tx_owner) == g_thread_self();
}

static void ended(struct db *db, bool committed)
{
	g_atomic_pointer_set(&db->tx_owner, NULL);
	for (guint i = 0; i < db->watches->len; i++) {
		struct watch *w = &g_array_index(db->watches, struct watch, i);
		w->fn(committed, w->ud);
	}
	g_rec_mutex_unlock(&db->lock);
}

int db_begin(struct db *db)
{
	int rc;

	g_rec_mutex_lock(&db->lock);
	if (db_in_tx(db)) {
		log_err("%s: a transaction is open already on this thread", db->path);
		g_rec_mutex_unlock(&db->lock);
		return -EINPROGRESS;
	}
	rc = db_exec(db, "BEGIN IMMEDIATE");
	if (rc < 0) {
		g_rec_mutex_unlock(&db->lock);
		return rc;
	}
	g_atomic_pointer_set(&db->tx_owner, g_thread_self());
	db->err[0] = '\0';
	return 0;
}

int db_commit(struct db *db)
{
	int rc;

	if (!db_in_tx(db))
		return -EINVAL;
	rc = db_exec(db, "COMMIT");
	if (rc < 0)
		return rc;
	db->commits++;
	ended(db, true);
	return 0;
}

void db_rollback(struct db *db)
{
	if (!db_in_tx(db))
		return;
	/* A failed COMMIT may have rolled back already. */
	if (!sqlite3_get_autocommit(db->conn))
		db_exec(db, "ROLLBACK");
	ended(db, false);
}

uint64_t db_commits(struct db *db)
{
	uint64_t n;

	g_rec_mutex_lock(&db->lock);
	n = db->commits;
	g_rec_mutex_unlock(&db->lock);
	return n;
}

void db_watch(struct db *db, db_end_fn fn, void *ud)
{
	struct watch w = {fn, ud};

	g_rec_mutex_lock(&db->lock);
	g_array_append_val(db->watches, w);
	g_rec_mutex_unlock(&db->lock);
}

void db_unwatch(struct db *db, db_end_fn fn, void *ud)
{
	g_rec_mutex_lock(&db->lock);
	for (guint i = 0; i < db->watches->len; i++) {
		struct watch *w = &g_array_index(db->watches, struct watch, i);
		if (w->fn == fn && w->ud == ud) {
			g_array_remove_index(db->watches, i);
			break;
		}
	}
	g_rec_mutex_unlock(&db->lock);
}

int db_run_fail(struct db_run *r, struct db *db, int rc)
{
	if (rc < 0 && !r->failing) {
		hw_log(HW_LOG_ERR, r->tag, "cannot write %s: %s", r->what, db->err);
		r->failing = true;
	}
	return rc;
}

void db_run_ok(struct db_run *r)
{
	if (!r->failing)
		return;
	r->failing = false;
	hw_log(HW_LOG_INFO, r->tag, "%s can be written again", r->what);
}

static int user_version(struct db *db, int *v)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->conn, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return db_fail(db, "read the schema version");
	rc = sqlite3_step(st) == SQLITE_ROW ? 0 : db_fail(db, "read the schema version");
	if (rc == 0)
		*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc;
}

static int too_new(const struct db *db, int v, size_t n)
{
	log_err("%s: schema version %d is newer than this hallwatch knows (%zu): a later "
		"release wrote it; refusing to open it (run that release, or move the file away "
		"to start afresh)",
		db->path, v, n);
	return -EPROTO;
}

/* Brings the file to version n: the migrations it lacks, and the version, in one
 * transaction. */
static int migrate(struct db *db, const struct db_migration *m, size_t n)
{
	char sql[64];
	int rc, v, from;
	bool fresh = false;

	rc = user_version(db, &v);
	if (rc < 0)
		return rc;
	if (v >= 0 && (size_t)v == n) {
		db->version = v;
		return 0;
	}
	if (v < 0 || (size_t)v > n)
		return too_new(db, v, n);
	rc = db_exec(db, "BEGIN IMMEDIATE");
	if (rc < 0)
		return rc;
	/* Another process may have upgraded it meanwhile. */
	rc = user_version(db, &v);
	if (rc == 0 && (v < 0 || (size_t)v > n))
		rc = too_new(db, v, n);
	from = v;
	if (rc == 0 && v == 0) {
		sqlite3_stmt *st;
		rc = sqlite3_prepare_v2(db->conn, "SELECT COUNT(*) FROM sqlite_master", -1, &st,
					NULL) == SQLITE_OK
			 ? 0
			 : db_fail(db, "read the schema");
		if (rc == 0)
			fresh = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0;
		sqlite3_finalize(st);
	}
	for (size_t i = (size_t)v; rc == 0 && i < n; i++) {
		if (m[i].fn) {
			rc = m[i].fn(db->conn);
			if (rc < 0)
				snprintf(db->err, sizeof(db->err), "migration %zu (%s): %s", i + 1,
					 m[i].name, sqlite3_errmsg(db->conn));
		} else {
			rc = db_exec(db, m[i].sql);
		}
		if (rc < 0)
			log_err("%s: cannot upgrade the schema to version %zu (%s): %s", db->path,
				i + 1, m[i].name, db->err);
	}
	if (rc == 0) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", n);
		rc = db_exec(db, sql);
	}
	if (rc == 0)
		rc = db_exec(db, "COMMIT");
	if (rc < 0) {
		if (!sqlite3_get_autocommit(db->conn))
			db_exec(db, "ROLLBACK");
		return rc;
	}
	if (fresh)
		log_info("%s: created with schema version %zu", db->path, n);
	else if ((size_t)from != n)
		log_info("%s: schema upgraded from version %d to %zu", db->path, from, n);
	db->version = (int)n;
	return 0;
}

static void free_db(struct db *db)
{
	GHashTableIter it;
	gpointer st;

	if (db->stmts) {
		g_hash_table_iter_init(&it, db->stmts);
		while (g_hash_table_iter_next(&it, NULL, &st))
			sqlite3_finalize(st);
		g_hash_table_destroy(db->stmts);
	}
	if (sqlite3_close(db->conn) != SQLITE_OK)
		log_err("%s: %s", db->path, sqlite3_errmsg(db->conn));
	if (db->watches)
		g_array_free(db->watches, TRUE);
	g_rec_mutex_clear(&db->lock);
	g_free(db->path);
	g_free(db);
}

static struct db *find_open(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return NULL;
	for (GSList *l = reg; l; l = l->next) {
		struct db *db = l->data;
		if (db->dev == sb.st_dev && db->ino == sb.st_ino && db->pid == getpid())
			return db;
	}
	return NULL;
}

/* PRAGMA journal_mode=WAL. Two processes creating the same new file at once both upgrade
 * their locks for the switch, and SQLite answers one of them SQLITE_BUSY at once, without
 * the busy handler (it would wait on the other for ever): try again, for up to 5 s. */
static int to_wal(struct db *db)
{
	gint64 until = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
	int rc;

	while ((rc = sqlite3_exec(db->conn, "PRAGMA journal_mode=WAL", NULL, NULL, NULL)) ==
		   SQLITE_BUSY &&
	       g_get_monotonic_time() < until)
		g_usleep(10 * 1000);
	return rc == SQLITE_OK ? 0 : db_fail(db, "PRAGMA journal_mode=WAL");
}

int db_open_with(const char *path, const struct db_migration *m, size_t n, struct db **out)
{
	struct db *db;
	struct stat sb;
	int rc;

	g_mutex_lock(&reg_lock);
	db = find_open(path);
	if (db) {
		db->refs++;
		g_mutex_unlock(&reg_lock);
		*out = db;
		return 0;
	}
	db = g_new0(struct db, 1);
	db->path = g_strdup(path);
	db->pid = getpid();
	db->refs = 1;
	g_rec_mutex_init(&db->lock);
	if (sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		log_err("%s: %s", path, db->conn ? sqlite3_errmsg(db->conn) : "out of memory");
		rc = -EIO;
		goto fail;
	}
	db->stmts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	db->watches = g_array_new(FALSE, FALSE, sizeof(struct watch));
	sqlite3_busy_timeout(db->conn, 5000);
	rc = to_wal(db);
	if (rc == 0)
		rc = db_exec(db, "PRAGMA synchronous=FULL");
	if (rc < 0) {
		log_err("%s: %s", path, db->err);
		goto fail;
	}
	rc = migrate(db, m, n);
	if (rc < 0)
		goto fail;
	if (stat(path, &sb) < 0) {
		rc = -errno;
		log_err("%s: %s", path, strerror(-rc));
		goto fail;
	}
	db->dev = sb.st_dev;
	db->ino = sb.st_ino;
	db->err[0] = '\0';
	reg = g_slist_prepend(reg, db);
	g_mutex_unlock(&reg_lock);
	*out = db;
	return 0;
fail:
	free_db(db);
	g_mutex_unlock(&reg_lock);
	return rc;
}

int db_open(const char *path, struct db **out)
{
	return db_open_with(path, migrations, G_N_ELEMENTS(migrations), out);
}

int db_open_reader(const char *path, struct db **out)
{
	struct db *db = g_new0(struct db, 1);
	sqlite3_stmt *st = NULL;

	db->path = g_strdup(path);
	db->pid = getpid();
	db->refs = 1;
	g_rec_mutex_init(&db->lock);
	db->stmts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	db->watches = g_array_new(FALSE, FALSE, sizeof(struct watch));
	if (sqlite3_open_v2(path, &db->conn, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		log_err("%s: %s", path, db->conn ? sqlite3_errmsg(db->conn) : "out of memory");
		free_db(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db->conn, 5000);
	if (sqlite3_prepare_v2(db->conn, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		db->version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (db->version != DB_VERSION) {
		log_err("%s: schema version %d, not %d: not read", path, db->version, DB_VERSION);
		free_db(db);
		return -EPROTO;
	}
	*out = db;
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	g_mutex_lock(&reg_lock);
	if (--db->refs > 0) {
		g_mutex_unlock(&reg_lock);
		return;
	}
	reg = g_slist_remove(reg, db);
	g_mutex_unlock(&reg_lock);
	free_db(db);
}

int db_version(const struct db *db)
{
	return db->version;
}

const char *db_path(const struct db *db)
{
	return db->path;
}

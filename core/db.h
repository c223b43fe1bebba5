/* The SQLite database <state_dir>/hallwatch.db and its schema: one connection per file and
 * process, shared by the modules that keep tables in it (the outbox, the alert store, the
 * recording index), and the one set of helpers they use (docs/delivery.md, "The database").
 *
 * Opening applies WAL, synchronous=FULL (a commit is on disk before it returns) and a busy
 * timeout of 5 s; a new file gets its mode from the process umask (core/statedir.h). It
 * then brings the schema to DB_VERSION: PRAGMA user_version says which migrations the file
 * has, the missing ones run in order in one transaction with the new version, so a file is
 * either wholly upgraded or untouched. A file of a newer version than this build knows is
 * refused (-EPROTO, logged), never downgraded.
 *
 * Errors are turned into ours here, once: a full disk is -ENOSPC, anything else -EIO, and
 * the text of the last failure is kept (db_error). A failing statement is logged at debug
 * level only: its caller logs a failure run when it starts and when it ends (db_run).
 *
 * Threads: a connection may be used from any thread, behind one recursive lock. Hold it
 * (db_lock .. db_unlock) around every use of a statement and of db_error; a transaction
 * (db_begin .. db_commit or db_rollback) holds it from start to end, so another thread's
 * writes wait for the commit and never join the transaction. db_open and db_close on the
 * main thread, while no other thread uses the connection (a db_open_reader connection: on
 * the thread that uses it). */
#ifndef HW_DB_H
#define HW_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The schema version this build writes (the number of migrations in db.c). */
#define DB_VERSION 3

struct db;

/* One step of the schema: SQL text run with sqlite3_exec, or a function (0 or -errno).
 * Migration i (from 0) takes a file from user_version i to i + 1. A shipped migration is
 * never changed: a new schema is a new migration at the end. */
struct db_migration {
	const char *name;
	const char *sql;
	int (*fn)(sqlite3 *conn);
};

/* Opens path (creating it) with hallwatch's migrations. A path this process has open
 * already (the same file) gives the same connection with one more reference.
 * Returns 0 and *out, -EPROTO (a newer schema), or -errno (-EIO: SQLite). */
int db_open(const char *path, struct db **out);
/* Like db_open with another list of migrations (tests). */
int db_open_with(const char *path, const struct db_migration *m, size_t n, struct db **out);
/* Opens a connection of its own to path, read-only and unshared (never returned by db_open),
 * for a long read on a worker thread that must not hold the shared connection's lock: in
 * WAL mode it sees the last commit when each read begins and delays no writer. The file must
 * exist at DB_VERSION (-EPROTO otherwise). Any thread; close it with db_close. Returns 0 or
 * -errno. */
int db_open_reader(const char *path, struct db **out);
/* Drops a reference; the last one closes the connection. Accepts NULL. */
void db_close(struct db *db);
/* The schema version of the file (PRAGMA user_version) as opened. */
int db_version(const struct db *db);
const char *db_path(const struct db *db); /* transfer none */

void db_lock(struct db *db);
void db_unlock(struct db *db);

/* The connection itself, for sqlite3_changes and the like (transfer none; lock held). */
sqlite3 *db_sqlite(struct db *db);
/* Runs SQL text (lock held). Returns 0 or -errno. */
int db_exec(struct db *db, const char *sql);
/* The prepared statement of sql (cached for the life of the connection; transfer none),
 * reset and without bindings. Lock held until the caller has reset it (db_reset or
 * db_step_done). Returns 0 or -errno; -EBUSY when that statement is in use already. */
int db_prepare(struct db *db, const char *sql, sqlite3_stmt **out);
/* Steps st once, expecting no row, and resets it. Returns 0 or -errno (what names the
 * step in db_error). */
int db_step_done(struct db *db, sqlite3_stmt *st, const char *what);
void db_reset(sqlite3_stmt *st); /* reset and clear bindings */
/* The connection's last error as ours (-ENOSPC or -EIO), its text kept as "what: message"
 * and logged at debug level. Lock held. */
int db_fail(struct db *db, const char *what);
/* The last failure as text ("" if none since the transaction began; transfer none: valid
 * while the lock is held). */
const char *db_error(const struct db *db);

/* Starts a write transaction (BEGIN IMMEDIATE) and takes the lock until it ends. A
 * transaction does not nest: -EINPROGRESS when the calling thread has one open already.
 * Returns 0 or -errno (no transaction then, lock not held). */
int db_begin(struct db *db);
/* Commits. 0: the transaction ended and the lock is released. <0: it is still open; the
 * caller ends it with db_rollback. */
int db_commit(struct db *db);
/* Ends the calling thread's transaction without its changes (no-op without one). */
void db_rollback(struct db *db);
/* True when the calling thread has a transaction open on db. */
bool db_in_tx(const struct db *db);
/* Commits since open (db_commit), for tests and metrics. */
uint64_t db_commits(struct db *db);

/* Called at the end of every transaction (committed or not), on the thread that ends it,
 * lock held: for a module that keeps counters of what it wrote in it. */
typedef void (*db_end_fn)(bool committed, void *ud);
void db_watch(struct db *db, db_end_fn fn, void *ud);
void db_unwatch(struct db *db, db_end_fn fn, void *ud);

/* A failure run of one user of the database, logged under the user's tag when it starts
 * (at error level, with db_error) and when it ends (complain once). Lock held. */
struct db_run {
	const char *tag;  /* the user's LOG_TAG */
	const char *what; /* what cannot be written: "the outbox" */
	bool failing;
};
/* Returns rc; when rc < 0 starts a run, logs "cannot write <what>: <db_error>". */
int db_run_fail(struct db_run *r, struct db *db, int rc);
/* Logs "<what> can be written again" if a run ends. */
void db_run_ok(struct db_run *r);

#endif

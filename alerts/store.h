/* Alert persistence in SQLite: the current state of every open alert (alert_state)
 * and the append-only event log with its sequence numbers and delivery marks
 * (alert_event), in <state_dir>/hallwatch.db (core/db.h: one connection, shared with
 * the other modules' tables). One store is used from one thread (the main loop); calls
 * block on disk I/O, and on another thread's open transaction. */
#ifndef HW_ALERT_STORE_H
#define HW_ALERT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct alert_store;
struct db;

/* Opens the store in the database at path (db_open: the connection the process has open
 * on that file already, if any). Returns 0 or -errno (-EIO for an SQLite error, -EPROTO
 * for a schema newer than this build). */
int alert_store_open(const char *path, struct alert_store **out);
void alert_store_close(struct alert_store *s); /* accepts NULL */
/* The database the store keeps its tables in (transfer none): a module with tables in the
 * same one (the outbox) can write in the store's transaction. */
struct db *alert_store_db(const struct alert_store *s);

/* Calls fn with every stored alert (id, JSON text; transfer none), by id. */
int alert_store_load(struct alert_store *s, int (*fn)(const char *id, const char *json, void *ud),
		     void *ud);
/* Highest event sequence number ever written (0 when none). */
uint64_t alert_store_last_seq(struct alert_store *s);

/* Everything between begin and commit is one transaction: all or nothing, with whatever
 * other modules write in it on the same database (outbox_put_in). A failed commit leaves
 * it open: end it with alert_store_rollback. */
int alert_store_begin(struct alert_store *s);
int alert_store_commit(struct alert_store *s);
void alert_store_rollback(struct alert_store *s);
/* The last failure as text ("log event: database or disk is full"; "" if none yet;
 * transfer none). Writes return -ENOSPC when the disk is full, -EIO otherwise. */
const char *alert_store_error(const struct alert_store *s);
int alert_store_put_alert(struct alert_store *s, const char *id, const char *json, int64_t t_ms);
int alert_store_del_alert(struct alert_store *s, const char *id);
int alert_store_add_event(struct alert_store *s, uint64_t seq, int64_t t_ms, const char *json);

/* Marks an event delivered (the broker acknowledged it). Own transaction. */
int alert_store_mark_delivered(struct alert_store *s, uint64_t seq);
/* Calls fn for up to max events of [since_ms, until_ms), newest first; fn returning < 0
 * stops (that value is returned). */
int alert_store_history(struct alert_store *s, int64_t since_ms, int64_t until_ms, size_t max,
			int (*fn)(uint64_t seq, const char *json, void *ud), void *ud);
/* Calls fn for up to max undelivered events in sequence order, from after_seq. */
int alert_store_undelivered(struct alert_store *s, uint64_t after_seq, size_t max,
			    int (*fn)(uint64_t seq, const char *json, void *ud), void *ud);
size_t alert_store_count_events(struct alert_store *s, bool undelivered_only);
/* Deletes delivered events older than the newest `keep`; undelivered ones stay.
 * Returns how many were deleted, or -errno. */
int alert_store_prune(struct alert_store *s, int keep);

#endif

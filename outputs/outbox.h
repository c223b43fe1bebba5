/* The durable outbox: every MQTT message that must not be lost and every line-protocol
 * batch is committed here (SQLite, <state_dir>/hallwatch.db, tables outbox_*) before it
 * is sent, and removed only once the peer acknowledged it (PUBACK, HTTP 204).
 *
 * Replay order: by class (OUTBOX_ALARM first, then OUTBOX_ALERT, OUTBOX_STATE,
 * OUTBOX_MEASURE), then by insertion order (time) within a class.
 *
 * Bound: each output holds at most `limit` units of weight (messages for MQTT, lines
 * for line protocol). Beyond it the oldest OUTBOX_MEASURE records are dropped first,
 * then the oldest OUTBOX_STATE records; alert records (ALARM, ALERT) are never dropped
 * (the outbox then exceeds its bound and says so in the log). Drops are counted.
 *
 * Durability: the tables live in hallwatch.db (core/db.h: WAL, synchronous=FULL); a
 * put that returned 0 survives SIGKILL and power loss. outbox_put_in writes inside the
 * caller's transaction on the same database, so that a record and what it reports (an
 * alert event in the event log) are committed together.
 *
 * Threads: every function may be called from any thread (the database's one connection
 * behind its lock); calls block on disk I/O, and on another thread's open transaction.
 * outbox_open/outbox_close by the owner only. */
#ifndef HW_OUTBOX_H
#define HW_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum outbox_output { OUTBOX_MQTT = 0, OUTBOX_LP, OUTBOX_NOUT };

enum outbox_class {
	OUTBOX_ALARM = 0, /* events of P1 (life safety) alerts */
	OUTBOX_ALERT,	  /* other alert events */
	OUTBOX_STATE,	  /* retained state that is not republished on reconnect (alert/<id>) */
	OUTBOX_MEASURE,	  /* measurements (line protocol) */
	OUTBOX_NCLASS
};

struct outbox;
struct db;

/* One stored record (caller owns what outbox_next returns: free with outbox_rec_free). */
struct outbox_rec {
	int64_t id;
	int output;
	int cls;
	int64_t t_ms;	/* wall clock when it was put */
	uint64_t token; /* the caller's tag (an alert event's seq), 0 if none */
	char *topic;	/* MQTT subtopic; NULL for line protocol */
	char *data;	/* NUL-terminated payload of len bytes */
	size_t len;
	bool retain;
	int weight;
};

struct outbox_stats {
	uint64_t records;	/* held now */
	uint64_t depth;		/* weight held now (messages or lines) */
	int64_t oldest_ms;	/* wall-clock time of the oldest record held, 0 if empty */
	uint64_t put;		/* weight put since open */
	uint64_t sent;		/* weight acknowledged (removed by outbox_remove) since open */
	uint64_t retried;	/* weight sent again after a failure (outbox_note_retry) */
	uint64_t dropped;	/* weight dropped by the bound since open */
	uint64_t rejected;	/* weight set aside (outbox_reject) since open */
	uint64_t rejected_held; /* records in outbox_rejected now */
	uint64_t failed;	/* weight outbox_put could not store (disk full, I/O error):
				   the caller kept or dropped it and says which */
};

/* Opens the outbox in the database at path (db_open: the connection the process has
 * open on that file already, if any). Returns 0 or -errno (-EIO: SQLite; -EPROTO: a
 * schema newer than this build). */
int outbox_open(const char *path, struct outbox **out);
void outbox_close(struct outbox *o); /* accepts NULL */
/* Bound of an output in weight units; <= 0: unbounded. */
void outbox_set_limit(struct outbox *o, int output, int64_t limit);

/* Commits one record (data copied; topic may be NULL), then applies the bound.
 * weight >= 1. *id (may be NULL) gets the record's id. Returns 0 or -errno (-ENOSPC:
 * the disk is full; the caller keeps the record or counts it lost). */
int outbox_put(struct outbox *o, int output, int cls, const char *topic, const void *data,
	       size_t len, bool retain, uint64_t token, int weight, int64_t *id);
/* Like outbox_put, inside the transaction the calling thread has open on the outbox's
 * database (db_begin on outbox_db): the record is there once the caller committed, and
 * gone, counted as failed, if it rolls back. Nothing is committed here; the caller ends
 * the transaction either way. sent_after_commit: the record goes out as soon as the caller
 * has committed (a connected MQTT client), so the bound of this transaction drops older
 * records for it but not it (the next put applies the bound to it as to any other); else
 * the bound applies to it at once. -EINVAL without an open transaction. */
int outbox_put_in(struct outbox *o, int output, int cls, const char *topic, const void *data,
		  size_t len, bool retain, uint64_t token, int weight, bool sent_after_commit,
		  int64_t *id);
/* The database the outbox keeps its tables in (transfer none). */
struct db *outbox_db(const struct outbox *o);
/* True when the calling thread has a transaction open on the outbox's database: records
 * read now may not be committed yet. */
bool outbox_in_tx(const struct outbox *o);
/* Appends to out (struct outbox_rec *, transfer full) up to max records of output in
 * replay order, leaving out the n_skip ids in skip (records in flight). Returns the
 * number appended or -errno. out is a GPtrArray * (void * to keep glib out). */
int outbox_next(struct outbox *o, int output, const int64_t *skip, size_t n_skip, size_t max,
		void *out);
/* Removes acknowledged records (ids that are gone already are ignored) and counts
 * their weight as sent. Returns 0 or -errno. */
int outbox_remove(struct outbox *o, const int64_t *ids, size_t n);
/* Moves a record the peer will never accept to outbox_rejected with the reason.
 * Returns 0, -ENOENT or -errno. */
int outbox_reject(struct outbox *o, int64_t id, const char *reason);
void outbox_note_retry(struct outbox *o, int output, uint64_t weight);
/* True when a record of output with this token is held. */
bool outbox_has_token(struct outbox *o, int output, uint64_t token);
void outbox_get_stats(struct outbox *o, int output, struct outbox_stats *out);
void outbox_rec_free(void *rec); /* accepts NULL */
const char *outbox_output_name(int output);

#endif

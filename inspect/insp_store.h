/* Inspection persistence in <state_dir>/hallwatch.db (core/db.h, schema version 2): tasks
 * with their current state (insp_task), records of what was done (insp_record, with an
 * inspector's review), rectification tickets (insp_ticket) and every ticket transition
 * (insp_ticket_tr), and the scheduler's notes (insp_meta: when it last ran, how much
 * retention pruned). docs/inspections.md, "Records".
 *
 * Retention is bounded and never silent: insp_store_prune deletes what is over and older
 * than the cut (final tasks, records, closed tickets with their transitions; live tasks
 * and open tickets stay whatever their age) and counts it, per call and in total.
 *
 * One store is used from one thread (the main loop); calls block on disk I/O. */
#ifndef HW_INSP_STORE_H
#define HW_INSP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect/insp_sched.h"
#include "inspect/ticket.h"

struct insp_store;
struct db;

/* Opens the store in the database at path (db_open: shared with the other modules).
 * Returns 0 or -errno (-EIO, -EPROTO for a newer schema). */
int insp_store_open(const char *path, struct insp_store **out);
/* The same on a read-only connection of its own (db_open_reader), for a long read on a worker
 * thread (the monthly report): only the list and get calls work on it. */
int insp_store_open_reader(const char *path, struct insp_store **out);
void insp_store_close(struct insp_store *s);	      /* accepts NULL */
struct db *insp_store_db(const struct insp_store *s); /* transfer none */
/* The last failure as text ("" if none; transfer none). */
const char *insp_store_error(const struct insp_store *s);

/* One transaction around several writes (a tick's transitions). */
int insp_store_begin(struct insp_store *s);
int insp_store_commit(struct insp_store *s);
void insp_store_rollback(struct insp_store *s);

/* Inserts or replaces a task (by id). */
int insp_store_put_task(struct insp_store *s, const struct insp_task *t);
/* Calls fn with what the scheduler needs back at start (insp_sched_restore): every live
 * task, the newest task of every plan/target, the newest final task of every plan. */
int insp_store_load_tasks(struct insp_store *s, int (*fn)(const struct insp_task *t, void *ud),
			  void *ud);
/* Tasks of plan (NULL: all) due in [from_ms, to_ms), oldest first, at most max. */
int insp_store_list_tasks(struct insp_store *s, const char *plan, int64_t from_ms, int64_t to_ms,
			  size_t max, int (*fn)(const struct insp_task *t, void *ud), void *ud);

/* A record of what was done (a patrol, a check, a test): result "passed", "failed",
 * "missed"...; json (may be NULL) its details. *id_out (may be NULL) gets its id. */
int insp_store_add_record(struct insp_store *s, const char *task, const char *plan,
			  const char *target, int kind, int64_t t_ms, const char *result,
			  const char *by, const char *json, int64_t *id_out);
/* An inspector's review of record id. -ENOENT when there is none. */
int insp_store_review(struct insp_store *s, int64_t id, const char *by, const char *verdict,
		      const char *note, int64_t t_ms);

/* Inserts or replaces ticket t and appends its transition tr, in one transaction unless
 * the caller has one open. */
int insp_store_put_ticket(struct insp_store *s, const struct ticket *t, const struct ticket_tr *tr);
/* Reads ticket id into *out. -ENOENT. */
int insp_store_get_ticket(struct insp_store *s, const char *id, struct ticket *out);
/* Calls fn with every ticket not closed, oldest first. */
int insp_store_open_tickets(struct insp_store *s, int (*fn)(const struct ticket *t, void *ud),
			    void *ud);
/* Transitions of ticket id, in order. */
int insp_store_ticket_history(struct insp_store *s, const char *id,
			      int (*fn)(const struct ticket_tr *tr, void *ud), void *ud);

/* A number the scheduler keeps (last_run_ms); def when unset. */
int64_t insp_store_get_meta(struct insp_store *s, const char *key, int64_t def);
int insp_store_set_meta(struct insp_store *s, const char *key, int64_t v);

struct insp_prune {
	uint64_t tasks, records, tickets, transitions; /* this call */
	uint64_t total;				       /* every call so far (insp_meta) */
};
/* Deletes final tasks done, records made and tickets closed before before_ms (with the
 * closed tickets' transitions). Returns 0 or -errno; out (may be NULL) counts. */
int insp_store_prune(struct insp_store *s, int64_t before_ms, struct insp_prune *out);

/* ---- reading records and tickets (inspectors, the monthly report) ---- */

#define INSP_RESULT_MAX 16
/* One record as stored (valid during the callback only). */
struct insp_record {
	int64_t id;
	char task[INSP_ID_MAX];
	char plan[INSP_NAME_MAX];
	char target[INSP_NAME_MAX];
	int kind;		      /* enum cfg_insp_kind */
	int64_t t_ms;		      /* when it was over */
	char result[INSP_RESULT_MAX]; /* passed, failed, missed, cancelled */
	char by[INSP_NAME_MAX];
	const char *json;    /* its details: {"due","started","late","note","details"} */
	int64_t reviewed_ms; /* 0: not reviewed */
	char reviewed_by[INSP_NAME_MAX];
	char verdict[INSP_RESULT_MAX]; /* accepted, rejected */
	const char *review_note;
};

/* What to list: NULL / -1 / 0 for "any". Times [from_ms, to_ms) on t_ms. */
struct insp_record_filter {
	const char *plan, *target, *result;
	int kind;		/* enum cfg_insp_kind, -1: any */
	int reviewed;		/* 1 reviewed, 0 not, -1 any */
	int64_t from_ms, to_ms; /* to_ms 0: no end */
	size_t limit;		/* 0: no limit */
	bool oldest_first;	/* default newest first */
};
/* Records matching f, newest (or oldest) first. Returns 0 or -errno (fn's non-zero stops
 * and is returned). */
int insp_store_list_records(struct insp_store *s, const struct insp_record_filter *f,
			    int (*fn)(const struct insp_record *r, void *ud), void *ud);
/* Record id. -ENOENT. */
int insp_store_get_record(struct insp_store *s, int64_t id,
			  int (*fn)(const struct insp_record *r, void *ud), void *ud);

/* Tickets of state (NULL: any), kind, target (NULL: any) alive in [from_ms, to_ms) (opened
 * before to_ms, not closed before from_ms; to_ms 0: no end), newest opened first (oldest
 * with oldest_first), at most limit (0: all). */
struct insp_ticket_filter {
	const char *state, *kind, *target;
	int64_t from_ms, to_ms;
	size_t limit;
	bool oldest_first;
};
int insp_store_list_tickets(struct insp_store *s, const struct insp_ticket_filter *f,
			    int (*fn)(const struct ticket *t, void *ud), void *ud);

#endif

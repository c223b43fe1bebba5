/* Owns the inspection tables of hallwatch.db: tasks, records, tickets, ticket transitions
 * and the scheduler's notes, and their bounded retention. Used from the main loop. */
#define LOG_TAG "insp_store"
#include "inspect/insp_store.h"

#include <errno.h>
#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"

struct insp_store {
	struct db *db;
	char err[256];
};

#define TASK_COLS                                                                                  \
	"id, plan, target, kind, state, base_ms, due_ms, open_ms, late_ms, miss_ms, changed_ms, "  \
	"started_ms, done_ms, postponed_ms, retry_ms, by, reason"

static const char sql_put_task[] = "INSERT OR REPLACE INTO insp_task(" TASK_COLS ") VALUES "
				   "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
				   "?15, ?16, ?17)";
/* live tasks, the newest of each series, the newest final of each plan */
static const char sql_load_tasks[] =
    "SELECT " TASK_COLS " FROM insp_task WHERE state NOT IN ('passed', 'failed', 'missed', "
    "'cancelled') OR base_ms = (SELECT MAX(base_ms) FROM insp_task b WHERE b.plan = "
    "insp_task.plan AND b.target = insp_task.target) OR (done_ms > 0 AND done_ms = (SELECT "
    "MAX(done_ms) FROM insp_task d WHERE d.plan = insp_task.plan)) ORDER BY due_ms, id";
static const char sql_list_tasks[] = "SELECT " TASK_COLS " FROM insp_task WHERE (?1 IS NULL OR "
				     "plan = ?1) AND due_ms >= ?2 AND due_ms < ?3 ORDER BY due_ms, "
				     "id LIMIT ?4";
static const char sql_add_record[] =
    "INSERT INTO insp_record(task, plan, target, kind, t_ms, result, by, json) VALUES (?1, ?2, "
    "?3, ?4, ?5, ?6, ?7, ?8)";
static const char sql_review[] = "UPDATE insp_record SET reviewed_ms = ?2, reviewed_by = ?3, "
				 "verdict = ?4, review_note = ?5 WHERE id = ?1";
#define TICKET_COLS                                                                                \
	"id, kind, target, source, text, state, assignee, opened_ms, deadline_ms, changed_ms, "    \
	"closed_ms, reopened"
static const char sql_put_ticket[] = "INSERT OR REPLACE INTO insp_ticket(" TICKET_COLS
				     ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char sql_add_tr[] = "INSERT INTO insp_ticket_tr(ticket, from_state, to_state, t_ms, "
				 "by, note, recheck) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char sql_get_ticket[] = "SELECT " TICKET_COLS " FROM insp_ticket WHERE id = ?1";
static const char sql_open_tickets[] = "SELECT " TICKET_COLS " FROM insp_ticket WHERE state != "
				       "'closed' ORDER BY opened_ms, id";
static const char sql_history[] = "SELECT from_state, to_state, t_ms, by, note, recheck FROM "
				  "insp_ticket_tr WHERE ticket = ?1 ORDER BY seq";
static const char sql_get_meta[] = "SELECT value FROM insp_meta WHERE key = ?1";
static const char sql_set_meta[] = "INSERT OR REPLACE INTO insp_meta(key, value) VALUES (?1, ?2)";
static const char sql_prune_tasks[] = "DELETE FROM insp_task WHERE done_ms > 0 AND done_ms < ?1 "
				      "AND state IN ('passed', 'failed', 'missed', 'cancelled')";
static const char sql_prune_records[] = "DELETE FROM insp_record WHERE t_ms < ?1";
static const char sql_prune_tr[] = "DELETE FROM insp_ticket_tr WHERE ticket IN (SELECT id FROM "
				   "insp_ticket WHERE state = 'closed' AND closed_ms < ?1)";
static const char sql_prune_tickets[] = "DELETE FROM insp_ticket WHERE state = 'closed' AND "
					"closed_ms < ?1";

static const char *const recheck_names[] = {"", "pass", "fail"};

static int fail(struct insp_store *s, int rc)
{
	if (rc < 0)
		snprintf(s->err, sizeof(s->err), "%s", db_error(s->db));
	return rc;
}

static int store_open(const char *path, bool reader, struct insp_store **out)
{
	struct insp_store *s = g_new0(struct insp_store, 1);
	int rc = reader ? db_open_reader(path, &s->db) : db_open(path, &s->db);

	if (rc < 0) {
		g_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int insp_store_open(const char *path, struct insp_store **out)
{
	return store_open(path, false, out);
}

int insp_store_open_reader(const char *path, struct insp_store **out)
{
	return store_open(path, true, out);
}

void insp_store_close(struct insp_store *s)
{
	if (!s)
		return;
	db_close(s->db);
	g_free(s);
}

struct db *insp_store_db(const struct insp_store *s)
{
	return s->db;
}

const char *insp_store_error(const struct insp_store *s)
{
	return s->err;
}

int insp_store_begin(struct insp_store *s)
{
	return fail(s, db_begin(s->db));
}

int insp_store_commit(struct insp_store *s)
{
	return fail(s, db_commit(s->db));
}

void insp_store_rollback(struct insp_store *s)
{
	db_rollback(s->db);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

int insp_store_put_task(struct insp_store *s, const struct insp_task *t)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_put_task, &st);
	if (rc == 0) {
		bind_text(st, 1, t->id);
		bind_text(st, 2, t->plan);
		bind_text(st, 3, t->target);
		sqlite3_bind_int(st, 4, t->kind);
		bind_text(st, 5, insp_state_name(t->state));
		sqlite3_bind_int64(st, 6, t->base_ms);
		sqlite3_bind_int64(st, 7, t->due_ms);
		sqlite3_bind_int64(st, 8, t->open_ms);
		sqlite3_bind_int64(st, 9, t->late_ms);
		sqlite3_bind_int64(st, 10, t->miss_ms);
		sqlite3_bind_int64(st, 11, t->changed_ms);
		sqlite3_bind_int64(st, 12, t->started_ms);
		sqlite3_bind_int64(st, 13, t->done_ms);
		sqlite3_bind_int64(st, 14, t->postponed_ms);
		sqlite3_bind_int64(st, 15, t->retry_ms);
		bind_text(st, 16, t->by);
		bind_text(st, 17, t->reason);
		rc = db_step_done(s->db, st, "put an inspection task");
	}
	fail(s, rc);
	db_unlock(s->db);
	return rc;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);
	return v ? v : "";
}

static void read_task(sqlite3_stmt *st, struct insp_task *t)
{
	memset(t, 0, sizeof(*t));
	g_strlcpy(t->id, col(st, 0), sizeof(t->id));
	g_strlcpy(t->plan, col(st, 1), sizeof(t->plan));
	g_strlcpy(t->target, col(st, 2), sizeof(t->target));
	t->kind = sqlite3_column_int(st, 3);
	if (insp_state_parse(col(st, 4), &t->state) < 0)
		t->state = IS_CANCELLED;
	t->base_ms = sqlite3_column_int64(st, 5);
	t->due_ms = sqlite3_column_int64(st, 6);
	t->open_ms = sqlite3_column_int64(st, 7);
	t->late_ms = sqlite3_column_int64(st, 8);
	t->miss_ms = sqlite3_column_int64(st, 9);
	t->changed_ms = sqlite3_column_int64(st, 10);
	t->started_ms = sqlite3_column_int64(st, 11);
	t->done_ms = sqlite3_column_int64(st, 12);
	t->postponed_ms = sqlite3_column_int64(st, 13);
	t->retry_ms = sqlite3_column_int64(st, 14);
	g_strlcpy(t->by, col(st, 15), sizeof(t->by));
	g_strlcpy(t->reason, col(st, 16), sizeof(t->reason));
}

/* Steps st to the end, reading each row into a task for fn; the rows are read first and
 * handed over after the statement is reset, so that fn may write. */
static int each_task(struct insp_store *s, sqlite3_stmt *st, const char *what,
		     int (*fn)(const struct insp_task *t, void *ud), void *ud)
{
	GArray *v = g_array_new(FALSE, FALSE, sizeof(struct insp_task));
	int rc = 0, step;

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct insp_task t;
		read_task(st, &t);
		g_array_append_val(v, t);
	}
	if (step != SQLITE_DONE)
		rc = fail(s, db_fail(s->db, what));
	db_reset(st);
	db_unlock(s->db);
	for (guint i = 0; rc == 0 && i < v->len; i++)
		rc = fn(&g_array_index(v, struct insp_task, i), ud);
	g_array_free(v, TRUE);
	return rc;
}

int insp_store_load_tasks(struct insp_store *s, int (*fn)(const struct insp_task *t, void *ud),
			  void *ud)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_load_tasks, &st);
	if (rc < 0) {
		fail(s, rc);
		db_unlock(s->db);
		return rc;
	}
	return each_task(s, st, "load inspection tasks", fn, ud);
}

int insp_store_list_tasks(struct insp_store *s, const char *plan, int64_t from_ms, int64_t to_ms,
			  size_t max, int (*fn)(const struct insp_task *t, void *ud), void *ud)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_list_tasks, &st);
	if (rc < 0) {
		fail(s, rc);
		db_unlock(s->db);
		return rc;
	}
	if (plan)
		bind_text(st, 1, plan);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)MIN(max, (size_t)INT64_MAX));
	return each_task(s, st, "list inspection tasks", fn, ud);
}

int insp_store_add_record(struct insp_store *s, const char *task, const char *plan,
			  const char *target, int kind, int64_t t_ms, const char *result,
			  const char *by, const char *json, int64_t *id_out)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_add_record, &st);
	if (rc == 0) {
		bind_text(st, 1, task);
		bind_text(st, 2, plan);
		bind_text(st, 3, target);
		sqlite3_bind_int(st, 4, kind);
		sqlite3_bind_int64(st, 5, t_ms);
		bind_text(st, 6, result);
		bind_text(st, 7, by);
		bind_text(st, 8, json ? json : "{}");
		rc = db_step_done(s->db, st, "add an inspection record");
		if (rc == 0 && id_out)
			*id_out = sqlite3_last_insert_rowid(db_sqlite(s->db));
	}
	fail(s, rc);
	db_unlock(s->db);
	return rc;
}

int insp_store_review(struct insp_store *s, int64_t id, const char *by, const char *verdict,
		      const char *note, int64_t t_ms)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_review, &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, t_ms);
		bind_text(st, 3, by);
		bind_text(st, 4, verdict);
		bind_text(st, 5, note);
		rc = db_step_done(s->db, st, "review an inspection record");
		if (rc == 0 && sqlite3_changes(db_sqlite(s->db)) == 0)
			rc = -ENOENT;
	}
	if (rc != -ENOENT)
		fail(s, rc);
	db_unlock(s->db);
	return rc;
}

int insp_store_put_ticket(struct insp_store *s, const struct ticket *t, const struct ticket_tr *tr)
{
	bool own = !db_in_tx(s->db);
	sqlite3_stmt *st;
	int rc = own ? db_begin(s->db) : 0;

	if (rc < 0)
		return fail(s, rc);
	db_lock(s->db);
	rc = db_prepare(s->db, sql_put_ticket, &st);
	if (rc == 0) {
		bind_text(st, 1, t->id);
		bind_text(st, 2, t->kind);
		bind_text(st, 3, t->target);
		bind_text(st, 4, t->source);
		bind_text(st, 5, t->text);
		bind_text(st, 6, ticket_state_name(t->state));
		bind_text(st, 7, t->assignee);
		sqlite3_bind_int64(st, 8, t->opened_ms);
		sqlite3_bind_int64(st, 9, t->deadline_ms);
		sqlite3_bind_int64(st, 10, t->changed_ms);
		sqlite3_bind_int64(st, 11, t->closed_ms);
		sqlite3_bind_int(st, 12, (int)t->reopened);
		rc = db_step_done(s->db, st, "put a ticket");
	}
	if (rc == 0 && tr)
		rc = db_prepare(s->db, sql_add_tr, &st);
	if (rc == 0 && tr) {
		bind_text(st, 1, t->id);
		bind_text(st, 2, ticket_state_name(tr->from));
		bind_text(st, 3, ticket_state_name(tr->to));
		sqlite3_bind_int64(st, 4, tr->t_ms);
		bind_text(st, 5, tr->by);
		bind_text(st, 6, tr->note);
		bind_text(st, 7, recheck_names[tr->recheck <= TR_FAIL ? tr->recheck : 0]);
		rc = db_step_done(s->db, st, "add a ticket transition");
	}
	fail(s, rc);
	db_unlock(s->db);
	if (own) {
		if (rc == 0)
			rc = fail(s, db_commit(s->db));
		if (rc < 0)
			db_rollback(s->db);
	}
	return rc;
}

static void read_ticket(sqlite3_stmt *st, struct ticket *t)
{
	memset(t, 0, sizeof(*t));
	g_strlcpy(t->id, col(st, 0), sizeof(t->id));
	g_strlcpy(t->kind, col(st, 1), sizeof(t->kind));
	g_strlcpy(t->target, col(st, 2), sizeof(t->target));
	g_strlcpy(t->source, col(st, 3), sizeof(t->source));
	g_strlcpy(t->text, col(st, 4), sizeof(t->text));
	if (ticket_state_parse(col(st, 5), &t->state) < 0)
		t->state = TK_OPEN;
	g_strlcpy(t->assignee, col(st, 6), sizeof(t->assignee));
	t->opened_ms = sqlite3_column_int64(st, 7);
	t->deadline_ms = sqlite3_column_int64(st, 8);
	t->changed_ms = sqlite3_column_int64(st, 9);
	t->closed_ms = sqlite3_column_int64(st, 10);
	t->reopened = (unsigned)sqlite3_column_int(st, 11);
}

int insp_store_get_ticket(struct insp_store *s, const char *id, struct ticket *out)
{
	sqlite3_stmt *st;
	int rc, step;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_get_ticket, &st);
	if (rc == 0) {
		bind_text(st, 1, id);
		step = sqlite3_step(st);
		if (step == SQLITE_ROW)
			read_ticket(st, out);
		else
			rc = step == SQLITE_DONE ? -ENOENT
						 : fail(s, db_fail(s->db, "read a ticket"));
		db_reset(st);
	}
	db_unlock(s->db);
	return rc;
}

int insp_store_open_tickets(struct insp_store *s, int (*fn)(const struct ticket *t, void *ud),
			    void *ud)
{
	GArray *v = g_array_new(FALSE, FALSE, sizeof(struct ticket));
	sqlite3_stmt *st;
	int rc, step;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_open_tickets, &st);
	if (rc == 0) {
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			struct ticket t;
			read_ticket(st, &t);
			g_array_append_val(v, t);
		}
		if (step != SQLITE_DONE)
			rc = fail(s, db_fail(s->db, "list open tickets"));
		db_reset(st);
	}
	db_unlock(s->db);
	for (guint i = 0; rc == 0 && i < v->len; i++)
		rc = fn(&g_array_index(v, struct ticket, i), ud);
	g_array_free(v, TRUE);
	return rc;
}

int insp_store_ticket_history(struct insp_store *s, const char *id,
			      int (*fn)(const struct ticket_tr *tr, void *ud), void *ud)
{
	GArray *v = g_array_new(FALSE, FALSE, sizeof(struct ticket_tr));
	sqlite3_stmt *st;
	int rc, step;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_history, &st);
	if (rc == 0) {
		bind_text(st, 1, id);
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			struct ticket_tr tr = {0};
			ticket_state_parse(col(st, 0), &tr.from);
			ticket_state_parse(col(st, 1), &tr.to);
			tr.t_ms = sqlite3_column_int64(st, 2);
			g_strlcpy(tr.by, col(st, 3), sizeof(tr.by));
			g_strlcpy(tr.note, col(st, 4), sizeof(tr.note));
			for (int k = 1; k <= TR_FAIL; k++)
				if (strcmp(col(st, 5), recheck_names[k]) == 0)
					tr.recheck = (enum ticket_recheck)k;
			g_array_append_val(v, tr);
		}
		if (step != SQLITE_DONE)
			rc = fail(s, db_fail(s->db, "read a ticket's history"));
		db_reset(st);
	}
	db_unlock(s->db);
	for (guint i = 0; rc == 0 && i < v->len; i++)
		rc = fn(&g_array_index(v, struct ticket_tr, i), ud);
	g_array_free(v, TRUE);
	return rc;
}

int64_t insp_store_get_meta(struct insp_store *s, const char *key, int64_t def)
{
	sqlite3_stmt *st;
	int64_t v = def;

	db_lock(s->db);
	if (db_prepare(s->db, sql_get_meta, &st) == 0) {
		bind_text(st, 1, key);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		db_reset(st);
	}
	db_unlock(s->db);
	return v;
}

int insp_store_set_meta(struct insp_store *s, const char *key, int64_t v)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_set_meta, &st);
	if (rc == 0) {
		bind_text(st, 1, key);
		sqlite3_bind_int64(st, 2, v);
		rc = db_step_done(s->db, st, "write an inspection note");
	}
	fail(s, rc);
	db_unlock(s->db);
	return rc;
}

static int prune_one(struct insp_store *s, const char *sql, int64_t before, uint64_t *n)
{
	sqlite3_stmt *st;
	int rc = db_prepare(s->db, sql, &st);

	if (rc == 0) {
		sqlite3_bind_int64(st, 1, before);
		rc = db_step_done(s->db, st, "prune inspection records");
		if (rc == 0)
			*n = (uint64_t)sqlite3_changes(db_sqlite(s->db));
	}
	return rc;
}

int insp_store_prune(struct insp_store *s, int64_t before_ms, struct insp_prune *out)
{
	struct insp_prune p = {0};
	int rc = db_begin(s->db);

	if (rc < 0)
		return fail(s, rc);
	rc = prune_one(s, sql_prune_tasks, before_ms, &p.tasks);
	if (rc == 0)
		rc = prune_one(s, sql_prune_records, before_ms, &p.records);
	if (rc == 0)
		rc = prune_one(s, sql_prune_tr, before_ms, &p.transitions);
	if (rc == 0)
		rc = prune_one(s, sql_prune_tickets, before_ms, &p.tickets);
	p.total = (uint64_t)insp_store_get_meta(s, "pruned_total", 0) + p.tasks + p.records +
		  p.tickets + p.transitions;
	if (rc == 0)
		rc = insp_store_set_meta(s, "pruned_total", (int64_t)p.total);
	if (rc == 0)
		rc = db_commit(s->db);
	if (rc < 0) {
		fail(s, rc);
		db_rollback(s->db);
		return rc;
	}
	if (p.tasks + p.records + p.tickets + p.transitions)
		log_info("retention: pruned %" G_GUINT64_FORMAT " tasks, %" G_GUINT64_FORMAT
			 " records, %" G_GUINT64_FORMAT " tickets (%" G_GUINT64_FORMAT
			 " transitions) older than the kept period; %" G_GUINT64_FORMAT " in total",
			 p.tasks, p.records, p.tickets, p.transitions, p.total);
	if (out)
		*out = p;
	return 0;
}

/* ---- reading records and tickets ---- */

#define RECORD_COLS                                                                                \
	"id, task, plan, target, kind, t_ms, result, by, json, reviewed_ms, reviewed_by, "         \
	"verdict, review_note"
static const char sql_list_records[] =
    "SELECT " RECORD_COLS " FROM insp_record WHERE (?1 IS NULL OR plan = ?1) AND (?2 IS NULL "
    "OR target = ?2) AND (?3 IS NULL OR result = ?3) AND (?4 < 0 OR kind = ?4) AND t_ms >= ?5 "
    "AND t_ms < ?6 AND (?7 < 0 OR (reviewed_ms > 0) = ?7) ORDER BY CASE WHEN ?9 THEN t_ms "
    "ELSE -t_ms END, CASE WHEN ?9 THEN id ELSE -id END LIMIT ?8";
static const char sql_get_record[] = "SELECT " RECORD_COLS " FROM insp_record WHERE id = ?1";
static const char sql_list_tickets[] =
    "SELECT " TICKET_COLS " FROM insp_ticket WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL "
    "OR kind = ?2) AND (?3 IS NULL OR target = ?3) AND opened_ms < ?5 AND (closed_ms = 0 OR "
    "closed_ms >= ?4) ORDER BY CASE WHEN ?7 THEN opened_ms ELSE -opened_ms END, id LIMIT ?6";

static void bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void read_record(sqlite3_stmt *st, struct insp_record *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	g_strlcpy(r->task, col(st, 1), sizeof(r->task));
	g_strlcpy(r->plan, col(st, 2), sizeof(r->plan));
	g_strlcpy(r->target, col(st, 3), sizeof(r->target));
	r->kind = sqlite3_column_int(st, 4);
	r->t_ms = sqlite3_column_int64(st, 5);
	g_strlcpy(r->result, col(st, 6), sizeof(r->result));
	g_strlcpy(r->by, col(st, 7), sizeof(r->by));
	r->json = g_strdup(col(st, 8));
	r->reviewed_ms = sqlite3_column_int64(st, 9);
	g_strlcpy(r->reviewed_by, col(st, 10), sizeof(r->reviewed_by));
	g_strlcpy(r->verdict, col(st, 11), sizeof(r->verdict));
	r->review_note = g_strdup(col(st, 12));
}

static void clear_record(gpointer p)
{
	struct insp_record *r = p;
	g_free((char *)r->json);
	g_free((char *)r->review_note);
}

/* Rows of the prepared st as records, then fn on each once the lock is let go. */
static int each_record(struct insp_store *s, sqlite3_stmt *st, const char *what,
		       int (*fn)(const struct insp_record *r, void *ud), void *ud)
{
	GArray *v = g_array_new(FALSE, FALSE, sizeof(struct insp_record));
	int rc = 0, step;

	g_array_set_clear_func(v, clear_record);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct insp_record r;
		read_record(st, &r);
		g_array_append_val(v, r);
	}
	if (step != SQLITE_DONE)
		rc = fail(s, db_fail(s->db, what));
	db_reset(st);
	db_unlock(s->db);
	for (guint i = 0; rc == 0 && i < v->len; i++)
		rc = fn(&g_array_index(v, struct insp_record, i), ud);
	if (rc == 0 && v->len == 0 && strcmp(what, "read a record") == 0)
		rc = -ENOENT;
	g_array_free(v, TRUE);
	return rc;
}

int insp_store_list_records(struct insp_store *s, const struct insp_record_filter *f,
			    int (*fn)(const struct insp_record *r, void *ud), void *ud)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_list_records, &st);
	if (rc < 0) {
		fail(s, rc);
		db_unlock(s->db);
		return rc;
	}
	bind_opt(st, 1, f->plan);
	bind_opt(st, 2, f->target);
	bind_opt(st, 3, f->result);
	sqlite3_bind_int(st, 4, f->kind);
	sqlite3_bind_int64(st, 5, f->from_ms);
	sqlite3_bind_int64(st, 6, f->to_ms > 0 ? f->to_ms : INT64_MAX);
	sqlite3_bind_int(st, 7, f->reviewed);
	sqlite3_bind_int64(st, 8, f->limit ? (int64_t)f->limit : -1);
	sqlite3_bind_int(st, 9, f->oldest_first);
	return each_record(s, st, "list records", fn, ud);
}

int insp_store_get_record(struct insp_store *s, int64_t id,
			  int (*fn)(const struct insp_record *r, void *ud), void *ud)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_get_record, &st);
	if (rc < 0) {
		fail(s, rc);
		db_unlock(s->db);
		return rc;
	}
	sqlite3_bind_int64(st, 1, id);
	return each_record(s, st, "read a record", fn, ud);
}

int insp_store_list_tickets(struct insp_store *s, const struct insp_ticket_filter *f,
			    int (*fn)(const struct ticket *t, void *ud), void *ud)
{
	GArray *v = g_array_new(FALSE, FALSE, sizeof(struct ticket));
	sqlite3_stmt *st;
	int rc, step;

	db_lock(s->db);
	rc = db_prepare(s->db, sql_list_tickets, &st);
	if (rc == 0) {
		bind_opt(st, 1, f->state);
		bind_opt(st, 2, f->kind);
		bind_opt(st, 3, f->target);
		sqlite3_bind_int64(st, 4, f->from_ms);
		sqlite3_bind_int64(st, 5, f->to_ms > 0 ? f->to_ms : INT64_MAX);
		sqlite3_bind_int64(st, 6, f->limit ? (int64_t)f->limit : -1);
		sqlite3_bind_int(st, 7, f->oldest_first);
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			struct ticket t;
			read_ticket(st, &t);
			g_array_append_val(v, t);
		}
		if (step != SQLITE_DONE)
			rc = fail(s, db_fail(s->db, "list tickets"));
		db_reset(st);
	} else {
		fail(s, rc);
	}
	db_unlock(s->db);
	for (guint i = 0; rc == 0 && i < v->len; i++)
		rc = fn(&g_array_index(v, struct ticket, i), ud);
	g_array_free(v, TRUE);
	return rc;
}

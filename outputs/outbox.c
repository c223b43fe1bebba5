/* The durable outbox: its tables in hallwatch.db (outbox_msg and outbox_rejected, through
 * the shared connection of core/db.c), the per-output counters and the drop policy.
 * Called from the main loop (MQTT, alerts) and the line-protocol worker; the connection's
 * lock serialises them. */
#define LOG_TAG "outbox"
#include "outputs/outbox.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"

static const char sql_put[] =
    "INSERT INTO outbox_msg(output, cls, t_ms, token, topic, data, retain, weight) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char sql_next[] = "SELECT id, cls, t_ms, token, topic, data, retain, weight FROM "
			       "outbox_msg WHERE output = ?1 ORDER BY cls, id LIMIT ?2";
static const char sql_del[] = "DELETE FROM outbox_msg WHERE id = ?1 RETURNING output, weight";
static const char sql_drop[] = "SELECT id, weight FROM outbox_msg WHERE output = ?1 AND cls = ?2 "
			       "AND id < ?3 ORDER BY id LIMIT 1";
static const char sql_rej[] =
    "INSERT INTO outbox_rejected(id, output, cls, t_ms, rejected_ms, topic, data, reason) "
    "SELECT id, output, cls, t_ms, ?2, topic, data, ?3 FROM outbox_msg WHERE id = ?1";
static const char sql_token[] = "SELECT 1 FROM outbox_msg WHERE output = ?1 AND token = ?2 LIMIT 1";
static const char sql_oldest[] = "SELECT MIN(t_ms) FROM outbox_msg WHERE output = ?1";

struct outbox {
	struct db *db;
	int64_t limit[OUTBOX_NOUT];
	bool over_logged[OUTBOX_NOUT];
	bool drop_logged[OUTBOX_NOUT];
	struct outbox_stats s[OUTBOX_NOUT];
	/* The open transaction changed the outbox: the counters before it, and the weight
	 * put in it (counted as failed if it rolls back). */
	bool in_tx;
	struct outbox_stats saved[OUTBOX_NOUT];
	uint64_t tx_put[OUTBOX_NOUT];
	int64_t tx_first[OUTBOX_NOUT]; /* first record outbox_put_in put in it, 0: none */
	struct db_run run;	       /* a write failure run is logged; ended by the next commit */
};

const char *outbox_output_name(int output)
{
	return output == OUTBOX_MQTT ? "mqtt" : "lineproto";
}

/* Our error as a failure run of the outbox (logged when it starts). */
static int fail(struct outbox *o, int rc)
{
	return db_run_fail(&o->run, o->db, rc);
}

static bool valid_output(int output)
{
	return output >= 0 && output < OUTBOX_NOUT;
}

/* The transaction now open changes the outbox: keep the counters it starts from. */
static void touch(struct outbox *o)
{
	if (o->in_tx)
		return;
	o->in_tx = true;
	memcpy(o->saved, o->s, sizeof(o->s));
	memset(o->tx_put, 0, sizeof(o->tx_put));
	memset(o->tx_first, 0, sizeof(o->tx_first));
}

/* A transaction ended (db_watch): a commit keeps what it counted, a rollback restores the
 * counters and counts what was put in it as failed. */
static void on_end(bool committed, void *ud)
{
	struct outbox *o = ud;

	if (!o->in_tx)
		return;
	o->in_tx = false;
	if (committed) {
		db_run_ok(&o->run);
		return;
	}
	memcpy(o->s, o->saved, sizeof(o->s));
	for (int i = 0; i < OUTBOX_NOUT; i++)
		o->s[i].failed += o->tx_put[i];
}

/* Loads the counters of what the tables hold. */
static int load_counts(struct outbox *o)
{
	static const char q_msg[] = "SELECT output, COUNT(*), COALESCE(SUM(weight), 0) FROM "
				    "outbox_msg GROUP BY output";
	static const char q_rej[] = "SELECT output, COUNT(*) FROM outbox_rejected GROUP BY output";
	sqlite3_stmt *st;
	int rc;

	rc = db_prepare(o->db, q_msg, &st);
	if (rc < 0)
		return rc;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int output = sqlite3_column_int(st, 0);
		if (!valid_output(output))
			continue;
		o->s[output].records = (uint64_t)sqlite3_column_int64(st, 1);
		o->s[output].depth = (uint64_t)sqlite3_column_int64(st, 2);
	}
	db_reset(st);
	rc = db_prepare(o->db, q_rej, &st);
	if (rc < 0)
		return rc;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int output = sqlite3_column_int(st, 0);
		if (valid_output(output))
			o->s[output].rejected_held = (uint64_t)sqlite3_column_int64(st, 1);
	}
	db_reset(st);
	return 0;
}

int outbox_open(const char *path, struct outbox **out)
{
	struct outbox *o = g_new0(struct outbox, 1);
	int rc;

	o->run = (struct db_run){.tag = LOG_TAG, .what = "the outbox"};
	rc = db_open(path, &o->db);
	if (rc < 0) {
		g_free(o);
		return rc;
	}
	db_lock(o->db);
	rc = load_counts(o);
	if (rc < 0)
		log_err("%s: %s", path, db_error(o->db));
	db_unlock(o->db);
	if (rc < 0) {
		db_close(o->db);
		g_free(o);
		return rc;
	}
	db_watch(o->db, on_end, o);
	for (int i = 0; i < OUTBOX_NOUT; i++)
		if (o->s[i].records)
			log_info("%" G_GUINT64_FORMAT " %s record(s) (%" G_GUINT64_FORMAT
				 " units) still to send from %s",
				 o->s[i].records, outbox_output_name(i), o->s[i].depth, path);
	*out = o;
	return 0;
}

void outbox_close(struct outbox *o)
{
	if (!o)
		return;
	db_unwatch(o->db, on_end, o);
	db_close(o->db);
	g_free(o);
}

struct db *outbox_db(const struct outbox *o)
{
	return o->db;
}

bool outbox_in_tx(const struct outbox *o)
{
	return db_in_tx(o->db);
}

void outbox_set_limit(struct outbox *o, int output, int64_t limit)
{
	if (!valid_output(output))
		return;
	db_lock(o->db);
	o->limit[output] = limit;
	db_unlock(o->db);
}

/* Deletes one record by id, updating the counters; *output = -1 if it was not there. */
static int del_one(struct outbox *o, int64_t id, int *output, int *weight)
{
	sqlite3_stmt *st;
	int r, rc;

	*output = -1;
	rc = db_prepare(o->db, sql_del, &st);
	if (rc < 0)
		return fail(o, rc);
	sqlite3_bind_int64(st, 1, id);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*output = sqlite3_column_int(st, 0);
		*weight = sqlite3_column_int(st, 1);
		r = sqlite3_step(st);
	}
	rc = r == SQLITE_DONE ? 0 : fail(o, db_fail(o->db, "delete from the outbox"));
	db_reset(st);
	if (rc == 0 && valid_output(*output)) {
		o->s[*output].records--;
		o->s[*output].depth -= (uint64_t)*weight;
	}
	return rc;
}

/* Applies the bound of output inside the current transaction. The records outbox_put_in
 * put in it to be sent after the commit are not dropped by it: put and sent one by one,
 * each would have gone out before the next one could push it out. */
static int enforce(struct outbox *o, int output)
{
	int64_t below = o->tx_first[output] ? o->tx_first[output] : INT64_MAX;
	static const int order[] = {OUTBOX_MEASURE, OUTBOX_STATE};
	struct outbox_stats *s = &o->s[output];
	int64_t lim = o->limit[output];
	uint64_t dropped = 0;

	for (size_t k = 0; k < G_N_ELEMENTS(order) && lim > 0 && s->depth > (uint64_t)lim; k++) {
		while (s->depth > (uint64_t)lim) {
			sqlite3_stmt *st;
			int64_t id;
			int r, out_, w, rc;

			rc = db_prepare(o->db, sql_drop, &st);
			if (rc < 0)
				return fail(o, rc);
			sqlite3_bind_int(st, 1, output);
			sqlite3_bind_int(st, 2, order[k]);
			sqlite3_bind_int64(st, 3, below);
			r = sqlite3_step(st);
			if (r != SQLITE_ROW) {
				rc = r == SQLITE_DONE ? 0 : fail(o, db_fail(o->db, "outbox bound"));
				db_reset(st);
				if (rc < 0)
					return rc;
				break;
			}
			id = sqlite3_column_int64(st, 0);
			db_reset(st);
			rc = del_one(o, id, &out_, &w);
			if (rc < 0)
				return rc;
			dropped += (uint64_t)w;
		}
	}
	if (dropped) {
		s->dropped += dropped;
		if (!o->drop_logged[output])
			log_warn("%s outbox is full (%" G_GINT64_FORMAT
				 " units): dropping the oldest measurements",
				 outbox_output_name(output), lim);
		o->drop_logged[output] = true;
	} else if (o->drop_logged[output] && lim > 0 && s->depth < (uint64_t)lim) {
		log_info("%s outbox has room again; %" G_GUINT64_FORMAT " unit(s) dropped so far",
			 outbox_output_name(output), s->dropped);
		o->drop_logged[output] = false;
	}
	if (lim > 0 && s->depth > (uint64_t)lim) {
		if (!o->over_logged[output])
			log_warn("%s outbox holds %" G_GUINT64_FORMAT
				 " units of alert events, beyond its bound of %" G_GINT64_FORMAT
				 ": they are kept",
				 outbox_output_name(output), s->depth, lim);
		o->over_logged[output] = true;
	} else {
		o->over_logged[output] = false;
	}
	return 0;
}

/* Puts one record in the open transaction; kept: the transaction's bound leaves it. */
static int put(struct outbox *o, int output, int cls, const char *topic, const void *data,
	       size_t len, bool retain, uint64_t token, int weight, bool kept, int64_t *id)
{
	sqlite3_stmt *st;
	int64_t rid;
	int rc;

	if (!valid_output(output) || cls < 0 || cls >= OUTBOX_NCLASS || weight < 1 ||
	    (len && !data) || !db_in_tx(o->db))
		return -EINVAL;
	touch(o);
	o->tx_put[output] += (uint64_t)weight;
	rc = db_prepare(o->db, sql_put, &st);
	if (rc < 0)
		return fail(o, rc);
	sqlite3_bind_int(st, 1, output);
	sqlite3_bind_int(st, 2, cls);
	sqlite3_bind_int64(st, 3, g_get_real_time() / 1000);
	sqlite3_bind_int64(st, 4, (int64_t)token);
	if (topic)
		sqlite3_bind_text(st, 5, topic, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, len ? data : "", (int)len, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, retain);
	sqlite3_bind_int(st, 8, weight);
	rc = fail(o, db_step_done(o->db, st, "outbox put"));
	if (rc < 0)
		return rc;
	rid = sqlite3_last_insert_rowid(db_sqlite(o->db));
	if (id)
		*id = rid;
	if (kept && !o->tx_first[output])
		o->tx_first[output] = rid;
	o->s[output].records++;
	o->s[output].depth += (uint64_t)weight;
	o->s[output].put += (uint64_t)weight;
	return enforce(o, output);
}

int outbox_put_in(struct outbox *o, int output, int cls, const char *topic, const void *data,
		  size_t len, bool retain, uint64_t token, int weight, bool sent_after_commit,
		  int64_t *id)
{
	return put(o, output, cls, topic, data, len, retain, token, weight, sent_after_commit, id);
}

/* Starts a transaction of the outbox's own. */
static int begin(struct outbox *o)
{
	int rc = db_begin(o->db);

	if (rc < 0) {
		db_lock(o->db);
		fail(o, rc);
		db_unlock(o->db);
	}
	return rc;
}

/* Ends a transaction of the outbox's own: commits when rc is 0, else rolls back. */
static int end_tx(struct outbox *o, int rc)
{
	if (rc == 0)
		rc = fail(o, db_commit(o->db));
	if (rc < 0)
		db_rollback(o->db);
	return rc;
}

int outbox_put(struct outbox *o, int output, int cls, const char *topic, const void *data,
	       size_t len, bool retain, uint64_t token, int weight, int64_t *id)
{
	int rc;

	if (!valid_output(output) || cls < 0 || cls >= OUTBOX_NCLASS || weight < 1 ||
	    (len && !data))
		return -EINVAL;
	rc = begin(o);
	if (rc < 0)
		return rc;
	rc = put(o, output, cls, topic, data, len, retain, token, weight, false, id);
	return end_tx(o, rc);
}

static bool skipped(int64_t id, const int64_t *skip, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (skip[i] == id)
			return true;
	return false;
}

int outbox_next(struct outbox *o, int output, const int64_t *skip, size_t n_skip, size_t max,
		void *out)
{
	GPtrArray *arr = out;
	sqlite3_stmt *st;
	int r, n = 0;

	if (!valid_output(output))
		return -EINVAL;
	if (max == 0)
		return 0;
	db_lock(o->db);
	r = db_prepare(o->db, sql_next, &st);
	if (r < 0) {
		db_unlock(o->db);
		return r;
	}
	sqlite3_bind_int(st, 1, output);
	sqlite3_bind_int64(st, 2, (int64_t)(max + n_skip));
	while ((size_t)n < max && (r = sqlite3_step(st)) == SQLITE_ROW) {
		struct outbox_rec *rec;
		int64_t id = sqlite3_column_int64(st, 0);
		const void *blob;

		if (skipped(id, skip, n_skip))
			continue;
		rec = g_new0(struct outbox_rec, 1);
		rec->id = id;
		rec->output = output;
		rec->cls = sqlite3_column_int(st, 1);
		rec->t_ms = sqlite3_column_int64(st, 2);
		rec->token = (uint64_t)sqlite3_column_int64(st, 3);
		if (sqlite3_column_type(st, 4) != SQLITE_NULL)
			rec->topic = g_strdup((const char *)sqlite3_column_text(st, 4));
		blob = sqlite3_column_blob(st, 5);
		rec->len = (size_t)sqlite3_column_bytes(st, 5);
		rec->data = g_malloc(rec->len + 1);
		if (rec->len)
			memcpy(rec->data, blob, rec->len);
		rec->data[rec->len] = '\0';
		rec->retain = sqlite3_column_int(st, 6) != 0;
		rec->weight = sqlite3_column_int(st, 7);
		g_ptr_array_add(arr, rec);
		n++;
	}
	db_reset(st);
	db_unlock(o->db);
	return n;
}

int outbox_remove(struct outbox *o, const int64_t *ids, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	rc = begin(o);
	if (rc < 0)
		return rc;
	touch(o);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		int output, w;
		rc = del_one(o, ids[i], &output, &w);
		if (rc == 0 && valid_output(output))
			o->s[output].sent += (uint64_t)w;
	}
	return end_tx(o, rc);
}

int outbox_reject(struct outbox *o, int64_t id, const char *reason)
{
	sqlite3_stmt *st;
	int rc, output = -1, w = 0;

	rc = begin(o);
	if (rc < 0)
		return rc;
	touch(o);
	rc = db_prepare(o->db, sql_rej, &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, g_get_real_time() / 1000);
		sqlite3_bind_text(st, 3, reason ? reason : "", -1, SQLITE_STATIC);
		rc = fail(o, db_step_done(o->db, st, "outbox reject"));
	}
	if (rc == 0 && sqlite3_changes(db_sqlite(o->db)) == 0)
		rc = -ENOENT;
	if (rc == 0)
		rc = del_one(o, id, &output, &w);
	if (rc == 0 && valid_output(output)) {
		o->s[output].rejected += (uint64_t)w;
		o->s[output].rejected_held++;
	}
	return end_tx(o, rc);
}

void outbox_note_retry(struct outbox *o, int output, uint64_t weight)
{
	if (!valid_output(output))
		return;
	db_lock(o->db);
	o->s[output].retried += weight;
	db_unlock(o->db);
}

bool outbox_has_token(struct outbox *o, int output, uint64_t token)
{
	sqlite3_stmt *st;
	bool found = false;

	db_lock(o->db);
	if (db_prepare(o->db, sql_token, &st) == 0) {
		sqlite3_bind_int(st, 1, output);
		sqlite3_bind_int64(st, 2, (int64_t)token);
		found = sqlite3_step(st) == SQLITE_ROW;
		db_reset(st);
	}
	db_unlock(o->db);
	return found;
}

void outbox_get_stats(struct outbox *o, int output, struct outbox_stats *out)
{
	sqlite3_stmt *st;

	memset(out, 0, sizeof(*out));
	if (!valid_output(output))
		return;
	db_lock(o->db);
	*out = o->s[output];
	if (db_prepare(o->db, sql_oldest, &st) == 0) {
		sqlite3_bind_int(st, 1, output);
		if (sqlite3_step(st) == SQLITE_ROW)
			out->oldest_ms = sqlite3_column_int64(st, 0);
		db_reset(st);
	}
	db_unlock(o->db);
}

void outbox_rec_free(void *p)
{
	struct outbox_rec *r = p;

	if (!r)
		return;
	g_free(r->topic);
	g_free(r->data);
	g_free(r);
}

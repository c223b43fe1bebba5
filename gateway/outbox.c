/* The durable outbox: owns its SQLite connection to hallwatch.db (tables outbox_msg and
 * outbox_rejected), the per-output counters and the drop policy. Called from the main
 * loop (MQTT, alerts) and the line-protocol worker; one mutex serialises them. */
#define LOG_TAG "outbox"
#include "gateway/outbox.h"

#include <errno.h>
#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/log.h"

enum { ST_PUT, ST_NEXT, ST_DEL, ST_DROP, ST_GET, ST_REJ, ST_TOKEN, ST_OLDEST, ST_N };

static const char *const sql_text[ST_N] = {
    [ST_PUT] = "INSERT INTO outbox_msg(output, cls, t_ms, token, topic, data, retain, weight) "
	       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_NEXT] = "SELECT id, cls, t_ms, token, topic, data, retain, weight FROM outbox_msg "
		"WHERE output = ?1 ORDER BY cls, id LIMIT ?2",
    [ST_DEL] = "DELETE FROM outbox_msg WHERE id = ?1 RETURNING output, weight",
    [ST_DROP] = "SELECT id, weight FROM outbox_msg WHERE output = ?1 AND cls = ?2 ORDER BY id "
		"LIMIT 1",
    [ST_GET] = "SELECT output, weight FROM outbox_msg WHERE id = ?1",
    [ST_REJ] = "INSERT INTO outbox_rejected(id, output, cls, t_ms, rejected_ms, topic, data, "
	       "reason) SELECT id, output, cls, t_ms, ?2, topic, data, ?3 FROM outbox_msg "
	       "WHERE id = ?1",
    [ST_TOKEN] = "SELECT 1 FROM outbox_msg WHERE output = ?1 AND token = ?2 LIMIT 1",
    [ST_OLDEST] = "SELECT MIN(t_ms) FROM outbox_msg WHERE output = ?1",
};

struct outbox {
	GMutex mu;
	sqlite3 *db;
	sqlite3_stmt *st[ST_N];
	int64_t limit[OUTBOX_NOUT];
	bool over_logged[OUTBOX_NOUT];
	bool drop_logged[OUTBOX_NOUT];
	struct outbox_stats s[OUTBOX_NOUT];
	bool failing; /* a write failure run is logged; cleared by the next commit */
	char err[256];
};

const char *outbox_output_name(int output)
{
	return output == OUTBOX_MQTT ? "mqtt" : "lineproto";
}

/* SQLite's error as ours (-ENOSPC for a full disk, else -EIO), logged when a failure
 * run starts; the commit that ends it says so (complain once). */
static int fail(struct outbox *o, const char *what)
{
	int code = sqlite3_extended_errcode(o->db);

	snprintf(o->err, sizeof(o->err), "%s: %s", what, sqlite3_errmsg(o->db));
	if (!o->failing)
		log_err("%s", o->err);
	else
		log_debug("%s", o->err);
	o->failing = true;
	return (code & 0xff) == SQLITE_FULL ? -ENOSPC : -EIO;
}

static int exec(struct outbox *o, const char *sql)
{
	if (sqlite3_exec(o->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return fail(o, sql);
	return 0;
}

/* COMMIT, ending a failure run. */
static int commit(struct outbox *o)
{
	int rc = exec(o, "COMMIT");

	if (rc == 0 && o->failing) {
		o->failing = false;
		log_info("the outbox can be written again");
	}
	return rc;
}

static void rollback(struct outbox *o)
{
	if (!sqlite3_get_autocommit(o->db))
		exec(o, "ROLLBACK");
}

static void reset(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static bool valid_output(int output)
{
	return output >= 0 && output < OUTBOX_NOUT;
}

int outbox_open(const char *path, struct outbox **out)
{
	struct outbox *o = g_new0(struct outbox, 1);
	sqlite3_stmt *st = NULL;

	g_mutex_init(&o->mu);
	if (sqlite3_open_v2(path, &o->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		log_err("%s: %s", path, o->db ? sqlite3_errmsg(o->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(o->db, 5000);
	if (exec(o, "PRAGMA journal_mode=WAL") || exec(o, "PRAGMA synchronous=FULL") ||
	    exec(o, "CREATE TABLE IF NOT EXISTS outbox_msg(id INTEGER PRIMARY KEY AUTOINCREMENT, "
		    "output INTEGER NOT NULL, cls INTEGER NOT NULL, t_ms INTEGER NOT NULL, "
		    "token INTEGER NOT NULL DEFAULT 0, topic TEXT, data BLOB NOT NULL, "
		    "retain INTEGER NOT NULL DEFAULT 0, weight INTEGER NOT NULL DEFAULT 1)") ||
	    exec(o, "CREATE INDEX IF NOT EXISTS outbox_msg_order ON outbox_msg(output, cls, id)") ||
	    exec(o, "CREATE INDEX IF NOT EXISTS outbox_msg_token ON outbox_msg(output, token) "
		    "WHERE token != 0") ||
	    exec(o, "CREATE TABLE IF NOT EXISTS outbox_rejected(id INTEGER PRIMARY KEY, output "
		    "INTEGER NOT NULL, cls INTEGER NOT NULL, t_ms INTEGER NOT NULL, rejected_ms "
		    "INTEGER NOT NULL, topic TEXT, data BLOB NOT NULL, reason TEXT)"))
		goto fail;
	for (int i = 0; i < ST_N; i++) {
		if (sqlite3_prepare_v2(o->db, sql_text[i], -1, &o->st[i], NULL) != SQLITE_OK) {
			fail(o, sql_text[i]);
			goto fail;
		}
	}
	if (sqlite3_prepare_v2(o->db,
			       "SELECT output, COUNT(*), COALESCE(SUM(weight), 0) FROM outbox_msg "
			       "GROUP BY output",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int output = sqlite3_column_int(st, 0);
		if (!valid_output(output))
			continue;
		o->s[output].records = (uint64_t)sqlite3_column_int64(st, 1);
		o->s[output].depth = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(o->db,
			       "SELECT output, COUNT(*) FROM outbox_rejected GROUP BY output", -1,
			       &st, NULL) != SQLITE_OK)
		goto fail;
	while (sqlite3_step(st) == SQLITE_ROW) {
		int output = sqlite3_column_int(st, 0);
		if (valid_output(output))
			o->s[output].rejected_held = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	for (int i = 0; i < OUTBOX_NOUT; i++)
		if (o->s[i].records)
			log_info("%" G_GUINT64_FORMAT " %s record(s) (%" G_GUINT64_FORMAT
				 " units) still to send from %s",
				 o->s[i].records, outbox_output_name(i), o->s[i].depth, path);
	*out = o;
	return 0;
fail:
	outbox_close(o);
	return -EIO;
}

void outbox_close(struct outbox *o)
{
	if (!o)
		return;
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(o->st[i]);
	sqlite3_close(o->db);
	g_mutex_clear(&o->mu);
	g_free(o);
}

void outbox_set_limit(struct outbox *o, int output, int64_t limit)
{
	if (!valid_output(output))
		return;
	g_mutex_lock(&o->mu);
	o->limit[output] = limit;
	g_mutex_unlock(&o->mu);
}

/* Deletes one record by id, updating the counters; *gone = false if it was not there. */
static int del_one(struct outbox *o, int64_t id, int *output, int *weight)
{
	sqlite3_stmt *st = o->st[ST_DEL];
	int r;

	sqlite3_bind_int64(st, 1, id);
	r = sqlite3_step(st);
	*output = -1;
	if (r == SQLITE_ROW) {
		*output = sqlite3_column_int(st, 0);
		*weight = sqlite3_column_int(st, 1);
		r = sqlite3_step(st);
	}
	reset(st);
	if (r != SQLITE_DONE)
		return fail(o, "delete from the outbox");
	if (valid_output(*output)) {
		o->s[*output].records--;
		o->s[*output].depth -= (uint64_t)*weight;
	}
	return 0;
}

/* Applies the bound of output inside the current transaction. */
static int enforce(struct outbox *o, int output)
{
	static const int order[] = {OUTBOX_MEASURE, OUTBOX_STATE};
	struct outbox_stats *s = &o->s[output];
	int64_t lim = o->limit[output];
	uint64_t dropped = 0;

	for (size_t k = 0; k < G_N_ELEMENTS(order) && lim > 0 && s->depth > (uint64_t)lim; k++) {
		sqlite3_stmt *st = o->st[ST_DROP];
		while (s->depth > (uint64_t)lim) {
			int64_t id;
			int r, out_, w;

			sqlite3_bind_int(st, 1, output);
			sqlite3_bind_int(st, 2, order[k]);
			r = sqlite3_step(st);
			if (r != SQLITE_ROW) {
				reset(st);
				if (r != SQLITE_DONE)
					return fail(o, "outbox bound");
				break;
			}
			id = sqlite3_column_int64(st, 0);
			reset(st);
			if (del_one(o, id, &out_, &w) < 0)
				return -EIO;
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

int outbox_put(struct outbox *o, int output, int cls, const char *topic, const void *data,
	       size_t len, bool retain, uint64_t token, int weight, int64_t *id)
{
	sqlite3_stmt *st = o->st[ST_PUT];
	int rc;

	if (!valid_output(output) || cls < 0 || cls >= OUTBOX_NCLASS || weight < 1 ||
	    (len && !data))
		return -EINVAL;
	g_mutex_lock(&o->mu);
	rc = exec(o, "BEGIN IMMEDIATE");
	if (rc < 0)
		goto out;
	sqlite3_bind_int(st, 1, output);
	sqlite3_bind_int(st, 2, cls);
	sqlite3_bind_int64(st, 3, g_get_real_time() / 1000);
	sqlite3_bind_int64(st, 4, (int64_t)token);
	if (topic)
		sqlite3_bind_text(st, 5, topic, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, len ? data : "", (int)len, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, retain);
	sqlite3_bind_int(st, 8, weight);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = fail(o, "outbox put");
		reset(st);
		goto rollback;
	}
	reset(st);
	if (id)
		*id = sqlite3_last_insert_rowid(o->db);
	o->s[output].records++;
	o->s[output].depth += (uint64_t)weight;
	o->s[output].put += (uint64_t)weight;
	rc = enforce(o, output);
	if (rc < 0)
		goto rollback;
	rc = commit(o);
	if (rc == 0)
		goto out;
rollback:
	rollback(o);
	o->s[output].failed += (uint64_t)weight;
	/* The counters may be off after a failed transaction: reload them. */
	o->s[output].records = o->s[output].depth = 0;
	{
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(o->db,
				       "SELECT COUNT(*), COALESCE(SUM(weight), 0) FROM outbox_msg "
				       "WHERE output = ?1",
				       -1, &q, NULL) == SQLITE_OK) {
			sqlite3_bind_int(q, 1, output);
			if (sqlite3_step(q) == SQLITE_ROW) {
				o->s[output].records = (uint64_t)sqlite3_column_int64(q, 0);
				o->s[output].depth = (uint64_t)sqlite3_column_int64(q, 1);
			}
			sqlite3_finalize(q);
		}
	}
out:
	g_mutex_unlock(&o->mu);
	return rc;
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
	sqlite3_stmt *st = o->st[ST_NEXT];
	int r, n = 0;

	if (!valid_output(output))
		return -EINVAL;
	if (max == 0)
		return 0;
	g_mutex_lock(&o->mu);
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
	reset(st);
	g_mutex_unlock(&o->mu);
	return n;
}

int outbox_remove(struct outbox *o, const int64_t *ids, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	g_mutex_lock(&o->mu);
	rc = exec(o, "BEGIN IMMEDIATE");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		int output, w;
		rc = del_one(o, ids[i], &output, &w);
		if (rc == 0 && valid_output(output))
			o->s[output].sent += (uint64_t)w;
	}
	if (rc == 0)
		rc = commit(o);
	else
		rollback(o);
	g_mutex_unlock(&o->mu);
	return rc;
}

int outbox_reject(struct outbox *o, int64_t id, const char *reason)
{
	sqlite3_stmt *st = o->st[ST_REJ];
	int rc, output = -1, w = 0;

	g_mutex_lock(&o->mu);
	rc = exec(o, "BEGIN IMMEDIATE");
	if (rc < 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, g_get_real_time() / 1000);
	sqlite3_bind_text(st, 3, reason ? reason : "", -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = fail(o, "outbox reject");
	reset(st);
	if (rc == 0 && sqlite3_changes(o->db) == 0)
		rc = -ENOENT;
	if (rc == 0)
		rc = del_one(o, id, &output, &w);
	if (rc == 0)
		rc = commit(o);
	if (rc < 0) {
		rollback(o);
	} else if (valid_output(output)) {
		o->s[output].rejected += (uint64_t)w;
		o->s[output].rejected_held++;
	}
out:
	g_mutex_unlock(&o->mu);
	return rc;
}

void outbox_note_retry(struct outbox *o, int output, uint64_t weight)
{
	if (!valid_output(output))
		return;
	g_mutex_lock(&o->mu);
	o->s[output].retried += weight;
	g_mutex_unlock(&o->mu);
}

bool outbox_has_token(struct outbox *o, int output, uint64_t token)
{
	sqlite3_stmt *st = o->st[ST_TOKEN];
	bool found;

	g_mutex_lock(&o->mu);
	sqlite3_bind_int(st, 1, output);
	sqlite3_bind_int64(st, 2, (int64_t)token);
	found = sqlite3_step(st) == SQLITE_ROW;
	reset(st);
	g_mutex_unlock(&o->mu);
	return found;
}

void outbox_get_stats(struct outbox *o, int output, struct outbox_stats *out)
{
	sqlite3_stmt *st = o->st[ST_OLDEST];

	memset(out, 0, sizeof(*out));
	if (!valid_output(output))
		return;
	g_mutex_lock(&o->mu);
	*out = o->s[output];
	sqlite3_bind_int(st, 1, output);
	if (sqlite3_step(st) == SQLITE_ROW)
		out->oldest_ms = sqlite3_column_int64(st, 0);
	reset(st);
	g_mutex_unlock(&o->mu);
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

/* Owns the local history of numeric points: the open minute of each point in memory, the
 * ended minutes waiting for the next flush, and the rows of hist_sample in hallwatch.db.
 * Runs on the main loop thread (outputs/history.h). */
#define LOG_TAG "history"
#include "outputs/history.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"

struct bucket {
	int64_t t_ms;
	int64_t n;
	double min, sum, max;
};

struct row {
	char *key; /* "device\x1fpoint" */
	struct bucket b;
};

struct history {
	struct db *db;
	int days;
	int64_t max_rows;
	GHashTable *open; /* key -> struct bucket * */
	GArray *ended;	  /* struct row, waiting for the next flush */
	bool failing;
	uint64_t dropped;
};

static char *key_of(const char *device, const char *point)
{
	return g_strconcat(device, "\x1f", point, NULL);
}

int history_create(const char *db_path, int days, int64_t max_rows, struct history **out)
{
	struct history *h = g_new0(struct history, 1);
	int rc = db_open(db_path, &h->db);

	if (rc < 0) {
		g_free(h);
		return rc;
	}
	h->days = days > 0 ? days : 1;
	h->max_rows = max_rows > 0 ? max_rows : 1;
	h->open = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	h->ended = g_array_new(FALSE, FALSE, sizeof(struct row));
	*out = h;
	return 0;
}

static void row_clear(gpointer p)
{
	g_free(((struct row *)p)->key);
}

void history_destroy(struct history *h)
{
	if (!h)
		return;
	history_flush(h, -1);
	g_hash_table_destroy(h->open);
	for (guint i = 0; i < h->ended->len; i++)
		row_clear(&g_array_index(h->ended, struct row, i));
	g_array_free(h->ended, TRUE);
	db_close(h->db);
	g_free(h);
}

static void end_bucket(struct history *h, const char *key, const struct bucket *b)
{
	struct row r = {.key = g_strdup(key), .b = *b};

	g_array_append_val(h->ended, r);
}

void history_add(struct history *h, const char *device, const char *point, int64_t t_ms, double v)
{
	char *key;
	struct bucket *b;
	int64_t t = t_ms - t_ms % HISTORY_BUCKET_MS;

	if (!h || !isfinite(v) || t_ms <= 0)
		return;
	key = key_of(device, point);
	b = g_hash_table_lookup(h->open, key);
	if (b && b->t_ms != t) {
		if (t < b->t_ms) { /* the clock went back: fold into the open minute */
			t = b->t_ms;
		} else {
			end_bucket(h, key, b);
			b->t_ms = t;
			b->n = 0;
		}
	}
	if (!b) {
		b = g_new0(struct bucket, 1);
		b->t_ms = t;
		g_hash_table_insert(h->open, g_strdup(key), b);
	}
	if (b->n == 0 || v < b->min)
		b->min = v;
	if (b->n == 0 || v > b->max)
		b->max = v;
	b->sum = b->n == 0 ? v : b->sum + v;
	b->n++;
	g_free(key);
}

static int write_row(struct history *h, sqlite3_stmt *st, const struct row *r)
{
	const char *sep = strchr(r->key, '\x1f');

	sqlite3_bind_text(st, 1, r->key, (int)(sep - r->key), SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, sep + 1, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, r->b.t_ms);
	sqlite3_bind_int64(st, 4, r->b.n);
	sqlite3_bind_double(st, 5, r->b.min);
	sqlite3_bind_double(st, 6, r->b.sum);
	sqlite3_bind_double(st, 7, r->b.max);
	return db_step_done(h->db, st, "write a minute of history");
}

static int prune(struct history *h, int64_t now_ms)
{
	sqlite3_stmt *st;
	int rc;
	int64_t n;

	rc = db_prepare(h->db, "DELETE FROM hist_sample WHERE t_ms < ?", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, now_ms - (int64_t)h->days * 86400000);
	rc = db_step_done(h->db, st, "prune the history");
	if (rc < 0)
		return rc;
	n = history_rows(h);
	if (n <= h->max_rows)
		return 0;
	rc = db_prepare(h->db,
			"DELETE FROM hist_sample WHERE rowid IN (SELECT rowid FROM hist_sample "
			"ORDER BY t_ms LIMIT ?)",
			&st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, n - h->max_rows);
	rc = db_step_done(h->db, st, "bound the history");
	if (rc == 0)
		h->dropped += (uint64_t)(n - h->max_rows);
	return rc;
}

int history_flush(struct history *h, int64_t now_ms)
{
	int64_t cut = now_ms < 0 ? INT64_MAX : now_ms - now_ms % HISTORY_BUCKET_MS;
	GHashTableIter it;
	gpointer k, v;
	sqlite3_stmt *st;
	int rc;

	if (!h)
		return 0;
	g_hash_table_iter_init(&it, h->open);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct bucket *b = v;
		if (b->t_ms < cut) {
			end_bucket(h, k, b);
			g_hash_table_iter_remove(&it);
		}
	}
	if (h->ended->len == 0 && now_ms < 0)
		return 0;
	db_lock(h->db);
	rc = db_begin(h->db);
	if (rc == 0)
		rc =
		    db_prepare(h->db,
			       "INSERT INTO hist_sample(device, point, t_ms, n, min, sum, max) "
			       "VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(device, point, t_ms) DO "
			       "UPDATE SET n = n + excluded.n, min = MIN(min, excluded.min), sum = "
			       "sum + excluded.sum, max = MAX(max, excluded.max)",
			       &st);
	for (guint i = 0; rc == 0 && i < h->ended->len; i++)
		rc = write_row(h, st, &g_array_index(h->ended, struct row, i));
	if (rc == 0)
		rc = prune(h, now_ms < 0 ? g_get_real_time() / 1000 : now_ms);
	if (rc == 0)
		rc = db_commit(h->db);
	else
		db_rollback(h->db);
	if (rc < 0 && !h->failing)
		log_warn("cannot write the history to %s (%s): the minutes wait in memory",
			 db_path(h->db), db_error(h->db));
	else if (rc == 0 && h->failing)
		log_info("the history is written to %s again", db_path(h->db));
	db_unlock(h->db);
	h->failing = rc < 0;
	if (rc == 0) {
		for (guint i = 0; i < h->ended->len; i++)
			row_clear(&g_array_index(h->ended, struct row, i));
		g_array_set_size(h->ended, 0);
	} else if (h->ended->len > 100000) { /* bounded: a dead disk cannot eat the memory */
		h->dropped += h->ended->len;
		log_warn("history: %u minutes dropped (the database cannot be written)",
			 h->ended->len);
		for (guint i = 0; i < h->ended->len; i++)
			row_clear(&g_array_index(h->ended, struct row, i));
		g_array_set_size(h->ended, 0);
	}
	return rc;
}

static void push(GArray *a, const struct bucket *b)
{
	struct history_sample s = {.t_ms = b->t_ms,
				   .n = b->n,
				   .min = b->min,
				   .avg = b->n ? b->sum / (double)b->n : 0,
				   .max = b->max};

	g_array_append_val(a, s);
}

static gint by_time(gconstpointer x, gconstpointer y)
{
	const struct history_sample *a = x, *b = y;

	return a->t_ms < b->t_ms ? -1 : a->t_ms > b->t_ms;
}

int history_query(struct history *h, const char *device, const char *point, int64_t from_ms,
		  int64_t to_ms, size_t max, struct history_sample **out, size_t *n)
{
	GArray *a = g_array_new(FALSE, FALSE, sizeof(struct history_sample));
	char *key = key_of(device, point);
	const struct bucket *ob;
	sqlite3_stmt *st;
	int rc, s;

	db_lock(h->db);
	rc = db_prepare(h->db,
			"SELECT t_ms, n, min, sum, max FROM hist_sample WHERE device = ? AND "
			"point = ? AND t_ms >= ? AND t_ms <= ? ORDER BY t_ms",
			&st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, device, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, point, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, from_ms - from_ms % HISTORY_BUCKET_MS);
		sqlite3_bind_int64(st, 4, to_ms);
		while ((s = sqlite3_step(st)) == SQLITE_ROW) {
			struct bucket b = {.t_ms = sqlite3_column_int64(st, 0),
					   .n = sqlite3_column_int64(st, 1),
					   .min = sqlite3_column_double(st, 2),
					   .sum = sqlite3_column_double(st, 3),
					   .max = sqlite3_column_double(st, 4)};
			push(a, &b);
		}
		if (s != SQLITE_DONE)
			rc = db_fail(h->db, "read the history");
		db_reset(st);
	}
	db_unlock(h->db);
	for (guint i = 0; rc == 0 && i < h->ended->len; i++) {
		const struct row *r = &g_array_index(h->ended, struct row, i);
		if (strcmp(r->key, key) == 0 && r->b.t_ms + HISTORY_BUCKET_MS > from_ms &&
		    r->b.t_ms <= to_ms)
			push(a, &r->b);
	}
	ob = g_hash_table_lookup(h->open, key);
	if (rc == 0 && ob && ob->n > 0 && ob->t_ms + HISTORY_BUCKET_MS > from_ms &&
	    ob->t_ms <= to_ms)
		push(a, ob);
	g_free(key);
	if (rc < 0) {
		g_array_free(a, TRUE);
		return rc;
	}
	g_array_sort(a, by_time);
	if (max && a->len > max)
		g_array_remove_range(a, 0, a->len - (guint)max);
	*n = a->len;
	*out = (struct history_sample *)(void *)g_array_free(a, FALSE);
	return 0;
}

int64_t history_rows(struct history *h)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	db_lock(h->db);
	if (db_prepare(h->db, "SELECT COUNT(*) FROM hist_sample", &st) == 0) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		db_reset(st);
	}
	db_unlock(h->db);
	return n;
}

uint64_t history_dropped(const struct history *h)
{
	return h->dropped;
}

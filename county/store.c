/* Owns the county's database (county.db under its state_dir): counted events, the days of
 * each hall per instance, the alarm feed, and the ranking computed from the days. Runs on
 * the county's main loop, or in the report command. */
#define LOG_TAG "county"
#include "county/store.h"

#include <errno.h>
#include <inttypes.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"

static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS county_seen(site TEXT NOT NULL, seq INTEGER NOT NULL, "
    "t_ms INTEGER NOT NULL, inst TEXT NOT NULL, PRIMARY KEY(site, seq)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS county_seen_t ON county_seen(t_ms);"
    "CREATE TABLE IF NOT EXISTS county_day(site TEXT NOT NULL, day INTEGER NOT NULL, "
    "inst TEXT NOT NULL, observed_ms INTEGER, online_ms INTEGER, silent_ms INTEGER, "
    "dev_ms INTEGER, dev_up_ms INTEGER, cam_ms INTEGER, cam_up_ms INTEGER, "
    "footage_ms INTEGER, footage_ok_ms INTEGER, events INTEGER, alerts INTEGER, "
    "fire_alarms INTEGER, faults INTEGER, patrols_done INTEGER, patrols_due INTEGER, "
    "tests_passed INTEGER, tickets_opened INTEGER, tickets_closed INTEGER, "
    "PRIMARY KEY(site, day, inst)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS county_alarm(id INTEGER PRIMARY KEY, t_ms INTEGER NOT NULL, "
    "site TEXT NOT NULL, json TEXT NOT NULL);";

static const struct db_migration migrations[] = {
    {.name = "the county's events, days and alarms", .sql = schema_v1},
};

struct cstore {
	struct db *db;
	char *inst;
	struct db_run run;
};

int cstore_open(const char *state_dir, const char *inst, struct cstore **out)
{
	struct cstore *s;
	char *path;
	int rc;

	if (g_mkdir_with_parents(state_dir, 0750) < 0) {
		rc = -errno;
		log_err("cannot create %s: %s", state_dir, strerror(-rc));
		return rc;
	}
	s = g_new0(struct cstore, 1);
	path = g_build_filename(state_dir, "county.db", NULL);
	rc = db_open_with(path, migrations, G_N_ELEMENTS(migrations), &s->db);
	g_free(path);
	if (rc < 0) {
		g_free(s);
		return rc;
	}
	/* A crash may lose the last commits (WAL, not synced each time): an event then
	 * counts again, never a wrong one; a fire alarm is not held back by a disk sync. */
	db_lock(s->db);
	db_exec(s->db, "PRAGMA synchronous=NORMAL");
	db_unlock(s->db);
	s->inst = g_strdup(inst);
	s->run.tag = LOG_TAG;
	s->run.what = "the county's database";
	*out = s;
	return 0;
}

void cstore_close(struct cstore *s)
{
	if (!s)
		return;
	db_close(s->db);
	g_free(s->inst);
	g_free(s);
}

int cstore_event_new(struct cstore *s, const char *site, int64_t seq, int64_t now_ms)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(
	    s->db, "INSERT OR IGNORE INTO county_seen(site, seq, t_ms, inst) VALUES(?,?,?,?)", &st);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, site, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, seq);
		sqlite3_bind_int64(st, 3, now_ms);
		sqlite3_bind_text(st, 4, s->inst, -1, SQLITE_STATIC);
		rc = db_step_done(s->db, st, "INSERT county_seen");
		if (rc == 0)
			rc = sqlite3_changes(db_sqlite(s->db)) > 0;
	}
	if (rc < 0)
		db_run_fail(&s->run, s->db, rc);
	else
		db_run_ok(&s->run);
	db_unlock(s->db);
	return rc;
}

int cstore_begin(struct cstore *s)
{
	return db_begin(s->db);
}

int cstore_commit(struct cstore *s)
{
	int rc = db_commit(s->db);

	if (rc < 0) {
		db_run_fail(&s->run, s->db, rc);
		db_rollback(s->db);
	} else {
		db_run_ok(&s->run);
	}
	return rc;
}

int cstore_day(struct cstore *s, const char *site, const struct rollup_day *d)
{
	sqlite3_stmt *st;
	int rc, i = 1;

	db_lock(s->db);
	rc = db_prepare(
	    s->db,
	    "INSERT OR REPLACE INTO county_day VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
	    "?,?,?)",
	    &st);
	if (rc == 0) {
		sqlite3_bind_text(st, i++, site, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, i++, d->day);
		sqlite3_bind_text(st, i++, s->inst, -1, SQLITE_STATIC);
		const int64_t v[] = {d->observed_ms,  d->online_ms,	 d->silent_ms,
				     d->dev_ms,	      d->dev_up_ms,	 d->cam_ms,
				     d->cam_up_ms,    d->footage_ms,	 d->footage_ok_ms,
				     d->events,	      d->alerts,	 d->fire_alarms,
				     d->faults,	      d->patrols_done,	 d->patrols_due,
				     d->tests_passed, d->tickets_opened, d->tickets_closed};
		for (size_t k = 0; k < G_N_ELEMENTS(v); k++)
			sqlite3_bind_int64(st, i++, v[k]);
		rc = db_step_done(s->db, st, "INSERT county_day");
	}
	db_unlock(s->db);
	return rc;
}

int cstore_load_day(struct cstore *s, int64_t day,
		    void (*fn)(const char *site, const struct rollup_day *d, void *ud), void *ud)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, "SELECT * FROM county_day WHERE day = ? AND inst = ?", &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, day);
		sqlite3_bind_text(st, 2, s->inst, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct rollup_day d = {0};
			int c = 3;
			int64_t *f[] = {&d.observed_ms,	 &d.online_ms,	    &d.silent_ms,
					&d.dev_ms,	 &d.dev_up_ms,	    &d.cam_ms,
					&d.cam_up_ms,	 &d.footage_ms,	    &d.footage_ok_ms,
					&d.events,	 &d.alerts,	    &d.fire_alarms,
					&d.faults,	 &d.patrols_done,   &d.patrols_due,
					&d.tests_passed, &d.tickets_opened, &d.tickets_closed};
			d.day = sqlite3_column_int64(st, 1);
			for (size_t k = 0; k < G_N_ELEMENTS(f); k++)
				*f[k] = sqlite3_column_int64(st, c++);
			fn((const char *)sqlite3_column_text(st, 0), &d, ud);
		}
		rc = rc == SQLITE_DONE ? 0 : db_fail(s->db, "SELECT county_day");
		db_reset(st);
	}
	db_unlock(s->db);
	return rc;
}

int cstore_alarm(struct cstore *s, int64_t t_ms, const char *site, const char *json)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, "INSERT INTO county_alarm(t_ms, site, json) VALUES(?,?,?)", &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, t_ms);
		sqlite3_bind_text(st, 2, site, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, json, -1, SQLITE_TRANSIENT);
		rc = db_step_done(s->db, st, "INSERT county_alarm");
	}
	db_unlock(s->db);
	return rc;
}

int cstore_prune(struct cstore *s, int64_t before_ms)
{
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, "DELETE FROM county_seen WHERE t_ms < ?", &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, before_ms);
		rc = db_step_done(s->db, st, "DELETE county_seen");
	}
	db_unlock(s->db);
	return rc;
}

struct rank {
	char *site;
	int64_t days, obs, onl, sil, dm, du, cm, cu, fm, fo, ev, al, fa, fl, pd, pu, tp, tko, tkc;
	double online, dev, cam, patrol, footage, score;
};

static double ratio(int64_t a, int64_t b)
{
	return b > 0 ? (double)a / (double)b : 1.0;
}

static int by_score(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return strcmp(x->site, y->site);
}

int cstore_ranking_csv(struct cstore *s, int64_t from, int64_t to, FILE *f)
{
	/* Per day the time-weighted figures are the largest any instance saw (each instance
	 * watches every hall); the counts of events add up (each event went to one). */
	static const char sql[] =
	    "WITH d AS (SELECT site, day, MAX(observed_ms) obs, MAX(online_ms) onl, "
	    "MAX(silent_ms) sil, MAX(dev_ms) dm, MAX(dev_up_ms) du, MAX(cam_ms) cm, "
	    "MAX(cam_up_ms) cu, MAX(footage_ms) fm, MAX(footage_ok_ms) fo, SUM(events) ev, "
	    "SUM(alerts) al, SUM(fire_alarms) fa, SUM(faults) fl, SUM(patrols_done) pd, "
	    "SUM(patrols_due) pu, SUM(tests_passed) tp, SUM(tickets_opened) tko, "
	    "SUM(tickets_closed) tkc FROM county_day WHERE day BETWEEN ? AND ? "
	    "GROUP BY site, day) "
	    "SELECT site, COUNT(*), SUM(obs), SUM(onl), SUM(sil), SUM(dm), SUM(du), SUM(cm), "
	    "SUM(cu), SUM(fm), SUM(fo), SUM(ev), SUM(al), SUM(fa), SUM(fl), SUM(pd), SUM(pu), "
	    "SUM(tp), SUM(tko), SUM(tkc) FROM d GROUP BY site";
	GArray *rows = g_array_new(FALSE, TRUE, sizeof(struct rank));
	sqlite3_stmt *st;
	int rc;

	db_lock(s->db);
	rc = db_prepare(s->db, sql, &st);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, from);
		sqlite3_bind_int64(st, 2, to);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct rank r = {0};
			int64_t *v[] = {&r.days, &r.obs, &r.onl, &r.sil, &r.dm, &r.du, &r.cm,
					&r.cu,	 &r.fm,	 &r.fo,	 &r.ev,	 &r.al, &r.fa, &r.fl,
					&r.pd,	 &r.pu,	 &r.tp,	 &r.tko, &r.tkc};
			r.site = g_strdup((const char *)sqlite3_column_text(st, 0));
			for (size_t k = 0; k < G_N_ELEMENTS(v); k++)
				*v[k] = sqlite3_column_int64(st, (int)k + 1);
			r.online = ratio(r.onl, r.obs);
			r.dev = ratio(r.du, r.dm);
			r.cam = ratio(r.cu, r.cm);
			r.patrol = ratio(r.pd, r.pu);
			r.footage = ratio(r.fo, r.fm);
			r.score = 100.0 * (0.35 * r.online + 0.25 * r.dev + 0.15 * r.cam +
					   0.15 * r.patrol + 0.10 * r.footage);
			g_array_append_val(rows, r);
		}
		rc = rc == SQLITE_DONE ? 0 : db_fail(s->db, "SELECT county_day");
		db_reset(st);
	}
	db_unlock(s->db);
	if (rc == 0) {
		g_array_sort(rows, by_score);
		fprintf(f, "rank,site,score,days,online_rate,device_availability,"
			   "camera_availability,patrols_done,patrols_due,patrol_rate,tests_passed,"
			   "footage_ok_rate,events,alerts,fire_alarms,faults,tickets_opened,"
			   "tickets_closed,silent_h\n");
		for (guint i = 0; i < rows->len; i++) {
			struct rank *r = &g_array_index(rows, struct rank, i);
			fprintf(f,
				"%u,%s,%.2f,%" PRId64 ",%.4f,%.4f,%.4f,%" PRId64 ",%" PRId64
				",%.4f,%" PRId64 ",%.4f,%" PRId64 ",%" PRId64 ",%" PRId64
				",%" PRId64 ",%" PRId64 ",%" PRId64 ",%.2f\n",
				i + 1, r->site, r->score, r->days, r->online, r->dev, r->cam, r->pd,
				r->pu, r->patrol, r->tp, r->footage, r->ev, r->al, r->fa, r->fl,
				r->tko, r->tkc, (double)r->sil / 3600000.0);
		}
	}
	for (guint i = 0; i < rows->len; i++)
		g_free(g_array_index(rows, struct rank, i).site);
	g_array_free(rows, TRUE);
	return rc;
}

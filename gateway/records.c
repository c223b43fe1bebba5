/* Owns the inspectors' verbs (records, review, tickets, report) and the gathering of a
 * month's figures for the report: records and tickets from the inspection store, camera
 * availability from the alert event log, footage kept from the recording index. Times of
 * reviews and of the report are the inspection clock's (core/clock.h). Main loop thread;
 * cmd/report's reading and writing on a worker thread (report_run), on a job of its own and
 * a database connection of its own. */
#define LOG_TAG "records"
#include "gateway/records.h"

#include <errno.h>
#include <glib.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/db.h"
#include "core/log.h"
#include "core/timeparse.h"
#include "inspect/report.h"

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 1000

struct records {
	const struct hw_config *cfg;
	struct insp_store *store;
	struct alert_service *alerts;
	GTimeZone *tz;
};

int records_create(const struct hw_config *cfg, struct insp_store *store,
		   struct alert_service *alerts, struct records **out)
{
	struct records *r = g_new0(struct records, 1);

	r->cfg = cfg;
	r->store = store;
	r->alerts = alerts;
	r->tz = cfg->site.timezone ? g_time_zone_new_identifier(cfg->site.timezone)
				   : g_time_zone_new_local();
	if (!r->tz) {
		g_free(r);
		return -EINVAL;
	}
	*out = r;
	return 0;
}

void records_destroy(struct records *r)
{
	if (!r)
		return;
	g_time_zone_unref(r->tz);
	g_free(r);
}

/* ---- JSON of a record and a ticket ---- */

static json_t *record_json(const struct insp_record *r)
{
	json_t *j = r->json ? json_loads(r->json, 0, NULL) : NULL;
	json_t *d = j ? json_object_get(j, "details") : NULL;
	json_t *note = j ? json_object_get(j, "note") : NULL;
	json_t *due = j ? json_object_get(j, "due") : NULL;
	json_t *started = j ? json_object_get(j, "started") : NULL;
	json_t *o = json_pack(
	    "{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:O}", "id", (json_int_t)r->id,
	    "task", r->task, "plan", r->plan, "kind", cfg_insp_kind_name(r->kind), "target",
	    r->target, "result", r->result, "by", r->by, "note",
	    json_is_string(note) ? json_string_value(note) : "", "due",
	    (json_int_t)(json_is_integer(due) ? json_integer_value(due) : 0), "started",
	    (json_int_t)(json_is_integer(started) ? json_integer_value(started) : 0), "ended",
	    (json_int_t)r->t_ms, "details", json_is_object(d) ? d : json_object());

	if (!json_is_object(d)) /* the empty object made above: s:O took a reference */
		json_decref(json_object_get(o, "details"));
	json_object_set_new(
	    o, "review",
	    r->reviewed_ms > 0 ? json_pack("{s:s, s:s, s:s, s:I}", "by", r->reviewed_by, "verdict",
					   r->verdict, "note", r->review_note ? r->review_note : "",
					   "t", (json_int_t)r->reviewed_ms)
			       : json_null());
	json_decref(j);
	return o;
}

static int add_record(const struct insp_record *r, void *ud)
{
	json_array_append_new(ud, record_json(r));
	return 0;
}

static int add_tr(const struct ticket_tr *tr, void *ud)
{
	static const char *const rc_names[] = {"", "pass", "fail"};

	json_array_append_new(ud, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "from",
					    ticket_state_name(tr->from), "to",
					    ticket_state_name(tr->to), "t", (json_int_t)tr->t_ms,
					    "by", tr->by, "note", tr->note, "recheck",
					    rc_names[tr->recheck <= TR_FAIL ? tr->recheck : 0]));
	return 0;
}

struct tickets_ctx {
	struct records *r;
	json_t *v;
};

static int add_ticket(const struct ticket *t, void *ud)
{
	struct tickets_ctx *c = ud;
	json_t *trs = json_array();
	int rc = insp_store_ticket_history(c->r->store, t->id, add_tr, trs);

	json_array_append_new(
	    c->v,
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:I, s:I, s:o}", "ticket",
		      t->id, "kind", t->kind, "target", t->target, "source", t->source, "text",
		      t->text, "state", ticket_state_name(t->state), "assignee", t->assignee,
		      "opened", (json_int_t)t->opened_ms, "deadline", (json_int_t)t->deadline_ms,
		      "closed", t->closed_ms ? json_integer(t->closed_ms) : json_null(), "reopened",
		      (json_int_t)t->reopened, "changed", (json_int_t)t->changed_ms, "transitions",
		      trs));
	return rc;
}

/* ---- reading a request ---- */

static const char *arg_str(const struct cmdreq *a, const char *key, size_t max)
{
	const json_t *v = a->doc ? json_object_get(a->doc, key) : NULL;
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	return s && strlen(s) <= max ? s : NULL;
}

/* A time field: seconds since the epoch or a timeparse string. 0 (absent), 1 (read), or
 * the refusal. */
static int arg_time(struct router_req *q, struct records *r, const char *key, int64_t *ms)
{
	const struct cmdreq *a = router_req_args(q);
	const json_t *v = a->doc ? json_object_get(a->doc, key) : NULL;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*ms = json_integer_value(v) * 1000;
		return 1;
	}
	if (json_is_string(v) && timeparse(json_string_value(v), r->cfg->site.timezone, ms) == 0)
		return 1;
	return router_req_fail(q, -EINVAL, NULL, "\"%s\" is not a time: %s", key,
			       TIMEPARSE_FORMATS);
}

static int arg_limit(struct router_req *q, size_t *limit)
{
	const struct cmdreq *a = router_req_args(q);
	const json_t *v = a->doc ? json_object_get(a->doc, "limit") : NULL;

	*limit = LIMIT_DEFAULT;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > LIMIT_MAX)
		return router_req_fail(q, -EINVAL, NULL, "\"limit\" is a number from 1 to %d",
				       LIMIT_MAX);
	*limit = (size_t)json_integer_value(v);
	return 0;
}

static bool result_ok(const char *s)
{
	return strcmp(s, "passed") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "missed") == 0 ||
	       strcmp(s, "cancelled") == 0;
}

/* ---- the verbs ---- */

/* cmd/records {"kind","plan","target","result","from","to","reviewed","limit"} */
static int cmd_records(struct router_req *q, void *ud)
{
	struct records *r = ud;
	const struct cmdreq *a = router_req_args(q);
	struct insp_record_filter f = {.kind = -1, .reviewed = -1};
	const char *kind = arg_str(a, "kind", 32);
	const json_t *rev = a->doc ? json_object_get(a->doc, "reviewed") : NULL;
	json_t *out;
	int rc;

	f.plan = arg_str(a, "plan", INSP_NAME_MAX);
	f.target = arg_str(a, "target", INSP_NAME_MAX);
	f.result = arg_str(a, "result", 16);
	if (kind && (f.kind = cfg_insp_kind_parse(kind)) < 0)
		return router_req_fail(q, -EINVAL, NULL,
				       "\"kind\" is video_patrol, staff_patrol, fire_check, "
				       "function_test or duration_test");
	if (f.result && !result_ok(f.result))
		return router_req_fail(q, -EINVAL, NULL,
				       "\"result\" is passed, failed, missed or cancelled");
	if (rev && !json_is_null(rev)) {
		if (!json_is_boolean(rev))
			return router_req_fail(q, -EINVAL, NULL, "\"reviewed\" is true or false");
		f.reviewed = json_is_true(rev);
	}
	if ((rc = arg_time(q, r, "from", &f.from_ms)) < 0 ||
	    (rc = arg_time(q, r, "to", &f.to_ms)) < 0 || (rc = arg_limit(q, &f.limit)) < 0)
		return rc;
	out = json_array();
	rc = insp_store_list_records(r->store, &f, add_record, out);
	if (rc < 0) {
		json_decref(out);
		return router_req_fail(q, rc, NULL, "cannot read the records: %s",
				       insp_store_error(r->store));
	}
	router_req_reply(q, "records", out);
	return 0;
}

struct one {
	bool found;
	int64_t reviewed_ms;
	json_t *json;
	char task[INSP_ID_MAX], plan[INSP_NAME_MAX], target[INSP_NAME_MAX];
	char result[INSP_RESULT_MAX];
	int kind;
};

static int keep_one(const struct insp_record *rec, void *ud)
{
	struct one *o = ud;

	o->found = true;
	o->reviewed_ms = rec->reviewed_ms;
	o->kind = rec->kind;
	g_strlcpy(o->task, rec->task, sizeof(o->task));
	g_strlcpy(o->plan, rec->plan, sizeof(o->plan));
	g_strlcpy(o->target, rec->target, sizeof(o->target));
	g_strlcpy(o->result, rec->result, sizeof(o->result));
	json_decref(o->json);
	o->json = record_json(rec);
	return 0;
}

/* cmd/review {"id": record, "verdict": accepted|rejected, "note", "amend": bool} */
static int cmd_review(struct router_req *q, void *ud)
{
	struct records *r = ud;
	const struct cmdreq *a = router_req_args(q);
	const char *verdict = arg_str(a, "verdict", 16), *note = arg_str(a, "note", 160);
	const json_t *amend = a->doc ? json_object_get(a->doc, "amend") : NULL;
	const char *by = a->user ? a->user : "";
	struct one o = {0};
	bool amended;
	char *end;
	long long id;
	int rc;

	if (!a->id || !*a->id || (id = strtoll(a->id, &end, 10), *end) || id <= 0)
		return router_req_fail(q, -EINVAL, NULL, "cmd/review needs \"id\" (a record's)");
	if (!verdict || (strcmp(verdict, "accepted") != 0 && strcmp(verdict, "rejected") != 0))
		return router_req_fail(q, -EINVAL, NULL,
				       "cmd/review needs \"verdict\": accepted or rejected");
	if (!note && json_is_string(json_object_get(a->doc, "note")))
		return router_req_fail(q, -EMSGSIZE, NULL, "\"note\" is longer than 160 bytes");
	if (amend && !json_is_boolean(amend))
		return router_req_fail(q, -EINVAL, NULL, "\"amend\" is true or false");
	if (!note)
		note = a->reason ? a->reason : "";
	rc = insp_store_get_record(r->store, id, keep_one, &o);
	if (rc == -ENOENT)
		return router_req_fail(q, rc, "unknown_record", "no record %lld", id);
	if (rc < 0)
		return router_req_fail(q, rc, NULL, "cannot read record %lld: %s", id,
				       insp_store_error(r->store));
	if (o.reviewed_ms > 0 && !json_is_true(amend)) {
		json_decref(o.json);
		return router_req_fail(q, -EALREADY, "no_change",
				       "record %lld is already reviewed (\"amend\":true changes "
				       "the review)",
				       id);
	}
	amended = o.reviewed_ms > 0;
	json_decref(o.json);
	o.json = NULL;
	rc = insp_store_review(r->store, id, by, verdict, note, hw_clock_ms());
	if (rc == 0)
		rc = insp_store_get_record(r->store, id, keep_one, &o);
	if (rc < 0) {
		json_decref(o.json);
		return router_req_fail(q, rc, NULL, "cannot review record %lld: %s", id,
				       insp_store_error(r->store));
	}
	if (r->alerts)
		alert_service_log_event(
		    r->alerts, json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
					 "event", "review", "record", (json_int_t)id, "task",
					 o.task, "plan", o.plan, "kind", cfg_insp_kind_name(o.kind),
					 "target", o.target, "result", o.result, "by", by,
					 "verdict", verdict, "note", note, "amend", amended));
	log_info("record %lld reviewed by %s: %s", id, by, verdict);
	router_req_reply(q, "record", o.json);
	router_req_message(q, "record %lld %s", id, verdict);
	return 0;
}

/* cmd/tickets {"state","kind","target","limit"} */
static int cmd_tickets(struct router_req *q, void *ud)
{
	struct records *r = ud;
	const struct cmdreq *a = router_req_args(q);
	struct insp_ticket_filter f = {0};
	struct tickets_ctx c = {.r = r};
	enum ticket_state st;
	int rc;

	f.state = arg_str(a, "state", 32);
	f.kind = arg_str(a, "kind", TICKET_NAME_MAX);
	f.target = arg_str(a, "target", TICKET_NAME_MAX);
	if (f.state && ticket_state_parse(f.state, &st) < 0)
		return router_req_fail(q, -EINVAL, NULL,
				       "\"state\" is open, assigned, repairing, pending_verify, "
				       "closed or reopened");
	if ((rc = arg_limit(q, &f.limit)) < 0)
		return rc;
	c.v = json_array();
	rc = insp_store_list_tickets(r->store, &f, add_ticket, &c);
	if (rc < 0) {
		json_decref(c.v);
		return router_req_fail(q, rc, NULL, "cannot read the tickets: %s",
				       insp_store_error(r->store));
	}
	router_req_reply(q, "tickets", c.v);
	return 0;
}

/* ---- the monthly report ---- */

static int copy_record(const struct insp_record *rec, void *ud)
{
	struct insp_record c = *rec;

	c.json = g_strdup(rec->json);
	c.review_note = g_strdup(rec->review_note);
	g_array_append_val(ud, c);
	return 0;
}

static void free_record(gpointer p)
{
	struct insp_record *rec = p;
	g_free((char *)rec->json);
	g_free((char *)rec->review_note);
}

static int copy_ticket(const struct ticket *t, void *ud)
{
	g_array_append_vals(ud, t, 1);
	return 0;
}

/* What a report needs, copied on the main loop so that it is made on a worker thread while
 * the configuration may be reloaded and the records object replaced. */
struct report_job {
	char *month, *site, *state_dir, *db_path;
	bool zh;
	int64_t now_ms;
	GTimeZone *tz;
	struct report_camera *cams; /* ids copied; the figures filled by report_run */
	size_t n_cams;
	struct insp_store *store; /* NULL: a reader of db_path of its own */
	struct router_req *q;	  /* cmd/report's request */
	char *html, *csv;	  /* the files written */
};

static struct report_job *report_job_new(struct records *r, const char *month, int64_t now_ms)
{
	struct report_job *j = g_new0(struct report_job, 1);

	j->month = g_strdup(month);
	j->site = g_strdup(r->cfg->site.id);
	j->state_dir = g_strdup(r->cfg->storage.state_dir);
	j->db_path = g_strdup(db_path(insp_store_db(r->store)));
	j->zh = r->cfg->site.language == LANG_ZH;
	j->now_ms = now_ms;
	j->tz = g_time_zone_ref(r->tz);
	j->n_cams = r->cfg->n_cameras;
	j->cams = g_new0(struct report_camera, j->n_cams + 1);
	for (size_t i = 0; i < j->n_cams; i++) {
		const struct cfg_camera *c = &r->cfg->cameras[i];
		j->cams[i].id = g_strdup(c->id);
		j->cams[i].retention_days = c->record ? c->retention_days : 0;
	}
	return j;
}

static void report_job_free(gpointer p)
{
	struct report_job *j = p;

	for (size_t i = 0; i < j->n_cams; i++)
		g_free((char *)j->cams[i].id);
	g_free(j->cams);
	g_time_zone_unref(j->tz);
	g_free(j->month);
	g_free(j->site);
	g_free(j->state_dir);
	g_free(j->db_path);
	g_free(j->html);
	g_free(j->csv);
	g_free(j);
}

/* One camera's reading of the alert log in cameras_online. */
struct cam_flips {
	GArray *flips; /* struct report_flip */
	bool off, loss, down;
};

/* The cameras' online shares of [from, until) into j->cams[i].online_share: down while its
 * offline or video_loss alert is raised and not cleared, from the alert event log
 * (docs/inspections.md), read in one pass for all cameras. -1 when the log cannot be read. */
static void cameras_online(struct insp_store *store, struct report_job *j, int64_t from,
			   int64_t until)
{
	static const char sql[] =
	    "SELECT t_ms, json_extract(json, '$.event'), json_extract(json, '$.id') FROM "
	    "alert_event WHERE t_ms < ?1 AND json_extract(json, '$.event') IN ('raised', "
	    "'cleared') ORDER BY seq";
	struct db *db = insp_store_db(store);
	struct cam_flips *cf = g_new0(struct cam_flips, j->n_cams);
	GHashTable *ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	sqlite3_stmt *st;
	int step = SQLITE_ERROR;

	/* "<camera>.offline" -> 2i + 1, "<camera>.video_loss" -> 2i + 2 */
	for (size_t i = 0; i < j->n_cams; i++) {
		cf[i].flips = g_array_new(FALSE, FALSE, sizeof(struct report_flip));
		g_hash_table_insert(ids, g_strdup_printf("%s.offline", j->cams[i].id),
				    GSIZE_TO_POINTER(2 * i + 1));
		g_hash_table_insert(ids, g_strdup_printf("%s.video_loss", j->cams[i].id),
				    GSIZE_TO_POINTER(2 * i + 2));
	}
	db_lock(db);
	if (j->n_cams && db_prepare(db, sql, &st) == 0) {
		sqlite3_bind_int64(st, 1, until);
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			const char *ev = (const char *)sqlite3_column_text(st, 1);
			const char *id = (const char *)sqlite3_column_text(st, 2);
			size_t k = id ? GPOINTER_TO_SIZE(g_hash_table_lookup(ids, id)) : 0;
			struct cam_flips *c;
			bool raised = ev && strcmp(ev, "raised") == 0;

			if (k == 0)
				continue;
			c = &cf[(k - 1) / 2];
			if (k % 2)
				c->off = raised;
			else
				c->loss = raised;
			if ((c->off || c->loss) != c->down) {
				struct report_flip f = {.t_ms = sqlite3_column_int64(st, 0)};
				c->down = f.down = c->off || c->loss;
				g_array_append_val(c->flips, f);
			}
		}
		db_reset(st);
	}
	db_unlock(db);
	for (size_t i = 0; i < j->n_cams; i++) {
		j->cams[i].online_share =
		    step == SQLITE_DONE
			? report_online_share(false,
					      (struct report_flip *)(void *)cf[i].flips->data,
					      cf[i].flips->len, from, until)
			: -1;
		g_array_free(cf[i].flips, TRUE);
	}
	g_hash_table_destroy(ids);
	g_free(cf);
}

static int64_t camera_oldest(struct insp_store *store, const char *cam)
{
	static const char sql[] = "SELECT COALESCE(MIN(start_ms), 0) FROM video_segments WHERE "
				  "camera = ?1";
	struct db *db = insp_store_db(store);
	sqlite3_stmt *st;
	int64_t v = 0;

	db_lock(db);
	if (db_prepare(db, sql, &st) == 0) {
		sqlite3_bind_text(st, 1, cam, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		db_reset(st);
	}
	db_unlock(db);
	return v;
}

/* Makes the report of j: reads the month, writes the files, j->html and j->csv their paths.
 * Any thread: touches only j and its store (its own reader when j->store is NULL). Returns 0,
 * -EINVAL (month not YYYY-MM) or -errno of the store or the files. */
static int report_run(struct report_job *j)
{
	GArray *recs = g_array_new(FALSE, FALSE, sizeof(struct insp_record));
	GArray *tks = g_array_new(FALSE, FALSE, sizeof(struct ticket));
	struct report_in in = {
	    .site = j->site, .month = j->month, .zh = j->zh, .tz = j->tz, .made_ms = j->now_ms};
	struct insp_record_filter f = {.kind = -1, .reviewed = -1, .oldest_first = true};
	struct insp_ticket_filter tf = {.oldest_first = true};
	GString *html = g_string_new(NULL), *csv = g_string_new(NULL);
	struct insp_store *store = j->store;
	char *dir = NULL, *hp = NULL, *cp = NULL;
	GError *err = NULL;
	int rc;

	g_array_set_clear_func(recs, free_record);
	rc = report_month_range(j->month, j->tz, &in.from_ms, &in.to_ms);
	if (rc < 0)
		goto out;
	log_info("report %s: reading the month", j->month);
	if (!store && (rc = insp_store_open_reader(j->db_path, &store)) < 0) {
		log_err("report %s: cannot open %s: %s", j->month, j->db_path, strerror(-rc));
		goto out;
	}
	f.from_ms = tf.from_ms = in.from_ms;
	f.to_ms = tf.to_ms = in.to_ms;
	rc = insp_store_list_records(store, &f, copy_record, recs);
	if (rc == 0)
		rc = insp_store_list_tickets(store, &tf, copy_ticket, tks);
	if (rc < 0) {
		log_err("report %s: cannot read the records: %s", j->month,
			insp_store_error(store));
		goto out;
	}
	cameras_online(store, j, in.from_ms, MIN(in.to_ms, j->now_ms));
	for (size_t i = 0; i < j->n_cams; i++)
		j->cams[i].oldest_ms = camera_oldest(store, j->cams[i].id);
	in.recs = (const struct insp_record *)(void *)recs->data;
	in.n_recs = recs->len;
	in.tickets = (const struct ticket *)(void *)tks->data;
	in.n_tickets = tks->len;
	in.cams = j->cams;
	in.n_cams = j->n_cams;
	rc = report_build(&in, html, csv, NULL);
	if (rc < 0)
		goto out;
	dir = g_build_filename(j->state_dir, "reports", NULL);
	if (g_mkdir_with_parents(dir, 0750) < 0) {
		rc = -errno;
		log_err("report %s: %s: %s", j->month, dir, strerror(-rc));
		goto out;
	}
	hp = g_strdup_printf("%s/report-%s.html", dir, j->month);
	cp = g_strdup_printf("%s/report-%s.csv", dir, j->month);
	if (!g_file_set_contents(hp, html->str, (gssize)html->len, &err) ||
	    !g_file_set_contents(cp, csv->str, (gssize)csv->len, &err)) {
		rc =
		    err->domain == G_FILE_ERROR && err->code == G_FILE_ERROR_NOSPC ? -ENOSPC : -EIO;
		log_err("report %s: %s", j->month, err->message);
		g_error_free(err);
		goto out;
	}
	log_info("report %s: %s, %s (%u records, %u tickets)", j->month, hp, cp, recs->len,
		 tks->len);
	j->html = hp;
	j->csv = cp;
	hp = cp = NULL;
out:
	if (store != j->store)
		insp_store_close(store);
	g_free(hp);
	g_free(cp);
	g_free(dir);
	g_string_free(html, TRUE);
	g_string_free(csv, TRUE);
	g_array_free(recs, TRUE);
	g_array_free(tks, TRUE);
	return rc;
}

int records_report(struct records *r, const char *month, int64_t now_ms, char **html_path,
		   char **csv_path)
{
	struct report_job *j = report_job_new(r, month, now_ms);
	int rc;

	j->store = r->store;
	rc = report_run(j);
	if (rc == 0) {
		*html_path = g_steal_pointer(&j->html);
		*csv_path = g_steal_pointer(&j->csv);
	}
	report_job_free(j);
	return rc;
}

static void report_thread(GTask *task, gpointer src, gpointer data, GCancellable *c)
{
	(void)src;
	(void)c;
	g_task_return_int(task, report_run(data));
}

/* How many reports are being made (main loop); one at a time. */
static int reports_running;

/* Back on the main loop: the reply to cmd/report. */
static void report_done(GObject *src, GAsyncResult *res, gpointer ud)
{
	struct report_job *j = g_task_get_task_data(G_TASK(res));
	struct router_req *q = j->q;
	int rc = (int)g_task_propagate_int(G_TASK(res), NULL);

	(void)src;
	(void)ud;
	reports_running--;
	if (rc == -EINVAL) {
		router_req_fail(q, rc, NULL, "\"month\" is YYYY-MM, not \"%s\"", j->month);
	} else if (rc < 0) {
		router_req_fail(q, rc, NULL, "the report of %s could not be written: %s", j->month,
				strerror(-rc));
	} else {
		router_req_record(q, "path", j->html);
		router_req_record(q, "csv", j->csv);
	}
	router_done(q, rc < 0 ? rc : 0, NULL);
}

/* cmd/report {"month":"YYYY-MM"} -> {"path": html, "csv": csv}. Made on a worker thread with
 * a database connection of its own: a month of records and a long alert log are read
 * without holding up the main loop or the shared connection (a fire alarm goes on). */
static int cmd_report(struct router_req *q, void *ud)
{
	struct records *r = ud;
	const char *month = arg_str(router_req_args(q), "month", 16);
	struct report_job *j;
	GTask *task;

	if (!month)
		return router_req_fail(q, -EINVAL, NULL, "cmd/report needs \"month\" (YYYY-MM)");
	if (reports_running > 0)
		return router_req_fail(q, -EBUSY, NULL,
				       "a report is being made; ask again when it is done");
	j = report_job_new(r, month, hw_clock_ms());
	j->q = q;
	task = g_task_new(NULL, NULL, report_done, NULL);
	g_task_set_task_data(task, j, report_job_free);
	reports_running++;
	g_task_run_in_thread(task, report_thread);
	g_object_unref(task);
	return ROUTER_PENDING;
}

int records_attach_router(struct records *r, struct router *rt)
{
	int rc = router_add(rt, "records", ROUTER_VIEWER, ROUTER_READ_ONLY, cmd_records, r);

	if (rc == 0)
		rc = router_add(rt, "tickets", ROUTER_VIEWER, ROUTER_READ_ONLY, cmd_tickets, r);
	if (rc == 0)
		rc = router_add(rt, "review", ROUTER_INSPECTOR, 0, cmd_review, r);
	if (rc == 0)
		rc = router_add(rt, "report", ROUTER_VIEWER, 0, cmd_report, r);
	return rc;
}

/* Owns the inspectors' verbs (records, review, tickets, report) and the gathering of a
 * month's figures for the report: records and tickets from the inspection store, camera
 * availability from the alert event log, footage kept from the recording index. Times of
 * reviews and of the report are the inspection clock's (core/clock.h). Main loop thread. */
#define LOG_TAG "records"
#include "gateway/records.h"

#include <errno.h>
#include <glib.h>
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

/* The camera's online share of [from, until): down while its offline or video_loss alert
 * is raised and not cleared, from the alert event log (docs/inspections.md). -1 when the
 * log cannot be read. */
static double camera_online(struct records *r, const char *cam, int64_t from, int64_t until)
{
	static const char sql[] =
	    "SELECT t_ms, json_extract(json, '$.event'), json_extract(json, '$.id') FROM "
	    "alert_event WHERE json_extract(json, '$.id') IN (?1, ?2) AND t_ms < ?3 AND "
	    "json_extract(json, '$.event') IN ('raised', 'cleared') ORDER BY seq";
	struct db *db = insp_store_db(r->store);
	GArray *flips = g_array_new(FALSE, FALSE, sizeof(struct report_flip));
	char *off = g_strdup_printf("%s.offline", cam),
	     *loss = g_strdup_printf("%s.video_loss", cam);
	bool a = false, b = false, down = false;
	sqlite3_stmt *st;
	double share = -1;
	int step;

	db_lock(db);
	if (db_prepare(db, sql, &st) == 0) {
		sqlite3_bind_text(st, 1, off, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, loss, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, until);
		while ((step = sqlite3_step(st)) == SQLITE_ROW) {
			const char *ev = (const char *)sqlite3_column_text(st, 1);
			const char *id = (const char *)sqlite3_column_text(st, 2);
			bool raised = ev && strcmp(ev, "raised") == 0;
			struct report_flip f = {.t_ms = sqlite3_column_int64(st, 0)};

			if (id && strcmp(id, off) == 0)
				a = raised;
			else
				b = raised;
			if ((a || b) != down) {
				down = f.down = a || b;
				g_array_append_val(flips, f);
			}
		}
		if (step == SQLITE_DONE)
			share =
			    report_online_share(false, (struct report_flip *)(void *)flips->data,
						flips->len, from, until);
		db_reset(st);
	}
	db_unlock(db);
	g_array_free(flips, TRUE);
	g_free(off);
	g_free(loss);
	return share;
}

static int64_t camera_oldest(struct records *r, const char *cam)
{
	static const char sql[] = "SELECT COALESCE(MIN(start_ms), 0) FROM video_segments WHERE "
				  "camera = ?1";
	struct db *db = insp_store_db(r->store);
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

int records_report(struct records *r, const char *month, int64_t now_ms, char **html_path,
		   char **csv_path)
{
	GArray *recs = g_array_new(FALSE, FALSE, sizeof(struct insp_record));
	GArray *tks = g_array_new(FALSE, FALSE, sizeof(struct ticket));
	struct report_camera *cams = g_new0(struct report_camera, r->cfg->n_cameras + 1);
	struct report_in in = {.site = r->cfg->site.id,
			       .month = month,
			       .zh = r->cfg->site.language == LANG_ZH,
			       .tz = r->tz,
			       .made_ms = now_ms};
	struct insp_record_filter f = {.kind = -1, .reviewed = -1, .oldest_first = true};
	struct insp_ticket_filter tf = {.oldest_first = true};
	GString *html = g_string_new(NULL), *csv = g_string_new(NULL);
	char *dir = NULL, *hp = NULL, *cp = NULL;
	GError *err = NULL;
	int rc;

	g_array_set_clear_func(recs, free_record);
	rc = report_month_range(month, r->tz, &in.from_ms, &in.to_ms);
	if (rc < 0)
		goto out;
	f.from_ms = tf.from_ms = in.from_ms;
	f.to_ms = tf.to_ms = in.to_ms;
	rc = insp_store_list_records(r->store, &f, copy_record, recs);
	if (rc == 0)
		rc = insp_store_list_tickets(r->store, &tf, copy_ticket, tks);
	if (rc < 0) {
		log_err("report %s: cannot read the records: %s", month,
			insp_store_error(r->store));
		goto out;
	}
	for (size_t i = 0; i < r->cfg->n_cameras; i++) {
		const struct cfg_camera *c = &r->cfg->cameras[i];
		cams[i] = (struct report_camera){
		    .id = c->id,
		    .online_share = camera_online(r, c->id, in.from_ms, MIN(in.to_ms, now_ms)),
		    .oldest_ms = camera_oldest(r, c->id),
		    .retention_days = c->record ? c->retention_days : 0};
	}
	in.recs = (const struct insp_record *)(void *)recs->data;
	in.n_recs = recs->len;
	in.tickets = (const struct ticket *)(void *)tks->data;
	in.n_tickets = tks->len;
	in.cams = cams;
	in.n_cams = r->cfg->n_cameras;
	rc = report_build(&in, html, csv, NULL);
	if (rc < 0)
		goto out;
	dir = g_build_filename(r->cfg->storage.state_dir, "reports", NULL);
	if (g_mkdir_with_parents(dir, 0750) < 0) {
		rc = -errno;
		log_err("report %s: %s: %s", month, dir, strerror(-rc));
		goto out;
	}
	hp = g_strdup_printf("%s/report-%s.html", dir, month);
	cp = g_strdup_printf("%s/report-%s.csv", dir, month);
	if (!g_file_set_contents(hp, html->str, (gssize)html->len, &err) ||
	    !g_file_set_contents(cp, csv->str, (gssize)csv->len, &err)) {
		rc = -EIO;
		log_err("report %s: %s", month, err->message);
		g_error_free(err);
		goto out;
	}
	log_info("report %s: %s, %s (%u records, %u tickets)", month, hp, cp, recs->len, tks->len);
	*html_path = hp;
	*csv_path = cp;
	hp = cp = NULL;
out:
	g_free(hp);
	g_free(cp);
	g_free(dir);
	g_string_free(html, TRUE);
	g_string_free(csv, TRUE);
	g_free(cams);
	g_array_free(recs, TRUE);
	g_array_free(tks, TRUE);
	return rc;
}

/* cmd/report {"month":"YYYY-MM"} -> {"path": html, "csv": csv} */
static int cmd_report(struct router_req *q, void *ud)
{
	struct records *r = ud;
	const char *month = arg_str(router_req_args(q), "month", 16);
	char *html = NULL, *csv = NULL;
	int rc;

	if (!month)
		return router_req_fail(q, -EINVAL, NULL, "cmd/report needs \"month\" (YYYY-MM)");
	rc = records_report(r, month, hw_clock_ms(), &html, &csv);
	if (rc == -EINVAL)
		return router_req_fail(q, rc, NULL, "\"month\" is YYYY-MM, not \"%s\"", month);
	if (rc < 0)
		return router_req_fail(q, rc, NULL, "the report of %s could not be written: %s",
				       month, strerror(-rc));
	router_req_record(q, "path", html);
	router_req_record(q, "csv", csv);
	g_free(html);
	g_free(csv);
	return 0;
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

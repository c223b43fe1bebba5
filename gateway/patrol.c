/* Owns the video patrols: the runner of video_patrol tasks, each patrol in flight (its
 * snapshots, clip timers and record), the cameras' previous patrol times
 * (<state_dir>/patrols/last.json) and cmd/patrol. Main loop thread only. */
#define LOG_TAG "patrol"
#include "gateway/patrol.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/timeparse.h"
#include "hub/hub.h"
#include "outputs/outbox.h"
#include "video/recindex.h"
#include "video/video.h"

#define BY "patrol"
#define FIRST_SINCE_MS (3600 * 1000LL) /* a camera's first patrol looks back this far */
#define GAP_TOLERANCE_MS 2000	       /* between two segments, not a gap */
#define GAPS_LISTED 50
/* how often the index is asked again for the clip's closed segment */
#define CLIP_POLL_MS 250
#define SNAP_RETRY_MS 10000

struct run;

/* One camera of a patrol. */
struct cam_job {
	struct run *run;
	size_t ci; /* hub camera and cfg->cameras index */
	const char *id;
	json_t *res;	  /* this camera's record */
	json_t *findings; /* borrowed from res */
	int pending;	  /* snapshot and clip not yet ended */
	guint timer;	  /* the clip's wait */
	guint snap_timer; /* a snapshot asked again while VIDEO_SNAPSHOTS_MAX are in flight */
	int64_t from_ms, to_ms, deadline_ms;
	char *snap_path, *clip_path;
	int64_t first_seg_ms; /* start of the first segment continuity saw, 0: none */
};

/* One patrol (task) in flight; a reference per snapshot or clip in flight and one of the
 * patrol's table. */
struct run {
	int refs;
	struct patrol *p; /* NULL once the patrol is gone: callbacks only let go */
	char task[INSP_ID_MAX], plan[INSP_NAME_MAX], target[INSP_NAME_MAX];
	int priority;
	int64_t t0;  /* the patrol's moment (core/clock.h): the task's, the record's */
	int64_t rt0; /* the same moment in real time: the video layer's (clip, continuity) */
	int64_t clip_before_ms, clip_after_ms;
	char *dir;
	struct cam_job *cams;
	size_t n, left;
};

struct patrol {
	const struct hw_config *cfg;
	struct insp_service *insp;
	struct video *video;
	struct hub *hub;
	struct alert_service *alerts;
	struct mqtt *mqtt;
	GHashTable *runs; /* task id -> struct run * */
	GHashTable *last; /* camera id -> int64_t * (ms of its previous patrol) */
	char *last_path;
};

static const struct cfg_plan *find_plan(const struct patrol *p, const char *id)
{
	for (size_t i = 0; i < p->cfg->inspections.n_plans; i++)
		if (strcmp(p->cfg->inspections.plans[i].id, id) == 0)
			return &p->cfg->inspections.plans[i];
	return NULL;
}

static json_t *ms_or_null(int64_t ms)
{
	return ms > 0 ? json_integer(ms) : json_null();
}

static void run_unref(struct run *r)
{
	if (--r->refs > 0)
		return;
	for (size_t i = 0; i < r->n; i++) {
		json_decref(r->cams[i].res);
		g_free(r->cams[i].snap_path);
		g_free(r->cams[i].clip_path);
	}
	g_free(r->cams);
	g_free(r->dir);
	g_free(r);
}

/* ---- the previous patrol of each camera ---- */

static void last_load(struct patrol *p)
{
	json_t *o = json_load_file(p->last_path, 0, NULL), *v;
	const char *k;

	json_object_foreach(o, k, v)
	{
		if (json_is_integer(v))
			g_hash_table_replace(
			    p->last, g_strdup(k),
			    g_memdup2(&(int64_t){json_integer_value(v)}, sizeof(int64_t)));
	}
	json_decref(o);
}

static void last_save(struct patrol *p)
{
	json_t *o = json_object();
	GHashTableIter it;
	gpointer k, v;
	GError *err = NULL;
	char *txt;

	g_hash_table_iter_init(&it, p->last);
	while (g_hash_table_iter_next(&it, &k, &v))
		json_object_set_new(o, k, json_integer(*(int64_t *)v));
	txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (txt && !g_file_set_contents(p->last_path, txt, -1, &err)) {
		log_warn("%s: %s", p->last_path, err->message);
		g_error_free(err);
	}
	free(txt);
}

/* ---- one camera ---- */

static void finding(struct cam_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finding(struct cam_job *j, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	json_array_append_new(j->findings, json_string(s));
	g_free(s);
}

static const enum hub_cam_cond failing[] = {HUB_CC_OFFLINE, HUB_CC_VIDEO_LOSS,	   HUB_CC_DARK,
					    HUB_CC_COVERED, HUB_CC_DEFOCUS,	   HUB_CC_MOVED,
					    HUB_CC_FROZEN,  HUB_CC_RECORDING_FAULT};

static json_t *health_json(struct cam_job *j, const struct hub_camera *c)
{
	const struct hub_cam_health *h = &c->health;
	json_t *conds = json_object(), *bad = json_array(), *nm = json_array();

	for (int k = 0; k < HUB_CC_N; k++) {
		if (!c->seen)
			json_array_append_new(nm, json_string(hub_cam_cond_name(k)));
		else
			json_object_set_new(conds, hub_cam_cond_name(k),
					    json_boolean(h->cond[k].active));
	}
	if (!c->seen || !h->online)
		json_array_append_new(bad, json_string("offline"));
	for (size_t k = 0; c->seen && k < G_N_ELEMENTS(failing); k++) {
		if (!h->cond[failing[k]].active)
			continue;
		if (failing[k] == HUB_CC_OFFLINE && !h->online)
			continue; /* said once */
		json_array_append_new(bad, json_string(hub_cam_cond_name(failing[k])));
	}
	if (json_array_size(bad)) {
		size_t i;
		json_t *v;
		GString *s = g_string_new("health:");
		json_array_foreach(bad, i, v)
		    g_string_append_printf(s, " %s", json_string_value(v));
		finding(j, "%s", s->str);
		g_string_free(s, TRUE);
	}
	/* the frame rate is measured over a second: none yet right after the camera started */
	if (c->seen && h->frames == 0)
		json_array_append_new(nm, json_string("fps"));
	return json_pack("{s:s, s:b, s:b, s:o, s:f, s:f, s:o, s:o, s:o, s:o}", "verdict",
			 json_array_size(bad) ? "failed" : "ok", "online", c->seen && h->online,
			 "recording", c->seen && h->recording, "fps",
			 c->seen && h->frames > 0 ? json_real(h->fps) : json_null(), "luma",
			 h->luma, "sharpness", h->sharpness, "last_frame",
			 ms_or_null(h->last_frame_ms), "conditions", conds, "failing", bad,
			 "not_measured", nm);
}

/* The gaps in the recordings of camera j since its previous patrol (or, for its first,
 * since its first segment within the last hour). */
static json_t *continuity_json(struct cam_job *j, const struct hub_camera *c)
{
	struct patrol *p = j->run->p;
	int64_t t0 = j->run->rt0, *prev = g_hash_table_lookup(p->last, j->id), since;
	struct rec_segment *segs = NULL;
	struct rec_span *sp = NULL;
	json_t *gaps = json_array(), *o;
	int n, k;
	int64_t gap_ms = 0, ngaps = 0;

	if (prev && *prev < t0) {
		since = *prev;
	} else {
		since = t0 - FIRST_SINCE_MS;
		n = video_recordings(p->video, j->id, since, t0, &segs);
		if (n > 0 && segs[0].start_ms > since)
			since = segs[0].start_ms;
		if (n > 0)
			rec_segments_free(segs, n);
		segs = NULL;
	}
	n = video_recordings(p->video, j->id, since, t0, &segs);
	if (n < 0) {
		finding(j, "continuity: the recording index cannot be read (%s)", strerror(-n));
		return json_pack("{s:o, s:I, s:I, s:s}", "previous", ms_or_null(prev ? *prev : 0),
				 "since", (json_int_t)since, "to", (json_int_t)t0, "error",
				 strerror(-n));
	}
	/* a segment still open while the camera does not record ends with its last frame */
	if (n > 0)
		j->first_seg_ms = segs[0].start_ms;
	k = rec_timeline(segs, n, since, t0,
			 c->seen && c->health.recording ? t0 : MAX(c->health.last_frame_ms, 0),
			 GAP_TOLERANCE_MS, &sp);
	for (int i = 0; i < k; i++) {
		if (sp[i].seg >= 0)
			continue;
		ngaps++;
		gap_ms += sp[i].end_ms - sp[i].start_ms;
		if (json_array_size(gaps) < GAPS_LISTED)
			json_array_append_new(
			    gaps, json_pack("{s:I, s:I, s:f}", "from", (json_int_t)sp[i].start_ms,
					    "to", (json_int_t)sp[i].end_ms, "s",
					    (sp[i].end_ms - sp[i].start_ms) / 1000.0));
	}
	if (ngaps) {
		char a[48], b[48];
		json_t *g0 = json_array_get(gaps, 0);
		finding(j,
			"continuity: %" G_GINT64_FORMAT " gap(s), %.1f s not recorded, the first "
			"from %s to %s",
			ngaps, gap_ms / 1000.0,
			timeparse_format(json_integer_value(json_object_get(g0, "from")),
					 p->cfg->site.timezone, a, sizeof(a)),
			timeparse_format(json_integer_value(json_object_get(g0, "to")),
					 p->cfg->site.timezone, b, sizeof(b)));
	}
	o = json_pack("{s:o, s:I, s:I, s:i, s:o, s:I, s:f, s:b}", "previous",
		      ms_or_null(prev ? *prev : 0), "since", (json_int_t)since, "to",
		      (json_int_t)t0, "segments", n, "gaps", gaps, "gaps_total", (json_int_t)ngaps,
		      "not_recorded_s", gap_ms / 1000.0, "ok", ngaps == 0);
	free(sp);
	rec_segments_free(segs, n);
	return o;
}

static json_t *footage_json(struct cam_job *j, const struct hub_camera *c)
{
	const struct hw_config *cfg = j->run->p->cfg;
	int req = cfg->inspections.retention_required_days;
	int keep = cfg->cameras[j->ci].retention_days;
	int64_t oldest = c->seen ? c->health.oldest_recording_ms : 0;
	/* the camera reports its oldest segment after retention runs: until then, what the
	 * index showed */
	if (j->first_seg_ms > 0 && (oldest <= 0 || j->first_seg_ms < oldest))
		oldest = j->first_seg_ms;
	double kept = oldest > 0 ? (j->run->rt0 - oldest) / 86400000.0 : 0;
	json_t *o;

	if (keep < req)
		finding(j, "footage: retention_days %d is shorter than the %d days required", keep,
			req);
	o = json_pack("{s:o, s:f, s:i, s:i, s:b}", "oldest", ms_or_null(oldest), "kept_days", kept,
		      "required_days", req, "retention_days", keep, "ok", kept >= req);
	if (kept < req && keep >= req)
		json_object_set_new(o, "note",
				    json_string("recorded for less than the required time so far; "
						"old footage is kept long enough"));
	return o;
}

static void cam_done(struct cam_job *j);

static void step_done(struct cam_job *j)
{
	if (--j->pending == 0)
		cam_done(j);
}

static void on_snapshot(int rc, const char *path, void *ud)
{
	struct cam_job *j = ud;
	struct run *r = j->run;

	if (r->p) {
		json_t *s = json_object_get(j->res, "snapshot");
		json_object_set_new(s, "ok", json_boolean(rc == 0));
		if (rc < 0) {
			json_object_set_new(s, "error", json_string(strerror(-rc)));
			finding(j, "key frame: not written (%s)", strerror(-rc));
		}
		(void)path;
		step_done(j);
	}
	run_unref(r);
}

static void on_clip(int rc, const char *path, const char *missing, void *ud)
{
	struct cam_job *j = ud;
	struct run *r = j->run;

	if (r->p) {
		json_t *c = json_object_get(j->res, "clip");
		json_object_set_new(c, "ok", json_boolean(rc == 0));
		json_object_set_new(c, "missing", missing ? json_string(missing) : json_null());
		if (rc < 0) {
			json_object_set_new(c, "error", json_string(strerror(-rc)));
			finding(j, "clip: not cut (%s)", strerror(-rc));
		}
		(void)path;
		step_done(j);
	}
	run_unref(r);
}

/* Whether the recordings hold [from, to) up to its end in a closed segment. */
static bool clip_recorded(struct cam_job *j)
{
	struct rec_segment *segs = NULL;
	int n = video_recordings(j->run->p->video, j->id, j->from_ms, j->to_ms, &segs);
	bool ok = false;

	for (int i = 0; i < n; i++)
		ok |= segs[i].end_ms >= j->to_ms;
	if (n > 0)
		rec_segments_free(segs, n);
	return ok;
}

static gboolean on_clip_timer(gpointer ud)
{
	struct cam_job *j = ud;
	struct run *r = j->run;
	int rc;

	if (!clip_recorded(j) && hw_clock_real_ms() < j->deadline_ms)
		return G_SOURCE_CONTINUE;
	j->timer = 0;
	/* the timer's reference goes to the clip */
	rc = video_clip_async(r->p->video, j->id, j->from_ms, j->to_ms, true, j->clip_path, on_clip,
			      j);
	if (rc < 0) {
		json_t *c = json_object_get(j->res, "clip");
		json_object_set_new(c, "ok", json_false());
		json_object_set_new(c, "error", json_string(strerror(-rc)));
		finding(j, "clip: not cut (%s)", strerror(-rc));
		step_done(j);
		run_unref(r);
	}
	return G_SOURCE_REMOVE;
}

static gboolean on_clip_first(gpointer ud)
{
	struct cam_job *j = ud;

	if (on_clip_timer(ud) == G_SOURCE_CONTINUE)
		j->timer = g_timeout_add(CLIP_POLL_MS, on_clip_timer, j);
	return G_SOURCE_REMOVE;
}

static gboolean on_snap_retry(gpointer ud);

/* Asks for the key frame; more cameras than VIDEO_SNAPSHOTS_MAX ask again every 200 ms for
 * up to SNAP_RETRY_MS. Holds the snapshot's reference until on_snapshot or a failure. */
static void snap_try(struct cam_job *j)
{
	struct run *r = j->run;
	int rc = video_snapshot_async(r->p->video, j->id, j->snap_path, on_snapshot, j);
	json_t *s;

	if (rc == 0)
		return;
	if (rc == -EBUSY && hw_clock_real_ms() - r->rt0 < SNAP_RETRY_MS) {
		j->snap_timer = g_timeout_add(200, on_snap_retry, j);
		return;
	}
	s = json_object_get(j->res, "snapshot");
	json_object_set_new(s, "ok", json_false());
	json_object_set_new(s, "error",
			    json_string(rc == -EAGAIN ? "no picture yet" : strerror(-rc)));
	finding(j, "key frame: %s", rc == -EAGAIN ? "no picture yet" : strerror(-rc));
	step_done(j);
	run_unref(r);
}

static gboolean on_snap_retry(gpointer ud)
{
	struct cam_job *j = ud;

	j->snap_timer = 0;
	snap_try(j);
	return G_SOURCE_REMOVE;
}

static void cam_begin(struct cam_job *j)
{
	struct run *r = j->run;
	struct patrol *p = r->p;
	const struct hub_camera *c = hub_camera_at(p->hub, j->ci);
	const struct cfg_camera *cc = &p->cfg->cameras[j->ci];
	int64_t now = hw_clock_real_ms();

	j->res = json_pack("{s:s, s:s}", "camera", j->id, "name", cc->name ? cc->name : j->id);
	j->findings = json_array();
	json_object_set_new(j->res, "health", health_json(j, c));
	j->snap_path = g_strdup_printf("%s/%s.jpg", r->dir, j->id);
	j->clip_path = g_strdup_printf("%s/%s.mp4", r->dir, j->id);
	j->from_ms = r->rt0 - r->clip_before_ms;
	j->to_ms = r->rt0 + r->clip_after_ms;
	/* a recording camera closes the segment holding to_ms within segment_s; else what exists
	 * is cut once to_ms has passed */
	j->deadline_ms =
	    j->to_ms + (c->seen && c->health.recording ? (int64_t)cc->segment_s * 1000 + 10000 : 0);
	json_object_set_new(j->res, "snapshot",
			    json_pack("{s:s, s:I}", "path", j->snap_path, "t", (json_int_t)now));
	json_object_set_new(j->res, "clip",
			    json_pack("{s:s, s:I, s:I}", "path", j->clip_path, "from",
				      (json_int_t)j->from_ms, "to", (json_int_t)j->to_ms));
	json_object_set_new(j->res, "continuity", continuity_json(j, c));
	json_object_set_new(j->res, "footage", footage_json(j, c));
	json_object_set_new(j->res, "findings", json_incref(j->findings));
	json_decref(j->findings); /* res holds it */

	j->pending = 2;
	r->refs++; /* the snapshot's */
	snap_try(j);
	r->refs++; /* the clip's */
	j->timer = g_timeout_add((guint)MAX(j->to_ms - now, 0) + 200, on_clip_first, j);
}

/* ---- the patrol ---- */

static void publish_last(struct patrol *p, const char *plan, json_t *rec)
{
	char topic[INSP_NAME_MAX + 16];
	char *txt = json_dumps(rec, JSON_COMPACT);
	int rc;

	if (!txt || !p->mqtt) {
		free(txt);
		return;
	}
	snprintf(topic, sizeof(topic), "patrol/%s/last", plan);
	rc = mqtt_enqueue(p->mqtt, OUTBOX_STATE, topic, txt, strlen(txt), true, 0);
	if (rc == -ENOTSUP)
		rc = mqtt_publish(p->mqtt, topic, txt, strlen(txt), true);
	if (rc < 0 && rc != -ENOTCONN)
		log_debug("%s: %s", topic, strerror(-rc));
	free(txt);
}

/* A camera that failed: its alert raised and a ticket, unless one is open already. One that
 * passed: its alert cleared and its open ticket re-checked and closed by the patrol. */
static void follow_up(struct run *r, struct cam_job *j, bool passed)
{
	struct patrol *p = r->p;
	struct ticket tk;
	char text[128], note[INSP_ID_MAX + 64];
	int rc;

	if (!passed) {
		const char *f = json_string_value(json_array_get(j->findings, 0));
		snprintf(text, sizeof(text), "camera %s failed its patrol: %s", j->id, f ? f : "");
	} else {
		snprintf(text, sizeof(text), "camera %s passed its patrol", j->id);
	}
	if (p->alerts)
		alert_service_on_condition(p->alerts, "patrol", j->id, "failed", r->priority, text,
					   !passed);
	if (!passed) {
		char id[TICKET_ID_MAX] = "";
		if (insp_service_open_ticket_of(p->insp, "camera", j->id, &tk)) {
			json_object_set_new(j->res, "ticket", json_string(tk.id));
			return;
		}
		rc = insp_service_open_ticket(p->insp, "camera", j->id, r->task, text, BY, id);
		if (rc < 0)
			log_err("camera %s: cannot open its ticket: %s", j->id, strerror(-rc));
		else
			json_object_set_new(j->res, "ticket", json_string(id));
		return;
	}
	if (!insp_service_open_ticket_of(p->insp, "camera", j->id, &tk))
		return;
	/* the re-check: the ticket goes its way to CLOSED, each step by the patrol */
	snprintf(note, sizeof(note), "re-check by patrol %s: the camera passes", r->task);
	rc = 0;
	if (tk.state == TK_OPEN || tk.state == TK_ASSIGNED || tk.state == TK_REOPENED)
		rc = insp_service_ticket(p->insp, tk.id, TA_START, BY, note, NULL, TR_NONE);
	if (rc == 0 && tk.state != TK_PENDING_VERIFY)
		rc = insp_service_ticket(p->insp, tk.id, TA_REPAIRED, BY, note, NULL, TR_NONE);
	if (rc == 0)
		rc = insp_service_ticket(p->insp, tk.id, TA_VERIFY, BY, note, NULL, TR_PASS);
	if (rc < 0)
		log_warn("ticket %s: the passing re-check not applied: %s", tk.id, strerror(-rc));
	else
		json_object_set_new(j->res, "ticket_closed", json_string(tk.id));
}

static void run_finish(struct run *r)
{
	struct patrol *p = r->p;
	json_t *cams = json_array(), *rec;
	size_t npass = 0;
	bool passed;
	char note[INSP_TEXT_MAX];
	char *txt;
	int rc;

	for (size_t i = 0; i < r->n; i++) {
		bool ok = json_array_size(r->cams[i].findings) == 0;
		json_object_set_new(r->cams[i].res, "passed", json_boolean(ok));
		npass += ok;
	}
	passed = r->n > 0 && npass == r->n;
	/* tickets before the record, which names them */
	for (size_t i = 0; i < r->n; i++) {
		follow_up(r, &r->cams[i], json_is_true(json_object_get(r->cams[i].res, "passed")));
		json_array_append(cams, r->cams[i].res);
		g_hash_table_replace(p->last, g_strdup(r->cams[i].id),
				     g_memdup2(&r->rt0, sizeof(r->rt0)));
	}
	if (r->n == 0)
		snprintf(note, sizeof(note), "no camera on the route \"%s\"", r->target);
	else
		snprintf(note, sizeof(note), "%zu of %zu camera(s) passed", npass, r->n);
	rec =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:s, s:o}", "site", p->cfg->site.id,
		      "task", r->task, "plan", r->plan, "target", r->target, "result",
		      passed ? "passed" : "failed", "started", (json_int_t)r->t0, "finished",
		      (json_int_t)hw_clock_ms(), "passed", passed, "note", note, "cameras", cams);
	txt = json_dumps(rec, JSON_COMPACT);
	rc = insp_service_complete(p->insp, r->task, passed, BY, note, txt);
	if (rc < 0)
		log_warn("patrol %s: not completed: %s", r->task, strerror(-rc));
	else
		log_info("patrol %s %s: %s", r->task, passed ? "passed" : "failed", note);
	free(txt);
	publish_last(p, r->plan, rec);
	json_decref(rec);
	last_save(p);
	g_hash_table_remove(p->runs, r->task); /* drops the table's reference */
}

static void cam_done(struct cam_job *j)
{
	struct run *r = j->run;

	if (--r->left == 0)
		run_finish(r);
}

/* The cameras of a target: the camera it names, or every camera when it names the plan
 * itself or "all" (the hall's route). -ENOENT for anything else. */
static int route(const struct patrol *p, const char *plan, const char *target, size_t *idx,
		 size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < p->cfg->n_cameras; i++)
		if (strcmp(p->cfg->cameras[i].id, target) == 0) {
			idx[(*n)++] = i;
			return 0;
		}
	if (strcmp(target, plan) != 0 && strcmp(target, "all") != 0)
		return -ENOENT;
	for (size_t i = 0; i < p->cfg->n_cameras; i++)
		idx[(*n)++] = i;
	return 0;
}

static void run_begin(struct patrol *p, const struct insp_task *t)
{
	const struct cfg_plan *pl = find_plan(p, t->plan);
	struct run *r = g_new0(struct run, 1);
	size_t *idx = g_new0(size_t, p->cfg->n_cameras + 1), n;
	char *safe = g_strdup(t->id);
	int rc;

	g_strdelimit(safe, "/", '_');
	r->refs = 1;
	r->p = p;
	g_strlcpy(r->task, t->id, sizeof(r->task));
	g_strlcpy(r->plan, t->plan, sizeof(r->plan));
	g_strlcpy(r->target, t->target, sizeof(r->target));
	r->priority = pl ? pl->priority : 4;
	r->rt0 = hw_clock_real_ms();
	r->t0 = hw_clock_from_real(r->rt0); /* one reading: equal in production */
	r->clip_before_ms = (pl ? pl->clip_before_s : CFG_CLIP_BEFORE_S) * 1000LL;
	r->clip_after_ms = (pl ? pl->clip_after_s : CFG_CLIP_AFTER_S) * 1000LL;
	r->dir = g_build_filename(p->cfg->storage.state_dir, "patrols", safe, NULL);
	g_free(safe);
	rc = route(p, t->plan, t->target, idx, &n);
	if (rc == 0 && g_mkdir_with_parents(r->dir, 0750) < 0) {
		log_err("%s: %s", r->dir, strerror(errno));
		n = 0;
	}
	r->n = r->left = n;
	video_report_all(p->video); /* fps, last frame: figures that move without a change */
	r->cams = g_new0(struct cam_job, n ? n : 1);
	g_hash_table_replace(p->runs, g_strdup(r->task), r);
	log_info("patrol %s: %zu camera(s)", r->task, n);
	for (size_t i = 0; i < n; i++) {
		r->cams[i].run = r;
		r->cams[i].ci = idx[i];
		r->cams[i].id = p->cfg->cameras[idx[i]].id;
	}
	g_free(idx);
	if (n == 0) {
		run_finish(r);
		return;
	}
	for (size_t i = 0; i < n; i++)
		cam_begin(&r->cams[i]);
}

static void on_offer(struct insp_service *s, const struct insp_task *t, void *ud)
{
	struct patrol *p = ud;
	size_t *idx, n = 0;
	int rc;

	if (t->kind != INSP_VIDEO_PATROL || g_hash_table_contains(p->runs, t->id))
		return;
	/* a route of no configured camera is not the runner's: a person does it (cmd/task), or
	 * it goes overdue and missed with their alerts */
	idx = g_new0(size_t, p->cfg->n_cameras + 1);
	rc = route(p, t->plan, t->target, idx, &n);
	g_free(idx);
	if (rc < 0 || n == 0)
		return;
	rc = insp_service_start(s, t->id, BY);
	if (rc < 0) {
		log_debug("patrol %s: not started: %s", t->id, strerror(-rc));
		return;
	}
	t = insp_service_task(s, t->id);
	if (t)
		run_begin(p, t);
}

/* Completes a patrol that will not finish as FAILED, interrupted, with what it knew. */
static void interrupted(struct patrol *p, const char *task, const char *plan, const char *target,
			int64_t started_ms, const char *why)
{
	char *note = g_strdup_printf("interrupted: %s", why);
	json_t *rec;
	char *txt;
	int rc;

	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:b, s:b, s:s, s:[]}", "site",
			p->cfg->site.id, "task", task, "plan", plan, "target", target, "result",
			"failed", "started", ms_or_null(started_ms), "finished",
			(json_int_t)hw_clock_ms(), "passed", 0, "interrupted", 1, "note", note,
			"cameras");
	txt = json_dumps(rec, JSON_COMPACT);
	rc = insp_service_complete(p->insp, task, false, BY, note, txt);
	if (rc < 0)
		log_warn("patrol %s: not recorded as interrupted: %s", task, strerror(-rc));
	else
		log_warn("patrol %s %s", task, note);
	publish_last(p, plan, rec);
	free(txt);
	json_decref(rec);
	g_free(note);
}

/* ---- cmd/patrol ---- */

static const char *doc_str(const struct cmdreq *r, const char *key, size_t max)
{
	const json_t *v = r->doc ? json_object_get(r->doc, key) : NULL;
	const char *str = json_is_string(v) ? json_string_value(v) : NULL;

	return str && strlen(str) <= max ? str : NULL;
}

/* cmd/patrol {"plan": PLAN (default: the first video_patrol plan), "target": TARGET
 * (default: every target of the plan)}: a surprise inspection now. Replies at once with the
 * task(s) started; the record follows on patrol/<plan>/last and inspection/<plan>. */
static int cmd_patrol(struct router_req *q, void *ud)
{
	struct patrol *p = ud;
	const struct cmdreq *r = router_req_args(q);
	const char *plan = doc_str(r, "plan", INSP_NAME_MAX - 1);
	const char *target = doc_str(r, "target", INSP_NAME_MAX - 1);
	const char *by = r->user ? r->user : "";
	const struct cfg_plan *pl = NULL;
	json_t *tasks;
	char id[INSP_ID_MAX];
	int rc = 0;

	if (!target && r->camera)
		target = r->camera;
	if (plan) {
		pl = find_plan(p, plan);
	} else {
		for (size_t i = 0; !pl && i < p->cfg->inspections.n_plans; i++)
			if (p->cfg->inspections.plans[i].kind == INSP_VIDEO_PATROL)
				pl = &p->cfg->inspections.plans[i];
	}
	if (!pl || pl->kind != INSP_VIDEO_PATROL)
		return router_req_fail(q, -ENOENT, "unknown_plan", "no video_patrol plan%s%s%s",
				       plan ? " \"" : "", plan ? plan : "", plan ? "\"" : "");
	tasks = json_array();
	for (size_t k = 0; k < pl->n_targets && rc == 0; k++) {
		if (target && strcmp(target, pl->targets[k]) != 0)
			continue;
		rc = insp_service_run_now(p->insp, pl->id, pl->targets[k], by, id);
		if (rc == 0) {
			if (json_array_size(tasks) == 0)
				router_req_record(q, "task", id);
			json_array_append_new(tasks, json_string(id));
		}
	}
	if (rc == 0 && json_array_size(tasks) == 0) {
		json_decref(tasks);
		return router_req_fail(q, -ENOENT, "unknown_target",
				       "plan \"%s\" has no target \"%s\"", pl->id, target);
	}
	if (rc < 0) {
		json_decref(tasks);
		return rc;
	}
	router_req_record(q, "plan", pl->id);
	router_req_reply(q, "tasks", tasks);
	router_req_message(q, "patrol started; its record follows on patrol/%s/last", pl->id);
	return 0;
}

int patrol_attach_router(struct patrol *p, struct router *r)
{
	return router_add(r, "patrol", ROUTER_OPERATOR, 0, cmd_patrol, p);
}

/* ---- lifecycle ---- */

int patrol_create(const struct hw_config *cfg, struct insp_service *insp, struct video *v,
		  struct hub *hub, struct alert_service *alerts, struct mqtt *m,
		  struct patrol **out)
{
	struct patrol *p = g_new0(struct patrol, 1);
	char *dir = g_build_filename(cfg->storage.state_dir, "patrols", NULL);
	const struct insp_task **ts;
	size_t n, total;
	char **ids;

	p->cfg = cfg;
	p->insp = insp;
	p->video = v;
	p->hub = hub;
	p->alerts = alerts;
	p->mqtt = m;
	p->runs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					(GDestroyNotify)(void (*)(void *))run_unref);
	p->last = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if (g_mkdir_with_parents(dir, 0750) < 0)
		log_warn("%s: %s", dir, strerror(errno));
	p->last_path = g_build_filename(dir, "last.json", NULL);
	g_free(dir);
	last_load(p);

	/* A patrol of a previous run left IN_PROGRESS was interrupted: recorded so, once. */
	total = insp_service_list(insp, NULL, 0);
	ts = g_new0(const struct insp_task *, total + 1);
	n = MIN(insp_service_list(insp, ts, total), total);
	ids = g_new0(char *, n + 1);
	for (size_t i = 0, k = 0; i < n; i++)
		if (ts[i]->kind == INSP_VIDEO_PATROL &&
		    (ts[i]->state == IS_IN_PROGRESS || ts[i]->state == IS_DUE ||
		     ts[i]->state == IS_OVERDUE))
			ids[k++] = g_strdup(ts[i]->id);
	g_free(ts);
	insp_service_set_runner(insp, INSP_VIDEO_PATROL, on_offer, p);
	for (size_t i = 0; ids[i]; i++) {
		const struct insp_task *t = insp_service_task(insp, ids[i]);
		char a[48];
		if (!t)
			continue;
		if (t->state == IS_IN_PROGRESS) {
			char why[INSP_TEXT_MAX];
			snprintf(
			    why, sizeof(why),
			    "the gateway stopped during the patrol (started %s); not run again",
			    timeparse_format(t->started_ms, cfg->site.timezone, a, sizeof(a)));
			char task[INSP_ID_MAX], plan[INSP_NAME_MAX], target[INSP_NAME_MAX];
			int64_t st = t->started_ms;
			g_strlcpy(task, t->id, sizeof(task));
			g_strlcpy(plan, t->plan, sizeof(plan));
			g_strlcpy(target, t->target, sizeof(target));
			interrupted(p, task, plan, target, st, why);
		} else {
			on_offer(insp, t, p); /* due before the runner was there */
		}
	}
	g_strfreev(ids);
	*out = p;
	return 0;
}

void patrol_destroy(struct patrol *p)
{
	GHashTableIter it;
	gpointer v;
	GPtrArray *rs;

	if (!p)
		return;
	insp_service_set_runner(p->insp, INSP_VIDEO_PATROL, NULL, NULL);
	rs = g_ptr_array_new();
	g_hash_table_iter_init(&it, p->runs);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(rs, v);
	for (guint i = 0; i < rs->len; i++) {
		struct run *r = rs->pdata[i];
		r->refs++;
		interrupted(p, r->task, r->plan, r->target, r->t0,
			    "the gateway stopped or reloaded during the patrol");
		for (size_t k = 0; k < r->n; k++) {
			if (r->cams[k].timer) {
				g_source_remove(r->cams[k].timer);
				r->cams[k].timer = 0;
				r->refs--; /* the timer's */
			}
			if (r->cams[k].snap_timer) {
				g_source_remove(r->cams[k].snap_timer);
				r->cams[k].snap_timer = 0;
				r->refs--; /* the snapshot's */
			}
		}
		r->p = NULL; /* snapshots and clips in flight only let go */
		run_unref(r);
	}
	g_ptr_array_free(rs, TRUE);
	g_hash_table_destroy(p->runs);
	g_hash_table_destroy(p->last);
	g_free(p->last_path);
	g_free(p);
}

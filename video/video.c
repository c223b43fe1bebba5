/* The video manager: the cameras of the configuration, the segment index, what the cameras
 * report into the hub (figures, conditions, snapshots, event clips), snapshots and clips.
 * It publishes nothing itself: the hub's listeners do. Main loop thread, except the
 * *_offline/_direct functions, which run on the caller's thread, and the snapshot and clip
 * workers: one thread per snapshot (snap_worker) and per clip (job_thread) does the
 * blocking work on what it was handed and gives the result back to the loop through an
 * idle source. */
#define LOG_TAG "video"
#include "video/video.h"

#include <errno.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hub/hub.h"
#include "core/log.h"
#include "core/timeparse.h"
#include "video/camera.h"
#include "video/clip.h"
#include "video/recindex.h"

struct video {
	const struct hw_config *cfg;
	GMainContext *ctx;
	struct hub *hub; /* where the cameras report; cams[i] is its camera i */
	struct recindex *ix;
	struct camera **cams;
	size_t n;
	/* event clips */
	GList *jobs;		 /* struct clip_job, pending or being cut */
	GHashTable *point_on;	 /* "dev:point" -> GINT_TO_POINTER(1) while on */
	GHashTable *event_clips; /* "dev:point" -> char ** of the last clips scheduled */
	/* snapshots */
	struct snap_ctl *snap;
	GList *snaps;	       /* struct snap_job whose done is still to be called */
	bool snap_failing;     /* logged a failed snapshot; the next success says so */
	int64_t snap_named_ms; /* the time in the last snapshot or clip file's name: one per ms */
	bool stopping;
};

/* What the loop shares with the snapshot workers; outlives the manager while a worker runs. */
struct snap_ctl {
	gint refs;
	GMutex lock;
	GCond cond;
	int running; /* workers not ended yet, under lock */
};

/* One snapshot: a worker encodes the still; the loop waits for its result or the timeout,
 * whichever comes first, and calls done once. Two references: the loop's (until done) and
 * the worker's; a third while the result's idle source is attached. */
struct snap_job {
	gint refs;
	struct snap_ctl *ctl;
	struct video *v; /* under ctl->lock; NULL once done was called (the worker cleans up) */
	GMainContext *ctx;
	size_t cam;
	char *path;
	struct cam_still *still;
	video_done_fn done;
	void *ud;
	int64_t t0_us;
	GSource *timer; /* loop only */
	GSource *idle;	/* under ctl->lock: the result on its way to the loop */
	int rc;		/* the worker's result, under ctl->lock */
};

static struct snap_ctl *snap_ctl_new(void);
static void snap_stop(struct video *v);

/* One clip around a device event: waits on a timer for the recordings to cover the range,
 * then is cut on a thread of its own (clip_cut blocks) that hands back through an idle
 * source on the loop. Or one clip on demand (video_clip_async: done set, no point), cut at
 * once. */
struct clip_job {
	struct video *v;
	size_t cam;
	char *cam_id, *point, *path;
	int64_t t_ms, from_ms, to_ms, deadline_ms;
	bool partial;  /* write what exists of the range (event clips; on demand if asked) */
	char *missing; /* what of the range is not recorded (clip_cover_text), or NULL */
	video_clip_done_fn cb;
	void *ud;
	video_clip_reply_fn done;
	void *done_ud;
	GSource *timer;
	GThread *thread;
	GSource *idle; /* set by the thread before it ends */
	struct rec_segment *segs;
	int nsegs;
	int rc;
};

static int64_t wall_ms(void)
{
	return g_get_real_time() / 1000;
}

/* ---- reporting into the hub ---- */

/* The camera's conditions as the hub names them. */
static const enum hub_cam_cond cond_of[CC_N] = {
    [CC_OFFLINE] = HUB_CC_OFFLINE,   [CC_VIDEO_LOSS] = HUB_CC_VIDEO_LOSS,
    [CC_DARK] = HUB_CC_DARK,	     [CC_COVERED] = HUB_CC_COVERED,
    [CC_DEFOCUS] = HUB_CC_DEFOCUS,   [CC_MOVED] = HUB_CC_MOVED,
    [CC_FROZEN] = HUB_CC_FROZEN,     [CC_RECORDING_FAULT] = HUB_CC_RECORDING_FAULT,
    [CC_DISK_LOW] = HUB_CC_DISK_LOW, [CC_RETENTION_SHORT] = HUB_CC_RETENTION_SHORT,
};
_Static_assert((int)CC_N == (int)HUB_CC_N, "every camera condition is a hub condition");

/* Camera i's current figures into the hub, which tells its listeners if a condition,
 * online, recording or the resolution changed. */
static void report(struct video *v, size_t i)
{
	const struct camera_health *h = camera_health(v->cams[i]);
	struct hub_cam_health o = {
	    .online = h->online,
	    .recording = h->recording,
	    .fps = h->fps,
	    .bitrate_kbps = h->bitrate_kbps,
	    .width = h->width,
	    .height = h->height,
	    .reconnects = h->reconnects,
	    .frames = h->frames,
	    .analysed = h->analysed,
	    .segments = h->segments,
	    .last_frame_ms = h->last_frame_ms,
	    .oldest_recording_ms = h->oldest_recording_ms,
	    .recorded_bytes = h->recorded_bytes,
	    .luma = h->luma,
	    .contrast = h->contrast,
	    .sharpness = h->sharpness,
	    .motion = h->motion,
	};

	if (h->codec)
		g_strlcpy(o.codec, h->codec, sizeof(o.codec));
	for (int j = 0; j < CC_N; j++)
		o.cond[cond_of[j]] =
		    (struct hub_cam_condition){h->cond[j].active, h->cond[j].since_ms};
	hub_camera_report(v->hub, i, &o);
}

static void on_changed(struct camera *c, unsigned mask, void *ud)
{
	struct video *v = ud;
	size_t i;

	(void)mask; /* the hub sees what changed */
	for (i = 0; i < v->n && v->cams[i] != c; i++)
		;
	if (i < v->n)
		report(v, i);
}

void video_report_all(struct video *v)
{
	for (size_t i = 0; v && i < v->n; i++)
		report(v, i);
}

/* A snapshot of camera i was just written. */
static void snapshot_taken(struct video *v, size_t i)
{
	report(v, i);
	hub_camera_snapshot(v->hub, i, wall_ms());
}

static char *db_path(const struct hw_config *cfg)
{
	return g_build_filename(cfg->storage.state_dir, "hallwatch.db", NULL);
}

int video_create(const struct hw_config *cfg, GMainContext *ctx, struct hub *hub,
		 struct video **out)
{
	struct video *v;
	char *db;
	int rc;

	*out = NULL;
	v = g_new0(struct video, 1);
	v->cfg = cfg;
	v->ctx = ctx;
	v->hub = hub;
	v->snap = snap_ctl_new();
	v->point_on = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	v->event_clips =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_strfreev);
	if (cfg->n_cameras == 0) {
		*out = v;
		return 0;
	}
	if (!gst_is_initialized())
		gst_init(NULL, NULL);
	if (g_mkdir_with_parents(cfg->storage.state_dir, 0750) < 0) {
		rc = -errno;
		log_err("cannot create %s: %s", cfg->storage.state_dir, strerror(-rc));
		goto fail;
	}
	db = db_path(cfg);
	rc = recindex_open(db, &v->ix);
	g_free(db);
	if (rc < 0)
		goto fail;
	v->cams = g_new0(struct camera *, cfg->n_cameras);
	for (size_t i = 0; i < cfg->n_cameras; i++) {
		char *dir =
		    g_build_filename(cfg->storage.state_dir, "video", cfg->cameras[i].id, NULL);

		rc = camera_create(&cfg->cameras[i], dir, v->ix, ctx, on_changed, v, &v->cams[i]);
		g_free(dir);
		if (rc < 0)
			goto fail;
		v->n++;
		report(v, i); /* the hub holds every camera from the start */
	}
	log_info("%zu camera(s) started", v->n);
	*out = v;
	return 0;
fail:
	video_destroy(v);
	return rc;
}

static void job_free(struct clip_job *j)
{
	if (j->timer) {
		g_source_destroy(j->timer);
		g_source_unref(j->timer);
	}
	if (j->thread)
		g_thread_join(j->thread);
	if (j->idle) {
		g_source_destroy(j->idle);
		g_source_unref(j->idle);
	}
	rec_segments_free(j->segs, j->nsegs);
	g_free(j->cam_id);
	g_free(j->point);
	g_free(j->path);
	g_free(j->missing);
	g_free(j);
}

void video_destroy(struct video *v)
{
	if (!v)
		return;
	snap_stop(v);
	/* Clips being cut are finished (bounded by clip_cut's own timeouts); pending ones are
	 * dropped, logged. */
	for (GList *l = v->jobs; l; l = l->next) {
		struct clip_job *j = l->data;

		if (j->timer)
			log_warn("clip %s dropped: stopping before its range was recorded",
				 j->path);
		if (j->done) { /* its thread runs from the start: its result counts */
			g_thread_join(j->thread);
			j->thread = NULL;
			j->done(j->rc, j->path, j->missing, j->done_ud);
		}
		job_free(j);
	}
	g_list_free(v->jobs);
	if (v->point_on)
		g_hash_table_destroy(v->point_on);
	if (v->event_clips)
		g_hash_table_destroy(v->event_clips);
	for (size_t i = 0; i < v->n; i++)
		camera_destroy(v->cams[i]);
	g_free(v->cams);
	recindex_close(v->ix);
	g_free(v);
}

static ssize_t find(struct video *v, const char *id);

/* Ends the clip jobs of a camera that stops, as video_destroy does. */
static void drop_jobs_of(struct video *v, size_t cam)
{
	GList *l = v->jobs;

	while (l) {
		GList *next = l->next;
		struct clip_job *j = l->data;

		if (j->cam == cam) {
			if (j->timer)
				log_warn("clip %s dropped: its camera stopped before its range was "
					 "recorded",
					 j->path);
			if (j->done) {
				g_thread_join(j->thread);
				j->thread = NULL;
				j->done(j->rc, j->path, j->missing, j->done_ud);
			}
			v->jobs = g_list_delete_link(v->jobs, l);
			job_free(j);
		}
		l = next;
	}
}

int video_reconfigure(struct video *v, const struct hw_config *cfg, struct hub *hub,
		      const bool *keep)
{
	struct camera **nc = g_new0(struct camera *, cfg->n_cameras ? cfg->n_cameras : 1);
	size_t *map = g_new(size_t, v->n ? v->n : 1); /* old index -> new, or SIZE_MAX */
	size_t started = 0;
	int rc = 0;

	for (size_t i = 0; i < v->n; i++) {
		const char *id = camera_cfg(v->cams[i])->id;
		map[i] = SIZE_MAX;
		for (size_t k = 0; k < cfg->n_cameras; k++)
			if (strcmp(cfg->cameras[k].id, id) == 0)
				map[i] = k;
	}
	/* What stops goes first: a camera that restarts records into the same folder. */
	for (size_t i = 0; i < v->n; i++) {
		if (map[i] != SIZE_MAX && keep[map[i]]) {
			nc[map[i]] = v->cams[i];
			continue;
		}
		if (map[i] == SIZE_MAX)
			drop_jobs_of(v, i);
		camera_destroy(v->cams[i]);
		v->cams[i] = NULL;
	}
	for (GList *l = v->jobs; l; l = l->next) {
		struct clip_job *j = l->data;
		j->cam = map[j->cam];
	}
	for (GList *l = v->snaps; l; l = l->next) {
		struct snap_job *j = l->data;
		j->cam = j->cam < v->n ? map[j->cam] : SIZE_MAX;
	}
	g_free(v->cams);
	g_free(map);
	v->cams = nc;
	v->n = cfg->n_cameras;
	v->cfg = cfg;
	v->hub = hub;
	if (cfg->n_cameras && !v->ix) {
		char *db;

		if (!gst_is_initialized())
			gst_init(NULL, NULL);
		if (g_mkdir_with_parents(cfg->storage.state_dir, 0750) < 0) {
			rc = -errno;
			log_err("cannot create %s: %s", cfg->storage.state_dir, strerror(-rc));
			return rc;
		}
		db = db_path(cfg);
		rc = recindex_open(db, &v->ix);
		g_free(db);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < cfg->n_cameras; i++) {
		char *dir;
		int r;

		if (v->cams[i])
			continue;
		dir = g_build_filename(cfg->storage.state_dir, "video", cfg->cameras[i].id, NULL);
		r = camera_create(&cfg->cameras[i], dir, v->ix, v->ctx, on_changed, v, &v->cams[i]);
		g_free(dir);
		if (r < 0) {
			log_err("camera %s: cannot start: %s", cfg->cameras[i].id, strerror(-r));
			rc = r;
			continue;
		}
		started++;
	}
	/* Cameras that could not start leave a hole the manager cannot have: close it. */
	if (rc < 0) {
		size_t n = 0;
		for (size_t i = 0; i < v->n; i++)
			if (v->cams[i])
				v->cams[n++] = v->cams[i];
		v->n = n;
		return rc;
	}
	for (size_t i = 0; i < v->n; i++)
		report(v, i);
	if (started)
		log_info("%zu camera(s) started", started);
	return 0;
}

static ssize_t find(struct video *v, const char *id)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(camera_cfg(v->cams[i])->id, id) == 0)
			return (ssize_t)i;
	return -1;
}

bool video_has_camera(struct video *v, const char *camera_id)
{
	return v && find(v, camera_id) >= 0;
}

/* ---- snapshots: the still is taken on the loop, encoded on a worker thread ---- */

#define SNAP_STOP_WAIT_US G_USEC_PER_SEC
#define SNAP_NICE 10 /* added to the workers' nice value */

static struct snap_ctl *snap_ctl_new(void)
{
	struct snap_ctl *k = g_new0(struct snap_ctl, 1);

	k->refs = 1;
	g_mutex_init(&k->lock);
	g_cond_init(&k->cond);
	return k;
}

static void snap_ctl_unref(struct snap_ctl *k)
{
	if (!k || !g_atomic_int_dec_and_test(&k->refs))
		return;
	g_mutex_clear(&k->lock);
	g_cond_clear(&k->cond);
	g_free(k);
}

static struct snap_job *snap_job_ref(struct snap_job *j)
{
	g_atomic_int_inc(&j->refs);
	return j;
}

static void snap_job_unref(gpointer p)
{
	struct snap_job *j = p;

	if (!g_atomic_int_dec_and_test(&j->refs))
		return;
	cam_still_free(j->still);
	snap_ctl_unref(j->ctl);
	g_free(j->path);
	g_free(j);
}

/* Calls done once and lets go of the loop's reference. Loop thread. */
static void snap_finish(struct snap_job *j, int rc)
{
	struct video *v;
	GSource *idle;
	const char *cam;
	int64_t ms;
	int wrc;

	g_mutex_lock(&j->ctl->lock);
	v = j->v;
	j->v = NULL;
	idle = j->idle;
	j->idle = NULL;
	wrc = j->rc;
	g_mutex_unlock(&j->ctl->lock);
	if (!v)
		return;
	/* The worker's result was on its way: it counts, unless the manager goes away. */
	if (idle && rc == -ETIMEDOUT)
		rc = wrc;
	else if (idle && wrc == 0 && rc < 0)
		unlink(j->path);
	if (j->timer) {
		g_source_destroy(j->timer);
		g_source_unref(j->timer);
		j->timer = NULL;
	}
	if (idle) { /* drops its reference */
		g_source_destroy(idle);
		g_source_unref(idle);
	}
	if (rc < 0)
		cam_still_cancel(
		    j->still); /* its worker stops at its next step, removes its file */
	v->snaps = g_list_remove(v->snaps, j);
	cam = j->cam < v->n ? camera_cfg(v->cams[j->cam])->id : "(removed)";
	ms = (g_get_monotonic_time() - j->t0_us) / 1000;
	if (rc == 0) {
		if (v->snap_failing)
			log_info("camera %s: snapshots written again", cam);
		v->snap_failing = false;
		log_debug("camera %s: snapshot %s written in %lld ms", cam, j->path, (long long)ms);
		if (j->cam < v->n)
			snapshot_taken(v, j->cam);
	} else if (rc != -ECANCELED) {
		if (!v->snap_failing)
			log_warn("camera %s: snapshot %s failed after %lld ms: %s", cam, j->path,
				 (long long)ms, strerror(-rc));
		else
			log_debug("camera %s: snapshot %s failed after %lld ms: %s", cam, j->path,
				  (long long)ms, strerror(-rc));
		v->snap_failing = true;
	}
	j->done(rc, j->path, j->ud);
	snap_job_unref(j);
}

static gboolean snap_timeout(gpointer ud)
{
	snap_finish(ud, -ETIMEDOUT);
	return G_SOURCE_REMOVE;
}

/* The worker's result reached the loop. */
static gboolean snap_result(gpointer ud)
{
	struct snap_job *j = ud;
	GSource *idle;
	bool pending;
	int rc;

	g_mutex_lock(&j->ctl->lock);
	pending = j->v != NULL;
	idle = j->idle;
	j->idle = NULL;
	rc = j->rc;
	g_mutex_unlock(&j->ctl->lock);
	if (idle)
		g_source_unref(idle);
	if (pending)
		snap_finish(j, rc);
	else if (rc == 0)
		unlink(j->path); /* done said it failed: no file stays behind */
	return G_SOURCE_REMOVE;
}

static gpointer snap_worker(gpointer ud)
{
	struct snap_job *j = ud;
	struct snap_ctl *k = j->ctl;
	id_t tid = (id_t)syscall(SYS_gettid);
	char *dir;
	int rc, nice;

	/* A snapshot is best effort: on busy cores the pollers and the loop, which carry an
	 * alarm, come first. This thread (and the decoder's, started from it) only. */
	errno = 0;
	nice = getpriority(PRIO_PROCESS, tid);
	if (errno == 0 && setpriority(PRIO_PROCESS, tid, MIN(19, nice + SNAP_NICE)) < 0)
		log_debug("snapshot thread: setpriority: %s", strerror(errno));
	/* The folder too is made here: nothing of a snapshot touches the file system on the loop.
	 */
	dir = g_path_get_dirname(j->path);
	if (g_mkdir_with_parents(dir, 0750) < 0) {
		log_debug("snapshot folder %s: %s", dir, strerror(errno));
		rc = -EIO;
	} else {
		rc = cam_still_jpeg(j->still, j->path, VIDEO_SNAPSHOT_TIMEOUT_MS);
	}
	g_free(dir);

	g_mutex_lock(&k->lock);
	if (j->v) {
		j->rc = rc;
		j->idle = g_idle_source_new();
		g_source_set_callback(j->idle, snap_result, snap_job_ref(j), snap_job_unref);
		g_source_attach(j->idle, j->ctx);
	} else if (rc == 0) {
		unlink(j->path); /* too late: done was called with an error */
	}
	k->running--;
	g_cond_broadcast(&k->cond);
	g_mutex_unlock(&k->lock);
	snap_job_unref(j);
	return NULL;
}

/* <state_dir>/snapshots/<camera>-<UTC time>.jpg; snapshots run side by side, so two in the
 * same millisecond get the next one. */
static char *snapshot_path(struct video *v, const char *camera_id)
{
	int64_t t = MAX(wall_ms(), v->snap_named_ms + 1);
	time_t sec = (time_t)(t / 1000);
	char when[32];
	struct tm tm;

	v->snap_named_ms = t;
	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%S", &tm);
	return g_strdup_printf("%s/snapshots/%s-%s.%03dZ.jpg", v->cfg->storage.state_dir, camera_id,
			       when, (int)(t % 1000));
}

int video_snapshot_async(struct video *v, const char *camera_id, const char *path,
			 video_done_fn done, void *ud)
{
	ssize_t i = find(v, camera_id);
	struct cam_still *still;
	struct snap_job *j;
	GThread *t;
	GError *err = NULL;
	bool busy;
	int rc;

	if (i < 0)
		return -ENOENT;
	if (v->stopping)
		return -ECANCELED;
	g_mutex_lock(&v->snap->lock);
	busy = v->snap->running >= VIDEO_SNAPSHOTS_MAX;
	g_mutex_unlock(&v->snap->lock);
	if (busy) {
		log_debug("camera %s: snapshot refused: %d still in flight", camera_id,
			  VIDEO_SNAPSHOTS_MAX);
		return -EBUSY;
	}
	rc = camera_still(v->cams[i], &still);
	if (rc < 0)
		return rc;
	j = g_new0(struct snap_job, 1);
	j->refs = 2; /* the loop's, the worker's */
	j->ctl = v->snap;
	g_atomic_int_inc(&v->snap->refs);
	j->v = v;
	j->ctx = v->ctx;
	j->cam = (size_t)i;
	/* A camera id is [A-Za-z0-9_-] (the configuration's rule): safe in a file name. */
	j->path = path ? g_strdup(path) : snapshot_path(v, camera_id);
	j->still = still;
	j->done = done;
	j->ud = ud;
	j->t0_us = g_get_monotonic_time();
	g_mutex_lock(&v->snap->lock);
	v->snap->running++;
	g_mutex_unlock(&v->snap->lock);
	t = g_thread_try_new("snapshot", snap_worker, j, &err);
	if (!t) {
		log_err("camera %s: cannot start a snapshot thread: %s", camera_id,
			err ? err->message : "?");
		g_clear_error(&err);
		g_mutex_lock(&v->snap->lock);
		v->snap->running--;
		g_mutex_unlock(&v->snap->lock);
		j->refs = 1;
		snap_job_unref(j);
		return -EAGAIN;
	}
	g_thread_unref(t);
	j->timer = g_timeout_source_new(VIDEO_SNAPSHOT_TIMEOUT_MS);
	g_source_set_callback(j->timer, snap_timeout, j, NULL);
	g_source_attach(j->timer, v->ctx);
	v->snaps = g_list_prepend(v->snaps, j);
	return 0;
}

/* Every snapshot in flight gets done(-ECANCELED); its worker is woken (a still being encoded
 * stops at once) and waited for, bounded: one blocked in the file system keeps its job and
 * frees it when it returns. */
static void snap_stop(struct video *v)
{
	gint64 until = g_get_monotonic_time() + SNAP_STOP_WAIT_US;
	int left;

	v->stopping = true;
	while (v->snaps)
		snap_finish(v->snaps->data, -ECANCELED);
	if (!v->snap)
		return;
	g_mutex_lock(&v->snap->lock);
	while (v->snap->running > 0 && g_cond_wait_until(&v->snap->cond, &v->snap->lock, until))
		;
	left = v->snap->running;
	g_mutex_unlock(&v->snap->lock);
	if (left)
		log_warn("%d snapshot worker(s) still blocked after %d ms (a stalled file "
			 "system?): left to end on their own",
			 left, (int)(SNAP_STOP_WAIT_US / 1000));
	snap_ctl_unref(v->snap);
	v->snap = NULL;
}

/* ---- clips: the closed segments overlapping the range, remuxed without decoding off the
 * loop (video/clip.c), for events and for cmd/clip ---- */

static gboolean job_done(gpointer ud)
{
	struct clip_job *j = ud;
	struct video *v = j->v;
	const char *cam = camera_cfg(v->cams[j->cam])->id;

	if (j->thread)
		g_thread_join(j->thread);
	j->thread = NULL;
	g_source_unref(j->idle);
	j->idle = NULL;
	v->jobs = g_list_remove(v->jobs, j);
	if (j->done) {
		if (j->rc == 0 && !j->missing)
			log_info("camera %s: clip written: %s", cam, j->path);
		else if (j->rc == 0)
			log_info("camera %s: partial clip written: %s (%s)", cam, j->path,
				 j->missing);
		else
			log_warn("camera %s: clip %s failed: %s", cam, j->path,
				 j->missing ? j->missing : strerror(-j->rc));
		j->done(j->rc, j->path, j->missing, j->done_ud);
		job_free(j);
		return G_SOURCE_REMOVE;
	}
	if (j->rc == 0 && !j->missing)
		log_info("camera %s: clip for %s written: %s", cam, j->point, j->path);
	else if (j->rc == 0)
		log_warn("camera %s: clip for %s written, part of its range missing: %s (%s)", cam,
			 j->point, j->path, j->missing);
	else
		log_warn("camera %s: clip for %s failed: %s", cam, j->point,
			 j->missing ? j->missing : strerror(-j->rc));
	if (j->cb)
		j->cb(j->point, cam, j->path, j->rc, j->ud);
	report(v, j->cam);
	hub_camera_clip(v->hub, j->cam, j->path, j->point, j->t_ms, j->rc == 0);
	job_free(j);
	return G_SOURCE_REMOVE;
}

static gpointer job_thread(gpointer ud)
{
	struct clip_job *j = ud;
	GSource *idle;

	{
		char *dir = g_path_get_dirname(j->path);
		/* Its folder, off the loop (a clip on demand names one that may not exist). */
		j->rc = g_mkdir_with_parents(dir, 0750) < 0 ? -errno : 0;
		g_free(dir);
	}
	if (j->rc == 0) {
		struct clip_cover cov;

		j->rc =
		    clip_cut(j->segs, j->nsegs, j->from_ms, j->to_ms, j->partial, j->path, &cov);
		j->missing = clip_cover_text(&cov, j->cam_id);
	}
	idle = g_idle_source_new();
	g_source_set_callback(idle, job_done, j, NULL);
	j->idle = idle;
	g_source_attach(idle, j->v->ctx);
	return NULL;
}

/* Every 500 ms until the closed segments reach the end of the range (or the deadline). */
static gboolean job_check(gpointer ud)
{
	struct clip_job *j = ud;
	struct video *v = j->v;
	const char *cam = camera_cfg(v->cams[j->cam])->id;
	struct rec_segment *s = NULL;
	int64_t now = wall_ms();
	int n;

	if (now < j->to_ms)
		return G_SOURCE_CONTINUE;
	n = recindex_query(v->ix, cam, j->to_ms - 1, j->to_ms, &s);
	rec_segments_free(s, n > 0 ? n : 0);
	if (n <= 0 && now < j->deadline_ms)
		return G_SOURCE_CONTINUE;
	g_source_unref(j->timer);
	j->timer = NULL;
	j->nsegs = recindex_query(v->ix, cam, j->from_ms, j->to_ms, &j->segs);
	if (j->nsegs <= 0) {
		j->rc = j->nsegs < 0 ? j->nsegs : -ENOENT;
		j->nsegs = 0;
		if (j->rc == -ENOENT)
			j->missing = video_clip_none_text(cam, j->from_ms, j->to_ms);
		j->idle = g_idle_source_new();
		g_source_set_callback(j->idle, job_done, j, NULL);
		g_source_attach(j->idle, v->ctx);
		return G_SOURCE_REMOVE;
	}
	j->thread = g_thread_new("clip", job_thread, j);
	return G_SOURCE_REMOVE;
}

static bool links(const struct cfg_camera *k, const char *point_key)
{
	for (size_t i = 0; i < k->n_alert_points; i++)
		if (strcmp(k->alert_points[i], point_key) == 0)
			return true;
	return false;
}

static char *event_clip_path(const struct video *v, const char *cam, const char *point,
			     int64_t t_ms)
{
	char stamp[32], *p = g_strdup(point), *out;
	time_t sec = (time_t)(t_ms / 1000);
	struct tm tm;

	for (char *q = p; *q; q++)
		if (!g_ascii_isalnum(*q) && *q != '-' && *q != '_')
			*q = '_';
	gmtime_r(&sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	out = g_strdup_printf("%s/clips/%s-%s%03dZ-%s.mp4", v->cfg->storage.state_dir, cam, stamp,
			      (int)(t_ms % 1000), p);
	g_free(p);
	return out;
}

int video_clip_for_event(struct video *v, const char *point_key, int64_t t_ms,
			 video_clip_done_fn cb, void *ud, char ***paths)
{
	GPtrArray *pa = g_ptr_array_new();
	int n = 0;

	for (size_t i = 0; v && v->ix && i < v->n; i++) {
		const struct cfg_camera *k = camera_cfg(v->cams[i]);
		struct clip_job *j;
		char *dir;

		if (!k->record || !links(k, point_key))
			continue;
		dir = g_build_filename(v->cfg->storage.state_dir, "clips", NULL);
		if (g_mkdir_with_parents(dir, 0750) < 0)
			log_err("cannot create %s: %s", dir, strerror(errno));
		g_free(dir);
		j = g_new0(struct clip_job, 1);
		j->v = v;
		j->cam = i;
		j->cam_id = g_strdup(k->id);
		j->partial = true; /* evidence: what exists of the pre- and post-roll */
		j->point = g_strdup(point_key);
		j->path = event_clip_path(v, k->id, point_key, t_ms);
		j->t_ms = t_ms;
		j->from_ms = t_ms - (int64_t)k->preroll_s * 1000;
		j->to_ms = t_ms + (int64_t)MAX(k->postroll_s, 1) * 1000;
		j->deadline_ms = j->to_ms + ((int64_t)k->segment_s + 10) * 1000;
		j->cb = cb;
		j->ud = ud;
		j->timer = g_timeout_source_new(500);
		g_source_set_callback(j->timer, job_check, j, NULL);
		g_source_attach(j->timer, v->ctx);
		v->jobs = g_list_prepend(v->jobs, j);
		g_ptr_array_add(pa, g_strdup(j->path));
		log_info("camera %s: clip for %s at %lld scheduled: %s", k->id, point_key,
			 (long long)t_ms, j->path);
		n++;
	}
	g_ptr_array_add(pa, NULL);
	if (n > 0)
		g_hash_table_replace(v->event_clips, g_strdup(point_key),
				     g_strdupv((char **)pa->pdata));
	if (paths)
		*paths = (char **)g_ptr_array_free(pa, FALSE);
	else
		g_strfreev((char **)g_ptr_array_free(pa, FALSE));
	return n;
}

void video_on_device(struct video *v, const struct hub_device *d)
{
	for (size_t i = 0; v && v->n && i < d->n_points; i++) {
		const struct hub_point *p = &d->points[i];
		char *key;
		bool on, linked = false;

		struct hw_value pv;

		if (!hub_point_changed(p))
			continue;
		key = g_strdup_printf("%s:%s", d->cfg->id, hub_point_key(d, i));
		for (size_t c = 0; c < v->n && !linked; c++)
			linked = links(camera_cfg(v->cams[c]), key);
		if (!linked) {
			g_free(key);
			continue;
		}
		hub_point_value(d, i, &pv);
		on = hub_point_q(p) == HW_Q_GOOD && hw_value_as_double(&pv) != 0;
		if (on && !g_hash_table_contains(v->point_on, key)) {
			int64_t t = hub_point_t(d, i) ? hub_point_t(d, i) : wall_ms();
			video_clip_for_event(v, key, t, NULL, NULL, NULL);
			g_hash_table_add(v->point_on, key);
		} else {
			if (!on && hub_point_q(p) == HW_Q_GOOD)
				g_hash_table_remove(v->point_on, key);
			g_free(key);
		}
	}
}

char **video_event_clips(struct video *v, const char *point_key)
{
	char **p = v ? g_hash_table_lookup(v->event_clips, point_key) : NULL;

	return p ? g_strdupv(p) : NULL;
}

int video_clip_async(struct video *v, const char *camera_id, int64_t from_ms, int64_t to_ms,
		     bool partial, const char *path, video_clip_reply_fn done, void *ud)
{
	ssize_t i = find(v, camera_id);
	struct clip_job *j;

	if (i < 0 || !v->ix)
		return -ENOENT;
	if (to_ms <= from_ms)
		return -EINVAL;
	if (v->stopping)
		return -ECANCELED;
	j = g_new0(struct clip_job, 1);
	j->v = v;
	j->cam = (size_t)i;
	j->cam_id = g_strdup(camera_id);
	j->partial = partial;
	if (path) {
		j->path = g_strdup(path);
	} else { /* <state_dir>/clips/<camera>-<from>-<request time, one per ms>.mp4 */
		char stamp[32];
		time_t sec = (time_t)(from_ms / 1000);
		struct tm tm;
		int64_t t = MAX(wall_ms(), v->snap_named_ms + 1);

		v->snap_named_ms = t;
		gmtime_r(&sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
		j->path = g_strdup_printf("%s/clips/%s-%sZ-req%lld.mp4", v->cfg->storage.state_dir,
					  camera_id, stamp, (long long)t);
	}
	j->t_ms = from_ms;
	j->from_ms = from_ms;
	j->to_ms = to_ms;
	j->done = done;
	j->done_ud = ud;
	/* An indexed read: the cut itself, which reads the segments, is the thread's. */
	j->nsegs = recindex_query(v->ix, camera_id, from_ms, to_ms, &j->segs);
	if (j->nsegs <= 0) {
		int rc = j->nsegs < 0 ? j->nsegs : -ENOENT;

		j->nsegs = 0;
		job_free(j);
		return rc;
	}
	j->thread = g_thread_new("clip", job_thread, j);
	v->jobs = g_list_prepend(v->jobs, j);
	return 0;
}

char *video_clip_none_text(const char *camera_id, int64_t from_ms, int64_t to_ms)
{
	struct clip_cover cov = {.from_ms = from_ms, .to_ms = to_ms, .n_missing = 1};

	cov.missing[0] = (struct clip_span){from_ms, to_ms};
	return clip_cover_text(&cov, camera_id);
}

int video_recordings(struct video *v, const char *camera_id, int64_t from_ms, int64_t to_ms,
		     struct rec_segment **out)
{
	*out = NULL;
	if (!v || find(v, camera_id) < 0)
		return -ENOENT;
	return recindex_list(v->ix, camera_id, from_ms, to_ms, out);
}

int video_parse_time(const char *s, const char *tz, int64_t *out_ms)
{
	return timeparse(s, tz, out_ms);
}

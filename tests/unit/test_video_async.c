/* Unit tests of the video manager's asynchronous calls without a daemon: a clip on demand is
 * cut off the calling thread and reported once on the loop (never from within the call), a
 * stop with a cut in progress reports it once, and the refusals come at once without a
 * callback. The recording is a small H.264 MP4 made here and put in the index by hand; the
 * camera points at a closed loopback port (it never sends a picture). Main thread plus the
 * manager's own threads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gst/gst.h>

#include "core/config.h"
#include "hub/hub.h"
#include "video/clip.h"
#include "video/recindex.h"
#include "video/video.h"

/* GStreamer's first quark block is leaked on purpose from a library constructor: the LSan
 * suppression for it (tests/lsan.supp) needs full stacks. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

struct fix {
	char *dir, *seg, *cfgp;
	int closed_fd; /* keeps the camera's port bound and closed */
	struct hw_config *cfg;
	struct hub *hub;
	struct video *v;
	int64_t start_ms, end_ms;
};

struct done {
	int calls, rc;
	char *path, *missing;
};

static void on_done(int rc, const char *path, void *ud)
{
	struct done *d = ud;

	d->calls++;
	d->rc = rc;
	g_free(d->path);
	d->path = g_strdup(path);
}

static void on_clip(int rc, const char *path, const char *missing, void *ud)
{
	struct done *d = ud;

	on_done(rc, path, ud);
	g_free(d->missing);
	d->missing = g_strdup(missing);
}

static void run_until_called(struct done *d, int timeout_ms)
{
	gint64 until = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	while (d->calls == 0 && g_get_monotonic_time() < until)
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(1000);
}

static void encode(const char *path)
{
	char *desc = g_strdup_printf(
	    "videotestsrc num-buffers=30 ! video/x-raw,width=160,height=90,framerate=10/1,"
	    "format=I420 ! x264enc key-int-max=10 bframes=0 ! h264parse ! mp4mux ! "
	    "filesink location=%s",
	    path);
	GstElement *pl = gst_parse_launch(desc, NULL);
	GstBus *bus;
	GstMessage *m;

	g_free(desc);
	assert_non_null(pl);
	gst_element_set_state(pl, GST_STATE_PLAYING);
	bus = gst_element_get_bus(pl);
	m = gst_bus_timed_pop_filtered(bus, 20 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	assert_non_null(m);
	assert_int_equal(GST_MESSAGE_TYPE(m), GST_MESSAGE_EOS);
	gst_message_unref(m);
	gst_object_unref(bus);
	gst_element_set_state(pl, GST_STATE_NULL);
	gst_object_unref(pl);
}

static int setup(void **state)
{
	struct fix *f = g_new0(struct fix, 1);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	struct cfg_errors errs = {0};
	struct recindex *ix;
	char *db, *text;
	struct stat sb;

	if (!gst_is_initialized())
		gst_init(NULL, NULL);
	f->dir = g_dir_make_tmp("hw-video-async-XXXXXX", NULL);
	assert_non_null(f->dir);
	f->closed_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->closed_fd >= 0);
	assert_int_equal(bind(f->closed_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(f->closed_fd, (struct sockaddr *)&sa, &len), 0);
	f->cfgp = g_build_filename(f->dir, "hallwatch.cfg", NULL);
	text = g_strdup_printf("site = { id = \"t1\"; };\n"
			       "mqtt = { enabled = false; };\ninflux = { enabled = false; };\n"
			       "storage = { state_dir = \"%s\"; };\n"
			       "cameras = ( { id = \"cam1\"; url = \"rtsp://127.0.0.1:%d/cam1\"; "
			       "reconnect_min_ms = 60000; reconnect_max_ms = 60000; "
			       "disk_min_free_mb = 0; } );\n",
			       f->dir, ntohs(sa.sin_port));
	assert_true(g_file_set_contents(f->cfgp, text, -1, NULL));
	g_free(text);
	assert_int_equal(config_load(f->cfgp, &f->cfg, &errs), 0);
	assert_int_equal(hub_create(f->cfg, &f->hub), 0);
	assert_int_equal(video_create(f->cfg, NULL, f->hub, &f->v), 0);
	/* One recorded segment of 3 s, indexed. */
	f->seg = g_build_filename(f->dir, "video", "cam1", "cam1-segment.mp4", NULL);
	encode(f->seg);
	assert_int_equal(stat(f->seg, &sb), 0);
	f->start_ms = g_get_real_time() / 1000 - 60000; /* recent: retention keeps it */
	f->end_ms = f->start_ms + 3000;
	db = g_build_filename(f->dir, "hallwatch.db", NULL);
	assert_int_equal(recindex_open(db, &ix), 0);
	assert_int_equal(
	    recindex_finish(ix, "cam1", f->seg, f->start_ms, f->end_ms, (int64_t)sb.st_size), 0);
	recindex_close(ix);
	g_free(db);
	*state = f;
	return 0;
}

static void rm_tree(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *n;

	while (d && (n = g_dir_read_name(d))) {
		char *p = g_build_filename(path, n, NULL);

		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			rm_tree(p);
		else
			g_unlink(p);
		g_free(p);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(path);
}

static int teardown(void **state)
{
	struct fix *f = *state;

	video_destroy(f->v);
	hub_destroy(f->hub);
	config_free(f->cfg);
	close(f->closed_fd);
	rm_tree(f->dir);
	g_free(f->dir);
	g_free(f->seg);
	g_free(f->cfgp);
	g_free(f);
	return 0;
}

static void test_refusals_at_once(void **state)
{
	struct fix *f = *state;
	struct done d = {0};
	char *out = g_build_filename(f->dir, "x.mp4", NULL);
	char *jpg = g_build_filename(f->dir, "x.jpg", NULL);

	assert_int_equal(
	    video_clip_async(f->v, "cam9", f->start_ms, f->end_ms, false, out, on_clip, &d),
	    -ENOENT);
	assert_int_equal(
	    video_clip_async(f->v, "cam1", f->end_ms, f->start_ms, false, out, on_clip, &d),
	    -EINVAL);
	assert_int_equal(video_clip_async(f->v, "cam1", f->end_ms + 60000, f->end_ms + 70000, false,
					  out, on_clip, &d),
			 -ENOENT);
	assert_int_equal(video_snapshot_async(f->v, "cam9", jpg, on_done, &d), -ENOENT);
	/* connected to nothing: no key frame to encode */
	assert_int_equal(video_snapshot_async(f->v, "cam1", jpg, on_done, &d), -EAGAIN);
	run_until_called(&d, 200);
	assert_int_equal(d.calls, 0);
	assert_false(g_file_test(out, G_FILE_TEST_EXISTS));
	assert_false(g_file_test(jpg, G_FILE_TEST_EXISTS));
	g_free(out);
	g_free(jpg);
}

static void test_clip_reported_on_the_loop(void **state)
{
	struct fix *f = *state;
	struct done d = {0};
	char *out = g_build_filename(f->dir, "clip.mp4", NULL);
	struct stat sb;

	assert_int_equal(video_clip_async(f->v, "cam1", f->start_ms + 1000, f->start_ms + 2500,
					  false, out, on_clip, &d),
			 0);
	assert_int_equal(d.calls, 0); /* never from within the call */
	run_until_called(&d, 20000);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, 0);
	assert_string_equal(d.path, out);
	assert_int_equal(stat(out, &sb), 0);
	assert_true(sb.st_size > 0);
	run_until_called(&d, 100); /* and only once */
	assert_int_equal(d.calls, 1);
	g_free(d.path);
	g_free(d.missing);
	g_free(out);
}

static void test_stop_reports_a_cut_in_progress(void **state)
{
	struct fix *f = *state;
	struct done d = {0};
	char *out = g_build_filename(f->dir, "clip2.mp4", NULL);

	assert_int_equal(
	    video_clip_async(f->v, "cam1", f->start_ms, f->end_ms, false, out, on_clip, &d), 0);
	video_destroy(f->v);
	f->v = NULL;
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, 0); /* the cut was waited for: its result counts */
	assert_true(g_file_test(out, G_FILE_TEST_EXISTS));
	run_until_called(&d, 100);
	assert_int_equal(d.calls, 1);
	g_free(d.path);
	g_free(d.missing);
	g_free(out);
}

/* A range running past the recording: refused with what is missing and no file; with partial,
 * the recorded part is written and the missing part said. */
static void test_clip_beyond_the_recording(void **state)
{
	struct fix *f = *state;
	struct done d = {0};
	char *out = g_build_filename(f->dir, "past.mp4", NULL);
	struct stat sb;

	assert_int_equal(video_clip_async(f->v, "cam1", f->start_ms + 1000, f->end_ms + 5000, false,
					  out, on_clip, &d),
			 0);
	run_until_called(&d, 20000);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, -ENODATA);
	assert_non_null(d.missing);
	assert_non_null(strstr(d.missing, "camera cam1 has recordings for "));
	assert_non_null(strstr(d.missing, " UTC only; nothing for "));
	assert_false(g_file_test(out, G_FILE_TEST_EXISTS));

	d.calls = 0;
	assert_int_equal(video_clip_async(f->v, "cam1", f->start_ms + 1000, f->end_ms + 5000, true,
					  out, on_clip, &d),
			 0);
	run_until_called(&d, 20000);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.rc, 0);
	assert_non_null(d.missing);
	assert_non_null(strstr(d.missing, " UTC only; nothing for "));
	assert_int_equal(stat(out, &sb), 0);
	assert_true(sb.st_size > 0);
	g_free(d.path);
	g_free(d.missing);
	g_free(out);
}

/* The sentence: held and missing spans in UTC, the date once, tenths when not whole. */
static void test_cover_text(void **state)
{
	/* 2026-12-03T10:00:00Z */
	const int64_t t0 = 1796292000000LL;
	struct clip_cover c = {.from_ms = t0, .to_ms = t0 + 5 * 3600000LL};
	char *s;

	(void)state;
	assert_null(clip_cover_text(&c, "cam1"));
	c.n_held = 1;
	c.held[0] = (struct clip_span){t0 + 5000, t0 + 40000};
	c.n_missing = 2;
	c.missing[0] = (struct clip_span){t0, t0 + 5000};
	c.missing[1] = (struct clip_span){t0 + 40000, t0 + 5 * 3600000LL};
	s = clip_cover_text(&c, "cam1");
	assert_string_equal(s, "camera cam1 has recordings for 2026-12-03 10:00:05-10:00:40 UTC "
			       "only; nothing for 10:00:00-10:00:05 and 10:00:40-15:00:00");
	g_free(s);
	c.n_held = 2;
	c.held[0].to_ms = t0 + 20500;
	c.held[1] = (struct clip_span){t0 + 30000, t0 + 40000};
	c.n_missing = 3;
	c.missing[1] = (struct clip_span){t0 + 20500, t0 + 30000};
	c.missing[2] = (struct clip_span){t0 + 40000, t0 + 86400000LL};
	s = clip_cover_text(&c, "cam1");
	assert_string_equal(s, "camera cam1 has recordings for 2026-12-03 10:00:05-10:00:20.5 and "
			       "10:00:30-10:00:40 UTC only; nothing for 10:00:00-10:00:05, "
			       "10:00:20.5-10:00:30 and 10:00:40-2026-12-04 10:00:00");
	g_free(s);
	s = video_clip_none_text("cam1", t0, t0 + 10000);
	assert_string_equal(s, "camera cam1 has no recording for 2026-12-03 10:00:00-10:00:10 UTC");
	g_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_refusals_at_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clip_reported_on_the_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_reports_a_cut_in_progress, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clip_beyond_the_recording, setup, teardown),
	    cmocka_unit_test(test_cover_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

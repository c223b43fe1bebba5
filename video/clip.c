/* Clip cutting: demuxes the recorded segments one after another (qtdemux → appsink), keeps
 * the access units from the key frame at or before the start to the end of the range, and
 * pushes them restamped on one time line into appsrc → mp4mux → filesink. No decoding. What
 * the written units cover is measured as they go, so a range that is not recorded is said.
 * Runs entirely on the caller's thread (GStreamer's streaming threads only fill the appsink). */
#define LOG_TAG "clip"
#include "video/clip.h"

#include <errno.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define PULL_TIMEOUT (5 * GST_SECOND)
#define FINISH_TIMEOUT (30 * GST_SECOND)

struct cut {
	const char *path;
	gint64 from_ns, to_ns;
	GstElement *wpl, *wsrc; /* the writer, created with the first access unit kept */
	GstCaps *caps;
	GQueue gop; /* access units since the last key frame before the start (wall stamps) */
	bool started, done, failed;
	guint64 pushed;
	gint64 origin_ns; /* wall time of the clip's first access unit */
	gint64 last_dts;
	GArray *runs;	  /* struct clip_span: wall ms covered by the units written, holes split */
	gint64 change_ms; /* where the format changed, or 0 */
};

/* Caps differ in ways that matter to the one track of the clip: another codec, stream
 * format, alignment, size, profile or codec data. The rest (a framerate qtdemux infers from
 * one segment's steady durations and not from another's jittery start, colorimetry,
 * level...) describes the same stream. */
static bool same_format(GstCaps *a, GstCaps *b)
{
	static const char *const keys[] = {"stream-format", "alignment", "width",
					   "height",	    "profile",	 "codec_data"};
	const GstStructure *x, *y;

	if (a == b || gst_caps_is_equal(a, b))
		return true;
	if (gst_caps_get_size(a) < 1 || gst_caps_get_size(b) < 1)
		return false;
	x = gst_caps_get_structure(a, 0);
	y = gst_caps_get_structure(b, 0);
	if (!gst_structure_has_name(y, gst_structure_get_name(x)))
		return false;
	for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
		const GValue *u = gst_structure_get_value(x, keys[i]);
		const GValue *w = gst_structure_get_value(y, keys[i]);

		if (!u != !w || (u && gst_value_compare(u, w) != GST_VALUE_EQUAL))
			return false;
	}
	return true;
}

/* One access unit written: its wall time [s, e) in ms joins the current run, or starts a
 * new one after a hole. */
static void cover(struct cut *k, gint64 s, gint64 e)
{
	struct clip_span *r =
	    k->runs->len ? &g_array_index(k->runs, struct clip_span, k->runs->len - 1) : NULL;

	if (!r || s > r->to_ms + CLIP_HOLE_MS) {
		struct clip_span n = {s, MAX(s, e)};

		g_array_append_val(k->runs, n);
		return;
	}
	r->from_ms = MIN(r->from_ms, s);
	r->to_ms = MAX(r->to_ms, e);
}

static int writer_open(struct cut *k, GstCaps *caps)
{
	GstElement *mux, *sink;

	k->wpl = gst_pipeline_new("clip");
	k->wsrc = gst_element_factory_make("appsrc", NULL);
	mux = gst_element_factory_make("mp4mux", NULL);
	sink = gst_element_factory_make("filesink", NULL);
	if (!k->wsrc || !mux || !sink) {
		log_err("clip: GStreamer elements appsrc, mp4mux or filesink missing");
		if (k->wsrc)
			gst_object_unref(gst_object_ref_sink(k->wsrc));
		k->wsrc = NULL;
		if (mux)
			gst_object_unref(gst_object_ref_sink(mux));
		if (sink)
			gst_object_unref(gst_object_ref_sink(sink));
		return -EIO;
	}
	gst_object_ref(k->wsrc); /* ours, beside the bin's */
	g_object_set(k->wsrc, "caps", caps, "format", GST_FORMAT_TIME, "block", TRUE, "max-bytes",
		     (guint64)8000000, NULL);
	g_object_set(sink, "location", k->path, NULL);
	gst_bin_add_many(GST_BIN(k->wpl), k->wsrc, mux, sink, NULL);
	/* By name: a request pad picked by caps could be the audio one before caps are known. */
	if (!gst_element_link_pads(k->wsrc, "src", mux, "video_%u") ||
	    !gst_element_link(mux, sink)) {
		log_err("clip: cannot link the muxer");
		return -EIO;
	}
	k->caps = gst_caps_ref(caps);
	if (gst_element_set_state(k->wpl, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		log_err("cannot open %s for the clip", k->path);
		return -EIO;
	}
	return 0;
}

/* Pushes one access unit (stamped in wall ns) restamped from the clip's origin. */
static int emit(struct cut *k, GstBuffer *b, GstCaps *caps)
{
	gint64 pts = (gint64)GST_BUFFER_PTS(b), dts = (gint64)GST_BUFFER_DTS(b);

	if (!k->wpl) {
		if (writer_open(k, caps) < 0)
			goto fail;
		k->origin_ns = MIN(pts, dts);
		k->last_dts = -1;
	} else if (!same_format(caps, k->caps)) {
		gchar *was = gst_caps_to_string(k->caps), *now = gst_caps_to_string(caps);

		log_warn("the stream changed format inside the range: clip %s ends there", k->path);
		log_debug("clip %s: from %s to %s", k->path, was, now);
		g_free(was);
		g_free(now);
		k->change_ms = pts / 1000000;
		k->done = true;
		gst_buffer_unref(b);
		return 0;
	}
	cover(k, pts / 1000000,
	      (pts + (GST_BUFFER_DURATION_IS_VALID(b) ? (gint64)GST_BUFFER_DURATION(b) : 0)) /
		  1000000);
	dts -= k->origin_ns;
	pts -= k->origin_ns;
	if (dts <= k->last_dts) /* segment stamps may overlap by a few ms */
		dts = k->last_dts + 1000;
	if (pts < dts)
		pts = dts;
	k->last_dts = dts;
	GST_BUFFER_PTS(b) = (GstClockTime)pts;
	GST_BUFFER_DTS(b) = (GstClockTime)dts;
	if (gst_app_src_push_buffer(GST_APP_SRC(k->wsrc), b) != GST_FLOW_OK) {
		log_err("the clip writer refused data for %s", k->path);
		k->failed = true;
		return -EIO;
	}
	k->pushed++;
	return 0;
fail:
	gst_buffer_unref(b);
	k->failed = true;
	return -EIO;
}

static void gop_clear(struct cut *k)
{
	GstBuffer *b;

	while ((b = g_queue_pop_head(&k->gop)))
		gst_buffer_unref(b);
}

/* One access unit, stamped in wall ns (transfer full). */
static void take(struct cut *k, GstBuffer *b, GstCaps *caps)
{
	bool key = !GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
	gint64 w = (gint64)GST_BUFFER_PTS(b);

	if (!k->started) {
		if (w < k->from_ns) {
			if (key)
				gop_clear(k);
			if (key || !g_queue_is_empty(&k->gop))
				g_queue_push_tail(&k->gop, b);
			else
				gst_buffer_unref(b);
			return;
		}
		k->started = true;
		if (key && w == k->from_ns)
			gop_clear(k);
		while (!g_queue_is_empty(&k->gop) && !k->failed)
			emit(k, g_queue_pop_head(&k->gop), caps);
		gop_clear(k);
	}
	if (w >= k->to_ns) {
		k->done = true;
		gst_buffer_unref(b);
		return;
	}
	if (k->failed || k->done || (!k->pushed && !key)) {
		gst_buffer_unref(b);
		return;
	}
	emit(k, b, caps);
}

static int read_segment(struct cut *k, const struct rec_segment *s)
{
	GError *err = NULL;
	GstElement *pl, *src, *sink;
	GstBus *bus;
	GstMessage *m;
	gint64 base = -1, start_ns = s->start_ms * GST_MSECOND;
	int rc = 0;

	pl = gst_parse_launch("filesrc name=src ! qtdemux name=d d.video_0 ! "
			      "appsink name=sink sync=false max-buffers=16",
			      &err);
	if (!pl) {
		log_err("cannot build the segment reader: %s", err ? err->message : "?");
		g_clear_error(&err);
		return -EIO;
	}
	src = gst_bin_get_by_name(GST_BIN(pl), "src");
	sink = gst_bin_get_by_name(GST_BIN(pl), "sink");
	g_object_set(src, "location", s->path, NULL);
	gst_element_set_state(pl, GST_STATE_PLAYING);
	while (!k->done && !k->failed) {
		GstSample *smp = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), PULL_TIMEOUT);
		GstBuffer *b, *cp;
		GstCaps *caps;
		gint64 pts, dts;

		if (!smp)
			break; /* end of the file, an error or a stall: see the bus below */
		b = gst_sample_get_buffer(smp);
		caps = gst_sample_get_caps(smp);
		pts = GST_BUFFER_PTS_IS_VALID(b) ? (gint64)GST_BUFFER_PTS(b) : -1;
		dts = GST_BUFFER_DTS_IS_VALID(b) ? (gint64)GST_BUFFER_DTS(b) : pts;
		if (pts < 0)
			pts = dts;
		if (pts < 0 || !caps) {
			gst_sample_unref(smp);
			continue;
		}
		if (base < 0)
			base = pts;
		cp = gst_buffer_copy(b);
		GST_BUFFER_PTS(cp) = (GstClockTime)(start_ns + pts - base);
		GST_BUFFER_DTS(cp) = (GstClockTime)(start_ns + dts - base);
		take(k, cp, caps);
		gst_sample_unref(smp);
	}
	bus = gst_element_get_bus(pl);
	m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
	if (m) {
		gst_message_parse_error(m, &err, NULL);
		/* A segment still being written, or cut by a crash, ends in a partial fragment:
		 * what came before it is still good. */
		log_debug("segment %s: %s", s->path, err ? err->message : "?");
		g_clear_error(&err);
		gst_message_unref(m);
		if (base < 0)
			rc = -EIO;
	}
	gst_object_unref(bus);
	gst_element_set_state(pl, GST_STATE_NULL);
	gst_object_unref(src);
	gst_object_unref(sink);
	gst_object_unref(pl);
	return rc;
}

static int writer_finish(struct cut *k)
{
	GstBus *bus;
	GstMessage *m;
	int rc = -EIO;

	gst_app_src_end_of_stream(GST_APP_SRC(k->wsrc));
	bus = gst_element_get_bus(k->wpl);
	m = gst_bus_timed_pop_filtered(bus, FINISH_TIMEOUT, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	if (m && GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS) {
		rc = 0;
	} else if (m) {
		GError *err = NULL;

		gst_message_parse_error(m, &err, NULL);
		log_err("clip %s: %s", k->path, err ? err->message : "?");
		g_clear_error(&err);
	} else {
		log_err("clip %s: the muxer did not finish in time", k->path);
	}
	if (m)
		gst_message_unref(m);
	gst_object_unref(bus);
	return rc;
}

/* cov from the runs of units written, within [from, to). */
static void cover_finish(const struct cut *k, struct clip_cover *cov)
{
	gint64 from = k->from_ns / 1000000, to = k->to_ns / 1000000, prev = from;

	for (guint i = 0; i < k->runs->len; i++) {
		const struct clip_span *r = &g_array_index(k->runs, struct clip_span, i);
		gint64 a = MAX(r->from_ms, from), b = MIN(r->to_ms, to);

		if (b <= a)
			continue;
		if (a - prev > CLIP_HOLE_MS) {
			if (cov->n_missing < CLIP_SPANS_MAX)
				cov->missing[cov->n_missing] = (struct clip_span){prev, a};
			cov->n_missing++;
		}
		if (cov->n_held < CLIP_SPANS_MAX)
			cov->held[cov->n_held] = (struct clip_span){a, b};
		cov->n_held++;
		prev = b;
	}
	if (to - prev > CLIP_HOLE_MS || !cov->n_held) {
		if (cov->n_missing < CLIP_SPANS_MAX)
			cov->missing[cov->n_missing] = (struct clip_span){prev, to};
		cov->n_missing++;
	}
}

int clip_cut(const struct rec_segment *segs, int n, int64_t from_ms, int64_t to_ms, bool partial,
	     const char *path, struct clip_cover *cov)
{
	struct cut k = {0};
	struct clip_cover own;
	int rc = 0;

	if (!cov)
		cov = &own;
	*cov = (struct clip_cover){.from_ms = from_ms, .to_ms = to_ms};
	if (to_ms <= from_ms)
		return -EINVAL;
	if (!gst_is_initialized())
		gst_init(NULL, NULL);
	k.path = path;
	k.from_ns = from_ms * GST_MSECOND;
	k.to_ns = to_ms * GST_MSECOND;
	k.runs = g_array_new(FALSE, FALSE, sizeof(struct clip_span));
	g_queue_init(&k.gop);
	for (int i = 0; i < n && !k.done && !k.failed; i++) {
		if (read_segment(&k, &segs[i]) < 0)
			log_warn("clip %s: segment %s unreadable, skipped", path, segs[i].path);
	}
	gop_clear(&k);
	if (k.wpl) {
		if (k.wsrc && !k.failed && writer_finish(&k) < 0)
			k.failed = true;
		gst_element_set_state(k.wpl, GST_STATE_NULL);
		if (k.wsrc)
			gst_object_unref(k.wsrc);
		gst_object_unref(k.wpl);
	}
	if (k.caps)
		gst_caps_unref(k.caps);
	cover_finish(&k, cov);
	cov->format_change_ms = k.change_ms;
	cov->units = k.pushed;
	g_array_unref(k.runs);
	if (k.failed)
		rc = -EIO;
	else if (!k.pushed)
		rc = -ENOENT;
	else if (cov->n_missing && !partial)
		rc = -ENODATA;
	if (rc < 0) {
		unlink(path);
		cov->units = 0;
	} else {
		log_info("clip %s: %llu access units%s", path, (unsigned long long)k.pushed,
			 cov->n_missing ? ", part of the range missing" : "");
	}
	return rc;
}

/* ms since the epoch, UTC: "HH:MM:SS" on day0's date (days since the epoch), else with the
 * date; tenths of a second when not on a whole second. */
static void put_time(GString *s, int64_t ms, int64_t day0, bool date)
{
	int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	time_t t = (time_t)sec;
	struct tm tm;
	char buf[40];

	gmtime_r(&t, &tm);
	if (date || (sec >= 0 ? sec / 86400 : (sec - 86399) / 86400) != day0)
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	else
		strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
	g_string_append(s, buf);
	if (ms - sec * 1000 >= 100)
		g_string_append_printf(s, ".%d", (int)((ms - sec * 1000) / 100));
}

static void put_spans(GString *s, const struct clip_span *v, int n, int64_t day0, bool date)
{
	int shown = MIN(n, CLIP_SPANS_MAX);

	for (int i = 0; i < shown; i++) {
		if (i)
			g_string_append(s, i == shown - 1 && n == shown ? " and " : ", ");
		put_time(s, v[i].from_ms, day0, date && i == 0);
		g_string_append_c(s, '-');
		put_time(s, v[i].to_ms, day0, false);
	}
	if (n > shown)
		g_string_append_printf(s, " and %d more", n - shown);
}

char *clip_cover_text(const struct clip_cover *cov, const char *camera)
{
	int64_t sec0 = cov->from_ms >= 0 ? cov->from_ms / 1000 : -((-cov->from_ms + 999) / 1000);
	int64_t day0 = sec0 >= 0 ? sec0 / 86400 : (sec0 - 86399) / 86400;
	GString *s;

	if (!cov->n_missing)
		return NULL;
	s = g_string_new(NULL);
	if (!cov->n_held) {
		g_string_append_printf(s, "camera %s has no recording for ", camera);
		put_time(s, cov->from_ms, day0, true);
		g_string_append_c(s, '-');
		put_time(s, cov->to_ms, day0, false);
		g_string_append(s, " UTC");
		return g_string_free(s, FALSE);
	}
	g_string_append_printf(s, "camera %s has recordings for ", camera);
	put_spans(s, cov->held, cov->n_held, day0, true);
	g_string_append(s, " UTC only; nothing for ");
	put_spans(s, cov->missing, cov->n_missing, day0, false);
	if (cov->format_change_ms) {
		g_string_append(s, " (the stream changed format at ");
		put_time(s, cov->format_change_ms, day0, false);
		g_string_append_c(s, ')');
	}
	return g_string_free(s, FALSE);
}

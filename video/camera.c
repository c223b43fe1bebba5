/* One camera's pipeline, its supervision (watchdog, restart with capped backoff), recording
 * into the segment index (a failed recording branch is cut off and attached again, the stream
 * staying supervised), analysis of key frames and the health conditions. The main loop
 * thread owns struct camera; GStreamer streaming threads touch only struct pipe (counters and
 * the latest frames, under pipe->lock); teardown threads own a pipe or a cut-off recording
 * branch once it is handed over; a snapshot's decode and JPEG encode run on the thread that
 * calls cam_still_jpeg, on a copy of the key frame (struct cam_still). */
#define LOG_TAG "camera"
#include "video/camera.h"

#include <errno.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "video/metrics.h"

#define ANA_W 160
#define ANA_H 90
#define TICK_MS 250
#define FINALISE_US (3 * G_USEC_PER_SEC)

/* What the streaming threads share with the main loop for one pipeline instance. */
struct pipe {
	GstElement *pipeline;
	char *cam_id, *rec_dir;
	bool record;
	guint64 seg_ns;
	gint64 ana_interval_ns;
	GMutex lock;
	/* under lock */
	guint64 frames, bytes;
	gint64 last_buf_us; /* monotonic; 0: none yet */
	GstBuffer *key;	    /* last key frame */
	GstCaps *key_caps;
	GstClockTime last_ana_pts;
	guint8 frame[ANA_W * ANA_H];
	guint64 frame_seq;
	GstPad *parse_src; /* for caps: resolution */
	GstPad *rec_pad;   /* splitmuxsink's video pad: EOS goes there on a clean stop */
	GstElement *tee;   /* where the recording branch hangs; set once it is built */
	GstElement *split; /* the recording branch (splitmuxsink); NULL while cut off */
	GstPad *tee_pad;   /* the tee's request pad feeding split */
	char codec[8];
	/* atomic */
	gint rec_failed;   /* an error came from the recording branch: its input is dropped */
	gint rec_wait_key; /* a new recording branch gets nothing before a key frame */
};

struct camera {
	const struct cfg_camera *cfg;
	char *rec_dir;
	char *url_log; /* redacted */
	struct recindex *ix;
	GMainContext *ctx;
	camera_changed_fn fn;
	void *ud;
	GSource *tick;
	/* the running pipeline, or NULL while waiting to restart */
	struct pipe *p;
	GSource *bus_watch;
	int64_t started_us;    /* monotonic start of the current pipeline */
	int64_t restart_at_us; /* monotonic: when to start again */
	int backoff_ms;
	bool failing; /* logged the failure run */
	/* figures */
	struct camera_health h;
	guint64 last_frames, last_bytes, last_seq;
	int64_t rate_at_us;
	int64_t last_data_us;	 /* monotonic of the last buffer, or of creation */
	int64_t last_picture_us; /* last analysed frame */
	int64_t last_segment_us; /* last segment finished, or recording start */
	int64_t next_disk_us;
	bool seg_open;	/* a segment was opened and not closed yet */
	char *seg_path; /* ... that one, and its start */
	int64_t seg_start_ms;
	/* recording failures: the branch is cut off, retried with backoff; the fault holds until a
	 * segment closes */
	bool rec_fault;
	int64_t rec_retry_at_us;
	int rec_backoff_ms;
	char *dead_path; /* the segment the failed branch was writing, to settle in the index */
	int64_t dead_start_ms;
	bool fault_ret;
	struct va_state *va;
	struct vdet loss;
	/* teardown threads still running (under tlock) */
	GMutex tlock;
	GCond tcond;
	int teardowns;
	int rec_closing; /* of them, cut-off recording branches */
};

static const char *const cond_names[CC_N] = {
    "offline", "video_loss",	  "dark",     "covered",	"defocus", "moved",
    "frozen",  "recording_fault", "disk_low", "retention_short"};

const char *camera_cond_name(enum cam_cond c)
{
	return (unsigned)c < CC_N ? cond_names[c] : "?";
}

static int64_t wall_ms(void)
{
	return g_get_real_time() / 1000;
}

char *camera_redact_url(const char *url)
{
	const char *s = url ? strstr(url, "://") : NULL, *at, *slash;

	if (!s)
		return g_strdup(url ? url : "");
	s += 3;
	at = strchr(s, '@');
	slash = strchr(s, '/');
	if (!at || (slash && at > slash))
		return g_strdup(url);
	return g_strdup_printf("%.*s***@%s", (int)(s - url), url, at + 1);
}

/* Removes the password (and the URL's user info) from a GStreamer message before logging. */
static char *redact(const struct camera *c, const char *text)
{
	char *out = g_strdup(text ? text : "");

	if (c->cfg->password && *c->cfg->password) {
		char **parts = g_strsplit(out, c->cfg->password, -1);

		g_free(out);
		out = g_strjoinv("***", parts);
		g_strfreev(parts);
	}
	return out;
}

static bool set_cond(struct camera *c, enum cam_cond k, bool on, unsigned *mask)
{
	if (c->h.cond[k].active == on)
		return false;
	c->h.cond[k].active = on;
	c->h.cond[k].since_ms = wall_ms();
	*mask |= 1u << k;
	log_info("camera %s: %s %s", c->cfg->id, cond_names[k], on ? "raised" : "cleared");
	return true;
}

/* ---- streaming-thread callbacks (struct pipe only) ---- */

static GstPadProbeReturn on_au(GstPad *pad, GstPadProbeInfo *info, gpointer ud)
{
	struct pipe *p = ud;
	GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);

	(void)pad;
	g_mutex_lock(&p->lock);
	p->frames++;
	p->bytes += gst_buffer_get_size(b);
	p->last_buf_us = g_get_monotonic_time();
	if (!GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT)) {
		gst_buffer_replace(&p->key, b);
		if (!p->key_caps)
			p->key_caps = gst_pad_get_current_caps(pad);
	}
	g_mutex_unlock(&p->lock);
	return GST_PAD_PROBE_OK;
}

/* Only key frames, at most one per analysis interval, enter the analysis queue: dropped here,
 * on the streaming thread, the other frames cost no queue wake-up (a context switch each). */
static GstPadProbeReturn on_ana_in(GstPad *pad, GstPadProbeInfo *info, gpointer ud)
{
	struct pipe *p = ud;
	GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
	GstClockTime t = GST_BUFFER_PTS(b);
	GstPadProbeReturn r = GST_PAD_PROBE_OK;

	(void)pad;
	/* Key frames flagged HEADER pass too: h265parse flags every access unit that carries its
	 * VPS/SPS/PPS in band, which is each key frame of most H.265 cameras. */
	if (GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT))
		return GST_PAD_PROBE_DROP;
	g_mutex_lock(&p->lock);
	if (GST_CLOCK_TIME_IS_VALID(t) && GST_CLOCK_TIME_IS_VALID(p->last_ana_pts) &&
	    t > p->last_ana_pts &&
	    (gint64)(t - p->last_ana_pts) < p->ana_interval_ns - 50 * GST_MSECOND)
		r = GST_PAD_PROBE_DROP;
	else
		p->last_ana_pts = t;
	g_mutex_unlock(&p->lock);
	return r;
}

/* A decoded picture: its luma plane, read in place, is point-sampled down to ANA_W x ANA_H.
 * Done here rather than by videoconvert and videoscale, which convert the whole picture
 * first (about as much CPU as decoding the key frame). */
static GstFlowReturn on_sample(GstAppSink *sink, gpointer ud)
{
	struct pipe *p = ud;
	GstSample *s = gst_app_sink_pull_sample(sink);
	GstBuffer *b = s ? gst_sample_get_buffer(s) : NULL;
	GstCaps *caps = s ? gst_sample_get_caps(s) : NULL;
	guint8 small[ANA_W * ANA_H];
	GstVideoInfo vi;
	GstVideoFrame vf;

	if (!b || !caps || !gst_video_info_from_caps(&vi, caps) ||
	    !gst_video_frame_map(&vf, &vi, b, GST_MAP_READ))
		goto out;
	{
		struct vm_image src = {
		    GST_VIDEO_FRAME_COMP_DATA(&vf, 0), GST_VIDEO_FRAME_COMP_WIDTH(&vf, 0),
		    GST_VIDEO_FRAME_COMP_HEIGHT(&vf, 0), GST_VIDEO_FRAME_COMP_STRIDE(&vf, 0)};
		struct vm_image dst = {small, ANA_W, ANA_H, ANA_W};

		if (vm_sample(&src, GST_VIDEO_FRAME_COMP_PSTRIDE(&vf, 0), &dst) == 0) {
			g_mutex_lock(&p->lock);
			memcpy(p->frame, small, sizeof(small));
			p->frame_seq++;
			g_mutex_unlock(&p->lock);
		}
	}
	gst_video_frame_unmap(&vf);
out:
	if (s)
		gst_sample_unref(s);
	return GST_FLOW_OK;
}

static int64_t rt_to_wall_ms(GstElement *pipeline, GstClockTime rt)
{
	GstClock *clk = gst_element_get_clock(pipeline);
	int64_t now = wall_ms();

	if (!clk || !GST_CLOCK_TIME_IS_VALID(rt)) {
		if (clk)
			gst_object_unref(clk);
		return now;
	}
	GstClockTime ct = gst_clock_get_time(clk), at = gst_element_get_base_time(pipeline) + rt;
	gst_object_unref(clk);
	return now - ((gint64)ct - (gint64)at) / 1000000;
}

static gchar *on_format_location(GstElement *mux, guint id, GstSample *first, gpointer ud)
{
	struct pipe *p = ud;
	GstBuffer *b = first ? gst_sample_get_buffer(first) : NULL;
	const GstSegment *seg = first ? gst_sample_get_segment(first) : NULL;
	GstClockTime rt = GST_CLOCK_TIME_NONE;
	int64_t start;
	time_t sec;
	struct tm tm;
	char stamp[32];
	gchar *path;

	(void)id;
	if (b && seg)
		rt = gst_segment_to_running_time(seg, GST_FORMAT_TIME, GST_BUFFER_PTS(b));
	start = rt_to_wall_ms(p->pipeline, rt);
	sec = (time_t)(start / 1000);
	gmtime_r(&sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	path =
	    g_strdup_printf("%s/%s-%s%03dZ.mp4", p->rec_dir, p->cam_id, stamp, (int)(start % 1000));
	gst_element_post_message(
	    mux,
	    gst_message_new_element(
		GST_OBJECT(mux), gst_structure_new("hw-segment-open", "location", G_TYPE_STRING,
						   path, "start-ms", G_TYPE_INT64, start, NULL)));
	return path;
}

static GstElement *make(const char *factory, struct pipe *p)
{
	GstElement *e = gst_element_factory_make(factory, NULL);

	if (!e)
		log_err("camera %s: GStreamer element %s is missing", p->cam_id, factory);
	return e;
}

/* In front of the recording branch: nothing once the branch failed (the tee would otherwise
 * pass its error upstream and stop the whole stream), and nothing before a key frame. */
static GstPadProbeReturn on_rec_in(GstPad *pad, GstPadProbeInfo *info, gpointer ud)
{
	struct pipe *p = ud;
	GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);

	(void)pad;
	if (g_atomic_int_get(&p->rec_failed))
		return GST_PAD_PROBE_DROP;
	if (g_atomic_int_get(&p->rec_wait_key)) {
		if (GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT))
			return GST_PAD_PROBE_DROP;
		g_atomic_int_set(&p->rec_wait_key, 0);
	}
	return GST_PAD_PROBE_OK;
}

/* Builds the recording branch (mp4mux in splitmuxsink) on a request pad of tee, which may be
 * streaming already: the branch is playing before it is linked. On the streaming thread
 * (pad-added) or the main loop (a retry). Returns 0 or -errno. */
static int rec_attach(struct pipe *p, GstElement *tee)
{
	GstElement *mux = make("mp4mux", p), *split = make("splitmuxsink", p);
	GstPad *tpad = NULL, *vpad = NULL;

	if (!mux || !split) {
		if (mux)
			gst_object_unref(gst_object_ref_sink(mux));
		if (split)
			gst_object_unref(gst_object_ref_sink(split));
		return -ENOSYS;
	}
	/* Fragmented MP4: a crash loses at most the last fragment (1 s). */
	g_object_set(mux, "fragment-duration", 1000, "fragment-mode", 1, NULL);
	/* A little over the segment length, or timestamp jitter splits a GOP early. */
	g_object_set(split, "muxer", mux, "async-finalize", FALSE, "max-size-time",
		     p->seg_ns + GST_SECOND / 2, "send-keyframe-requests", FALSE, NULL);
	g_signal_connect(split, "format-location-full", G_CALLBACK(on_format_location), p);
	/* No queue of our own in front: splitmuxsink queues internally (a GOP at least, on a
	 * thread of its own), so one more would cost a thread and a hand-over per frame. */
	gst_object_ref(split);
	gst_bin_add(GST_BIN(p->pipeline), split);
	gst_element_sync_state_with_parent(split);
	vpad = gst_element_request_pad_simple(split, "video");
	tpad = gst_element_request_pad_simple(tee, "src_%u");
	if (!vpad || !tpad)
		goto fail;
	g_atomic_int_set(&p->rec_failed, 0);
	g_atomic_int_set(&p->rec_wait_key, 1);
	gst_pad_add_probe(tpad, GST_PAD_PROBE_TYPE_BUFFER, on_rec_in, p, NULL);
	g_mutex_lock(&p->lock);
	p->split = split;  /* our reference */
	p->rec_pad = vpad; /* ours */
	p->tee_pad = tpad; /* ours */
	g_mutex_unlock(&p->lock);
	if (gst_pad_link(tpad, vpad) != GST_PAD_LINK_OK) {
		log_err("camera %s: cannot link the recording branch", p->cam_id);
		return -EINVAL; /* kept in p: released with the pipeline */
	}
	return 0;
fail:
	if (tpad) {
		gst_element_release_request_pad(tee, tpad);
		gst_object_unref(tpad);
	}
	if (vpad)
		gst_object_unref(vpad);
	gst_element_set_state(split, GST_STATE_NULL);
	gst_bin_remove(GST_BIN(p->pipeline), split);
	gst_object_unref(split);
	return -EINVAL;
}

/* rtspsrc exposed a stream: video gets the depay/parse/tee tree, anything else a fakesink. */
static void on_pad_added(GstElement *src, GstPad *pad, gpointer ud)
{
	struct pipe *p = ud;
	GstCaps *caps = gst_pad_get_current_caps(pad);
	GstStructure *st = caps ? gst_caps_get_structure(caps, 0) : NULL;
	const char *media = st ? gst_structure_get_string(st, "media") : NULL;
	const char *enc = st ? gst_structure_get_string(st, "encoding-name") : NULL;
	bool h265 = enc && strcmp(enc, "H265") == 0;
	GstElement *bin = p->pipeline, *depay, *parse, *tee, *aq, *dec, *conv, *sink;
	GstPad *sinkpad, *pad2;
	GstCaps *luma;

	(void)src;
	if (!media || strcmp(media, "video") != 0 || !enc ||
	    (strcmp(enc, "H264") != 0 && strcmp(enc, "H265") != 0)) {
		GstElement *fs = gst_element_factory_make("fakesink", NULL);

		g_object_set(fs, "sync", FALSE, "async", FALSE, NULL);
		gst_bin_add(GST_BIN(bin), fs);
		gst_element_sync_state_with_parent(fs);
		sinkpad = gst_element_get_static_pad(fs, "sink");
		gst_pad_link(pad, sinkpad);
		gst_object_unref(sinkpad);
		goto out;
	}
	g_mutex_lock(&p->lock);
	if (p->parse_src) { /* a second video stream: ignored */
		g_mutex_unlock(&p->lock);
		goto out;
	}
	g_strlcpy(p->codec, h265 ? "h265" : "h264", sizeof(p->codec));
	g_mutex_unlock(&p->lock);
	depay = make(h265 ? "rtph265depay" : "rtph264depay", p);
	parse = make(h265 ? "h265parse" : "h264parse", p);
	tee = make("tee", p);
	aq = make("queue", p);
	dec = make(h265 ? "avdec_h265" : "avdec_h264", p);
	conv = make("videoconvert", p);
	sink = make("appsink", p);
	if (!depay || !parse || !tee || !aq || !dec || !conv || !sink)
		goto out; /* the watchdog restarts it (and it fails again, logged) */
	g_object_set(parse, "config-interval", -1, NULL);
	g_object_set(aq, "leaky", 2, "max-size-buffers", 2, "max-size-bytes", 0, "max-size-time",
		     (guint64)0, NULL);
	/* One frame a second at most: frame threading would only hold each picture back by a
	 * frame per extra thread, and cost a thread. */
	g_object_set(dec, "max-threads", 1, NULL);
	/* 8-bit formats whose first component is the full-size luma, which on_sample reads in
	 * place: what the decoders output for 8-bit streams, so videoconvert passes their
	 * buffers through untouched and converts only anything else (a 10-bit stream). */
	luma = gst_caps_from_string("video/x-raw, format=(string){ I420, YV12, NV12, NV21, Y42B, "
				    "Y444, Y41B, NV16, NV24, GRAY8 }");
	g_object_set(sink, "caps", luma, "max-buffers", 1, "drop", TRUE, "sync", FALSE, "async",
		     FALSE, NULL);
	gst_caps_unref(luma);
	{
		GstAppSinkCallbacks cb = {.new_sample = on_sample};

		gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, p, NULL);
	}
	gst_bin_add_many(GST_BIN(bin), depay, parse, tee, aq, dec, conv, sink, NULL);
	if (!gst_element_link_many(depay, parse, tee, NULL) ||
	    !gst_element_link_many(tee, aq, dec, conv, sink, NULL))
		log_err("camera %s: cannot link the analysis branch", p->cam_id);
	if (p->record && rec_attach(p, tee) < 0)
		log_err("camera %s: cannot build the recording branch", p->cam_id);
	g_mutex_lock(&p->lock);
	p->tee = gst_object_ref(tee); /* from now on the main loop may attach a new branch */
	g_mutex_unlock(&p->lock);
	pad2 = gst_element_get_static_pad(parse, "src");
	gst_pad_add_probe(pad2, GST_PAD_PROBE_TYPE_BUFFER, on_au, p, NULL);
	g_mutex_lock(&p->lock);
	p->parse_src = pad2;
	g_mutex_unlock(&p->lock);
	pad2 = gst_element_get_static_pad(aq, "sink");
	gst_pad_add_probe(pad2, GST_PAD_PROBE_TYPE_BUFFER, on_ana_in, p, NULL);
	gst_object_unref(pad2);
	gst_element_sync_state_with_parent(sink);
	gst_element_sync_state_with_parent(conv);
	gst_element_sync_state_with_parent(dec);
	gst_element_sync_state_with_parent(aq);
	gst_element_sync_state_with_parent(tee);
	gst_element_sync_state_with_parent(parse);
	gst_element_sync_state_with_parent(depay);
	sinkpad = gst_element_get_static_pad(depay, "sink");
	if (gst_pad_link(pad, sinkpad) != GST_PAD_LINK_OK)
		log_err("camera %s: cannot link the RTSP stream", p->cam_id);
	gst_object_unref(sinkpad);
out:
	if (caps)
		gst_caps_unref(caps);
}

static void pipe_free(struct pipe *p)
{
	if (p->pipeline) {
		GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(p->pipeline));

		gst_bus_set_sync_handler(bus, NULL, NULL, NULL);
		gst_object_unref(bus);
		gst_object_unref(p->pipeline);
	}
	if (p->parse_src)
		gst_object_unref(p->parse_src);
	if (p->rec_pad)
		gst_object_unref(p->rec_pad);
	if (p->tee_pad)
		gst_object_unref(p->tee_pad);
	if (p->split)
		gst_object_unref(p->split);
	if (p->tee)
		gst_object_unref(p->tee);
	gst_buffer_replace(&p->key, NULL);
	if (p->key_caps)
		gst_caps_unref(p->key_caps);
	g_mutex_clear(&p->lock);
	g_free(p->cam_id);
	g_free(p->rec_dir);
	g_free(p);
}

/* ---- main loop: pipeline life ---- */

/* Whether o is split or inside it (split may be NULL). */
static bool in_branch(GstObject *o, GstElement *split)
{
	return o && split && gst_object_has_as_ancestor(o, GST_OBJECT(split));
}

/* On the thread that posts: an error from the recording branch stops its input at once, before
 * its flow error reaches the tee (the main loop cuts the branch off when it reads the message). */
static GstBusSyncReply on_bus_sync(GstBus *bus, GstMessage *m, gpointer ud)
{
	struct pipe *p = ud;
	GstElement *split = NULL;

	(void)bus;
	if (GST_MESSAGE_TYPE(m) != GST_MESSAGE_ERROR)
		return GST_BUS_PASS;
	g_mutex_lock(&p->lock);
	if (p->split)
		split = gst_object_ref(p->split);
	g_mutex_unlock(&p->lock);
	if (in_branch(GST_MESSAGE_SRC(m), split))
		g_atomic_int_set(&p->rec_failed, 1);
	if (split)
		gst_object_unref(split);
	return GST_BUS_PASS;
}

static gboolean on_bus(GstBus *bus, GstMessage *m, gpointer ud);
static void segment_closed(struct camera *c, const GstStructure *s);

static int pipe_start(struct camera *c)
{
	const struct cfg_camera *k = c->cfg;
	struct pipe *p = g_new0(struct pipe, 1);
	GstElement *src;
	GstBus *bus;

	g_mutex_init(&p->lock);
	p->cam_id = g_strdup(k->id);
	p->rec_dir = g_strdup(c->rec_dir);
	p->record = k->record;
	p->seg_ns = (guint64)k->segment_s * GST_SECOND;
	p->ana_interval_ns = (gint64)k->analysis_interval_ms * GST_MSECOND;
	p->last_ana_pts = GST_CLOCK_TIME_NONE;
	p->pipeline = gst_pipeline_new(k->id);
	src = gst_element_factory_make("rtspsrc", "src");
	if (!p->pipeline || !src) {
		log_err("camera %s: cannot create rtspsrc", k->id);
		if (src)
			gst_object_unref(src);
		pipe_free(p);
		return -ENOSYS;
	}
	gst_object_ref_sink(p->pipeline);
	g_object_set(src, "location", k->url, "latency", 200, "protocols",
		     k->transport == CAM_UDP ? 1 /* udp */ : 4 /* tcp */, "tcp-timeout",
		     (guint64)k->offline_after_s * 1000000, "teardown-timeout",
		     (guint64)100 * GST_MSECOND, NULL);
	if (k->username)
		g_object_set(src, "user-id", k->username, NULL);
	if (k->password)
		g_object_set(src, "user-pw", k->password, NULL);
	g_signal_connect(src, "pad-added", G_CALLBACK(on_pad_added), p);
	gst_bin_add(GST_BIN(p->pipeline), src);
	bus = gst_pipeline_get_bus(GST_PIPELINE(p->pipeline));
	gst_bus_set_sync_handler(bus, on_bus_sync, p, NULL);
	c->bus_watch = gst_bus_create_watch(bus);
	g_source_set_callback(c->bus_watch, (GSourceFunc)(void (*)(void))on_bus, c, NULL);
	g_source_attach(c->bus_watch, c->ctx);
	gst_object_unref(bus);
	c->p = p;
	c->started_us = g_get_monotonic_time();
	c->last_seq = 0;
	c->last_frames = 0;
	c->last_bytes = 0;
	c->rate_at_us = c->started_us;
	c->last_segment_us = c->started_us;
	c->seg_open = false;
	if (gst_element_set_state(p->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		log_warn("camera %s: cannot start the pipeline", k->id);
		return -EIO;
	}
	log_debug("camera %s: connecting to %s", k->id, c->url_log);
	return 0;
}

/* A clean stop: EOS into the recording branch only, then the bus is read here (bounded) until
 * splitmuxsink reports the segment closed, so the last segment ends as a finalised MP4 and
 * its row is completed. The analysis branch keeps running meanwhile; it is torn down next. */
static void pipe_finalise(struct camera *c)
{
	GstPad *pad = NULL;
	GstBus *bus;
	gint64 until = g_get_monotonic_time() + FINALISE_US, left;

	if (!c->p || !c->seg_open)
		return;
	g_mutex_lock(&c->p->lock);
	if (c->p->rec_pad)
		pad = gst_object_ref(c->p->rec_pad);
	g_mutex_unlock(&c->p->lock);
	if (!pad)
		return;
	gst_pad_send_event(pad, gst_event_new_eos());
	gst_object_unref(pad);
	bus = gst_element_get_bus(c->p->pipeline);
	while (c->seg_open && (left = until - g_get_monotonic_time()) > 0) {
		GstMessage *m = gst_bus_timed_pop_filtered(bus, (GstClockTime)left * GST_USECOND,
							   GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR);
		const GstStructure *s;

		if (!m)
			break;
		s = gst_message_get_structure(m);
		if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
			gst_message_unref(m);
			break;
		}
		if (s && gst_structure_has_name(s, "splitmuxsink-fragment-closed"))
			segment_closed(c, s);
		gst_message_unref(m);
	}
	if (c->seg_open)
		log_warn("camera %s: the last segment was not finalised within %d ms", c->cfg->id,
			 (int)(FINALISE_US / 1000));
	else
		log_debug("camera %s: last segment finalised", c->cfg->id);
	gst_object_unref(bus);
}

static gpointer teardown_thread(gpointer data)
{
	void **v = data;
	struct camera *c = v[0];
	struct pipe *p = v[1];

	g_free(v);
	gst_element_set_state(p->pipeline, GST_STATE_NULL);
	pipe_free(p);
	g_mutex_lock(&c->tlock);
	c->teardowns--;
	g_cond_broadcast(&c->tcond);
	g_mutex_unlock(&c->tlock);
	return NULL;
}

/* Hands the pipeline to a thread that sets it to NULL: a dead source may block there. */
static void pipe_stop(struct camera *c)
{
	void **v;
	GThread *t;

	if (!c->p)
		return;
	if (c->bus_watch) {
		g_source_destroy(c->bus_watch);
		g_source_unref(c->bus_watch);
		c->bus_watch = NULL;
	}
	v = g_new(void *, 2);
	v[0] = c;
	v[1] = c->p;
	c->p = NULL;
	g_mutex_lock(&c->tlock);
	c->teardowns++;
	g_mutex_unlock(&c->tlock);
	t = g_thread_new("cam-teardown", teardown_thread, v);
	g_thread_unref(t);
}

static gpointer branch_teardown_thread(gpointer data)
{
	void **v = data;
	struct camera *c = v[0];
	GstElement *split = v[1];

	g_free(v);
	gst_element_set_state(split, GST_STATE_NULL);
	gst_object_unref(split);
	g_mutex_lock(&c->tlock);
	c->teardowns--;
	c->rec_closing--;
	g_cond_broadcast(&c->tcond);
	g_mutex_unlock(&c->tlock);
	return NULL;
}

/* Cuts the failed recording branch off the tee and out of the pipeline (its messages still
 * queued are then recognised as stale) and hands it to a thread that sets it to NULL. The
 * segment it was writing is settled in the index once that is done. */
static void rec_detach(struct camera *c)
{
	struct pipe *p = c->p;
	GstElement *split, *tee;
	GstPad *tpad, *vpad;
	void **v;

	g_mutex_lock(&p->lock);
	split = p->split;
	tpad = p->tee_pad;
	vpad = p->rec_pad;
	tee = p->tee ? gst_object_ref(p->tee) : NULL;
	p->split = NULL;
	p->tee_pad = NULL;
	p->rec_pad = NULL;
	g_mutex_unlock(&p->lock);
	if (tpad && tee)
		gst_element_release_request_pad(tee, tpad);
	if (tpad)
		gst_object_unref(tpad);
	if (vpad)
		gst_object_unref(vpad);
	if (tee)
		gst_object_unref(tee);
	if (c->seg_open) {
		g_free(c->dead_path);
		c->dead_path = c->seg_path;
		c->dead_start_ms = c->seg_start_ms;
		c->seg_path = NULL;
		c->seg_open = false;
	}
	if (!split)
		return;
	gst_bin_remove(GST_BIN(p->pipeline), split); /* our reference keeps it */
	v = g_new(void *, 2);
	v[0] = c;
	v[1] = split;
	g_mutex_lock(&c->tlock);
	c->teardowns++;
	c->rec_closing++;
	g_mutex_unlock(&c->tlock);
	g_thread_unref(g_thread_new("cam-rec-teardown", branch_teardown_thread, v));
}

/* A write error (no space, I/O error...) or any other error inside the recording branch: only
 * recording stops; the stream, its supervision and analysis go on. Logged when the failure
 * starts; a retry that fails again is only a debug line. */
static void rec_fail(struct camera *c, const char *what, const char *detail)
{
	const struct cfg_camera *k = c->cfg;

	if (!c->rec_fault) {
		c->rec_backoff_ms = k->reconnect_min_ms;
		log_warn("camera %s: recording failed: %s (%s); the stream stays supervised, "
			 "recording is retried from %d ms on",
			 k->id, what, detail, c->rec_backoff_ms);
	} else {
		log_debug("camera %s: recording failed again: %s; retry in %d ms", k->id, what,
			  c->rec_backoff_ms);
	}
	c->rec_fault = true;
	rec_detach(c);
	c->rec_retry_at_us = g_get_monotonic_time() + (int64_t)c->rec_backoff_ms * 1000;
	c->rec_backoff_ms = MIN(c->rec_backoff_ms * 2, k->reconnect_max_ms);
}

/* The main loop's share of recording recovery, every tick: the failed branch's segment is
 * settled once its file is closed, and a new branch is attached when the backoff is over. */
static void rec_retry(struct camera *c, int64_t now_us)
{
	GstElement *tee = NULL;
	bool closing, down;
	int rc;

	g_mutex_lock(&c->tlock);
	closing = c->rec_closing > 0;
	g_mutex_unlock(&c->tlock);
	if (closing)
		return;
	if (c->dead_path) {
		rc = c->ix ? recindex_settle(c->ix, c->cfg->id, c->dead_path, c->dead_start_ms) : 0;
		log_debug("camera %s: failed segment %s: %s", c->cfg->id, c->dead_path,
			  rc == 1   ? "kept as far as it was written"
			  : rc == 0 ? "deleted (unplayable)"
				    : strerror(-rc));
		g_clear_pointer(&c->dead_path, g_free);
		c->next_disk_us = 0;
	}
	if (!c->p || !c->rec_fault || now_us < c->rec_retry_at_us)
		return;
	g_mutex_lock(&c->p->lock);
	down = c->p->tee && !c->p->split;
	if (down)
		tee = gst_object_ref(c->p->tee);
	g_mutex_unlock(&c->p->lock);
	if (!down)
		return;
	log_debug("camera %s: attaching the recording branch again", c->cfg->id);
	if (rec_attach(c->p, tee) < 0)
		rec_fail(c, "cannot attach the recording branch", "retrying");
	gst_object_unref(tee);
}

static void restart(struct camera *c, const char *why, bool hard)
{
	int64_t now = g_get_monotonic_time();

	pipe_stop(c);
	if (hard)
		c->backoff_ms = c->cfg->reconnect_max_ms;
	if (!c->failing)
		log_warn("camera %s: %s; restarting (backoff from %d ms)", c->cfg->id, why,
			 c->backoff_ms);
	else
		log_debug("camera %s: %s; retry in %d ms", c->cfg->id, why, c->backoff_ms);
	c->failing = true;
	c->restart_at_us = now + (int64_t)c->backoff_ms * 1000;
	c->backoff_ms = c->backoff_ms * 2 > c->cfg->reconnect_max_ms ? c->cfg->reconnect_max_ms
								     : c->backoff_ms * 2;
	c->h.reconnects++;
}

static void segment_closed(struct camera *c, const GstStructure *s)
{
	const char *loc = gst_structure_get_string(s, "location");
	GstClockTime rt = GST_CLOCK_TIME_NONE;
	struct stat sb;
	int64_t end;
	char *base;

	if (!loc || !c->p)
		return;
	gst_structure_get_clock_time(s, "running-time", &rt);
	end = rt_to_wall_ms(c->p->pipeline, rt);
	if (stat(loc, &sb) < 0)
		return;
	c->seg_open = false;
	g_clear_pointer(&c->seg_path, g_free);
	c->h.segments++;
	c->last_segment_us = g_get_monotonic_time();
	base = g_path_get_basename(loc);
	if (c->rec_fault) {
		log_info("camera %s: recording again (segment %s closed)", c->cfg->id, base);
		c->rec_fault = false;
		c->rec_backoff_ms = c->cfg->reconnect_min_ms;
	}
	if (c->ix) {
		/* The start is already in the row written when the segment was opened. */
		recindex_finish(c->ix, c->cfg->id, loc, end - (int64_t)c->cfg->segment_s * 1000,
				end, (int64_t)sb.st_size);
	}
	log_debug("camera %s: segment %s closed (%lld bytes)", c->cfg->id, base,
		  (long long)sb.st_size);
	g_free(base);
	c->next_disk_us = 0; /* run retention at the next tick */
}

static gboolean on_bus(GstBus *bus, GstMessage *m, gpointer ud)
{
	struct camera *c = ud;
	GError *err = NULL;
	char *dbg = NULL, *a, *b;
	const GstStructure *s;
	GstElement *split;
	/* Posted by an element no longer in the pipeline: a recording branch cut off. */
	bool stale = !c->p || !GST_MESSAGE_SRC(m) ||
		     !gst_object_has_as_ancestor(GST_MESSAGE_SRC(m), GST_OBJECT(c->p->pipeline));

	(void)bus;
	switch (GST_MESSAGE_TYPE(m)) {
	case GST_MESSAGE_ERROR:
		if (stale)
			break; /* a recording branch already cut off */
		gst_message_parse_error(m, &err, &dbg);
		a = redact(c, err ? err->message : "?");
		b = redact(c, dbg);
		g_mutex_lock(&c->p->lock);
		split = c->p->split ? gst_object_ref(c->p->split) : NULL;
		g_mutex_unlock(&c->p->lock);
		if (in_branch(GST_MESSAGE_SRC(m), split)) {
			rec_fail(c, a, b);
			gst_object_unref(split);
			g_free(a);
			g_free(b);
			g_clear_error(&err);
			g_free(dbg);
			break;
		}
		if (split)
			gst_object_unref(split);
		if (!c->failing)
			log_warn("camera %s: %s (%s)", c->cfg->id, a, b);
		restart(c, "stream error",
			err && err->domain == GST_RESOURCE_ERROR &&
			    err->code == GST_RESOURCE_ERROR_NOT_AUTHORIZED);
		g_free(a);
		g_free(b);
		g_clear_error(&err);
		g_free(dbg);
		return G_SOURCE_REMOVE; /* the watch was destroyed with the pipeline */
	case GST_MESSAGE_EOS:
		restart(c, "end of stream", false);
		return G_SOURCE_REMOVE;
	case GST_MESSAGE_ELEMENT:
		s = gst_message_get_structure(m);
		if (!s || stale)
			break;
		if (gst_structure_has_name(s, "hw-segment-open")) {
			gint64 start = 0;

			gst_structure_get_int64(s, "start-ms", &start);
			c->seg_open = true;
			g_free(c->seg_path);
			c->seg_path = g_strdup(gst_structure_get_string(s, "location"));
			c->seg_start_ms = start;
			if (c->ix)
				recindex_begin(c->ix, c->cfg->id, start,
					       gst_structure_get_string(s, "location"));
		} else if (gst_structure_has_name(s, "splitmuxsink-fragment-closed")) {
			segment_closed(c, s);
		}
		break;
	default:
		break;
	}
	return G_SOURCE_CONTINUE;
}

/* ---- main loop: the tick ---- */

static bool disk_short(void *ud)
{
	struct camera *c = ud;
	struct statvfs sv;

	if (c->cfg->disk_min_free_mb <= 0 || statvfs(c->rec_dir, &sv) < 0)
		return false;
	return (uint64_t)sv.f_bavail * sv.f_frsize < (uint64_t)c->cfg->disk_min_free_mb << 20;
}

static void disk_check(struct camera *c, int64_t now_us, unsigned *mask)
{
	bool young = false;
	int64_t max_age = (int64_t)c->cfg->retention_days * 86400000;

	if (now_us < c->next_disk_us)
		return;
	c->next_disk_us = now_us + 10 * G_USEC_PER_SEC;
	if (c->ix) {
		recindex_retain(c->ix, c->cfg->id, wall_ms(), max_age,
				(int64_t)(c->cfg->disk_budget_mb * 1048576.0), disk_short, c,
				&young);
		recindex_span(c->ix, c->cfg->id, &c->h.oldest_recording_ms, &c->h.recorded_bytes);
	}
	if (young)
		c->fault_ret = true;
	else if (c->h.oldest_recording_ms && c->h.oldest_recording_ms <= wall_ms() - max_age)
		c->fault_ret = false;
	set_cond(c, CC_RETENTION_SHORT, c->fault_ret, mask);
	set_cond(c, CC_DISK_LOW, disk_short(c), mask);
}

static void analyse(struct camera *c, int64_t now_us, unsigned *mask)
{
	static const enum cam_cond map[VA_N] = {CC_DARK, CC_COVERED, CC_DEFOCUS, CC_FROZEN,
						CC_MOVED};
	guint8 *img = NULL;
	unsigned ch = 0;

	g_mutex_lock(&c->p->lock);
	if (c->p->frame_seq != c->last_seq) {
		c->last_seq = c->p->frame_seq;
		img = g_memdup2(c->p->frame, sizeof(c->p->frame));
	}
	g_mutex_unlock(&c->p->lock);
	if (!img)
		return;
	{
		struct vm_image im = {img, ANA_W, ANA_H, ANA_W};

		va_feed(c->va, &im, now_us / 1000, &ch);
	}
	g_free(img);
	c->last_picture_us = now_us;
	c->h.analysed++;
	c->h.luma = c->va->last.mean;
	c->h.contrast = c->va->last.stddev;
	c->h.sharpness = c->va->last.lap_var;
	c->h.motion = c->va->last_mad;
	for (int i = 0; i < VA_N; i++)
		if (ch & (1u << i))
			set_cond(c, map[i], c->va->det[i].active, mask);
}

static void drop_picture_conditions(struct camera *c, int64_t now_us, unsigned *mask)
{
	static const enum cam_cond map[VA_N] = {CC_DARK, CC_COVERED, CC_DEFOCUS, CC_FROZEN,
						CC_MOVED};
	unsigned ch = 0;

	va_reset(c->va, now_us / 1000, &ch);
	for (int i = 0; i < VA_N; i++)
		if (ch & (1u << i))
			set_cond(c, map[i], false, mask);
}

static gboolean on_tick(gpointer ud)
{
	struct camera *c = ud;
	const struct cfg_camera *k = c->cfg;
	int64_t now = g_get_monotonic_time();
	int64_t off_us = (int64_t)k->offline_after_s * G_USEC_PER_SEC;
	unsigned mask = 0;
	bool other = false, online, recording;
	guint64 frames = 0, bytes = 0;
	gint64 last_buf = 0;
	GstPad *ps = NULL;

	if (!c->p && now >= c->restart_at_us && pipe_start(c) < 0)
		restart(c, "cannot start", false);
	if (c->p) {
		g_mutex_lock(&c->p->lock);
		frames = c->p->frames;
		bytes = c->p->bytes;
		last_buf = c->p->last_buf_us;
		if (c->p->parse_src)
			ps = gst_object_ref(c->p->parse_src);
		c->h.codec =
		    c->p->codec[0]
			? (c->p->codec[0] == 'h' && c->p->codec[3] == '5' ? "h265" : "h264")
			: NULL;
		g_mutex_unlock(&c->p->lock);
		if (last_buf > c->last_data_us)
			c->last_data_us = last_buf;
		/* Watchdog: no data since start or since the last buffer. */
		if (now - (last_buf ? last_buf : c->started_us) > off_us) {
			restart(c, last_buf ? "no data" : "no data since connecting", false);
		} else if (last_buf && c->failing && now - c->started_us > 10 * G_USEC_PER_SEC) {
			log_info("camera %s: streaming again", k->id);
			c->failing = false;
			c->backoff_ms = k->reconnect_min_ms;
		}
	}
	online = c->p && last_buf && now - last_buf <= off_us;
	if (online != c->h.online) {
		c->h.online = online;
		other = true;
		if (!online)
			drop_picture_conditions(c, now, &mask);
	}
	set_cond(c, CC_OFFLINE, now - c->last_data_us > off_us, &mask);
	if (c->p && now - c->rate_at_us >= G_USEC_PER_SEC) {
		double dt = (double)(now - c->rate_at_us) / G_USEC_PER_SEC;

		c->h.fps = (double)(frames - c->last_frames) / dt;
		c->h.bitrate_kbps = (double)(bytes - c->last_bytes) * 8 / 1000 / dt;
		c->h.frames += frames - c->last_frames;
		c->last_frames = frames;
		c->last_bytes = bytes;
		c->rate_at_us = now;
	} else if (!c->p) {
		c->h.fps = 0;
		c->h.bitrate_kbps = 0;
	}
	if (online)
		c->h.last_frame_ms = wall_ms() - (now - last_buf) / 1000;
	if (ps) {
		GstCaps *caps = gst_pad_get_current_caps(ps);

		if (caps) {
			GstStructure *st = gst_caps_get_structure(caps, 0);
			int w = 0, hh = 0;

			gst_structure_get_int(st, "width", &w);
			gst_structure_get_int(st, "height", &hh);
			if (w != c->h.width || hh != c->h.height) {
				if (c->h.width)
					log_info("camera %s: resolution %dx%d -> %dx%d", k->id,
						 c->h.width, c->h.height, w, hh);
				c->h.width = w;
				c->h.height = hh;
				other = true;
			}
			gst_caps_unref(caps);
		}
		gst_object_unref(ps);
	}
	if (c->p && online)
		analyse(c, now, &mask);
	/* Video loss: connected but no picture, or far below the expected frame rate. */
	{
		int64_t pic_us = (int64_t)MAX(k->video_loss_ms, 3 * k->analysis_interval_ms) * 1000;
		bool low = k->expected_fps > 0 && c->h.fps < k->fps_low_ratio * k->expected_fps &&
			   now - c->started_us > 2 * G_USEC_PER_SEC;
		bool nopic = now - MAX(c->last_picture_us, c->started_us) > pic_us;
		enum vd_input in = !online ? VD_OFF : (low || nopic) ? VD_ON : VD_OFF;

		if (vdet_feed(&c->loss, in, now / 1000))
			set_cond(c, CC_VIDEO_LOSS, c->loss.active, &mask);
	}
	if (k->record)
		rec_retry(c, now);
	recording = k->record && online && !c->rec_fault;
	if (recording != c->h.recording) {
		c->h.recording = recording;
		other = true;
	}
	if (k->record) {
		int64_t limit = MAX(120, 2 * k->segment_s + 30) * G_USEC_PER_SEC;

		set_cond(c, CC_RECORDING_FAULT,
			 c->rec_fault || (online && now - c->last_segment_us > limit), &mask);
	}
	disk_check(c, now, &mask);
	if ((mask || other) && c->fn)
		c->fn(c, mask, c->ud);
	return G_SOURCE_CONTINUE;
}

int camera_create(const struct cfg_camera *cfg, const char *rec_dir, struct recindex *ix,
		  GMainContext *ctx, camera_changed_fn fn, void *ud, struct camera **out)
{
	struct camera *c;
	struct va_params vp;
	int n;

	*out = NULL;
	if (g_mkdir_with_parents(rec_dir, 0750) < 0) {
		int rc = -errno;

		log_err("camera %s: cannot create %s: %s", cfg->id, rec_dir, strerror(-rc));
		return rc;
	}
	c = g_new0(struct camera, 1);
	c->cfg = cfg;
	c->rec_dir = g_strdup(rec_dir);
	c->url_log = camera_redact_url(cfg->url);
	c->ix = ix;
	c->ctx = ctx;
	c->fn = fn;
	c->ud = ud;
	c->backoff_ms = cfg->reconnect_min_ms;
	c->last_data_us = g_get_monotonic_time();
	c->h.motion = -1;
	g_mutex_init(&c->tlock);
	g_cond_init(&c->tcond);
	va_params_default(&vp);
	vp.dark_level = cfg->dark_level;
	vp.black_frac = cfg->dark_fraction;
	vp.black_frac_off = cfg->dark_fraction - 0.08;
	vp.black_ms = cfg->dark_ms;
	vp.covered_dark_frac = cfg->covered_fraction;
	vp.covered_mean = cfg->covered_mean;
	vp.covered_bin_frac = cfg->flat_fraction;
	vp.covered_stddev = cfg->flat_stddev;
	vp.covered_ms = cfg->covered_ms;
	vp.defocus_ratio = cfg->defocus_ratio;
	vp.defocus_off_ratio = MIN(0.99, cfg->defocus_ratio * 1.5);
	vp.defocus_ms = cfg->defocus_ms;
	vp.frozen_mad = cfg->frozen_mad;
	vp.frozen_off_mad = MAX(1.0, cfg->frozen_mad * 4);
	vp.frozen_ms = cfg->frozen_ms;
	vp.moved_diff = cfg->moved_diff;
	vp.moved_frac = cfg->moved_fraction;
	vp.moved_off_frac = cfg->moved_fraction * 0.6;
	vp.moved_ms = cfg->moved_ms;
	vp.clear_ms = cfg->clear_ms;
	vp.cooldown_ms = cfg->cooldown_ms;
	c->va = g_new0(struct va_state, 1);
	va_init(c->va, &vp);
	vdet_init(&c->loss, cfg->video_loss_ms, cfg->clear_ms, cfg->cooldown_ms);
	if (ix) {
		n = recindex_recover(ix, cfg->id, rec_dir);
		if (n > 0)
			log_info("camera %s: %d segment(s) left by an interrupted run indexed",
				 cfg->id, n);
	}
	log_info("camera %s: %s over %s, %s", cfg->id, c->url_log,
		 cfg->transport == CAM_UDP ? "udp" : "tcp",
		 cfg->record ? "recording" : "not recording");
	c->tick = g_timeout_source_new(TICK_MS);
	g_source_set_callback(c->tick, on_tick, c, NULL);
	g_source_attach(c->tick, ctx);
	*out = c;
	return 0;
}

void camera_destroy(struct camera *c)
{
	gint64 until;
	bool left;

	if (!c)
		return;
	g_source_destroy(c->tick);
	g_source_unref(c->tick);
	pipe_finalise(c);
	pipe_stop(c);
	until = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
	g_mutex_lock(&c->tlock);
	while (c->teardowns > 0 && g_cond_wait_until(&c->tcond, &c->tlock, until))
		;
	left = c->teardowns > 0;
	g_mutex_unlock(&c->tlock);
	if (left) {
		/* A teardown thread still holds c: leave it allocated rather than free under it. */
		log_warn("camera %s: pipeline did not stop within 5 s", c->cfg->id);
		return;
	}
	if (c->dead_path && c->ix)
		recindex_settle(c->ix, c->cfg->id, c->dead_path, c->dead_start_ms);
	g_mutex_clear(&c->tlock);
	g_cond_clear(&c->tcond);
	g_free(c->dead_path);
	g_free(c->seg_path);
	g_free(c->va);
	g_free(c->rec_dir);
	g_free(c->url_log);
	g_free(c);
}

const struct cfg_camera *camera_cfg(const struct camera *c)
{
	return c->cfg;
}

const struct camera_health *camera_health(const struct camera *c)
{
	return &c->h;
}

/* ---- snapshots: the last key frame, encoded on the caller's thread ---- */

struct cam_still {
	GstBuffer *key;
	GstCaps *caps;
	gint cancelled; /* atomic */
};

int camera_still(struct camera *c, struct cam_still **out)
{
	struct cam_still *st;
	GstBuffer *key = NULL;
	GstCaps *caps = NULL;

	*out = NULL;
	if (c->p) {
		g_mutex_lock(&c->p->lock);
		if (c->p->key && c->p->key_caps) {
			key = gst_buffer_ref(c->p->key);
			caps = gst_caps_ref(c->p->key_caps);
		}
		g_mutex_unlock(&c->p->lock);
	}
	if (!key)
		return -EAGAIN;
	st = g_new0(struct cam_still, 1);
	st->key = key;
	st->caps = caps;
	*out = st;
	return 0;
}

void cam_still_cancel(struct cam_still *st)
{
	g_atomic_int_set(&st->cancelled, 1);
}

void cam_still_free(struct cam_still *st)
{
	if (!st)
		return;
	gst_buffer_unref(st->key);
	gst_caps_unref(st->caps);
	g_free(st);
}

/* The key frame goes into the parser's sink pad from the calling thread, without an appsrc:
 * parsing, decoding, conversion, encoding and writing all run on that thread (an appsrc would
 * hand them to a streaming thread of GStreamer's shared pool), so the caller's scheduling
 * (video.c lowers its workers' priority) applies to the whole snapshot. */
int cam_still_jpeg(struct cam_still *st, const char *path, int timeout_ms)
{
	GstElement *pl, *parse, *sink;
	GstPad *in = NULL;
	GstBus *bus;
	GstMessage *m;
	GError *err = NULL;
	GstBuffer *cp;
	GstSegment seg;
	struct stat sb;
	char *desc;
	int rc = -EIO;
	bool h265;

	if (g_atomic_int_get(&st->cancelled))
		return -ECANCELED;
	h265 = gst_structure_has_name(gst_caps_get_structure(st->caps, 0), "video/x-h265");
	desc =
	    g_strdup_printf("%s name=parse ! %s ! videoconvert ! jpegenc quality=85 ! "
			    "filesink name=sink",
			    h265 ? "h265parse" : "h264parse", h265 ? "avdec_h265" : "avdec_h264");
	pl = gst_parse_launch(desc, &err);
	g_free(desc);
	if (!pl) {
		g_clear_error(&err);
		return -EIO;
	}
	parse = gst_bin_get_by_name(GST_BIN(pl), "parse");
	sink = gst_bin_get_by_name(GST_BIN(pl), "sink");
	g_object_set(sink, "location", path, NULL);
	bus = gst_element_get_bus(pl);
	/* The file is opened here: on a stalled file system this is where it waits. */
	if (gst_element_set_state(pl, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
		goto stop;
	if (g_atomic_int_get(&st->cancelled)) {
		rc = -ECANCELED;
		goto stop;
	}
	in = gst_element_get_static_pad(parse, "sink");
	gst_segment_init(&seg, GST_FORMAT_TIME);
	cp = gst_buffer_copy(st->key);
	GST_BUFFER_PTS(cp) = GST_BUFFER_DTS(cp) = 0;
	if (!gst_pad_send_event(in, gst_event_new_stream_start("hw-snapshot")) ||
	    !gst_pad_send_event(in, gst_event_new_caps(st->caps)) ||
	    !gst_pad_send_event(in, gst_event_new_segment(&seg))) {
		gst_buffer_unref(cp);
		goto stop;
	}
	gst_pad_chain(in, cp);
	gst_pad_send_event(in, gst_event_new_eos());
	/* The EOS went through on this thread: the message is there, or an error is. */
	m = gst_bus_timed_pop_filtered(bus, (GstClockTime)timeout_ms * GST_MSECOND,
				       GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	if (!m)
		rc = -ETIMEDOUT;
	else if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS)
		rc = 0;
	if (m)
		gst_message_unref(m);
stop:
	gst_element_set_state(pl, GST_STATE_NULL);
	/* A key frame the decoder could not use ends in EOS too, with nothing written. */
	if (rc == 0 && (stat(path, &sb) < 0 || sb.st_size == 0))
		rc = -EIO;
	if (rc == 0 && g_atomic_int_get(&st->cancelled))
		rc = -ECANCELED;
	if (rc < 0)
		unlink(path);
	if (in)
		gst_object_unref(in);
	gst_object_unref(bus);
	gst_object_unref(parse);
	gst_object_unref(sink);
	gst_object_unref(pl);
	return rc;
}

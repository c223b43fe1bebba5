/* hw-testcam: an RTSP test camera on gst-rtsp-server for tests, benchmarks and the demo.
 * Each mount serves a generated scene (textured ramp, moving square, sensor noise) encoded
 * with x264/x265, or a pre-encoded H.264 file in a loop without re-encoding (--file). Its
 * picture is changed at run time by commands on stdin (see usage()). The main thread runs the
 * GLib loop (server, stdin); frames are produced on the media's streaming thread in need-data. */
#include <errno.h>
#include <glib-unix.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mode { M_NORMAL = 0, M_BLACK, M_FREEZE, M_BLUR, M_SCENE };

struct mount {
	char *path;
	GstRTSPMediaFactory *factory; /* our own reference */
	GMutex lock;
	enum mode mode;
	int fps;
	bool stopped;
	/* Generator state, touched only under lock. */
	uint64_t frame_no;
	guint8 *last; /* last normal frame, for freeze */
	guint32 rng;
};

struct cam {
	GMainLoop *loop;
	GstRTSPServer *server;
	GstRTSPMountPoints *mounts;
	struct mount **m;
	int n;
	int w, h, fps;
	bool h265;
	/* --file: the pre-encoded access units, served in a loop. */
	GPtrArray *au;
	GstCaps *au_caps;
	GstClockTime au_dur;
	GString *line;
};

struct media_ctx {
	struct cam *cam;
	struct mount *m;
	GstClockTime ts;
	guint idx;
};

static size_t frame_size(const struct cam *c)
{
	return (size_t)c->w * c->h * 3 / 2;
}

static inline guint32 rnd(guint32 *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 16;
}

static inline guint8 clamp8(int v)
{
	return (guint8)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The scene: a horizontal ramp (shifted by half a picture in "scene" mode, so every region
 * changes brightness by ~85), a checker texture, a moving bright square and noise of +-4. */
static void draw(const struct cam *c, struct mount *m, guint8 *f, bool moved)
{
	int w = c->w, h = c->h;
	int sq = h / 6, sx = (int)((m->frame_no * (guint64)(w / 40 + 1)) % (guint64)(w - sq)),
	    sy = h / 3;
	int cell = w / 20 > 2 ? w / 20 : 2;

	for (int y = 0; y < h; y++) {
		guint8 *r = f + (size_t)y * w;

		for (int x = 0; x < w; x++) {
			int xr = moved ? (x + w / 2) % w : x;
			int v = 50 + 170 * xr / w;

			v += (((x / cell) + (y / cell)) & 1) ? 22 : -22;
			if (x >= sx && x < sx + sq && y >= sy && y < sy + sq)
				v = 235;
			v += (int)(rnd(&m->rng) % 9) - 4;
			r[x] = clamp8(v);
		}
	}
	memset(f + (size_t)w * h, 128, (size_t)w * h / 2);
}

static void blur(const struct cam *c, guint8 *f)
{
	int w = c->w, h = c->h, r = w / 64 > 2 ? w / 64 : 2;
	guint8 *tmp = g_malloc((size_t)w * h);

	for (int pass = 0; pass < 2; pass++) {
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				int s = 0, n = 0;

				for (int d = -r; d <= r; d++) {
					int xx = pass ? x : x + d, yy = pass ? y + d : y;

					if (xx < 0 || xx >= w || yy < 0 || yy >= h)
						continue;
					s += f[(size_t)yy * w + xx];
					n++;
				}
				tmp[(size_t)y * w + x] = (guint8)(s / n);
			}
		memcpy(f, tmp, (size_t)w * h);
	}
	g_free(tmp);
}

static GstBuffer *make_frame(struct cam *c, struct mount *m, GstClockTime *dur)
{
	size_t sz = frame_size(c);
	GstBuffer *b = gst_buffer_new_allocate(NULL, sz, NULL);
	GstMapInfo mi;

	gst_buffer_map(b, &mi, GST_MAP_WRITE);
	g_mutex_lock(&m->lock);
	switch (m->mode) {
	case M_BLACK:
		memset(mi.data, 16, (size_t)c->w * c->h);
		memset(mi.data + (size_t)c->w * c->h, 128, (size_t)c->w * c->h / 2);
		break;
	case M_FREEZE:
		if (m->last) {
			memcpy(mi.data, m->last, sz);
			break;
		}
		/* fall through */
	case M_NORMAL:
	case M_BLUR:
	case M_SCENE:
		draw(c, m, mi.data, m->mode == M_SCENE);
		if (m->mode == M_BLUR)
			blur(c, mi.data);
		if (!m->last)
			m->last = g_malloc(sz);
		memcpy(m->last, mi.data, sz);
		break;
	}
	m->frame_no++;
	*dur = gst_util_uint64_scale_int(GST_SECOND, 1, m->fps > 0 ? m->fps : 1);
	g_mutex_unlock(&m->lock);
	gst_buffer_unmap(b, &mi);
	return b;
}

static void need_data(GstElement *src, guint len, gpointer ud)
{
	struct media_ctx *x = ud;
	struct cam *c = x->cam;
	GstBuffer *b;
	GstClockTime dur;

	(void)len;
	if (c->au) {
		b = gst_buffer_copy(g_ptr_array_index(c->au, x->idx));
		x->idx = (x->idx + 1) % c->au->len;
		dur = c->au_dur;
	} else {
		b = make_frame(c, x->m, &dur);
	}
	GST_BUFFER_PTS(b) = x->ts;
	GST_BUFFER_DTS(b) = x->ts;
	GST_BUFFER_DURATION(b) = dur;
	x->ts += dur;
	gst_app_src_push_buffer(GST_APP_SRC(src), b);
}

static void media_configure(GstRTSPMediaFactory *f, GstRTSPMedia *media, gpointer ud)
{
	struct mount *m = ud;
	struct cam *c = g_object_get_data(G_OBJECT(f), "cam");
	GstElement *el = gst_rtsp_media_get_element(media);
	GstElement *src = gst_bin_get_by_name_recurse_up(GST_BIN(el), "src");
	struct media_ctx *x = g_new0(struct media_ctx, 1);
	GstCaps *caps;

	x->cam = c;
	x->m = m;
	if (c->au)
		caps = gst_caps_ref(c->au_caps);
	else
		caps = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width",
					   G_TYPE_INT, c->w, "height", G_TYPE_INT, c->h,
					   "framerate", GST_TYPE_FRACTION, c->fps, 1, NULL);
	g_object_set(src, "format", GST_FORMAT_TIME, "caps", caps, NULL);
	gst_caps_unref(caps);
	g_object_set_data_full(G_OBJECT(media), "hw-ctx", x, g_free);
	g_signal_connect(src, "need-data", G_CALLBACK(need_data), x);
	gst_object_unref(src);
	gst_object_unref(el);
}

static char *launch_line(const struct cam *c)
{
	if (c->au)
		return g_strdup("( appsrc name=src ! h264parse ! "
				"rtph264pay name=pay0 pt=96 config-interval=-1 )");
	if (c->h265)
		return g_strdup_printf(
		    "( appsrc name=src ! x265enc tune=zerolatency speed-preset=ultrafast "
		    "key-int-max=%d option-string=repeat-headers=1 ! "
		    "rtph265pay name=pay0 pt=96 config-interval=-1 )",
		    c->fps);
	/* Constant quantizer: an unchanged picture encodes to the same bytes every time. */
	return g_strdup_printf(
	    "( appsrc name=src ! x264enc tune=zerolatency speed-preset=ultrafast "
	    "key-int-max=%d pass=quant quantizer=24 ! video/x-h264,profile=main "
	    "! rtph264pay name=pay0 pt=96 config-interval=-1 )",
	    c->fps);
}

static struct mount *find(struct cam *c, const char *path)
{
	for (int i = 0; i < c->n; i++)
		if (strcmp(c->m[i]->path, path) == 0)
			return c->m[i];
	return NULL;
}

static GstRTSPFilterResult media_match(GstRTSPSession *s, GstRTSPSessionMedia *sm, gpointer ud)
{
	gint matched;

	(void)s;
	if (gst_rtsp_session_media_matches(sm, ud, &matched))
		*(bool *)g_object_get_data(G_OBJECT(s), "hw-hit") = true;
	return GST_RTSP_FILTER_KEEP;
}

/* Closes the connection of every client with a session on the mount. */
static GstRTSPFilterResult client_kick(GstRTSPServer *srv, GstRTSPClient *cl, gpointer ud)
{
	bool hit = false;
	GList *ss;

	(void)srv;
	ss = gst_rtsp_client_session_filter(cl, NULL, NULL);
	for (GList *l = ss; l; l = l->next) {
		g_object_set_data(G_OBJECT(l->data), "hw-hit", &hit);
		gst_rtsp_session_filter(l->data, media_match, ud);
		g_object_set_data(G_OBJECT(l->data), "hw-hit", NULL);
	}
	g_list_free_full(ss, g_object_unref);
	return hit ? GST_RTSP_FILTER_REMOVE : GST_RTSP_FILTER_KEEP;
}

static void reply(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static void reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void command(struct cam *c, char *line)
{
	char **tok = g_strsplit_set(g_strstrip(line), " \t", -1);
	const char *verb = tok[0], *arg = tok[0] ? tok[1] : NULL;
	struct mount *m = arg ? find(c, arg) : NULL;
	static const struct {
		const char *name;
		enum mode mode;
	} modes[] = {{"normal", M_NORMAL},
		     {"black", M_BLACK},
		     {"freeze", M_FREEZE},
		     {"blur", M_BLUR},
		     {"scene", M_SCENE}};

	if (!verb || !*verb)
		goto out;
	if (strcmp(verb, "quit") == 0) {
		reply("ok");
		g_main_loop_quit(c->loop);
		goto out;
	}
	if (!m) {
		reply("error unknown mount %s", arg ? arg : "(none)");
		goto out;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(modes); i++) {
		if (strcmp(verb, modes[i].name) == 0) {
			g_mutex_lock(&m->lock);
			m->mode = modes[i].mode;
			if (m->mode == M_NORMAL)
				m->fps = c->fps;
			g_mutex_unlock(&m->lock);
			reply("ok");
			goto out;
		}
	}
	if (strcmp(verb, "fps") == 0) {
		int n = tok[2] ? atoi(tok[2]) : 0;

		if (n < 1 || n > 120) {
			reply("error fps must be 1..120");
			goto out;
		}
		g_mutex_lock(&m->lock);
		m->fps = n;
		g_mutex_unlock(&m->lock);
		reply("ok");
	} else if (strcmp(verb, "stop") == 0) {
		if (!m->stopped) {
			m->stopped = true;
			gst_rtsp_mount_points_remove_factory(c->mounts, m->path);
			gst_rtsp_server_client_filter(c->server, client_kick, m->path);
		}
		reply("ok");
	} else if (strcmp(verb, "start") == 0) {
		if (m->stopped) {
			m->stopped = false;
			gst_rtsp_mount_points_add_factory(c->mounts, m->path,
							  g_object_ref(m->factory));
		}
		reply("ok");
	} else {
		reply("error unknown command %s", verb);
	}
out:
	g_strfreev(tok);
}

static gboolean on_stdin(GIOChannel *ch, GIOCondition cond, gpointer ud)
{
	struct cam *c = ud;
	char buf[512];
	gsize n = 0;
	GIOStatus st;

	(void)cond;
	st = g_io_channel_read_chars(ch, buf, sizeof(buf), &n, NULL);
	if (st == G_IO_STATUS_EOF || st == G_IO_STATUS_ERROR)
		return G_SOURCE_REMOVE; /* EOF on stdin does not stop the camera */
	g_string_append_len(c->line, buf, (gssize)n);
	for (;;) {
		char *nl = memchr(c->line->str, '\n', c->line->len);
		gsize len;
		char *one;

		if (!nl)
			break;
		len = (gsize)(nl - c->line->str);
		one = g_strndup(c->line->str, len);
		g_string_erase(c->line, 0, (gssize)len + 1);
		command(c, one);
		g_free(one);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean on_term(gpointer ud)
{
	g_main_loop_quit(((struct cam *)ud)->loop);
	return G_SOURCE_CONTINUE;
}

/* Reads every access unit of an H.264 file (MP4, Matroska or byte-stream) into memory. */
static int load_file(struct cam *c, const char *path)
{
	char *desc = g_strdup_printf("filesrc name=f ! parsebin ! h264parse ! "
				     "video/x-h264,stream-format=byte-stream,alignment=au ! "
				     "appsink name=s sync=false");
	GError *err = NULL;
	GstElement *p = gst_parse_launch(desc, &err);
	GstElement *f, *s;
	GstSample *smp;
	int fps_n = 0, fps_d = 1;

	g_free(desc);
	if (!p) {
		fprintf(stderr, "hw-testcam: %s\n", err ? err->message : "parse error");
		g_clear_error(&err);
		return -EINVAL;
	}
	f = gst_bin_get_by_name(GST_BIN(p), "f");
	s = gst_bin_get_by_name(GST_BIN(p), "s");
	g_object_set(f, "location", path, NULL);
	c->au = g_ptr_array_new_with_free_func((GDestroyNotify)gst_buffer_unref);
	gst_element_set_state(p, GST_STATE_PLAYING);
	while ((smp = gst_app_sink_pull_sample(GST_APP_SINK(s)))) {
		if (!c->au_caps) {
			GstStructure *st;

			c->au_caps = gst_caps_copy(gst_sample_get_caps(smp));
			st = gst_caps_get_structure(c->au_caps, 0);
			gst_structure_get_fraction(st, "framerate", &fps_n, &fps_d);
		}
		g_ptr_array_add(c->au, gst_buffer_ref(gst_sample_get_buffer(smp)));
		gst_sample_unref(smp);
	}
	gst_element_set_state(p, GST_STATE_NULL);
	gst_object_unref(f);
	gst_object_unref(s);
	gst_object_unref(p);
	if (c->au->len == 0) {
		fprintf(stderr, "hw-testcam: no H.264 video in %s\n", path);
		return -EINVAL;
	}
	if (fps_n <= 0)
		fps_n = c->fps, fps_d = 1;
	c->au_dur = gst_util_uint64_scale_int(GST_SECOND, fps_d, fps_n);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: hw-testcam [--port P] [--width W --height H --fps N] [--codec h264|h265]\n"
		"                  [--file H264-FILE] --mount /PATH [--mount /PATH ...]\n"
		"prints READY port=P; stdin commands (answered ok / error ...):\n"
		"  black|freeze|blur|scene|normal MOUNT, fps MOUNT N, stop MOUNT, start MOUNT, "
		"quit\n");
}

int main(int argc, char **argv)
{
	struct cam c = {.w = 320, .h = 180, .fps = 10};
	const char *port = "0", *file = NULL;
	GPtrArray *paths = g_ptr_array_new();
	GIOChannel *in;
	char *launch;

	gst_init(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			usage();
			return 2;
		}
		i++;
		if (strcmp(a, "--port") == 0)
			port = v;
		else if (strcmp(a, "--width") == 0)
			c.w = atoi(v);
		else if (strcmp(a, "--height") == 0)
			c.h = atoi(v);
		else if (strcmp(a, "--fps") == 0)
			c.fps = atoi(v);
		else if (strcmp(a, "--codec") == 0)
			c.h265 = strcmp(v, "h265") == 0;
		else if (strcmp(a, "--file") == 0)
			file = v;
		else if (strcmp(a, "--mount") == 0 && v[0] == '/')
			g_ptr_array_add(paths, (gpointer)v);
		else {
			usage();
			return 2;
		}
	}
	if (paths->len == 0 || c.w < 16 || c.h < 16 || (c.w & 1) || (c.h & 1) || c.fps < 1) {
		usage();
		return 2;
	}
	if (file && load_file(&c, file) < 0)
		return 1;
	c.loop = g_main_loop_new(NULL, FALSE);
	c.server = gst_rtsp_server_new();
	g_object_set(c.server, "address", "127.0.0.1", NULL);
	gst_rtsp_server_set_service(c.server, port);
	c.mounts = gst_rtsp_server_get_mount_points(c.server);
	c.n = (int)paths->len;
	c.m = g_new0(struct mount *, c.n);
	launch = launch_line(&c);
	for (int i = 0; i < c.n; i++) {
		struct mount *m = g_new0(struct mount, 1);

		m->path = g_strdup(g_ptr_array_index(paths, i));
		m->fps = c.fps;
		m->rng = 0x9e3779b9u + (guint32)i;
		g_mutex_init(&m->lock);
		m->factory = gst_rtsp_media_factory_new();
		gst_rtsp_media_factory_set_launch(m->factory, launch);
		gst_rtsp_media_factory_set_shared(m->factory, TRUE);
		g_object_set_data(G_OBJECT(m->factory), "cam", &c);
		g_signal_connect(m->factory, "media-configure", G_CALLBACK(media_configure), m);
		gst_rtsp_mount_points_add_factory(c.mounts, m->path, g_object_ref(m->factory));
		c.m[i] = m;
	}
	g_free(launch);
	if (gst_rtsp_server_attach(c.server, NULL) == 0) {
		fprintf(stderr, "hw-testcam: cannot listen on port %s\n", port);
		return 1;
	}
	c.line = g_string_new(NULL);
	in = g_io_channel_unix_new(0);
	g_io_channel_set_encoding(in, NULL, NULL);
	g_io_channel_set_buffered(in, FALSE);
	g_io_add_watch(in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &c);
	g_unix_signal_add(SIGTERM, on_term, &c);
	g_unix_signal_add(SIGINT, on_term, &c);
	printf("READY port=%d\n", gst_rtsp_server_get_bound_port(c.server));
	fflush(stdout);
	g_main_loop_run(c.loop);
	return 0;
}

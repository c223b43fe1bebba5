/* The local web console: owns the libsoup server, the sessions (web/auth.h), the live
 * WebSocket clients and the requests waiting on the command router. Runs on the main loop
 * thread, like the hub and the router it reads and calls. */
#define LOG_TAG "web"
#include "web/web.h"

#include <errno.h>
#include <gio/gio.h>
#include <jansson.h>
#include <libsoup/soup.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "outputs/history.h"
#include "outputs/state.h"
#include "web/auth.h"
#include "web/server.h"

#define COOKIE "hw_session"
#define LIVE_MAX 64    /* open live pages at once; beyond: 503 */
#define WS_IN_MAX 4096 /* a page sends little */
#define LISTEN_BACKLOG 128
#define RES_ROOT "/hallwatch/web/site"
#define HIST_DAYS 7	  /* the local history: days kept */
#define HIST_ROWS 2000000 /* and minutes kept at most (about 100 MB) */
#define HIST_SAMPLE_S 2	  /* every numeric point sampled this often, besides its changes */
#define HIST_FLUSH_S 60	  /* ended minutes written once a minute, in one transaction */
#define HIST_MAX 20160	  /* minutes in one answer: 14 days of one point */

/* web/site, compiled by glib-compile-resources (--manual-register: a static library would
 * drop an unreferenced constructor). */
GResource *hw_web_get_resource(void);
void hw_web_register_resource(void);

struct web {
	const struct hw_config *cfg;
	struct hub *hub;
	struct router *router;
	SoupServer *server;
	struct web_auth *auth;
	GPtrArray *live;  /* SoupWebsocketConnection * (a reference each) */
	GPtrArray *calls; /* struct call * waiting on the router */
	int port;
	bool tls;
	char *bind; /* as listened: a reload that changes it says a restart is needed */
	int listen_port;
	char *snapshots;      /* <state_dir>/snapshots */
	char *recordings;     /* <state_dir>/video: <camera>/<segment> */
	char *clips;	      /* <state_dir>/clips */
	char *reports;	      /* <state_dir>/reports */
	struct history *hist; /* the local history of numeric points (outputs/history.h) */
	guint hist_timer;
	guint hist_sampler;
	uint64_t seq;
};

/* Who is asking: a session or a bearer token. */
struct who {
	const char *user;
	enum cfg_http_role role;
	const struct web_session *s; /* NULL for a token */
};

const char *web_site_language(const struct hw_config *cfg)
{
	return cfg && cfg->site.language == LANG_EN ? "en" : "zh";
}

int web_port(const struct web *w)
{
	return w ? w->port : 0;
}

static int64_t wall_ms(void)
{
	return g_get_real_time() / 1000;
}

/* ---- responses, requests, files: the generic parts in web/server.c (shared with the
 * county page) ---- */

#define security_headers web_server_security_headers
#define send_text web_server_send_text
#define send_json web_server_send_json
#define send_error web_server_send_error
#define cookie_value web_server_cookie
#define body_json web_server_body_json
#define json_body_type web_server_json_body_type

/* Serves RES_ROOT/name; false when there is no such resource. */
static bool send_resource(SoupServerMessage *msg, const char *name)
{
	return web_server_send_resource(msg, hw_web_get_resource(), RES_ROOT, name);
}

/* ---- requests: cookies, who asks, bodies ---- */

static bool find_who(struct web *w, SoupServerMessage *msg, struct who *out)
{
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
	const char *authz = soup_message_headers_get_one(h, "Authorization");
	char *sid;

	if (authz && g_ascii_strncasecmp(authz, "Bearer ", 7) == 0) {
		*out = (struct who){0};
		return web_auth_token(w->auth, authz + 7, &out->user, &out->role);
	}
	sid = cookie_value(msg, COOKIE);
	out->s = web_auth_session(w->auth, sid, wall_ms());
	g_free(sid);
	if (!out->s)
		return false;
	out->user = out->s->user;
	out->role = out->s->role;
	return true;
}

/* A change (POST, PUT, DELETE) from a session carries its CSRF token; a token's never
 * rides on a cookie, so it needs none. */
static bool csrf_ok(SoupServerMessage *msg, const struct who *who)
{
	const char *t = soup_message_headers_get_one(soup_server_message_get_request_headers(msg),
						     "X-CSRF-Token");
	size_t n = t ? strlen(t) : 0;
	unsigned char diff;

	if (!who->s)
		return true;
	if (n != strlen(who->s->csrf))
		return false;
	diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(t[i] ^ who->s->csrf[i]);
	return diff == 0;
}

static enum router_role router_role_of(enum cfg_http_role r)
{
	switch (r) {
	case HTTP_OPERATOR:
		return ROUTER_OPERATOR;
	case HTTP_INSPECTOR:
		return ROUTER_INSPECTOR;
	case HTTP_ADMIN:
		return ROUTER_ADMIN;
	default:
		return ROUTER_VIEWER;
	}
}

/* ---- calls through the router ---- */

enum call_kind { CALL_JSON = 0, CALL_SNAPSHOT };

struct call {
	struct web *w;
	SoupServerMessage *msg; /* a reference */
	gulong finished;
	bool gone; /* the client went: answer no one */
	enum call_kind kind;
	char *camera;
};

static void on_call_finished(SoupServerMessage *msg, gpointer ud)
{
	struct call *c = ud;

	(void)msg;
	c->gone = true;
}

static int status_of(const char *code)
{
	static const struct {
		const char *code;
		int status;
	} map[] = {
	    {"not_authorized", 403}, {"unknown_alert", 404},  {"unknown_verb", 404},
	    {"unknown_camera", 404}, {"unknown_device", 404}, {"unknown_command", 404},
	    {"not_recorded", 404},   {"not_allowed", 409},    {"no_change", 409},
	    {"invalid", 400},	     {"out_of_range", 400},   {"too_large", 413},
	    {"not_ready", 503},	     {"busy", 503},	      {"cancelled", 503},
	    {"timeout", 504},	     {"not_supported", 501},
	};

	for (size_t i = 0; code && i < G_N_ELEMENTS(map); i++)
		if (strcmp(map[i].code, code) == 0)
			return map[i].status;
	return 500;
}

/* True when path resolves inside root (both resolved: no "..", no symbolic link out). */
static char *resolve_within(const char *root, const char *path)
{
	char r[PATH_MAX], p[PATH_MAX];
	size_t n;

	if (!root || !path || !realpath(root, r) || !realpath(path, p))
		return NULL;
	n = strlen(r);
	if (strncmp(p, r, n) != 0 || p[n] != '/')
		return NULL;
	return g_strdup(p);
}

/* True when range (a Range header's value) is well formed and no part of it lies within a
 * file of size bytes: answered 416 (RFC 9110 15.5.17). A malformed one is ignored (200). */
static bool range_unsatisfiable(const char *range, goffset size)
{
	char **specs;
	bool none = true, valid = true;

	if (!range || !g_str_has_prefix(range, "bytes="))
		return false;
	specs = g_strsplit(range + 6, ",", 32);
	for (char **sp = specs; *sp && valid; sp++) {
		const char *x = g_strstrip(*sp);
		char *end;
		guint64 a;

		if (*x == '-') { /* a suffix: satisfiable unless zero */
			a = g_ascii_strtoull(x + 1, &end, 10);
			valid = end != x + 1 && *end == '\0';
			none &= a == 0;
			continue;
		}
		a = g_ascii_strtoull(x, &end, 10);
		valid = end != x && *end == '-';
		none &= a >= (guint64)size;
	}
	g_strfreev(specs);
	return valid && none;
}

static void send_file(SoupServerMessage *msg, const char *path, const char *type)
{
	GMappedFile *f = g_mapped_file_new(path, FALSE, NULL);
	const char *range =
	    soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Range");
	GBytes *b;

	if (!f) {
		send_error(msg, 404, "not_found", "no such file");
		return;
	}
	if (range_unsatisfiable(range, (goffset)g_mapped_file_get_length(f))) {
		char *cr = g_strdup_printf("bytes */%zu", g_mapped_file_get_length(f));
		g_mapped_file_unref(f);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg),
					     "Content-Range", cr);
		g_free(cr);
		send_error(msg, 416, "out_of_range", "no part of that range is in the file");
		return;
	}
	b = g_mapped_file_get_bytes(f);
	g_mapped_file_unref(f);
	soup_server_message_set_status(msg, 200, NULL);
	soup_message_headers_set_content_type(soup_server_message_get_response_headers(msg), type,
					      NULL);
	/* A complete body: libsoup answers a Range request from it (206, Content-Range; 416
	 * when no range is satisfiable). */
	soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Accept-Ranges",
				     "bytes");
	soup_message_body_append_bytes(soup_server_message_get_response_body(msg), b);
	g_bytes_unref(b);
}

static void call_free(struct call *c)
{
	if (c->finished)
		g_signal_handler_disconnect(c->msg, c->finished);
	g_object_unref(c->msg);
	g_free(c->camera);
	g_free(c);
}

static void on_reply(const char *txt, void *ud)
{
	struct call *c = ud;
	struct web *w = c->w;
	json_t *o = json_loads(txt, 0, NULL);
	bool ok = json_is_true(json_object_get(o, "ok"));
	const char *path = json_string_value(json_object_get(o, "path"));
	char *real;

	if (w)
		g_ptr_array_remove_fast(w->calls, c);
	if (c->gone || !w) {
		json_decref(o);
		call_free(c);
		return;
	}
	if (c->kind == CALL_SNAPSHOT && ok) {
		real = resolve_within(w->snapshots, path);
		if (real)
			send_file(c->msg, real, "image/jpeg");
		else
			send_error(c->msg, 404, "not_found",
				   "the snapshot is not in the snapshots "
				   "folder");
		g_free(real);
	} else {
		send_text(c->msg,
			  ok ? 200 : status_of(json_string_value(json_object_get(o, "error"))),
			  "application/json", txt);
	}
	json_decref(o);
	soup_server_message_unpause(c->msg);
	call_free(c);
}

/* Sends verb with args (transfer full) through the router as who. */
static void call(struct web *w, SoupServerMessage *msg, const struct who *who, const char *verb,
		 json_t *args, enum call_kind kind)
{
	struct call *c;

	if (!w->router) {
		json_decref(args);
		send_error(msg, 503, "not_ready", "the gateway is reloading: try again");
		return;
	}
	c = g_new0(struct call, 1);
	c->w = w;
	c->msg = g_object_ref(msg);
	c->kind = kind;
	c->camera = g_strdup(json_string_value(json_object_get(args, "camera")));
	c->finished = g_signal_connect(msg, "finished", G_CALLBACK(on_call_finished), c);
	g_ptr_array_add(w->calls, c);
	soup_server_message_pause(msg);
	if (router_call(w->router, verb, args, who->user, router_role_of(who->role), on_reply, c) <
	    0) {
		g_ptr_array_remove_fast(w->calls, c);
		send_error(msg, 400, "invalid", "the request cannot be sent");
		soup_server_message_unpause(msg);
		call_free(c);
	}
	json_decref(args);
}

/* ---- what the pages read: the hub as JSON ---- */

static json_t *alert_json(const struct hub_alert *a)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:I}", "id", a->id, "device",
			 a->device, "condition", a->condition, "message", a->message, "state",
			 a->state, "priority", a->priority, "active", a->active, "raised",
			 (json_int_t)a->raised_ms);
}

static json_t *device_json(struct web *w, const struct hub_device *d)
{
	char *txt = state_device_json(d, w->cfg->site.id, ++w->seq);
	json_t *o = txt ? json_loads(txt, 0, NULL) : NULL;

	free(txt);
	return o ? o : json_pack("{s:s, s:b}", "device", d->cfg->id, "online", false);
}

static json_t *camera_json(struct web *w, const struct hub_camera *c)
{
	char *txt = state_camera_json(c, w->cfg->site.id, ++w->seq);
	json_t *o = txt ? json_loads(txt, 0, NULL) : NULL;

	free(txt);
	return o ? o : json_pack("{s:s, s:b}", "camera", c->cfg->id, "online", false);
}

/* What kind of device d is for the overview: a fire panel has fire points; emergency
 * lighting has test points and no fire. */
static const char *device_kind(const struct hub_device *d)
{
	const struct profile *p = d->cfg->profile;
	bool fire = false, test = false;

	for (size_t i = 0; d->layout && i < d->layout->n; i++) {
		fire |= d->layout->defs[i]->cls == PC_FIRE;
		test |= d->layout->defs[i]->cls == PC_TEST;
	}
	if (!d->layout && p)
		for (size_t i = 0; i < p->n_points; i++) {
			fire |= p->points[i].cls == PC_FIRE;
			test |= p->points[i].cls == PC_TEST;
		}
	return fire ? "fire_panel" : test ? "emergency_lighting" : "other";
}

/* A device for the overview: its kind, quality and the alarm points that are on. */
static json_t *device_summary(const struct hub_device *d)
{
	json_t *on = json_array();
	struct hw_value v;

	for (size_t i = 0; d->layout && i < d->n_points; i++) {
		enum point_class cls = hub_point_def(d, i)->cls;
		if (cls != PC_FIRE && cls != PC_FAULT && cls != PC_SUPERVISORY &&
		    cls != PC_DISABLED)
			continue;
		hub_point_value(d, i, &v);
		if (hw_value_as_double(&v) != 0)
			json_array_append_new(on, json_pack("{s:s, s:s}", "point",
							    hub_point_key(d, i), "class",
							    cls == PC_FIRE	    ? "fire"
							    : cls == PC_FAULT	    ? "fault"
							    : cls == PC_SUPERVISORY ? "supervisory"
										    : "disabled"));
	}
	return json_pack("{s:s, s:s, s:b, s:s, s:I, s:o}", "id", d->cfg->id, "kind", device_kind(d),
			 "online", d->online, "quality", hub_dev_quality_name(d->quality),
			 "last_poll", (json_int_t)d->last_poll_ms, "on", on);
}

static gint alert_order(gconstpointer x, gconstpointer y)
{
	const struct hub_alert *a = *(const struct hub_alert *const *)x;
	const struct hub_alert *b = *(const struct hub_alert *const *)y;

	if (a->priority != b->priority)
		return a->priority - b->priority;
	return a->raised_ms < b->raised_ms ? 1 : a->raised_ms > b->raised_ms ? -1 : 0;
}

static json_t *overview_json(struct web *w)
{
	json_t *devs = json_array(), *cams = json_array(), *alerts = json_array();
	json_t *by_prio = json_object();
	GPtrArray *v = g_ptr_array_new();
	bool safe = true;
	int counts[6] = {0};

	for (size_t i = 0; i < hub_n_devices(w->hub); i++) {
		const struct hub_device *d = hub_device_at(w->hub, i);
		json_t *s = device_summary(d);
		if (strcmp(device_kind(d), "other") != 0 && d->quality != HUB_DQ_GOOD)
			safe = false; /* a panel we cannot see is no safe hall */
		json_array_append_new(devs, s);
	}
	for (size_t i = 0; i < hub_n_cameras(w->hub); i++) {
		const struct hub_camera *c = hub_camera_at(w->hub, i);
		json_t *conds = json_array();
		for (int j = 0; j < HUB_CC_N; j++)
			if (c->health.cond[j].active)
				json_array_append_new(conds, json_string(hub_cam_cond_name(j)));
		json_array_append_new(cams,
				      json_pack("{s:s, s:b, s:b, s:o, s:I}", "id", c->cfg->id,
						"online", c->health.online, "recording",
						c->health.recording, "conditions", conds,
						"last_snapshot", (json_int_t)c->last_snapshot_ms));
	}
	for (size_t i = 0; i < hub_n_alerts(w->hub); i++)
		g_ptr_array_add(v, (gpointer)hub_alert_at(w->hub, i));
	g_ptr_array_sort(v, alert_order);
	for (guint i = 0; i < v->len; i++) {
		const struct hub_alert *a = v->pdata[i];
		json_array_append_new(alerts, alert_json(a));
		if (a->priority >= 1 && a->priority <= 5)
			counts[a->priority]++;
		if (a->priority <= 2 && strcmp(a->state, "shelved") != 0 &&
		    strcmp(a->state, "out_of_service") != 0)
			safe = false;
	}
	g_ptr_array_free(v, TRUE);
	for (int p = 1; p <= 5; p++) {
		char k[4];
		snprintf(k, sizeof(k), "P%d", p);
		json_object_set_new(by_prio, k, json_integer(counts[p]));
	}
	return json_pack("{s:{s:s, s:s}, s:s, s:I, s:b, s:o, s:o, s:o, s:o}", "site", "id",
			 w->cfg->site.id, "name", w->cfg->site.name, "language",
			 web_site_language(w->cfg), "t", (json_int_t)wall_ms(), "safe", safe,
			 "devices", devs, "cameras", cams, "alerts", alerts, "counts", by_prio);
}

/* ---- live: the hub's changes to every open page ---- */

static void live_send(struct web *w, json_t *o)
{
	char *txt = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	for (guint i = 0; txt && i < w->live->len; i++) {
		SoupWebsocketConnection *c = w->live->pdata[i];
		if (soup_websocket_connection_get_state(c) == SOUP_WEBSOCKET_STATE_OPEN)
			soup_websocket_connection_send_text(c, txt);
	}
	free(txt);
}

static void on_hub_alert(struct hub *h, const struct hub_alert *a, bool removed, void *ud)
{
	struct web *w = ud;

	if (h != w->hub || w->live->len == 0)
		return;
	live_send(w, json_pack("{s:s, s:b, s:o}", "type", "alert", "removed", removed, "alert",
			       removed ? json_pack("{s:s}", "id", a->id) : alert_json(a)));
}

/* Every numeric point of d read well goes into the local history. */
static void history_sample(struct web *w, const struct hub_device *d)
{
	struct hw_value v;

	for (size_t i = 0; w->hist && d->layout && i < d->n_points; i++) {
		if (hub_point_q(&d->points[i]) != HW_Q_GOOD)
			continue;
		hub_point_value(d, i, &v);
		if (v.type == HW_V_INT || v.type == HW_V_FLOAT)
			history_add(w->hist, d->cfg->id, hub_point_key(d, i), hub_point_t(d, i),
				    hw_value_as_double(&v));
	}
}

/* A value that does not change is sampled too: the hub tells changes only. */
static gboolean on_hist_sample(gpointer ud)
{
	struct web *w = ud;

	for (size_t i = 0; w->hub && i < hub_n_devices(w->hub); i++)
		history_sample(w, hub_device_at(w->hub, i));
	return G_SOURCE_CONTINUE;
}

static gboolean on_hist_flush(gpointer ud)
{
	struct web *w = ud;

	history_flush(w->hist, wall_ms());
	return G_SOURCE_CONTINUE;
}

static void on_hub_device(struct hub *h, struct hub_device *d, void *ud)
{
	struct web *w = ud;

	if (h != w->hub)
		return;
	history_sample(w, d);
	if (w->live->len == 0)
		return;
	live_send(w, json_pack("{s:s, s:o, s:o}", "type", "device", "device", device_json(w, d),
			       "summary", device_summary(d)));
}

static void on_hub_camera(struct hub *h, struct hub_camera *c, void *ud)
{
	struct web *w = ud;

	if (h != w->hub || w->live->len == 0)
		return;
	live_send(w, json_pack("{s:s, s:o}", "type", "camera", "camera", camera_json(w, c)));
}

static void on_ws_closed(SoupWebsocketConnection *c, gpointer ud)
{
	struct web *w = ud;

	if (g_ptr_array_remove_fast(w->live, c))
		g_object_unref(c);
}

static void on_ws(SoupServer *server, SoupServerMessage *msg, const char *path,
		  SoupWebsocketConnection *c, gpointer ud)
{
	struct web *w = ud;

	(void)server;
	(void)msg;
	(void)path;
	soup_websocket_connection_set_max_incoming_payload_size(c, WS_IN_MAX);
	soup_websocket_connection_set_keepalive_interval(c, 30);
	g_ptr_array_add(w->live, g_object_ref(c));
	g_signal_connect(c, "closed", G_CALLBACK(on_ws_closed), w);
	soup_websocket_connection_send_text(c, "{\"type\":\"hello\"}");
}

/* ---- static files (GResource) ---- */

/* Files a page without a session may load: the login page's own. */
static bool public_asset(const char *name)
{
	static const char *const ok[] = {"style.css", "i18n.js", "login.js", "favicon.svg", NULL};

	for (int i = 0; ok[i]; i++)
		if (strcmp(ok[i], name) == 0)
			return true;
	return false;
}

/* ---- the API ---- */

static void set_session_cookie(struct web *w, SoupServerMessage *msg, const char *id, int max_age)
{
	char *c = g_strdup_printf(COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s; Max-Age=%d", id,
				  w->tls ? "; Secure" : "", max_age);

	soup_message_headers_append(soup_server_message_get_response_headers(msg), "Set-Cookie", c);
	g_free(c);
}

static json_t *me_json(struct web *w, const struct who *who)
{
	return json_pack("{s:b, s:s, s:s, s:s?, s:s, s:{s:s, s:s}}", "ok", true, "user", who->user,
			 "role", web_auth_role_name(who->role), "csrf",
			 who->s ? who->s->csrf : NULL, "language", web_site_language(w->cfg),
			 "site", "id", w->cfg->site.id, "name", w->cfg->site.name);
}

static void api_login(struct web *w, SoupServerMessage *msg)
{
	json_t *b = body_json(msg);
	const char *user = json_string_value(json_object_get(b, "user"));
	const char *pw = json_string_value(json_object_get(b, "password"));
	const char *addr = soup_server_message_get_remote_host(msg);
	const struct web_session *s = NULL;
	struct who who;
	int retry = 0, rc;
	char ra[16];

	if (!user || !pw) {
		json_decref(b);
		send_error(msg, 400, "invalid", "a login needs \"user\" and \"password\"");
		return;
	}
	rc = web_auth_login(w->auth, user, pw, addr ? addr : "?", wall_ms(), &s, &retry);
	if (rc == -EAGAIN) {
		snprintf(ra, sizeof(ra), "%d", retry);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg),
					     "Retry-After", ra);
		send_error(msg, 429, "too_many_logins", "too many failed logins: wait a minute");
	} else if (rc < 0) {
		log_warn("console: failed login for \"%.63s\" from %s", user, addr ? addr : "?");
		send_error(msg, 401, "bad_login", "wrong user or password");
	} else {
		log_info("console: %s logged in from %s", s->user, addr ? addr : "?");
		set_session_cookie(w, msg, s->id, w->cfg->http.session_idle_s);
		who = (struct who){.user = s->user, .role = s->role, .s = s};
		send_json(msg, 200, me_json(w, &who));
	}
	json_decref(b);
}

/* GET /api/v1/cameras/<id>/snapshot for a viewer: the newest snapshot already taken of
 * the camera (cmd/snapshot takes a new one, for operators). */
static void newest_snapshot(struct web *w, SoupServerMessage *msg, const char *camera)
{
	GDir *d = w->snapshots ? g_dir_open(w->snapshots, 0, NULL) : NULL;
	char *best = NULL, *prefix = g_strconcat(camera, "-", NULL), *path, *real;
	const char *n;

	while (d && (n = g_dir_read_name(d)))
		if (g_str_has_prefix(n, prefix) && g_str_has_suffix(n, ".jpg") &&
		    (!best || strcmp(n, best) > 0)) {
			g_free(best);
			best = g_strdup(n);
		}
	if (d)
		g_dir_close(d);
	path = best ? g_build_filename(w->snapshots, best, NULL) : NULL;
	real = resolve_within(w->snapshots, path);
	if (real)
		send_file(msg, real, "image/jpeg");
	else
		send_error(msg, 404, "no_snapshot", "no snapshot of this camera yet");
	g_free(real);
	g_free(path);
	g_free(best);
	g_free(prefix);
}

static bool camera_known(struct web *w, const char *id)
{
	for (size_t i = 0; i < w->cfg->n_cameras; i++)
		if (strcmp(w->cfg->cameras[i].id, id) == 0)
			return true;
	return false;
}

static const char *media_type(const char *path)
{
	return g_str_has_suffix(path, ".jpg")	 ? "image/jpeg"
	       : g_str_has_suffix(path, ".mp4")	 ? "video/mp4"
	       : g_str_has_suffix(path, ".mkv")	 ? "video/x-matroska"
	       : g_str_has_suffix(path, ".html") ? "text/html; charset=utf-8"
	       : g_str_has_suffix(path, ".csv")	 ? "text/csv; charset=utf-8"
						 : "application/octet-stream";
}

/* GET /media/snapshots/<file> and /media/recordings/<camera>/<file>: a file of those folders
 * and nothing else. The path (already percent-decoded and without dot segments) is joined to
 * the folder and resolved: what lands outside it (a "..", a symbolic link) is not found. */
static void media(struct web *w, SoupServerMessage *msg, const char *path, bool download)
{
	const char *root = NULL, *rel = NULL;
	char *full, *real;

	if (g_str_has_prefix(path, "/media/snapshots/")) {
		root = w->snapshots;
		rel = path + strlen("/media/snapshots/");
	} else if (g_str_has_prefix(path, "/media/recordings/")) {
		root = w->recordings;
		rel = path + strlen("/media/recordings/");
	} else if (g_str_has_prefix(path, "/media/clips/")) {
		root = w->clips;
		rel = path + strlen("/media/clips/");
	} else if (g_str_has_prefix(path, "/media/reports/")) {
		root = w->reports;
		rel = path + strlen("/media/reports/");
	}
	if (!root || !*rel || strstr(rel, "..") || strchr(rel, '\\')) {
		send_error(msg, 404, "not_found", "no such file");
		return;
	}
	full = g_build_filename(root, rel, NULL);
	real = resolve_within(root, full);
	if (real && g_file_test(real, G_FILE_TEST_IS_REGULAR)) {
		send_file(msg, real, media_type(real));
		if (download) {
			char *base = g_path_get_basename(real);
			char *cd = g_strdup_printf("attachment; filename=\"%s\"", base);
			soup_message_headers_replace(soup_server_message_get_response_headers(msg),
						     "Content-Disposition", cd);
			g_free(cd);
			g_free(base);
		}
	} else
		send_error(msg, 404, "not_found", "no such file");
	g_free(real);
	g_free(full);
}

/* The query's strs as strings and nums as integers (text when not one: the verb refuses it
 * with its reason), transfer full. */
static json_t *query_json(GHashTable *query, const char *const *strs, const char *const *nums)
{
	json_t *o = json_object();

	for (size_t k = 0; query && strs && strs[k]; k++) {
		const char *v = g_hash_table_lookup(query, strs[k]);
		if (v && *v)
			json_object_set_new(o, strs[k], json_string(v));
	}
	for (size_t k = 0; query && nums && nums[k]; k++) {
		const char *v = g_hash_table_lookup(query, nums[k]);
		char *end;
		long long x;
		if (!v || !*v)
			continue;
		x = g_ascii_strtoll(v, &end, 10);
		json_object_set_new(o, nums[k], *end ? json_string(v) : json_integer(x));
	}
	return o;
}

static bool query_ms(GHashTable *query, const char *k, int64_t *ms)
{
	const char *v = query ? g_hash_table_lookup(query, k) : NULL;
	char *end;

	if (!v || !*v)
		return true;
	*ms = g_ascii_strtoll(v, &end, 10);
	return *end == '\0';
}

/* GET /api/v1/devices/<id>/history?point=&from=&to= (Unix ms; the last 24 h by default):
 * the point's minutes from the local history, oldest first. */
static void device_history(struct web *w, SoupServerMessage *msg, const char *id, GHashTable *query)
{
	const char *point = query ? g_hash_table_lookup(query, "point") : NULL;
	int64_t to = wall_ms(), from = to - 86400000;
	const struct hub_device *d = NULL;
	struct history_sample *s;
	size_t n;
	bool known = false;
	json_t *arr;

	for (size_t i = 0; i < hub_n_devices(w->hub); i++)
		if (strcmp(hub_device_at(w->hub, i)->cfg->id, id) == 0)
			d = hub_device_at(w->hub, i);
	if (!d) {
		send_error(msg, 404, "unknown_device", "no such device");
		return;
	}
	for (size_t i = 0; point && d->layout && i < d->n_points; i++)
		known |= strcmp(hub_point_key(d, i), point) == 0;
	if (!known) {
		send_error(msg, 404, "unknown_point", "the device has no such point (?point=)");
		return;
	}
	if (!query_ms(query, "from", &from) || !query_ms(query, "to", &to) || to < from) {
		send_error(msg, 400, "invalid", "from and to are Unix ms, from before to");
		return;
	}
	if (!w->hist || history_query(w->hist, id, point, from, to, HIST_MAX, &s, &n) < 0) {
		send_error(msg, 503, "not_ready", "the history cannot be read");
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr,
				      json_pack("[I, f, f, f, I]", (json_int_t)s[i].t_ms, s[i].min,
						s[i].avg, s[i].max, (json_int_t)s[i].n));
	g_free(s);
	send_json(msg, 200,
		  json_pack("{s:b, s:s, s:s, s:I, s:I, s:i, s:s, s:o}", "ok", true, "device", id,
			    "point", point, "from", (json_int_t)from, "to", (json_int_t)to,
			    "bucket_ms", HISTORY_BUCKET_MS, "columns", "t,min,avg,max,n", "samples",
			    arr));
}

/* /api/v1/<rest> for who; method already checked for CSRF. */
static void api(struct web *w, SoupServerMessage *msg, const char *method, const char *rest,
		GHashTable *query, const struct who *who)
{
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	char **seg = g_strsplit(rest, "/", 5);
	guint n = g_strv_length(seg);
	json_t *o;

	if (get && strcmp(rest, "me") == 0) {
		send_json(msg, 200, me_json(w, who));
	} else if (post && strcmp(rest, "logout") == 0) {
		if (who->s) {
			log_info("console: %s logged out", who->user);
			web_auth_logout(w->auth, who->s->id);
		}
		set_session_cookie(w, msg, "", 0);
		send_json(msg, 200, json_pack("{s:b}", "ok", true));
	} else if (!w->hub) {
		send_error(msg, 503, "not_ready", "the gateway is reloading: try again");
	} else if (get && strcmp(rest, "state/overview") == 0) {
		send_json(msg, 200, overview_json(w));
	} else if (get && strcmp(rest, "devices") == 0) {
		o = json_array();
		for (size_t i = 0; i < hub_n_devices(w->hub); i++)
			json_array_append_new(o, device_json(w, hub_device_at(w->hub, i)));
		send_json(msg, 200, json_pack("{s:b, s:o}", "ok", true, "devices", o));
	} else if (get && strcmp(rest, "cameras") == 0) {
		o = json_array();
		for (size_t i = 0; i < hub_n_cameras(w->hub); i++)
			json_array_append_new(o, camera_json(w, hub_camera_at(w->hub, i)));
		send_json(msg, 200, json_pack("{s:b, s:o}", "ok", true, "cameras", o));
	} else if (get && strcmp(rest, "alerts") == 0) {
		call(w, msg, who, "list", json_object(), CALL_JSON);
	} else if (get && strcmp(rest, "alerts/history") == 0) {
		/* The query's since/until are Unix ms (the page's clock); the verb's from/to are
		 * seconds; priority and limit are numbers. */
		static const struct {
			const char *q, *arg;
			int div; /* 0: a string */
		} hist[] = {{"device", "device", 0},	 {"event", "event", 0},
			    {"priority", "priority", 1}, {"limit", "limit", 1},
			    {"since", "from", 1000},	 {"until", "to", 1000}};
		o = json_object();
		for (size_t k = 0; k < G_N_ELEMENTS(hist); k++) {
			const char *v = query ? g_hash_table_lookup(query, hist[k].q) : NULL;
			char *end;
			long long x;

			if (!v || !*v)
				continue;
			if (!hist[k].div) {
				json_object_set_new(o, hist[k].arg, json_string(v));
				continue;
			}
			x = g_ascii_strtoll(v, &end, 10);
			/* not a number: passed as text, for the verb to refuse with its reason */
			json_object_set_new(o, hist[k].arg,
					    *end ? json_string(v) : json_integer(x / hist[k].div));
		}
		call(w, msg, who, "history", o, CALL_JSON);
	} else if (post && n == 3 && strcmp(seg[0], "alerts") == 0 &&
		   (strcmp(seg[2], "ack") == 0 || strcmp(seg[2], "shelve") == 0 ||
		    strcmp(seg[2], "unshelve") == 0)) {
		o = body_json(msg);
		if (!o) {
			send_error(msg, 400, "invalid", "the body is not a JSON object");
		} else {
			json_object_set_new(o, "id", json_string(seg[1]));
			call(w, msg, who, seg[2], o, CALL_JSON);
		}
	} else if (get && n == 3 && strcmp(seg[0], "cameras") == 0 &&
		   strcmp(seg[2], "snapshot") == 0) {
		if (!camera_known(w, seg[1]))
			send_error(msg, 404, "unknown_camera", "no such camera");
		else if (router_role_of(who->role) != ROUTER_OPERATOR && who->role != HTTP_ADMIN)
			newest_snapshot(w, msg, seg[1]);
		else
			call(w, msg, who, "snapshot", json_pack("{s:s}", "camera", seg[1]),
			     CALL_SNAPSHOT);
	} else if (get && n == 3 && strcmp(seg[0], "devices") == 0 &&
		   strcmp(seg[2], "history") == 0) {
		device_history(w, msg, seg[1], query);
	} else if (get && n == 3 && strcmp(seg[0], "cameras") == 0 &&
		   strcmp(seg[2], "recordings") == 0) {
		static const char *const nums[] = {"from", "to", NULL};
		o = query_json(query, NULL, nums);
		json_object_set_new(o, "camera", json_string(seg[1]));
		call(w, msg, who, "recordings", o, CALL_JSON);
	} else if (post && n == 3 && strcmp(seg[0], "cameras") == 0 &&
		   strcmp(seg[2], "clip") == 0) {
		o = body_json(msg);
		if (!o) {
			send_error(msg, 400, "invalid", "the body is not a JSON object");
		} else {
			json_object_set_new(o, "camera", json_string(seg[1]));
			call(w, msg, who, "clip", o, CALL_JSON);
		}
	} else if (get && strcmp(rest, "tasks") == 0) {
		call(w, msg, who, "tasks", json_object(), CALL_JSON);
	} else if (get && strcmp(rest, "records") == 0) {
		static const char *const strs[] = {"kind", "plan", "target", "result",
						   "from", "to",   NULL};
		static const char *const nums[] = {"limit", NULL};
		o = query_json(query, strs, nums);
		if (query && g_hash_table_lookup(query, "reviewed"))
			json_object_set_new(
			    o, "reviewed",
			    json_boolean(strcmp(g_hash_table_lookup(query, "reviewed"), "true") ==
					 0));
		call(w, msg, who, "records", o, CALL_JSON);
	} else if (get && strcmp(rest, "tickets") == 0) {
		static const char *const strs[] = {"state", "kind", "target", NULL};
		static const char *const nums[] = {"limit", NULL};
		call(w, msg, who, "tickets", query_json(query, strs, nums), CALL_JSON);
	} else if (get && strcmp(rest, "report") == 0) {
		static const char *const strs[] = {"month", NULL};
		call(w, msg, who, "report", query_json(query, strs, NULL), CALL_JSON);
	} else if (post &&
		   (strcmp(rest, "patrol") == 0 ||
		    (n == 3 && strcmp(seg[0], "records") == 0 && strcmp(seg[2], "review") == 0) ||
		    /* a task id holds slashes (plan/target/due): tasks/<id...>/<what> */
		    (n >= 3 && strcmp(seg[0], "tasks") == 0 &&
		     (strcmp(seg[n - 1], "checklist") == 0 || strcmp(seg[n - 1], "action") == 0)) ||
		    (n == 3 && strcmp(seg[0], "tickets") == 0))) {
		o = body_json(msg);
		if (!o) {
			send_error(msg, 400, "invalid", "the body is not a JSON object");
		} else if (strcmp(rest, "patrol") == 0) {
			call(w, msg, who, "patrol", o, CALL_JSON);
		} else if (strcmp(seg[0], "records") == 0) {
			char *end;
			long long id = g_ascii_strtoll(seg[1], &end, 10);
			json_object_set_new(o, "id", *end ? json_string(seg[1]) : json_integer(id));
			call(w, msg, who, "review", o, CALL_JSON);
		} else if (strcmp(seg[0], "tasks") == 0) {
			bool cl = strcmp(seg[n - 1], "checklist") == 0;
			char *last = seg[n - 1], *id;

			seg[n - 1] = NULL; /* seg[1 .. n-2] joined: the task's id */
			id = g_strjoinv("/", seg + 1);
			seg[n - 1] = last;
			json_object_set_new(o, cl ? "task" : "id", json_string(id));
			g_free(id);
			call(w, msg, who, cl ? "checklist" : "task", o, CALL_JSON);
		} else {
			if (strcmp(seg[1], "new") == 0) {
				json_object_set_new(o, "action", json_string("open"));
			} else {
				json_object_set_new(o, "id", json_string(seg[1]));
				json_object_set_new(o, "action", json_string(seg[2]));
			}
			call(w, msg, who, "ticket", o, CALL_JSON);
		}
	} else {
		send_error(msg, 404, "not_found", "no such API");
	}
	g_strfreev(seg);
}

/* Requests above WEB_BODY_MAX, or of unknown length, are refused before their body is
 * read; every answer carries the security headers. */
static void on_early(SoupServer *server, SoupServerMessage *msg, const char *path,
		     GHashTable *query, gpointer ud)
{
	struct web *w = ud;
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);

	(void)server;
	(void)path;
	(void)query;
	security_headers(msg, w->tls);
	if (soup_message_headers_get_encoding(h) == SOUP_ENCODING_CHUNKED) {
		soup_message_headers_replace(soup_server_message_get_response_headers(msg),
					     "Connection", "close");
		send_error(msg, 411, "length_required", "a request body needs a Content-Length");
	} else if (soup_message_headers_get_encoding(h) == SOUP_ENCODING_CONTENT_LENGTH &&
		   soup_message_headers_get_content_length(h) > WEB_BODY_MAX) {
		soup_message_headers_replace(soup_server_message_get_response_headers(msg),
					     "Connection", "close");
		send_error(msg, 413, "too_large", "the request body is above 64 KiB");
	}
}

static void on_request(SoupServer *server, SoupServerMessage *msg, const char *path,
		       GHashTable *query, gpointer ud)
{
	struct web *w = ud;
	const char *method = soup_server_message_get_method(msg);
	bool change = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
		      strcmp(method, "DELETE") == 0;
	struct who who = {0};
	bool have;

	(void)server;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && !change) {
		send_error(msg, 405, "method", "method not allowed");
		return;
	}
	/* What works without a session. */
	if (strcmp(path, "/api/v1/health") == 0) {
		send_json(msg, 200,
			  json_pack("{s:b, s:s, s:s}", "ok", true, "version", HW_VERSION,
				    "language", web_site_language(w->cfg)));
		return;
	}
	/* A body is JSON: a form of another site cannot send that without asking first. */
	if (change && !json_body_type(msg)) {
		send_error(msg, 415, "media_type", "a request body is application/json");
		return;
	}
	if (strcmp(path, "/api/v1/login") == 0 && strcmp(method, "POST") == 0) {
		api_login(w, msg);
		return;
	}
	if (strcmp(path, "/login") == 0 && !change) {
		if (!send_resource(msg, "login.html"))
			send_error(msg, 404, "not_found", "no such page");
		return;
	}
	if (g_str_has_prefix(path, "/static/") && public_asset(path + 8) && !change) {
		if (!send_resource(msg, path + 8))
			send_error(msg, 404, "not_found", "no such file");
		return;
	}
	have = find_who(w, msg, &who);
	if (!have) {
		if (g_str_has_prefix(path, "/api/")) {
			send_error(msg, 401, "no_session", "log in first");
		} else {
			soup_server_message_set_redirect(msg, 303, "/login");
		}
		return;
	}
	if (change && !csrf_ok(msg, &who)) {
		log_warn("console: %s sent %s %s without its CSRF token", who.user, method, path);
		send_error(msg, 403, "csrf", "the request lacks this session's X-CSRF-Token");
		return;
	}
	if (strcmp(path, "/api/v1/live") == 0) {
		const char *origin = soup_message_headers_get_one(
		    soup_server_message_get_request_headers(msg), "Origin");
		const char *host = soup_message_headers_get_one(
		    soup_server_message_get_request_headers(msg), "Host");
		const char *o = origin ? strstr(origin, "://") : NULL;
		if (origin && (!o || !host || strcmp(o + 3, host) != 0))
			send_error(msg, 403, "origin", "the live feed is for this site's pages");
		else if (w->live->len >= LIVE_MAX)
			send_error(msg, 503, "busy", "too many open pages");
		/* else: no status set, the WebSocket handshake follows */
		return;
	}
	if (g_str_has_prefix(path, "/api/v1/")) {
		api(w, msg, method, path + 8, query, &who);
		return;
	}
	if (change) {
		send_error(msg, 405, "method", "method not allowed");
	} else if (g_str_has_prefix(path, "/media/")) {
		media(w, msg, path, query && g_hash_table_contains(query, "download"));
	} else if (strcmp(path, "/") == 0) {
		send_resource(msg, "index.html");
	} else if (strcmp(path, "/alerts") == 0) {
		send_resource(msg, "alerts.html");
	} else if (strcmp(path, "/devices") == 0) {
		send_resource(msg, "devices.html");
	} else if (strcmp(path, "/cameras") == 0) {
		send_resource(msg, "cameras.html");
	} else if (strcmp(path, "/patrols") == 0) {
		send_resource(msg, "patrols.html");
	} else if (!(g_str_has_prefix(path, "/static/") && send_resource(msg, path + 8))) {
		send_error(msg, 404, "not_found", "no such page");
	}
}

/* ---- lifecycle ---- */

static int listen_on(struct web *w, const struct cfg_http *h)
{
	GError *err = NULL;
	GSocketAddress *addr = g_inet_socket_address_new_from_string(h->bind, (guint)h->port);
	GSList *uris;
	GSocket *sock;
	int rc = 0;

	if (!addr) {
		log_err("http.bind: \"%s\" is not an IP address", h->bind);
		return -EINVAL;
	}
	if (h->tls_cert) {
		GTlsCertificate *c =
		    g_tls_certificate_new_from_files(h->tls_cert, h->tls_key, &err);
		if (!c) {
			log_err("http: TLS certificate %s / key %s: %s", h->tls_cert, h->tls_key,
				err->message);
			g_error_free(err);
			g_object_unref(addr);
			return -EINVAL;
		}
		soup_server_set_tls_certificate(w->server, c);
		g_object_unref(c);
		w->tls = true;
	}
	/* Our own socket: GSocket's default backlog of 10 makes a burst of new connections
	 * (20 pages at once) wait a SYN retransmission, a second. */
	sock = g_socket_new(g_socket_address_get_family(addr), G_SOCKET_TYPE_STREAM,
			    G_SOCKET_PROTOCOL_TCP, &err);
	if (sock) {
		g_socket_set_listen_backlog(sock, LISTEN_BACKLOG);
		if (!g_socket_bind(sock, addr, TRUE, &err) || !g_socket_listen(sock, &err) ||
		    !soup_server_listen_socket(w->server, sock,
					       w->tls ? SOUP_SERVER_LISTEN_HTTPS : 0, &err))
			g_clear_object(&sock);
	}
	if (!sock) {
		log_err("http: cannot listen on %s:%d: %s", h->bind, h->port, err->message);
		rc = err->code == G_IO_ERROR_ADDRESS_IN_USE ? -EADDRINUSE : -EIO;
		g_error_free(err);
	}
	g_clear_object(&sock);
	g_object_unref(addr);
	if (rc < 0)
		return rc;
	uris = soup_server_get_uris(w->server);
	if (uris)
		w->port = g_uri_get_port(uris->data);
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	w->bind = g_strdup(h->bind);
	w->listen_port = h->port;
	log_info("console on %s://%s:%d/ (%zu account(s))", w->tls ? "https" : "http", h->bind,
		 w->port, h->n_users);
	return 0;
}

int web_create(const struct hw_config *cfg, struct web **out)
{
	struct web *w = g_new0(struct web, 1);
	int rc;

	static gsize registered;

	if (g_once_init_enter(&registered)) {
		hw_web_register_resource();
		g_once_init_leave(&registered, 1);
	}
	w->cfg = cfg;
	w->live = g_ptr_array_new();
	w->calls = g_ptr_array_new();
	web_auth_create(&cfg->http, &w->auth);
	*out = w;
	if (!cfg->http.enabled)
		return 0;
	w->server = soup_server_new("server-header", "hallwatch", NULL);
	soup_server_add_early_handler(w->server, NULL, on_early, w, NULL);
	soup_server_add_early_handler(w->server, "/api/v1/live", on_early, w, NULL);
	soup_server_add_handler(w->server, NULL, on_request, w, NULL);
	soup_server_add_handler(w->server, "/api/v1/live", on_request, w, NULL);
	soup_server_add_websocket_handler(w->server, "/api/v1/live", NULL, NULL, on_ws, w, NULL);
	rc = listen_on(w, &cfg->http);
	if (rc < 0) {
		web_destroy(w);
		*out = NULL;
	}
	return rc;
}

void web_attach(struct web *w, const struct hw_config *cfg, struct hub *h, struct router *r)
{
	const struct cfg_http *n = &cfg->http;

	if (!w)
		return;
	if (w->server && (!n->enabled || strcmp(n->bind, w->bind) != 0 ||
			  n->port != w->listen_port || (n->tls_cert != NULL) != w->tls))
		log_warn("http: a changed enabled, bind, port or TLS takes effect at the next "
			 "start; the console goes on as it is");
	w->cfg = cfg;
	web_auth_set_config(w->auth, n);
	g_free(w->snapshots);
	w->snapshots = g_build_filename(cfg->storage.state_dir, "snapshots", NULL);
	g_free(w->recordings);
	w->recordings = g_build_filename(cfg->storage.state_dir, "video", NULL);
	g_free(w->clips);
	w->clips = g_build_filename(cfg->storage.state_dir, "clips", NULL);
	g_free(w->reports);
	w->reports = g_build_filename(cfg->storage.state_dir, "reports", NULL);
	if (w->server && !w->hist) {
		char *db = g_build_filename(cfg->storage.state_dir, "hallwatch.db", NULL);
		int rc = history_create(db, HIST_DAYS, HIST_ROWS, &w->hist);
		if (rc < 0)
			log_warn("the local history cannot open %s (%s): no device charts", db,
				 strerror(-rc));
		else {
			w->hist_timer = g_timeout_add_seconds(HIST_FLUSH_S, on_hist_flush, w);
			w->hist_sampler = g_timeout_add_seconds(HIST_SAMPLE_S, on_hist_sample, w);
		}
		g_free(db);
	}
	w->hub = h;
	w->router = r;
	if (!w->server || !h)
		return;
	hub_add_listener(h, on_hub_device, w);
	hub_add_camera_listener(h, on_hub_camera, w);
	hub_add_alert_listener(h, on_hub_alert, w);
	/* A reload rebuilt the hub: the pages read everything again. */
	live_send(w, json_pack("{s:s}", "type", "reload"));
}

void web_detach(struct web *w)
{
	if (!w)
		return;
	w->hub = NULL;
	w->router = NULL;
}

void web_destroy(struct web *w)
{
	if (!w)
		return;
	/* Calls still waiting: the router answers them "cancelled" when it goes (before
	 * us); any left are no longer ours to answer. */
	for (guint i = 0; i < w->calls->len; i++)
		((struct call *)w->calls->pdata[i])->w = NULL;
	g_ptr_array_free(w->calls, TRUE);
	for (guint i = 0; i < w->live->len; i++) {
		SoupWebsocketConnection *c = w->live->pdata[i];
		g_signal_handlers_disconnect_by_data(c, w);
		if (soup_websocket_connection_get_state(c) == SOUP_WEBSOCKET_STATE_OPEN)
			soup_websocket_connection_close(c, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
		g_object_unref(c);
	}
	g_ptr_array_free(w->live, TRUE);
	if (w->server) {
		soup_server_disconnect(w->server);
		g_object_unref(w->server);
	}
	web_auth_destroy(w->auth);
	if (w->hist_timer)
		g_source_remove(w->hist_timer);
	if (w->hist_sampler)
		g_source_remove(w->hist_sampler);
	history_destroy(w->hist);
	g_free(w->clips);
	g_free(w->reports);
	g_free(w->snapshots);
	g_free(w->recordings);
	g_free(w->bind);
	g_free(w);
}

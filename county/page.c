/* Owns the county page's HTTP server: its routes, its live WebSocket feed (from
 * county_listen) and the patrol commands it sends (county_command). Generic parts from
 * web/server.c, accounts and sessions from web/auth.c. Runs on the county's main loop. */
#define LOG_TAG "county-page"
#include "county/page.h"

#include <errno.h>
#include <string.h>

#include "core/log.h"
#include "web/auth.h"
#include "web/server.h"

#define COOKIE "hw_county"
#define LIVE_MAX 64
#define WS_IN_MAX 4096
#define PATROL_TIMEOUT_MS 15000
#define RES_COUNTY "/hallwatch/county/site"
#define RES_WEB "/hallwatch/web/site"

/* county/site, compiled by glib-compile-resources (--manual-register). */
GResource *hw_county_get_resource(void);
void hw_county_register_resource(void);

struct county_page {
	const struct county_cfg *cfg;
	struct county *county;
	SoupServer *server;
	struct web_auth *auth;
	GPtrArray *live;  /* SoupWebsocketConnection * (a reference each) */
	GPtrArray *calls; /* struct pcall * waiting for a hall's reply */
	bool tls;
	int port;
};

/* A patrol request waiting for the hall's reply. */
struct pcall {
	struct county_page *p;
	SoupServerMessage *msg; /* NULL once the client is gone */
	char *site;
	char *user;
};

int county_page_port(const struct county_page *p)
{
	return p ? p->port : 0;
}

/* ---- the live feed ---- */

static void live_send(struct county_page *p, json_t *o)
{
	char *txt = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	if (!txt)
		return;
	for (guint i = 0; i < p->live->len; i++) {
		SoupWebsocketConnection *c = p->live->pdata[i];
		if (soup_websocket_connection_get_state(c) == SOUP_WEBSOCKET_STATE_OPEN)
			soup_websocket_connection_send_text(c, txt);
	}
	free(txt);
}

static json_t *with_console(struct county_page *p, json_t *hall)
{
	const char *site = json_string_value(json_object_get(hall, "site"));
	const char *url = site ? county_cfg_console(p->cfg, site) : NULL;

	if (url)
		json_object_set_new(hall, "console", json_string(url));
	return hall;
}

static void on_county(const char *kind, const json_t *obj, void *ud)
{
	struct county_page *p = ud;

	if (!p->live->len)
		return;
	if (strcmp(kind, "hall") == 0)
		live_send(p, json_pack("{s:s, s:o}", "type", "hall", "hall",
				       with_console(p, json_deep_copy(obj))));
	else if (strcmp(kind, "alarm") == 0)
		live_send(p, json_pack("{s:s, s:O, s:I}", "type", "alarm", "item", obj, "t_send_us",
				       (json_int_t)g_get_real_time()));
	else if (strcmp(kind, "record") == 0)
		live_send(p, json_pack("{s:s, s:O}", "type", "record", "record", obj));
	else
		live_send(p, json_pack("{s:s}", "type", kind));
}

static void on_ws_closed(SoupWebsocketConnection *c, gpointer ud)
{
	struct county_page *p = ud;

	if (g_ptr_array_remove_fast(p->live, c))
		g_object_unref(c);
}

static void on_ws(SoupServer *server, SoupServerMessage *msg, const char *path,
		  SoupWebsocketConnection *c, gpointer ud)
{
	struct county_page *p = ud;

	(void)server;
	(void)msg;
	(void)path;
	soup_websocket_connection_set_max_incoming_payload_size(c, WS_IN_MAX);
	soup_websocket_connection_set_keepalive_interval(c, 30);
	g_ptr_array_add(p->live, g_object_ref(c));
	g_signal_connect(c, "closed", G_CALLBACK(on_ws_closed), p);
	soup_websocket_connection_send_text(c, "{\"type\":\"hello\"}");
}

/* ---- the patrol ---- */

static void pcall_free(struct pcall *pc)
{
	if (pc->msg)
		g_signal_handlers_disconnect_by_data(pc->msg, pc);
	g_free(pc->site);
	g_free(pc->user);
	g_free(pc);
}

static void on_pcall_finished(SoupServerMessage *msg, gpointer ud)
{
	struct pcall *pc = ud;

	(void)msg;
	pc->msg = NULL; /* the client went; the reply still goes to the live pages */
}

static void on_patrol_reply(const json_t *reply, void *ud)
{
	struct pcall *pc = ud;
	struct county_page *p = pc->p;
	bool ok = json_is_true(json_object_get(reply, "ok"));

	log_info("patrol at %s by %s: %s", pc->site, pc->user,
		 ok ? "accepted" : json_string_value(json_object_get(reply, "error")));
	live_send(p, json_pack("{s:s, s:s, s:s, s:O}", "type", "patrol", "site", pc->site, "user",
			       pc->user, "reply", reply));
	if (pc->msg) {
		web_server_send_json(
		    pc->msg, 200,
		    json_pack("{s:b, s:s, s:O}", "ok", ok, "site", pc->site, "reply", reply));
		soup_server_message_unpause(pc->msg);
	}
	g_ptr_array_remove_fast(p->calls, pc);
	pcall_free(pc);
}

static void api_patrol(struct county_page *p, SoupServerMessage *msg, const char *site,
		       const struct web_who *who)
{
	struct pcall *pc;
	json_t *body = web_server_body_json(msg), *args, *known;
	int rc;

	if (who->role != HTTP_OPERATOR && who->role != HTTP_ADMIN) {
		json_decref(body);
		web_server_send_error(msg, 403, "forbidden",
				      "a surprise patrol is for an operator or an admin");
		return;
	}
	if (!body) {
		web_server_send_error(msg, 400, "invalid", "the body is a JSON object");
		return;
	}
	known = county_hall(p->county, site);
	if (!known && !county_cfg_console(p->cfg, site)) {
		json_decref(body);
		web_server_send_error(msg, 404, "not_found", "no such hall");
		return;
	}
	json_decref(known);
	args = json_pack("{s:s, s:s}", "kind", "surprise", "by", "county");
	if (json_is_string(json_object_get(body, "camera")))
		json_object_set(args, "camera", json_object_get(body, "camera"));
	json_decref(body);
	pc = g_new0(struct pcall, 1);
	pc->p = p;
	pc->msg = msg;
	pc->site = g_strdup(site);
	pc->user = g_strdup(who->user);
	rc = county_command(p->county, site, "patrol", args, who->user, PATROL_TIMEOUT_MS,
			    on_patrol_reply, pc);
	json_decref(args);
	if (rc < 0) {
		pc->msg = NULL;
		pcall_free(pc);
		web_server_send_error(
		    msg, rc == -EINVAL ? 400 : 503, rc == -EINVAL ? "invalid" : "not_sent",
		    rc == -EINVAL ? "not a site id" : "the county's broker session is down");
		return;
	}
	g_ptr_array_add(p->calls, pc);
	g_signal_connect(msg, "finished", G_CALLBACK(on_pcall_finished), pc);
	soup_server_message_pause(msg);
	live_send(p, json_pack("{s:s, s:s, s:s}", "type", "patrol_sent", "site", site, "user",
			       who->user));
}

/* ---- the API ---- */

static json_t *me_json(const struct web_who *who)
{
	return json_pack("{s:b, s:s, s:s, s:s?, s:s, s:s}", "ok", true, "user", who->user, "role",
			 web_auth_role_name(who->role), "csrf", who->s ? who->s->csrf : NULL,
			 "language", "zh", "mode", "county");
}

static void api_login(struct county_page *p, SoupServerMessage *msg)
{
	json_t *b = web_server_body_json(msg);
	const char *user = json_string_value(json_object_get(b, "user"));
	const char *pw = json_string_value(json_object_get(b, "password"));
	const char *addr = soup_server_message_get_remote_host(msg);
	const struct web_session *s = NULL;
	int retry = 0, rc;
	char ra[16];

	if (!user || !pw) {
		json_decref(b);
		web_server_send_error(msg, 400, "invalid",
				      "a login needs \"user\" and \"password\"");
		return;
	}
	rc = web_auth_login(p->auth, user, pw, addr ? addr : "?", web_server_now_ms(), &s, &retry);
	if (rc == -EAGAIN) {
		snprintf(ra, sizeof(ra), "%d", retry);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg),
					     "Retry-After", ra);
		web_server_send_error(msg, 429, "too_many_logins",
				      "too many failed logins: wait a minute");
	} else if (rc < 0) {
		log_warn("failed login for \"%.63s\" from %s", user, addr ? addr : "?");
		web_server_send_error(msg, 401, "bad_login", "wrong user or password");
	} else {
		struct web_who who = {.user = s->user, .role = s->role, .s = s};
		log_info("%s logged in from %s", s->user, addr ? addr : "?");
		web_server_set_cookie(msg, COOKIE, s->id, p->cfg->http.session_idle_s, p->tls);
		web_server_send_json(msg, 200, me_json(&who));
	}
	json_decref(b);
}

/* "YYYY-MM" (NULL: this month) -> its first and last day since the epoch. */
static int month_days(const char *m, int64_t *from, int64_t *to)
{
	int y, mo;
	char tail;
	GDateTime *a, *b;

	if (!m) {
		GDateTime *now = g_date_time_new_now_utc();
		y = g_date_time_get_year(now);
		mo = g_date_time_get_month(now);
		g_date_time_unref(now);
	} else if (sscanf(m, "%4d-%2d%c", &y, &mo, &tail) != 2 || mo < 1 || mo > 12 || y < 1970) {
		return -EINVAL;
	}
	a = g_date_time_new_utc(y, mo, 1, 0, 0, 0);
	b = g_date_time_add_months(a, 1);
	*from = g_date_time_to_unix(a) / 86400;
	*to = g_date_time_to_unix(b) / 86400 - 1;
	g_date_time_unref(a);
	g_date_time_unref(b);
	return 0;
}

static void api(struct county_page *p, SoupServerMessage *msg, const char *method, const char *rest,
		GHashTable *query, const struct web_who *who)
{
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	char **seg = g_strsplit(rest, "/", 4);
	guint n = g_strv_length(seg);

	if (strcmp(rest, "me") == 0 && get) {
		web_server_send_json(msg, 200, me_json(who));
	} else if (strcmp(rest, "logout") == 0 && strcmp(method, "POST") == 0) {
		if (who->s)
			web_auth_logout(p->auth, who->s->id);
		web_server_set_cookie(msg, COOKIE, "", 0, p->tls);
		web_server_send_json(msg, 200, json_pack("{s:b}", "ok", true));
	} else if (strcmp(rest, "halls") == 0 && get) {
		json_t *pic = county_picture(p->county), *h;
		size_t i;
		json_array_foreach(json_object_get(pic, "halls"), i, h) with_console(p, h);
		web_server_send_json(msg, 200, pic);
	} else if (n == 2 && strcmp(seg[0], "halls") == 0 && get) {
		json_t *h = county_hall(p->county, seg[1]);
		if (!h)
			web_server_send_error(msg, 404, "not_found", "no such hall");
		else
			web_server_send_json(msg, 200, with_console(p, h));
	} else if (n == 3 && strcmp(seg[0], "halls") == 0 && strcmp(seg[2], "patrol") == 0 &&
		   strcmp(method, "POST") == 0) {
		api_patrol(p, msg, seg[1], who);
	} else if (strcmp(rest, "ranking") == 0 && get) {
		const char *m = query ? g_hash_table_lookup(query, "month") : NULL;
		int64_t from, to;
		json_t *rows;
		if (month_days(m, &from, &to) < 0) {
			web_server_send_error(msg, 400, "invalid", "month is YYYY-MM");
		} else if (!(rows = county_ranking(p->county, from, to))) {
			web_server_send_error(msg, 500, "store",
					      "the county's database cannot say");
		} else {
			web_server_send_json(msg, 200,
					     json_pack("{s:b, s:I, s:I, s:o}", "ok", true,
						       "from_day", (json_int_t)from, "to_day",
						       (json_int_t)to, "rows", rows));
		}
	} else {
		web_server_send_error(msg, 404, "not_found", "no such API");
	}
	g_strfreev(seg);
}

/* ---- pages ---- */

/* The county's own files first, then the console's (style, words, login). */
static bool send_static(SoupServerMessage *msg, const char *name)
{
	return web_server_send_resource(msg, hw_county_get_resource(), RES_COUNTY, name) ||
	       web_server_send_resource(msg, hw_web_get_resource(), RES_WEB, name);
}

static bool public_asset(const char *name)
{
	static const char *const ok[] = {"style.css",  "i18n.js",	 "login.js", "favicon.svg",
					 "county.css", "county-i18n.js", NULL};

	for (int i = 0; ok[i]; i++)
		if (strcmp(ok[i], name) == 0)
			return true;
	return false;
}

static void on_request(SoupServer *server, SoupServerMessage *msg, const char *path,
		       GHashTable *query, gpointer ud)
{
	struct county_page *p = ud;
	const char *method = soup_server_message_get_method(msg);
	bool change = strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
		      strcmp(method, "DELETE") == 0;
	struct web_who who;

	(void)server;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && !change) {
		web_server_send_error(msg, 405, "method", "method not allowed");
		return;
	}
	if (strcmp(path, "/api/v1/health") == 0) {
		web_server_send_json(msg, 200,
				     json_pack("{s:b, s:s, s:s, s:s}", "ok", true, "version",
					       HW_VERSION, "language", "zh", "mode", "county"));
		return;
	}
	if (change && !web_server_json_body_type(msg)) {
		web_server_send_error(msg, 415, "media_type", "a request body is application/json");
		return;
	}
	if (strcmp(path, "/api/v1/login") == 0 && strcmp(method, "POST") == 0) {
		api_login(p, msg);
		return;
	}
	if (strcmp(path, "/login") == 0 && !change) {
		if (!send_static(msg, "login.html"))
			web_server_send_error(msg, 404, "not_found", "no such page");
		return;
	}
	if (g_str_has_prefix(path, "/static/") && public_asset(path + 8) && !change) {
		if (!send_static(msg, path + 8))
			web_server_send_error(msg, 404, "not_found", "no such file");
		return;
	}
	if (!web_server_who(p->auth, msg, COOKIE, &who)) {
		if (g_str_has_prefix(path, "/api/"))
			web_server_send_error(msg, 401, "no_session", "log in first");
		else
			soup_server_message_set_redirect(msg, 303, "/login");
		return;
	}
	if (change && !web_server_csrf_ok(msg, &who)) {
		log_warn("%s sent %s %s without its CSRF token", who.user, method, path);
		web_server_send_error(msg, 403, "csrf",
				      "the request lacks this session's X-CSRF-Token");
		return;
	}
	if (strcmp(path, "/api/v1/live") == 0) {
		if (!web_server_same_origin(msg))
			web_server_send_error(msg, 403, "origin",
					      "the live feed is for this site's pages");
		else if (p->live->len >= LIVE_MAX)
			web_server_send_error(msg, 503, "busy", "too many open pages");
		/* else: no status set, the WebSocket handshake follows */
		return;
	}
	if (g_str_has_prefix(path, "/api/v1/")) {
		api(p, msg, method, path + 8, query, &who);
		return;
	}
	if (change)
		web_server_send_error(msg, 405, "method", "method not allowed");
	else if (strcmp(path, "/") == 0)
		send_static(msg, "index.html");
	else if (!(g_str_has_prefix(path, "/static/") && send_static(msg, path + 8)))
		web_server_send_error(msg, 404, "not_found", "no such page");
}

/* ---- lifecycle ---- */

int county_page_create(const struct county_cfg *cfg, struct county *c, struct county_page **out)
{
	struct county_page *p;
	int rc;

	static gsize registered;

	*out = NULL;
	if (!cfg->http.enabled)
		return 0;
	if (g_once_init_enter(&registered)) {
		hw_county_register_resource();
		hw_web_register_resource();
		g_once_init_leave(&registered, 1);
	}
	p = g_new0(struct county_page, 1);
	p->cfg = cfg;
	p->county = c;
	p->live = g_ptr_array_new();
	p->calls = g_ptr_array_new();
	web_auth_create(&cfg->http, &p->auth);
	p->server = soup_server_new("server-header", "hallwatch", NULL);
	soup_server_add_early_handler(p->server, NULL, web_server_early, &p->tls, NULL);
	soup_server_add_early_handler(p->server, "/api/v1/live", web_server_early, &p->tls, NULL);
	soup_server_add_handler(p->server, NULL, on_request, p, NULL);
	soup_server_add_handler(p->server, "/api/v1/live", on_request, p, NULL);
	soup_server_add_websocket_handler(p->server, "/api/v1/live", NULL, NULL, on_ws, p, NULL);
	rc = web_server_listen(p->server, &cfg->http, "county page", &p->tls, &p->port);
	if (rc == 0)
		rc = county_listen(c, on_county, p);
	if (rc < 0) {
		county_page_destroy(p);
		return rc;
	}
	*out = p;
	return 0;
}

void county_page_destroy(struct county_page *p)
{
	if (!p)
		return;
	county_unlisten(p->county, on_county, p);
	for (guint i = 0; i < p->calls->len; i++) {
		struct pcall *pc = p->calls->pdata[i];
		county_command_cancel(p->county, pc);
		pcall_free(pc);
	}
	g_ptr_array_free(p->calls, TRUE);
	for (guint i = 0; i < p->live->len; i++) {
		SoupWebsocketConnection *c = p->live->pdata[i];
		g_signal_handlers_disconnect_by_data(c, p);
		if (soup_websocket_connection_get_state(c) == SOUP_WEBSOCKET_STATE_OPEN)
			soup_websocket_connection_close(c, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
		g_object_unref(c);
	}
	g_ptr_array_free(p->live, TRUE);
	if (p->server) {
		soup_server_disconnect(p->server);
		g_object_unref(p->server);
	}
	web_auth_destroy(p->auth);
	g_free(p);
}

/* Owns the generic parts of an HTTP server of hallwatch (web/server.h): headers, JSON
 * answers, cookies and the session they name, CSRF, bodies, GResource pages, listening.
 * Used by the console (web.c) and the county's page (county/page.c); runs on the main loop's
 * thread. */
#define LOG_TAG "http"
#include "web/server.h"

#include <errno.h>
#include <string.h>

#include "core/log.h"

int64_t web_server_now_ms(void)
{
	return g_get_real_time() / 1000;
}

void web_server_security_headers(SoupServerMessage *msg, bool tls)
{
	SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);

	soup_message_headers_replace(h, "Content-Security-Policy",
				     "default-src 'self'; img-src 'self' data:; "
				     "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
	soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
	soup_message_headers_replace(h, "Referrer-Policy", "no-referrer");
	soup_message_headers_replace(h, "X-Frame-Options", "DENY");
	soup_message_headers_replace(h, "Cache-Control", "no-store");
	if (tls)
		soup_message_headers_replace(h, "Strict-Transport-Security", "max-age=31536000");
}

void web_server_send_text(SoupServerMessage *msg, int status, const char *type, const char *body)
{
	soup_server_message_set_status(msg, (guint)status, NULL);
	soup_server_message_set_response(msg, type, SOUP_MEMORY_COPY, body, strlen(body));
}

void web_server_send_json(SoupServerMessage *msg, int status, json_t *o)
{
	char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	web_server_send_text(msg, txt ? status : 500, "application/json", txt ? txt : "{}");
	free(txt);
}

void web_server_send_error(SoupServerMessage *msg, int status, const char *code,
			   const char *message)
{
	web_server_send_json(
	    msg, status,
	    json_pack("{s:b, s:s, s:s}", "ok", false, "error", code, "message", message));
}

char *web_server_cookie(SoupServerMessage *msg, const char *name)
{
	const char *h =
	    soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Cookie");
	char **parts, *v = NULL;
	size_t n = strlen(name);

	if (!h)
		return NULL;
	parts = g_strsplit(h, ";", 64);
	for (char **p = parts; *p && !v; p++) {
		const char *c = *p;
		while (*c == ' ')
			c++;
		if (strncmp(c, name, n) == 0 && c[n] == '=')
			v = g_strdup(c + n + 1);
	}
	g_strfreev(parts);
	return v;
}

bool web_server_who(struct web_auth *a, SoupServerMessage *msg, const char *cookie,
		    struct web_who *out)
{
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
	const char *authz = soup_message_headers_get_one(h, "Authorization");
	char *sid;

	*out = (struct web_who){0};
	if (authz && g_ascii_strncasecmp(authz, "Bearer ", 7) == 0)
		return web_auth_token(a, authz + 7, &out->user, &out->role);
	sid = web_server_cookie(msg, cookie);
	out->s = sid ? web_auth_session(a, sid, web_server_now_ms()) : NULL;
	g_free(sid);
	if (!out->s)
		return false;
	out->user = out->s->user;
	out->role = out->s->role;
	return true;
}

bool web_server_csrf_ok(SoupServerMessage *msg, const struct web_who *who)
{
	const char *t = soup_message_headers_get_one(soup_server_message_get_request_headers(msg),
						     "X-CSRF-Token");
	size_t n = t ? strlen(t) : 0;
	unsigned char diff = 0;

	if (!who->s)
		return true;
	if (n != strlen(who->s->csrf))
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(t[i] ^ who->s->csrf[i]);
	return diff == 0;
}

json_t *web_server_body_json(SoupServerMessage *msg)
{
	SoupMessageBody *b = soup_server_message_get_request_body(msg);
	json_t *o;

	if (!b || b->length == 0)
		return json_object();
	o = json_loadb(b->data, (size_t)b->length, 0, NULL);
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

bool web_server_json_body_type(SoupServerMessage *msg)
{
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
	SoupMessageBody *b = soup_server_message_get_request_body(msg);
	const char *t = soup_message_headers_get_content_type(h, NULL);

	return !b || b->length == 0 || (t && g_ascii_strcasecmp(t, "application/json") == 0);
}

void web_server_early(SoupServer *server, SoupServerMessage *msg, const char *path,
		      GHashTable *query, gpointer ud)
{
	const bool *tls = ud;
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
	SoupMessageHeaders *rh = soup_server_message_get_response_headers(msg);

	(void)server;
	(void)path;
	(void)query;
	web_server_security_headers(msg, tls && *tls);
	if (soup_message_headers_get_encoding(h) == SOUP_ENCODING_CHUNKED) {
		soup_message_headers_replace(rh, "Connection", "close");
		web_server_send_error(msg, 411, "length_required",
				      "a request body needs a Content-Length");
	} else if (soup_message_headers_get_encoding(h) == SOUP_ENCODING_CONTENT_LENGTH &&
		   soup_message_headers_get_content_length(h) > WEB_SERVER_BODY_MAX) {
		soup_message_headers_replace(rh, "Connection", "close");
		web_server_send_error(msg, 413, "too_large", "the request body is above 64 KiB");
	}
}

static const char *mime_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (!dot)
		return "application/octet-stream";
	if (strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	return "application/octet-stream";
}

bool web_server_send_resource(SoupServerMessage *msg, GResource *res, const char *root,
			      const char *name)
{
	char *rp;
	GBytes *b;

	if (!name[0] || strchr(name, '/') || strstr(name, ".."))
		return false;
	rp = g_strconcat(root, "/", name, NULL);
	b = g_resource_lookup_data(res, rp, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
	g_free(rp);
	if (!b)
		return false;
	soup_server_message_set_status(msg, 200, NULL);
	soup_message_headers_set_content_type(soup_server_message_get_response_headers(msg),
					      mime_of(name), NULL);
	soup_message_body_append_bytes(soup_server_message_get_response_body(msg), b);
	g_bytes_unref(b);
	return true;
}

void web_server_set_cookie(SoupServerMessage *msg, const char *cookie, const char *id, int max_age,
			   bool tls)
{
	char *c = g_strdup_printf("%s=%s; Path=/; HttpOnly; SameSite=Strict%s; Max-Age=%d", cookie,
				  id, tls ? "; Secure" : "", max_age);

	soup_message_headers_append(soup_server_message_get_response_headers(msg), "Set-Cookie", c);
	g_free(c);
}

bool web_server_same_origin(SoupServerMessage *msg)
{
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
	const char *origin = soup_message_headers_get_one(h, "Origin");
	const char *host = soup_message_headers_get_one(h, "Host");
	const char *o = origin ? strstr(origin, "://") : NULL;

	return !origin || (o && host && strcmp(o + 3, host) == 0);
}

int web_server_listen(SoupServer *server, const struct cfg_http *h, const char *what, bool *tls_out,
		      int *port_out)
{
	GError *err = NULL;
	GSocketAddress *addr = g_inet_socket_address_new_from_string(h->bind, (guint)h->port);
	GSList *uris;
	bool tls = false;
	int rc = 0;

	if (!addr) {
		log_err("%s: bind \"%s\" is not an IP address", what, h->bind);
		return -EINVAL;
	}
	if (h->tls_cert) {
		GTlsCertificate *c =
		    g_tls_certificate_new_from_files(h->tls_cert, h->tls_key, &err);
		if (!c) {
			log_err("%s: TLS certificate %s / key %s: %s", what, h->tls_cert,
				h->tls_key, err->message);
			g_error_free(err);
			g_object_unref(addr);
			return -EINVAL;
		}
		soup_server_set_tls_certificate(server, c);
		g_object_unref(c);
		tls = true;
	}
	if (!soup_server_listen(server, addr, tls ? SOUP_SERVER_LISTEN_HTTPS : 0, &err)) {
		log_err("%s: cannot listen on %s:%d: %s", what, h->bind, h->port, err->message);
		rc = err->code == G_IO_ERROR_ADDRESS_IN_USE ? -EADDRINUSE : -EIO;
		g_error_free(err);
	}
	g_object_unref(addr);
	if (rc < 0)
		return rc;
	uris = soup_server_get_uris(server);
	*port_out = uris ? g_uri_get_port(uris->data) : h->port;
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	*tls_out = tls;
	log_info("%s on %s://%s:%d/ (%zu account(s))", what, tls ? "https" : "http", h->bind,
		 *port_out, h->n_users);
	return 0;
}

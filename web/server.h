/* The generic parts of hallwatch's HTTP servers (the hall's console, web/web.c, and the
 * county's page, county/page.c): security headers, JSON answers, cookies and the session a
 * request names, the CSRF check, request bodies, pages from a GResource, the listening
 * socket. Includes core/ only. Main loop thread only. */
#ifndef HW_WEB_SERVER_H
#define HW_WEB_SERVER_H

#include <gio/gio.h>
#include <jansson.h>
#include <libsoup/soup.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "web/auth.h"

#define WEB_SERVER_BODY_MAX 65536 /* request bodies above it: 413 */

/* The console's own pages (style.css, i18n.js, favicon.svg: shared with the county). */
GResource *hw_web_get_resource(void);
void hw_web_register_resource(void);

/* Who is asking: a session or a bearer token. */
struct web_who {
	const char *user;
	enum cfg_http_role role;
	const struct web_session *s; /* NULL for a token */
};

int64_t web_server_now_ms(void);
void web_server_security_headers(SoupServerMessage *msg, bool tls);
void web_server_send_text(SoupServerMessage *msg, int status, const char *type, const char *body);
void web_server_send_json(SoupServerMessage *msg, int status, json_t *o); /* o: transfer full */
void web_server_send_error(SoupServerMessage *msg, int status, const char *code,
			   const char *message);
/* The value of cookie name in the request (g_free), or NULL. */
char *web_server_cookie(SoupServerMessage *msg, const char *name);
/* The session (cookie) or bearer token of the request; false when none is valid. */
bool web_server_who(struct web_auth *a, SoupServerMessage *msg, const char *cookie,
		    struct web_who *out);
/* A change from a session carries its X-CSRF-Token (compared in constant time). */
bool web_server_csrf_ok(SoupServerMessage *msg, const struct web_who *who);
/* The body as a JSON object (transfer full), {} when empty, NULL when not an object. */
json_t *web_server_body_json(SoupServerMessage *msg);
/* True when the request has no body or a JSON one. */
bool web_server_json_body_type(SoupServerMessage *msg);
/* Refuses a chunked body or one above WEB_SERVER_BODY_MAX; sets the security headers.
 * For soup_server_add_early_handler (ud: a bool * saying whether TLS is on). */
void web_server_early(SoupServer *server, SoupServerMessage *msg, const char *path,
		      GHashTable *query, gpointer ud);
/* Serves root/name from res; false when there is none (name: a plain file name). */
bool web_server_send_resource(SoupServerMessage *msg, GResource *res, const char *root,
			      const char *name);
void web_server_set_cookie(SoupServerMessage *msg, const char *cookie, const char *id, int max_age,
			   bool tls);
/* An Origin header, when present, names the Host asked (a WebSocket from this site). */
bool web_server_same_origin(SoupServerMessage *msg);
/* Listens on h's bind and port, with TLS from tls_cert/tls_key; *port_out: the port.
 * Returns 0 or -errno. */
int web_server_listen(SoupServer *server, const struct cfg_http *h, const char *what, bool *tls_out,
		      int *port_out);

#endif

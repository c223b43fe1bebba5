/* The local web console (docs/http.md): an HTTP/1.1 server (libsoup) on the daemon's main
 * loop serving the pages built into the binary (GResource), the JSON API under /api/v1
 * and the live WebSocket /api/v1/live. Every action goes through the command router
 * (router_call) with the console user's name and role; reads come from the hub.
 * Main loop thread only. */
#ifndef HW_WEB_H
#define HW_WEB_H

#include <stdint.h>

#include "core/config.h"
#include "hub/hub.h"
#include "router/router.h"

#define WEB_BODY_MAX 65536 /* request bodies above it: 413 */

struct web;

/* Creates the console for cfg->http and listens when cfg->http.enabled (bind, port, TLS
 * from tls_cert/tls_key). *out is set even when disabled (then it does nothing). cfg
 * (transfer none) must stay until web_attach gives another or web_destroy.
 * Returns 0 or -errno (cannot listen, bad TLS files). */
int web_create(const struct hw_config *cfg, struct web **out);
void web_destroy(struct web *w); /* accepts NULL */

/* Binds the console to what a (re)load made: its configuration (accounts, sessions of
 * accounts gone end; a changed bind, port or TLS needs a restart and says so), the hub
 * (listeners added: hub changes go to the live pages) and the router. All transfer none;
 * call web_detach before any of them goes. Accepts w NULL. */
void web_attach(struct web *w, const struct hw_config *cfg, struct hub *h, struct router *r);
void web_detach(struct web *w);

/* The port listened on (0: not listening): for tests and the demo. */
int web_port(const struct web *w);

/* The site's language for the pages ("zh" or "en"). */
const char *web_site_language(const struct hw_config *cfg);

#endif

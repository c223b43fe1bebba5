/* The console's accounts, sessions and login limiter (docs/http.md): passwords checked
 * against yescrypt hashes (libcrypt), bearer tokens against their SHA-256, sessions with a
 * random 256-bit id and a CSRF token each, an idle expiry, and login attempts limited per
 * user and per client address. No sockets; the clock is passed in. Main loop thread only
 * (web_auth_hash may run on any thread). */
#ifndef HW_WEB_AUTH_H
#define HW_WEB_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

#define WEB_AUTH_LOGINS_PER_MIN 5 /* failed logins per user and per address a minute */
#define WEB_AUTH_ID_HEX 64	  /* a session id and a CSRF token: 256 bits as hex */

struct web_auth;

/* A session as the console sees it (transfer none: valid until the next call that may
 * expire sessions). */
struct web_session {
	char id[WEB_AUTH_ID_HEX + 1];
	char csrf[WEB_AUTH_ID_HEX + 1];
	char user[64];
	enum cfg_http_role role;
	int64_t last_ms;
};

/* cfg (transfer none) must outlive the auth, or be replaced with web_auth_set_config. */
int web_auth_create(const struct cfg_http *cfg, struct web_auth **out);
void web_auth_destroy(struct web_auth *a); /* accepts NULL */
/* A reload: new accounts; sessions of accounts that are gone or changed role end. */
void web_auth_set_config(struct web_auth *a, const struct cfg_http *cfg);

/* 0 and the new session, -EACCES (no such user, or a wrong password: the same answer),
 * or -EAGAIN with *retry_s when user or addr failed too often this minute. */
int web_auth_login(struct web_auth *a, const char *user, const char *password, const char *addr,
		   int64_t now_ms, const struct web_session **out, int *retry_s);
/* The live session of id (its idle clock restarted), or NULL. */
const struct web_session *web_auth_session(struct web_auth *a, const char *id, int64_t now_ms);
void web_auth_logout(struct web_auth *a, const char *id);
/* The account a bearer token names, or false. */
bool web_auth_token(const struct web_auth *a, const char *token, const char **name,
		    enum cfg_http_role *role);
size_t web_auth_n_sessions(const struct web_auth *a);

/* A yescrypt hash of password (g_free), or NULL. */
char *web_auth_hash(const char *password);
/* "viewer", "operator", "inspector", "admin". */
const char *web_auth_role_name(enum cfg_http_role role);

#endif

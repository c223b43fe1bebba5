/* The console's accounts, sessions and login limiter: owns the session table and the
 * counters of failed logins. Main loop thread only (web_auth_hash on any thread). */
#define LOG_TAG "web"
#include "web/auth.h"

#include <crypt.h>
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "core/log.h"

#define SESSIONS_MAX 256    /* beyond: the idlest session ends */
#define LIMIT_KEYS_MAX 4096 /* failed-login counters kept at once */
#define LIMIT_WINDOW_MS 60000

struct limit {
	int64_t start_ms;
	int count;
};

struct web_auth {
	const struct cfg_http *cfg;
	GHashTable *sessions; /* id -> struct web_session * */
	GHashTable *limits;   /* "u:<user>" / "a:<addr>" -> struct limit * */
};

const char *web_auth_role_name(enum cfg_http_role role)
{
	static const char *const n[] = {"viewer", "operator", "inspector", "admin"};

	return role >= HTTP_VIEWER && role <= HTTP_ADMIN ? n[role] : "viewer";
}

int web_auth_create(const struct cfg_http *cfg, struct web_auth **out)
{
	struct web_auth *a = g_new0(struct web_auth, 1);

	a->cfg = cfg;
	a->sessions = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	a->limits = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	*out = a;
	return 0;
}

void web_auth_destroy(struct web_auth *a)
{
	if (!a)
		return;
	g_hash_table_destroy(a->sessions);
	g_hash_table_destroy(a->limits);
	g_free(a);
}

static const struct cfg_http_user *find_user(const struct cfg_http *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->n_users; i++)
		if (strcmp(cfg->users[i].name, name) == 0)
			return &cfg->users[i];
	return NULL;
}

void web_auth_set_config(struct web_auth *a, const struct cfg_http *cfg)
{
	GHashTableIter it;
	gpointer v;

	a->cfg = cfg;
	g_hash_table_iter_init(&it, a->sessions);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct web_session *s = v;
		const struct cfg_http_user *u = find_user(cfg, s->user);
		if (!u || u->role != s->role)
			g_hash_table_iter_remove(&it);
	}
}

static int random_hex(char *out, size_t n_bytes)
{
	unsigned char b[64];
	size_t got = 0;

	if (n_bytes > sizeof(b))
		return -EINVAL;
	while (got < n_bytes) {
		ssize_t r = getrandom(b + got, n_bytes - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		got += (size_t)r;
	}
	for (size_t i = 0; i < n_bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

char *web_auth_hash(const char *password)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	char *h = NULL;

	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)))
		return NULL;
	cd = g_new0(struct crypt_data, 1);
	if (crypt_rn(password, salt, cd, sizeof(*cd)) && cd->output[0] != '*')
		h = g_strdup(cd->output);
	explicit_bzero(cd, sizeof(*cd));
	g_free(cd);
	return h;
}

/* True when password matches hash (constant time over the hash's length). */
static bool check_password(const char *password, const char *hash)
{
	struct crypt_data *cd = g_new0(struct crypt_data, 1);
	bool ok = false;

	if (crypt_rn(password, hash, cd, sizeof(*cd)) && cd->output[0] != '*') {
		size_t n = strlen(hash);
		unsigned char diff = strlen(cd->output) != n;
		for (size_t i = 0; i < n && cd->output[i]; i++)
			diff |= (unsigned char)(cd->output[i] ^ hash[i]);
		ok = diff == 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	g_free(cd);
	return ok;
}

/* ---- the limiter of failed logins ---- */

static void limits_expire(struct web_auth *a, int64_t now_ms)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, a->limits);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (now_ms - ((struct limit *)v)->start_ms >= LIMIT_WINDOW_MS)
			g_hash_table_iter_remove(&it);
}

/* Seconds until key may try again (0: now). */
static int limit_wait(struct web_auth *a, const char *key, int64_t now_ms)
{
	const struct limit *l = g_hash_table_lookup(a->limits, key);
	int64_t left;

	if (!l || l->count < WEB_AUTH_LOGINS_PER_MIN)
		return 0;
	left = l->start_ms + LIMIT_WINDOW_MS - now_ms;
	return left > 0 ? (int)((left + 999) / 1000) : 0;
}

static void limit_count(struct web_auth *a, const char *key, int64_t now_ms)
{
	struct limit *l = g_hash_table_lookup(a->limits, key);

	if (l && now_ms - l->start_ms >= LIMIT_WINDOW_MS) {
		l->start_ms = now_ms;
		l->count = 0;
	}
	if (!l) {
		if (g_hash_table_size(a->limits) >= LIMIT_KEYS_MAX)
			limits_expire(a, now_ms);
		if (g_hash_table_size(a->limits) >= LIMIT_KEYS_MAX)
			return; /* a flood of names: the per-address counter still holds */
		l = g_new0(struct limit, 1);
		l->start_ms = now_ms;
		g_hash_table_insert(a->limits, g_strdup(key), l);
	}
	if (l->count++ == WEB_AUTH_LOGINS_PER_MIN)
		log_warn("console: more than %d failed logins a minute for %s: refusing it for a "
			 "minute",
			 WEB_AUTH_LOGINS_PER_MIN, key);
}

/* ---- sessions ---- */

static void sessions_expire(struct web_auth *a, int64_t now_ms)
{
	GHashTableIter it;
	gpointer v;
	int64_t idle = (int64_t)a->cfg->session_idle_s * 1000;

	g_hash_table_iter_init(&it, a->sessions);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (now_ms - ((struct web_session *)v)->last_ms >= idle)
			g_hash_table_iter_remove(&it);
}

static void sessions_evict_idlest(struct web_auth *a)
{
	GHashTableIter it;
	gpointer v;
	struct web_session *old = NULL;

	g_hash_table_iter_init(&it, a->sessions);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (!old || ((struct web_session *)v)->last_ms < old->last_ms)
			old = v;
	if (old)
		g_hash_table_remove(a->sessions, old->id);
}

int web_auth_login(struct web_auth *a, const char *user, const char *password, const char *addr,
		   int64_t now_ms, const struct web_session **out, int *retry_s)
{
	static const char dummy[] = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC"
				    ".7HmxxGWKzlh6";
	char *ku = g_strdup_printf("u:%s", user ? user : ""), *ka = g_strdup_printf("a:%s", addr);
	const struct cfg_http_user *u = find_user(a->cfg, user);
	struct web_session *s;
	int wait = MAX(limit_wait(a, ku, now_ms), limit_wait(a, ka, now_ms)), rc;

	if (wait > 0) {
		*retry_s = wait;
		rc = -EAGAIN;
		goto out;
	}
	/* An unknown user costs the same hash as a known one. */
	if (!check_password(password ? password : "", u ? u->password_hash : dummy) || !u) {
		limit_count(a, ku, now_ms);
		limit_count(a, ka, now_ms);
		rc = -EACCES;
		goto out;
	}
	sessions_expire(a, now_ms);
	if (g_hash_table_size(a->sessions) >= SESSIONS_MAX)
		sessions_evict_idlest(a);
	s = g_new0(struct web_session, 1);
	if ((rc = random_hex(s->id, 32)) < 0 || (rc = random_hex(s->csrf, 32)) < 0) {
		g_free(s);
		goto out;
	}
	g_strlcpy(s->user, u->name, sizeof(s->user));
	s->role = u->role;
	s->last_ms = now_ms;
	g_hash_table_insert(a->sessions, s->id, s);
	*out = s;
	rc = 0;
out:
	g_free(ku);
	g_free(ka);
	return rc;
}

const struct web_session *web_auth_session(struct web_auth *a, const char *id, int64_t now_ms)
{
	struct web_session *s = id ? g_hash_table_lookup(a->sessions, id) : NULL;

	if (!s)
		return NULL;
	if (now_ms - s->last_ms >= (int64_t)a->cfg->session_idle_s * 1000) {
		g_hash_table_remove(a->sessions, id);
		return NULL;
	}
	s->last_ms = now_ms;
	return s;
}

void web_auth_logout(struct web_auth *a, const char *id)
{
	if (id)
		g_hash_table_remove(a->sessions, id);
}

size_t web_auth_n_sessions(const struct web_auth *a)
{
	return g_hash_table_size(a->sessions);
}

bool web_auth_token(const struct web_auth *a, const char *token, const char **name,
		    enum cfg_http_role *role)
{
	char *sum;
	bool ok = false;

	if (!token || !*token)
		return false;
	sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, token, -1);
	for (size_t i = 0; sum && i < a->cfg->n_tokens && !ok; i++)
		if (g_ascii_strcasecmp(sum, a->cfg->tokens[i].token_sha256) == 0) {
			*name = a->cfg->tokens[i].name;
			*role = a->cfg->tokens[i].role;
			ok = true;
		}
	g_free(sum);
	return ok;
}

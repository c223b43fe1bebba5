/* Unit tests of the console's accounts and sessions (web/auth.c): yescrypt hashes, logins
 * right and wrong, the limiter of failed logins per user and per address with its window,
 * the idle expiry of sessions, a reload that drops accounts, bearer tokens. The clock is
 * passed in. Single thread. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "core/config.h"
#include "web/auth.h"

static void test_hash_and_login(void **state)
{
	char *h = web_auth_hash("correct horse");
	struct cfg_http_user u = {.name = "olga", .role = HTTP_OPERATOR, .password_hash = h};
	struct cfg_http cfg = {.session_idle_s = 60, .users = &u, .n_users = 1};
	struct web_auth *a;
	const struct web_session *s = NULL, *s2 = NULL;
	int retry = 0;

	(void)state;
	assert_non_null(h);
	assert_true(strncmp(h, "$y$", 3) == 0);
	assert_int_equal(web_auth_create(&cfg, &a), 0);
	assert_int_equal(web_auth_login(a, "olga", "correct horse", "10.0.0.1", 1000, &s, &retry),
			 0);
	assert_string_equal(s->user, "olga");
	assert_int_equal(s->role, HTTP_OPERATOR);
	assert_int_equal(strlen(s->id), 64);
	assert_int_equal(strlen(s->csrf), 64);
	assert_string_not_equal(s->id, s->csrf);
	/* wrong password, unknown user: the same answer */
	assert_int_equal(web_auth_login(a, "olga", "wrong", "10.0.0.1", 1000, &s2, &retry),
			 -EACCES);
	assert_int_equal(web_auth_login(a, "nobody", "x", "10.0.0.2", 1000, &s2, &retry), -EACCES);
	/* the session lives while used, ends after session_idle_s unused */
	char id[WEB_AUTH_ID_HEX + 1];
	g_strlcpy(id, s->id, sizeof(id));
	assert_non_null(web_auth_session(a, id, 50000));
	assert_non_null(web_auth_session(a, id, 109000)); /* 59 s after the last use */
	assert_null(web_auth_session(a, id, 169000));
	assert_null(web_auth_session(a, "0000", 1000));
	assert_null(web_auth_session(a, NULL, 1000));
	web_auth_destroy(a);
	g_free(h);
}

static void test_limiter(void **state)
{
	char *h = web_auth_hash("pw");
	struct cfg_http_user u[2] = {
	    {.name = "victor", .role = HTTP_VIEWER, .password_hash = h},
	    {.name = "olga", .role = HTTP_OPERATOR, .password_hash = h},
	};
	struct cfg_http cfg = {.session_idle_s = 600, .users = u, .n_users = 2};
	struct web_auth *a;
	const struct web_session *s;
	int retry = 0;

	(void)state;
	web_auth_create(&cfg, &a);
	/* per user: 5 failures from different addresses, then even the right one waits */
	for (int i = 0; i < WEB_AUTH_LOGINS_PER_MIN; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "10.0.1.%d", i);
		assert_int_equal(web_auth_login(a, "victor", "bad", addr, 1000 + i, &s, &retry),
				 -EACCES);
	}
	assert_int_equal(web_auth_login(a, "victor", "pw", "10.0.2.1", 2000, &s, &retry), -EAGAIN);
	assert_int_equal(retry, 59);
	/* another user from another address is not held */
	assert_int_equal(web_auth_login(a, "olga", "pw", "10.0.3.1", 2000, &s, &retry), 0);
	/* the window ends a minute after its first failure */
	assert_int_equal(web_auth_login(a, "victor", "pw", "10.0.2.1", 61000, &s, &retry), 0);
	/* per address: 5 failures on several names, then the address waits for any name */
	for (int i = 0; i < WEB_AUTH_LOGINS_PER_MIN; i++)
		web_auth_login(a, i % 2 ? "x" : "y", "bad", "10.9.9.9", 70000, &s, &retry);
	assert_int_equal(web_auth_login(a, "olga", "pw", "10.9.9.9", 70001, &s, &retry), -EAGAIN);
	assert_int_equal(web_auth_login(a, "olga", "pw", "10.9.9.8", 70001, &s, &retry), 0);
	web_auth_destroy(a);
	g_free(h);
}

static void test_reload_and_tokens(void **state)
{
	char *h = web_auth_hash("pw");
	char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, "s3cret-token", -1);
	struct cfg_http_user u = {.name = "olga", .role = HTTP_OPERATOR, .password_hash = h};
	struct cfg_http_token t = {.name = "script", .role = HTTP_ADMIN, .token_sha256 = sum};
	struct cfg_http cfg = {.session_idle_s = 600, .users = &u, .n_users = 1};
	struct cfg_http cfg2 = cfg;
	struct web_auth *a;
	const struct web_session *s;
	const char *name = NULL;
	enum cfg_http_role role = HTTP_VIEWER;
	char id[WEB_AUTH_ID_HEX + 1];
	int retry;

	(void)state;
	web_auth_create(&cfg, &a);
	assert_false(web_auth_token(a, "s3cret-token", &name, &role));
	assert_int_equal(web_auth_login(a, "olga", "pw", "10.0.0.1", 1000, &s, &retry), 0);
	g_strlcpy(id, s->id, sizeof(id));
	/* a reload with tokens and olga now a viewer: her session ends */
	cfg2.tokens = &t;
	cfg2.n_tokens = 1;
	u.role = HTTP_VIEWER;
	web_auth_set_config(a, &cfg2);
	assert_null(web_auth_session(a, id, 2000));
	assert_int_equal(web_auth_n_sessions(a), 0);
	assert_true(web_auth_token(a, "s3cret-token", &name, &role));
	assert_string_equal(name, "script");
	assert_int_equal(role, HTTP_ADMIN);
	assert_false(web_auth_token(a, "s3cret-tokeN", &name, &role));
	assert_false(web_auth_token(a, "", &name, &role));
	assert_string_equal(web_auth_role_name(HTTP_INSPECTOR), "inspector");
	web_auth_destroy(a);
	g_free(sum);
	g_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash_and_login),
	    cmocka_unit_test(test_limiter),
	    cmocka_unit_test(test_reload_and_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the command path's pure parts: request bounds and the identity rule
 * (router/cmdreq.c), durations without overflow (alerts/engine.c), the audit limiter
 * on an injected clock, the reply prefix check (outputs/mqtt.c) and the log escaping
 * (core/log.c). Single thread. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alerts/command.h"
#include "router/cmdreq.h"
#include "core/log.h"
#include "outputs/mqtt.h"

static int parse(const char *payload, const char *prop_user, int protocol, struct cmdreq *r)
{
	return cmdreq_parse("ack", payload, payload ? strlen(payload) : 0, prop_user, protocol, r);
}

static void test_empty_payload_is_an_empty_request(void **state)
{
	struct cmdreq r;

	(void)state;
	assert_int_equal(cmdreq_parse("list", NULL, 0, NULL, 5, &r), 0);
	assert_string_equal(r.verb, "list");
	assert_null(r.id);
	assert_null(r.user);
	cmdreq_clear(&r);
}

static void test_not_an_object_is_invalid_but_keeps_identity(void **state)
{
	struct cmdreq r;

	(void)state;
	assert_int_equal(parse("[1,2]", "alice", 5, &r), -EINVAL);
	assert_string_equal(r.user, "alice");
	cmdreq_clear(&r);
	assert_int_equal(parse("{\"id\":", "alice", 5, &r), -EINVAL);
	cmdreq_clear(&r);
}

/* An integer id (an inspection record's number) is read as its decimal text; any other
 * non-string id is refused. */
static void test_integer_id_is_its_text(void **state)
{
	struct cmdreq r;

	(void)state;
	assert_int_equal(parse("{\"id\":42}", "alice", 5, &r), 0);
	assert_string_equal(r.id, "42");
	assert_null(r.bad_type);
	cmdreq_clear(&r);
	assert_int_equal(parse("{\"id\":-7}", "alice", 5, &r), 0);
	assert_string_equal(r.id, "-7");
	cmdreq_clear(&r);
	assert_int_equal(parse("{\"id\":4.5}", "alice", 5, &r), -EINVAL);
	assert_string_equal(r.bad_type, "id");
	cmdreq_clear(&r);
	assert_int_equal(parse("{\"id\":true}", "alice", 5, &r), -EINVAL);
	assert_string_equal(r.bad_type, "id");
	cmdreq_clear(&r);
}

/* v5: the user property is the identity; the payload's user never is. */
static void test_identity_v5_is_the_property(void **state)
{
	struct cmdreq r;

	(void)state;
	assert_int_equal(parse("{\"id\":\"a.b\",\"user\":\"alice\"}", NULL, 5, &r), 0);
	assert_null(r.user);
	assert_true(r.payload_user);
	cmdreq_clear(&r);
	assert_int_equal(parse("{\"id\":\"a.b\",\"user\":\"alice\"}", "bob", 5, &r), 0);
	assert_string_equal(r.user, "bob");
	cmdreq_clear(&r);
}

/* 3.1.1: no properties exist; the payload's user is the identity. */
static void test_identity_311_is_the_payload(void **state)
{
	struct cmdreq r;

	(void)state;
	assert_int_equal(parse("{\"id\":\"a.b\",\"user\":\"alice\"}", NULL, 4, &r), 0);
	assert_string_equal(r.user, "alice");
	cmdreq_clear(&r);
	/* a user that is not a string is refused (no identity), not taken as nobody */
	assert_int_equal(parse("{\"id\":\"a.b\",\"user\":7}", NULL, 4, &r), -EINVAL);
	assert_null(r.user);
	assert_string_equal(r.bad_type, "user");
	cmdreq_clear(&r);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Each field at its bound is taken, one byte more is refused and named. */
static void test_field_bounds(void **state)
{
	static const struct {
		const char *key;
		size_t max;
	} f[] = {{"id", CMDREQ_ID_MAX},
		 {"reason", CMDREQ_REASON_MAX},
		 {"request_id", CMDREQ_FIELD_MAX},
		 {"device", CMDREQ_FIELD_MAX},
		 {"command", CMDREQ_FIELD_MAX},
		 {"camera", CMDREQ_FIELD_MAX}};
	struct cmdreq r;

	(void)state;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		for (size_t extra = 0; extra < 2; extra++) {
			char *v = repeat('x', f[i].max + extra);
			char *p = malloc(strlen(v) + 64);
			sprintf(p, "{\"%s\":\"%s\"}", f[i].key, v);
			assert_int_equal(parse(p, "alice", 5, &r), extra ? -EMSGSIZE : 0);
			if (extra) {
				assert_string_equal(r.too_large, f[i].key);
				assert_int_equal(r.too_large_len, f[i].max + 1);
			} else {
				assert_null(r.too_large);
			}
			cmdreq_clear(&r);
			free(p);
			free(v);
		}
	}
}

static void test_user_bounds(void **state)
{
	char *u = repeat('u', CMDREQ_USER_MAX + 1), p[256];
	struct cmdreq r;

	(void)state;
	assert_int_equal(parse("{}", u, 5, &r), -EMSGSIZE);
	assert_string_equal(r.too_large, "user");
	assert_null(r.user);
	cmdreq_clear(&r);
	snprintf(p, sizeof(p), "{\"user\":\"%s\"}", u);
	assert_int_equal(parse(p, NULL, 4, &r), -EMSGSIZE);
	assert_string_equal(r.too_large, "user");
	cmdreq_clear(&r);
	u[CMDREQ_USER_MAX] = '\0';
	assert_int_equal(parse("{}", u, 5, &r), 0);
	assert_string_equal(r.user, u);
	cmdreq_clear(&r);
	free(u);
}

static void test_payload_and_verb_bounds(void **state)
{
	char *big = repeat(' ', CMDREQ_PAYLOAD_MAX + 1);
	char *verb = repeat('v', CMDREQ_VERB_MAX + 1);
	struct cmdreq r;

	(void)state;
	big[0] = '{';
	big[CMDREQ_PAYLOAD_MAX] = '}';
	assert_int_equal(cmdreq_parse("ack", big, strlen(big), "alice", 5, &r), -EMSGSIZE);
	assert_string_equal(r.too_large, "payload");
	assert_int_equal(r.too_large_len, CMDREQ_PAYLOAD_MAX + 1);
	assert_string_equal(r.user, "alice");
	cmdreq_clear(&r);
	/* exactly at the bound: parsed */
	assert_int_equal(cmdreq_parse("ack", big + 1, strlen(big + 1), "alice", 5, &r),
			 -EINVAL); /* "   ...}" is not JSON, but it was read */
	cmdreq_clear(&r);
	big[CMDREQ_PAYLOAD_MAX - 1] = '}';
	big[CMDREQ_PAYLOAD_MAX] = '\0';
	assert_int_equal(cmdreq_parse("ack", big, strlen(big), "alice", 5, &r), 0);
	cmdreq_clear(&r);
	assert_int_equal(cmdreq_parse(verb, "{}", 2, "alice", 5, &r), -EMSGSIZE);
	assert_string_equal(r.too_large, "verb");
	assert_null(r.verb);
	cmdreq_clear(&r);
	/* an embedded NUL in a field is refused as well (the JSON reader does) */
	assert_int_equal(parse("{\"id\":\"a\\u0000b\"}", "alice", 5, &r), -EINVAL);
	cmdreq_clear(&r);
	free(big);
	free(verb);
}

static void test_durations_checked(void **state)
{
	int64_t ms = -1;
	json_t *v;

	(void)state;
	assert_int_equal(alert_parse_duration("2h", &ms), 0);
	assert_int_equal(ms, 7200000);
	assert_int_equal(alert_parse_duration("1.5m", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(alert_parse_duration("90", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(alert_parse_duration("3660d", &ms), 0);
	assert_int_equal(alert_parse_duration("3661d", &ms), -ERANGE);
	assert_int_equal(alert_parse_duration("9223372036854775807", &ms), -ERANGE);
	assert_int_equal(alert_parse_duration("99999999999999999999999999d", &ms), -ERANGE);
	assert_int_equal(alert_parse_duration("nan", &ms), -EINVAL);
	assert_int_equal(alert_parse_duration("inf", &ms), -EINVAL);
	assert_int_equal(alert_parse_duration("1e3", &ms), -EINVAL);
	assert_int_equal(alert_parse_duration("0x10", &ms), -EINVAL);
	assert_int_equal(alert_parse_duration(" 5", &ms), -EINVAL);
	assert_int_equal(alert_parse_duration("5.", &ms), -EINVAL);
	assert_int_equal(alert_parse_duration("0.0001", &ms), -EINVAL); /* rounds to 0 ms */
	assert_int_equal(alert_parse_duration("2hh", &ms), -EINVAL);

	v = json_integer(INT64_MAX);
	assert_int_equal(alert_cmd_duration(v, &ms), -ERANGE);
	json_decref(v);
	v = json_integer(INT64_MAX / 1000 + 1);
	assert_int_equal(alert_cmd_duration(v, &ms), -ERANGE);
	json_decref(v);
	v = json_integer(INT64_MIN);
	assert_int_equal(alert_cmd_duration(v, &ms), -EINVAL);
	json_decref(v);
	v = json_integer(ALERT_DURATION_MAX_MS / 1000);
	assert_int_equal(alert_cmd_duration(v, &ms), 0);
	assert_true(ms == ALERT_DURATION_MAX_MS);
	json_decref(v);
	v = json_real(7200.0);
	assert_int_equal(alert_cmd_duration(v, &ms), -EINVAL);
	json_decref(v);
	assert_int_equal(alert_cmd_duration(NULL, &ms), -EINVAL);
}

static void test_request_id(void **state)
{
	char *long_id = repeat('a', CMDREQ_FIELD_MAX + 1);

	(void)state;
	assert_true(cmdreq_request_id_ok("r-1_A"));
	assert_false(cmdreq_request_id_ok(""));
	assert_false(cmdreq_request_id_ok("a/b"));
	assert_false(cmdreq_request_id_ok("a+"));
	assert_false(cmdreq_request_id_ok("a b"));
	assert_false(cmdreq_request_id_ok(long_id));
	free(long_id);
}

struct sum {
	int calls;
	char verb[32], user[32];
	uint64_t dropped;
	int64_t since;
};

static void on_sum(const char *verb, const char *user, uint64_t dropped, int64_t since, void *ud)
{
	struct sum *s = ud;

	s->calls++;
	snprintf(s->verb, sizeof(s->verb), "%s", verb);
	snprintf(s->user, sizeof(s->user), "%s", user ? user : "(null)");
	s->dropped = dropped;
	s->since = since;
}

static void test_limiter_counts_and_summarises(void **state)
{
	struct cmdreq_limiter *l;
	struct sum s = {0};
	int64_t t = 1000;

	(void)state;
	assert_int_equal(cmdreq_limiter_create(3, 60000, 2, &l), 0);
	/* three recorded, then counted; the first drop says so */
	for (int i = 0; i < 3; i++)
		assert_int_equal(cmdreq_limiter_admit(l, "ack", "mallory", t + i), CMDREQ_RECORD);
	assert_int_equal(cmdreq_limiter_admit(l, "ack", "mallory", t + 3), CMDREQ_FIRST_DROP);
	for (int i = 0; i < 96; i++)
		assert_int_equal(cmdreq_limiter_admit(l, "ack", "mallory", t + 4 + i), CMDREQ_DROP);
	/* another pair has its own count */
	assert_int_equal(cmdreq_limiter_admit(l, "ack", NULL, t + 5), CMDREQ_RECORD);
	/* beyond max_keys pairs share one window */
	for (int i = 0; i < 3; i++)
		assert_int_equal(cmdreq_limiter_admit(l, "list", i ? "x" : "y", t + 6),
				 CMDREQ_RECORD);
	assert_int_equal(cmdreq_limiter_admit(l, "shelve", "z", t + 6), CMDREQ_FIRST_DROP);
	/* not over yet */
	cmdreq_limiter_expire(l, t + 59999, on_sum, &s);
	assert_int_equal(s.calls, 0);
	assert_int_equal(cmdreq_limiter_admit(l, "ack", "mallory", t + 59999), CMDREQ_DROP);
	/* over: one summary per window with drops; ("ack", NULL) had none */
	memset(&s, 0, sizeof(s));
	cmdreq_limiter_expire(l, t + 60000, on_sum, &s);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.verb, "ack");
	assert_string_equal(s.user, "mallory");
	assert_int_equal(s.dropped, 98);
	assert_int_equal(s.since, t);
	memset(&s, 0, sizeof(s));
	cmdreq_limiter_expire(l, t + 60006, on_sum, &s);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.verb, "*");
	assert_int_equal(s.dropped, 1);
	/* a new window records again */
	assert_int_equal(cmdreq_limiter_admit(l, "ack", "mallory", t + 60001), CMDREQ_RECORD);
	cmdreq_limiter_destroy(l);
	cmdreq_limiter_destroy(NULL);
}

static void test_reply_prefix(void **state)
{
	const char *p = "hallwatch/v1/hall-1/reply/";
	char big[400];

	(void)state;
	assert_true(mqtt_reply_topic_allowed(p, "hallwatch/v1/hall-1/reply/cli-1"));
	assert_false(mqtt_reply_topic_allowed(p, "hallwatch/v1/hall-1/reply/"));
	assert_false(mqtt_reply_topic_allowed(p, "hallwatch/v1/hall-1/status"));
	assert_false(mqtt_reply_topic_allowed(p, "hallwatch/v1/hall-1/events"));
	assert_false(mqtt_reply_topic_allowed(p, "hallwatch/v1/hall-1/alert/facp1.zone-3.fire"));
	assert_false(mqtt_reply_topic_allowed(p, "hallwatch/v1/hall-2/cmd/ack"));
	assert_false(mqtt_reply_topic_allowed(p, "hallwatch/v1/hall-1/replyX/a"));
	assert_false(mqtt_reply_topic_allowed(p, "hallwatch/v1/hall-1/reply/#"));
	assert_false(mqtt_reply_topic_allowed(p, "hallwatch/v1/hall-1/reply/+/x"));
	assert_false(mqtt_reply_topic_allowed(NULL, "x"));
	snprintf(big, sizeof(big), "%s%0*d", p, 300, 0);
	assert_false(mqtt_reply_topic_allowed(p, big));
}

static void test_log_escape(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(hw_log_escape(out, sizeof(out), "plain", 5), 5);
	assert_string_equal(out, "plain");
	hw_log_escape(out, sizeof(out), "a\nb\r\tc", 6);
	assert_string_equal(out, "a\\nb\\r\\tc");
	hw_log_escape(out, sizeof(out), "\x1b[31mred\x7f", 9);
	assert_string_equal(out, "\\x1b[31mred\\x7f");
	hw_log_escape(out, sizeof(out), "x\0y", 3);
	assert_string_equal(out, "x\\x00y");
	/* UTF-8 C1 CSI escaped, other UTF-8 kept */
	hw_log_escape(out, sizeof(out),
		      "\xc2\x9b"
		      "2J \xc3\xa9",
		      7);
	assert_string_equal(out, "\\u009b2J \xc3\xa9");
	/* an escape that does not fit is left out whole */
	assert_int_equal(hw_log_escape(out, 4, "ab\n", 3), 2);
	assert_string_equal(out, "ab");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_payload_is_an_empty_request),
	    cmocka_unit_test(test_not_an_object_is_invalid_but_keeps_identity),
	    cmocka_unit_test(test_integer_id_is_its_text),
	    cmocka_unit_test(test_identity_v5_is_the_property),
	    cmocka_unit_test(test_identity_311_is_the_payload),
	    cmocka_unit_test(test_field_bounds),
	    cmocka_unit_test(test_user_bounds),
	    cmocka_unit_test(test_payload_and_verb_bounds),
	    cmocka_unit_test(test_durations_checked),
	    cmocka_unit_test(test_request_id),
	    cmocka_unit_test(test_limiter_counts_and_summarises),
	    cmocka_unit_test(test_reply_prefix),
	    cmocka_unit_test(test_log_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the command router (router/router.c) without a broker: the verb table
 * (registration, unknown verbs), the role check, the codes and sentences of refusals,
 * handlers that finish later, and the audit records with their limiter. Replies and
 * audit records are caught through the router's seams. Single thread. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <jansson.h>

#include "core/config.h"
#include "router/router.h"

struct fixture {
	struct hw_config cfg;
	char *ops[1];
	struct router *r;
	json_t *replies;	 /* array of the replies, decoded */
	json_t *audit;		 /* array of the audit records */
	int calls;		 /* handler calls */
	int rc;			 /* what the handler returns */
	struct router_req *held; /* a request left pending */
};

static void on_reply(const struct mqtt_cmd *c, const char *json, void *ud)
{
	struct fixture *f = ud;
	json_error_t e;
	json_t *o = json_loads(json, 0, &e);

	(void)c;
	assert_non_null(o);
	json_array_append_new(f->replies, o);
}

static void on_audit(json_t *ev, void *ud)
{
	struct fixture *f = ud;

	json_array_append_new(f->audit, ev);
}

static int handler(struct router_req *q, void *ud)
{
	struct fixture *f = ud;

	f->calls++;
	if (f->rc == ROUTER_PENDING)
		f->held = q;
	else if (f->rc == -ENOENT)
		return router_req_fail(q, -ENOENT, "unknown_camera", "no camera \"%s\"",
				       router_req_args(q)->camera);
	else if (f->rc == 0)
		router_req_reply(q, "answer", json_integer(42));
	return f->rc;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->ops[0] = "alice";
	f->cfg.alerts.operators = f->ops;
	f->cfg.alerts.n_operators = 1;
	assert_int_equal(router_create(&f->cfg, NULL, &f->r), 0);
	router_set_reply_sink(f->r, on_reply, f);
	router_set_audit(f->r, on_audit, f);
	f->replies = json_array();
	f->audit = json_array();
	assert_int_equal(router_add(f->r, "ack", ROUTER_OPERATOR, 0, handler, f), 0);
	assert_int_equal(router_add(f->r, "list", ROUTER_VIEWER, ROUTER_READ_ONLY, handler, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	router_destroy(f->r);
	json_decref(f->replies);
	json_decref(f->audit);
	free(f);
	return 0;
}

/* Sends payload on cmd/verb as a v5 client with user property user (NULL: none). */
static void send5(struct fixture *f, const char *verb, const char *payload, const char *user)
{
	struct mqtt_cmd c = {.verb = verb,
			     .topic = "hallwatch/v1/hall/cmd/x",
			     .payload = payload,
			     .len = payload ? strlen(payload) : 0,
			     .user = user,
			     .protocol = 5};

	router_dispatch(f->r, &c);
}

static json_t *last(json_t *arr)
{
	size_t n = json_array_size(arr);

	return n ? json_array_get(arr, n - 1) : NULL;
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void test_registration(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(router_add(f->r, "ack", ROUTER_VIEWER, 0, handler, f), -EEXIST);
	assert_int_equal(router_add(f->r, "", ROUTER_VIEWER, 0, handler, f), -EINVAL);
	assert_int_equal(router_add(f->r, NULL, ROUTER_VIEWER, 0, handler, f), -EINVAL);
	assert_int_equal(router_add(f->r, "Ack", ROUTER_VIEWER, 0, handler, f), -EINVAL);
	assert_int_equal(router_add(f->r, "a/b", ROUTER_VIEWER, 0, handler, f), -EINVAL);
	assert_int_equal(router_add(f->r, "a+", ROUTER_VIEWER, 0, handler, f), -EINVAL);
	assert_int_equal(router_add(f->r, "snapshot", ROUTER_VIEWER, 0, NULL, f), -EINVAL);
	assert_int_equal(router_add(f->r, "snapshot", (enum router_role)7, 0, handler, f), -EINVAL);
	assert_int_equal(
	    router_add(f->r, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ROUTER_VIEWER, 0, handler, f),
	    -EINVAL); /* 33 bytes */
	assert_int_equal(router_add(f->r, "snap_shot-2", ROUTER_OPERATOR, 0, handler, f), 0);
	/* a registered verb is routed to its handler */
	send5(f, "snap_shot-2", "{}", "alice");
	assert_int_equal(f->calls, 1);
	assert_true(json_is_true(json_object_get(last(f->replies), "ok")));
	assert_int_equal(json_integer_value(json_object_get(last(f->replies), "answer")), 42);
	assert_string_equal(router_role_name(ROUTER_OPERATOR), "operator");
	assert_string_equal(router_role_name(ROUTER_VIEWER), "viewer");
}

static void test_unknown_verb(void **state)
{
	struct fixture *f = *state;
	json_t *r, *ev;

	assert_int_equal(router_add(f->r, "device", ROUTER_OPERATOR, 0, handler, f), 0);
	send5(f, "foo", "{}", "alice");
	assert_int_equal(f->calls, 0);
	r = last(f->replies);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_string_equal(str(r, "verb"), "foo");
	assert_string_equal(str(r, "error"), "unknown_verb");
	assert_string_equal(str(r, "message"), "no command \"foo\"; known: ack, device, list");
	/* refused from anyone, operator or not, the same way */
	send5(f, "foo", "{}", "mallory");
	assert_string_equal(str(last(f->replies), "error"), "unknown_verb");
	ev = last(f->audit);
	assert_string_equal(str(ev, "event"), "command");
	assert_string_equal(str(ev, "verb"), "foo");
	assert_string_equal(str(ev, "by"), "mallory");
	assert_string_equal(str(ev, "result"), "refused");
	assert_string_equal(str(ev, "error"), "unknown_verb");
	assert_null(json_object_get(ev, "seq")); /* the sink numbers it */
}

static void test_roles(void **state)
{
	struct fixture *f = *state;
	json_t *r;

	/* an operator verb: alice is in alerts.operators, bob is not */
	send5(f, "ack", "{\"id\":\"a.b\"}", "bob");
	assert_int_equal(f->calls, 0);
	r = last(f->replies);
	assert_string_equal(str(r, "error"), "not_authorized");
	assert_string_equal(str(r, "message"), "\"bob\" is not in alerts.operators");
	assert_string_equal(str(r, "id"), "a.b");
	assert_string_equal(str(last(f->audit), "message"), "\"bob\" is not in alerts.operators");
	/* no identity at all, and one claimed in the payload of a v5 request */
	send5(f, "ack", "{\"id\":\"a.b\"}", NULL);
	r = last(f->replies);
	assert_string_equal(str(r, "error"), "not_authorized");
	assert_non_null(strstr(str(r, "message"), "no MQTT v5 user property \"user\""));
	assert_null(strstr(str(r, "message"), "in the payload"));
	send5(f, "ack", "{\"id\":\"a.b\",\"user\":\"alice\"}", NULL);
	r = last(f->replies);
	assert_string_equal(str(r, "error"), "not_authorized");
	assert_non_null(strstr(str(r, "message"), "a \"user\" in the payload is no identity"));
	assert_int_equal(f->calls, 0);
	/* a 3.1.1 session: the payload's user */
	struct mqtt_cmd c = {.verb = "ack", .payload = "{\"user\":\"carol\"}", .protocol = 4};
	c.len = strlen(c.payload);
	router_dispatch(f->r, &c);
	assert_string_equal(str(last(f->replies), "message"),
			    "\"carol\" is not in alerts.operators");
	c.payload = "{}";
	c.len = 2;
	router_dispatch(f->r, &c);
	assert_non_null(strstr(str(last(f->replies), "message"), "names no \"user\""));
	assert_int_equal(f->calls, 0);
	/* the operator passes; a viewer verb passes for anyone, nobody included */
	send5(f, "ack", "{\"id\":\"a.b\"}", "alice");
	assert_int_equal(f->calls, 1);
	assert_true(json_is_true(json_object_get(last(f->replies), "ok")));
	assert_null(json_object_get(last(f->replies), "message"));
	send5(f, "list", NULL, NULL);
	assert_int_equal(f->calls, 2);
	assert_true(json_is_true(json_object_get(last(f->replies), "ok")));
	assert_true(json_is_null(json_object_get(last(f->audit), "by")));
	assert_string_equal(str(last(f->audit), "result"), "accepted");
}

static void test_refusal_sentences(void **state)
{
	struct fixture *f = *state;
	char *big = g_strnfill(5000, ' ');
	json_t *r;

	send5(f, "ack", "{\"id\":", "alice");
	r = last(f->replies);
	assert_string_equal(str(r, "error"), "invalid");
	assert_non_null(strstr(str(r, "message"), "the payload is not JSON (line 1"));
	/* a parser's error quotes the payload, which need not be text: the sentence still is
	 * (found by fuzz_command; the reply had no message) */
	send5(f, "ack", "{\"request\\\xdc\x82", "alice");
	r = last(f->replies);
	assert_string_equal(str(r, "error"), "invalid");
	assert_non_null(str(r, "message"));
	assert_true(g_utf8_validate(str(r, "message"), -1, NULL));
	assert_non_null(str(last(f->audit), "message"));
	send5(f, "ack", "{}", "al\xffice");
	assert_string_equal(str(last(f->replies), "message"), "the user property is not UTF-8");
	send5(f, "ack", "[1,2]", "alice");
	assert_string_equal(str(last(f->replies), "message"),
			    "the payload is an array, not a JSON object");
	send5(f, "ack", "{\"id\":true}", "alice");
	r = last(f->replies);
	assert_string_equal(str(r, "error"), "invalid");
	assert_string_equal(str(r, "message"), "\"id\" must be a string");
	send5(f, "ack", big, "alice");
	r = last(f->replies);
	assert_string_equal(str(r, "error"), "too_large");
	assert_string_equal(str(r, "too_large"), "payload");
	assert_string_equal(str(r, "message"),
			    "the payload of 5000 bytes is above its bound of 4096");
	g_free(big);
	big = g_strdup_printf("{\"reason\":\"%0200d\"}", 0);
	send5(f, "ack", big, "alice");
	assert_string_equal(str(last(f->replies), "message"),
			    "\"reason\" of 200 bytes is above its bound of 127");
	g_free(big);
	assert_int_equal(f->calls, 0);
	/* a handler's own code and sentence; and the default sentence of a bare code */
	f->rc = -ENOENT;
	send5(f, "ack", "{\"camera\":\"cam9\"}", "alice");
	r = last(f->replies);
	assert_string_equal(str(r, "error"), "unknown_camera");
	assert_string_equal(str(r, "message"), "no camera \"cam9\"");
	assert_string_equal(str(r, "camera"), "cam9");
	assert_string_equal(str(last(f->audit), "error"), "unknown_camera");
	f->rc = -EALREADY;
	send5(f, "ack", "{}", "alice");
	assert_string_equal(str(last(f->replies), "error"), "no_change");
	assert_string_equal(str(last(f->replies), "message"), "nothing to change");
	assert_string_equal(router_error_code(-EACCES), "not_authorized");
	assert_string_equal(router_error_code(-ECANCELED), "cancelled");
	assert_string_equal(router_error_code(-EIO), "failed");
}

static void test_pending_then_done(void **state)
{
	struct fixture *f = *state;
	struct router_stats st;
	json_t *r;

	f->rc = ROUTER_PENDING;
	send5(f, "ack", "{\"camera\":\"cam1\",\"request_id\":\"s1\"}", "alice");
	assert_int_equal(f->calls, 1);
	assert_non_null(f->held);
	assert_int_equal(json_array_size(f->replies), 0); /* nothing until it is done */
	assert_int_equal(json_array_size(f->audit), 0);
	router_get_stats(f->r, &st);
	assert_int_equal(st.pending, 1);
	assert_true(router_req_live(f->held));
	assert_string_equal(router_req_args(f->held)->camera, "cam1");
	router_req_record(f->held, "path", "/state/snapshots/cam1.jpg");
	router_done(f->held, 0, NULL);
	r = last(f->replies);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_string_equal(str(r, "path"), "/state/snapshots/cam1.jpg");
	assert_string_equal(str(r, "request_id"), "s1");
	assert_string_equal(str(last(f->audit), "path"), "/state/snapshots/cam1.jpg");
	assert_string_equal(str(last(f->audit), "result"), "accepted");
	/* a refusal later, with its sentence given at the end */
	send5(f, "ack", "{\"camera\":\"cam1\"}", "alice");
	router_req_fail(f->held, -EAGAIN, NULL, "%s", "ignored");
	router_done(f->held, -EAGAIN, "camera \"cam1\" has sent no picture yet");
	r = last(f->replies);
	assert_string_equal(str(r, "error"), "not_ready");
	assert_string_equal(str(r, "message"), "camera \"cam1\" has sent no picture yet");
	router_get_stats(f->r, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.commands, 2);
	assert_int_equal(st.refused, 1);
}

/* A request still pending when its router goes is answered "cancelled" at once; its
 * owner's router_done afterwards only frees it (ASan checks the memory). */
static void test_pending_outlives_router(void **state)
{
	struct fixture *f = *state;
	json_t *r;

	f->rc = ROUTER_PENDING;
	send5(f, "ack", "{\"camera\":\"cam1\"}", "alice");
	router_destroy(f->r);
	f->r = NULL;
	r = last(f->replies);
	assert_string_equal(str(r, "error"), "cancelled");
	assert_non_null(strstr(str(r, "message"), "stopped or reloaded"));
	assert_string_equal(str(last(f->audit), "error"), "cancelled");
	assert_false(router_req_live(f->held));
	router_done(f->held, 0, NULL);
	assert_int_equal(json_array_size(f->replies), 1);
}

/* Refusals and read-only requests are recorded at most 10 a minute per verb and user; the
 * rest are summed up when the router goes. What changed something is always recorded. */
static void test_audit_limiter(void **state)
{
	struct fixture *f = *state;
	json_t *s;

	for (int i = 0; i < 15; i++)
		send5(f, "ack", "{}", "mallory");
	assert_int_equal(json_array_size(f->replies), 15); /* each is answered */
	assert_int_equal(json_array_size(f->audit), 10);
	for (int i = 0; i < 12; i++)
		send5(f, "ack", "{}", "alice"); /* accepted: changed something */
	assert_int_equal(json_array_size(f->audit), 22);
	router_destroy(f->r);
	f->r = NULL;
	assert_int_equal(json_array_size(f->audit), 23);
	s = last(f->audit);
	assert_string_equal(str(s, "event"), "commands_unrecorded");
	assert_string_equal(str(s, "verb"), "ack");
	assert_string_equal(str(s, "by"), "mallory");
	assert_int_equal(json_integer_value(json_object_get(s, "count")), 5);
}

/* router_call: the console's in-process entry. The account's role authorises (not
 * alerts.operators), the identity is the caller's whatever the args say, the reply goes to
 * the caller's function (not the reply sink), and the audit says who and "via":"http". */
static void on_call(const char *json, void *ud)
{
	json_t **out = ud;

	json_decref(*out);
	*out = json_loads(json, 0, NULL);
}

static void test_call_in_process(void **state)
{
	struct fixture *f = *state;
	json_t *got = NULL,
	       *args = json_pack("{s:s, s:s}", "id", "facp1.zone-3.fire", "user", "alice");

	assert_int_equal(router_add(f->r, "review", ROUTER_INSPECTOR, 0, handler, f), 0);
	/* a console viewer named like an operator is still a viewer */
	assert_int_equal(router_call(f->r, "ack", args, "bob", ROUTER_VIEWER, on_call, &got), 0);
	assert_non_null(got);
	assert_false(json_is_true(json_object_get(got, "ok")));
	assert_string_equal(str(got, "error"), "not_authorized");
	assert_non_null(strstr(str(got, "message"), "\"bob\" is a console viewer"));
	assert_int_equal(f->calls, 0);
	assert_int_equal(json_array_size(f->replies), 0); /* not through the sink */
	assert_string_equal(str(last(f->audit), "by"), "bob");
	assert_string_equal(str(last(f->audit), "via"), "http");
	assert_string_equal(str(last(f->audit), "result"), "refused");
	/* an operator of the console, not in alerts.operators, may ack */
	assert_int_equal(router_call(f->r, "ack", args, "carol", ROUTER_OPERATOR, on_call, &got),
			 0);
	assert_true(json_is_true(json_object_get(got, "ok")));
	assert_string_equal(str(got, "id"), "facp1.zone-3.fire");
	assert_int_equal(f->calls, 1);
	assert_string_equal(str(last(f->audit), "by"), "carol");
	assert_string_equal(str(last(f->audit), "result"), "accepted");
	/* an inspector is not an operator; an admin is everyone */
	router_call(f->r, "ack", args, "ivy", ROUTER_INSPECTOR, on_call, &got);
	assert_string_equal(str(got, "error"), "not_authorized");
	router_call(f->r, "review", NULL, "ivy", ROUTER_INSPECTOR, on_call, &got);
	assert_true(json_is_true(json_object_get(got, "ok")));
	router_call(f->r, "review", NULL, "olga", ROUTER_OPERATOR, on_call, &got);
	assert_string_equal(str(got, "error"), "not_authorized");
	router_call(f->r, "review", NULL, "adam", ROUTER_ADMIN, on_call, &got);
	assert_true(json_is_true(json_object_get(got, "ok")));
	router_call(f->r, "list", NULL, "vic", ROUTER_VIEWER, on_call, &got);
	assert_true(json_is_true(json_object_get(got, "ok")));
	/* a pending request answers the caller when it finishes */
	f->rc = ROUTER_PENDING;
	json_decref(got);
	got = NULL;
	router_call(f->r, "ack", args, "carol", ROUTER_OPERATOR, on_call, &got);
	assert_null(got);
	router_done(f->held, 0, "done later");
	assert_string_equal(str(got, "message"), "done later");
	/* bad calls */
	assert_int_equal(router_call(f->r, "ack", args, NULL, ROUTER_ADMIN, on_call, &got),
			 -EINVAL);
	assert_int_equal(router_call(f->r, "ack", NULL, "x", ROUTER_ADMIN, NULL, NULL), -EINVAL);
	assert_string_equal(router_role_name(ROUTER_INSPECTOR), "inspector");
	assert_string_equal(router_role_name(ROUTER_ADMIN), "admin");
	json_decref(args);
	json_decref(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_registration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_verb, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusal_sentences, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pending_then_done, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pending_outlives_router, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_limiter, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_call_in_process, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

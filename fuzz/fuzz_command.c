/* libFuzzer target: a cmd/<verb> request as any MQTT client can send it. The first byte
 * picks the verb, the session's protocol and whether a user property came; the rest is
 * the payload. No crash, every field within its bound, a duration is never negative nor
 * above its bound, and the router answers every request with JSON that says ok, or an
 * error code and a sentence. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/command.h"
#include "core/log.h"
#include "router/cmdreq.h"
#include "router/router.h"

static void within(const char *s, size_t max)
{
	if (s && strlen(s) > max)
		abort();
}

static int replies;

static void on_reply(const struct mqtt_cmd *c, const char *json, void *ud)
{
	json_t *o = json_loads(json, 0, NULL);
	const json_t *ok = json_object_get(o, "ok");

	(void)c;
	(void)ud;
	if (!json_is_boolean(ok) ||
	    (json_is_false(ok) && (!json_is_string(json_object_get(o, "error")) ||
				   !json_is_string(json_object_get(o, "message")))))
		abort();
	json_decref(o);
	replies++;
}

static int accept(struct router_req *q, void *ud)
{
	(void)ud;
	return router_req_args(q)->id ? 0 : router_req_fail(q, -ENOENT, NULL, "no id");
}

static struct router *the_router(void)
{
	static char *ops[] = {"alice"};
	static struct hw_config cfg = {.alerts = {.operators = ops, .n_operators = 1}};
	static struct router *r;

	if (!r) {
		hw_log_set_level(HW_LOG_ERR); /* a refusal is a warning: not one per input */
		router_create(&cfg, NULL, &r);
		router_set_reply_sink(r, on_reply, NULL);
		router_add(r, "ack", ROUTER_OPERATOR, 0, accept, NULL);
		router_add(r, "list", ROUTER_VIEWER, ROUTER_READ_ONLY, accept, NULL);
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const verbs[] = {"ack",    "shelve",	  "unshelve", "list",
					    "device", "snapshot", "nope",     ""};
	struct cmdreq r;
	int64_t ms;
	int rc;

	if (size < 1)
		return 0;
	rc = cmdreq_parse(verbs[data[0] & 7], (const char *)data + 1, size - 1,
			  data[0] & 8 ? "alice" : NULL, data[0] & 16 ? 4 : 5, &r);
	within(r.user, CMDREQ_USER_MAX);
	within(r.id, CMDREQ_ID_MAX);
	within(r.reason, CMDREQ_REASON_MAX);
	within(r.request_id, CMDREQ_FIELD_MAX);
	within(r.device, CMDREQ_FIELD_MAX);
	within(r.command, CMDREQ_FIELD_MAX);
	within(r.camera, CMDREQ_FIELD_MAX);
	if (rc == 0 && r.for_v && alert_cmd_duration(r.for_v, &ms) == 0 &&
	    (ms <= 0 || ms > ALERT_DURATION_MAX_MS))
		abort();
	if (r.request_id)
		(void)cmdreq_request_id_ok(r.request_id);
	cmdreq_clear(&r);

	/* the same request through the router: always one reply (no reply topic to check) */
	struct mqtt_cmd c = {.verb = verbs[data[0] & 7],
			     .topic = "hallwatch/v1/fuzz/cmd/x",
			     .payload = (const char *)data + 1,
			     .len = size - 1,
			     .user = data[0] & 8 ? "alice" : NULL,
			     .protocol = data[0] & 16 ? 4 : 5};
	int before = replies;
	router_dispatch(the_router(), &c);
	if (replies != before + 1)
		abort();
	return 0;
}

/* libFuzzer target: a cmd/<verb> request as any MQTT client can send it. The first byte
 * picks the verb, the session's protocol and whether a user property came; the rest is
 * the payload. No crash, every field within its bound, and a duration is never
 * negative nor above its bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/command.h"
#include "router/cmdreq.h"

static void within(const char *s, size_t max)
{
	if (s && strlen(s) > max)
		abort();
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
	return 0;
}

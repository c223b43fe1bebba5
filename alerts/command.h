/* The alert verbs' own reading of a request (cmd/shelve's "for"); the request itself is
 * read by the router (router/cmdreq.h). Pure; any thread. */
#ifndef HW_ALERT_COMMAND_H
#define HW_ALERT_COMMAND_H

#include <jansson.h>
#include <stdint.h>

#include "alerts/engine.h"
#include "router/cmdreq.h"

/* What the router lets through fits an alert's fields whole: nothing accepted is cut. */
_Static_assert(CMDREQ_USER_MAX < ALERT_NAME_MAX, "a user fits acked_by/shelved_by");
_Static_assert(CMDREQ_ID_MAX < ALERT_ID_MAX, "an id fits an alert id");
_Static_assert(CMDREQ_REASON_MAX < ALERT_TEXT_MAX, "a reason fits shelve_reason");

/* "for" of a shelve request: whole seconds (a JSON integer) or a duration string
 * (alert_parse_duration). Returns 0, -EINVAL (missing, not positive, not a duration) or
 * -ERANGE (above ALERT_DURATION_MAX_MS); never overflows. */
int alert_cmd_duration(const json_t *v, int64_t *ms);

#endif

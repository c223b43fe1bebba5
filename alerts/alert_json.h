/* JSON encodings of alerts and alert events: what alert/<id> and `events` carry and
 * what the store keeps. Pure; callable from any thread. */
#ifndef HW_ALERT_JSON_H
#define HW_ALERT_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "alerts/engine.h"

/* The alert as published (full = false) or as stored, with the engine's internal
 * timers and counters under "x" (full = true). Returns a new reference or NULL. */
json_t *alert_to_json(const struct alert *a, const char *site, bool full);
/* Reads what alert_to_json(full = true) wrote. Returns 0 or -EINVAL. */
int alert_from_json(const json_t *o, struct alert *a);

/* One event: {"seq","t","site","event",...,"alert":{...}}. Returns a new reference. */
json_t *alert_event_json(const struct alert_ev *ev, const char *site, uint64_t seq, int64_t t_ms);

#endif

/* The other side of the router: one cmd/<verb> request from a command line to the running
 * gateway over MQTT v5 request/response (a response topic under the reply prefix, correlation
 * data, the user property "user"), on a short-lived session with the gateway's own session
 * settings (mqtt.host/port, TLS: cafile, certfile/keyfile, tls_version, insecure; username and
 * password or password_file). Blocking; the calling thread only (the CLI's main thread). */
#ifndef HW_CMDCLIENT_H
#define HW_CMDCLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"

/* Sends body (transfer none; may be NULL: {}) to <topic_root>/<site>/cmd/<verb> as user and
 * waits up to timeout_ms for the correlated reply. HALLWATCH_MQTT_USERNAME and
 * HALLWATCH_MQTT_PASSWORD in the environment replace mqtt.username/password (an operator's own
 * account). Returns 0 and *reply (transfer full: the reply's JSON object, accepted or refused),
 * or -errno with a sentence for a person in err:
 * -ECONNREFUSED (the broker cannot be reached, or refused the session: its reason said),
 * -ETIMEDOUT (no reply: the gateway is not running or not connected), -EPROTO (a reply that is
 * no JSON object), -ENOMEM. */
int cmdclient_request(const struct hw_config *cfg, const char *verb, const json_t *body,
		      const char *user, int timeout_ms, json_t **reply, char *err, size_t errsz);

/* Whether reply says "ok":true; if not, why into why: "CODE: message" (the router's code and
 * sentence, docs/commands.md). */
bool cmdclient_ok(const json_t *reply, char *why, size_t sz);

#endif

/* MQTT: one libmosquitto client publishing under <topic_root>/<site>/ and taking
 * commands on <topic_root>/<site>/cmd/+. MQTT v5, falling back to 3.1.1 when the
 * broker refuses v5 or hangs up on a v5 CONNECT. TLS (CA file, optional client
 * certificate) and username/password. One broker (mqtt.host) or the nodes of a
 * cluster (mqtt.hosts), each reconnect going to the next node.
 *
 * Session: a network thread of ours runs the socket (mosquitto_loop) and reconnects
 * with capped exponential backoff and jitter; before each reconnect the libmosquitto
 * handle is reinitialised, so nothing from a dead session is resent by the library.
 * At most max_inflight QoS >= 1 messages are handed to libmosquitto unacknowledged:
 * the rest waits in the durable outbox (mqtt_enqueue) or, for retained latest-value
 * state (mqtt_publish), in a map keeping only the newest payload per topic.
 *
 * Every callback of ours is handed to the main loop, and every function here is
 * called from the main loop thread. */
#ifndef HW_MQTT_H
#define HW_MQTT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct mqtt;

/* Called on the main loop each time a session is (re)established, after the
 * `status` online message: the place to republish retained state. */
typedef void (*mqtt_connected_fn)(struct mqtt *m, void *ud);

struct mqtt_stats {
	bool connected;
	uint64_t published;
	uint64_t skipped; /* not sent because the broker was unreachable (state is republished) */
	uint64_t reconnects;
	uint64_t retried;  /* outbox messages sent again after a session was lost */
	uint64_t inflight; /* handed to libmosquitto, not yet acknowledged */
};

struct outbox;

/* A command received on cmd/<verb> (transfer none: valid during the callback). */
struct mqtt_cmd {
	const char *verb; /* the last topic level: "ack", "shelve", ... */
	const char *topic;
	const char *payload; /* NUL-terminated copy of the payload */
	size_t len;
	const char *response_topic; /* MQTT v5 response topic, or NULL */
	const void *corr;	    /* MQTT v5 correlation data, or NULL */
	size_t corr_len;
	const char *user; /* MQTT v5 user property "user", or NULL */
	int protocol;	  /* 5 or 4 (3.1.1): the gateway's session */
};
typedef void (*mqtt_cmd_fn)(struct mqtt *m, const struct mqtt_cmd *c, void *ud);
/* Called on the main loop when the broker acknowledged a message sent with
 * mqtt_publish_acked (ok = false: the broker refused it with a v5 reason code). */
typedef void (*mqtt_ack_fn)(struct mqtt *m, uint64_t token, bool ok, void *ud);

/* Starts connecting in the background. cfg and site must outlive the client.
 * Returns 0 or -errno. */
int mqtt_create(const struct cfg_mqtt *cfg, const char *site, GMainContext *ctx,
		mqtt_connected_fn on_connected, void *ud, struct mqtt **out);
/* Publishes <root>/<site>/<subtopic> at the configured QoS. Returns 0, -ENOTCONN
 * when no session is up (the message is not queued), or -EIO. */
int mqtt_publish(struct mqtt *m, const char *subtopic, const void *payload, size_t len,
		 bool retain);
/* Renders the retained state of subtopic (idx: the caller's hint of which one) when
 * it goes out: a malloc'd payload and its length, or NULL when there is nothing to
 * send any more. Runs on the client's context. */
typedef char *(*mqtt_render_fn)(void *ud, const char *subtopic, size_t idx, size_t *len);
/* Like mqtt_publish with retain, but the payload is rendered only when the in-flight
 * window has room for it, so a burst of states (every device at a heartbeat or a
 * reconnect) waits as a list of topics, not as text; the newest call per topic wins. */
int mqtt_publish_lazy(struct mqtt *m, const char *subtopic, mqtt_render_fn render, void *ud,
		      size_t idx);
/* Gives the client the durable outbox it sends mqtt_enqueue'd messages from (transfer
 * none: it must outlive the client). Call once, before the first mqtt_enqueue. */
void mqtt_set_outbox(struct mqtt *m, struct outbox *ob);
/* The outbox given with mqtt_set_outbox, or NULL (transfer none). */
struct outbox *mqtt_outbox(const struct mqtt *m);
/* Commits a message to the outbox (class: enum outbox_class) and sends it when the
 * window allows, by class then age. It is removed once the broker acknowledged it;
 * the ack handler then gets token (if token != 0). Works while disconnected.
 * Returns 0, -ENOTSUP (no outbox: use mqtt_publish_acked) or -errno. */
int mqtt_enqueue(struct mqtt *m, int cls, const char *subtopic, const void *payload, size_t len,
		 bool retain, uint64_t token);
/* Like mqtt_enqueue, inside the transaction the calling thread has open on the outbox's
 * database (outbox_put_in): nothing is sent before the caller has ended it and called
 * mqtt_feed. Returns 0, -ENOTSUP (no outbox), -EINVAL (no transaction open) or -errno. */
int mqtt_enqueue_in(struct mqtt *m, int cls, const char *subtopic, const void *payload, size_t len,
		    bool retain, uint64_t token);
/* Sends what the outbox and the pending state hold, as far as the window allows: after a
 * transaction that put records with mqtt_enqueue_in has ended. */
void mqtt_feed(struct mqtt *m);
bool mqtt_is_connected(const struct mqtt *m);
/* 5 or 4 (3.1.1) for the current session; 0 when not connected. */
int mqtt_protocol(const struct mqtt *m);

/* Receives cmd/+ messages on the main loop (NULL stops). Subscribes on every
 * (re)connect. A message with the retain flag is never handed over (logged once per
 * topic): on a v5 session the subscription keeps the flag of live messages too. */
void mqtt_set_command_handler(struct mqtt *m, mqtt_cmd_fn fn, void *ud);
/* Stops taking commands before what answers them goes (a reload that replaces the session,
 * the stop): unsubscribes from cmd/+, waits up to wait_ms for the broker's UNSUBACK (every
 * command routed before it has then arrived) and hands every command received and not yet
 * handled to the handler at once, which answers or cancels it. Main loop; NULL is ignored. */
void mqtt_stop_commands(struct mqtt *m, int wait_ms);
/* Receives broker acknowledgements of mqtt_publish_acked messages (NULL stops). */
void mqtt_set_ack_handler(struct mqtt *m, mqtt_ack_fn fn, void *ud);
/* Like mqtt_publish at QoS >= 1 (at least 1 even when the configured QoS is 0);
 * the ack handler gets token once the broker has it. A message in flight when the
 * session drops gets no ack: the caller keeps it and sends it again after the
 * reconnect (consumers deduplicate). Returns 0, -ENOTCONN or -EIO. */
int mqtt_publish_acked(struct mqtt *m, const char *subtopic, const void *payload, size_t len,
		       bool retain, uint64_t token);
/* Replies to a command: to its v5 response topic with its correlation data, else
 * (3.1.1) to <reply prefix><reply_id> when the request named one made of [A-Za-z0-9_-].
 * QoS 1, not retained. Replies go only under the reply prefix (mqtt.reply_prefix): a
 * response topic outside it gets nothing. Returns 0, -EPERM (response topic outside the
 * prefix: logged, nothing published), -ENOENT (nowhere to reply), -ENOTCONN or -EIO. */
int mqtt_reply(struct mqtt *m, const struct mqtt_cmd *c, const char *reply_id, const char *payload,
	       size_t len);
/* 0 when a reply to c may go where it asks (or it asks nowhere), -EPERM when its
 * response topic is outside the reply prefix. */
int mqtt_reply_check(const struct mqtt *m, const struct mqtt_cmd *c);
/* The reply prefix in force (transfer none). */
const char *mqtt_reply_prefix(const struct mqtt *m);
/* The longest response topic a reply goes to. */
#define MQTT_REPLY_TOPIC_MAX 256
/* Whether a reply may go to topic t: strictly under prefix, no wildcard, at most
 * MQTT_REPLY_TOPIC_MAX bytes. Pure. */
bool mqtt_reply_topic_allowed(const char *prefix, const char *t);
/* Points the client at an equal configuration held elsewhere (after a reload that
 * left the mqtt section and the site unchanged); its reply_prefix takes effect. */
void mqtt_rebind(struct mqtt *m, const struct cfg_mqtt *cfg, const char *site);
void mqtt_get_stats(const struct mqtt *m, struct mqtt_stats *out);
/* Sets the "delivery" member of the retained `status` online message (a JSON object's
 * text, copied; NULL removes it) and republishes status now when connected (not
 * queued otherwise: every (re)connect publishes it). Returns 0, -EINVAL (not a JSON
 * object), -ENOTCONN or -EIO. */
int mqtt_set_status_detail(struct mqtt *m, const char *json);
/* Publishes `status` offline (retained), waits up to wait_ms for the broker to take
 * it, disconnects and frees. Accepts NULL. */
void mqtt_destroy(struct mqtt *m, int wait_ms);

#endif

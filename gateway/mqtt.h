/* MQTT out: one libmosquitto client publishing under <topic_root>/<site>/.
 * libmosquitto's own network thread does the socket I/O and reconnects with backoff;
 * every callback of ours is handed to the main loop, and every function here is
 * called from the main loop thread. */
#ifndef HW_MQTT_H
#define HW_MQTT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"

struct mqtt;

/* Called on the main loop each time a session is (re)established, after the
 * `status` online message: the place to republish retained state. */
typedef void (*mqtt_connected_fn)(struct mqtt *m, void *ud);

struct mqtt_stats {
	bool connected;
	uint64_t published;
	uint64_t skipped; /* not sent because the broker was unreachable (state is republished) */
	uint64_t reconnects;
};

/* Starts connecting in the background. cfg and site must outlive the client.
 * Returns 0 or -errno. */
int mqtt_create(const struct cfg_mqtt *cfg, const char *site, GMainContext *ctx,
		mqtt_connected_fn on_connected, void *ud, struct mqtt **out);
/* Publishes <root>/<site>/<subtopic> at the configured QoS. Returns 0, -ENOTCONN
 * when no session is up (the message is not queued), or -EIO. */
int mqtt_publish(struct mqtt *m, const char *subtopic, const void *payload, size_t len,
		 bool retain);
bool mqtt_is_connected(const struct mqtt *m);
/* Points the client at an equal configuration held elsewhere (after a reload that
 * left the mqtt section and the site unchanged). */
void mqtt_rebind(struct mqtt *m, const struct cfg_mqtt *cfg, const char *site);
void mqtt_get_stats(const struct mqtt *m, struct mqtt_stats *out);
/* Publishes `status` offline (retained), waits up to wait_ms for the broker to take
 * it, disconnects and frees. Accepts NULL. */
void mqtt_destroy(struct mqtt *m, int wait_ms);

#endif

/* The escaping of topic levels for brokers that refuse some characters in MQTT topic names
 * (mqtt.topic_escape, docs/mqtt.md "Escaped topics"): nats-server 2.9 closes a session that
 * publishes a topic with a '.', and alert ids have dots (facp1.zone-3.fire). With "percent",
 * every '.' of the levels under <topic_root>/<site>/ is written "%2E" and every '%' "%25"; a
 * subscriber decodes the topic and gets the v1 ids back. Pure: no I/O, no globals; any
 * thread. */
#ifndef HW_MQTT_TOPIC_H
#define HW_MQTT_TOPIC_H

#include <stdbool.h>

/* s with its '.' written %2E and its '%' %25 (transfer full: g_free). */
char *mqtt_topic_escape(const char *s);
/* s with %2E (%2e) turned back into '.' and %25 into '%' (transfer full: g_free); any other
 * '%' stays as it is. Decoding a v1 topic changes nothing: its levels (site, device, camera
 * and plan ids, alert ids, verbs) never hold a '%'. */
char *mqtt_topic_unescape(const char *s);
/* Whether s has something mqtt_topic_unescape would change. */
bool mqtt_topic_escaped(const char *s);

#endif

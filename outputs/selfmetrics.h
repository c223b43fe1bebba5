/* The gateway's own figures as they go out: the `gateway` and `bus_health` measurements
 * (docs/lineproto.md) and the `delivery` member of the retained `status` (docs/mqtt.md).
 * Pure encoding of plain numbers that the wiring gathers at each heartbeat; no I/O, no
 * globals; any thread. */
#ifndef HW_SELFMETRICS_H
#define HW_SELFMETRICS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outputs/influx.h"
#include "outputs/mqtt.h"
#include "outputs/outbox.h"

/* The alert store as the alert service reports it. */
struct selfmetrics_store {
	bool ok;
	size_t held, unstored;
	uint64_t failures;
	int64_t failed_ms;
	const char *error; /* transfer none */
};

/* Everything at one heartbeat. have_*: which parts exist (an output disabled, no outbox,
 * no alert service): absent parts leave their fields out. */
struct selfmetrics {
	int64_t t_ms, started_ms;
	uint64_t beat; /* numbered from 1 per start */
	size_t devices;
	bool have_mqtt, have_outbox, have_store;
	struct mqtt_stats mqtt;
	struct influx_stats lp;
	struct outbox_stats ob[OUTBOX_NOUT];
	int64_t limit[OUTBOX_NOUT]; /* the outboxes' bounds */
	struct selfmetrics_store store;
};

struct selfmetrics_bus {
	const char *id; /* transfer none */
	bool connected;
	uint64_t polls, requests, errors, connects, disconnects, late, overruns, commands;
};

/* Appends the `gateway` line of m. */
void selfmetrics_gateway_line(GString *buf, const char *site, const struct selfmetrics *m);
/* Appends the `bus_health` line of b at t_ms. */
void selfmetrics_bus_line(GString *buf, const char *site, const struct selfmetrics_bus *b,
			  int64_t t_ms);
/* The `delivery` object of status (malloc'd JSON text), or NULL without MQTT or outbox. */
char *selfmetrics_delivery_json(const struct selfmetrics *m);

#endif

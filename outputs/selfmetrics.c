/* Encodes the gateway's own figures as line protocol and as status JSON. Pure; any
 * thread. */
#include "outputs/selfmetrics.h"

#include <jansson.h>
#include <stdio.h>

#include "outputs/lineproto.h"

static int64_t age_s(int64_t t, int64_t since)
{
	return since ? (t - since) / 1000 : 0;
}

static void delivery_fields(struct lp_line *l, const struct selfmetrics *m)
{
	static const char *const pfx[OUTBOX_NOUT] = {"mqtt_", "lp_"};
	char k[64];

	for (int i = 0; i < OUTBOX_NOUT; i++) {
		const struct outbox_stats *o = &m->ob[i];
#define F(name, v)                                                                                 \
	do {                                                                                       \
		snprintf(k, sizeof(k), "%s%s", pfx[i], name);                                      \
		lp_field_int(l, k, (int64_t)(v));                                                  \
	} while (0)
		F("outbox_depth", o->depth);
		F("outbox_oldest_s", age_s(m->t_ms, o->oldest_ms));
		F("outbox_sent", o->sent);
		F("outbox_dropped", o->dropped);
		F("outbox_rejected", o->rejected);
		F("outbox_failed", o->failed);
#undef F
	}
	if (m->have_store) {
		lp_field_bool(l, "store_ok", m->store.ok);
		lp_field_int(l, "store_held", (int64_t)m->store.held);
	}
	lp_field_int(l, "mqtt_retried", (int64_t)m->mqtt.retried);
	lp_field_int(l, "mqtt_reconnects", (int64_t)m->mqtt.reconnects);
	lp_field_int(l, "mqtt_inflight", (int64_t)m->mqtt.inflight);
	lp_field_int(l, "lp_retried", (int64_t)m->lp.lines_retried);
	lp_field_int(l, "beat", (int64_t)m->beat);
	lp_field_int(l, "started_ms", m->started_ms);
}

void selfmetrics_gateway_line(GString *buf, const char *site, const struct selfmetrics *m)
{
	struct lp_line l;

	lp_begin(&l, buf, "gateway");
	lp_tag(&l, "site", site);
	lp_field_int(&l, "uptime_s", (m->t_ms - m->started_ms) / 1000);
	lp_field_int(&l, "devices", (int64_t)m->devices);
	lp_field_bool(&l, "mqtt_connected", m->mqtt.connected);
	lp_field_int(&l, "mqtt_published", (int64_t)m->mqtt.published);
	lp_field_int(&l, "mqtt_skipped", (int64_t)m->mqtt.skipped);
	lp_field_int(&l, "lp_queued", (int64_t)m->lp.lines_queued);
	lp_field_int(&l, "lp_sent", (int64_t)m->lp.lines_sent);
	lp_field_int(&l, "lp_dropped", (int64_t)m->lp.lines_dropped);
	if (m->have_outbox)
		delivery_fields(&l, m);
	lp_end(&l, m->t_ms * 1000000);
}

void selfmetrics_bus_line(GString *buf, const char *site, const struct selfmetrics_bus *b,
			  int64_t t_ms)
{
	struct lp_line l;

	lp_begin(&l, buf, "bus_health");
	lp_tag(&l, "bus", b->id);
	lp_tag(&l, "site", site);
	lp_field_bool(&l, "connected", b->connected);
	lp_field_int(&l, "polls", (int64_t)b->polls);
	lp_field_int(&l, "requests", (int64_t)b->requests);
	lp_field_int(&l, "errors", (int64_t)b->errors);
	lp_field_int(&l, "connects", (int64_t)b->connects);
	lp_field_int(&l, "disconnects", (int64_t)b->disconnects);
	lp_field_int(&l, "late_answers", (int64_t)b->late);
	lp_field_int(&l, "overruns", (int64_t)b->overruns);
	lp_field_int(&l, "commands", (int64_t)b->commands);
	lp_end(&l, t_ms * 1000000);
}

char *selfmetrics_delivery_json(const struct selfmetrics *m)
{
	json_t *d;
	char *txt;

	if (!m->have_mqtt || !m->have_outbox)
		return NULL;
	d = json_object();
	for (int i = 0; i < OUTBOX_NOUT; i++) {
		const struct outbox_stats *o = &m->ob[i];
		json_t *x = json_pack(
		    "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "depth", (json_int_t)o->depth,
		    "oldest_age_s", (json_int_t)age_s(m->t_ms, o->oldest_ms), "sent",
		    (json_int_t)o->sent, "retried",
		    (json_int_t)(i == OUTBOX_MQTT ? m->mqtt.retried : m->lp.lines_retried),
		    "dropped", (json_int_t)o->dropped, "rejected", (json_int_t)o->rejected, "limit",
		    (json_int_t)m->limit[i]);
		json_object_set_new(d, outbox_output_name(i), x);
	}
	json_object_set_new(json_object_get(d, "mqtt"), "reconnects",
			    json_integer((json_int_t)m->mqtt.reconnects));
	for (int i = 0; i < OUTBOX_NOUT; i++) {
		json_t *x = json_object_get(d, outbox_output_name(i));
		json_object_set_new(x, "failed", json_integer((json_int_t)m->ob[i].failed));
		if (i == OUTBOX_LP) /* lines held in memory while the outbox cannot take them */
			json_object_set_new(
			    x, "memory",
			    json_integer((json_int_t)(m->lp.lines_queued > m->ob[i].depth
							  ? m->lp.lines_queued - m->ob[i].depth
							  : 0)));
	}
	if (m->have_store) {
		json_t *st =
		    json_pack("{s:b, s:I, s:I, s:I}", "ok", m->store.ok, "held",
			      (json_int_t)m->store.held, "unstored", (json_int_t)m->store.unstored,
			      "failures", (json_int_t)m->store.failures);
		if (!m->store.ok) {
			json_object_set_new(st, "since", json_integer(m->store.failed_ms));
			json_object_set_new(st, "error",
					    json_string(m->store.error ? m->store.error : ""));
		}
		json_object_set_new(d, "store", st);
	}
	json_object_set_new(d, "t", json_integer((json_int_t)m->t_ms));
	txt = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	return txt;
}

/* JSON encoding and decoding of alerts and alert events (jansson). Pure; no state. */
#include "alerts/alert_json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

json_t *alert_to_json(const struct alert *a, const char *site, bool full)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(a->id));
	if (site)
		json_object_set_new(o, "site", json_string(site));
	json_object_set_new(o, "device", json_string(a->device));
	json_object_set_new(o, "point", str_or_null(a->point));
	json_object_set_new(o, "condition", json_string(a->cond));
	json_object_set_new(o, "text", json_string(a->text));
	if (a->message[0])
		json_object_set_new(o, "message", json_string(a->message));
	json_object_set_new(o, "priority", json_integer(a->prio));
	json_object_set_new(o, "state", json_string(alert_state_name(a)));
	json_object_set_new(o, "ack_state", json_string(alert_core_name(a->core)));
	json_object_set_new(o, "active", json_boolean(a->active));
	json_object_set_new(o, "latched", json_boolean(a->latched));
	json_object_set_new(o, "chattering", json_boolean(a->chattering));
	json_object_set_new(o, "escalated", json_boolean(a->escalated));
	json_object_set_new(o, "raised", json_integer(a->raised_ms));
	json_object_set_new(o, "cleared",
			    a->cleared_ms ? json_integer(a->cleared_ms) : json_null());
	if (a->acked_ms)
		json_object_set_new(
		    o, "acked",
		    json_pack("{s:s, s:I}", "by", a->acked_by, "t", (json_int_t)a->acked_ms));
	else
		json_object_set_new(o, "acked", json_null());
	if (a->shelved_until_ms)
		json_object_set_new(o, "shelved",
				    json_pack("{s:s, s:s, s:I}", "by", a->shelved_by, "reason",
					      a->shelve_reason, "until",
					      (json_int_t)a->shelved_until_ms));
	else
		json_object_set_new(o, "shelved", json_null());
	json_object_set_new(o, "suppressed", str_or_null(a->suppressed));
	json_object_set_new(o, "out_of_service", json_boolean(a->out_of_service));
	json_object_set_new(o, "seq", json_integer((json_int_t)a->seq));
	if (full) {
		json_t *tr = json_array();
		for (unsigned i = 0; i < a->n_trans; i++)
			json_array_append_new(tr, json_integer(a->trans_ms[i]));
		json_object_set_new(o, "x",
				    json_pack("{s:b, s:I, s:I, s:o, s:i, s:i, s:b}", "raw", a->raw,
					      "raw_since", (json_int_t)a->raw_since_ms,
					      "last_notify", (json_int_t)a->last_notify_ms, "trans",
					      tr, "on_delay", a->on_delay_ms, "off_delay",
					      a->off_delay_ms, "rule", a->from_rule));
	}
	return o;
}

static int get_str(const json_t *o, const char *k, char *buf, size_t sz, bool required)
{
	const json_t *v = json_object_get(o, k);

	if (!v || json_is_null(v)) {
		buf[0] = '\0';
		return required ? -EINVAL : 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= sz)
		return -EINVAL;
	memcpy(buf, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int64_t get_int(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static bool get_bool(const json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

int alert_from_json(const json_t *o, struct alert *a)
{
	const json_t *sub, *x, *tr;
	int rc = 0;

	memset(a, 0, sizeof(*a));
	if (!json_is_object(o))
		return -EINVAL;
	rc |= get_str(o, "id", a->id, sizeof(a->id), true);
	rc |= get_str(o, "device", a->device, sizeof(a->device), true);
	rc |= get_str(o, "point", a->point, sizeof(a->point), false);
	rc |= get_str(o, "condition", a->cond, sizeof(a->cond), true);
	rc |= get_str(o, "text", a->text, sizeof(a->text), false);
	rc |= get_str(o, "message", a->message, sizeof(a->message), false);
	rc |= get_str(o, "suppressed", a->suppressed, sizeof(a->suppressed), false);
	if (rc)
		return -EINVAL;
	a->prio = (enum alert_prio)get_int(o, "priority");
	if (a->prio < AP_P1 || a->prio > AP_P5)
		return -EINVAL;
	sub = json_object_get(o, "ack_state");
	if (!json_is_string(sub) || alert_core_parse(json_string_value(sub), &a->core) < 0)
		return -EINVAL;
	a->active = get_bool(o, "active");
	a->latched = get_bool(o, "latched");
	a->chattering = get_bool(o, "chattering");
	a->escalated = get_bool(o, "escalated");
	a->out_of_service = get_bool(o, "out_of_service");
	a->raised_ms = get_int(o, "raised");
	a->cleared_ms = get_int(o, "cleared");
	a->seq = (uint64_t)get_int(o, "seq");
	sub = json_object_get(o, "acked");
	if (json_is_object(sub)) {
		a->acked_ms = get_int(sub, "t");
		if (get_str(sub, "by", a->acked_by, sizeof(a->acked_by), false))
			return -EINVAL;
	}
	sub = json_object_get(o, "shelved");
	if (json_is_object(sub)) {
		a->shelved_until_ms = get_int(sub, "until");
		if (get_str(sub, "by", a->shelved_by, sizeof(a->shelved_by), false) ||
		    get_str(sub, "reason", a->shelve_reason, sizeof(a->shelve_reason), false))
			return -EINVAL;
	}
	x = json_object_get(o, "x");
	if (json_is_object(x)) {
		a->raw = get_bool(x, "raw");
		a->raw_since_ms = get_int(x, "raw_since");
		a->last_notify_ms = get_int(x, "last_notify");
		a->on_delay_ms = (int)get_int(x, "on_delay");
		a->off_delay_ms = (int)get_int(x, "off_delay");
		a->from_rule = get_bool(x, "rule");
		tr = json_object_get(x, "trans");
		for (size_t i = 0; json_is_array(tr) && i < json_array_size(tr) &&
				   i < sizeof(a->trans_ms) / sizeof(a->trans_ms[0]);
		     i++)
			a->trans_ms[a->n_trans++] = json_integer_value(json_array_get(tr, i));
	} else {
		a->raw = a->active;
	}
	return 0;
}

json_t *alert_event_json(const struct alert_ev *ev, const char *site, uint64_t seq, int64_t t_ms)
{
	json_t *o =
	    json_pack("{s:I, s:I, s:s, s:s, s:b}", "seq", (json_int_t)seq, "t", (json_int_t)t_ms,
		      "site", site, "event", alert_ev_name(ev->kind), "notify", ev->notify);

	if (ev->a) {
		json_object_set_new(o, "id", json_string(ev->a->id));
		json_object_set_new(o, "priority", json_integer(ev->a->prio));
		json_object_set_new(o, "state", json_string(alert_state_name(ev->a)));
		json_object_set_new(o, "alert", alert_to_json(ev->a, NULL, false));
	} else {
		json_object_set_new(o, "count", json_integer(ev->count));
	}
	if (ev->by)
		json_object_set_new(o, "by", json_string(ev->by));
	if (ev->reason)
		json_object_set_new(o, "reason", json_string(ev->reason));
	return o;
}

/* JSON and line-protocol encodings of device and camera state, read from the hub. Pure;
 * main loop thread. */
#include "outputs/state.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "outputs/lineproto.h"

/* A value as JSON; a float rounded to the point's resolution (docs/profiles.md, decimals). */
static json_t *value_json(const struct hw_value *v, const struct prof_point *def)
{
	switch (v->type) {
	case HW_V_BOOL:
		return json_boolean(v->b);
	case HW_V_INT:
		return json_integer((json_int_t)v->i);
	case HW_V_FLOAT:
		return isfinite(v->f) ? json_real(prof_point_round(def, v->f)) : json_null();
	default:
		return json_null();
	}
}

/* The name and location the configuration gives a point's element (devices[].names). */
static void names_json(json_t *o, const struct cfg_name *n)
{
	if (n && n->name)
		json_object_set_new(o, "name", json_string(n->name));
	if (n && n->location)
		json_object_set_new(o, "location", json_string(n->location));
}

char *state_device_json(const struct hub_device *d, const char *site, uint64_t seq)
{
	const struct hub_dev_health *h = &d->health;
	json_t *root, *points, *health;
	char *out;

	points = json_object();
	for (size_t i = 0; i < d->n_points; i++) {
		const struct hub_point *p = &d->points[i];
		struct hw_value v;
		json_t *o = json_object();
		hub_point_value(d, i, &v);
		json_object_set_new(o, "v", value_json(&v, hub_point_def(d, i)));
		if (v.label)
			json_object_set_new(o, "label", json_string(v.label));
		if (hub_point_def(d, i)->unit)
			json_object_set_new(o, "unit", json_string(hub_point_def(d, i)->unit));
		json_object_set_new(o, "q", json_string(hw_quality_name(hub_point_q(p))));
		json_object_set_new(o, "t", json_integer(hub_point_t(d, i)));
		names_json(o, cfg_device_name_of(d->cfg, hub_point_key(d, i)));
		json_object_set_new(points, hub_point_key(d, i), o);
	}
	health = json_pack(
	    "{s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:I, s:f, s:f, s:s, s:I}", "polls",
	    (json_int_t)h->polls, "requests", (json_int_t)h->requests, "skipped",
	    (json_int_t)h->skipped, "missed_changes", (json_int_t)h->missed_changes, "errors",
	    "timeout", (json_int_t)h->err_timeout, "exception", (json_int_t)h->err_exception, "io",
	    (json_int_t)h->err_io, "invalid", (json_int_t)h->err_invalid, "overruns",
	    (json_int_t)h->overruns, "rtt_ms", h->rtt_ms_last, "rtt_ms_avg", h->rtt_ms_avg,
	    "last_error", hub_err_kind_name(d->last_err), "consecutive_failures",
	    (json_int_t)h->consecutive_failures);
	root = json_pack("{s:I, s:s, s:s, s:s, s:b, s:s, s:b, s:I, s:I}", "seq", (json_int_t)seq,
			 "site", site, "device", d->cfg->id, "profile", d->cfg->profile->name,
			 "online", d->online, "quality", hub_dev_quality_name(d->quality), "frozen",
			 d->frozen, "last_poll", (json_int_t)d->last_poll_ms, "last_ok",
			 (json_int_t)h->last_ok_ms);
	if (!root || !health) {
		json_decref(root);
		json_decref(health);
		json_decref(points);
		return NULL;
	}
	json_object_set_new(root, "device_time",
			    d->device_time >= 0 ? json_integer(d->device_time) : json_null());
	if (d->cfg->name)
		json_object_set_new(root, "name", json_string(d->cfg->name));
	if (d->cfg->location)
		json_object_set_new(root, "location", json_string(d->cfg->location));
	json_object_set_new(root, "points", points);
	json_object_set_new(root, "health", health);
	/* 15 digits: a value rounded to its resolution reads as written (26.4, not
	 * 26.399999999999999). */
	out = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(root);
	return out;
}

size_t state_lp_points(GString *buf, const struct hub_device *d, const char *site,
		       bool only_changed, int64_t now_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_points; i++) {
		const struct hub_point *p = &d->points[i];
		struct lp_line l;
		struct hw_value v;
		int64_t ts = hub_point_t(d, i);

		if (only_changed && !hub_point_changed(p))
			continue;
		if (hub_point_q(p) == HW_Q_NONE)
			continue;
		hub_point_value(d, i, &v);
		lp_begin(&l, buf, "device_point");
		lp_tag(&l, "device", d->cfg->id);
		lp_tag(&l, "point", hub_point_key(d, i));
		lp_tag(&l, "site", site);
		if (hub_point_q(p) == HW_Q_GOOD) {
			switch (v.type) {
			case HW_V_BOOL:
				lp_field_bool(&l, "flag", v.b);
				break;
			case HW_V_INT:
				lp_field_float(&l, "value", (double)v.i);
				break;
			case HW_V_FLOAT:
				lp_field_float_dec(&l, "value", v.f, hub_point_def(d, i)->decimals);
				break;
			default:
				break;
			}
			if (v.label)
				lp_field_string(&l, "label", v.label);
		} else {
			ts = now_ms;
		}
		lp_field_string(&l, "quality", hw_quality_name(hub_point_q(p)));
		if (lp_end(&l, ts * 1000000) >= 0)
			n++;
	}
	return n;
}

void state_lp_health(GString *buf, const struct hub_device *d, const char *site, int64_t now_ms)
{
	const struct hub_dev_health *h = &d->health;
	struct lp_line l;

	lp_begin(&l, buf, "device_health");
	lp_tag(&l, "bus", d->cfg->bus_id);
	lp_tag(&l, "device", d->cfg->id);
	lp_tag(&l, "site", site);
	lp_field_bool(&l, "online", d->online);
	lp_field_bool(&l, "frozen", d->frozen);
	lp_field_string(&l, "quality", hub_dev_quality_name(d->quality));
	lp_field_int(&l, "polls", (int64_t)h->polls);
	lp_field_int(&l, "requests", (int64_t)h->requests);
	lp_field_int(&l, "skipped", (int64_t)h->skipped);
	lp_field_int(&l, "missed_changes", (int64_t)h->missed_changes);
	lp_field_int(&l, "err_timeout", (int64_t)h->err_timeout);
	lp_field_int(&l, "err_exception", (int64_t)h->err_exception);
	lp_field_int(&l, "err_io", (int64_t)h->err_io);
	lp_field_int(&l, "err_invalid", (int64_t)h->err_invalid);
	lp_field_int(&l, "overruns", (int64_t)h->overruns);
	lp_field_float(&l, "rtt_ms", h->rtt_ms_last);
	lp_field_float(&l, "rtt_ms_avg", h->rtt_ms_avg);
	lp_end(&l, now_ms * 1000000);
}

char *state_camera_json(const struct hub_camera *c, const char *site, uint64_t seq)
{
	const struct cfg_camera *k = c->cfg;
	const struct hub_cam_health *h = &c->health;
	const struct hub_cam_clip *lc = &c->last_clip;
	json_t *root, *conds = json_object();
	char *out;

	for (int j = 0; j < HUB_CC_N; j++)
		json_object_set_new(conds, hub_cam_cond_name(j),
				    json_pack("{s:b, s:I}", "active", h->cond[j].active, "since",
					      (json_int_t)h->cond[j].since_ms));
	root = json_pack(
	    "{s:I, s:s, s:s, s:b, s:f, s:i, s:f, s:i, s:i, s:b, s:b, s:b, s:b, s:b, s:b, s:I, "
	    "s:I, s:I, s:I, s:I}",
	    "seq", (json_int_t)seq, "site", site, "camera", k->id, "online", h->online, "fps",
	    h->fps, "expected_fps", k->expected_fps, "bitrate_kbps", h->bitrate_kbps, "width",
	    h->width, "height", h->height, "frozen", h->cond[HUB_CC_FROZEN].active, "dark",
	    h->cond[HUB_CC_DARK].active, "covered", h->cond[HUB_CC_COVERED].active, "defocus",
	    h->cond[HUB_CC_DEFOCUS].active, "moved", h->cond[HUB_CC_MOVED].active, "recording",
	    h->recording, "reconnects", (json_int_t)h->reconnects, "segments",
	    (json_int_t)h->segments, "last_frame", (json_int_t)h->last_frame_ms, "oldest_recording",
	    (json_int_t)h->oldest_recording_ms, "recorded_bytes", (json_int_t)h->recorded_bytes);
	if (!root) {
		json_decref(conds);
		return NULL;
	}
	if (k->name)
		json_object_set_new(root, "name", json_string(k->name));
	if (k->location)
		json_object_set_new(root, "location", json_string(k->location));
	json_object_set_new(root, "codec", h->codec[0] ? json_string(h->codec) : json_null());
	json_object_set_new(root, "last_snapshot",
			    c->last_snapshot_ms ? json_integer(c->last_snapshot_ms) : json_null());
	if (lc->path)
		json_object_set_new(root, "last_clip",
				    json_pack("{s:s, s:s, s:I, s:b}", "path", lc->path, "point",
					      lc->point, "time", (json_int_t)lc->t_ms, "ok",
					      lc->ok));
	else
		json_object_set_new(root, "last_clip", json_null());
	json_object_set_new(root, "conditions", conds);
	out = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(root);
	return out;
}

void state_lp_camera_health(GString *buf, const struct hub_camera *c, const char *site,
			    int64_t now_ms)
{
	const struct cfg_camera *k = c->cfg;
	const struct hub_cam_health *h = &c->health;
	struct lp_line l;

	lp_begin(&l, buf, "camera_health");
	lp_tag(&l, "camera", k->id);
	lp_tag(&l, "site", site);
	lp_field_bool(&l, "online", h->online);
	lp_field_bool(&l, "recording", h->recording);
	lp_field_float(&l, "fps", h->fps);
	lp_field_int(&l, "expected_fps", k->expected_fps);
	lp_field_float(&l, "bitrate_kbps", h->bitrate_kbps);
	lp_field_int(&l, "width", h->width);
	lp_field_int(&l, "height", h->height);
	lp_field_int(&l, "reconnects", (int64_t)h->reconnects);
	lp_field_int(&l, "segments", (int64_t)h->segments);
	lp_field_int(&l, "recorded_bytes", h->recorded_bytes);
	if (h->oldest_recording_ms)
		lp_field_int(&l, "recording_age_s", (now_ms - h->oldest_recording_ms) / 1000);
	if (h->analysed) {
		lp_field_float(&l, "luma", h->luma);
		lp_field_float(&l, "contrast", h->contrast);
		lp_field_float(&l, "sharpness", h->sharpness);
		if (h->motion >= 0)
			lp_field_float(&l, "motion", h->motion);
	}
	for (int j = 0; j < HUB_CC_N; j++)
		lp_field_bool(&l, hub_cam_cond_name(j), h->cond[j].active);
	lp_end(&l, now_ms * 1000000);
}

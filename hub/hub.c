/* The state hub: owns the latest state of every device and point and of every camera, and
 * tells its listeners what changed. Knows no source: updates come in its own types
 * (hub/hub.h). Runs on the main loop thread only. */
#define LOG_TAG "hub"
#include "hub/hub.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "core/log.h"

#define HUB_MAX_LISTENERS 8

struct listener {
	hub_change_fn fn;
	void *ud;
};

struct cam_listener {
	hub_camera_fn fn;
	void *ud;
};

struct hub {
	const struct hw_config *cfg;
	GStringChunk *keys; /* point keys, one copy each whatever the number of devices */
	GPtrArray *layouts; /* struct hub_layout, shared by the devices */
	struct hub_device *devs;
	size_t n_devs;
	struct listener ls[HUB_MAX_LISTENERS];
	size_t n_ls;
	struct hub_camera *cams;
	size_t n_cams;
	struct cam_listener cls[HUB_MAX_LISTENERS];
	size_t n_cls;
	GArray *alerts; /* struct hub_alert, sorted by id */
	struct {
		hub_alert_fn fn;
		void *ud;
	} als[HUB_MAX_LISTENERS];
	size_t n_als;
};

const char *hub_err_kind_name(enum hub_err_kind k)
{
	static const char *const n[] = {"none", "timeout", "exception", "io", "invalid"};
	return (unsigned)k < G_N_ELEMENTS(n) ? n[k] : "?";
}

const char *hub_cam_cond_name(enum hub_cam_cond c)
{
	static const char *const n[HUB_CC_N] = {
	    "offline", "video_loss",	  "dark",     "covered",	"defocus", "moved",
	    "frozen",  "recording_fault", "disk_low", "retention_short"};
	return (unsigned)c < HUB_CC_N ? n[c] : "?";
}

const char *hub_dev_quality_name(enum hub_dev_quality q)
{
	static const char *const n[] = {"unknown", "good", "frozen", "comm_lost"};
	return (unsigned)q < 4 ? n[q] : "?";
}

void hub_point_value(const struct hub_device *d, size_t i, struct hw_value *v)
{
	hw_pval_unpack(d->layout->defs[i], &d->points[i].pv, v);
}

static void layout_free(gpointer p)
{
	struct hub_layout *l = p;
	free(l->defs);
	free(l->keys);
	free(l->blocks);
	free(l->instances);
	free(l->groups);
	free(l);
}

static void free_points(struct hub_device *d)
{
	free(d->group_t);
	d->group_t = NULL;
	free(d->points);
	d->points = NULL;
	d->n_points = 0;
}

int hub_create(const struct hw_config *cfg, struct hub **out)
{
	struct hub *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->cfg = cfg;
	h->keys = g_string_chunk_new(4096);
	h->layouts = g_ptr_array_new_with_free_func(layout_free);
	h->n_devs = cfg->n_devices;
	h->devs = calloc(h->n_devs ? h->n_devs : 1, sizeof(*h->devs));
	h->n_cams = cfg->n_cameras;
	h->cams = calloc(h->n_cams ? h->n_cams : 1, sizeof(*h->cams));
	if (!h->devs || !h->cams) {
		hub_destroy(h);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->n_devs; i++) {
		h->devs[i].cfg = &cfg->devices[i];
		h->devs[i].device_time = -1;
	}
	for (size_t i = 0; i < h->n_cams; i++) {
		h->cams[i].cfg = &cfg->cameras[i];
		h->cams[i].health.motion = -1;
	}
	*out = h;
	return 0;
}

void hub_destroy(struct hub *h)
{
	if (!h)
		return;
	for (size_t i = 0; h->devs && i < h->n_devs; i++)
		free_points(&h->devs[i]);
	free(h->devs);
	for (size_t i = 0; h->cams && i < h->n_cams; i++) {
		g_free(h->cams[i].last_clip.path);
		g_free(h->cams[i].last_clip.point);
	}
	free(h->cams);
	if (h->alerts)
		g_array_free(h->alerts, TRUE);
	g_string_chunk_free(h->keys);
	g_ptr_array_free(h->layouts, TRUE);
	free(h);
}

static ssize_t dev_index(const struct hub *h, const char *id)
{
	for (size_t i = 0; i < h->n_devs; i++)
		if (h->devs[i].cfg && strcmp(h->devs[i].cfg->id, id) == 0)
			return (ssize_t)i;
	return -1;
}

static ssize_t cam_index(const struct hub *h, const char *id)
{
	for (size_t i = 0; i < h->n_cams; i++)
		if (h->cams[i].cfg && strcmp(h->cams[i].cfg->id, id) == 0)
			return (ssize_t)i;
	return -1;
}

int hub_reconfigure(struct hub *h, const struct hw_config *cfg, const bool *keep_dev,
		    const bool *keep_cam)
{
	struct hub_device *nd = calloc(cfg->n_devices ? cfg->n_devices : 1, sizeof(*nd));
	struct hub_camera *nc = calloc(cfg->n_cameras ? cfg->n_cameras : 1, sizeof(*nc));
	GPtrArray *layouts;

	if (!nd || !nc) {
		free(nd);
		free(nc);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_devices; i++) {
		ssize_t o = keep_dev[i] ? dev_index(h, cfg->devices[i].id) : -1;

		if (o >= 0) {
			nd[i] = h->devs[o];
			h->devs[o] = (struct hub_device){0}; /* moved */
			continue;
		}
		nd[i].cfg = &cfg->devices[i];
		nd[i].device_time = -1;
	}
	for (size_t i = 0; i < cfg->n_cameras; i++) {
		ssize_t o = keep_cam[i] ? cam_index(h, cfg->cameras[i].id) : -1;

		if (o >= 0) {
			nc[i] = h->cams[o];
			h->cams[o] = (struct hub_camera){0};
			continue;
		}
		nc[i].cfg = &cfg->cameras[i];
		nc[i].health.motion = -1;
	}
	for (size_t i = 0; i < h->n_devs; i++)
		free_points(&h->devs[i]);
	free(h->devs);
	for (size_t i = 0; i < h->n_cams; i++) {
		g_free(h->cams[i].last_clip.path);
		g_free(h->cams[i].last_clip.point);
	}
	free(h->cams);
	h->devs = nd;
	h->n_devs = cfg->n_devices;
	h->cams = nc;
	h->n_cams = cfg->n_cameras;
	h->cfg = cfg;
	/* Only the layouts of kept devices stay: the others name points of profiles that
	 * may be unloaded now. */
	layouts = g_ptr_array_new_with_free_func(layout_free);
	for (guint k = 0; k < h->layouts->len; k++) {
		bool used = false;

		for (size_t i = 0; i < h->n_devs && !used; i++)
			used = h->devs[i].layout == h->layouts->pdata[k];
		if (used) {
			g_ptr_array_add(layouts, h->layouts->pdata[k]);
			h->layouts->pdata[k] = NULL;
		}
	}
	g_ptr_array_set_free_func(h->layouts, NULL);
	for (guint k = 0; k < h->layouts->len; k++)
		if (h->layouts->pdata[k])
			layout_free(h->layouts->pdata[k]);
	g_ptr_array_free(h->layouts, TRUE);
	h->layouts = layouts;
	return 0;
}

int hub_add_listener(struct hub *h, hub_change_fn fn, void *ud)
{
	if (h->n_ls >= HUB_MAX_LISTENERS)
		return -ENOSPC;
	h->ls[h->n_ls++] = (struct listener){fn, ud};
	return 0;
}

int hub_add_camera_listener(struct hub *h, hub_camera_fn fn, void *ud)
{
	if (h->n_cls >= HUB_MAX_LISTENERS)
		return -ENOSPC;
	h->cls[h->n_cls++] = (struct cam_listener){fn, ud};
	return 0;
}

void hub_set_health(struct hub *h, size_t i, const struct hub_dev_health *health)
{
	if (i < h->n_devs && h->devs[i].seen)
		h->devs[i].health = *health;
}

size_t hub_n_devices(const struct hub *h)
{
	return h->n_devs;
}

struct hub_device *hub_device_at(struct hub *h, size_t i)
{
	return i < h->n_devs ? &h->devs[i] : NULL;
}

static const char *point_key(struct hub *h, const struct hub_device *d, const struct hub_lpoint *lp)
{
	if (lp->block == HUB_TOP_LEVEL)
		return g_string_chunk_insert_const(h->keys, lp->def->name);
	const struct prof_block *b = &d->cfg->profile->blocks[lp->block];
	char k[256];
	snprintf(k, sizeof(k), "%s[%u].%s", b->name, lp->instance, lp->def->name);
	return g_string_chunk_insert_const(h->keys, k);
}

static bool layout_is(const struct hub_layout *l, const struct hub_lpoint *pts, size_t n)
{
	if (l->n != n)
		return false;
	for (size_t i = 0; i < l->n; i++) {
		const struct hub_lpoint *lp = &pts[i];
		if (l->defs[i] != lp->def || l->blocks[i] != lp->block ||
		    l->instances[i] != lp->instance)
			return false;
	}
	return true;
}

/* The layout of an update: one already known, or a new one. */
static const struct hub_layout *layout_of(struct hub *h, const struct hub_device *d,
					  const struct hub_lpoint *pts, size_t n_pts)
{
	for (guint i = 0; i < h->layouts->len; i++)
		if (layout_is(h->layouts->pdata[i], pts, n_pts))
			return h->layouts->pdata[i];
	struct hub_layout *l = calloc(1, sizeof(*l));
	size_t n = n_pts ? n_pts : 1;
	if (!l)
		return NULL;
	l->n = n_pts;
	l->defs = calloc(n, sizeof(*l->defs));
	l->keys = calloc(n, sizeof(*l->keys));
	l->blocks = calloc(n, sizeof(*l->blocks));
	l->instances = calloc(n, sizeof(*l->instances));
	l->groups = calloc(n, sizeof(*l->groups));
	if (!l->defs || !l->keys || !l->blocks || !l->instances || !l->groups) {
		layout_free(l);
		return NULL;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct hub_lpoint *lp = &pts[i];
		l->defs[i] = lp->def;
		l->keys[i] = point_key(h, d, lp);
		l->blocks[i] = lp->block;
		l->instances[i] = lp->instance;
		l->groups[i] = (uint8_t)(lp->group < 0 ? 0 : lp->group + 1);
		if (l->groups[i] + 1u > l->n_groups)
			l->n_groups = l->groups[i] + 1u;
	}
	g_ptr_array_add(h->layouts, l);
	return l;
}

/* The layout changed (a block count moved): rebuild the table from a full update,
 * keeping nothing (the update carries every point's state). */
static int rebuild_points(struct hub_device *d, const struct hub_layout *l)
{
	struct hub_point *np = calloc(l->n ? l->n : 1, sizeof(*np));
	int64_t *gt = calloc(l->n_groups ? l->n_groups : 1, sizeof(*gt));
	if (!np || !gt) {
		free(np);
		free(gt);
		return -ENOMEM;
	}
	/* New points are announced once, whatever their value. */
	for (size_t i = 0; i < l->n; i++)
		np[i].pv.flags = HUB_POINT_CHANGED;
	free_points(d);
	d->layout = l;
	d->group_t = gt;
	d->points = np;
	d->n_points = l->n;
	return 0;
}

/* Counters and clocks move all the time: their values are kept current but are not
 * changes worth telling anyone about (the heartbeat carries them). */
static bool quiet(const struct prof_point *def)
{
	return def->role != PR_NONE;
}

void hub_update_device(struct hub *h, const struct hub_dev_update *r)
{
	struct hub_device *d;
	enum hub_dev_quality dq;
	bool relayout = false;

	if (r->device_index >= h->n_devs)
		return;
	d = &h->devs[r->device_index];
	d->n_changed = 0;
	d->state_changed = !d->seen;
	d->seen = true;
	d->last_poll_ms = r->t_ms;
	d->last_err = r->err;
	d->health = r->health;
	if (r->device_time >= 0)
		d->device_time = r->device_time;

	for (size_t i = 0; i < d->n_points; i++)
		d->points[i].pv.flags = 0;
	if (r->layout && !(d->layout && layout_is(d->layout, r->layout, r->n_layout))) {
		const struct hub_layout *l = layout_of(h, d, r->layout, r->n_layout);
		if (!l || rebuild_points(d, l) < 0) {
			log_err("device %s: out of memory", d->cfg->id);
			return;
		}
		relayout = true;
	}
	for (size_t i = 0; i < r->n_samples; i++) {
		const struct hub_sample *s = &r->samples[i];
		size_t at = s->index;
		if (at >= d->n_points)
			continue; /* the source keeps deltas of another layout away */
		struct hub_point *p = &d->points[at];
		struct hw_value ov, nv;
		const struct prof_point *def = d->layout->defs[at];
		hw_pval_unpack(def, &p->pv, &ov);
		hw_pval_unpack(def, &s->pv, &nv);
		bool moved = p->pv.q != s->pv.q || !hw_value_equal(&ov, &nv);
		uint8_t flags = p->pv.flags;
		p->pv = s->pv;
		p->pv.flags = flags;
		d->group_t[d->layout->groups[at]] = s->t_ms;
		if (moved && !quiet(def))
			p->pv.flags |= HUB_POINT_CHANGED;
	}
	if (!r->online) {
		/* Offline: every point keeps its last value, marked comm_lost. */
		for (size_t i = 0; i < d->n_points; i++) {
			struct hub_point *p = &d->points[i];
			if (p->pv.q != HW_Q_COMM_LOST && p->pv.q != HW_Q_NONE) {
				p->pv.q = HW_Q_COMM_LOST;
				p->pv.flags |= HUB_POINT_CHANGED;
			}
		}
	}
	for (size_t i = 0; i < d->n_points; i++)
		d->n_changed += hub_point_changed(&d->points[i]);
	if (relayout)
		d->state_changed = true;

	dq = !r->online ? HUB_DQ_COMM_LOST : r->frozen ? HUB_DQ_FROZEN : HUB_DQ_GOOD;
	if (d->online != r->online || d->frozen != r->frozen || d->quality != dq)
		d->state_changed = true;
	if (d->online && !r->online)
		log_warn("device %s: offline, points comm_lost", d->cfg->id);
	else if (!d->online && r->online)
		log_info("device %s: online", d->cfg->id);
	if (!d->frozen && r->frozen)
		log_warn("device %s: life_check frozen, interface frozen", d->cfg->id);
	else if (d->frozen && !r->frozen)
		log_info("device %s: life_check moving again", d->cfg->id);
	d->online = r->online;
	d->frozen = r->frozen;
	d->quality = dq;

	if (d->n_changed == 0 && !d->state_changed)
		return;
	for (size_t i = 0; i < h->n_ls; i++)
		h->ls[i].fn(h, d, h->ls[i].ud);
}

/* ---- cameras ---- */

size_t hub_n_cameras(const struct hub *h)
{
	return h->n_cams;
}

struct hub_camera *hub_camera_at(struct hub *h, size_t i)
{
	return i < h->n_cams ? &h->cams[i] : NULL;
}

static void tell_camera(struct hub *h, struct hub_camera *c)
{
	for (size_t i = 0; i < h->n_cls; i++)
		h->cls[i].fn(h, c, h->cls[i].ud);
}

void hub_camera_report(struct hub *h, size_t i, const struct hub_cam_health *health)
{
	struct hub_camera *c = hub_camera_at(h, i);
	const struct hub_cam_health *o;

	if (!c)
		return;
	o = &c->health;
	c->cond_changed = 0;
	for (int j = 0; j < HUB_CC_N; j++)
		if (o->cond[j].active != health->cond[j].active)
			c->cond_changed |= 1u << j;
	c->changed = c->cond_changed || o->online != health->online ||
			     o->recording != health->recording || o->width != health->width ||
			     o->height != health->height
			 ? HUB_CAM_STATE
			 : 0;
	c->health = *health;
	c->health.codec[sizeof(c->health.codec) - 1] = '\0';
	c->seen = true;
	if (c->changed)
		tell_camera(h, c);
}

void hub_camera_snapshot(struct hub *h, size_t i, int64_t t_ms)
{
	struct hub_camera *c = hub_camera_at(h, i);

	if (!c)
		return;
	c->last_snapshot_ms = t_ms;
	c->changed = HUB_CAM_SNAPSHOT;
	c->cond_changed = 0;
	tell_camera(h, c);
}

void hub_camera_clip(struct hub *h, size_t i, const char *path, const char *point, int64_t t_ms,
		     bool ok)
{
	struct hub_camera *c = hub_camera_at(h, i);

	if (!c)
		return;
	g_free(c->last_clip.path);
	g_free(c->last_clip.point);
	c->last_clip = (struct hub_cam_clip){g_strdup(path), g_strdup(point), t_ms, ok};
	c->changed = HUB_CAM_CLIP;
	c->cond_changed = 0;
	tell_camera(h, c);
}

/* ---- alerts ---- */

/* Index of id in h->alerts, or where it would go (*found false). */
static guint alert_pos(const struct hub *h, const char *id, bool *found)
{
	guint lo = 0, hi = h->alerts ? h->alerts->len : 0;

	*found = false;
	while (lo < hi) {
		guint mid = (lo + hi) / 2;
		int c = strcmp(g_array_index(h->alerts, struct hub_alert, mid).id, id);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int hub_add_alert_listener(struct hub *h, hub_alert_fn fn, void *ud)
{
	if (h->n_als >= HUB_MAX_LISTENERS)
		return -ENOSPC;
	h->als[h->n_als].fn = fn;
	h->als[h->n_als].ud = ud;
	h->n_als++;
	return 0;
}

int hub_alert_set(struct hub *h, const struct hub_alert *a)
{
	struct hub_alert copy = *a;
	bool found;
	guint i;

	if (!a->id[0] || !memchr(a->id, '\0', sizeof(a->id)))
		return -EINVAL;
	if (!h->alerts)
		h->alerts = g_array_new(FALSE, FALSE, sizeof(struct hub_alert));
	i = alert_pos(h, a->id, &found);
	if (found)
		g_array_index(h->alerts, struct hub_alert, i) = copy;
	else
		g_array_insert_val(h->alerts, i, copy);
	for (size_t k = 0; k < h->n_als; k++)
		h->als[k].fn(h, &copy, false, h->als[k].ud);
	return 0;
}

void hub_alert_remove(struct hub *h, const char *id)
{
	struct hub_alert gone = {0};
	bool found;
	guint i = alert_pos(h, id, &found);

	if (!found)
		return;
	gone = g_array_index(h->alerts, struct hub_alert, i);
	g_array_remove_index(h->alerts, i);
	for (size_t k = 0; k < h->n_als; k++)
		h->als[k].fn(h, &gone, true, h->als[k].ud);
}

size_t hub_n_alerts(const struct hub *h)
{
	return h->alerts ? h->alerts->len : 0;
}

const struct hub_alert *hub_alert_get(const struct hub *h, const char *id)
{
	bool found;
	guint i = alert_pos(h, id, &found);

	return found ? &g_array_index(h->alerts, struct hub_alert, i) : NULL;
}

const struct hub_alert *hub_alert_at(const struct hub *h, size_t i)
{
	return i < hub_n_alerts(h) ? &g_array_index(h->alerts, struct hub_alert, i) : NULL;
}

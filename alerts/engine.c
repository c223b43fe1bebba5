/* The alert engine: owns every tracked alert and the noise-control state, and turns
 * device snapshots, timer ticks and operator actions into transitions. Pure logic
 * with an injected clock; runs on whichever thread calls it (the main loop). */
#include "alerts/engine.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct alert_engine {
	const char *site;
	const struct cfg_alerts *ac;
	const struct cfg_rule *rules;
	size_t n_rules;
	alert_emit_fn emit;
	void *ud;
	GHashTable *alerts;  /* id -> struct alert * (owned) */
	GHashTable *dev_ctx; /* device id -> context signature (owned strings) */
	GArray *raises;	     /* int64 times of new alerts inside the flood window */
	bool flooding;
	unsigned flood_muted;
	int64_t now;
	alert_message_fn message_fn; /* fills a new alert's message, or NULL */
	void *message_ud;
};

static const char *const core_names[] = {"normal", "unack", "acked", "rtn_unack"};
static const char *const ev_names[] = {
    "raised",	  "cleared",   "acked",	 "shelved",	"unshelved", "suppressed", "unsuppressed",
    "chattering", "escalated", "repeat", "flood_start", "flood_end", "returned",
};

const char *alert_core_name(enum alert_core c)
{
	return (unsigned)c < G_N_ELEMENTS(core_names) ? core_names[c] : "?";
}

int alert_core_parse(const char *s, enum alert_core *out)
{
	for (unsigned i = 0; i < G_N_ELEMENTS(core_names); i++) {
		if (s && strcmp(s, core_names[i]) == 0) {
			*out = (enum alert_core)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *alert_ev_name(enum alert_ev_kind k)
{
	return (unsigned)k < G_N_ELEMENTS(ev_names) ? ev_names[k] : "?";
}

const char *alert_state_name(const struct alert *a)
{
	if (a->core == AC_NORMAL)
		return "normal";
	if (a->out_of_service)
		return "out_of_service";
	if (a->shelved_until_ms)
		return "shelved";
	if (a->suppressed[0])
		return "suppressed";
	return core_names[a->core];
}

/* ---- ids, globs, durations ---- */

int alert_make_id(char *buf, size_t sz, const char *device, const char *point, const char *cond)
{
	size_t n = 0;
	const char *parts[3] = {device, point, cond};

	for (int p = 0; p < 3; p++) {
		const char *s = parts[p];
		if (!s || !*s)
			continue;
		if (n && n + 1 < sz)
			buf[n++] = '.';
		for (; *s; s++) {
			char c = *s;
			if (n + 2 >= sz)
				return -ENAMETOOLONG;
			if (c == '[')
				c = '-';
			else if (c == ']')
				continue;
			else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				   (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
				c = '_';
			buf[n++] = c;
		}
	}
	if (n >= sz)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return 0;
}

bool alert_glob(const char *p, const char *s)
{
	const char *star = NULL, *ss = NULL;

	while (*s) {
		if (*p == '*') {
			star = p++;
			ss = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++ss;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

int alert_parse_duration(const char *s, int64_t *ms)
{
	int64_t whole = 0, frac = 0, den = 1, mul = 1000, v;
	const char *p = s;

	if (!s)
		return -EINVAL;
	/* digits [. digits] [s|m|h|d]: integer arithmetic, each step checked */
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (whole > ALERT_DURATION_MAX_MS / 10)
			return -ERANGE;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (den < 1000000000) { /* finer than a nanosecond is noise */
				frac = frac * 10 + (*p - '0');
				den *= 10;
			}
		}
	}
	switch (*p) {
	case '\0':
	case 's':
		break;
	case 'm':
		mul = 60000;
		break;
	case 'h':
		mul = 3600000;
		break;
	case 'd':
		mul = 86400000;
		break;
	default:
		return -EINVAL;
	}
	if (*p && p[1])
		return -EINVAL;
	if (whole > ALERT_DURATION_MAX_MS / mul)
		return -ERANGE;
	v = whole * mul + frac * mul / den; /* frac * mul < 1e9 * 86400000 < INT64_MAX */
	if (v > ALERT_DURATION_MAX_MS)
		return -ERANGE;
	if (v <= 0)
		return -EINVAL;
	*ms = v;
	return 0;
}

/* ---- lifecycle ---- */

int alert_engine_create(const char *site, const struct cfg_alerts *ac, const struct cfg_rule *rules,
			size_t n_rules, alert_emit_fn emit, void *ud, struct alert_engine **out)
{
	struct alert_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->site = site;
	e->ac = ac;
	e->rules = rules;
	e->n_rules = n_rules;
	e->emit = emit;
	e->ud = ud;
	e->alerts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, free);
	e->dev_ctx = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	e->raises = g_array_new(FALSE, FALSE, sizeof(int64_t));
	*out = e;
	return 0;
}

void alert_engine_set_message_fn(struct alert_engine *e, alert_message_fn fn, void *ud)
{
	e->message_fn = fn;
	e->message_ud = ud;
}

void alert_engine_rebind(struct alert_engine *e, const char *site, const struct cfg_alerts *ac,
			 const struct cfg_rule *rules, size_t n_rules)
{
	e->site = site;
	e->ac = ac;
	e->rules = rules;
	e->n_rules = n_rules;
}

void alert_engine_destroy(struct alert_engine *e)
{
	if (!e)
		return;
	g_hash_table_destroy(e->alerts);
	g_hash_table_destroy(e->dev_ctx);
	g_array_free(e->raises, TRUE);
	free(e);
}

int alert_engine_restore(struct alert_engine *e, const struct alert *src)
{
	struct alert *a;

	if (!src->id[0] || src->core == AC_NORMAL)
		return -EINVAL;
	if (g_hash_table_contains(e->alerts, src->id))
		return -EEXIST;
	a = malloc(sizeof(*a));
	if (!a)
		return -ENOMEM;
	*a = *src;
	g_hash_table_insert(e->alerts, a->id, a);
	return 0;
}

static bool oos_device(const struct alert_engine *e, const char *dev)
{
	for (size_t i = 0; i < e->ac->n_out_of_service; i++)
		if (strcmp(e->ac->out_of_service[i], dev) == 0)
			return true;
	return false;
}

static bool may_notify(const struct alert_engine *e, const struct alert *a)
{
	if (a->shelved_until_ms || a->suppressed[0] || a->out_of_service || a->chattering ||
	    a->prio >= AP_P5)
		return false;
	return !(e->flooding && a->prio != AP_P1);
}

static void emit(struct alert_engine *e, enum alert_ev_kind k, struct alert *a, const char *by,
		 const char *reason, bool notify)
{
	struct alert_ev ev = {.kind = k, .a = a, .by = by, .reason = reason, .notify = notify};

	if (a && notify)
		a->last_notify_ms = e->now;
	if (e->emit)
		e->emit(&ev, e->ud);
}

static void emit_flood(struct alert_engine *e, enum alert_ev_kind k, unsigned count)
{
	struct alert_ev ev = {.kind = k, .notify = true, .count = count};

	if (e->emit)
		e->emit(&ev, e->ud);
}

static void remove_alert(struct alert_engine *e, struct alert *a)
{
	g_hash_table_remove(e->alerts, a->id);
}

static void flood_prune(struct alert_engine *e)
{
	int64_t from = e->now - (int64_t)e->ac->flood_window_s * 1000;
	guint k = 0;

	while (k < e->raises->len && g_array_index(e->raises, int64_t, k) <= from)
		k++;
	if (k)
		g_array_remove_range(e->raises, 0, k);
}

static void flood_check_end(struct alert_engine *e)
{
	flood_prune(e);
	if (e->flooding && e->raises->len < (guint)e->ac->flood_low) {
		e->flooding = false;
		emit_flood(e, AE_FLOOD_END, e->flood_muted);
		e->flood_muted = 0;
	}
}

static void flood_count_new(struct alert_engine *e)
{
	g_array_append_val(e->raises, e->now);
	flood_prune(e);
	if (!e->flooding && e->raises->len > (guint)e->ac->flood_high) {
		e->flooding = true;
		e->flood_muted = 0;
		emit_flood(e, AE_FLOOD_START, e->raises->len);
	}
}

static void activate(struct alert_engine *e, struct alert *a)
{
	bool notify;

	a->active = true;
	a->cleared_ms = 0;
	a->raised_ms = e->now;
	a->escalated = false;
	if (a->core == AC_NORMAL) {
		a->core = AC_UNACK;
		a->acked_ms = 0;
		a->acked_by[0] = '\0';
		flood_count_new(e);
		notify = may_notify(e, a);
		if (!notify && e->flooding && a->prio != AP_P1)
			e->flood_muted++;
		emit(e, AE_RAISED, a, NULL, NULL, notify);
		return;
	}
	/* rtn_unack, or a P1 latched unack: the same alert comes back. */
	a->core = AC_UNACK;
	a->latched = a->chattering;
	if (!a->chattering)
		emit(e, AE_RETURNED, a, NULL, NULL, may_notify(e, a));
}

/* Returns true when the alert was closed (and freed). */
static bool deactivate(struct alert_engine *e, struct alert *a)
{
	if (a->chattering)
		return false; /* held until acknowledged */
	a->active = false;
	a->cleared_ms = e->now;
	a->escalated = false;
	switch (a->core) {
	case AC_UNACK:
		if (a->prio == AP_P1)
			a->latched = true; /* stays unack until someone acknowledges it */
		else
			a->core = AC_RTN_UNACK;
		emit(e, AE_CLEARED, a, NULL, NULL, false);
		return false;
	case AC_ACKED:
		a->core = AC_NORMAL;
		emit(e, AE_CLEARED, a, NULL, NULL, false);
		remove_alert(e, a);
		return true;
	default:
		return false;
	}
}

/* Applies on/off-delay. Returns true when the alert was closed. */
static bool apply_delays(struct alert_engine *e, struct alert *a)
{
	if (a->raw && !a->active && e->now - a->raw_since_ms >= a->on_delay_ms)
		activate(e, a);
	else if (!a->raw && a->active && e->now - a->raw_since_ms >= a->off_delay_ms)
		return deactivate(e, a);
	return false;
}

static void note_transition(struct alert_engine *e, struct alert *a)
{
	unsigned cap = G_N_ELEMENTS(a->trans_ms);
	int64_t from = e->now - (int64_t)e->ac->chatter_window_s * 1000;
	unsigned in = 0;

	if (a->n_trans == cap) {
		memmove(a->trans_ms, a->trans_ms + 1, (cap - 1) * sizeof(a->trans_ms[0]));
		a->n_trans--;
	}
	a->trans_ms[a->n_trans++] = e->now;
	for (unsigned i = 0; i < a->n_trans; i++)
		in += a->trans_ms[i] > from;
	if (!a->chattering && a->core != AC_NORMAL && e->ac->chatter_count > 0 &&
	    in >= (unsigned)e->ac->chatter_count) {
		bool notify = may_notify(e, a); /* the one report of the chattering */
		a->chattering = true;
		a->latched = true;
		if (!a->active) {
			a->active = true;
			a->cleared_ms = 0;
			if (a->core == AC_RTN_UNACK)
				a->core = AC_UNACK;
		}
		emit(e, AE_CHATTERING, a, NULL, NULL, notify);
	}
}

static void set_suppressed(struct alert_engine *e, struct alert *a, const char *why, bool oos)
{
	if (a->core == AC_NORMAL)
		return;
	a->out_of_service = oos;
	if (strcmp(a->suppressed, why) == 0)
		return;
	if (why[0]) {
		snprintf(a->suppressed, sizeof(a->suppressed), "%s", why);
		emit(e, AE_SUPPRESSED, a, NULL, why, false);
	} else {
		a->suppressed[0] = '\0';
		emit(e, AE_UNSUPPRESSED, a, NULL, NULL, false);
	}
}

/* ---- evaluation ---- */

struct cand {
	const char *device;
	const char *point; /* "" for device alerts */
	const char *cond;  /* part of the id ("" for class alerts) */
	const char *what;  /* stored in alert.cond */
	bool from_rule;
	const char *text;
	enum alert_prio prio;
	int on_delay_ms, off_delay_ms;
	bool have; /* the condition could be evaluated (good data) */
	bool raw;
	const char *suppress; /* "" or why */
	bool oos;
};

static void eval(struct alert_engine *e, const struct cand *c)
{
	char id[ALERT_ID_MAX];
	struct alert *a;
	bool was_new = false;

	if (alert_make_id(id, sizeof(id), c->device, c->point, c->cond) < 0)
		return;
	a = g_hash_table_lookup(e->alerts, id);
	if (!a) {
		if (!c->have || !c->raw)
			return;
		a = calloc(1, sizeof(*a));
		if (!a)
			return;
		memcpy(a->id, id, sizeof(id));
		snprintf(a->device, sizeof(a->device), "%s", c->device);
		snprintf(a->point, sizeof(a->point), "%s", c->point);
		snprintf(a->cond, sizeof(a->cond), "%s", c->what ? c->what : c->cond);
		a->from_rule = c->from_rule;
		snprintf(a->text, sizeof(a->text), "%s", c->text ? c->text : "");
		a->prio = c->prio;
		if (e->message_fn)
			e->message_fn(a, e->message_ud);
		g_hash_table_insert(e->alerts, a->id, a);
		was_new = true;
	}
	a->on_delay_ms = c->on_delay_ms;
	a->off_delay_ms = c->off_delay_ms;
	if (a->core != AC_NORMAL)
		set_suppressed(e, a, c->suppress, c->oos);
	else {
		snprintf(a->suppressed, sizeof(a->suppressed), "%s", c->suppress);
		a->out_of_service = c->oos;
	}
	if (c->have && (was_new || c->raw != a->raw)) {
		a->raw = c->raw;
		a->raw_since_ms = e->now;
		note_transition(e, a);
	}
	if (apply_delays(e, a))
		return;
	if (a->core == AC_NORMAL && !a->raw)
		remove_alert(e, a); /* a pending on-delay that did not last */
}

static bool value_true(const struct hw_value *v)
{
	return hw_value_as_double(v) != 0.0;
}

static const struct alert_point_in *find_point(const struct alert_device_in *d, const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->pts[i].key, key) == 0)
			return &d->pts[i];
	return NULL;
}

struct devctx {
	bool test_mode;
	bool maint; /* within a maintenance window of the configuration */
	bool comm;
	bool oos;
	GString *sig; /* everything that suppression depends on */
};

/* The suppression reason of a point alert, or "". */
static const char *point_suppress(const struct alert_device_in *d, const struct devctx *x,
				  const char *key, const struct cfg_rule *r)
{
	const char *dot;

	if (x->maint)
		return "maintenance";
	if (x->test_mode)
		return "test_mode";
	if (x->comm)
		return "comm_lost";
	dot = strchr(key, ']');
	if (dot && dot[1] == '.') {
		/* a block instance: muted by the disabled point of the same instance */
		for (size_t i = 0; i < d->n; i++) {
			const struct alert_point_in *p = &d->pts[i];
			if (p->cls == PC_DISABLED && p->q == HW_Q_GOOD && value_true(&p->v) &&
			    strncmp(p->key, key, (size_t)(dot - key + 2)) == 0)
				return "disabled";
		}
	}
	if (r && r->inhibit_when) {
		const struct alert_point_in *p = find_point(d, r->inhibit_when);
		if (p && p->v.type != HW_V_NONE && value_true(&p->v))
			return "inhibited";
	}
	return "";
}

static bool rule_device(const struct cfg_rule *r, const char *dev)
{
	return strcmp(r->device, "*") == 0 || strcmp(r->device, dev) == 0;
}

static enum alert_prio class_prio(enum point_class c)
{
	return c == PC_FIRE ? AP_P1 : c == PC_SUPERVISORY ? AP_P2 : AP_P3;
}

static const char *class_cond(enum point_class c)
{
	return c == PC_FIRE ? "fire" : c == PC_SUPERVISORY ? "supervisory" : "fault";
}

static bool quality_matches(const char *want, enum hw_quality q)
{
	if (strcmp(want, "bad") == 0)
		return q != HW_Q_GOOD && q != HW_Q_NONE;
	return strcmp(want, hw_quality_name(q)) == 0;
}

/* Evaluates a rule on one point; returns whether the result is known. */
static bool rule_eval(const struct cfg_rule *r, const struct alert_point_in *p, bool prev,
		      bool *raw)
{
	double v;

	if (r->kind == RULE_QUALITY) {
		if (p->q == HW_Q_NONE)
			return false;
		*raw = quality_matches(r->quality, p->q);
		return true;
	}
	if (p->q != HW_Q_GOOD || p->v.type == HW_V_NONE)
		return false;
	v = hw_value_as_double(&p->v);
	switch (r->kind) {
	case RULE_EQUALS:
		*raw = v == (double)r->equals;
		return true;
	case RULE_ABOVE:
		*raw = prev ? v >= r->above - r->deadband : v > r->above;
		return true;
	case RULE_BELOW:
		*raw = prev ? v <= r->below + r->deadband : v < r->below;
		return true;
	default:
		return false;
	}
}

static bool prev_raw(const struct alert_engine *e, const char *dev, const char *point,
		     const char *cond)
{
	char id[ALERT_ID_MAX];
	const struct alert *a;

	if (alert_make_id(id, sizeof(id), dev, point, cond) < 0)
		return false;
	a = g_hash_table_lookup(e->alerts, id);
	return a && a->raw;
}

static const struct cfg_rule *rule_by_name(const struct alert_engine *e, const char *dev,
					   const char *name)
{
	for (size_t i = 0; i < e->n_rules; i++)
		if (strcmp(e->rules[i].name, name) == 0 && rule_device(&e->rules[i], dev))
			return &e->rules[i];
	return NULL;
}

static void eval_point(struct alert_engine *e, const struct alert_device_in *d,
		       const struct devctx *x, const struct alert_point_in *p)
{
	struct cand c = {.device = d->id, .point = p->key, .oos = x->oos};

	if (p->cls == PC_FIRE || p->cls == PC_SUPERVISORY || p->cls == PC_FAULT) {
		/* a class alert is named by its point: facp1.zone-3.fire */
		c.cond = "";
		c.what = class_cond(p->cls);
		c.text = class_cond(p->cls);
		c.prio = class_prio(p->cls);
		c.have = p->q == HW_Q_GOOD && p->v.type != HW_V_NONE;
		c.raw = c.have && value_true(&p->v);
		c.suppress = point_suppress(d, x, p->key, NULL);
		eval(e, &c);
	}
	c.what = NULL;
	c.from_rule = true;
	for (size_t i = 0; i < e->n_rules; i++) {
		const struct cfg_rule *r = &e->rules[i];
		if (r->kind == RULE_OFFLINE || !r->point || !rule_device(r, d->id) ||
		    !alert_glob(r->point, p->key))
			continue;
		c.cond = r->name;
		c.prio = (enum alert_prio)r->priority;
		c.text = r->text;
		c.on_delay_ms = r->on_delay_ms;
		c.off_delay_ms = r->off_delay_ms;
		c.have = rule_eval(r, p, prev_raw(e, d->id, p->key, r->name), &c.raw);
		c.suppress = r->kind == RULE_QUALITY ? (x->maint       ? "maintenance"
							: x->test_mode ? "test_mode"
								       : "")
						     : point_suppress(d, x, p->key, r);
		eval(e, &c);
	}
}

static void build_ctx(const struct alert_engine *e, const struct alert_device_in *d,
		      struct devctx *x)
{
	x->comm = d->seen && (!d->online || d->frozen);
	x->oos = oos_device(e, d->id);
	x->test_mode = false;
	x->maint = false;
	for (size_t i = 0; i < e->ac->n_maint; i++) {
		const struct cfg_maint *m = &e->ac->maint[i];
		if ((strcmp(m->device, "*") == 0 || strcmp(m->device, d->id) == 0) &&
		    e->now >= m->from_ms && e->now < m->to_ms)
			x->maint = true;
	}
	x->sig = g_string_sized_new(64);
	for (size_t i = 0; i < d->n; i++) {
		const struct alert_point_in *p = &d->pts[i];
		if (p->q != HW_Q_GOOD && p->q != HW_Q_COMM_LOST)
			continue;
		if (p->cls == PC_TEST && value_true(&p->v))
			x->test_mode = true;
		if (p->cls == PC_DISABLED && value_true(&p->v))
			g_string_append_printf(x->sig, "d:%s|", p->key);
	}
	for (size_t i = 0; i < e->n_rules; i++) {
		const struct cfg_rule *r = &e->rules[i];
		const struct alert_point_in *p;
		if (!r->inhibit_when || !rule_device(r, d->id))
			continue;
		p = find_point(d, r->inhibit_when);
		g_string_append_printf(x->sig, "i:%s=%d|", r->inhibit_when,
				       p && p->v.type != HW_V_NONE && value_true(&p->v));
	}
	g_string_append_printf(x->sig, "t%d c%d o%d m%d", x->test_mode, x->comm, x->oos, x->maint);
}

static int by_id(const void *x, const void *y)
{
	const struct alert *const *a = x, *const *b = y;
	return strcmp((*a)->id, (*b)->id);
}

/* The context changed: recompute the suppression of every alert of the device. */
static void refresh_device(struct alert_engine *e, const struct alert_device_in *d,
			   const struct devctx *x)
{
	GHashTableIter it;
	gpointer v;
	GPtrArray *mine = g_ptr_array_new();

	g_hash_table_iter_init(&it, e->alerts);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct alert *a = v;
		if (strcmp(a->device, d->id) == 0 && a->point[0])
			g_ptr_array_add(mine, a);
	}
	g_ptr_array_sort(mine, by_id);
	for (guint i = 0; i < mine->len; i++) {
		struct alert *a = mine->pdata[i];
		const struct cfg_rule *r = a->from_rule ? rule_by_name(e, d->id, a->cond) : NULL;
		const char *why = r && r->kind == RULE_QUALITY ? (x->maint	 ? "maintenance"
								  : x->test_mode ? "test_mode"
										 : "")
							       : point_suppress(d, x, a->point, r);
		set_suppressed(e, a, why, x->oos);
	}
	g_ptr_array_free(mine, TRUE);
}

void alert_engine_update(struct alert_engine *e, const struct alert_device_in *d, int64_t now_ms)
{
	struct devctx x;
	const char *old;
	struct cand c = {.device = d->id, .point = "", .prio = AP_P3};

	e->now = now_ms;
	build_ctx(e, d, &x);
	c.oos = x.oos;
	/* A device taken apart during maintenance going offline is expected. */
	c.suppress = x.maint ? "maintenance" : "";
	/* Device alerts: communication. */
	c.cond = "offline";
	c.text = "device offline";
	c.have = d->seen;
	c.raw = d->seen && !d->online;
	eval(e, &c);
	c.cond = "frozen";
	c.text = "device interface frozen (life check not moving)";
	c.raw = d->seen && d->online && d->frozen;
	eval(e, &c);
	for (size_t i = 0; i < e->n_rules; i++) {
		const struct cfg_rule *r = &e->rules[i];
		if (r->kind != RULE_OFFLINE || !rule_device(r, d->id))
			continue;
		c.cond = r->name;
		c.from_rule = true;
		c.text = r->text;
		c.prio = (enum alert_prio)r->priority;
		c.on_delay_ms = r->on_delay_ms;
		c.off_delay_ms = r->off_delay_ms;
		c.raw = d->seen && (!d->online || d->frozen);
		eval(e, &c);
	}
	for (size_t i = 0; i < d->n; i++)
		if (d->pts[i].changed)
			eval_point(e, d, &x, &d->pts[i]);
	old = g_hash_table_lookup(e->dev_ctx, d->id);
	if (!old || strcmp(old, x.sig->str) != 0) {
		refresh_device(e, d, &x);
		g_hash_table_replace(e->dev_ctx, g_strdup(d->id), g_strdup(x.sig->str));
	}
	g_string_free(x.sig, TRUE);
}

void alert_engine_condition(struct alert_engine *e, const char *device, const char *point,
			    const char *cond, int prio, const char *text, bool active,
			    int64_t now_ms)
{
	struct cand c = {.device = device,
			 .point = point ? point : "",
			 .cond = cond,
			 .text = text,
			 .prio = (enum alert_prio)CLAMP(prio, AP_P1, AP_P5),
			 .have = true,
			 .raw = active,
			 .suppress = ""};

	e->now = now_ms;
	eval(e, &c);
}

/* ---- timers ---- */

void alert_engine_tick(struct alert_engine *e, int64_t now_ms)
{
	GHashTableIter it;
	gpointer v;
	GPtrArray *all = g_ptr_array_new();

	e->now = now_ms;
	g_hash_table_iter_init(&it, e->alerts);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(all, v);
	for (guint i = 0; i < all->len; i++) {
		struct alert *a = all->pdata[i];
		if (a->raw != a->active && !a->chattering) {
			if (apply_delays(e, a))
				continue;
			if (a->core == AC_NORMAL && !a->raw) {
				remove_alert(e, a);
				continue;
			}
		}
		if (a->core == AC_NORMAL)
			continue;
		if (a->shelved_until_ms && now_ms >= a->shelved_until_ms) {
			a->shelved_until_ms = 0;
			a->shelved_by[0] = '\0';
			a->shelve_reason[0] = '\0';
			emit(e, AE_UNSHELVED, a, NULL, "expired", may_notify(e, a));
		}
		if (a->prio == AP_P1 && a->core == AC_UNACK && e->ac->repeat_s > 0 &&
		    now_ms - a->last_notify_ms >= (int64_t)e->ac->repeat_s * 1000 &&
		    may_notify(e, a))
			emit(e, AE_REPEAT, a, NULL, NULL, true);
		if (a->active && !a->escalated && e->ac->escalate_after_s > 0 &&
		    now_ms - a->raised_ms >= (int64_t)e->ac->escalate_after_s * 1000) {
			a->escalated = true;
			emit(e, AE_ESCALATED, a, NULL, NULL, may_notify(e, a));
		}
	}
	g_ptr_array_free(all, TRUE);
	flood_check_end(e);
}

int64_t alert_engine_next_deadline(const struct alert_engine *e, int64_t now_ms)
{
	GHashTableIter it;
	gpointer v;
	int64_t t = INT64_MAX;

#define EARLIER(x)                                                                                 \
	do {                                                                                       \
		int64_t t_ = (x);                                                                  \
		if (t_ < t)                                                                        \
			t = t_;                                                                    \
	} while (0)
	g_hash_table_iter_init((GHashTableIter *)&it, e->alerts);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct alert *a = v;
		if (a->raw != a->active && !a->chattering)
			EARLIER(a->raw_since_ms + (a->raw ? a->on_delay_ms : a->off_delay_ms));
		if (a->shelved_until_ms)
			EARLIER(a->shelved_until_ms);
		if (a->prio == AP_P1 && a->core == AC_UNACK && e->ac->repeat_s > 0)
			EARLIER(a->last_notify_ms + (int64_t)e->ac->repeat_s * 1000);
		if (a->active && !a->escalated && e->ac->escalate_after_s > 0)
			EARLIER(a->raised_ms + (int64_t)e->ac->escalate_after_s * 1000);
	}
	if (e->flooding && e->raises->len)
		EARLIER(g_array_index(e->raises, int64_t, 0) +
			(int64_t)e->ac->flood_window_s * 1000 + 1);
#undef EARLIER
	return t < now_ms ? now_ms : t;
}

/* ---- operator actions ---- */

int alert_engine_ack(struct alert_engine *e, const char *id, const char *by, int64_t now_ms)
{
	struct alert *a = id ? g_hash_table_lookup(e->alerts, id) : NULL;

	e->now = now_ms;
	if (!a || a->core == AC_NORMAL)
		return -ENOENT;
	if (a->core == AC_ACKED)
		return -EALREADY;
	a->acked_ms = now_ms;
	snprintf(a->acked_by, sizeof(a->acked_by), "%s", by ? by : "");
	if (a->chattering) {
		a->chattering = false;
		a->latched = false;
		a->active = a->raw;
		if (!a->raw)
			a->cleared_ms = now_ms;
	} else if (a->latched) {
		a->latched = false;
	}
	if (a->core == AC_RTN_UNACK || !a->active) {
		a->core = AC_NORMAL;
		emit(e, AE_ACKED, a, by, NULL, false);
		remove_alert(e, a);
		return 0;
	}
	a->core = AC_ACKED;
	emit(e, AE_ACKED, a, by, NULL, false);
	return 0;
}

int alert_engine_shelve(struct alert_engine *e, const char *id, const char *by, const char *reason,
			int64_t for_ms, int64_t now_ms)
{
	struct alert *a = id ? g_hash_table_lookup(e->alerts, id) : NULL;

	e->now = now_ms;
	if (!a || a->core == AC_NORMAL)
		return -ENOENT;
	if (a->prio == AP_P1)
		return -EPERM;
	if (for_ms <= 0 || for_ms > (int64_t)e->ac->shelve_max_s * 1000 || !reason || !*reason ||
	    !by || !*by)
		return -EINVAL;
	a->shelved_until_ms = now_ms + for_ms;
	snprintf(a->shelved_by, sizeof(a->shelved_by), "%s", by);
	snprintf(a->shelve_reason, sizeof(a->shelve_reason), "%s", reason);
	emit(e, AE_SHELVED, a, by, reason, false);
	return 0;
}

int alert_engine_unshelve(struct alert_engine *e, const char *id, const char *by, int64_t now_ms)
{
	struct alert *a = id ? g_hash_table_lookup(e->alerts, id) : NULL;

	e->now = now_ms;
	if (!a || a->core == AC_NORMAL)
		return -ENOENT;
	if (!a->shelved_until_ms)
		return -EALREADY;
	a->shelved_until_ms = 0;
	a->shelved_by[0] = '\0';
	a->shelve_reason[0] = '\0';
	emit(e, AE_UNSHELVED, a, by, NULL, may_notify(e, a));
	return 0;
}

/* ---- queries ---- */

const struct alert *alert_engine_get(const struct alert_engine *e, const char *id)
{
	const struct alert *a = g_hash_table_lookup(e->alerts, id);
	return a && a->core != AC_NORMAL ? a : NULL;
}

size_t alert_engine_count(const struct alert_engine *e)
{
	GHashTableIter it;
	gpointer v;
	size_t n = 0;

	g_hash_table_iter_init(&it, e->alerts);
	while (g_hash_table_iter_next(&it, NULL, &v))
		n += ((const struct alert *)v)->core != AC_NORMAL;
	return n;
}

size_t alert_engine_list(const struct alert_engine *e, const struct alert **out, size_t max)
{
	GHashTableIter it;
	gpointer v;
	GPtrArray *all = g_ptr_array_new();
	size_t n;

	g_hash_table_iter_init(&it, e->alerts);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (((const struct alert *)v)->core != AC_NORMAL)
			g_ptr_array_add(all, v);
	g_ptr_array_sort(all, by_id);
	n = all->len;
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = all->pdata[i];
	g_ptr_array_free(all, TRUE);
	return n;
}

bool alert_engine_flooding(const struct alert_engine *e)
{
	return e->flooding;
}

void alert_engine_set_seq(struct alert_engine *e, const char *id, uint64_t seq)
{
	struct alert *a = g_hash_table_lookup(e->alerts, id);
	if (a)
		a->seq = seq;
}

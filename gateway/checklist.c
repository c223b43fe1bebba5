/* Owns the verb cmd/checklist: reads a filled-in checklist, completes its task with the
 * record (items, who, the fire panels' state) and opens the tickets of the failed items.
 * Main loop thread only. */
#define LOG_TAG "checklist"
#include "gateway/checklist.h"

#include <errno.h>
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct checklist {
	const struct hw_config *cfg;
	struct insp_service *insp;
	struct hub *hub;
};

static const struct cfg_plan *plan_of(const struct hw_config *cfg, const char *id)
{
	for (size_t i = 0; i < cfg->inspections.n_plans; i++)
		if (strcmp(cfg->inspections.plans[i].id, id) == 0)
			return &cfg->inspections.plans[i];
	return NULL;
}

static const struct cfg_checklist *list_of(const struct hw_config *cfg, const char *id)
{
	for (size_t i = 0; id && i < cfg->inspections.n_checklists; i++)
		if (strcmp(cfg->inspections.checklists[i].id, id) == 0)
			return &cfg->inspections.checklists[i];
	return NULL;
}

static json_t *value_json(const struct hub_device *d, size_t i)
{
	struct hw_value v;

	if (hub_point_q(&d->points[i]) == HW_Q_NONE)
		return json_null();
	hub_point_value(d, i, &v);
	switch (v.type) {
	case HW_V_BOOL:
		return json_boolean(v.b);
	case HW_V_INT:
		return json_integer((json_int_t)v.i);
	case HW_V_FLOAT:
		return json_real(v.f);
	default:
		return json_null();
	}
}

/* The fire panels (devices with a fire point) as the hub has them now: online, quality,
 * every top-level point and the block points that are active. */
static json_t *panels_json(struct hub *h)
{
	json_t *o = json_object();

	for (size_t k = 0; k < hub_n_devices(h); k++) {
		const struct hub_device *d = hub_device_at(h, k);
		json_t *pts, *dj;
		bool fire = false;

		if (!d || !d->layout)
			continue;
		for (size_t i = 0; i < d->n_points && !fire; i++)
			fire = hub_point_def(d, i)->cls == PC_FIRE;
		if (!fire)
			continue;
		pts = json_object();
		for (size_t i = 0; i < d->n_points; i++) {
			json_t *v = value_json(d, i);
			if (d->layout->blocks[i] != HUB_TOP_LEVEL && !json_is_true(v) &&
			    !(json_is_integer(v) && hub_point_def(d, i)->bit >= 0 &&
			      json_integer_value(v))) {
				json_decref(v);
				continue;
			}
			json_object_set_new(pts, hub_point_key(d, i), v);
		}
		dj = json_pack("{s:b, s:s, s:o}", "online", d->online, "quality",
			       hub_dev_quality_name(d->quality), "points", pts);
		json_object_set_new(o, d->cfg->id, dj);
	}
	return o;
}

/* The task the request names: "task", or the live task of "plan" a person does now (DUE,
 * OVERDUE or IN_PROGRESS; a new one, as a surprise check, when there is none). */
static int find_task(struct checklist *c, const char *task, const char *plan, const char *by,
		     char *id)
{
	const struct insp_task *v[1024];
	size_t n;

	if (task) {
		if (!insp_service_task(c->insp, task))
			return -ENOENT;
		g_strlcpy(id, task, INSP_ID_MAX);
		return 0;
	}
	n = insp_service_list(c->insp, v, G_N_ELEMENTS(v));
	for (size_t i = 0; i < n && i < G_N_ELEMENTS(v); i++)
		if (strcmp(v[i]->plan, plan) == 0 &&
		    (v[i]->state == IS_DUE || v[i]->state == IS_OVERDUE ||
		     v[i]->state == IS_IN_PROGRESS)) {
			g_strlcpy(id, v[i]->id, INSP_ID_MAX);
			return 0;
		}
	return insp_service_run_now(c->insp, plan, plan_of(c->cfg, plan)->targets[0], by, id);
}

/* cmd/checklist {"task": id | "plan": id, "by": name, "items": [{"id", "result":
 * pass|fail|na, "note"}], "note"} */
static int cmd_checklist(struct router_req *q, void *ud)
{
	struct checklist *c = ud;
	const struct cmdreq *r = router_req_args(q);
	const json_t *doc = r->doc;
	const char *task = json_string_value(json_object_get(doc, "task"));
	const char *plan = json_string_value(json_object_get(doc, "plan"));
	const char *by = json_string_value(json_object_get(doc, "by"));
	const char *note = json_string_value(json_object_get(doc, "note"));
	const json_t *items = json_object_get(doc, "items");
	const struct insp_task *t;
	const struct cfg_plan *p;
	const struct cfg_checklist *cl;
	json_t *out, *rec, *tickets;
	char id[INSP_ID_MAX], msg[INSP_TEXT_MAX], *txt;
	size_t nfail = 0;
	int rc;

	if (!by)
		by = r->user ? r->user : "";
	if (strlen(by) >= INSP_NAME_MAX || (note && strlen(note) >= INSP_TEXT_MAX))
		return router_req_fail(q, -EINVAL, NULL, "\"by\" or \"note\" is too long");
	if (!task && !plan)
		return router_req_fail(q, -EINVAL, NULL,
				       "cmd/checklist needs \"task\" or \"plan\"");
	if (plan && !plan_of(c->cfg, plan))
		return router_req_fail(q, -ENOENT, "unknown_plan", "no plan \"%s\"", plan);
	if (task && strlen(task) >= INSP_ID_MAX)
		return router_req_fail(q, -EINVAL, NULL, "\"task\" is too long");
	p = plan_of(c->cfg, task ? "" : plan);
	if (task) {
		t = insp_service_task(c->insp, task);
		p = t ? plan_of(c->cfg, t->plan) : NULL;
		if (!t)
			return router_req_fail(q, -ENOENT, "unknown_task",
					       "no task \"%s\" that is not over", task);
	}
	cl = p ? list_of(c->cfg, p->checklist) : NULL;
	if (!cl)
		return router_req_fail(q, -EINVAL, NULL, "plan \"%s\" has no checklist",
				       p ? p->id : "?");
	if (!json_is_array(items) || json_array_size(items) == 0)
		return router_req_fail(q, -EINVAL, NULL,
				       "\"items\" is a list of {\"id\", \"result\", \"note\"}");
	/* every item of the list once, each with a result */
	out = json_array();
	for (size_t i = 0; i < json_array_size(items); i++) {
		const json_t *it = json_array_get(items, i);
		const char *iid = json_string_value(json_object_get(it, "id"));
		const char *res = json_string_value(json_object_get(it, "result"));
		const char *in = json_string_value(json_object_get(it, "note"));
		size_t k;

		for (k = 0; iid && k < cl->n_items; k++)
			if (strcmp(cl->items[k].id, iid) == 0)
				break;
		if (!iid || k == cl->n_items) {
			json_decref(out);
			return router_req_fail(q, -EINVAL, "unknown_item",
					       "checklist \"%s\" has no item \"%s\"", cl->id,
					       iid ? iid : "(no id)");
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(
				json_string_value(json_object_get(json_array_get(items, j), "id")),
				iid) == 0) {
				json_decref(out);
				return router_req_fail(q, -EINVAL, NULL,
						       "item \"%s\" is given twice", iid);
			}
		if (!res || (strcmp(res, "pass") != 0 && strcmp(res, "fail") != 0 &&
			     strcmp(res, "na") != 0)) {
			json_decref(out);
			return router_req_fail(q, -EINVAL, NULL,
					       "item \"%s\": \"result\" is pass, fail or na", iid);
		}
		if (in && strlen(in) >= INSP_TEXT_MAX) {
			json_decref(out);
			return router_req_fail(q, -EINVAL, NULL, "item \"%s\": note too long", iid);
		}
		nfail += strcmp(res, "fail") == 0;
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s}", "id", iid, "text",
						     cl->items[k].text.zh   ? cl->items[k].text.zh
						     : cl->items[k].text.en ? cl->items[k].text.en
									    : "",
						     "result", res, "note", in ? in : ""));
	}
	if (json_array_size(out) != cl->n_items) {
		for (size_t k = 0; k < cl->n_items; k++) {
			bool given = false;
			for (size_t i = 0; i < json_array_size(out); i++)
				given |= strcmp(json_string_value(
						    json_object_get(json_array_get(out, i), "id")),
						cl->items[k].id) == 0;
			if (!given) {
				json_decref(out);
				return router_req_fail(
				    q, -EINVAL, "missing_item",
				    "item \"%s\" of checklist \"%s\" has no result",
				    cl->items[k].id, cl->id);
			}
		}
	}
	rc = find_task(c, task, p->id, by, id);
	if (rc < 0) {
		json_decref(out);
		return router_req_fail(q, rc, "unknown_task", "no task of plan \"%s\" to fill in",
				       p->id);
	}
	rec = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "checklist", cl->id, "by", by, "user",
			r->user ? r->user : "", "note", note ? note : "", "items", out, "panels",
			panels_json(c->hub));
	txt = json_dumps(rec, JSON_COMPACT);
	snprintf(msg, sizeof(msg), "checklist %s: %zu item(s) failed", cl->id, nfail);
	rc = insp_service_complete(c->insp, id, nfail == 0, by, note ? note : msg, txt);
	free(txt);
	if (rc < 0) {
		json_decref(rec);
		return router_req_fail(q, rc, NULL, "task \"%s\" cannot be completed now", id);
	}
	tickets = json_array();
	for (size_t i = 0; i < json_array_size(out); i++) {
		const json_t *it = json_array_get(out, i);
		const char *iid = json_string_value(json_object_get(it, "id"));
		char tid[TICKET_ID_MAX], text[TICKET_TEXT_MAX];

		if (strcmp(json_string_value(json_object_get(it, "result")), "fail") != 0)
			continue;
		if (!insp_service_find_ticket(c->insp, "checklist", iid, tid)) {
			snprintf(text, sizeof(text), "%s: %s",
				 json_string_value(json_object_get(it, "text")),
				 json_string_value(json_object_get(it, "note")));
			if (insp_service_open_ticket(c->insp, "checklist", iid, id, text, by, tid) <
			    0)
				continue;
		}
		json_array_append_new(tickets, json_string(tid));
	}
	json_decref(rec);
	log_info("task %s: checklist %s filled in by %s, %zu item(s) failed", id, cl->id, by,
		 nfail);
	router_req_record(q, "task", id);
	router_req_reply(q, "result", json_string(nfail ? "failed" : "passed"));
	router_req_reply(q, "tickets", tickets);
	return 0;
}

int checklist_create(const struct hw_config *cfg, struct insp_service *insp, struct hub *hub,
		     struct router *r, struct checklist **out)
{
	struct checklist *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->cfg = cfg;
	c->insp = insp;
	c->hub = hub;
	rc = router_add(r, "checklist", ROUTER_OPERATOR, ROUTER_INSPECTOR_TOO, cmd_checklist, c);
	if (rc < 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void checklist_destroy(struct checklist *c)
{
	free(c);
}

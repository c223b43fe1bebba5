/* The command router: owns the verb table, the requests in flight, the audit limiter and
 * the replies of cmd/<verb>. Runs on the main loop thread (MQTT hands commands over there,
 * and handlers finish there). */
#define LOG_TAG "router"
#include "router/router.h"

#include <errno.h>
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Audit records of requests that changed nothing (refused, or read-only): at most this
 * many per verb and user a minute, the rest counted (docs/commands.md). */
#define AUDIT_PER_MINUTE 10
#define AUDIT_WINDOW_MS 60000
#define AUDIT_KEYS 64
#define EXPIRE_EVERY_S 1

struct verb {
	char *name;
	enum router_role role;
	unsigned flags;
	router_handler_fn fn;
	void *ud;
};

struct router_req {
	struct router *r;  /* NULL once the router is gone */
	struct mqtt_cmd c; /* a copy: a pending request outlives the MQTT callback */
	struct cmdreq a;
	const struct verb *v;
	int64_t now;
	json_t *reply;	/* members for the reply only */
	json_t *record; /* members for the reply and the audit record */
	char *code;	/* the refusal's code, NULL: router_error_code */
	char *message;
	router_call_fn call_fn; /* an in-process caller (router_call): its reply goes here */
	void *call_ud;
	enum router_role call_role;
	bool pending;  /* its handler returned ROUTER_PENDING */
	bool answered; /* replied and recorded (by router_destroy: "cancelled") */
};

struct router {
	const struct hw_config *cfg;
	struct mqtt *mqtt;
	GPtrArray *verbs;   /* struct verb *, sorted by name */
	GPtrArray *pending; /* struct router_req * */
	struct cmdreq_limiter *limiter;
	router_audit_fn audit;
	void *audit_ud;
	router_reply_fn reply_fn;
	void *reply_ud;
	guint timer;
	struct router_stats st;
};

static int64_t wall_ms(void)
{
	return g_get_real_time() / 1000;
}

const char *router_role_name(enum router_role role)
{
	switch (role) {
	case ROUTER_OPERATOR:
		return "operator";
	case ROUTER_INSPECTOR:
		return "inspector";
	case ROUTER_ADMIN:
		return "admin";
	default:
		return "viewer";
	}
}

const char *router_error_code(int rc)
{
	switch (rc) {
	case -ENOENT:
		return "unknown_alert";
	case -EALREADY:
		return "no_change";
	case -EPERM:
		return "not_allowed";
	case -EINVAL:
		return "invalid";
	case -EACCES:
		return "not_authorized";
	case -ENOTSUP:
		return "not_supported";
	case -EAGAIN:
		return "not_ready";
	case -EMSGSIZE:
		return "too_large";
	case -ERANGE:
		return "out_of_range";
	case -EDESTADDRREQ:
		return "bad_reply_topic";
	case -ECANCELED:
		return "cancelled";
	case -ETIMEDOUT:
		return "timeout";
	case -EBUSY:
		return "busy";
	default:
		return "failed";
	}
}

/* The sentence of a code when the one who refused gave none. */
static char *default_message(int rc)
{
	switch (rc) {
	case -ENOENT:
		return g_strdup("no such alert");
	case -EALREADY:
		return g_strdup("nothing to change");
	case -EPERM:
		return g_strdup("not allowed");
	case -EINVAL:
		return g_strdup("the request is not valid");
	case -ENOTSUP:
		return g_strdup("not supported by this gateway");
	case -EAGAIN:
		return g_strdup("not ready yet: try again");
	case -ERANGE:
		return g_strdup("a value is out of range");
	case -ECANCELED:
		return g_strdup("the gateway stopped or reloaded before the command finished");
	case -ETIMEDOUT:
		return g_strdup("not done in time");
	case -EBUSY:
		return g_strdup("too many of these are running: try again");
	default:
		return g_strdup_printf("the command failed: %s", strerror(-rc));
	}
}

/* ---- the table ---- */

static void verb_free(gpointer p)
{
	struct verb *v = p;

	g_free(v->name);
	g_free(v);
}

static gint verb_cmp(gconstpointer a, gconstpointer b)
{
	const struct verb *x = *(struct verb *const *)a, *y = *(struct verb *const *)b;

	return strcmp(x->name, y->name);
}

static const struct verb *find_verb(const struct router *r, const char *name)
{
	for (guint i = 0; name && i < r->verbs->len; i++) {
		const struct verb *v = r->verbs->pdata[i];
		if (strcmp(v->name, name) == 0)
			return v;
	}
	return NULL;
}

static bool verb_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > CMDREQ_VERB_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!g_ascii_islower(name[i]) && !g_ascii_isdigit(name[i]) && name[i] != '_' &&
		    name[i] != '-')
			return false;
	return true;
}

int router_add(struct router *r, const char *verb, enum router_role role, unsigned flags,
	       router_handler_fn fn, void *ud)
{
	struct verb *v;

	if (!fn || !verb_name_ok(verb) || role < ROUTER_VIEWER || role > ROUTER_ADMIN)
		return -EINVAL;
	if (find_verb(r, verb))
		return -EEXIST;
	v = g_new0(struct verb, 1);
	v->name = g_strdup(verb);
	v->role = role;
	v->flags = flags;
	v->fn = fn;
	v->ud = ud;
	g_ptr_array_add(r->verbs, v);
	g_ptr_array_sort(r->verbs, verb_cmp);
	return 0;
}

static char *known_verbs(const struct router *r)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < r->verbs->len; i++)
		g_string_append_printf(s, "%s%s", i ? ", " : "",
				       ((const struct verb *)r->verbs->pdata[i])->name);
	if (s->len == 0)
		g_string_append(s, "none");
	return g_string_free(s, FALSE);
}

/* ---- authorisation ---- */

static bool is_operator(const struct router *r, const char *user)
{
	if (!user || !*user)
		return false;
	for (size_t i = 0; i < r->cfg->alerts.n_operators; i++)
		if (strcmp(r->cfg->alerts.operators[i], user) == 0)
			return true;
	return false;
}

/* 0 when q's user may send its verb, else -EACCES with the reason. */
static int authorise(struct router_req *q)
{
	const struct verb *v = q->v;
	const char *u = q->a.user;

	if (q->call_fn) { /* the console: its account's role */
		if (v->role == ROUTER_VIEWER || q->call_role == v->role ||
		    q->call_role == ROUTER_ADMIN ||
		    (q->call_role == ROUTER_INSPECTOR && (v->flags & ROUTER_INSPECTOR_TOO)))
			return 0;
		return router_req_fail(q, -EACCES, NULL,
				       "\"%s\" is a console %s, and %s needs an %s or an admin",
				       u ? u : "(nobody)", router_role_name(q->call_role), v->name,
				       router_role_name(v->role));
	}
	if (v->role == ROUTER_VIEWER || is_operator(q->r, u))
		return 0;
	if (u && *u)
		return router_req_fail(q, -EACCES, NULL, "\"%s\" is not in alerts.operators", u);
	if (q->c.protocol == 5)
		return router_req_fail(
		    q, -EACCES, NULL,
		    "the request carries no MQTT v5 user property \"user\", and cmd/%s needs an "
		    "operator (alerts.operators)%s",
		    v->name,
		    q->a.payload_user ? "; a \"user\" in the payload is no identity on an MQTT v5 "
					"session"
				      : "");
	return router_req_fail(q, -EACCES, NULL,
			       "the request names no \"user\", and cmd/%s needs an operator "
			       "(alerts.operators)",
			       v->name);
}

/* ---- requests ---- */

static void req_free(struct router_req *q)
{
	cmdreq_clear(&q->a);
	g_free((char *)q->c.verb);
	g_free((char *)q->c.topic);
	g_free((char *)q->c.response_topic);
	g_free((void *)q->c.corr);
	g_free((char *)q->c.user);
	json_decref(q->reply);
	json_decref(q->record);
	g_free(q->code);
	g_free(q->message);
	g_free(q);
}

const struct cmdreq *router_req_args(const struct router_req *q)
{
	return &q->a;
}

int64_t router_req_now(const struct router_req *q)
{
	return q->now;
}

bool router_req_live(const struct router_req *q)
{
	return q->r != NULL;
}

void router_req_reply(struct router_req *q, const char *key, json_t *v)
{
	json_object_set_new(q->reply, key, v);
}

void router_req_record(struct router_req *q, const char *key, const char *v)
{
	if (v)
		json_object_set_new(q->record, key, json_string(v));
}

/* A sentence is text whatever it quotes: what is not UTF-8 is replaced. */
static void set_message_v(struct router_req *q, const char *fmt, va_list ap)
{
	g_free(q->message);
	q->message = fmt ? g_strdup_vprintf(fmt, ap) : NULL;
	if (q->message && !g_utf8_validate(q->message, -1, NULL)) {
		char *m = g_utf8_make_valid(q->message, -1);
		g_free(q->message);
		q->message = m;
	}
}

void router_req_message(struct router_req *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_message_v(q, fmt, ap);
	va_end(ap);
}

int router_req_fail(struct router_req *q, int rc, const char *code, const char *fmt, ...)
{
	va_list ap;

	g_free(q->code);
	q->code = g_strdup(code);
	va_start(ap, fmt);
	set_message_v(q, fmt, ap);
	va_end(ap);
	return rc;
}

static const char *code_of(const struct router_req *q, int rc)
{
	return q->code ? q->code : router_error_code(rc);
}

/* Sets o[key] = v when v is given. */
static void set_opt(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

/* What a command's record and its reply both echo of the request. */
static void set_request(json_t *o, const struct router_req *q)
{
	set_opt(o, "device", q->a.device);
	set_opt(o, "command", q->a.command);
	set_opt(o, "request_id", q->a.request_id);
	set_opt(o, "camera", q->a.camera);
}

/* The summary of the audit records a window did not keep: one record and one log line. */
static void on_summary(const char *verb, const char *user, uint64_t dropped, int64_t since,
		       void *ud)
{
	struct router *r = ud;
	int64_t now = wall_ms();

	if (r->audit) {
		json_t *ev = json_pack("{s:s, s:s, s:I, s:I, s:b}", "event", "commands_unrecorded",
				       "verb", verb, "count", (json_int_t)dropped, "since",
				       (json_int_t)since, "notify", false);
		json_object_set_new(ev, "by", user ? json_string(user) : json_null());
		r->audit(ev, r->audit_ud);
	}
	log_warn("%" G_GUINT64_FORMAT " more request(s) cmd/%s from %s refused or read-only "
		 "since %" G_GINT64_FORMAT " ms ago: counted, not recorded one by one",
		 dropped, verb, user ? user : "(nobody)", now - since);
}

/* The audit record of a request: a record (unless the limiter keeps it out) and a log
 * line with it. */
static void audit(struct router *r, struct router_req *q, int rc)
{
	const struct cmdreq *a = &q->a;
	const char *verb = a->verb ? a->verb : "(too long)";
	const char *id = a->id ? a->id : "-", *who = a->user ? a->user : "(nobody)";
	bool changed = rc == 0 && q->v && !(q->v->flags & ROUTER_READ_ONLY);
	enum cmdreq_admit adm = CMDREQ_RECORD;
	json_t *ev;

	/* What changed something is always recorded; the rest within the limiter's bound. */
	if (!changed)
		adm = cmdreq_limiter_admit(r->limiter, verb, a->user, q->now);
	if (adm == CMDREQ_FIRST_DROP)
		log_warn("more than %d requests cmd/%s from %s refused or read-only within a "
			 "minute: counting the rest, recording them in one event",
			 AUDIT_PER_MINUTE, verb, who);
	if (adm != CMDREQ_RECORD)
		return;
	if (r->audit) {
		ev =
		    json_pack("{s:s, s:s, s:b}", "event", "command", "verb", verb, "notify", false);
		json_object_set_new(ev, "id", a->id ? json_string(a->id) : json_null());
		json_object_set_new(ev, "by", a->user ? json_string(a->user) : json_null());
		json_object_set_new(ev, "result", json_string(rc < 0 ? "refused" : "accepted"));
		if (rc < 0) {
			json_object_set_new(ev, "error", json_string(code_of(q, rc)));
			set_opt(ev, "message", q->message);
		}
		if (rc == -EMSGSIZE && a->too_large) {
			json_object_set_new(ev, "too_large", json_string(a->too_large));
			json_object_set_new(ev, "size", json_integer((json_int_t)a->too_large_len));
		}
		if (rc == -EDESTADDRREQ && strlen(q->c.response_topic) <= MQTT_REPLY_TOPIC_MAX)
			set_opt(ev, "response_topic", q->c.response_topic);
		set_opt(ev, "reason", a->reason);
		set_request(ev, q);
		json_object_update(ev, q->record);
		r->audit(ev, r->audit_ud);
	}
	if (rc == -EDESTADDRREQ)
		log_warn("command %s on %s from %s refused: its response topic %.256s%s is outside "
			 "the reply prefix %s",
			 verb, id, who, q->c.response_topic,
			 strlen(q->c.response_topic) > 256 ? "..." : "",
			 r->mqtt ? mqtt_reply_prefix(r->mqtt) : "(none)");
	else if (rc == -EMSGSIZE)
		log_warn("command %s from %s refused: %s of %zu bytes is too large", verb, who,
			 a->too_large, a->too_large_len);
	else if (rc < 0)
		log_warn("command %s on %s from %s refused: %s: %s", verb, id, who, code_of(q, rc),
			 q->message ? q->message : "");
	else
		log_info("command %s on %s by %s%s%s", verb, id, who, q->message ? ": " : "",
			 q->message ? q->message : "");
}

static void reply(struct router *r, struct router_req *q, int rc)
{
	const struct cmdreq *a = &q->a;
	json_t *o;
	char *txt;
	int e;

	if (rc == -EDESTADDRREQ)
		return; /* nothing is published outside the reply prefix */
	o = json_pack("{s:b, s:s?}", "ok", rc == 0, "verb", a->verb);
	set_opt(o, "id", a->id);
	set_request(o, q);
	json_object_update(o, q->record);
	if (rc < 0)
		json_object_set_new(o, "error", json_string(code_of(q, rc)));
	set_opt(o, "message", q->message);
	if (rc == -EMSGSIZE && a->too_large)
		json_object_set_new(o, "too_large", json_string(a->too_large));
	if (rc == 0)
		json_object_update(o, q->reply);
	txt = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!txt)
		return;
	if (q->call_fn) {
		q->call_fn(txt, q->call_ud);
	} else if (r->reply_fn) {
		r->reply_fn(&q->c, txt, r->reply_ud);
	} else if (r->mqtt) {
		e = mqtt_reply(r->mqtt, &q->c, a->request_id, txt, strlen(txt));
		if (e < 0 && e != -ENOENT)
			log_debug("reply to %s: %s", q->c.verb, strerror(-e));
	}
	free(txt);
}

/* Answers q: the audit record, then the reply (a reply follows what it reports). */
static void answer(struct router *r, struct router_req *q, int rc)
{
	if (rc > 0)
		rc = 0;
	if (rc < 0 && !q->message)
		q->message = default_message(rc);
	if (rc < 0)
		r->st.refused++;
	audit(r, q, rc);
	reply(r, q, rc);
	q->answered = true;
}

/* A copy of c that a pending request keeps. */
static void copy_cmd(struct mqtt_cmd *dst, const struct mqtt_cmd *c)
{
	*dst = *c;
	dst->verb = g_strdup(c->verb);
	dst->topic = g_strdup(c->topic);
	dst->payload = NULL;
	dst->len = 0;
	dst->response_topic = g_strdup(c->response_topic);
	dst->corr = c->corr ? g_memdup2(c->corr, c->corr_len) : NULL;
	dst->user = g_strdup(c->user);
}

/* The refusal of a request that could not be read. */
static int unreadable(struct router_req *q, int rc)
{
	const struct cmdreq *a = &q->a;

	if (rc == -EMSGSIZE && a->too_large)
		return router_req_fail(q, rc, NULL, "%s%s%s of %zu bytes is above its bound of %zu",
				       strcmp(a->too_large, "payload") == 0 ? "the " : "\"",
				       a->too_large,
				       strcmp(a->too_large, "payload") == 0 ? "" : "\"",
				       a->too_large_len, a->too_large_max);
	if (a->error[0])
		return router_req_fail(q, -EINVAL, NULL, "%s", a->error);
	if (a->bad_type)
		return router_req_fail(q, -EINVAL, NULL, "\"%s\" must be a string", a->bad_type);
	return router_req_fail(q, rc, NULL, "the request cannot be read");
}

static void dispatch(struct router *r, struct router_req *q, const struct mqtt_cmd *c);

void router_dispatch(struct router *r, const struct mqtt_cmd *c)
{
	dispatch(r, g_new0(struct router_req, 1), c);
}

int router_call(struct router *r, const char *verb, const json_t *args, const char *user,
		enum router_role role, router_call_fn fn, void *ud)
{
	struct router_req *q;
	json_t *o;
	char *payload;

	if (!r || !verb || !user || !fn || (args && !json_is_object(args)))
		return -EINVAL;
	o = args ? json_deep_copy(args) : json_object();
	json_object_set_new(o, "user", json_string(user));
	payload = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!payload)
		return -EINVAL;
	q = g_new0(struct router_req, 1);
	q->call_fn = fn;
	q->call_ud = ud;
	q->call_role = role;
	/* Read as a 3.1.1 request: the identity is the payload's "user", set here. */
	dispatch(r, q,
		 &(struct mqtt_cmd){.verb = verb,
				    .topic = verb,
				    .payload = payload,
				    .len = strlen(payload),
				    .response_topic = NULL,
				    .protocol = 4});
	free(payload);
	return 0;
}

static void dispatch(struct router *r, struct router_req *q, const struct mqtt_cmd *c)
{
	int rc;

	q->r = r;
	q->now = wall_ms();
	q->reply = json_object();
	q->record = json_object();
	if (q->call_fn)
		json_object_set_new(q->record, "via", json_string("http"));
	copy_cmd(&q->c, c);
	r->st.commands++;
	cmdreq_limiter_expire(r->limiter, q->now, on_summary, r);
	rc = cmdreq_parse(q->c.verb, c->payload, c->len, q->c.user, c->protocol, &q->a);
	if (rc < 0)
		rc = unreadable(q, rc);
	/* A request is not obeyed unless its answer can go where it asks. */
	if (!q->call_fn && !r->reply_fn && r->mqtt && mqtt_reply_check(r->mqtt, c) < 0)
		rc = router_req_fail(q, -EDESTADDRREQ, NULL,
				     "the response topic is outside the reply prefix %s",
				     mqtt_reply_prefix(r->mqtt));
	if (rc == 0 && !(q->v = find_verb(r, q->a.verb))) {
		char *known = known_verbs(r);
		rc = router_req_fail(q, -ENOENT, "unknown_verb", "no command \"%s\"; known: %s",
				     q->a.verb, known);
		g_free(known);
	}
	if (rc == 0)
		rc = authorise(q);
	if (rc == 0) {
		rc = q->v->fn(q, q->v->ud);
		if (rc == ROUTER_PENDING) {
			q->pending = true;
			g_ptr_array_add(r->pending, q);
			r->st.pending++;
			return;
		}
	}
	answer(r, q, rc);
	req_free(q);
}

void router_done(struct router_req *q, int rc, const char *message)
{
	struct router *r = q->r;

	g_return_if_fail(q->pending);
	if (message)
		router_req_message(q, "%s", message);
	if (r && !q->answered) {
		g_ptr_array_remove_fast(r->pending, q);
		r->st.pending--;
		answer(r, q, rc);
	}
	req_free(q);
}

/* ---- lifecycle ---- */

static void on_mqtt_cmd(struct mqtt *m, const struct mqtt_cmd *c, void *ud)
{
	(void)m;
	router_dispatch(ud, c);
}

static gboolean on_timer(gpointer ud)
{
	struct router *r = ud;

	cmdreq_limiter_expire(r->limiter, wall_ms(), on_summary, r);
	return G_SOURCE_CONTINUE;
}

int router_create(const struct hw_config *cfg, struct mqtt *m, struct router **out)
{
	struct router *r = g_new0(struct router, 1);
	int rc;

	rc = cmdreq_limiter_create(AUDIT_PER_MINUTE, AUDIT_WINDOW_MS, AUDIT_KEYS, &r->limiter);
	if (rc < 0) {
		g_free(r);
		return rc;
	}
	r->cfg = cfg;
	r->mqtt = m;
	r->verbs = g_ptr_array_new_with_free_func(verb_free);
	r->pending = g_ptr_array_new();
	r->timer = g_timeout_add_seconds(EXPIRE_EVERY_S, on_timer, r);
	if (m)
		mqtt_set_command_handler(m, on_mqtt_cmd, r);
	*out = r;
	return 0;
}

void router_destroy(struct router *r)
{
	if (!r)
		return;
	if (r->mqtt)
		mqtt_set_command_handler(r->mqtt, NULL, NULL);
	/* Requests still pending are answered now; their owners' router_done frees them. */
	for (guint i = 0; i < r->pending->len; i++) {
		struct router_req *q = r->pending->pdata[i];
		router_req_message(q, "%s",
				   "the gateway stopped or reloaded before the command "
				   "finished");
		answer(r, q, -ECANCELED);
		q->r = NULL;
	}
	g_ptr_array_free(r->pending, TRUE);
	/* requests counted and not yet summarised get their summary now */
	cmdreq_limiter_expire(r->limiter, wall_ms() + AUDIT_WINDOW_MS, on_summary, r);
	if (r->timer)
		g_source_remove(r->timer);
	g_ptr_array_free(r->verbs, TRUE);
	cmdreq_limiter_destroy(r->limiter);
	g_free(r);
}

void router_set_audit(struct router *r, router_audit_fn fn, void *ud)
{
	r->audit = fn;
	r->audit_ud = ud;
}

void router_set_reply_sink(struct router *r, router_reply_fn fn, void *ud)
{
	r->reply_fn = fn;
	r->reply_ud = ud;
}

void router_get_stats(const struct router *r, struct router_stats *out)
{
	*out = r->st;
}

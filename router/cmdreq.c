/* The pure half of the command path: request parsing with bounds, types and the identity
 * rule, and the audit limiter. No I/O, no globals; main loop thread (the router), or any
 * thread for a caller of its own. */
#include "router/cmdreq.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets *dst to o[key] when it is a string within max bytes; else notes the first part
 * that is too large, or the first that is not a string (null counts as absent). */
static void field(struct cmdreq *r, const char *key, size_t max, const char **dst)
{
	const json_t *v = json_object_get(r->doc, key);
	size_t n;

	*dst = NULL;
	if (!v || json_is_null(v))
		return;
	if (!json_is_string(v)) {
		if (!r->bad_type)
			r->bad_type = key;
		return;
	}
	n = json_string_length(v);
	if (n > max) {
		if (!r->too_large) {
			r->too_large = key;
			r->too_large_len = n;
			r->too_large_max = max;
		}
		return;
	}
	*dst = json_string_value(v);
}

/* Replaces every byte that is not part of valid UTF-8 with '?': a JSON parser's error
 * quotes the input, which need not be text, and the sentence goes into JSON. */
static void make_utf8(char *s)
{
	const char *end;

	while (!g_utf8_validate(s, -1, &end))
		*(char *)end = '?';
}

static const char *json_kind(const json_t *v)
{
	if (json_is_array(v))
		return "an array";
	if (json_is_string(v))
		return "a string";
	if (json_is_number(v))
		return "a number";
	return "a literal";
}

int cmdreq_parse(const char *verb, const char *payload, size_t len, const char *prop_user,
		 int protocol, struct cmdreq *out)
{
	json_error_t jerr;
	const char *puser = NULL;
	bool bad = false;

	memset(out, 0, sizeof(*out));
	if (verb && strlen(verb) <= CMDREQ_VERB_MAX) {
		out->verb = verb;
	} else {
		out->too_large = "verb";
		out->too_large_len = verb ? strlen(verb) : 0;
		out->too_large_max = CMDREQ_VERB_MAX;
	}
	if (len > CMDREQ_PAYLOAD_MAX) {
		if (!out->too_large) {
			out->too_large = "payload";
			out->too_large_len = len;
			out->too_large_max = CMDREQ_PAYLOAD_MAX;
		}
		out->doc = json_object();
	} else if (len == 0) {
		out->doc = json_object();
	} else {
		out->doc = json_loadb(payload, len, 0, &jerr);
		if (!out->doc)
			snprintf(out->error, sizeof(out->error),
				 "the payload is not JSON (line %d, column %d: %s)", jerr.line,
				 jerr.column, jerr.text);
		else if (!json_is_object(out->doc))
			snprintf(out->error, sizeof(out->error),
				 "the payload is %s, not a JSON object", json_kind(out->doc));
	}
	make_utf8(out->error);
	if (!json_is_object(out->doc)) {
		/* not a JSON object: refused, but the identity below is still read */
		json_decref(out->doc);
		out->doc = json_object();
		bad = true;
	}
	/* an integer id (an inspection record's) is read as its decimal text */
	if (json_is_integer(json_object_get(out->doc, "id"))) {
		snprintf(out->id_num, sizeof(out->id_num), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(out->doc, "id")));
		out->id = out->id_num;
	} else {
		field(out, "id", CMDREQ_ID_MAX, &out->id);
	}
	field(out, "reason", CMDREQ_REASON_MAX, &out->reason);
	field(out, "request_id", CMDREQ_FIELD_MAX, &out->request_id);
	field(out, "device", CMDREQ_FIELD_MAX, &out->device);
	field(out, "command", CMDREQ_FIELD_MAX, &out->command);
	field(out, "camera", CMDREQ_FIELD_MAX, &out->camera);
	out->payload_user = json_object_get(out->doc, "user") != NULL;
	if (protocol == 5) {
		/* the payload's "user" is no identity here, whatever its type */
		if (prop_user && !g_utf8_validate(prop_user, -1, NULL)) {
			if (!out->error[0])
				snprintf(out->error, sizeof(out->error),
					 "the user property is not UTF-8");
			bad = true;
		} else if (prop_user && strlen(prop_user) <= CMDREQ_USER_MAX) {
			out->user = prop_user;
		} else if (prop_user && !out->too_large) {
			out->too_large = "user";
			out->too_large_len = strlen(prop_user);
			out->too_large_max = CMDREQ_USER_MAX;
		}
	} else {
		field(out, "user", CMDREQ_USER_MAX, &puser);
		out->user = puser;
	}
	out->for_v = json_object_get(out->doc, "for");
	return out->too_large ? -EMSGSIZE : bad || out->bad_type ? -EINVAL : 0;
}

void cmdreq_clear(struct cmdreq *r)
{
	json_decref(r->doc);
	memset(r, 0, sizeof(*r));
}

bool cmdreq_request_id_ok(const char *rid)
{
	size_t n = rid ? strlen(rid) : 0;

	if (n == 0 || n > CMDREQ_FIELD_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!g_ascii_isalnum(rid[i]) && rid[i] != '_' && rid[i] != '-')
			return false;
	return true;
}

/* ---- the audit limiter ---- */

struct window {
	char *verb;
	char *user; /* NULL: nobody */
	int64_t since;
	int recorded;
	uint64_t dropped;
};

struct cmdreq_limiter {
	int per_window;
	int64_t window_ms;
	int max_keys;
	GHashTable *w;	     /* "verb\x1fuser" -> struct window * */
	struct window *rest; /* the pairs beyond max_keys, or NULL */
};

static void window_free(gpointer p)
{
	struct window *x = p;

	if (!x)
		return;
	g_free(x->verb);
	g_free(x->user);
	g_free(x);
}

static struct window *window_new(const char *verb, const char *user, int64_t now)
{
	struct window *x = g_new0(struct window, 1);

	x->verb = g_strdup(verb);
	x->user = g_strdup(user);
	x->since = now;
	return x;
}

int cmdreq_limiter_create(int per_window, int64_t window_ms, int max_keys,
			  struct cmdreq_limiter **out)
{
	struct cmdreq_limiter *l;

	if (per_window < 0 || window_ms <= 0 || max_keys < 1)
		return -EINVAL;
	l = g_new0(struct cmdreq_limiter, 1);
	l->per_window = per_window;
	l->window_ms = window_ms;
	l->max_keys = max_keys;
	l->w = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, window_free);
	*out = l;
	return 0;
}

void cmdreq_limiter_destroy(struct cmdreq_limiter *l)
{
	if (!l)
		return;
	g_hash_table_destroy(l->w);
	window_free(l->rest);
	g_free(l);
}

enum cmdreq_admit cmdreq_limiter_admit(struct cmdreq_limiter *l, const char *verb, const char *user,
				       int64_t now_ms)
{
	/* \x1e stands for nobody: no user name of a request holds a control character
	 * that could make two pairs one key, and if one did it would only share a count */
	char *key = g_strdup_printf("%s\x1f%s", verb ? verb : "", user ? user : "\x1e");
	struct window *x = g_hash_table_lookup(l->w, key);

	if (!x && g_hash_table_size(l->w) < (guint)l->max_keys) {
		x = window_new(verb, user, now_ms);
		g_hash_table_insert(l->w, key, x);
		key = NULL;
	} else if (!x) {
		if (!l->rest)
			l->rest = window_new("*", "*", now_ms);
		x = l->rest;
	}
	g_free(key);
	if (x->recorded < l->per_window) {
		x->recorded++;
		return CMDREQ_RECORD;
	}
	return x->dropped++ == 0 ? CMDREQ_FIRST_DROP : CMDREQ_DROP;
}

void cmdreq_limiter_expire(struct cmdreq_limiter *l, int64_t now_ms, cmdreq_summary_fn fn, void *ud)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, l->w);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct window *x = v;
		if (now_ms - x->since < l->window_ms)
			continue;
		if (x->dropped && fn)
			fn(x->verb, x->user, x->dropped, x->since, ud);
		g_hash_table_iter_remove(&it);
	}
	if (l->rest && now_ms - l->rest->since >= l->window_ms) {
		if (l->rest->dropped && fn)
			fn(l->rest->verb, l->rest->user, l->rest->dropped, l->rest->since, ud);
		window_free(l->rest);
		l->rest = NULL;
	}
}

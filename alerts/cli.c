/* hallwatch alerts [--history] | ack | shelve | unshelve: one cmd/<verb> request through
 * router/cmdclient.c and its reply printed as a table or a line. Single-threaded (the CLI's
 * main thread). */
#include "alerts/cli.h"

#include <errno.h>
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeparse.h"
#include "router/cmdclient.h"

static void print_age(int64_t ms)
{
	int64_t s = ms / 1000;

	if (s < 120)
		printf("%6llds", (long long)s);
	else if (s < 7200)
		printf("%6lldm", (long long)(s / 60));
	else if (s < 172800)
		printf("%6lldh", (long long)(s / 3600));
	else
		printf("%6lldd", (long long)(s / 86400));
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void print_list(const json_t *arr)
{
	int64_t now = g_get_real_time() / 1000;
	size_t i;
	json_t *a;

	printf("%-40s %-3s %-15s %7s  %s\n", "ID", "PRI", "STATE", "AGE", "TEXT");
	json_array_foreach(arr, i, a)
	{
		printf("%-40s P%-2lld %-15s ", str(a, "id"),
		       (long long)json_integer_value(json_object_get(a, "priority")),
		       str(a, "state"));
		print_age(now - json_integer_value(json_object_get(a, "raised")));
		/* The sentence in the site's language; the bare condition for older gateways. */
		printf("  %s%s\n", *str(a, "message") ? str(a, "message") : str(a, "text"),
		       json_is_true(json_object_get(a, "active")) ? "" : " (cleared)");
	}
	printf("%zu alert(s)\n", json_array_size(arr));
}

/* The event log, oldest first: time in the site's zone, event, alert or verb, who, detail. */
static void print_history(const json_t *arr, const char *tz)
{
	size_t i;
	json_t *e;
	char t[48];

	printf("%-25s %-10s %-40s %-12s %s\n", "TIME", "EVENT", "ALERT / COMMAND", "BY", "DETAIL");
	json_array_foreach(arr, i, e)
	{
		const char *ev = str(e, "event");
		GString *detail = g_string_new(NULL);
		char what[200];

		if (json_object_get(e, "verb")) {
			snprintf(what, sizeof(what), "cmd/%s %s%s%s%s", str(e, "verb"),
				 str(e, "id"), str(e, "device"), *str(e, "command") ? " " : "",
				 str(e, "command"));
			if (*str(e, "camera"))
				snprintf(what, sizeof(what), "cmd/%s %s", str(e, "verb"),
					 str(e, "camera"));
			g_string_append(detail, str(e, "result"));
			if (*str(e, "message"))
				g_string_append_printf(detail, ": %s", str(e, "message"));
		} else {
			snprintf(what, sizeof(what), "%s", str(e, "id"));
			if (json_object_get(e, "priority"))
				g_string_append_printf(
				    detail, "P%lld %s",
				    (long long)json_integer_value(json_object_get(e, "priority")),
				    str(e, "state"));
			if (*str(e, "message"))
				g_string_append_printf(detail, "  %s", str(e, "message"));
			else if (*str(e, "text"))
				g_string_append_printf(detail, "  %s", str(e, "text"));
			if (*str(e, "reason"))
				g_string_append_printf(detail, " (%s)", str(e, "reason"));
			if (json_object_get(e, "count"))
				g_string_append_printf(
				    detail, "%lld",
				    (long long)json_integer_value(json_object_get(e, "count")));
		}
		printf(
		    "%-25s %-10s %-40s %-12s %s\n",
		    timeparse_format(json_integer_value(json_object_get(e, "t")), tz, t, sizeof(t)),
		    ev, what, *str(e, "by") ? str(e, "by") : "-", detail->str);
		g_string_free(detail, TRUE);
	}
	printf("%zu event(s)\n", json_array_size(arr));
}

int alert_cli_run(const struct hw_config *cfg, const struct alert_cli_args *a)
{
	const char *verb = strcmp(a->verb, "alerts") != 0 ? a->verb
			   : a->history			  ? "history"
							  : "list";
	json_t *body = json_object(), *reply = NULL;
	char err[512];
	int rc;

	if (a->id)
		json_object_set_new(body, "id", json_string(a->id));
	if (a->dur)
		json_object_set_new(body, "for", json_string(a->dur));
	if (a->reason)
		json_object_set_new(body, "reason", json_string(a->reason));
	if (a->from_ms)
		json_object_set_new(body, "from", json_integer(a->from_ms / 1000));
	if (a->to_ms)
		json_object_set_new(body, "to", json_integer((a->to_ms + 999) / 1000));
	if (a->limit)
		json_object_set_new(body, "limit", json_integer(a->limit));
	rc = cmdclient_request(cfg, verb, body, a->user, cfg->alerts.reply_timeout_ms, &reply, err,
			       sizeof(err));
	json_decref(body);
	if (rc < 0) {
		fprintf(stderr, "hallwatch: %s\n", err);
		return 1;
	}
	if (!cmdclient_ok(reply, err, sizeof(err))) {
		fprintf(stderr, "hallwatch: %s refused: %s\n", a->verb, err);
		rc = 1;
	} else if (strcmp(verb, "list") == 0) {
		print_list(json_object_get(reply, "alerts"));
	} else if (strcmp(verb, "history") == 0) {
		print_history(json_object_get(reply, "events"), a->tz);
	} else {
		const json_t *al = json_object_get(reply, "alert");
		printf("%s %s: %s\n", a->verb, a->id, al ? str(al, "state") : "closed");
	}
	json_decref(reply);
	return rc;
}

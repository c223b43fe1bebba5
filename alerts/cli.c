/* hallwatch alerts | ack | shelve | unshelve: one MQTT v5 request to cmd/<verb> with
 * a response topic and correlation data, then the correlated reply, with a bound.
 * Owns its own short-lived libmosquitto client; single-threaded. */
#include "alerts/cli.h"

#include <errno.h>
#include <glib.h>
#include <jansson.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"

struct req {
	char corr[33];
	char *reply;
	bool subscribed;
	bool connected;
	int connack;
};

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags,
		       const mosquitto_property *p)
{
	struct req *r = ud;
	r->connack = rc;
	r->connected = rc == 0;
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted,
			 const mosquitto_property *p)
{
	((struct req *)ud)->subscribed = true;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct req *r = ud;
	void *corr = NULL;
	uint16_t len = 0;

	if (!mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &len, false))
		return;
	if (len == strlen(r->corr) && memcmp(corr, r->corr, len) == 0 && !r->reply)
		r->reply = g_strndup(msg->payload, (gsize)msg->payloadlen);
	free(corr);
}

static int64_t mono_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* Runs the libmosquitto loop until *flag or the deadline. */
static bool wait_for(struct mosquitto *m, const bool *flag, char *const *str, int64_t until)
{
	while (!(flag && *flag) && !(str && *str)) {
		if (mono_ms() >= until)
			return false;
		if (mosquitto_loop(m, 50, 1) != MOSQ_ERR_SUCCESS)
			return false;
	}
	return true;
}

static int request(const struct hw_config *cfg, const char *verb, json_t *body, const char *user,
		   json_t **out)
{
	struct req r = {0};
	struct mosquitto *m;
	mosquitto_property *props = NULL;
	char *topic = NULL, *resp = NULL, *payload = NULL, cid[64];
	const char *mu = getenv("HALLWATCH_MQTT_USERNAME"), *mp = getenv("HALLWATCH_MQTT_PASSWORD");
	int64_t until = mono_ms() + cfg->alerts.reply_timeout_ms;
	int rc = -EIO;
	GRand *rnd = g_rand_new();

	for (int i = 0; i < 32; i++)
		r.corr[i] = "0123456789abcdef"[g_rand_int_range(rnd, 0, 16)];
	g_rand_free(rnd);
	snprintf(cid, sizeof(cid), "hallwatch-cli-%d-%.8s", (int)getpid(), r.corr);
	mosquitto_lib_init();
	m = mosquitto_new(cid, true, &r);
	if (!m)
		goto out_lib;
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_subscribe_v5_callback_set(m, on_subscribe);
	mosquitto_message_v5_callback_set(m, on_message);
	if (mu || (cfg->mqtt.username && *cfg->mqtt.username))
		mosquitto_username_pw_set(m, mu ? mu : cfg->mqtt.username,
					  mu ? mp : cfg->mqtt.password);
	if (mosquitto_connect(m, cfg->mqtt.host, cfg->mqtt.port, 30) != MOSQ_ERR_SUCCESS ||
	    !wait_for(m, &r.connected, NULL, until)) {
		fprintf(stderr, "hallwatch: cannot reach the broker %s:%d%s%s\n", cfg->mqtt.host,
			cfg->mqtt.port, r.connack ? ": " : "",
			r.connack ? mosquitto_reason_string(r.connack) : "");
		goto out_m;
	}
	/* the daemon replies only under its reply prefix */
	resp = cfg->mqtt.reply_prefix
		   ? g_strconcat(cfg->mqtt.reply_prefix, cid, NULL)
		   : g_strdup_printf("%s/%s/reply/%s", cfg->mqtt.topic_root, cfg->site.id, cid);
	topic = g_strdup_printf("%s/%s/cmd/%s", cfg->mqtt.topic_root, cfg->site.id, verb);
	if (mosquitto_subscribe_v5(m, NULL, resp, 1, 0, NULL) != MOSQ_ERR_SUCCESS ||
	    !wait_for(m, &r.subscribed, NULL, until))
		goto timeout;
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, resp);
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, r.corr, 32);
	mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "user", user);
	payload = json_dumps(body, JSON_COMPACT);
	if (mosquitto_publish_v5(m, NULL, topic, (int)strlen(payload), payload, 1, false, props) !=
	    MOSQ_ERR_SUCCESS)
		goto timeout;
	if (!wait_for(m, NULL, &r.reply, until))
		goto timeout;
	*out = json_loads(r.reply, 0, NULL);
	rc = *out ? 0 : -EPROTO;
	goto out_m;
timeout:
	fprintf(stderr, "hallwatch: no reply from the daemon of site %s within %d ms\n",
		cfg->site.id, cfg->alerts.reply_timeout_ms);
	rc = -ETIMEDOUT;
out_m:
	mosquitto_property_free_all(&props);
	mosquitto_disconnect(m);
	mosquitto_destroy(m);
out_lib:
	mosquitto_lib_cleanup();
	free(payload);
	g_free(topic);
	g_free(resp);
	g_free(r.reply);
	return rc;
}

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

static void print_list(const json_t *arr)
{
	int64_t now = g_get_real_time() / 1000;
	size_t i;
	json_t *a;

	printf("%-40s %-3s %-15s %7s  %s\n", "ID", "PRI", "STATE", "AGE", "TEXT");
	json_array_foreach(arr, i, a)
	{
		printf("%-40s P%-2lld %-15s ", json_string_value(json_object_get(a, "id")),
		       (long long)json_integer_value(json_object_get(a, "priority")),
		       json_string_value(json_object_get(a, "state")));
		print_age(now - json_integer_value(json_object_get(a, "raised")));
		printf("  %s%s\n", json_string_value(json_object_get(a, "text")),
		       json_is_true(json_object_get(a, "active")) ? "" : " (cleared)");
	}
	printf("%zu alert(s)\n", json_array_size(arr));
}

bool alert_cli_handles(const char *cmd)
{
	return strcmp(cmd, "alerts") == 0 || strcmp(cmd, "ack") == 0 ||
	       strcmp(cmd, "shelve") == 0 || strcmp(cmd, "unshelve") == 0;
}

int alert_cli_main(int argc, char **argv)
{
	const char *cmd = argv[1], *path = NULL, *id = NULL, *user = NULL, *dur = NULL,
		   *reason = NULL;
	struct cfg_errors errs = {0};
	struct hw_config *cfg = NULL;
	json_t *body, *reply = NULL;
	int rc;

	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		const char **dst = strcmp(o, "-c") == 0 || strcmp(o, "--config") == 0 ? &path
				   : strcmp(o, "--user") == 0			      ? &user
				   : strcmp(o, "--for") == 0			      ? &dur
				   : strcmp(o, "--reason") == 0			      ? &reason
										      : NULL;
		if (dst && i + 1 < argc) {
			*dst = argv[++i];
		} else if (o[0] != '-' && !id && strcmp(cmd, "alerts") != 0) {
			id = o;
		} else {
			fprintf(stderr, "hallwatch: %s: unexpected argument %s\n", cmd, o);
			return 2;
		}
	}
	if (!path || (strcmp(cmd, "alerts") != 0 && !id) ||
	    (strcmp(cmd, "shelve") == 0 && (!dur || !reason))) {
		fprintf(stderr, "usage: hallwatch alerts -c FILE\n"
				"       hallwatch ack -c FILE ID [--user NAME]\n"
				"       hallwatch shelve -c FILE ID --for 2h --reason TEXT [--user "
				"NAME]\n"
				"       hallwatch unshelve -c FILE ID [--user NAME]\n");
		return 2;
	}
	if (!user)
		user = getenv("USER") ? getenv("USER") : "operator";
	if (config_load(path, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		cfg_errors_clear(&errs);
		return 1;
	}
	body = json_object();
	if (id)
		json_object_set_new(body, "id", json_string(id));
	if (dur)
		json_object_set_new(body, "for", json_string(dur));
	if (reason)
		json_object_set_new(body, "reason", json_string(reason));
	rc = request(cfg, strcmp(cmd, "alerts") == 0 ? "list" : cmd, body, user, &reply);
	json_decref(body);
	config_free(cfg);
	if (rc < 0)
		return 1;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, "hallwatch: %s refused: %s\n", cmd,
			json_string_value(json_object_get(reply, "error")));
		rc = 1;
	} else if (strcmp(cmd, "alerts") == 0) {
		print_list(json_object_get(reply, "alerts"));
	} else {
		const json_t *a = json_object_get(reply, "alert");
		printf("%s %s: %s\n", cmd, id,
		       a ? json_string_value(json_object_get(a, "state")) : "closed");
	}
	json_decref(reply);
	return rc;
}

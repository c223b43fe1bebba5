/* The command-line client of cmd/<verb> (router/cmdclient.h): its own short-lived
 * libmosquitto session, driven by mosquitto_loop() on the calling thread until the reply or
 * the deadline. Single-threaded. */
#include "router/cmdclient.h"

#include <errno.h>
#include <glib.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct req {
	char corr[33];
	char *reply;
	bool subscribed;
	bool connected;
	int connack; /* the broker's reason when it refused the session */
};

static void on_connect(struct mosquitto *m, void *ud, int rc, int flags,
		       const mosquitto_property *p)
{
	struct req *r = ud;

	(void)m;
	(void)flags;
	(void)p;
	r->connack = rc;
	r->connected = rc == 0;
}

static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *granted,
			 const mosquitto_property *p)
{
	(void)m;
	(void)mid;
	(void)n;
	(void)granted;
	(void)p;
	((struct req *)ud)->subscribed = true;
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct req *r = ud;
	void *corr = NULL;
	uint16_t len = 0;

	(void)m;
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

/* Runs the libmosquitto loop until *flag or *str is set, the session ends or the deadline. */
static bool wait_for(struct mosquitto *m, const struct req *r, const bool *flag, char *const *str,
		     int64_t until)
{
	while (!(flag && *flag) && !(str && *str)) {
		if (mono_ms() >= until || r->connack)
			return false;
		if (mosquitto_loop(m, 50, 1) != MOSQ_ERR_SUCCESS && !r->connack)
			return false;
	}
	return true;
}

/* The gateway's TLS settings (outputs/mqtt.c sets the same). */
static int set_tls(struct mosquitto *m, const struct cfg_mqtt *c, char *err, size_t errsz)
{
	int rc;

	if (!c->cafile)
		return 0;
	rc = mosquitto_tls_set(m, c->cafile, NULL, c->certfile, c->keyfile, NULL);
	if (rc == MOSQ_ERR_SUCCESS && c->tls_version)
		rc = mosquitto_tls_opts_set(m, 1, c->tls_version, NULL);
	if (rc == MOSQ_ERR_SUCCESS && c->insecure)
		rc = mosquitto_tls_insecure_set(m, c->insecure);
	if (rc == MOSQ_ERR_SUCCESS)
		return 0;
	snprintf(err, errsz, "TLS setup (mqtt.cafile %s%s%s): %s", c->cafile,
		 c->certfile ? ", certfile " : "", c->certfile ? c->certfile : "",
		 mosquitto_strerror(rc));
	return -EINVAL;
}

int cmdclient_request(const struct hw_config *cfg, const char *verb, const json_t *body,
		      const char *user, int timeout_ms, json_t **reply, char *err, size_t errsz)
{
	const struct cfg_mqtt *c = &cfg->mqtt;
	struct req r = {0};
	struct mosquitto *m;
	mosquitto_property *props = NULL;
	char *topic = NULL, *resp = NULL, *payload = NULL, cid[64];
	const char *mu = getenv("HALLWATCH_MQTT_USERNAME"), *mp = getenv("HALLWATCH_MQTT_PASSWORD");
	int64_t until = mono_ms() + timeout_ms;
	int rc = -ENOMEM;
	GRand *rnd = g_rand_new();

	*reply = NULL;
	snprintf(err, errsz, "out of memory");
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
	if (mu || (c->username && *c->username))
		mosquitto_username_pw_set(m, mu ? mu : c->username, mu ? mp : c->password);
	rc = set_tls(m, c, err, errsz);
	if (rc < 0)
		goto out_m;
	rc = mosquitto_connect(m, c->host, c->port, 30);
	if (rc != MOSQ_ERR_SUCCESS || !wait_for(m, &r, &r.connected, NULL, until)) {
		if (r.connack)
			snprintf(err, errsz, "the broker %s:%d refused the session: %s%s", c->host,
				 c->port, mosquitto_reason_string(r.connack),
				 r.connack == MQTT_RC_BAD_USERNAME_OR_PASSWORD ||
					 r.connack == MQTT_RC_NOT_AUTHORIZED
				     ? " (check mqtt.username and the password, or "
				       "HALLWATCH_MQTT_USERNAME/HALLWATCH_MQTT_PASSWORD)"
				     : "");
		else
			snprintf(err, errsz, "cannot reach the broker %s:%d%s%s%s", c->host,
				 c->port, rc != MOSQ_ERR_SUCCESS ? ": " : "",
				 rc != MOSQ_ERR_SUCCESS ? mosquitto_strerror(rc) : "",
				 c->cafile ? " (TLS: check mqtt.cafile, certfile and keyfile)"
					   : "");
		rc = -ECONNREFUSED;
		goto out_m;
	}
	/* the gateway replies only under its reply prefix */
	resp = c->reply_prefix
		   ? g_strconcat(c->reply_prefix, cid, NULL)
		   : g_strdup_printf("%s/%s/reply/%s", c->topic_root, cfg->site.id, cid);
	topic = g_strdup_printf("%s/%s/cmd/%s", c->topic_root, cfg->site.id, verb);
	if (mosquitto_subscribe_v5(m, NULL, resp, 1, 0, NULL) != MOSQ_ERR_SUCCESS ||
	    !wait_for(m, &r, &r.subscribed, NULL, until))
		goto timeout;
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, resp);
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, r.corr, 32);
	mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "user", user);
	payload = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
	if (!payload) {
		rc = -ENOMEM;
		goto out_m;
	}
	if (mosquitto_publish_v5(m, NULL, topic, (int)strlen(payload), payload, 1, false, props) !=
		MOSQ_ERR_SUCCESS ||
	    !wait_for(m, &r, NULL, &r.reply, until))
		goto timeout;
	*reply = json_loads(r.reply, 0, NULL);
	if (!json_is_object(*reply)) {
		json_decref(*reply);
		*reply = NULL;
		snprintf(err, errsz, "the gateway's reply is no JSON object: %.200s", r.reply);
		rc = -EPROTO;
		goto out_m;
	}
	rc = 0;
	goto out_m;
timeout:
	snprintf(err, errsz,
		 "no reply from the gateway of site %s within %d s: is `hallwatch run` running "
		 "and connected to %s:%d?",
		 cfg->site.id, (timeout_ms + 999) / 1000, c->host, c->port);
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

bool cmdclient_ok(const json_t *reply, char *why, size_t sz)
{
	const char *code = json_string_value(json_object_get(reply, "error")),
		   *msg = json_string_value(json_object_get(reply, "message"));

	if (json_is_true(json_object_get(reply, "ok")))
		return true;
	snprintf(why, sz, "%s%s%s", code ? code : "refused", msg ? ": " : "", msg ? msg : "");
	return false;
}

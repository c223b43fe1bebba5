/* MQTT client: owns the libmosquitto handle, the Last Will and the `status` topic.
 * libmosquitto's thread runs the socket; its callbacks only hand events to the
 * main loop (g_main_context_invoke), where everything else here runs. */
#define LOG_TAG "mqtt"
#include "gateway/mqtt.h"

#include <errno.h>
#include <jansson.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/log.h"

struct mqtt {
	const struct cfg_mqtt *cfg;
	const char *site;
	GMainContext *ctx;
	mqtt_connected_fn on_connected;
	void *ud;
	struct mosquitto *mosq;
	char *root;	/* "<topic_root>/<site>/" */
	gint connected; /* atomic: set on the loop, read anywhere */
	int64_t started;
	bool down_logged;
	bool ever_connected;
	struct mqtt_stats st;
	/* Handshake for the final `offline` message at shutdown. */
	GMutex lock;
	GCond cond;
	int last_mid;
	int acked_mid;
};

struct mqtt_event {
	struct mqtt *m;
	int kind; /* 0 connect, 1 disconnect */
	int rc;
};

static char *topic(const struct mqtt *m, const char *sub)
{
	return g_strconcat(m->root, sub, NULL);
}

static char *status_json(const struct mqtt *m, const char *state)
{
	json_t *o = json_pack("{s:s, s:s, s:I}", "state", state, "version", HW_VERSION, "started",
			      (json_int_t)m->started);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static gboolean on_event(gpointer data)
{
	struct mqtt_event *ev = data;
	struct mqtt *m = ev->m;

	if (ev->kind == 0) {
		if (ev->rc != 0) {
			if (!m->down_logged)
				log_warn("broker %s:%d refused the connection: %s", m->cfg->host,
					 m->cfg->port, mosquitto_connack_string(ev->rc));
			m->down_logged = true;
			goto out;
		}
		g_atomic_int_set(&m->connected, 1);
		if (m->ever_connected)
			m->st.reconnects++;
		m->ever_connected = true;
		log_info("connected to broker %s:%d", m->cfg->host, m->cfg->port);
		m->down_logged = false;
		char *st = status_json(m, "online");
		mqtt_publish(m, "status", st, strlen(st), true);
		free(st);
		if (m->on_connected)
			m->on_connected(m, m->ud);
	} else {
		g_atomic_int_set(&m->connected, 0);
		if (!m->down_logged)
			log_warn("lost the broker %s:%d (%s); reconnecting", m->cfg->host,
				 m->cfg->port, mosquitto_strerror(ev->rc));
		m->down_logged = true;
	}
out:
	g_free(ev);
	return G_SOURCE_REMOVE;
}

static void post(struct mqtt *m, int kind, int rc)
{
	struct mqtt_event *ev = g_new(struct mqtt_event, 1);
	ev->m = m;
	ev->kind = kind;
	ev->rc = rc;
	g_main_context_invoke(m->ctx, on_event, ev);
}

static void cb_connect(struct mosquitto *mosq, void *ud, int rc)
{
	post(ud, 0, rc);
}

static void cb_disconnect(struct mosquitto *mosq, void *ud, int rc)
{
	struct mqtt *m = ud;
	g_atomic_int_set(&m->connected, 0);
	post(m, 1, rc);
}

static void cb_publish(struct mosquitto *mosq, void *ud, int mid)
{
	struct mqtt *m = ud;
	g_mutex_lock(&m->lock);
	m->acked_mid = mid;
	g_cond_broadcast(&m->cond);
	g_mutex_unlock(&m->lock);
}

static void cb_log(struct mosquitto *mosq, void *ud, int level, const char *str)
{
	if (level & (MOSQ_LOG_ERR))
		log_debug("libmosquitto: %s", str);
}

int mqtt_create(const struct cfg_mqtt *cfg, const char *site, GMainContext *ctx,
		mqtt_connected_fn on_connected, void *ud, struct mqtt **out)
{
	struct mqtt *m = calloc(1, sizeof(*m));
	char *will = NULL, *will_topic = NULL;
	int rc;

	if (!m)
		return -ENOMEM;
	mosquitto_lib_init();
	m->cfg = cfg;
	m->site = site;
	m->ctx = ctx;
	m->on_connected = on_connected;
	m->ud = ud;
	m->started = g_get_real_time() / 1000000;
	g_mutex_init(&m->lock);
	g_cond_init(&m->cond);
	m->root = g_strdup_printf("%s/%s/", cfg->topic_root, site);

	m->mosq = mosquitto_new(cfg->client_id, true, m);
	if (!m->mosq) {
		rc = -errno;
		goto fail;
	}
	mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_max_inflight_messages_set(m->mosq, 100);
	mosquitto_reconnect_delay_set(m->mosq, (unsigned)(cfg->reconnect_min_ms + 999) / 1000,
				      (unsigned)(cfg->reconnect_max_ms + 999) / 1000, true);
	mosquitto_connect_callback_set(m->mosq, cb_connect);
	mosquitto_disconnect_callback_set(m->mosq, cb_disconnect);
	mosquitto_publish_callback_set(m->mosq, cb_publish);
	mosquitto_log_callback_set(m->mosq, cb_log);
	if (cfg->username && *cfg->username)
		mosquitto_username_pw_set(m->mosq, cfg->username, cfg->password);

	will_topic = topic(m, "status");
	will = status_json(m, "offline");
	rc = mosquitto_will_set(m->mosq, will_topic, (int)strlen(will), will, 1, true);
	if (rc != MOSQ_ERR_SUCCESS) {
		rc = -EINVAL;
		goto fail;
	}
	rc = mosquitto_connect_async(m->mosq, cfg->host, cfg->port, cfg->keepalive_s);
	if (rc != MOSQ_ERR_SUCCESS) {
		log_warn("broker %s:%d: %s; retrying in the background", cfg->host, cfg->port,
			 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		m->down_logged = true;
	}
	rc = mosquitto_loop_start(m->mosq);
	if (rc != MOSQ_ERR_SUCCESS) {
		rc = -EIO;
		goto fail;
	}
	free(will);
	free(will_topic);
	*out = m;
	return 0;
fail:
	free(will);
	free(will_topic);
	if (m->mosq)
		mosquitto_destroy(m->mosq);
	g_free(m->root);
	g_mutex_clear(&m->lock);
	g_cond_clear(&m->cond);
	free(m);
	return rc;
}

static int publish_mid(struct mqtt *m, const char *subtopic, const void *payload, size_t len,
		       bool retain, int *mid)
{
	char *t;
	int rc;

	if (!g_atomic_int_get(&m->connected)) {
		m->st.skipped++;
		return -ENOTCONN;
	}
	t = topic(m, subtopic);
	rc = mosquitto_publish(m->mosq, mid, t, (int)len, payload, m->cfg->qos, retain);
	g_free(t);
	if (rc == MOSQ_ERR_NO_CONN) {
		m->st.skipped++;
		return -ENOTCONN;
	}
	if (rc != MOSQ_ERR_SUCCESS) {
		log_debug("publish %s: %s", subtopic, mosquitto_strerror(rc));
		return -EIO;
	}
	m->st.published++;
	return 0;
}

int mqtt_publish(struct mqtt *m, const char *subtopic, const void *payload, size_t len, bool retain)
{
	return publish_mid(m, subtopic, payload, len, retain, NULL);
}

bool mqtt_is_connected(const struct mqtt *m)
{
	return g_atomic_int_get(&((struct mqtt *)m)->connected);
}

void mqtt_rebind(struct mqtt *m, const struct cfg_mqtt *cfg, const char *site)
{
	m->cfg = cfg;
	m->site = site;
}

void mqtt_get_stats(const struct mqtt *m, struct mqtt_stats *out)
{
	*out = m->st;
	out->connected = mqtt_is_connected(m);
}

void mqtt_destroy(struct mqtt *m, int wait_ms)
{
	if (!m)
		return;
	if (g_atomic_int_get(&m->connected)) {
		char *st = status_json(m, "offline");
		int mid = 0;
		if (publish_mid(m, "status", st, strlen(st), true, &mid) == 0 && m->cfg->qos > 0) {
			int64_t until = g_get_monotonic_time() + (int64_t)wait_ms * 1000;
			g_mutex_lock(&m->lock);
			while (m->acked_mid < mid && g_get_monotonic_time() < until)
				g_cond_wait_until(&m->cond, &m->lock, until);
			g_mutex_unlock(&m->lock);
		}
		free(st);
	}
	mosquitto_disconnect(m->mosq);
	mosquitto_loop_stop(m->mosq, false);
	mosquitto_destroy(m->mosq);
	/* Events posted by the network thread may still sit in the loop: drain them
	 * before the handle goes away. */
	while (g_main_context_iteration(m->ctx, FALSE))
		;
	g_free(m->root);
	g_mutex_clear(&m->lock);
	g_cond_clear(&m->cond);
	free(m);
	mosquitto_lib_cleanup();
}

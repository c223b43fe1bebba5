/* MQTT client: owns the libmosquitto handle, the Last Will, the `status` topic, the
 * cmd/+ subscription and the v5 request/response plumbing. libmosquitto's thread
 * runs the socket; its callbacks only hand events to the main loop
 * (g_main_context_invoke), where everything else here runs. */
#define LOG_TAG "mqtt"
#include "gateway/mqtt.h"

#include <errno.h>
#include <jansson.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
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
	gint v311;     /* atomic: the broker refused v5, use 3.1.1 */
	gint protocol; /* atomic: 5 or 4 while connected */
	mqtt_cmd_fn on_cmd;
	void *cmd_ud;
	mqtt_ack_fn on_ack;
	void *ack_ud;
	GHashTable *inflight; /* mid -> token (guint64 *) of mqtt_publish_acked messages */
};

enum { EV_CONNECT = 0, EV_DISCONNECT, EV_PUBACK, EV_MESSAGE };

struct mqtt_event {
	struct mqtt *m;
	int kind;
	int rc;
	int mid;
	char *topic;
	char *payload;
	size_t len;
	char *response_topic;
	void *corr;
	size_t corr_len;
	char *user;
	int protocol;
};

static void event_free(struct mqtt_event *ev)
{
	g_free(ev->topic);
	g_free(ev->payload);
	free(ev->response_topic);
	free(ev->corr);
	free(ev->user);
	g_free(ev);
}

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

static void subscribe_cmds(struct mqtt *m)
{
	char *t = topic(m, "cmd/+");
	int rc = mosquitto_subscribe_v5(m->mosq, NULL, t, 1, 0, NULL);

	if (rc != MOSQ_ERR_SUCCESS)
		log_warn("subscribe %s: %s", t, mosquitto_strerror(rc));
	g_free(t);
}

static void deliver_cmd(struct mqtt *m, struct mqtt_event *ev)
{
	struct mqtt_cmd c = {0};
	const char *slash = strrchr(ev->topic, '/');

	if (!m->on_cmd)
		return;
	c.verb = slash ? slash + 1 : ev->topic;
	c.topic = ev->topic;
	c.payload = ev->payload;
	c.len = ev->len;
	c.response_topic = ev->response_topic;
	c.corr = ev->corr;
	c.corr_len = ev->corr_len;
	c.user = ev->user;
	c.protocol = ev->protocol;
	m->on_cmd(m, &c, m->cmd_ud);
}

static gboolean on_event(gpointer data)
{
	struct mqtt_event *ev = data;
	struct mqtt *m = ev->m;
	guint64 *tok;

	switch (ev->kind) {
	case EV_CONNECT:
		if (ev->rc != 0) {
			if (!m->down_logged)
				log_warn("broker %s:%d refused the connection: %s", m->cfg->host,
					 m->cfg->port, mosquitto_reason_string(ev->rc));
			m->down_logged = true;
			break;
		}
		g_atomic_int_set(&m->connected, 1);
		if (m->ever_connected)
			m->st.reconnects++;
		m->ever_connected = true;
		log_info("connected to broker %s:%d (MQTT %s)", m->cfg->host, m->cfg->port,
			 g_atomic_int_get(&m->v311) ? "3.1.1" : "v5");
		m->down_logged = false;
		/* Tokens in flight in the previous session get no ack: their owner resends. */
		g_hash_table_remove_all(m->inflight);
		subscribe_cmds(m);
		{
			char *st = status_json(m, "online");
			mqtt_publish(m, "status", st, strlen(st), true);
			free(st);
		}
		if (m->on_connected)
			m->on_connected(m, m->ud);
		break;
	case EV_DISCONNECT:
		g_atomic_int_set(&m->connected, 0);
		if (!m->down_logged)
			log_warn("lost the broker %s:%d (%s); reconnecting", m->cfg->host,
				 m->cfg->port, mosquitto_strerror(ev->rc));
		m->down_logged = true;
		break;
	case EV_PUBACK:
		tok = g_hash_table_lookup(m->inflight, GINT_TO_POINTER(ev->mid));
		if (tok) {
			guint64 t = *tok;
			g_hash_table_remove(m->inflight, GINT_TO_POINTER(ev->mid));
			if (ev->rc >= 128)
				log_warn("broker refused a message: %s",
					 mosquitto_reason_string(ev->rc));
			if (m->on_ack)
				m->on_ack(m, t, ev->rc < 128, m->ack_ud);
		}
		break;
	case EV_MESSAGE:
		deliver_cmd(m, ev);
		break;
	}
	event_free(ev);
	return G_SOURCE_REMOVE;
}

static void post_ev(struct mqtt *m, struct mqtt_event *ev)
{
	GSource *src = g_idle_source_new();

	/* Always through the context's own thread: g_main_context_invoke would run
	 * on_event right here when the loop is not running yet (start-up). */
	ev->m = m;
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, on_event, ev, NULL);
	g_source_attach(src, m->ctx);
	g_source_unref(src);
}

static void post(struct mqtt *m, int kind, int rc)
{
	struct mqtt_event *ev = g_new0(struct mqtt_event, 1);
	ev->kind = kind;
	ev->rc = rc;
	post_ev(m, ev);
}

static void cb_connect(struct mosquitto *mosq, void *ud, int rc, int flags,
		       const mosquitto_property *props)
{
	struct mqtt *m = ud;

	if ((rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION ||
	     rc == CONNACK_REFUSED_PROTOCOL_VERSION) &&
	    !g_atomic_int_get(&m->v311)) {
		/* An MQTT 3.1.1 broker: the next attempt speaks 3.1.1. */
		g_atomic_int_set(&m->v311, 1);
		mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	}
	if (rc == 0)
		g_atomic_int_set(&m->protocol, g_atomic_int_get(&m->v311) ? 4 : 5);
	post(m, EV_CONNECT, rc);
}

static void cb_disconnect(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *p)
{
	struct mqtt *m = ud;
	g_atomic_int_set(&m->connected, 0);
	g_atomic_int_set(&m->protocol, 0);
	post(m, EV_DISCONNECT, rc);
}

static void cb_publish(struct mosquitto *mosq, void *ud, int mid, int rc,
		       const mosquitto_property *props)
{
	struct mqtt *m = ud;
	struct mqtt_event *ev;

	g_mutex_lock(&m->lock);
	m->acked_mid = mid;
	g_cond_broadcast(&m->cond);
	g_mutex_unlock(&m->lock);
	ev = g_new0(struct mqtt_event, 1);
	ev->kind = EV_PUBACK;
	ev->mid = mid;
	ev->rc = rc;
	post_ev(m, ev);
}

static void cb_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct mqtt *m = ud;
	struct mqtt_event *ev = g_new0(struct mqtt_event, 1);
	const mosquitto_property *p;
	uint16_t clen = 0;
	char *name = NULL, *value = NULL;

	ev->kind = EV_MESSAGE;
	ev->topic = g_strdup(msg->topic);
	ev->payload = g_malloc(msg->payloadlen + 1);
	memcpy(ev->payload, msg->payload, msg->payloadlen);
	ev->payload[msg->payloadlen] = '\0';
	ev->len = msg->payloadlen;
	ev->protocol = g_atomic_int_get(&m->v311) ? 4 : 5;
	mosquitto_property_read_string(props, MQTT_PROP_RESPONSE_TOPIC, &ev->response_topic, false);
	if (mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &ev->corr, &clen,
					   false))
		ev->corr_len = clen;
	for (p = mosquitto_property_read_string_pair(props, MQTT_PROP_USER_PROPERTY, &name, &value,
						     false);
	     p; p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value,
							true)) {
		if (!ev->user && strcmp(name, "user") == 0) {
			ev->user = value;
			value = NULL;
		}
		free(name);
		free(value);
		name = value = NULL;
	}
	post_ev(m, ev);
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
	m->inflight = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);

	m->mosq = mosquitto_new(cfg->client_id, true, m);
	if (!m->mosq) {
		rc = -errno;
		goto fail;
	}
	mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(m->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, 100);
	mosquitto_int_option(m->mosq, MOSQ_OPT_SEND_MAXIMUM, 100);
	mosquitto_reconnect_delay_set(m->mosq, (unsigned)(cfg->reconnect_min_ms + 999) / 1000,
				      (unsigned)(cfg->reconnect_max_ms + 999) / 1000, true);
	mosquitto_connect_v5_callback_set(m->mosq, cb_connect);
	mosquitto_disconnect_v5_callback_set(m->mosq, cb_disconnect);
	mosquitto_publish_v5_callback_set(m->mosq, cb_publish);
	mosquitto_message_v5_callback_set(m->mosq, cb_message);
	mosquitto_log_callback_set(m->mosq, cb_log);
	if (cfg->username && *cfg->username)
		mosquitto_username_pw_set(m->mosq, cfg->username, cfg->password);

	will_topic = topic(m, "status");
	will = status_json(m, "offline");
	rc = mosquitto_will_set_v5(m->mosq, will_topic, (int)strlen(will), will, 1, true, NULL);
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
	g_hash_table_destroy(m->inflight);
	g_free(m->root);
	g_mutex_clear(&m->lock);
	g_cond_clear(&m->cond);
	free(m);
	return rc;
}

static int publish_mid(struct mqtt *m, const char *subtopic, const void *payload, size_t len,
		       bool retain, int *mid, int qos)
{
	char *t;
	int rc;

	if (!g_atomic_int_get(&m->connected)) {
		m->st.skipped++;
		return -ENOTCONN;
	}
	t = topic(m, subtopic);
	rc = mosquitto_publish(m->mosq, mid, t, (int)len, payload, qos, retain);
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
	return publish_mid(m, subtopic, payload, len, retain, NULL, m->cfg->qos);
}

int mqtt_publish_acked(struct mqtt *m, const char *subtopic, const void *payload, size_t len,
		       bool retain, uint64_t token)
{
	int mid = 0;
	int rc =
	    publish_mid(m, subtopic, payload, len, retain, &mid, m->cfg->qos > 0 ? m->cfg->qos : 1);
	guint64 *t;

	if (rc < 0)
		return rc;
	t = g_new(guint64, 1);
	*t = token;
	g_hash_table_replace(m->inflight, GINT_TO_POINTER(mid), t);
	return 0;
}

int mqtt_reply(struct mqtt *m, const struct mqtt_cmd *c, const char *reply_id, const char *payload,
	       size_t len)
{
	mosquitto_property *props = NULL;
	char *t;
	int rc;

	if (!g_atomic_int_get(&m->connected))
		return -ENOTCONN;
	if (c->response_topic && *c->response_topic) {
		t = g_strdup(c->response_topic);
		if (c->corr && c->protocol == 5)
			mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, c->corr,
						      (uint16_t)c->corr_len);
	} else if (reply_id && *reply_id && !strpbrk(reply_id, "/+#")) {
		t = g_strconcat(m->root, "reply/", reply_id, NULL);
	} else {
		return -ENOENT;
	}
	rc = mosquitto_publish_v5(m->mosq, NULL, t, (int)len, payload, 1, false, props);
	mosquitto_property_free_all(&props);
	g_free(t);
	if (rc == MOSQ_ERR_NO_CONN)
		return -ENOTCONN;
	if (rc != MOSQ_ERR_SUCCESS) {
		log_debug("reply: %s", mosquitto_strerror(rc));
		return -EIO;
	}
	m->st.published++;
	return 0;
}

void mqtt_set_command_handler(struct mqtt *m, mqtt_cmd_fn fn, void *ud)
{
	m->on_cmd = fn;
	m->cmd_ud = ud;
}

void mqtt_set_ack_handler(struct mqtt *m, mqtt_ack_fn fn, void *ud)
{
	m->on_ack = fn;
	m->ack_ud = ud;
}

int mqtt_protocol(const struct mqtt *m)
{
	return g_atomic_int_get(&((struct mqtt *)m)->protocol);
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
		if (publish_mid(m, "status", st, strlen(st), true, &mid, m->cfg->qos) == 0 &&
		    m->cfg->qos > 0) {
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
	m->on_cmd = NULL;
	m->on_ack = NULL;
	m->on_connected = NULL;
	while (g_main_context_iteration(m->ctx, FALSE))
		;
	g_hash_table_destroy(m->inflight);
	g_free(m->root);
	g_mutex_clear(&m->lock);
	g_cond_clear(&m->cond);
	free(m);
	mosquitto_lib_cleanup();
}

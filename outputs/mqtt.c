/* MQTT client: owns the libmosquitto handle, the Last Will, the `status` topic, the
 * cmd/+ subscription, the v5 request/response plumbing, the in-flight window fed from
 * the outbox and the reconnect policy. Our network thread (net_thread) runs the socket
 * and the reconnects; libmosquitto's callbacks only hand events to the main loop,
 * where everything else here runs. */
#define LOG_TAG "mqtt"
#include "outputs/mqtt.h"

#include <errno.h>
#include <jansson.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "outputs/mqtt_topic.h"
#include "outputs/outbox.h"

/* cmd topics remembered as logged for their retained message, at most */
#define RETAINED_LOGGED_MAX 64

struct mqtt {
	const struct cfg_mqtt *cfg;
	const char *site;
	GMainContext *ctx;
	mqtt_connected_fn on_connected;
	void *ud;
	struct mosquitto *mosq;
	char *root;	  /* "<topic_root>/<site>/" */
	char *reply_root; /* replies go only under it: cfg->reply_prefix or "<root>reply/" */
	GHashTable *retained_seen; /* cmd topics whose retained message was logged (bounded) */
	gint connected;		   /* atomic: set on the loop, read anywhere */
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
	GHashTable *inflight; /* mid -> struct flight * of messages awaiting PUBACK */
	struct outbox *outbox;
	GHashTable *pending;  /* subtopic -> struct pend: latest-value state to send */
	GQueue pending_order; /* subtopics (owned by pending's keys), oldest first */
	bool feeding;
	/* The network thread. */
	GThread *thread;
	gint stopping;	    /* atomic */
	GMutex mosq_lock;   /* held around publish calls and the handle's reinitialisation */
	char last_err[256]; /* last error libmosquitto logged (under lock) */
	gint session_ok;    /* atomic: the broker accepted the connection of this attempt */
	gint session_gen;   /* atomic: connection attempts so far (tags events) */
	gint net_up;	    /* atomic: a connection is up on the network thread */
	gint retry_now;	    /* atomic: reconnect at once (protocol fallback) */
	gint broker;	    /* atomic: the mqtt.hosts entry of the current attempt */
	json_t *detail;	    /* "delivery" member of status online, or NULL (main loop) */
	GSource *resub;	    /* subscribes to cmd/+ again after a refused SUBACK (main loop) */
	bool sub_failing;   /* the broker refused cmd/+ (logged) */
	/* Commands received and not yet handed over, oldest first (struct mqtt_event *, under
	 * lock): an EV_MESSAGE event hands them over, mqtt_stop_commands at once. */
	GQueue cmdq;
	int unsub_acked;     /* mid of the last UNSUBACK (under lock) */
	int64_t last_cmd_us; /* monotonic time the last command came (under lock) */
	bool cmds_off;	     /* mqtt_stop_commands ran: cmd/+ is not subscribed again */
	size_t cmds_dropped; /* received while nothing handled commands, at the end */
};

/* The wait before subscribing to cmd/+ again when the broker refused it (a cluster node
 * whose JetStream is electing a leader refuses for a few seconds). */
#define RESUB_MS 1000
/* At a stop, how long no command must come after the UNSUBACK (mqtt_stop_commands). */
#define CMD_QUIET_MS 100

/* A message handed to libmosquitto and not yet acknowledged. */
struct flight {
	int64_t id;	/* outbox record, 0 for anything else */
	uint64_t token; /* for the ack handler, 0 if none */
	bool acked;	/* mqtt_publish_acked */
};

enum { EV_CONNECT = 0, EV_DISCONNECT, EV_PUBACK, EV_MESSAGE, EV_SUBACK };

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
	int session;
	int broker; /* the mqtt.hosts entry the attempt went to */
	bool retain;
};

static void feed(struct mqtt *m);

/* How many brokers the client may connect to: mqtt.hosts, else mqtt.host alone. */
static int n_brokers(const struct mqtt *m)
{
	return m->cfg->n_hosts ? (int)m->cfg->n_hosts : 1;
}

/* Broker i (transfer none: the configuration's). */
static void broker_at(const struct mqtt *m, int i, const char **host, int *port)
{
	const struct cfg_mqtt *c = m->cfg;

	if (c->n_hosts) {
		*host = c->hosts[(size_t)i % c->n_hosts].host;
		*port = c->hosts[(size_t)i % c->n_hosts].port;
	} else {
		*host = c->host;
		*port = c->port;
	}
}

/* A retained state waiting for room in the in-flight window: its payload, or how to
 * render it when it goes out (a thousand device states are not held as text). */
struct pend {
	GBytes *bytes;
	mqtt_render_fn render;
	void *ud;
	size_t idx;
};

static void pend_free(gpointer p)
{
	struct pend *x = p;
	if (x->bytes)
		g_bytes_unref(x->bytes);
	g_free(x);
}
static guint count_outbox_flights(struct mqtt *m);
static int publish_mid(struct mqtt *m, const char *subtopic, const void *payload, size_t len,
		       bool retain, int *mid, int qos);

static void event_free(struct mqtt_event *ev)
{
	g_free(ev->topic);
	g_free(ev->payload);
	free(ev->response_topic);
	free(ev->corr);
	free(ev->user);
	g_free(ev);
}

/* <root>/<site>/<sub>: every topic the client publishes or subscribes to under its site is
 * made here, so mqtt.topic_escape covers every level built from an id (alert, device,
 * camera, plan). */
static char *topic(const struct mqtt *m, const char *sub)
{
	char *esc, *t;

	if (m->cfg->topic_escape == TOPIC_ESC_NONE)
		return g_strconcat(m->root, sub, NULL);
	esc = mqtt_topic_escape(sub);
	t = g_strconcat(m->root, esc, NULL);
	g_free(esc);
	return t;
}

static char *status_json(const struct mqtt *m, const char *state)
{
	json_t *o = json_pack("{s:s, s:s, s:I}", "state", state, "version", HW_VERSION, "started",
			      (json_int_t)m->started);
	char *s;

	if (m->detail && strcmp(state, "online") == 0)
		json_object_set(o, "delivery", m->detail);
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void subscribe_cmds(struct mqtt *m)
{
	char *t = topic(m, "cmd/+");
	/* v5: keep the retain flag of a live message too, so that a command published with
	 * retain is recognised (and ignored) whenever it arrives, not only on the replay */
	int opts = g_atomic_int_get(&m->v311) ? 0 : MQTT_SUB_OPT_RETAIN_AS_PUBLISHED;
	int rc = mosquitto_subscribe_v5(m->mosq, NULL, t, 1, opts, NULL);

	if (rc != MOSQ_ERR_SUCCESS)
		log_warn("subscribe %s: %s", t, mosquitto_strerror(rc));
	g_free(t);
}

static gboolean resubscribe(gpointer data)
{
	struct mqtt *m = data;

	g_source_unref(m->resub);
	m->resub = NULL;
	if (g_atomic_int_get(&m->connected) && !m->cmds_off) {
		g_mutex_lock(&m->mosq_lock);
		subscribe_cmds(m);
		g_mutex_unlock(&m->mosq_lock);
	}
	return G_SOURCE_REMOVE;
}

/* A SUBACK for cmd/+: a refusal (rc >= 128) leaves the gateway deaf to commands for the
 * whole session, so the subscription is sent again until the broker takes it. */
static void on_suback(struct mqtt *m, struct mqtt_event *ev, const char *host, int port)
{
	if (ev->rc < 128) {
		if (m->sub_failing)
			log_info("broker %s:%d took the subscription to cmd/+: commands are "
				 "received again",
				 host, port);
		m->sub_failing = false;
		return;
	}
	if (ev->session != g_atomic_int_get(&m->session_gen) || !g_atomic_int_get(&m->connected))
		return; /* the next session subscribes anew */
	if (!m->sub_failing)
		log_warn("broker %s:%d refused the subscription to cmd/+ (%s): no command is "
			 "received; subscribing again every %d ms",
			 host, port, mosquitto_reason_string(ev->rc), RESUB_MS);
	m->sub_failing = true;
	if (!m->resub) {
		m->resub = g_timeout_source_new(RESUB_MS);
		g_source_set_callback(m->resub, resubscribe, m, NULL);
		g_source_attach(m->resub, m->ctx);
	}
}

static void deliver_cmd(struct mqtt *m, struct mqtt_event *ev)
{
	struct mqtt_cmd c = {0};
	const char *slash = strrchr(ev->topic, '/');

	if (!m->on_cmd)
		return;
	if (ev->retain) {
		/* A retained command would run again at every start and every reconnect: a
		 * command is something a person does once, so retained ones are not obeyed. */
		if (!g_hash_table_contains(m->retained_seen, ev->topic)) {
			if (g_hash_table_size(m->retained_seen) >= RETAINED_LOGGED_MAX)
				g_hash_table_remove_all(m->retained_seen);
			g_hash_table_add(m->retained_seen, g_strdup(ev->topic));
			log_warn("ignoring the retained message on %s: commands are never taken "
				 "from retained messages (clear it with an empty retained message)",
				 ev->topic);
		}
		return;
	}
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

/* Hands over the oldest command received, if there is one and a handler; false when
 * none was. Once stopping, what has no handler is dropped (and counted). */
static bool deliver_next(struct mqtt *m)
{
	struct mqtt_event *ev = NULL;

	g_mutex_lock(&m->lock);
	if (m->on_cmd || g_atomic_int_get(&m->stopping))
		ev = g_queue_pop_head(&m->cmdq);
	g_mutex_unlock(&m->lock);
	if (!ev)
		return false;
	if (!m->on_cmd && !ev->retain)
		m->cmds_dropped++;
	deliver_cmd(m, ev);
	event_free(ev);
	return true;
}

static gboolean on_event(gpointer data)
{
	struct mqtt_event *ev = data;
	struct mqtt *m = ev->m;
	struct flight *fl;
	const char *host;
	int port;

	broker_at(m, ev->broker, &host, &port);
	switch (ev->kind) {
	case EV_CONNECT:
		if (ev->rc != 0) {
			if (!m->down_logged)
				log_warn("broker %s:%d refused the connection: %s%s", host, port,
					 mosquitto_reason_string(ev->rc),
					 ev->rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD ||
						 ev->rc == MQTT_RC_NOT_AUTHORIZED ||
						 ev->rc == CONNACK_REFUSED_BAD_USERNAME_PASSWORD ||
						 ev->rc == CONNACK_REFUSED_NOT_AUTHORIZED
					     ? " (check mqtt.username and the password)"
					     : "");
			m->down_logged = true;
			break;
		}
		if (ev->session != g_atomic_int_get(&m->session_gen) ||
		    !g_atomic_int_get(&m->net_up))
			break; /* that session is gone already */
		g_atomic_int_set(&m->connected, 1);
		if (m->ever_connected)
			m->st.reconnects++;
		m->ever_connected = true;
		log_info("connected to broker %s:%d (MQTT %s)", host, port,
			 g_atomic_int_get(&m->v311) ? "3.1.1" : "v5");
		m->down_logged = false;
		/* Messages in flight in the previous session get no ack: the outbox sends
		 * them again, other owners resend theirs. */
		m->st.retried += count_outbox_flights(m);
		g_hash_table_remove_all(m->inflight);
		if (!m->cmds_off)
			subscribe_cmds(m);
		{
			char *st = status_json(m, "online");
			publish_mid(m, "status", st, strlen(st), true, NULL, m->cfg->qos);
			free(st);
		}
		/* Alert events first (the outbox replays by class), then retained state. */
		feed(m);
		if (m->on_connected)
			m->on_connected(m, m->ud);
		break;
	case EV_DISCONNECT:
		g_atomic_int_set(&m->connected, 0);
		if (g_atomic_int_get(&m->stopping))
			break;			  /* our own disconnect at shutdown */
		if (!m->down_logged && ev->topic) /* a failed attempt, explained */
			log_warn("%s", ev->topic);
		else if (!m->down_logged)
			log_warn("lost the broker %s:%d (%s); reconnecting%s", host, port,
				 mosquitto_strerror(ev->rc),
				 n_brokers(m) > 1 ? " to the next of mqtt.hosts" : "");
		m->down_logged = true;
		break;
	case EV_PUBACK:
		fl = g_hash_table_lookup(m->inflight, GINT_TO_POINTER(ev->mid));
		if (fl && ev->session == g_atomic_int_get(&m->session_gen)) {
			struct flight f = *fl;
			g_hash_table_remove(m->inflight, GINT_TO_POINTER(ev->mid));
			if (ev->rc >= 128)
				log_warn("broker refused a message: %s",
					 mosquitto_reason_string(ev->rc));
			if (f.id && m->outbox) {
				if (ev->rc >= 128)
					outbox_reject(m->outbox, f.id,
						      mosquitto_reason_string(ev->rc));
				else
					outbox_remove(m->outbox, &f.id, 1);
			}
			if ((f.token || f.acked) && m->on_ack)
				m->on_ack(m, f.token, ev->rc < 128, m->ack_ud);
			feed(m);
		}
		break;
	case EV_MESSAGE:
		while (deliver_next(m))
			;
		break;
	case EV_SUBACK:
		on_suback(m, ev, host, port);
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
	ev->session = g_atomic_int_get(&m->session_gen);
	ev->broker = g_atomic_int_get(&m->broker);
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
		g_atomic_int_set(&m->retry_now, 1);
		return;
	}
	if (rc == 0) {
		g_atomic_int_set(&m->protocol, g_atomic_int_get(&m->v311) ? 4 : 5);
		g_atomic_int_set(&m->session_ok, 1);
		g_atomic_int_set(&m->net_up, 1);
	}
	post(m, EV_CONNECT, rc);
}

static void cb_disconnect(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *p)
{
	struct mqtt *m = ud;
	g_atomic_int_set(&m->connected, 0);
	g_atomic_int_set(&m->protocol, 0);
	if (g_atomic_int_get(&m->net_up)) {
		g_atomic_int_set(&m->net_up, 0);
		post(m, EV_DISCONNECT, rc);
	}
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

static void cb_subscribe(struct mosquitto *mosq, void *ud, int mid, int n, const int *granted,
			 const mosquitto_property *props)
{
	/* cmd/+ is the one subscription: its SUBACK has one code */
	if (n >= 1)
		post(ud, EV_SUBACK, granted[0]);
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
	ev->payload = g_malloc((size_t)msg->payloadlen + 1);
	if (msg->payloadlen > 0) /* an empty payload has no buffer at all */
		memcpy(ev->payload, msg->payload, (size_t)msg->payloadlen);
	ev->payload[msg->payloadlen] = '\0';
	ev->len = (size_t)msg->payloadlen;
	ev->retain = msg->retain;
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
	/* Queued here, handed over on the main loop in order (or at once by
	 * mqtt_stop_commands): the event only says there is one. */
	g_mutex_lock(&m->lock);
	g_queue_push_tail(&m->cmdq, ev);
	m->last_cmd_us = g_get_monotonic_time();
	g_mutex_unlock(&m->lock);
	post(m, EV_MESSAGE, 0);
}

static void cb_unsubscribe(struct mosquitto *mosq, void *ud, int mid,
			   const mosquitto_property *props)
{
	struct mqtt *m = ud;

	g_mutex_lock(&m->lock);
	m->unsub_acked = mid;
	g_cond_broadcast(&m->cond);
	g_mutex_unlock(&m->lock);
}

static void cb_log(struct mosquitto *mosq, void *ud, int level, const char *str)
{
	struct mqtt *m = ud;

	if (level & (MOSQ_LOG_ERR)) {
		g_mutex_lock(&m->lock);
		g_strlcpy(m->last_err, str, sizeof(m->last_err));
		g_mutex_unlock(&m->lock);
		log_debug("libmosquitto: %s", str);
	}
}

/* Options, callbacks, credentials, TLS and the Last Will of a fresh handle. Network
 * thread (or mqtt_create before it starts), mosq_lock held. */
static int setup(struct mqtt *m)
{
	const struct cfg_mqtt *cfg = m->cfg;
	char *will = NULL, *will_topic = NULL;
	int rc;

	mosquitto_threaded_set(m->mosq, true);
	mosquitto_int_option(m->mosq, MOSQ_OPT_PROTOCOL_VERSION,
			     g_atomic_int_get(&m->v311) ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5);
	mosquitto_int_option(m->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, 100);
	/* An alarm event is one small packet: Nagle's algorithm would hold it until the
	 * broker's delayed ACK of the previous one (tens of ms). */
	mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_max_inflight_messages_set(m->mosq, (unsigned)cfg->max_inflight + 4);
	mosquitto_connect_v5_callback_set(m->mosq, cb_connect);
	mosquitto_disconnect_v5_callback_set(m->mosq, cb_disconnect);
	mosquitto_publish_v5_callback_set(m->mosq, cb_publish);
	mosquitto_message_v5_callback_set(m->mosq, cb_message);
	mosquitto_subscribe_v5_callback_set(m->mosq, cb_subscribe);
	mosquitto_unsubscribe_v5_callback_set(m->mosq, cb_unsubscribe);
	mosquitto_log_callback_set(m->mosq, cb_log);
	if (cfg->username && *cfg->username)
		mosquitto_username_pw_set(m->mosq, cfg->username, cfg->password);
	if (cfg->cafile) {
		rc = mosquitto_tls_set(m->mosq, cfg->cafile, NULL, cfg->certfile, cfg->keyfile,
				       NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set(m->mosq, 1, cfg->tls_version, NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_insecure_set(m->mosq, cfg->insecure);
		if (rc != MOSQ_ERR_SUCCESS) {
			log_err("TLS setup (cafile %s%s%s): %s", cfg->cafile,
				cfg->certfile ? ", certfile " : "",
				cfg->certfile ? cfg->certfile : "", mosquitto_strerror(rc));
			return -EINVAL;
		}
	}
	will_topic = topic(m, "status");
	will = status_json(m, "offline");
	rc = mosquitto_will_set_v5(m->mosq, will_topic, (int)strlen(will), will, 1, true, NULL);
	free(will);
	free(will_topic);
	return rc == MOSQ_ERR_SUCCESS ? 0 : -EINVAL;
}

/* Sleeps ms unless stopping; returns false when stopping. */
static bool net_sleep(struct mqtt *m, int ms)
{
	gint64 until = g_get_monotonic_time() + (gint64)ms * 1000;

	g_mutex_lock(&m->lock);
	while (!g_atomic_int_get(&m->stopping) && g_get_monotonic_time() < until)
		g_cond_wait_until(&m->cond, &m->lock, until);
	g_mutex_unlock(&m->lock);
	return !g_atomic_int_get(&m->stopping);
}

/* Explains a failed connection attempt once per failure run. */
static void connect_failed(struct mqtt *m, int rc, int err)
{
	char why[640], last[256];
	struct mqtt_event *ev;
	const char *host;
	int port;

	broker_at(m, g_atomic_int_get(&m->broker), &host, &port);
	g_mutex_lock(&m->lock);
	g_strlcpy(last, m->last_err, sizeof(last));
	m->last_err[0] = '\0';
	g_mutex_unlock(&m->lock);
	if (rc == MOSQ_ERR_TLS)
		snprintf(why, sizeof(why),
			 "TLS handshake with broker %s:%d failed%s%s (check mqtt.cafile%s)", host,
			 port, *last ? ": " : "", last,
			 m->cfg->certfile ? ", certfile and keyfile" : "");
	else
		snprintf(why, sizeof(why), "cannot connect to broker %s:%d: %s; retrying%s", host,
			 port, rc == MOSQ_ERR_ERRNO ? g_strerror(err) : mosquitto_strerror(rc),
			 n_brokers(m) > 1 ? " with the next of mqtt.hosts" : "");
	ev = g_new0(struct mqtt_event, 1);
	ev->kind = EV_DISCONNECT;
	ev->rc = rc;
	ev->topic = g_strdup(why);
	post_ev(m, ev);
}

/* The session: connect, run the socket until it fails, wait (capped exponential
 * backoff with jitter), reinitialise the handle, again. With several brokers
 * (mqtt.hosts) each attempt goes to the next one, and the delay doubles only once
 * every one of them failed in a row: a node's failure costs one short wait. */
static gpointer net_thread(gpointer data)
{
	struct mqtt *m = data;
	int delay = m->cfg->reconnect_min_ms;
	int failed = 0; /* attempts failed in a row since the delay last doubled */
	bool fresh = true;
	bool v311_guess = false; /* 3.1.1 because the broker hung up on a v5 CONNECT */

	while (!g_atomic_int_get(&m->stopping)) {
		const char *host;
		int port, rc;

		if (!fresh) {
			g_mutex_lock(&m->mosq_lock);
			mosquitto_reinitialise(m->mosq, m->cfg->client_id, true, m);
			rc = setup(m);
			g_mutex_unlock(&m->mosq_lock);
			if (rc < 0)
				break;
		}
		fresh = false;
		g_atomic_int_inc(&m->session_gen);
		g_atomic_int_set(&m->session_ok, 0);
		g_atomic_int_set(&m->retry_now, 0);
		broker_at(m, g_atomic_int_get(&m->broker), &host, &port);
		rc =
		    mosquitto_connect_bind_v5(m->mosq, host, port, m->cfg->keepalive_s, NULL, NULL);
		if (rc == MOSQ_ERR_SUCCESS) {
			while (!g_atomic_int_get(&m->stopping)) {
				rc = mosquitto_loop(m->mosq, 200, 1);
				if (rc != MOSQ_ERR_SUCCESS || g_atomic_int_get(&m->retry_now))
					break;
			}
			/* A session that never came up failed to connect (the TLS handshake
			 * may fail here rather than in connect): say why. */
			if (g_atomic_int_get(&m->session_ok) || g_atomic_int_get(&m->stopping) ||
			    g_atomic_int_get(&m->retry_now)) {
				cb_disconnect(m->mosq, m, rc, NULL);
				if (g_atomic_int_get(&m->session_ok))
					v311_guess = false; /* 3.1.1 it is */
			} else if (rc == MOSQ_ERR_CONN_LOST && !g_atomic_int_get(&m->v311)) {
				/* Hung up on without a CONNACK: a broker that knows 3.1.1 alone
				 * may answer a v5 CONNECT so (RabbitMQ's MQTT plugin before
				 * 3.13). Speak 3.1.1 at once; v5 again if that fails too. */
				log_info(
				    "broker %s:%d closed the connection on an MQTT v5 CONNECT; "
				    "trying MQTT 3.1.1",
				    host, port);
				g_atomic_int_set(&m->v311, 1);
				v311_guess = true;
				continue;
			} else {
				if (v311_guess) {
					g_atomic_int_set(&m->v311, 0);
					v311_guess = false;
				}
				connect_failed(m, rc, errno);
			}
		} else {
			connect_failed(m, rc, errno);
		}
		if (g_atomic_int_get(&m->stopping))
			break;
		if (g_atomic_int_get(&m->retry_now))
			continue;
		if (g_atomic_int_get(&m->session_ok)) {
			delay = m->cfg->reconnect_min_ms;
			failed = 0;
		}
		g_atomic_int_set(&m->broker, (g_atomic_int_get(&m->broker) + 1) % n_brokers(m));
		/* Jitter: between half and all of the delay, so that a county's gateways do
		 * not come back in lock step after the broker does. */
		if (!net_sleep(m, delay / 2 + g_random_int_range(0, delay / 2 + 1)))
			break;
		if (++failed >= n_brokers(m)) {
			failed = 0;
			delay = delay > m->cfg->reconnect_max_ms / 2 ? m->cfg->reconnect_max_ms
								     : delay * 2;
		}
	}
	return NULL;
}

int mqtt_create(const struct cfg_mqtt *cfg, const char *site, GMainContext *ctx,
		mqtt_connected_fn on_connected, void *ud, struct mqtt **out)
{
	struct mqtt *m = calloc(1, sizeof(*m));
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
	g_mutex_init(&m->mosq_lock);
	g_cond_init(&m->cond);
	m->root = g_strdup_printf("%s/%s/", cfg->topic_root, site);
	m->reply_root =
	    cfg->reply_prefix ? g_strdup(cfg->reply_prefix) : g_strconcat(m->root, "reply/", NULL);
	m->retained_seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	m->inflight = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	m->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, pend_free);
	g_queue_init(&m->pending_order);
	g_queue_init(&m->cmdq);

	m->mosq = mosquitto_new(cfg->client_id, true, m);
	if (!m->mosq) {
		rc = -errno;
		goto fail;
	}
	rc = setup(m);
	if (rc < 0)
		goto fail;
	m->thread = g_thread_try_new("mqtt", net_thread, m, NULL);
	if (!m->thread) {
		rc = -EAGAIN;
		goto fail;
	}
	*out = m;
	return 0;
fail:
	if (m->mosq)
		mosquitto_destroy(m->mosq);
	g_hash_table_destroy(m->inflight);
	g_hash_table_destroy(m->pending);
	g_hash_table_destroy(m->retained_seen);
	g_free(m->root);
	g_free(m->reply_root);
	g_mutex_clear(&m->lock);
	g_mutex_clear(&m->mosq_lock);
	g_cond_clear(&m->cond);
	free(m);
	mosquitto_lib_cleanup();
	return rc;
}

/* Hands one message to libmosquitto. Main loop. */
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
	g_mutex_lock(&m->mosq_lock);
	rc = mosquitto_publish(m->mosq, mid, t, (int)len, payload, qos, retain);
	g_mutex_unlock(&m->mosq_lock);
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

static guint count_outbox_flights(struct mqtt *m)
{
	GHashTableIter it;
	gpointer v;
	guint n = 0;

	g_hash_table_iter_init(&it, m->inflight);
	while (g_hash_table_iter_next(&it, NULL, &v))
		n += ((struct flight *)v)->id != 0;
	return n;
}

static void track(struct mqtt *m, int mid, int64_t id, uint64_t token, bool acked)
{
	struct flight *f = g_new0(struct flight, 1);

	f->id = id;
	f->token = token;
	f->acked = acked;
	g_hash_table_replace(m->inflight, GINT_TO_POINTER(mid), f);
}

/* Fills the in-flight window: outbox records by class then age, then pending state. */
static void feed(struct mqtt *m)
{
	guint window = (guint)m->cfg->max_inflight;
	int qos = m->cfg->qos > 0 ? m->cfg->qos : 1;

	/* Within a transaction on the outbox's database, records read now may never be
	 * committed: the owner of the transaction calls mqtt_feed once it has ended. */
	if (m->feeding || !g_atomic_int_get(&m->connected) ||
	    (m->outbox && outbox_in_tx(m->outbox)))
		return;
	m->feeding = true;
	if (m->outbox && g_hash_table_size(m->inflight) < window) {
		guint room = window - g_hash_table_size(m->inflight);
		GArray *skip = g_array_new(FALSE, FALSE, sizeof(int64_t));
		GPtrArray *recs = g_ptr_array_new_with_free_func(outbox_rec_free);
		GHashTableIter it;
		gpointer v;

		g_hash_table_iter_init(&it, m->inflight);
		while (g_hash_table_iter_next(&it, NULL, &v))
			if (((struct flight *)v)->id)
				g_array_append_val(skip, ((struct flight *)v)->id);
		outbox_next(m->outbox, OUTBOX_MQTT, (const int64_t *)(void *)skip->data, skip->len,
			    room, recs);
		for (guint i = 0; i < recs->len; i++) {
			struct outbox_rec *r = recs->pdata[i];
			int mid = 0;
			if (publish_mid(m, r->topic ? r->topic : "events", r->data, r->len,
					r->retain, &mid, qos) < 0)
				break;
			track(m, mid, r->id, r->token, false);
		}
		g_ptr_array_free(recs, TRUE);
		g_array_free(skip, TRUE);
	}
	while (g_hash_table_size(m->inflight) < window && !g_queue_is_empty(&m->pending_order)) {
		char *key = g_queue_peek_head(&m->pending_order);
		struct pend *pd = g_hash_table_lookup(m->pending, key);
		gsize n = 0;
		char *text = NULL;
		const void *d = NULL;
		int mid = 0;

		if (pd->bytes) {
			d = g_bytes_get_data(pd->bytes, &n);
		} else {
			text = pd->render(pd->ud, key, pd->idx, &n);
			d = text;
		}
		if (d && publish_mid(m, key, d, n, true, &mid, m->cfg->qos) < 0) {
			free(text);
			break;
		}
		free(text);
		g_queue_pop_head(&m->pending_order);
		g_hash_table_remove(m->pending, key);
		if (!d)
			continue; /* nothing to say any more */
		if (m->cfg->qos > 0)
			track(m, mid, 0, 0, false);
	}
	m->feeding = false;
}

/* Latest value per topic: an older state still waiting is replaced. */
static int queue_state(struct mqtt *m, const char *subtopic, const struct pend *p)
{
	char *key;
	struct pend *np = g_memdup2(p, sizeof(*p));

	if (!g_hash_table_contains(m->pending, subtopic)) {
		key = g_strdup(subtopic);
		g_hash_table_insert(m->pending, key, np);
		g_queue_push_tail(&m->pending_order, key);
	} else {
		/* insert keeps the existing key (the queue points at it) and frees ours */
		g_hash_table_insert(m->pending, g_strdup(subtopic), np);
	}
	feed(m);
	return 0;
}

int mqtt_publish(struct mqtt *m, const char *subtopic, const void *payload, size_t len, bool retain)
{
	if (!retain)
		return publish_mid(m, subtopic, payload, len, retain, NULL, m->cfg->qos);
	if (!g_atomic_int_get(&m->connected)) {
		m->st.skipped++;
		return -ENOTCONN;
	}
	return queue_state(m, subtopic, &(struct pend){.bytes = g_bytes_new(payload, len)});
}

int mqtt_publish_lazy(struct mqtt *m, const char *subtopic, mqtt_render_fn render, void *ud,
		      size_t idx)
{
	if (!g_atomic_int_get(&m->connected)) {
		m->st.skipped++;
		return -ENOTCONN;
	}
	return queue_state(m, subtopic, &(struct pend){.render = render, .ud = ud, .idx = idx});
}

void mqtt_set_outbox(struct mqtt *m, struct outbox *ob)
{
	m->outbox = ob;
	feed(m);
}

struct outbox *mqtt_outbox(const struct mqtt *m)
{
	return m->outbox;
}

int mqtt_enqueue(struct mqtt *m, int cls, const char *subtopic, const void *payload, size_t len,
		 bool retain, uint64_t token)
{
	int rc;

	if (!m->outbox)
		return -ENOTSUP;
	rc =
	    outbox_put(m->outbox, OUTBOX_MQTT, cls, subtopic, payload, len, retain, token, 1, NULL);
	if (rc < 0)
		return rc;
	feed(m);
	return 0;
}

int mqtt_enqueue_in(struct mqtt *m, int cls, const char *subtopic, const void *payload, size_t len,
		    bool retain, uint64_t token)
{
	if (!m->outbox)
		return -ENOTSUP;
	/* Connected, it goes out after the commit: the bound of the transaction leaves it. */
	return outbox_put_in(m->outbox, OUTBOX_MQTT, cls, subtopic, payload, len, retain, token, 1,
			     g_atomic_int_get(&m->connected) != 0, NULL);
}

void mqtt_feed(struct mqtt *m)
{
	feed(m);
}

int mqtt_publish_acked(struct mqtt *m, const char *subtopic, const void *payload, size_t len,
		       bool retain, uint64_t token)
{
	int mid = 0;
	int rc =
	    publish_mid(m, subtopic, payload, len, retain, &mid, m->cfg->qos > 0 ? m->cfg->qos : 1);

	if (rc < 0)
		return rc;
	track(m, mid, 0, token, true);
	return 0;
}

bool mqtt_reply_topic_allowed(const char *prefix, const char *t)
{
	size_t pl = prefix ? strlen(prefix) : 0, tl = t ? strlen(t) : 0;

	return pl > 0 && tl > pl && tl <= MQTT_REPLY_TOPIC_MAX && strncmp(t, prefix, pl) == 0 &&
	       !strpbrk(t, "+#");
}

const char *mqtt_reply_prefix(const struct mqtt *m)
{
	return m->reply_root;
}

/* A reply_id usable as one topic level under the prefix: [A-Za-z0-9_-], bounded. */
static bool reply_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > MQTT_REPLY_TOPIC_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!g_ascii_isalnum(id[i]) && id[i] != '_' && id[i] != '-')
			return false;
	return true;
}

int mqtt_reply_check(const struct mqtt *m, const struct mqtt_cmd *c)
{
	if (c->response_topic && *c->response_topic &&
	    !mqtt_reply_topic_allowed(m->reply_root, c->response_topic))
		return -EPERM;
	return 0;
}

int mqtt_reply(struct mqtt *m, const struct mqtt_cmd *c, const char *reply_id, const char *payload,
	       size_t len)
{
	mosquitto_property *props = NULL;
	char *t;
	int rc;

	if (mqtt_reply_check(m, c) < 0) {
		log_warn("no reply to %s: its response topic is outside %s", c->topic,
			 m->reply_root);
		return -EPERM;
	}
	if (!g_atomic_int_get(&m->connected))
		return -ENOTCONN;
	if (c->response_topic && *c->response_topic) {
		t = g_strdup(c->response_topic);
		if (c->corr && c->protocol == 5)
			mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, c->corr,
						      (uint16_t)c->corr_len);
	} else if (reply_id_ok(reply_id)) {
		t = g_strconcat(m->reply_root, reply_id, NULL);
	} else {
		return -ENOENT;
	}
	g_mutex_lock(&m->mosq_lock);
	rc = mosquitto_publish_v5(m->mosq, NULL, t, (int)len, payload, 1, false, props);
	g_mutex_unlock(&m->mosq_lock);
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
	bool waiting;

	m->on_cmd = fn;
	m->cmd_ud = ud;
	/* commands that came while there was no handler (a reload keeping the session) */
	g_mutex_lock(&m->lock);
	waiting = fn && m->cmdq.length > 0;
	g_mutex_unlock(&m->lock);
	if (waiting)
		post(m, EV_MESSAGE, 0);
}

void mqtt_stop_commands(struct mqtt *m, int wait_ms)
{
	int mid = -1, rc = MOSQ_ERR_NO_CONN;
	bool acked = false;
	size_t n = 0;

	if (!m || m->cmds_off)
		return;
	m->cmds_off = true;
	if (m->resub) {
		g_source_destroy(m->resub);
		g_source_unref(m->resub);
		m->resub = NULL;
	}
	if (g_atomic_int_get(&m->connected)) {
		char *t = topic(m, "cmd/+");
		g_mutex_lock(&m->mosq_lock);
		rc = mosquitto_unsubscribe_v5(m->mosq, &mid, t, NULL);
		g_mutex_unlock(&m->mosq_lock);
		g_free(t);
	}
	if (rc == MOSQ_ERR_SUCCESS) {
		/* The UNSUBACK comes after what the broker has sent us, but may overtake what it
		 * still holds back for our receive window: the end is its UNSUBACK and then no
		 * command for CMD_QUIET_MS. */
		int64_t t = g_get_monotonic_time(), until = t + (int64_t)wait_ms * 1000, since = t;
		bool quiet = false;

		g_mutex_lock(&m->lock);
		for (;;) {
			int64_t q = MAX(m->last_cmd_us, since) + CMD_QUIET_MS * 1000;
			t = g_get_monotonic_time();
			acked = m->unsub_acked == mid;
			quiet = acked && t >= q;
			if (quiet || t >= until)
				break;
			g_cond_wait_until(&m->cond, &m->lock, acked ? MIN(q, until) : until);
		}
		g_mutex_unlock(&m->lock);
		if (!acked)
			log_warn("the broker did not confirm the end of the subscription to cmd/+ "
				 "within %d ms: a command sent just before may go unanswered",
				 wait_ms);
		else if (!quiet)
			log_warn("commands still came %d ms after the end of the subscription to "
				 "cmd/+: one sent just before may go unanswered",
				 wait_ms);
	}
	while (deliver_next(m))
		n++;
	if (n)
		log_info("%zu command(s) received before the stop handed over", n);
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
	if (cfg->reply_prefix && strcmp(cfg->reply_prefix, m->reply_root) != 0) {
		g_free(m->reply_root);
		m->reply_root = g_strdup(cfg->reply_prefix);
	}
}

void mqtt_get_stats(const struct mqtt *m, struct mqtt_stats *out)
{
	*out = m->st;
	out->connected = mqtt_is_connected(m);
	out->inflight = g_hash_table_size(m->inflight);
}

int mqtt_set_status_detail(struct mqtt *m, const char *json)
{
	json_t *o = json ? json_loads(json, 0, NULL) : NULL;
	char *st;
	int rc;

	if (json && !json_is_object(o)) {
		json_decref(o);
		return -EINVAL;
	}
	json_decref(m->detail);
	m->detail = o;
	if (!g_atomic_int_get(&m->connected))
		return -ENOTCONN;
	st = status_json(m, "online");
	rc = publish_mid(m, "status", st, strlen(st), true, NULL, m->cfg->qos);
	free(st);
	return rc;
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
	g_mutex_lock(&m->lock);
	g_atomic_int_set(&m->stopping, 1);
	g_cond_broadcast(&m->cond);
	g_mutex_unlock(&m->lock);
	if (m->resub) {
		g_source_destroy(m->resub);
		g_source_unref(m->resub);
		m->resub = NULL;
	}
	g_mutex_lock(&m->mosq_lock);
	mosquitto_disconnect(m->mosq);
	g_mutex_unlock(&m->mosq_lock);
	g_thread_join(m->thread);
	mosquitto_destroy(m->mosq);
	/* Events posted by the network thread may still sit in the loop: drain them
	 * before the handle goes away. */
	m->on_cmd = NULL;
	m->on_ack = NULL;
	m->on_connected = NULL;
	m->outbox = NULL;
	g_atomic_int_set(&m->connected, 0);
	while (g_main_context_iteration(m->ctx, FALSE))
		;
	while (deliver_next(m))
		;
	if (m->cmds_dropped)
		log_warn("%zu command(s) received while the gateway stopped were not answered",
			 m->cmds_dropped);
	g_hash_table_destroy(m->inflight);
	g_queue_clear(&m->pending_order);
	g_hash_table_destroy(m->pending);
	json_decref(m->detail);
	g_hash_table_destroy(m->retained_seen);
	g_free(m->root);
	g_free(m->reply_root);
	g_mutex_clear(&m->lock);
	g_mutex_clear(&m->mosq_lock);
	g_cond_clear(&m->cond);
	free(m);
	mosquitto_lib_cleanup();
}

/* Owns the county mode: its command line, the MQTT session to the county broker (a network
 * thread of its own that hands every message to the main loop), the roll-up fed from it,
 * the alarm feed, the day rows in county.db, the KPIs as line protocol and the picture
 * file. Everything but the network thread runs on the GLib main loop. */
#define LOG_TAG "county"
#include "county/county.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "county/ccfg.h"
#include "county/page.h"
#include "county/rollup.h"
#include "county/store.h"
#include "outputs/influx.h"
#include "outputs/lineproto.h"
#include "outputs/mqtt_topic.h"

#define MAX_LISTENERS 16
#define N_SUBS 8      /* the county's subscriptions (subscribe_all) */
#define SUB_EVENTS 6  /* the events, shared or plain */
#define SUB_REPLY 7   /* the last of them: the replies to the county's commands */
#define RESUB_MS 1000 /* the wait before asking again for a refused subscription */
#define SEEN_KEEP_MS (40LL * 86400 * 1000) /* counted events remembered for dedup */

struct msg {
	char *topic;
	char *payload;
	int len;
	bool retain;
	int64_t recv_us; /* wall clock when the network thread got it */
};

struct listener {
	county_listener_fn fn;
	void *ud;
};

struct county {
	const struct county_cfg *cfg;
	struct rollup *rollup;
	struct cstore *store;
	struct influx *influx;
	struct mosquitto *mosq;
	GThread *net;
	gint stopping;
	GMutex qlock;
	GQueue queue;	 /* struct msg, under qlock */
	bool idle_armed; /* under qlock */
	guint tick_src, flush_src, kpi_src;
	struct listener listeners[MAX_LISTENERS];
	size_t n_listeners;
	bool picture_dirty;
	int64_t picture_at;    /* monotonic us of the last picture file */
	gint connected;	       /* set by the network thread */
	int64_t connected_us;  /* when the last session came up (main loop's copy) */
	gint connects;	       /* sessions so far (network thread) */
	int64_t connect_us;    /* when the last session came up (under qlock) */
	gint last_connects;    /* as the main loop last saw it */
	bool rebuilt;	       /* halls_expected reached since the last connect */
	uint64_t events, dups; /* counted and duplicate events */
	size_t root_len;
	char *events_share;
	/* network thread only: */
	char *subs[N_SUBS]; /* the topics subscribe_all subscribes to, and their QoS */
	int sub_qos[N_SUBS];
	int sub_mid[N_SUBS]; /* the message id of each one's SUBSCRIBE in this session */
	int64_t resub_at;    /* monotonic us: subscribe again to the refused ones; 0: none */
	enum { SUB_NONE = 0, SUB_PENDING, SUB_GRANTED, SUB_REFUSED } sub_state[N_SUBS];
	bool refusal_logged;
	bool in_place_logged; /* this session's subscriptions were all granted (logged) */
	gint broker;	      /* atomic: the mqtt.hosts entry of the current attempt */
	gint v311;	      /* atomic: the broker refused MQTT v5: the county speaks 3.1.1 */
	gint retry_now;	      /* atomic: reconnect at once (protocol fallback) */
	bool db_failing;
	GHashTable *pending; /* request number (as a string) -> struct pending * */
	uint64_t req_seq;
	char *req_tok; /* the client id as [A-Za-z0-9_-]: "<req_tok>-<n>" names a 3.1.1 request */
};

/* A command sent to a hall, waiting for its reply (county_command). */
struct pending {
	struct county *c;
	char *key;
	county_reply_fn fn;
	void *ud;
	guint timer;
};

static int64_t now_ms(void)
{
	return g_get_real_time() / 1000;
}

/* ---- the network thread ---- */

static void msg_free(struct msg *m)
{
	g_free(m->topic);
	g_free(m->payload);
	g_free(m);
}

static gboolean drain(gpointer data);
static void flush_days(struct county *c);

static void cb_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *mm,
		       const mosquitto_property *props)
{
	struct county *c = ud;
	struct msg *m = g_new0(struct msg, 1);
	bool arm;

	m->recv_us = g_get_real_time();
	m->topic = g_strdup(mm->topic);
	m->payload = g_memdup2(mm->payload ? mm->payload : "", (gsize)mm->payloadlen + 1);
	m->payload[mm->payloadlen] = '\0';
	m->len = mm->payloadlen;
	m->retain = mm->retain;
	g_mutex_lock(&c->qlock);
	g_queue_push_tail(&c->queue, m);
	arm = !c->idle_armed;
	c->idle_armed = true;
	g_mutex_unlock(&c->qlock);
	if (arm)
		g_idle_add_full(G_PRIORITY_DEFAULT, drain, c, NULL);
}

/* How many brokers the county may connect to: mqtt.hosts, else mqtt.host alone. */
static int n_brokers(const struct county *c)
{
	return c->cfg->n_hosts ? (int)c->cfg->n_hosts : 1;
}

/* Broker i (transfer none: the configuration's). */
static void broker_at(const struct county *c, int i, const char **host, int *port)
{
	if (c->cfg->n_hosts) {
		*host = c->cfg->hosts[(size_t)i % c->cfg->n_hosts].host;
		*port = c->cfg->hosts[(size_t)i % c->cfg->n_hosts].port;
	} else {
		*host = c->cfg->host;
		*port = c->cfg->port;
	}
}

/* The county's subscriptions: the retained picture of every hall, its events (shared or
 * plain: share_group), and the replies to the county's commands. Network thread. */
static void subs_init(struct county *c)
{
	const char *root = c->cfg->topic_root;
	const char *picture[] = {"status",	   "alert/#",	   "device/+/state",
				 "camera/+/state", "inspection/#", "tickets"};
	/* status and alerts at the configured QoS: few and important; the device, camera,
	 * inspection and ticket states at QoS 0: the retained store is their truth and is sent
	 * again on every subscription. */
	const int qos[] = {c->cfg->qos, c->cfg->qos, 0, 0, 0, 0};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(picture); i++) {
		c->subs[i] = g_strdup_printf("%s/+/%s", root, picture[i]);
		c->sub_qos[i] = qos[i];
	}
	g_assert(i == SUB_EVENTS);
	c->subs[i] = g_strdup(c->events_share);
	c->sub_qos[i++] = c->cfg->qos;
	/* Replies to the county's commands (county_command): under each hall's reply prefix;
	 * which level holds them depends on the protocol (subscribe_all). */
	g_assert(i == SUB_REPLY);
	c->sub_qos[i++] = 1;
	g_assert(i == N_SUBS);
}

static void subscribe_one(struct county *c, size_t i)
{
	int rc =
	    mosquitto_subscribe_v5(c->mosq, &c->sub_mid[i], c->subs[i], c->sub_qos[i], 0, NULL);

	c->sub_state[i] = SUB_PENDING;
	if (rc != MOSQ_ERR_SUCCESS)
		log_warn("subscribe %s: %s", c->subs[i], mosquitto_strerror(rc));
}

/* Subscribes at the start of a session. A resumed session keeps its subscriptions without
 * retained messages (the plain events and the replies) as the broker holds them, with what
 * they queued: asking for them again gains nothing, and a NATS node that fails to renew one
 * (a timeout while JetStream elects its leaders) drops it with its queued events. The
 * retained topics are asked for again (the broker sends their retained messages: the
 * picture), and so is a shared subscription (mosquitto 2.0 does not restore those from its
 * persistence, docs/county.md). */
static void subscribe_all(struct county *c, bool resumed)
{
	/* v5: <root>/<site>/reply/<client_id>/<n>, the response topic the county names; 3.1.1:
	 * <root>/<site>/reply/<req_tok>-<n>, where a hall replies to a request_id (docs/alerts.md,
	 * "Identity") */
	g_free(c->subs[SUB_REPLY]);
	c->subs[SUB_REPLY] =
	    g_atomic_int_get(&c->v311)
		? g_strdup_printf("%s/+/reply/+", c->cfg->topic_root)
		: g_strdup_printf("%s/+/reply/%s/+", c->cfg->topic_root, c->cfg->client_id);
	c->resub_at = 0;
	c->in_place_logged = false;
	for (size_t i = 0; i < N_SUBS; i++) {
		if (resumed && (i == SUB_REPLY || (i == SUB_EVENTS && !*c->cfg->share_group))) {
			c->sub_state[i] = SUB_GRANTED;
			continue;
		}
		subscribe_one(c, i);
	}
}

/* A SUBACK: a refused subscription (a cluster node electing its leaders refuses them for a
 * few seconds) is asked for again every RESUB_MS until the broker takes it; logged when the
 * refusals start and when they end, and once per session when every subscription is in
 * place. Network thread. */
static void cb_subscribe(struct mosquitto *mosq, void *ud, int mid, int n, const int *granted,
			 const mosquitto_property *props)
{
	struct county *c = ud;
	bool refused = false, pending = false;
	const char *host;
	int port;

	for (size_t i = 0; i < N_SUBS; i++) {
		if (c->sub_mid[i] != mid || c->sub_state[i] != SUB_PENDING || n < 1)
			continue;
		c->sub_state[i] = granted[0] >= 128 ? SUB_REFUSED : SUB_GRANTED;
		if (c->sub_state[i] == SUB_REFUSED && !c->refusal_logged) {
			log_warn(
			    "the broker refused the subscription to %s (%s): asking again every "
			    "%d ms",
			    c->subs[i], mosquitto_reason_string(granted[0]), RESUB_MS);
			c->refusal_logged = true;
		}
	}
	for (size_t i = 0; i < N_SUBS; i++) {
		refused |= c->sub_state[i] == SUB_REFUSED;
		pending |= c->sub_state[i] == SUB_PENDING;
	}
	if (refused && !c->resub_at)
		c->resub_at = g_get_monotonic_time() + RESUB_MS * 1000;
	if (!refused && !pending && !c->in_place_logged) {
		broker_at(c, g_atomic_int_get(&c->broker), &host, &port);
		log_info("subscriptions in place on %s:%d%s", host, port,
			 c->refusal_logged ? " (the broker took the ones it had refused)" : "");
		c->refusal_logged = false;
		c->in_place_logged = true;
	}
}

static void resubscribe_refused(struct county *c)
{
	if (!c->resub_at || g_get_monotonic_time() < c->resub_at)
		return;
	c->resub_at = 0;
	for (size_t i = 0; i < N_SUBS; i++)
		if (c->sub_state[i] == SUB_REFUSED)
			subscribe_one(c, i);
}

static void cb_connect(struct mosquitto *mosq, void *ud, int rc, int flags,
		       const mosquitto_property *props)
{
	struct county *c = ud;
	const char *host;
	int port;

	broker_at(c, g_atomic_int_get(&c->broker), &host, &port);
	if ((rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION ||
	     rc == CONNACK_REFUSED_PROTOCOL_VERSION) &&
	    !g_atomic_int_get(&c->v311)) {
		/* A broker that speaks MQTT 3.1.1 alone (nats-server): so does the county. */
		log_info("broker %s:%d refused MQTT v5: speaking MQTT 3.1.1 (a persistent session, "
			 "no session expiry)",
			 host, port);
		g_atomic_int_set(&c->v311, 1);
		g_atomic_int_set(&c->retry_now, 1);
		return;
	}
	if (rc != 0) {
		log_warn("broker %s:%d refused the session: %s", host, port,
			 mosquitto_reason_string(rc));
		return;
	}
	log_info("connected to %s:%d (MQTT %s, session %s)", host, port,
		 g_atomic_int_get(&c->v311) ? "3.1.1" : "v5", flags ? "resumed" : "new");
	if (g_atomic_int_get(&c->v311) && *c->cfg->share_group)
		log_warn("an MQTT 3.1.1 session: a broker without shared subscriptions refuses or "
			 "ignores %s; set mqtt.share_group = \"\" (one county instance)",
			 c->events_share);
	g_mutex_lock(&c->qlock);
	c->connect_us = g_get_real_time();
	g_mutex_unlock(&c->qlock);
	subscribe_all(c, flags != 0);
	g_atomic_int_inc(&c->connects);
	g_atomic_int_set(&c->connected, 1);
}

static gpointer net_thread(gpointer data)
{
	struct county *c = data;
	mosquitto_property *props = NULL;
	int delay = 200, failed = 0;
	bool failing = false;

	mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
				     (uint32_t)c->cfg->session_expiry_s);
	while (!g_atomic_int_get(&c->stopping)) {
		const char *host;
		int port, rc;

		broker_at(c, g_atomic_int_get(&c->broker), &host, &port);
		g_atomic_int_set(&c->retry_now, 0);
		mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
				     g_atomic_int_get(&c->v311) ? MQTT_PROTOCOL_V311
								: MQTT_PROTOCOL_V5);
		/* 3.1.1 has no properties: its session (clean session off) has no expiry. */
		rc = mosquitto_connect_bind_v5(c->mosq, host, port, c->cfg->keepalive_s, NULL,
					       g_atomic_int_get(&c->v311) ? NULL : props);
		if (rc == MOSQ_ERR_SUCCESS) {
			while (!g_atomic_int_get(&c->stopping)) {
				rc = mosquitto_loop(c->mosq, 100, 1);
				if (rc != MOSQ_ERR_SUCCESS || g_atomic_int_get(&c->retry_now))
					break;
				if (g_atomic_int_get(&c->connected)) {
					if (failing)
						log_info("broker %s:%d reachable again", host,
							 port);
					failing = false;
					delay = 200;
					failed = 0;
					resubscribe_refused(c);
				}
			}
		}
		if (g_atomic_int_get(&c->stopping))
			break;
		g_atomic_int_set(&c->connected, 0);
		if (g_atomic_int_get(&c->retry_now))
			continue; /* at once, in MQTT 3.1.1 */
		if (!failing)
			log_warn("lost the broker %s:%d (%s); reconnecting%s", host, port,
				 mosquitto_strerror(rc),
				 n_brokers(c) > 1 ? " to the next of mqtt.hosts" : "");
		failing = true;
		/* The next node of the cluster; the delay doubles once every node failed. */
		g_atomic_int_set(&c->broker, (g_atomic_int_get(&c->broker) + 1) % n_brokers(c));
		for (int waited = 0; waited < delay && !g_atomic_int_get(&c->stopping);
		     waited += 50)
			g_usleep(50 * 1000);
		if (++failed >= n_brokers(c)) {
			failed = 0;
			delay = delay < 2000 ? delay * 2 : 2000;
		}
	}
	if (g_atomic_int_get(&c->connected))
		mosquitto_disconnect_v5(c->mosq, 0, NULL);
	mosquitto_loop(c->mosq, 100, 1);
	mosquitto_property_free_all(&props);
	return NULL;
}

/* ---- the main loop ---- */

static void notify(struct county *c, const char *kind, const json_t *obj)
{
	for (size_t i = 0; i < c->n_listeners; i++)
		c->listeners[i].fn(kind, obj, c->listeners[i].ud);
}

static void notify_hall(struct county *c, const char *site)
{
	struct rollup_hall *h;
	json_t *o;

	c->picture_dirty = true;
	if (!c->n_listeners || !(h = rollup_find(c->rollup, site)))
		return;
	o = rollup_hall_json(h, now_ms());
	notify(c, "hall", o);
	json_decref(o);
}

/* One item of the alarm feed: logged, printed as a JSON line, published on alarm_topic,
 * stored, and handed to the listeners. */
static void feed(struct county *c, json_t *item)
{
	int64_t out_us = g_get_real_time();
	const char *site = json_string_value(json_object_get(item, "site"));
	const char *type = json_string_value(json_object_get(item, "type"));
	char *txt;

	json_object_set_new(item, "out_us", json_integer(out_us));
	txt = json_dumps(item, JSON_COMPACT);
	if (!txt)
		return;
	if (strcmp(type, "fire") == 0)
		log_warn("FIRE at %s: %s", site, txt);
	else
		log_info("%s at %s", type, site);
	if (c->cfg->feed_stdout) {
		fputs(txt, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	if (c->cfg->alarm_topic && *c->cfg->alarm_topic)
		mosquitto_publish_v5(c->mosq, NULL, c->cfg->alarm_topic, (int)strlen(txt), txt, 1,
				     false, NULL);
	cstore_alarm(c->store, out_us / 1000, site ? site : "", txt);
	notify(c, "alarm", item);
	free(txt);
}

static json_t *item_new(const char *type, const char *site, const struct msg *m)
{
	return json_pack("{s:s,s:s,s:I,s:b}", "type", type, "site", site, "recv_us",
			 (json_int_t)m->recv_us, "retained", m->retain);
}

/* Feed items for what a message changed; ev is the event or alert payload when known. */
static void feed_changes(struct county *c, const char *site, unsigned ch, const struct msg *m,
			 const json_t *ev)
{
	json_t *it;

	if (ch & ROLLUP_FIRE) {
		it = item_new("fire", site, m);
		if (ev) {
			const char *keys[] = {"seq",	 "t",	  "id",	     "priority",
					      "message", "event", "t_pub_us"};
			json_t *al = json_object_get(ev, "alert");
			for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
				json_t *v = json_object_get(ev, keys[i]);
				if (!v && al)
					v = json_object_get(al, keys[i]);
				if (v)
					json_object_set(it, keys[i], v);
			}
		}
		feed(c, it);
		json_decref(it);
	}
	if (ch & ROLLUP_ALERT) {
		it = item_new("alert", site, m);
		if (ev) {
			json_object_set(it, "id", json_object_get(ev, "id"));
			json_object_set(it, "priority", json_object_get(ev, "priority"));
			if (json_object_get(json_object_get(ev, "alert"), "message"))
				json_object_set(
				    it, "message",
				    json_object_get(json_object_get(ev, "alert"), "message"));
		}
		feed(c, it);
		json_decref(it);
	}
	if (ch & ROLLUP_FIRE_CLEARED) {
		it = item_new("fire_cleared", site, m);
		feed(c, it);
		json_decref(it);
	}
	/* A retained status is the picture, not news: a restart does not flood the feed. */
	if (m->retain)
		ch &= ~(unsigned)(ROLLUP_OFFLINE | ROLLUP_ONLINE);
	if (ch & ROLLUP_OFFLINE) {
		it = item_new("offline", site, m);
		feed(c, it);
		json_decref(it);
	}
	if (ch & ROLLUP_ONLINE) {
		it = item_new("online", site, m);
		feed(c, it);
		json_decref(it);
	}
}

static void handle_event(struct county *c, const char *site, const struct msg *m)
{
	json_t *ev = json_loadb(m->payload, (size_t)m->len, 0, NULL);
	json_t *seqv = json_object_get(ev, "seq");
	unsigned ch;
	int rc;

	if (!json_is_object(ev) || !json_is_integer(seqv)) {
		log_debug("%s: an event without seq, ignored", m->topic);
		json_decref(ev);
		return;
	}
	rc = cstore_event_new(c->store, site, json_integer_value(seqv), m->recv_us / 1000);
	if (rc == 0) {
		c->dups++;
		json_decref(ev);
		return;
	}
	/* rc < 0: the database cannot say; count it rather than lose it (logged by the
	 * store when the failure run starts and ends). */
	c->events++;
	ch = rollup_event(c->rollup, site, ev, m->recv_us / 1000);
	feed_changes(c, site, ch, m, ev);
	/* A patrol or inspection record: the page shows it arriving (a surprise patrol). */
	if (g_strcmp0(json_string_value(json_object_get(ev, "event")), "inspection") == 0)
		notify(c, "record", ev);
	if (ch)
		notify_hall(c, site);
	json_decref(ev);
}

static void pending_free(gpointer data)
{
	struct pending *p = data;

	if (p->timer)
		g_source_remove(p->timer);
	g_free(p->key);
	g_free(p);
}

/* Ends a pending command with reply (transfer none). */
static void pending_end(struct pending *p, const json_t *reply)
{
	county_reply_fn fn = p->fn;
	void *ud = p->ud;
	struct county *c = p->c;

	g_hash_table_steal(c->pending, p->key);
	pending_free(p);
	fn(reply, ud);
}

/* <client_id>/<n> (v5) or <req_tok>-<n> (3.1.1): the reply to request n. */
static void handle_reply(struct county *c, const char *rest, const struct msg *m)
{
	size_t n = strlen(c->cfg->client_id), t = strlen(c->req_tok);
	struct pending *p;
	json_t *r;

	if (strncmp(rest, c->cfg->client_id, n) == 0 && rest[n] == '/')
		p = g_hash_table_lookup(c->pending, rest + n + 1);
	else if (strncmp(rest, c->req_tok, t) == 0 && rest[t] == '-')
		p = g_hash_table_lookup(c->pending, rest + t + 1);
	else
		return;
	if (!p)
		return;
	r = json_loadb(m->payload, (size_t)m->len, 0, NULL);
	if (!json_is_object(r)) {
		json_decref(r);
		r = json_pack("{s:b,s:s,s:s}", "ok", false, "error", "bad_reply", "message",
			      "the hall's reply is not a JSON object");
	}
	pending_end(p, r);
	json_decref(r);
}

static gboolean on_reply_timeout(gpointer data)
{
	struct pending *p = data;
	json_t *r = json_pack("{s:b,s:s,s:s}", "ok", false, "error", "timeout", "message",
			      "no reply from the hall");

	p->timer = 0;
	pending_end(p, r);
	json_decref(r);
	return G_SOURCE_REMOVE;
}

int county_command(struct county *c, const char *site, const char *verb, const json_t *args,
		   const char *user, int timeout_ms, county_reply_fn fn, void *ud)
{
	struct pending *p;
	mosquitto_property *props = NULL;
	char *topic, *resp, *txt;
	int rc;

	if (!site[0] || strpbrk(site, "/+#") || !verb[0] || strpbrk(verb, "/+#"))
		return -EINVAL;
	p = g_new0(struct pending, 1);
	p->c = c;
	p->fn = fn;
	p->ud = ud;
	p->key = g_strdup_printf("%" PRIu64, ++c->req_seq);
	topic = g_strdup_printf("%s/%s/cmd/%s", c->cfg->topic_root, site, verb);
	resp = g_strdup_printf("%s/%s/reply/%s/%s", c->cfg->topic_root, site, c->cfg->client_id,
			       p->key);
	if (g_atomic_int_get(&c->v311)) {
		/* MQTT 3.1.1 has no response topic, correlation data or user property: the
		 * request names its request_id and user in the payload, and the hall replies on
		 * <its reply prefix><request_id> (docs/alerts.md, "Identity"). */
		json_t *o = json_is_object(args) ? json_deep_copy(args) : json_object();
		char *rid = g_strdup_printf("%s-%s", c->req_tok, p->key);
		json_object_set_new(o, "request_id", json_string(rid));
		json_object_set_new(o, "user", json_string(user));
		txt = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		g_free(rid);
	} else {
		txt = args ? json_dumps(args, JSON_COMPACT) : strdup("{}");
		mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, resp);
		mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, p->key,
					      (uint16_t)strlen(p->key));
		mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "user", user);
	}
	rc =
	    txt ? mosquitto_publish_v5(c->mosq, NULL, topic, (int)strlen(txt), txt, 1, false, props)
		: MOSQ_ERR_NOMEM;
	mosquitto_property_free_all(&props);
	free(txt);
	g_free(topic);
	g_free(resp);
	if (rc != MOSQ_ERR_SUCCESS) {
		log_warn("cmd/%s to %s: %s", verb, site, mosquitto_strerror(rc));
		pending_free(p);
		return -EIO;
	}
	log_info("%s sent cmd/%s to %s", user, verb, site);
	p->timer = g_timeout_add((guint)timeout_ms, on_reply_timeout, p);
	g_hash_table_insert(c->pending, p->key, p);
	return 0;
}

void county_command_cancel(struct county *c, void *ud)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, c->pending);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (((struct pending *)v)->ud == ud) {
			g_hash_table_iter_steal(&it);
			pending_free(v);
		}
}

json_t *county_ranking(struct county *c, int64_t from_day, int64_t to_day)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_t *rows = json_array(), *head = NULL;
	char **lines;
	int rc;

	if (!f)
		return NULL;
	flush_days(c); /* today's counters as they are now */
	rc = cstore_ranking_csv(c->store, from_day, to_day, f);
	fclose(f);
	if (rc < 0) {
		free(buf);
		json_decref(rows);
		return NULL;
	}
	lines = g_strsplit(buf ? buf : "", "\n", -1);
	for (char **l = lines; *l; l++) {
		char **v;
		json_t *row;
		if (!**l)
			continue;
		v = g_strsplit(*l, ",", -1);
		if (!head) {
			head = json_array();
			for (char **x = v; *x; x++)
				json_array_append_new(head, json_string(*x));
			g_strfreev(v);
			continue;
		}
		row = json_object();
		for (size_t i = 0; v[i] && i < json_array_size(head); i++) {
			const char *k = json_string_value(json_array_get(head, i));
			char *end;
			double d = g_ascii_strtod(v[i], &end);
			if (strcmp(k, "site") != 0 && *v[i] && !*end)
				json_object_set_new(row, k, json_real(d));
			else
				json_object_set_new(row, k, json_string(v[i]));
		}
		json_array_append_new(rows, row);
		g_strfreev(v);
	}
	g_strfreev(lines);
	free(buf);
	json_decref(head);
	return rows;
}

const struct county_cfg *county_config(const struct county *c)
{
	return c->cfg;
}

static void check_rebuilt(struct county *c)
{
	if (c->rebuilt || c->cfg->halls_expected <= 0)
		return;
	if (rollup_count_status(c->rollup) >= (size_t)c->cfg->halls_expected) {
		int64_t ms = (g_get_real_time() - c->connected_us) / 1000;
		json_t *it =
		    json_pack("{s:s,s:I,s:I}", "type", "rebuilt", "halls",
			      (json_int_t)rollup_count_status(c->rollup), "ms", (json_int_t)ms);
		c->rebuilt = true;
		log_info("picture rebuilt: %zu halls %" PRId64 " ms after connecting",
			 rollup_count_status(c->rollup), ms);
		if (c->cfg->feed_stdout) {
			char *txt = json_dumps(it, JSON_COMPACT);
			puts(txt);
			fflush(stdout);
			free(txt);
		}
		notify(c, "rebuilt", it);
		json_decref(it);
	}
}

static void handle(struct county *c, struct msg *m)
{
	const char *root = c->cfg->topic_root;
	const char *rest, *slash;
	char *site, *plain = NULL;
	unsigned ch;

	if (strncmp(m->topic, root, c->root_len) != 0 || m->topic[c->root_len] != '/')
		return;
	rest = m->topic + c->root_len + 1;
	/* A hall with mqtt.topic_escape writes the dots of its ids as %2E (a broker that refuses
	 * dots): decoded always, which leaves a v1 topic as it is (docs/mqtt.md). */
	if (mqtt_topic_escaped(rest))
		rest = plain = mqtt_topic_unescape(rest);
	slash = strchr(rest, '/');
	if (!slash || slash == rest) {
		g_free(plain);
		return;
	}
	site = g_strndup(rest, (gsize)(slash - rest));
	if (g_str_has_prefix(slash + 1, "reply/")) {
		handle_reply(c, slash + 7, m);
	} else if (strcmp(slash + 1, "events") == 0) {
		handle_event(c, site, m);
	} else {
		json_t *al = NULL;
		ch = rollup_message(c->rollup, site, slash + 1, m->payload, (size_t)m->len,
				    m->retain, m->recv_us / 1000);
		if ((ch & ROLLUP_FIRE) && strncmp(slash + 1, "alert/", 6) == 0)
			al = json_loadb(m->payload, (size_t)m->len, 0, NULL);
		feed_changes(c, site, ch, m, al);
		json_decref(al);
		if (ch)
			notify_hall(c, site);
	}
	g_free(site);
	g_free(plain);
}

static gboolean drain(gpointer data)
{
	struct county *c = data;
	int n = 0;

	if (g_atomic_int_get(&c->connects) != c->last_connects) {
		c->last_connects = g_atomic_int_get(&c->connects);
		g_mutex_lock(&c->qlock);
		c->connected_us = c->connect_us;
		g_mutex_unlock(&c->qlock);
		c->rebuilt = false;
	}
	for (;;) {
		struct msg *m;
		g_mutex_lock(&c->qlock);
		m = g_queue_pop_head(&c->queue);
		if (!m || ++n > 2000) {
			if (m)
				g_queue_push_head(&c->queue, m);
			else
				c->idle_armed = false;
			g_mutex_unlock(&c->qlock);
			check_rebuilt(c);
			/* More than a batch waiting: come back after other sources ran. */
			return m ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
		}
		g_mutex_unlock(&c->qlock);
		handle(c, m);
		msg_free(m);
	}
}

static void write_picture(struct county *c)
{
	int64_t t0 = g_get_monotonic_time();
	GString *txt;
	char *tmp;
	FILE *f;

	if (!c->picture_dirty || !c->cfg->picture_file || !*c->cfg->picture_file)
		return;
	/* Not more often than picture_ms: the loop waits while it is written. */
	if (t0 - c->picture_at < (int64_t)c->cfg->picture_ms * 1000)
		return;
	c->picture_at = t0;
	c->picture_dirty = false;
	txt = g_string_new(NULL);
	rollup_json_text(c->rollup, now_ms(), txt);
	g_string_append_printf(txt,
			       ",\"halls_expected\":%d,\"events\":%" PRIu64
			       ",\"duplicates\":%" PRIu64 ",\"connected\":%s}\n",
			       c->cfg->halls_expected, c->events, c->dups,
			       g_atomic_int_get(&c->connected) ? "true" : "false");
	tmp = g_strdup_printf("%s.tmp", c->cfg->picture_file);
	f = fopen(tmp, "w");
	if (f) {
		bool ok = fwrite(txt->str, 1, txt->len, f) == txt->len;
		if (fclose(f) != 0)
			ok = false;
		if (!ok)
			f = NULL;
	}
	if (!f) {
		log_warn("cannot write %s: %s", tmp, g_strerror(errno));
	} else if (rename(tmp, c->cfg->picture_file) < 0) {
		log_warn("cannot rename %s: %s", tmp, g_strerror(errno));
	}
	log_debug("picture file: %zu bytes in %" PRId64 " us", txt->len,
		  g_get_monotonic_time() - t0);
	g_free(tmp);
	g_string_free(txt, TRUE);
}

static gboolean on_tick(gpointer data)
{
	struct county *c = data;
	struct rollup_hall *silent[64];
	size_t n = rollup_tick(c->rollup, now_ms(), silent, G_N_ELEMENTS(silent));

	for (size_t i = 0; i < n && i < G_N_ELEMENTS(silent); i++) {
		const char *site = rollup_hall_site(silent[i]);
		json_t *it = json_pack("{s:s,s:s,s:I,s:b}", "type", "silent", "site", site,
				       "recv_us", (json_int_t)g_get_real_time(), "retained", 0);
		feed(c, it);
		json_decref(it);
		notify_hall(c, site);
	}
	if (n > G_N_ELEMENTS(silent))
		log_warn("%zu more halls went silent (not in the feed one by one)",
			 n - G_N_ELEMENTS(silent));
	check_rebuilt(c);
	write_picture(c);
	return G_SOURCE_CONTINUE;
}

static void day_to_db(const char *site, const struct rollup_day *d, void *ud)
{
	struct county *c = ud;

	cstore_day(c->store, site, d);
}

static void hall_to_db(struct rollup_hall *h, void *ud)
{
	struct county *c = ud;

	if (rollup_hall_day(h)->day >= 0)
		cstore_day(c->store, rollup_hall_site(h), rollup_hall_day(h));
}

static void flush_days(struct county *c)
{
	rollup_tick(c->rollup, now_ms(), NULL, 0);
	if (cstore_begin(c->store) < 0)
		return;
	rollup_foreach(c->rollup, hall_to_db, c);
	cstore_commit(c->store);
	cstore_prune(c->store, now_ms() - SEEN_KEEP_MS);
}

static gboolean on_flush(gpointer data)
{
	flush_days(data);
	return G_SOURCE_CONTINUE;
}

static double rate(int64_t a, int64_t b)
{
	return b > 0 ? (double)a / (double)b : 1.0;
}

struct kpi_ctx {
	GString *buf;
	int64_t ts_ns;
	int64_t n, online, fire, silent;
};

static void hall_kpi(struct rollup_hall *h, void *ud)
{
	struct kpi_ctx *k = ud;
	json_t *o = rollup_hall_json(h, k->ts_ns / 1000000);
	const struct rollup_day *d = rollup_hall_day(h);
	json_t *al = json_object_get(o, "alerts");
	struct lp_line l;

	k->n++;
	k->online += json_is_true(json_object_get(o, "online"));
	k->fire += json_is_true(json_object_get(o, "fire"));
	k->silent += strcmp(json_string_value(json_object_get(o, "status")), "silent") == 0;
	lp_begin(&l, k->buf, "county_hall");
	lp_tag(&l, "site", rollup_hall_site(h));
	lp_field_bool(&l, "online", json_is_true(json_object_get(o, "online")));
	lp_field_bool(&l, "fire", json_is_true(json_object_get(o, "fire")));
	lp_field_string(&l, "status", json_string_value(json_object_get(o, "status")));
	lp_field_int(&l, "open_alerts", json_integer_value(json_object_get(al, "open")));
	lp_field_int(&l, "p1_alerts",
		     json_integer_value(json_object_get(json_object_get(al, "by_priority"), "1")));
	lp_field_int(&l, "faults", json_integer_value(json_object_get(o, "faults")));
	lp_field_float_dec(&l, "online_rate", rate(d->online_ms, d->observed_ms), 4);
	lp_field_float_dec(&l, "device_availability", rate(d->dev_up_ms, d->dev_ms), 4);
	lp_field_float_dec(&l, "camera_availability", rate(d->cam_up_ms, d->cam_ms), 4);
	lp_field_int(&l, "events_today", d->events);
	lp_field_int(&l, "fire_alarms_today", d->fire_alarms);
	lp_field_int(&l, "patrols_done_today", d->patrols_done);
	lp_field_int(&l, "patrols_due_today", d->patrols_due);
	lp_field_int(
	    &l, "overdue_inspections",
	    json_integer_value(json_object_get(json_object_get(o, "inspections"), "overdue")));
	lp_end(&l, k->ts_ns);
	json_decref(o);
}

static gboolean on_kpi(gpointer data)
{
	struct county *c = data;
	struct kpi_ctx k = {.buf = g_string_new(NULL), .ts_ns = now_ms() * 1000000};
	struct lp_line l;

	rollup_tick(c->rollup, now_ms(), NULL, 0);
	rollup_foreach(c->rollup, hall_kpi, &k);
	lp_begin(&l, k.buf, "county");
	lp_field_int(&l, "halls", k.n);
	lp_field_int(&l, "halls_online", k.online);
	lp_field_int(&l, "halls_fire", k.fire);
	lp_field_int(&l, "halls_silent", k.silent);
	lp_field_int(&l, "events", (int64_t)c->events);
	lp_field_int(&l, "duplicates", (int64_t)c->dups);
	lp_end(&l, k.ts_ns);
	if (c->influx)
		influx_submit(c->influx, k.buf->str, k.buf->len);
	g_string_free(k.buf, TRUE);
	return G_SOURCE_CONTINUE;
}

static void restore_day(const char *site, const struct rollup_day *d, void *ud)
{
	struct county *c = ud;

	rollup_hall_restore_day(rollup_hall(c->rollup, site), d);
}

int county_create(const struct county_cfg *cfg, struct county **out)
{
	struct county *c = g_new0(struct county, 1);
	struct rollup_cfg rc_cfg = {
	    .silent_after_ms = (int64_t)(cfg->heartbeat_s * cfg->heartbeat_grace * 1000),
	    .footage_required_ms = (int64_t)cfg->footage_days * 86400 * 1000,
	};
	int rc;

	c->cfg = cfg;
	c->root_len = strlen(cfg->topic_root);
	/* share_group "": a single instance with a plain subscription, which mosquitto keeps
	 * across its own restart (it does not restore shared ones from persistence). */
	c->events_share = *cfg->share_group ? g_strdup_printf("$share/%s/%s/+/events",
							      cfg->share_group, cfg->topic_root)
					    : g_strdup_printf("%s/+/events", cfg->topic_root);
	subs_init(c);
	/* at most 100 bytes: the hall takes a request_id of up to 128 (router/cmdreq.h) */
	c->req_tok = g_strndup(cfg->client_id, 100);
	for (char *q = c->req_tok; *q; q++)
		if (!g_ascii_isalnum(*q) && *q != '_' && *q != '-')
			*q = '_';
	g_mutex_init(&c->qlock);
	g_queue_init(&c->queue);
	c->pending = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, pending_free);
	rollup_create(&rc_cfg, day_to_db, c, &c->rollup);
	rc = cstore_open(cfg->state_dir, cfg->client_id, &c->store);
	if (rc < 0)
		goto fail;
	/* Today's counters of this instance, as the last run left them. */
	cstore_load_day(c->store, rollup_day_of(now_ms()), restore_day, c);
	if (cfg->influx.enabled) {
		rc = influx_create(&cfg->influx, &c->influx);
		if (rc < 0)
			goto fail;
	}
	c->mosq = mosquitto_new(cfg->client_id, false, c);
	if (!c->mosq) {
		rc = -ENOMEM;
		goto fail;
	}
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_int_option(c->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
	mosquitto_max_inflight_messages_set(c->mosq, 1000);
	mosquitto_connect_v5_callback_set(c->mosq, cb_connect);
	mosquitto_subscribe_v5_callback_set(c->mosq, cb_subscribe);
	mosquitto_message_v5_callback_set(c->mosq, cb_message);
	if (cfg->username && *cfg->username)
		mosquitto_username_pw_set(c->mosq, cfg->username, cfg->password);
	if (cfg->cafile) {
		rc = mosquitto_tls_set(c->mosq, cfg->cafile, NULL, cfg->certfile, cfg->keyfile,
				       NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_insecure_set(c->mosq, cfg->insecure);
		if (rc != MOSQ_ERR_SUCCESS) {
			log_err("TLS setup (cafile %s): %s", cfg->cafile, mosquitto_strerror(rc));
			rc = -EINVAL;
			goto fail;
		}
	}
	c->net = g_thread_new("county-mqtt", net_thread, c);
	c->tick_src = g_timeout_add(cfg->tick_ms, on_tick, c);
	c->flush_src = g_timeout_add_seconds(cfg->flush_s, on_flush, c);
	c->kpi_src = g_timeout_add_seconds(cfg->kpi_s, on_kpi, c);
	c->connected_us = g_get_real_time();
	{
		const char *host;
		int port;
		broker_at(c, 0, &host, &port);
		log_info("county watching %s/+/ on %s:%d%s as %s (events through %s)",
			 cfg->topic_root, host, port,
			 n_brokers(c) > 1 ? " (first of mqtt.hosts)" : "", cfg->client_id,
			 c->events_share);
	}
	*out = c;
	return 0;
fail:
	county_destroy(c);
	return rc;
}

void county_destroy(struct county *c)
{
	struct msg *m;

	if (!c)
		return;
	if (c->net) {
		g_atomic_int_set(&c->stopping, 1);
		g_thread_join(c->net);
	}
	if (c->tick_src)
		g_source_remove(c->tick_src);
	if (c->flush_src)
		g_source_remove(c->flush_src);
	if (c->kpi_src)
		g_source_remove(c->kpi_src);
	g_idle_remove_by_data(c);
	while ((m = g_queue_pop_head(&c->queue)))
		msg_free(m);
	if (c->store && c->rollup)
		flush_days(c);
	if (c->mosq)
		mosquitto_destroy(c->mosq);
	influx_destroy(c->influx, 2000);
	cstore_close(c->store);
	rollup_destroy(c->rollup);
	g_mutex_clear(&c->qlock);
	if (c->pending) {
		/* Waiting commands end unanswered: their callers go with the county. */
		g_hash_table_destroy(c->pending);
	}
	g_free(c->events_share);
	for (size_t i = 0; i < N_SUBS; i++)
		g_free(c->subs[i]);
	g_free(c->req_tok);
	g_free(c);
}

json_t *county_picture(struct county *c)
{
	json_t *p = rollup_json(c->rollup, now_ms());

	json_object_set_new(p, "halls_expected", json_integer(c->cfg->halls_expected));
	json_object_set_new(p, "events", json_integer((json_int_t)c->events));
	json_object_set_new(p, "duplicates", json_integer((json_int_t)c->dups));
	json_object_set_new(p, "connected", json_boolean(g_atomic_int_get(&c->connected)));
	return p;
}

json_t *county_hall(struct county *c, const char *site)
{
	struct rollup_hall *h = rollup_find(c->rollup, site);
	json_t *o;

	if (!h)
		return NULL;
	o = rollup_hall_json(h, now_ms());
	json_object_set_new(o, "detail", rollup_hall_detail(h));
	return o;
}

int county_listen(struct county *c, county_listener_fn fn, void *ud)
{
	if (c->n_listeners >= MAX_LISTENERS)
		return -ENOSPC;
	c->listeners[c->n_listeners].fn = fn;
	c->listeners[c->n_listeners].ud = ud;
	c->n_listeners++;
	return 0;
}

int county_unlisten(struct county *c, county_listener_fn fn, void *ud)
{
	for (size_t i = 0; i < c->n_listeners; i++) {
		if (c->listeners[i].fn == fn && c->listeners[i].ud == ud) {
			memmove(&c->listeners[i], &c->listeners[i + 1],
				(c->n_listeners - i - 1) * sizeof(c->listeners[0]));
			c->n_listeners--;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- the command line ---- */

static gboolean on_signal(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_CONTINUE;
}

static int run(const struct county_cfg *cfg)
{
	GMainLoop *loop = g_main_loop_new(NULL, FALSE);
	struct county *c = NULL;
	struct county_page *page = NULL;
	guint s1, s2;
	int rc;

	mosquitto_lib_init();
	rc = county_create(cfg, &c);
	if (rc < 0) {
		log_err("county cannot start: %s", g_strerror(-rc));
		mosquitto_lib_cleanup();
		g_main_loop_unref(loop);
		return 1;
	}
	rc = county_page_create(cfg, c, &page);
	if (rc < 0) {
		log_err("county page cannot start: %s", g_strerror(-rc));
		county_destroy(c);
		mosquitto_lib_cleanup();
		g_main_loop_unref(loop);
		return 1;
	}
	s1 = g_unix_signal_add(SIGTERM, on_signal, loop);
	s2 = g_unix_signal_add(SIGINT, on_signal, loop);
	g_main_loop_run(loop);
	log_info("county stopping");
	g_source_remove(s1);
	g_source_remove(s2);
	county_page_destroy(page);
	county_destroy(c);
	mosquitto_lib_cleanup();
	g_main_loop_unref(loop);
	return 0;
}

/* "2026-11" -> the first and last day index of the month. */
static int parse_month(const char *s, int64_t *from, int64_t *to)
{
	int y, m;
	char tail;
	GDateTime *a, *b;

	if (sscanf(s, "%4d-%2d%c", &y, &m, &tail) != 2 || m < 1 || m > 12 || y < 1970)
		return -EINVAL;
	a = g_date_time_new_utc(y, m, 1, 0, 0, 0);
	b = g_date_time_add_months(a, 1);
	*from = g_date_time_to_unix(a) / 86400;
	*to = g_date_time_to_unix(b) / 86400 - 1;
	g_date_time_unref(a);
	g_date_time_unref(b);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hallwatch county -c FILE [--log-level LEVEL]\n"
		   "       hallwatch county report -c FILE --month YYYY-MM   (ranking as CSV)\n");
}

int county_main(int argc, char **argv)
{
	const char *path = NULL, *month = NULL;
	bool report = false;
	enum hw_log_level lvl = HW_LOG_INFO;
	struct cfg_errors errs = {0};
	struct county_cfg *cfg = NULL;
	int rc;

	for (int i = 2; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--month") == 0 && i + 1 < argc) {
			month = argv[++i];
		} else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
			if (hw_log_parse_level(argv[++i], &lvl) < 0) {
				fprintf(stderr, "hallwatch: unknown log level %s\n", argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "report") == 0 && i == 2) {
			report = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "hallwatch county: unexpected argument %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	hw_log_set_level(lvl);
	if (!path || (report && !month) || (!report && month)) {
		usage(stderr);
		return 2;
	}
	if (county_cfg_load(path, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		cfg_errors_clear(&errs);
		return 1;
	}
	if (report) {
		int64_t from, to;
		struct cstore *s = NULL;
		if (parse_month(month, &from, &to) < 0) {
			fprintf(stderr, "hallwatch county: --month wants YYYY-MM\n");
			county_cfg_free(cfg);
			return 2;
		}
		rc = cstore_open(cfg->state_dir, cfg->client_id, &s);
		if (rc == 0)
			rc = cstore_ranking_csv(s, from, to, stdout);
		cstore_close(s);
		county_cfg_free(cfg);
		if (rc < 0)
			fprintf(stderr, "hallwatch county: report: %s\n", g_strerror(-rc));
		return rc < 0 ? 1 : 0;
	}
	rc = run(cfg);
	county_cfg_free(cfg);
	return rc;
}

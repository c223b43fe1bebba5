/* Owns the county's configuration file: the option table of the `county` group, its
 * defaults and ranges, and the validation that collects every error as file:line. Runs on
 * the main thread at start. (The county's file is not the gateway's: it has its own loader
 * here, which reads it with libconfig.) */
#define LOG_TAG "county"
#include "county/ccfg.h"

#include <errno.h>
#include <glib.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { O_STR, O_INT, O_BOOL, O_DOUBLE };

struct opt {
	const char *group; /* NULL: county itself */
	const char *name;
	enum opt_type type;
	size_t off;
	long long min, max;
	const char *dflt_s;
	long long dflt_i;
	double dflt_d;
};

#define S(g, n, f, d)                                                                              \
	{                                                                                          \
		g, n, O_STR, offsetof(struct county_cfg, f), 0, 0, d, 0, 0                         \
	}
#define I(g, n, f, lo, hi, d)                                                                      \
	{                                                                                          \
		g, n, O_INT, offsetof(struct county_cfg, f), lo, hi, NULL, d, 0                    \
	}
#define B(g, n, f, d)                                                                              \
	{                                                                                          \
		g, n, O_BOOL, offsetof(struct county_cfg, f), 0, 1, NULL, d, 0                     \
	}
#define D(g, n, f, lo, hi, d)                                                                      \
	{                                                                                          \
		g, n, O_DOUBLE, offsetof(struct county_cfg, f), lo, hi, NULL, 0, d                 \
	}

static const struct opt opts[] = {
    S("mqtt", "host", host, "127.0.0.1"),
    I("mqtt", "port", port, 1, 65535, 1883),
    S("mqtt", "client_id", client_id, "hallwatch-county"),
    S("mqtt", "username", username, NULL),
    S("mqtt", "password", password, NULL),
    S("mqtt", "password_file", password_file, NULL),
    S("mqtt", "cafile", cafile, NULL),
    S("mqtt", "certfile", certfile, NULL),
    S("mqtt", "keyfile", keyfile, NULL),
    B("mqtt", "insecure", insecure, 0),
    I("mqtt", "keepalive_s", keepalive_s, 5, 3600, 30),
    I("mqtt", "session_expiry_s", session_expiry_s, 0, 2147483647, 86400),
    S("mqtt", "topic_root", topic_root, "hallwatch/v1"),
    S("mqtt", "share_group", share_group, "county"),
    S("mqtt", "alarm_topic", alarm_topic, "county/alarms"),
    I("mqtt", "qos", qos, 1, 2, 1),
    I(NULL, "halls_expected", halls_expected, 0, 1000000, 0),
    I(NULL, "heartbeat_s", heartbeat_s, 1, 86400, 60),
    D(NULL, "heartbeat_grace", heartbeat_grace, 1, 100, 3.0),
    I(NULL, "footage_days", footage_days, 0, 3650, 30),
    S(NULL, "state_dir", state_dir, "/var/lib/hallwatch-county"),
    S(NULL, "picture_file", picture_file, ""),
    I(NULL, "picture_ms", picture_ms, 50, 3600000, 5000),
    I(NULL, "tick_ms", tick_ms, 50, 60000, 1000),
    I(NULL, "flush_s", flush_s, 1, 86400, 60),
    I(NULL, "kpi_s", kpi_s, 1, 86400, 60),
    B(NULL, "feed_stdout", feed_stdout, 1),
};

static const char *const influx_keys[] = {"url", "database", "username", "password",   "version",
					  "org", "bucket",   "token",	 "max_buffer", NULL};

static void err(struct cfg_errors *e, const config_setting_t *s, const char *path, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));
static void err(struct cfg_errors *e, const config_setting_t *s, const char *path, const char *fmt,
		...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	m = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	e->msgs = g_renew(char *, e->msgs, e->n + 1);
	e->msgs[e->n++] =
	    g_strdup_printf("%s:%d: %s", path, s ? (int)config_setting_source_line(s) : 0, m);
	g_free(m);
}

static bool known(const char *group, const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(opts); i++)
		if (g_strcmp0(opts[i].group, group) == 0 && strcmp(opts[i].name, name) == 0)
			return true;
	return false;
}

static void set_defaults(struct county_cfg *c)
{
	for (size_t i = 0; i < G_N_ELEMENTS(opts); i++) {
		char *p = (char *)c + opts[i].off;
		switch (opts[i].type) {
		case O_STR:
			*(char **)p = g_strdup(opts[i].dflt_s);
			break;
		case O_INT:
			*(int *)p = (int)opts[i].dflt_i;
			break;
		case O_BOOL:
			*(bool *)p = opts[i].dflt_i != 0;
			break;
		case O_DOUBLE:
			*(double *)p = opts[i].dflt_d;
			break;
		}
	}
	c->influx.version = 1;
	c->influx.database = g_strdup("county");
	c->influx.batch_size = 5000;
	c->influx.flush_interval_ms = 1000;
	c->influx.timeout_ms = 5000;
	c->influx.max_buffer = 1000000;
	c->influx.retry_min_ms = 500;
	c->influx.retry_max_ms = 30000;
}

static void read_opt(const struct opt *o, const config_setting_t *s, struct county_cfg *c,
		     const char *path, struct cfg_errors *e)
{
	char *p = (char *)c + o->off;
	long long v;

	switch (o->type) {
	case O_STR:
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			err(e, s, path, "%s: a string is expected", o->name);
			return;
		}
		g_free(*(char **)p);
		*(char **)p = g_strdup(config_setting_get_string(s));
		return;
	case O_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
			err(e, s, path, "%s: true or false is expected", o->name);
			return;
		}
		*(bool *)p = config_setting_get_bool(s);
		return;
	case O_INT:
		if (config_setting_type(s) != CONFIG_TYPE_INT &&
		    config_setting_type(s) != CONFIG_TYPE_INT64) {
			err(e, s, path, "%s: an integer is expected", o->name);
			return;
		}
		v = config_setting_get_int64(s);
		if (v < o->min || v > o->max) {
			err(e, s, path, "%s: %lld is out of range %lld..%lld", o->name, v, o->min,
			    o->max);
			return;
		}
		*(int *)p = (int)v;
		return;
	case O_DOUBLE: {
		double d;
		if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
			d = config_setting_get_float(s);
		else if (config_setting_type(s) == CONFIG_TYPE_INT)
			d = config_setting_get_int(s);
		else {
			err(e, s, path, "%s: a number is expected", o->name);
			return;
		}
		if (d < o->min || d > o->max) {
			err(e, s, path, "%s: %g is out of range %lld..%lld", o->name, d, o->min,
			    o->max);
			return;
		}
		*(double *)p = d;
		return;
	}
	}
}

/* county.mqtt.hosts = [ "10.0.0.1:1883", "[fd00::2]:1883", "broker3" ]: the nodes of one
 * cluster, as the hall's mqtt.hosts (core/config.h cfg_broker_parse). */
static void read_hosts(const config_setting_t *l, struct county_cfg *c, const char *path,
		       struct cfg_errors *e)
{
	int n = config_setting_length(l);

	if ((config_setting_type(l) != CONFIG_TYPE_ARRAY &&
	     config_setting_type(l) != CONFIG_TYPE_LIST) ||
	    n == 0) {
		err(e, l, path,
		    "county.mqtt.hosts: a non-empty array of brokers [ \"host:port\", ... ] is "
		    "expected");
		return;
	}
	c->hosts = g_new0(struct cfg_broker, (gsize)n);
	for (int i = 0; i < n; i++) {
		config_setting_t *h = config_setting_get_elem(l, (unsigned)i);
		const char *v = config_setting_get_string(h), *why;
		char *host = NULL;
		int port = 0;

		if (cfg_broker_parse(v, &host, &port, &why) < 0) {
			if (!why)
				why = "out of memory";
			err(e, h, path, "county.mqtt.hosts[%d]: \"%s\"%s%s", i, v ? v : "",
			    *why == ':' ? "" : " ", why);
			continue;
		}
		c->hosts[c->n_hosts].host = host;
		c->hosts[c->n_hosts++].port = port;
	}
}

static void read_group(const config_setting_t *g, const char *gname, struct county_cfg *c,
		       const char *path, struct cfg_errors *e)
{
	for (int i = 0; i < config_setting_length(g); i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		if (!gname && (strcmp(name, "mqtt") == 0 || strcmp(name, "influx") == 0 ||
			       strcmp(name, "http") == 0 || strcmp(name, "halls") == 0))
			continue;
		if (g_strcmp0(gname, "mqtt") == 0 && strcmp(name, "hosts") == 0) {
			read_hosts(s, c, path, e);
			continue;
		}
		if (!known(gname, name)) {
			err(e, s, path, "unknown setting county.%s%s%s", gname ? gname : "",
			    gname ? "." : "", name);
			continue;
		}
		for (size_t k = 0; k < G_N_ELEMENTS(opts); k++)
			if (g_strcmp0(opts[k].group, gname) == 0 && strcmp(opts[k].name, name) == 0)
				read_opt(&opts[k], s, c, path, e);
	}
}

static void read_influx(const config_setting_t *g, struct county_cfg *c, const char *path,
			struct cfg_errors *e)
{
	struct cfg_influx *ix = &c->influx;

	for (int i = 0; i < config_setting_length(g); i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		bool ok = false;
		for (int k = 0; influx_keys[k]; k++)
			ok |= strcmp(influx_keys[k], name) == 0;
		if (!ok) {
			err(e, s, path, "unknown setting county.influx.%s", name);
			continue;
		}
		if (strcmp(name, "version") == 0 || strcmp(name, "max_buffer") == 0) {
			int v = config_setting_get_int(s);
			if (config_setting_type(s) != CONFIG_TYPE_INT ||
			    (strcmp(name, "version") == 0 && v != 1 && v != 2) || v < 1) {
				err(e, s, path,
				    "county.influx.%s: a positive integer (version 1 or 2)", name);
				continue;
			}
			if (strcmp(name, "version") == 0)
				ix->version = v;
			else
				ix->max_buffer = v;
			continue;
		}
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			err(e, s, path, "county.influx.%s: a string is expected", name);
			continue;
		}
		char **dst = strcmp(name, "url") == 0	     ? &ix->url
			     : strcmp(name, "database") == 0 ? &ix->database
			     : strcmp(name, "username") == 0 ? &ix->username
			     : strcmp(name, "password") == 0 ? &ix->password
			     : strcmp(name, "org") == 0	     ? &ix->org
			     : strcmp(name, "bucket") == 0   ? &ix->bucket
							     : &ix->token;
		g_free(*dst);
		*dst = g_strdup(config_setting_get_string(s));
	}
	ix->enabled = ix->url && *ix->url;
}

/* county.halls = ( { site = "hall-1"; console = "https://..."; }, ... ) */
static void read_halls(const config_setting_t *l, struct county_cfg *c, const char *path,
		       struct cfg_errors *e)
{
	if (!config_setting_is_list(l)) {
		err(e, l, path,
		    "county.halls: a list ( { site = ...; console = ...; }, ... ) is "
		    "expected");
		return;
	}
	c->halls = g_new0(struct county_hall_cfg, (gsize)config_setting_length(l) + 1);
	for (int i = 0; i < config_setting_length(l); i++) {
		config_setting_t *h = config_setting_get_elem(l, (unsigned)i);
		const char *site = NULL, *console = NULL;
		if (!config_setting_is_group(h)) {
			err(e, h, path, "county.halls[%d]: a group is expected", i);
			continue;
		}
		for (int k = 0; k < config_setting_length(h); k++) {
			config_setting_t *s = config_setting_get_elem(h, (unsigned)k);
			const char *n = config_setting_name(s);
			if (strcmp(n, "site") != 0 && strcmp(n, "console") != 0)
				err(e, s, path, "unknown setting county.halls[%d].%s", i, n);
			else if (config_setting_type(s) != CONFIG_TYPE_STRING)
				err(e, s, path, "county.halls[%d].%s: a string is expected", i, n);
			else if (strcmp(n, "site") == 0)
				site = config_setting_get_string(s);
			else
				console = config_setting_get_string(s);
		}
		if (!site || !*site) {
			err(e, h, path, "county.halls[%d].site: required", i);
			continue;
		}
		if (console && !g_str_has_prefix(console, "https://") &&
		    !g_str_has_prefix(console, "http://")) {
			err(e, h, path, "county.halls[%d].console: an http:// or https:// URL", i);
			continue;
		}
		c->halls[c->n_halls].site = g_strdup(site);
		c->halls[c->n_halls].console = g_strdup(console);
		c->n_halls++;
	}
}

const char *county_cfg_console(const struct county_cfg *c, const char *site)
{
	for (size_t i = 0; i < c->n_halls; i++)
		if (strcmp(c->halls[i].site, site) == 0)
			return c->halls[i].console;
	return NULL;
}

int county_cfg_load(const char *path, struct county_cfg **out, struct cfg_errors *errs)
{
	struct county_cfg *c = g_new0(struct county_cfg, 1);
	config_t lc;
	config_setting_t *root, *g;
	size_t n0 = errs->n;

	set_defaults(c);
	config_init(&lc);
	if (!config_read_file(&lc, path)) {
		errs->msgs = g_renew(char *, errs->msgs, errs->n + 1);
		errs->msgs[errs->n++] = g_strdup_printf(
		    "%s:%d: %s", config_error_file(&lc) ? config_error_file(&lc) : path,
		    config_error_line(&lc), config_error_text(&lc));
		goto done;
	}
	root = config_root_setting(&lc);
	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		if (strcmp(config_setting_name(s), "county") != 0)
			err(errs, s, path, "unknown section %s (a county file has county { ... })",
			    config_setting_name(s));
	}
	g = config_lookup(&lc, "county");
	if (!g || !config_setting_is_group(g)) {
		err(errs, NULL, path, "no county { ... } group");
		goto done;
	}
	read_group(g, NULL, c, path, errs);
	if (config_setting_get_member(g, "mqtt")) {
		if (!config_setting_is_group(config_setting_get_member(g, "mqtt")))
			err(errs, config_setting_get_member(g, "mqtt"), path,
			    "county.mqtt: a group is expected");
		else
			read_group(config_setting_get_member(g, "mqtt"), "mqtt", c, path, errs);
	}
	if (config_setting_get_member(g, "influx")) {
		if (!config_setting_is_group(config_setting_get_member(g, "influx")))
			err(errs, config_setting_get_member(g, "influx"), path,
			    "county.influx: a group is expected");
		else
			read_influx(config_setting_get_member(g, "influx"), c, path, errs);
	}
	if (config_http_read(config_setting_get_member(g, "http"), "county.http", &c->http, errs) ==
	    -ENOMEM)
		err(errs, g, path, "county.http: out of memory");
	if (config_setting_get_member(g, "halls"))
		read_halls(config_setting_get_member(g, "halls"), c, path, errs);
	if (!*c->state_dir)
		err(errs, g, path, "county.state_dir: must not be empty");
	if (!*c->topic_root || strpbrk(c->topic_root, "+#"))
		err(errs, g, path, "county.mqtt.topic_root: a topic without wildcards is expected");
	if (strpbrk(c->share_group, "/+#"))
		err(errs, g, path, "county.mqtt.share_group: a name without / + # is expected");
	if ((c->certfile == NULL) != (c->keyfile == NULL))
		err(errs, g, path, "county.mqtt: certfile and keyfile go together");
	if (c->password_file && !c->password) {
		gchar *txt = NULL;
		GError *ge = NULL;
		if (!g_file_get_contents(c->password_file, &txt, NULL, &ge)) {
			err(errs, g, path, "county.mqtt.password_file: %s", ge->message);
			g_error_free(ge);
		} else {
			c->password = g_strdup(g_strchomp(txt));
			g_free(txt);
		}
	}
done:
	config_destroy(&lc);
	if (errs->n > n0) {
		county_cfg_free(c);
		return -EINVAL;
	}
	*out = c;
	return 0;
}

void county_cfg_free(struct county_cfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < G_N_ELEMENTS(opts); i++)
		if (opts[i].type == O_STR)
			g_free(*(char **)((char *)c + opts[i].off));
	g_free(c->influx.url);
	g_free(c->influx.database);
	g_free(c->influx.username);
	g_free(c->influx.password);
	g_free(c->influx.org);
	g_free(c->influx.bucket);
	g_free(c->influx.token);
	config_http_free(&c->http);
	for (size_t i = 0; i < c->n_hosts; i++)
		free(c->hosts[i].host); /* strndup'd by cfg_broker_parse */
	g_free(c->hosts);
	for (size_t i = 0; i < c->n_halls; i++) {
		g_free(c->halls[i].site);
		g_free(c->halls[i].console);
	}
	g_free(c->halls);
	g_free(c);
}

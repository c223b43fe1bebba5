/* The county's configuration: the `county { ... }` group of its own file (docs/configuration.md,
 * "County"). Loaded and validated on the main thread; every error collected as file:line. */
#ifndef HW_COUNTY_CCFG_H
#define HW_COUNTY_CCFG_H

#include <stdbool.h>

#include "core/config.h"

struct county_cfg {
	/* mqtt { ... } */
	char *host;
	int port;
	/* mqtt.hosts: the nodes of one broker cluster, tried in turn (as the hall's mqtt.hosts);
	 * when given, host and port are not used */
	struct cfg_broker *hosts;
	size_t n_hosts;
	char *client_id;
	char *username;
	char *password;
	char *password_file;
	char *cafile;
	char *certfile;
	char *keyfile;
	bool insecure;
	int keepalive_s;
	int session_expiry_s;
	char *topic_root;
	char *share_group; /* "": one plain subscription to the events (one instance) */
	char *alarm_topic; /* "" : none */
	int qos;
	/* the roll-up */
	int halls_expected;
	int heartbeat_s;
	double heartbeat_grace;
	int footage_days;
	char *state_dir;
	char *picture_file; /* "" : none */
	int picture_ms;
	int tick_ms;
	int flush_s;
	int kpi_s;
	bool feed_stdout;
	struct cfg_influx influx; /* enabled when influx.url is set */
	struct cfg_http http;	  /* the county page: county.http, as the console's http */
	/* county.halls: what the page knows of a hall besides the broker */
	struct county_hall_cfg {
		char *site;
		char *console; /* the hall's own console (a URL), or NULL */
	} * halls;
	size_t n_halls;
};

/* The console URL of site from county.halls, or NULL. */
const char *county_cfg_console(const struct county_cfg *c, const char *site);

/* Loads path into *out (transfer full, county_cfg_free). Returns 0, or -EINVAL with every
 * error in errs. */
int county_cfg_load(const char *path, struct county_cfg **out, struct cfg_errors *errs);
void county_cfg_free(struct county_cfg *c); /* accepts NULL */

#endif

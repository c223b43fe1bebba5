/* The gateway's configuration as plain structs, loaded and validated from one
 * libconfig file plus the device profiles it names. Only config.c sees libconfig.
 * Loading runs on the main thread; a loaded config is immutable and may be read
 * from any thread. */
#ifndef HW_CONFIG_H
#define HW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "devices/profile.h"

struct cfg_site {
	char *id; /* [A-Za-z0-9_-]+, used in topics and tags */
	char *name;
	char *profile_dir; /* absolute after loading; default "profiles" beside the config file */
};

struct cfg_mqtt {
	bool enabled;
	char *host;
	int port;
	char *client_id; /* default "hallwatch-<site>" */
	char *username;
	char *password;
	int keepalive_s;
	int qos;
	int heartbeat_s;
	char *topic_root; /* default "hallwatch/v1" */
	int reconnect_min_ms;
	int reconnect_max_ms;
};

struct cfg_influx {
	bool enabled;
	char *url;	/* http://host:port */
	int version;	/* 1 or 2 */
	char *database; /* 1.x */
	char *username; /* 1.x */
	char *password; /* 1.x */
	char *org;	/* 2.x */
	char *bucket;	/* 2.x */
	char *token;	/* 2.x */
	int batch_size;
	int flush_interval_ms;
	int timeout_ms;
	int max_buffer; /* lines kept in memory while the server is unreachable */
	int retry_min_ms;
	int retry_max_ms;
};

struct cfg_storage {
	char *state_dir;
};

struct cfg_http {
	bool enabled;
	char *bind;
	int port;
};

enum bus_type { BUS_TCP = 0, BUS_RTU };

struct cfg_bus {
	char *id;
	enum bus_type type;
	char *host; /* tcp */
	int port;   /* tcp */
	int timeout_ms;
	int line;
};

struct cfg_device {
	char *id;
	char *bus_id;
	struct cfg_bus *bus; /* resolved, points into cfg->buses */
	int unit;
	char *profile_name;
	const struct profile *profile; /* resolved, points into cfg->profiles */
	int interval_ms;
	int offline_after;  /* consecutive failed polls before the device is offline */
	int backoff_max_ms; /* cap of the retry interval while offline */
	int life_check_s;   /* a life_check unchanged this long marks the interface frozen */
	int max_regs;	    /* per request, 1..125 */
	int max_gap;	    /* registers read through to merge requests */
	int line;
};

struct hw_config {
	char *path;
	struct cfg_site site;
	struct cfg_mqtt mqtt;
	struct cfg_influx influx;
	struct cfg_storage storage;
	struct cfg_http http;
	struct cfg_bus *buses;
	size_t n_buses;
	struct cfg_device *devices;
	size_t n_devices;
	struct profile **profiles; /* every profile the devices use, loaded once */
	size_t n_profiles;
};

/* Error list: every message formatted as "FILE:LINE: message". */
struct cfg_errors {
	char **msgs;
	size_t n;
};
void cfg_errors_clear(struct cfg_errors *e);

/* Loads and validates path. On success returns 0 and *out (caller owns, free with
 * config_free). On failure returns -EINVAL (or -ENOENT/-ENOMEM) and errs holds every
 * error found (not just the first). */
int config_load(const char *path, struct hw_config **out, struct cfg_errors *errs);
void config_free(struct hw_config *c); /* accepts NULL */

/* Loads one profile file (used by config_load and by tests). */
int profile_load(const char *path, struct profile **out, struct cfg_errors *errs);

#endif

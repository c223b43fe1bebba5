/* The gateway's configuration as plain structs, loaded and validated from one
 * libconfig file plus the device profiles it names. Only config.c sees libconfig.
 * Loading runs on the main thread; a loaded config is immutable and may be read
 * from any thread. */
#ifndef HW_CONFIG_H
#define HW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/profile.h"

/* The language of the texts people read (alert messages): the site's. */
enum cfg_lang { LANG_ZH = 0, LANG_EN };
/* mqtt.topic_escape: topic levels as v1 writes them, or with '.' and '%' percent-encoded
 * (outputs/mqtt_topic.h) for a broker that refuses dots (nats-server 2.9). */
enum cfg_topic_esc { TOPIC_ESC_NONE = 0, TOPIC_ESC_PERCENT };
/* The hall's opening hours, local time of site.timezone. Minutes from midnight per weekday
 * (0 = Sunday .. 6 = Saturday); open_min < 0: closed that weekday. Dates are YYYYMMDD. */
struct cfg_calendar {
	int open_min[7];
	int close_min[7];  /* > open_min; 1440 = midnight at the end of the day */
	int32_t *holidays; /* closed whatever the weekday */
	size_t n_holidays;
	int32_t *workdays; /* open with Monday's hours whatever the weekday (a moved working day) */
	size_t n_workdays;
};

/* Inspection plans (inspect/insp_sched.h, docs/inspections.md). */
enum cfg_insp_kind {
	INSP_VIDEO_PATROL = 0,
	INSP_STAFF_PATROL,
	INSP_FIRE_CHECK,
	INSP_FUNCTION_TEST,
	INSP_DURATION_TEST,
};
enum cfg_recur {
	RECUR_EVERY = 0, /* every every_s seconds (within opening hours when when = open) */
	RECUR_DAYS,	 /* every `days` days from the first task, at its local time */
	RECUR_MONTHLY,	 /* on `day` of each month (the last day when shorter), at at[0] */
	RECUR_YEARLY,	 /* on `month`/`day` each year, at at[0] */
	RECUR_TIMES,	 /* every day at each of at[] */
};
enum cfg_when { WHEN_ANY = 0, WHEN_OPEN };
/* Preconditions a task needs before it may start (bits of cfg_plan.requires). */
#define INSP_REQ_MAINS_OK 0x1u
#define INSP_REQ_NO_FIRE 0x2u
#define INSP_REQ_OUTSIDE_OPENING 0x4u
#define INSP_REQ_BATTERY_RECHARGED 0x8u
#define INSP_AT_MAX 24
/* A video patrol's clip: from this long before its moment to this long after (s). */
#define CFG_CLIP_BEFORE_S 5
#define CFG_CLIP_AFTER_S 5

struct cfg_plan {
	char *id;	/* [A-Za-z0-9_-]+: inspection/<id> */
	int kind;	/* enum cfg_insp_kind */
	char **targets; /* cameras, controllers, routes: one task series each; default [ id ] */
	size_t n_targets;
	int recur; /* enum cfg_recur */
	int64_t every_s;
	int days;
	int day;		 /* monthly, yearly: 1..31 */
	int month;		 /* yearly: 1..12 */
	int at_min[INSP_AT_MAX]; /* local minutes from midnight */
	size_t n_at;
	int when;		/* enum cfg_when */
	char *start;		/* ISO 8601, as written */
	int64_t start_ms;	/* first task of a `days` plan (commissioning); -1: first run */
	int64_t early_s;	/* a task is DUE this long before its time */
	int64_t window_s;	/* ...OVERDUE this long after it */
	int64_t grace_s;	/* ...MISSED this long after that */
	int64_t first_within_s; /* the very first task's window (48 h), 0: window_s */
	int64_t stagger_s;	/* target i is due i * stagger_s after target 0 */
	int64_t postpone_max_s; /* POSTPONED longer than this: MISSED */
	unsigned requires;	/* INSP_REQ_* */
	bool requires_given;
	bool serial;  /* one target IN_PROGRESS at a time (tests: never dark) */
	int priority; /* of the overdue and missed alerts, 1..5 */
	/* Tests (gateway/eltest.c): how long one is expected to last (function 180 s,
	 * duration 5400 s) and how much longer it may take before it counts as failed. */
	int64_t expected_s;
	int64_t margin_s;
	char *checklist; /* staff_patrol, fire_check: id of an inspections.checklists entry */
	/* video_patrol (gateway/patrol.c): the clip around the patrol's moment */
	int64_t clip_before_s, clip_after_s;
	int line;
};

/* A checklist a person fills in (gateway/checklist.c). */
struct cfg_check_item {
	char *id; /* [A-Za-z0-9_-]+ */
	struct prof_label text;
	int line;
};
struct cfg_checklist {
	char *id;
	struct cfg_check_item *items;
	size_t n_items;
	int line;
};

struct cfg_inspections {
	struct cfg_plan *plans;
	size_t n_plans;
	struct cfg_checklist *checklists;
	size_t n_checklists;
	int tick_s;		     /* the scheduler runs this often */
	int keep_days;		     /* records and tickets are kept at least this long */
	int camera_ticket_h;	     /* a camera's ticket is overdue after this (24 h) */
	int ticket_h;		     /* any other ticket (7 days) */
	int retention_required_days; /* footage a video patrol expects kept (30) */
};

struct cfg_site {
	char *id; /* [A-Za-z0-9_-]+, used in topics and tags */
	char *name;
	enum cfg_lang language; /* "zh" (default) or "en" */
	char *profile_dir; /* absolute after loading; default "profiles" beside the config file */
	/* ---- the hall's calendar (docs/inspections.md; parsed in core/config_inspect.inc) ---- */
	char *timezone; /* "Asia/Shanghai", "+08:00"; NULL: the machine's (TZ, /etc/localtime) */
	struct cfg_calendar cal;
	bool cal_given; /* opening_hours was set (else Monday to Friday 08:30-17:30) */
};

/* One broker of mqtt.hosts. */
struct cfg_broker {
	char *host;
	int port;
};

/* Parses one broker "host", "host:port" or "[v6 address]:port" (port 1883 when left out):
 * *host (transfer full: free) and *port. Returns 0, -ENOMEM, or -EINVAL with *why the end of
 * a message naming v (": the port is not 1..65535"; without the ':' it follows a space).
 * Pure. */
int cfg_broker_parse(const char *v, char **host, int *port, const char **why);

struct cfg_mqtt {
	bool enabled;
	char *host;
	int port;
	/* mqtt.hosts: brokers of one cluster tried in turn (docs/mqtt.md, "Failover"); when
	 * given, host and port are not used */
	struct cfg_broker *hosts;
	size_t n_hosts;
	char *client_id; /* default "hallwatch-<site>" */
	char *username;
	char *password;
	int keepalive_s;
	int qos;
	int heartbeat_s;
	char *topic_root;		 /* default "hallwatch/v1" */
	enum cfg_topic_esc topic_escape; /* of the levels under <topic_root>/<site>/ */
	int reconnect_min_ms;
	int reconnect_max_ms;
	/* ---- delivery (docs/delivery.md) ---- */
	char *password_file; /* the password is read from this file (never logged) */
	char *cafile;	     /* TLS: CA certificates; TLS is on when set */
	char *certfile;	     /* TLS client certificate (optional, with keyfile) */
	char *keyfile;
	char *tls_version; /* "tlsv1.2" or "tlsv1.3"; NULL: the library's default */
	bool insecure;	   /* TLS without checking the broker's host name (tests only) */
	int max_inflight;  /* QoS 1 messages handed to libmosquitto and not yet acknowledged */
	int outbox_max;	   /* messages held in the outbox for the broker */
	/* command replies go only under it; default "<topic_root>/<site>/reply/" */
	char *reply_prefix;
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
	/* ---- delivery (docs/delivery.md) ---- */
	char *password_file; /* 1.x password read from this file */
	char *token_file;    /* 2.x token read from this file */
	bool gzip;	     /* Content-Encoding: gzip (InfluxDB 1.x and 2.x accept it) */
	int outbox_max;	     /* lines held in the outbox for the server */
};

struct cfg_storage {
	char *state_dir;
};

/* A console account (docs/http.md): its role and its password as a crypt(3) hash. */
enum cfg_http_role { HTTP_VIEWER = 0, HTTP_OPERATOR, HTTP_INSPECTOR, HTTP_ADMIN };

struct cfg_http_user {
	char *name;
	enum cfg_http_role role;
	char *password_hash; /* "$y$...": yescrypt (hallwatch passwd) */
};

/* A bearer token for scripts: only its SHA-256 (hex) is kept. */
struct cfg_http_token {
	char *name;
	enum cfg_http_role role;
	char *token_sha256;
};

struct cfg_http {
	bool enabled;
	char *bind;
	int port;
	char *tls_cert; /* PEM; with tls_key: HTTPS */
	char *tls_key;
	int session_idle_s;
	struct cfg_http_user *users;
	size_t n_users;
	struct cfg_http_token *tokens;
	size_t n_tokens;
};

enum bus_type { BUS_TCP = 0, BUS_RTU };

enum bus_parity { PARITY_NONE = 0, PARITY_EVEN, PARITY_ODD };

struct cfg_bus {
	char *id;
	enum bus_type type;
	char *host;   /* tcp */
	int port;     /* tcp */
	char *device; /* rtu: serial device path */
	int baud;     /* rtu */
	enum bus_parity parity;
	int data_bits;
	int stop_bits;
	bool rs485; /* rtu: switch the port to RS-485 mode (where the driver has it) */
	int timeout_ms;
	int pipeline; /* tcp: requests kept in flight on the connection */
	int line;
};

/* A poll interval given per device for one of its profile's groups. */
struct cfg_interval {
	char *group;
	int interval_ms;
};

struct cfg_device {
	char *id;
	char *bus_id;
	struct cfg_bus *bus; /* resolved, points into cfg->buses */
	int unit;
	char *profile_name;
	const struct profile *profile;	/* resolved, points into cfg->profiles */
	int interval_ms;		/* points without a group */
	struct cfg_interval *intervals; /* overrides of the profile's group intervals */
	size_t n_intervals;
	int offline_after;  /* consecutive failed polls before the device is offline */
	int backoff_max_ms; /* cap of the retry interval while offline */
	int life_check_s;   /* a life_check unchanged this long marks the interface frozen */
	int max_regs;	    /* per request, 1..125 */
	int max_bits;	    /* per request for coils/discrete inputs, 1..2000 */
	int max_gap;	    /* registers read through to merge requests */
	int address_base;   /* 0: profile addresses are PDU addresses; 1: one-based, minus 1 on the
			       wire */
	int pause_ms;	    /* silence before every request to this device (slow devices) */
	/* A fire-class point is read at least this often, whatever a change counter says or
	 * its group's interval is. */
	int fire_refresh_ms;
	char **allow_commands; /* profile commands this device may run; none by default */
	size_t n_allow_commands;
	char *name;		/* what people call it (default: none, the id is used) */
	char *location;		/* where it is; may be NULL */
	struct cfg_name *names; /* names of its zones, luminaires, points */
	size_t n_names;
	int line;
};

/* The name and location given to element key ("zone[3]" or "zone[3].fire": its instance;
 * "mains_fault": that point) of d, or NULL. */
const struct cfg_name *cfg_device_name_of(const struct cfg_device *d, const char *key);

/* What people call an element of a device (a zone, a luminaire, a point) and where it is. */
struct cfg_name {
	char *element;	/* "zone[3]" (an instance of a profile block) or a point key */
	char *name;	/* may be NULL */
	char *location; /* may be NULL */
	int line;
};

/* The interval of group g of d's profile (g < 0: the device's own interval_ms). */
int cfg_device_group_interval(const struct cfg_device *d, int g);
/* True when the device's config allows the profile command `name`. */
bool cfg_device_allows(const struct cfg_device *d, const char *name);

/* ---- alerts (owned by the alerts engineer) ---- */

enum cfg_rule_kind {
	RULE_EQUALS = 0, /* point value == equals (a bit: 1 or 0; an enum: its value) */
	RULE_ABOVE,	 /* value > above; clears below above - deadband */
	RULE_BELOW,	 /* value < below; clears above below + deadband */
	RULE_QUALITY,	 /* point quality is `quality` ("bad" = anything but good) */
	RULE_OFFLINE,	 /* the device is offline (or its interface frozen) */
};

struct cfg_rule {
	char *name;   /* [A-Za-z0-9_-]; the condition part of the alert id */
	char *device; /* a device id, or "*" for every device */
	char *point;  /* a point key; '*' matches any run of characters ("luminaire[*].x") */
	int priority; /* 1 (life safety) .. 5 (log only) */
	enum cfg_rule_kind kind;
	int64_t equals;
	double above;
	double below;
	double deadband;
	char *quality; /* "comm_lost", "stale", "config_error" or "bad" */
	bool offline;
	int on_delay_ms;
	int off_delay_ms;
	char *inhibit_when; /* a boolean point of the same device whose truth mutes this rule */
	char *text;	    /* free text carried in the alert */
	int line;
};

/* A maintenance window: the device's alerts are suppressed ("maintenance") within it. */
struct cfg_maint {
	char *device; /* a device or camera id, or "*" */
	char *from;   /* ISO 8601 as written */
	char *to;
	int64_t from_ms; /* parsed, Unix milliseconds */
	int64_t to_ms;
	char *reason;
	int line;
};

struct cfg_alerts {
	char **operators; /* identities allowed to send commands */
	size_t n_operators;
	char **out_of_service; /* device ids whose alerts are out of service */
	size_t n_out_of_service;
	int repeat_s;	   /* P1 unacknowledged: notify again this often */
	int chatter_count; /* transitions within chatter_window_s that make an alert chatter */
	int chatter_window_s;
	int flood_high; /* more new alerts than this in flood_window_s: summary mode */
	int flood_low;	/* summary mode ends below this */
	int flood_window_s;
	int escalate_after_s; /* active this long: escalated */
	int shelve_max_s;     /* longest shelving allowed */
	int keep_events;      /* events kept in the log at least (delivered ones pruned beyond) */
	int reply_timeout_ms; /* command line: how long to wait for the daemon's reply */
	struct cfg_maint *maint; /* maintenance windows */
	size_t n_maint;
};

enum cam_transport { CAM_TCP = 0, CAM_UDP };

/* One camera (video/). Durations in ms unless named _s; luma on 0..255. */
struct cfg_camera {
	char *id;
	char *url;	/* rtsp://host[:port]/path, without credentials */
	char *username; /* given to rtspsrc as properties, never logged */
	char *password;
	char *password_file;	      /* the password read from this file instead */
	enum cam_transport transport; /* "tcp" (default) or "udp" */
	int expected_fps;	      /* 0: not checked */
	int width, height;	      /* expected resolution; 0: not checked */
	bool record;
	int segment_s;	    /* recording segment length (60) */
	int retention_days; /* segments older than this are deleted (30) */
	double
	    disk_budget_mb; /* this camera's recordings at most (0: no budget; fractions allowed) */
	int disk_min_free_mb;	  /* keep this much free on the state_dir file system (500) */
	int analysis_interval_ms; /* analyse at most one key frame this often (1000) */
	int offline_after_s;	  /* no data this long: offline, pipeline restarted (10) */
	int reconnect_min_ms;	  /* restart backoff, doubling up to max (1000, 30000) */
	int reconnect_max_ms;
	int dark_level;		 /* luma of a dark pixel (25) */
	double dark_fraction;	 /* dark: this fraction of dark pixels (0.98) */
	int dark_ms;		 /* for this long (2000) */
	double covered_fraction; /* covered: dark fraction (0.75) with mean below covered_mean */
	double covered_mean;	 /* (40), or flat_fraction of pixels in one 32-level window */
	double flat_fraction;	 /* (0.90) with a stddev below flat_stddev (10) */
	double flat_stddev;
	int covered_ms;	       /* for this long (5000) */
	double defocus_ratio;  /* Laplacian variance below ratio x own baseline (0.4) */
	int defocus_ms;	       /* for this long (30000) */
	double frozen_mad;     /* mean abs difference between analysed frames at most (0.255) */
	int frozen_ms;	       /* for this long (2000) */
	double moved_diff;     /* a cell's mean differs from the reference by more (30) */
	double moved_fraction; /* in this fraction of cells (0.8) */
	int moved_ms;	       /* for this long (10000) */
	int clear_ms;	       /* a condition clears after this long without cause (2000) */
	int cooldown_ms;       /* and is not raised again within (10000) */
	double fps_low_ratio;  /* video_loss: fps below ratio x expected_fps (0.5) */
	int video_loss_ms;     /* for this long, or no picture decoded this long (10000) */
	char **alert_points;   /* device point keys ("facp1:zone[3].fire") this camera sees */
	size_t n_alert_points;
	int preroll_s;	/* alert clip: this long before the alert (10) */
	int postroll_s; /* and after it (20) */
	char *name;	/* what people call it; NULL: the id */
	char *location; /* where it is; may be NULL */
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
	struct cfg_camera *cameras;
	size_t n_cameras;
	struct cfg_alerts alerts;
	struct cfg_rule *rules;
	size_t n_rules;
	struct cfg_inspections inspections;
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
/* The options of an http { ... } group (the console's), read from grp (a libconfig
 * config_setting_t; NULL: the defaults) into *h, for another mode's own file (the county's
 * page). path names the group in messages ("county.http"). Returns 0, -EINVAL with the
 * errors in errs, or -ENOMEM; *h is to be freed with config_http_free either way. */
struct config_setting_t;
int config_http_read(const struct config_setting_t *grp, const char *path, struct cfg_http *h,
		     struct cfg_errors *errs);
void config_http_free(struct cfg_http *h);

/* Whether the group `section` ("mqtt", "influx", ...) of a and b holds the same settings, as
 * its option table lists them, leaving out those a reload applies live (mqtt.heartbeat_s,
 * reply_prefix, the outbox bounds): the reload keeps what uses an unchanged section. */
bool config_section_same(const struct hw_config *a, const struct hw_config *b, const char *section);
/* What a reload compares item by item: every setting of a bus, a device (its profile's content
 * included), a camera or a rule, as the option tables list them (line numbers and resolved
 * pointers are not settings). */
bool config_profile_same(const struct profile *a, const struct profile *b);
bool config_bus_same(const struct cfg_bus *a, const struct cfg_bus *b);
bool config_device_same(const struct cfg_device *a, const struct cfg_device *b);
bool config_camera_same(const struct cfg_camera *a, const struct cfg_camera *b);
bool config_rule_same(const struct cfg_rule *a, const struct cfg_rule *b);
/* Called per setting of a section that differs between a and b: key "mqtt.heartbeat_s", the old
 * and new values as text (secrets shown as "(set)"), or NULL and NULL for a list that changed. */
typedef void (*config_diff_fn)(const char *key, const char *was, const char *now, void *ud);
/* Every setting of the group `section` ("mqtt", "alerts", ...) that differs, OF_LIVE ones
 * included, in the order of its option table. */
void config_section_diff(const struct hw_config *a, const struct hw_config *b, const char *section,
			 config_diff_fn fn, void *ud);
/* The same for one element of the list `list` ("buses", "devices", "cameras", "rules"): a and
 * b point to two struct cfg_bus (cfg_device...); keys are the settings' names ("dark_ms"). */
void config_item_diff(const char *list, const void *a, const void *b, config_diff_fn fn, void *ud);
void config_free(struct hw_config *c); /* accepts NULL */
/* The device or camera with this id, or NULL. */
const struct cfg_device *config_find_device(const struct hw_config *c, const char *id);
const struct cfg_camera *config_find_camera(const struct hw_config *c, const char *id);
/* The name of an inspection kind ("video_patrol"), of a recurrence ("every"). */
const char *cfg_insp_kind_name(int kind);
int cfg_insp_kind_parse(const char *s);

/* Loads one profile file (used by config_load and by tests). */
int profile_load(const char *path, struct profile **out, struct cfg_errors *errs);

#endif

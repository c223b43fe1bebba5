/* The alert engine: rule evaluation, the ISA-18.2 lifecycle of every alert and noise
 * control (chattering, flood, escalation, inhibition, shelving, suppression).
 * Pure: no I/O, no globals, no clock of its own (every call takes now_ms). One
 * engine is used from one thread at a time (the main loop in the daemon). */
#ifndef HW_ALERT_ENGINE_H
#define HW_ALERT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/profile.h"
#include "core/config.h"
#include "core/value.h"

#define ALERT_ID_MAX 160
#define ALERT_NAME_MAX 64
#define ALERT_TEXT_MAX 128
#define ALERT_MSG_MAX 384

enum alert_prio { AP_P1 = 1, AP_P2, AP_P3, AP_P4, AP_P5 };

/* The acknowledgement state (ISA-18.2 A..D); shelving, suppression and out of
 * service are kept beside it so that it survives them. */
enum alert_core {
	AC_NORMAL = 0, /* closed: no longer tracked */
	AC_UNACK,      /* active, unacknowledged */
	AC_ACKED,      /* active, acknowledged */
	AC_RTN_UNACK,  /* returned to normal before being acknowledged */
};

struct alert {
	char id[ALERT_ID_MAX]; /* "facp1.zone-3.fire": [A-Za-z0-9_.-], topic-safe */
	char device[ALERT_NAME_MAX];
	char point[ALERT_ID_MAX];  /* hub key ("zone[3].fire"), "" for device alerts */
	char cond[ALERT_NAME_MAX]; /* "fire", "supervisory", "fault", "offline", "frozen", a rule */
	bool from_rule;		   /* cond names a configured rule */
	char text[ALERT_TEXT_MAX];
	/* the sentence people read, in the site's language (alerts/alert_text.h); "" until the
	 * engine's message function fills it */
	char message[ALERT_MSG_MAX];
	enum alert_prio prio;
	enum alert_core core;
	bool active; /* the condition holds (after on/off-delay, or latched) */
	bool raw;    /* the condition as last evaluated, before delays */
	int64_t raw_since_ms;
	int64_t raised_ms;  /* last activation */
	int64_t cleared_ms; /* last return to normal; 0 while active */
	int64_t acked_ms;
	char acked_by[ALERT_NAME_MAX];
	int64_t shelved_until_ms; /* 0: not shelved */
	char shelved_by[ALERT_NAME_MAX];
	char shelve_reason[ALERT_TEXT_MAX];
	char suppressed[24]; /* "" or why: test_mode, disabled, comm_lost, inhibited */
	bool out_of_service;
	bool latched; /* held in alarm until acknowledged (P1 cleared unacked, chattering) */
	bool chattering;
	bool escalated;
	int64_t last_notify_ms;
	int64_t trans_ms[8]; /* recent raw transitions, newest last */
	unsigned n_trans;
	uint64_t seq; /* sequence number of the last event about it (set by the caller) */
	int on_delay_ms, off_delay_ms;
};

/* State name as published: normal (closed), unack, acked, rtn_unack, shelved,
 * suppressed, out_of_service (the first that applies, from the last). An event
 * whose alert is in state normal closes it: the alert is forgotten after it. */
const char *alert_state_name(const struct alert *a);
const char *alert_core_name(enum alert_core c);
int alert_core_parse(const char *s, enum alert_core *out);

enum alert_ev_kind {
	AE_RAISED = 0, /* became active (unack) */
	AE_CLEARED,    /* condition gone: rtn_unack, or closed (state normal) when acked */
	AE_ACKED,      /* acknowledged; closed (state normal) when no longer active */
	AE_SHELVED,
	AE_UNSHELVED,  /* by an operator or when the shelving expired (by = "") */
	AE_SUPPRESSED, /* suppressed[] says why */
	AE_UNSUPPRESSED,
	AE_CHATTERING,	/* latched as chattering: further transitions are not reported */
	AE_ESCALATED,	/* active longer than escalate_after_s */
	AE_REPEAT,	/* P1 still unacknowledged */
	AE_FLOOD_START, /* summary mode: non-P1 notifications muted */
	AE_FLOOD_END,	/* count = notifications muted during the flood */
	AE_RETURNED,	/* active again while rtn_unack or latched (no new alert) */
};
const char *alert_ev_name(enum alert_ev_kind k);

struct alert_ev {
	enum alert_ev_kind kind;
	const struct alert *a; /* NULL for flood events; valid during the callback only */
	const char *by;	       /* operator, or NULL */
	const char *reason;    /* shelve reason, or NULL */
	bool notify;	       /* should a person be notified (false: log only) */
	unsigned count;	       /* flood events: alerts counted */
};

/* Called synchronously for every transition, in order. */
typedef void (*alert_emit_fn)(const struct alert_ev *ev, void *ud);

/* One device as the engine sees it (built from the hub by the service). */
struct alert_point_in {
	const char *key; /* "fire", "zone[3].fire" */
	enum point_class cls;
	struct hw_value v;
	enum hw_quality q;
	bool changed; /* value or quality changed since the previous update */
};

struct alert_device_in {
	const char *id;
	bool seen; /* a poll result arrived */
	bool online;
	bool frozen;
	const struct alert_point_in *pts;
	size_t n;
};

struct alert_engine;

/* site, ac and rules (transfer none) must outlive the engine. Returns 0 or -ENOMEM. */
int alert_engine_create(const char *site, const struct cfg_alerts *ac, const struct cfg_rule *rules,
			size_t n_rules, alert_emit_fn emit, void *ud, struct alert_engine **out);
/* A reload: the engine goes on with these settings and rules (same terms as create), its open
 * alerts and their states kept. A rule is found by name when an alert is next evaluated, so a
 * changed rule applies from the next input of its devices on. */
void alert_engine_rebind(struct alert_engine *e, const char *site, const struct cfg_alerts *ac,
			 const struct cfg_rule *rules, size_t n_rules);
void alert_engine_destroy(struct alert_engine *e); /* accepts NULL */

/* Fills a->message of a new alert before its first event (called synchronously). */
typedef void (*alert_message_fn)(struct alert *a, void *ud);
/* Sets (NULL: clears) the message function; ud (transfer none) must outlive the engine. */
void alert_engine_set_message_fn(struct alert_engine *e, alert_message_fn fn, void *ud);

/* Puts back an alert read from storage (copied), with no event. -EEXIST, -EINVAL, -ENOMEM. */
int alert_engine_restore(struct alert_engine *e, const struct alert *a);

/* Evaluates every condition of one device. */
void alert_engine_update(struct alert_engine *e, const struct alert_device_in *d, int64_t now_ms);
/* One condition of a source that is neither a device point nor a rule (an inspection task
 * overdue or missed): alert <device>.<point>.<cond> with priority prio (1..5) and text,
 * active or not. Its lifecycle is every other alert's. */
void alert_engine_condition(struct alert_engine *e, const char *device, const char *point,
			    const char *cond, int prio, const char *text, bool active,
			    int64_t now_ms);
/* Timers: on/off-delays, shelving expiry, repeat, escalation, flood end. */
void alert_engine_tick(struct alert_engine *e, int64_t now_ms);
/* Earliest time tick has something to do, or INT64_MAX. */
int64_t alert_engine_next_deadline(const struct alert_engine *e, int64_t now_ms);

/* Operator actions. 0, or -ENOENT (unknown id), -EALREADY (already acked / not
 * shelved), -EPERM (P1 cannot be shelved), -EINVAL (duration or reason). */
int alert_engine_ack(struct alert_engine *e, const char *id, const char *by, int64_t now_ms);
int alert_engine_shelve(struct alert_engine *e, const char *id, const char *by, const char *reason,
			int64_t for_ms, int64_t now_ms);
int alert_engine_unshelve(struct alert_engine *e, const char *id, const char *by, int64_t now_ms);

/* Lookup and iteration (transfer none; valid until the next engine call). */
const struct alert *alert_engine_get(const struct alert_engine *e, const char *id);
size_t alert_engine_count(const struct alert_engine *e);
/* Fills out with up to max alerts sorted by id; returns how many there are. */
size_t alert_engine_list(const struct alert_engine *e, const struct alert **out, size_t max);
bool alert_engine_flooding(const struct alert_engine *e);
/* Lets the caller stamp the sequence number of the event it logged for an alert. */
void alert_engine_set_seq(struct alert_engine *e, const char *id, uint64_t seq);

/* The readable id "<device>.<point>[.<cond>]" with [i] written -i and anything
 * outside [A-Za-z0-9_-] turned into '_'. Returns 0 or -ENAMETOOLONG. */
int alert_make_id(char *buf, size_t sz, const char *device, const char *point, const char *cond);
/* '*' matches any run of characters; everything else literally. */
bool alert_glob(const char *pattern, const char *s);
/* The longest duration a request may name: ten years. */
#define ALERT_DURATION_MAX_MS ((int64_t)10 * 366 * 86400 * 1000)
/* "90", "90s", "1.5m", "2h", "1d" -> milliseconds (positive, integer arithmetic):
 * 0, -EINVAL (not that form, or zero) or -ERANGE (above ALERT_DURATION_MAX_MS). */
int alert_parse_duration(const char *s, int64_t *ms);

#endif

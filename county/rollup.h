/* The county's roll-up: the picture of every hall rebuilt from what the halls publish
 * (docs/mqtt.md: status, device/<id>/state, camera/<id>/state, alert/<id>,
 * inspection/<plan>, events) and the time-weighted counters of each hall's day
 * (docs/county.md, "The roll-up"). Pure: no I/O, no globals, the clock is passed in.
 *
 * Threads: a rollup is used from one thread at a time (the county's main loop). */
#ifndef HW_COUNTY_ROLLUP_H
#define HW_COUNTY_ROLLUP_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROLLUP_PRIORITIES 5 /* alert priorities 1..5 */

/* What a hall's day adds up to: times in milliseconds, counts of events. */
struct rollup_day {
	int64_t day;	       /* days since 1970-01-01 (UTC) */
	int64_t observed_ms;   /* the county watched the hall (it was running) */
	int64_t online_ms;     /* ... and the hall was online (status online, not silent) */
	int64_t silent_ms;     /* ... and the hall was silent (no message within the grace) */
	int64_t dev_ms;	       /* device-milliseconds observed */
	int64_t dev_up_ms;     /* ... of them online */
	int64_t cam_ms;	       /* camera-milliseconds observed */
	int64_t cam_up_ms;     /* ... of them online */
	int64_t footage_ms;    /* camera-milliseconds with a footage figure */
	int64_t footage_ok_ms; /* ... of them with footage kept >= the requirement */
	int64_t events;	       /* events counted (after deduplication) */
	int64_t alerts;	       /* alerts raised */
	int64_t fire_alarms;   /* fire alarms raised */
	int64_t faults;	       /* fault alerts raised */
	int64_t patrols_done;  /* inspection tasks passed */
	int64_t patrols_due;   /* inspection tasks over (passed, failed or missed) */
	int64_t tests_passed;  /* inspection tasks of a test kind passed */
	int64_t tickets_opened;
	int64_t tickets_closed;
};

struct rollup_cfg {
	int64_t silent_after_ms;     /* heartbeat interval x grace */
	int64_t footage_required_ms; /* recording to keep per camera */
};

struct rollup;
struct rollup_hall;

/* What a message changed, for the caller's feed and listeners. */
enum rollup_change {
	ROLLUP_NONE = 0,
	ROLLUP_HALL = 1 << 0,	      /* the hall's picture changed */
	ROLLUP_FIRE = 1 << 1,	      /* a fire alarm began */
	ROLLUP_FIRE_CLEARED = 1 << 2, /* the last fire alarm of the hall ended */
	ROLLUP_OFFLINE = 1 << 3,      /* the hall went offline (its Last Will or a goodbye) */
	ROLLUP_ONLINE = 1 << 4,	      /* the hall came (back) online */
	ROLLUP_SILENT = 1 << 5,	      /* the hall went silent without a Last Will */
	ROLLUP_ALERT = 1 << 6,	      /* an alert of priority 1 or 2 other than fire raised */
};

/* Called when a hall's day is over (the day index changed) with its final counters. */
typedef void (*rollup_day_fn)(const char *site, const struct rollup_day *d, void *ud);

int rollup_create(const struct rollup_cfg *cfg, rollup_day_fn on_day, void *ud,
		  struct rollup **out);
void rollup_destroy(struct rollup *r); /* accepts NULL */

/* The hall of site (created on first use; transfer none, lives as long as r). */
struct rollup_hall *rollup_hall(struct rollup *r, const char *site);
struct rollup_hall *rollup_find(struct rollup *r, const char *site); /* NULL: unknown */
size_t rollup_count(const struct rollup *r);
/* Halls whose status has been seen (online or offline). */
size_t rollup_count_status(const struct rollup *r);

/* A retained (or live) message of a hall: kind is the topic below the site ("status",
 * "device/facp1/state", "camera/cam1/state", "alert/<id>", "inspection/<plan>").
 * payload NULL or empty: the retained topic was removed. retained: the broker sent it
 * from its store (its time is the payload's, not now). Returns enum rollup_change bits. */
unsigned rollup_message(struct rollup *r, const char *site, const char *kind, const char *payload,
			size_t len, bool retained, int64_t now_ms);

/* One event (already deduplicated by the caller on its seq): counts it into the day and
 * updates the alerts it names. *fire_out, if given, is set when it raised a fire alarm. */
unsigned rollup_event(struct rollup *r, const char *site, const json_t *ev, int64_t now_ms);

/* Integrates every hall up to now (splitting at midnight UTC, calling on_day for a day
 * that ended) and marks halls silent whose last message is older than silent_after_ms.
 * Each hall that went silent is added to *silent (transfer none each; may be NULL).
 * Returns the number of halls that went silent. */
size_t rollup_tick(struct rollup *r, int64_t now_ms, struct rollup_hall **silent, size_t cap);

/* The hall's current day (after the last tick), and setting it back from storage. */
const struct rollup_day *rollup_hall_day(const struct rollup_hall *h);
void rollup_hall_restore_day(struct rollup_hall *h, const struct rollup_day *d);
const char *rollup_hall_site(const struct rollup_hall *h);
bool rollup_hall_fire(const struct rollup_hall *h);

/* The picture of one hall / of every hall as JSON (transfer full). docs/county.md. */
json_t *rollup_hall_json(const struct rollup_hall *h, int64_t now_ms);
json_t *rollup_json(const struct rollup *r, int64_t now_ms);

/* A hall's detail (transfer full): {"devices","cameras","plans","tickets","records": arrays,
 * "dropped": what the caps left out}; docs/county.md, "A hall's detail". */
json_t *rollup_hall_detail(const struct rollup_hall *h);

/* The picture as rollup_json has it, as text appended to out without its closing brace (the
 * caller adds its own members and the brace), made cheaply: a hall's JSON is made again only
 * when the hall changed since the last call (its "today" rates and ages are as of its last
 * message or silence). For a file written often. */
void rollup_json_text(struct rollup *r, int64_t now_ms, GString *out);

/* Calls fn for every hall, in no order. */
void rollup_foreach(struct rollup *r, void (*fn)(struct rollup_hall *h, void *ud), void *ud);

/* Days since the epoch of a Unix ms time (UTC). */
int64_t rollup_day_of(int64_t ms);

#endif

/* The county's SQLite file <state_dir>/county.db: the events already counted (site, seq),
 * the days of each hall per county instance, and the alarm feed. Several county instances
 * may share one state_dir (one file, WAL, a busy timeout): an event is then counted once
 * whichever instance the broker gave it to, and a second time by none.
 *
 * Threads: the county's main loop (and the report command). */
#ifndef HW_COUNTY_STORE_H
#define HW_COUNTY_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "county/rollup.h"

struct cstore;

/* Opens (creating) <state_dir>/county.db for the instance named inst (its client id). */
int cstore_open(const char *state_dir, const char *inst, struct cstore **out);
void cstore_close(struct cstore *s); /* accepts NULL */

/* 1: (site, seq) is new and is now recorded; 0: counted before; <0: -errno. */
int cstore_event_new(struct cstore *s, const char *site, int64_t seq, int64_t now_ms);

/* Writes (upserts) a hall's day for this instance. Batched: begin .. day .. commit. */
int cstore_begin(struct cstore *s);
int cstore_day(struct cstore *s, const char *site, const struct rollup_day *d);
int cstore_commit(struct cstore *s);

/* Calls fn for each hall's row of day for this instance (restoring after a restart). */
int cstore_load_day(struct cstore *s, int64_t day,
		    void (*fn)(const char *site, const struct rollup_day *d, void *ud), void *ud);

/* Records a feed item (its JSON text). */
int cstore_alarm(struct cstore *s, int64_t t_ms, const char *site, const char *json);

/* Forgets counted events older than before_ms. */
int cstore_prune(struct cstore *s, int64_t before_ms);

/* The ranking of halls over days [from, to] (day indexes) as CSV on f (docs/county.md). */
int cstore_ranking_csv(struct cstore *s, int64_t from, int64_t to, FILE *f);

#endif

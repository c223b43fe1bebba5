/* The local history of numeric points (docs/http.md, "Device history"): what the console's
 * charts draw when there is no InfluxDB. Every sample of a point is folded into its minute
 * (count, min, sum, max); a minute that ends is written to hallwatch.db (table hist_sample)
 * at the next flush, in one transaction; what is older than the days kept, or beyond the
 * rows kept (oldest first), is deleted at each flush. A query returns the stored minutes and
 * the ones still in memory, oldest first.
 *
 * Threads: everything on the main loop (the hub's listeners run there). */
#ifndef HW_HISTORY_H
#define HW_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#define HISTORY_BUCKET_MS 60000

struct history;

struct history_sample {
	int64_t t_ms; /* the start of the minute */
	int64_t n;    /* samples folded in */
	double min, avg, max;
};

/* Opens the history in db_path (hallwatch.db), keeping days days and at most max_rows
 * minutes. Returns 0 and *out, or -errno. */
int history_create(const char *db_path, int days, int64_t max_rows, struct history **out);
/* Writes every minute still in memory, then closes. Accepts NULL. */
void history_destroy(struct history *h);
/* Folds value v of device/point read at t_ms into its minute (strings copied). */
void history_add(struct history *h, const char *device, const char *point, int64_t t_ms, double v);
/* Writes the minutes that ended before now_ms (all of them when now_ms < 0) and prunes.
 * Returns 0 or -errno (the minutes stay in memory to be written at the next flush). */
int history_flush(struct history *h, int64_t now_ms);
/* The minutes of device/point in [from_ms, to_ms], oldest first, at most max of them (the
 * newest max); *out is g_free'd by the caller. Returns 0 or -errno. */
int history_query(struct history *h, const char *device, const char *point, int64_t from_ms,
		  int64_t to_ms, size_t max, struct history_sample **out, size_t *n);
/* Minutes stored in the table (tests, metrics). */
int64_t history_rows(struct history *h);
/* Minutes dropped by the row bound since creation. */
uint64_t history_dropped(const struct history *h);

#endif

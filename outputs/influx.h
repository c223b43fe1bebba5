/* The line protocol writer: a bounded in-memory queue of lines and one worker thread
 * that posts them in batches to InfluxDB 1.x (/write) or 2.x (/api/v2/write).
 *
 * Delivery: a batch is removed from the queue only when the server answers 204. Any
 * other answer (or no answer) keeps the batch at the head of the queue, in order, and
 * retries it with exponential backoff from retry_min_ms to retry_max_ms. Delivery is
 * therefore at-least-once: a batch the server stored but whose answer was lost is sent
 * again (InfluxDB overwrites a point with the same series and timestamp, so that is
 * harmless for lines with explicit timestamps).
 *
 * Bound: at most max_buffer lines are held, counting the batch in flight. When more
 * arrive, the oldest lines not in flight are dropped and counted (if every held line
 * is in flight, the new line itself is dropped). The first drop of a run is logged,
 * and so is its end, with the number dropped.
 *
 * Threads: influx_create() and influx_destroy() are called by the owner (the main
 * thread); influx_submit() and influx_stats() may be called from any thread, at
 * the same time, between the two. The worker thread owns the CURL handle. */
#ifndef HW_INFLUX_H
#define HW_INFLUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct influx;

struct influx_stats {
	uint64_t lines_queued;	 /* held now, including the batch in flight */
	uint64_t lines_sent;	 /* acknowledged with 204 since creation */
	uint64_t lines_dropped;	 /* thrown away because the buffer was full */
	uint64_t batches_sent;	 /* posts answered 204 */
	uint64_t batches_failed; /* posts answered otherwise or not at all */
	uint64_t lines_retried;	 /* sent again after a failed post */
	uint64_t lines_rejected; /* set aside: the server will never accept them (4xx) */
	int64_t oldest_ms;	 /* durable mode: wall-clock time of the oldest line held */
	int last_status;	 /* HTTP status of the last post; 0 if none yet or no answer */
	bool connected;		 /* the last post was answered 204 */
};

/* Validates cfg (url; database for version 1; org, bucket and token for version 2;
 * positive sizes and intervals, retry_min_ms <= retry_max_ms) and starts the worker.
 * cfg is copied: the caller may free it afterwards. Returns 0 and *out (caller owns,
 * free with influx_destroy), -EINVAL for a bad cfg, or -ENOMEM. */
int influx_create(const struct cfg_influx *cfg, struct influx **out);

struct outbox;
/* Durable mode (docs/delivery.md): like influx_create, but influx_submit commits each
 * call's lines as one record of the outbox (transfer none: ob outlives the writer) and
 * the worker posts records from it, by age, removing them on 204. Bodies are gzipped
 * when cfg->gzip. A 400/422 answer (a bad line, a partial write) sets aside the
 * record holding the line the server named (outbox_rejected, logged with the line);
 * other failures (5xx, no answer, 401/403/404) are retried with backoff. The bound is
 * the outbox's (oldest lines dropped first). On influx_destroy, what is not written
 * stays in the outbox for the next start. */
int influx_create_durable(const struct cfg_influx *cfg, struct outbox *ob, struct influx **out);

/* Queues complete lines: lines[0..len) is copied and must end with "\n"; empty lines
 * are skipped. Never blocks on the network. Returns 0 (lines beyond the bound are
 * dropped and counted, not an error), or -EINVAL if len > 0 and the text does not end
 * with "\n" (nothing is queued). Any thread. */
int influx_submit(struct influx *ix, const char *lines, size_t len);

/* Snapshot of the counters. Any thread. */
void influx_stats(struct influx *ix, struct influx_stats *out);

/* Stops the writer: the worker posts what is queued, without waiting for full batches,
 * for at most flush_ms (a post in progress is abandoned at that deadline, checked at
 * least once a second), then exits and is joined. Lines still held are logged as lost.
 * No influx_submit()/influx_stats() may run concurrently or afterwards. Accepts NULL. */
void influx_destroy(struct influx *ix, int flush_ms);

#endif

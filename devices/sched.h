/* Poll scheduling rules, pure: which group goes next on a shared line, how a deadline
 * advances (counting overruns, never stretching), and how a failing device backs off.
 * No I/O, no clock of its own (times are passed in, monotonic microseconds); any thread. */
#ifndef HW_SCHED_H
#define HW_SCHED_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct sched_entry {
	int64_t due;	  /* deadline of its next poll */
	int64_t hold;	  /* the device is backed off until then (0: not held) */
	int64_t interval; /* its poll interval */
};

/* The entry to poll next: among those due at `now` (due and hold passed), the one with
 * the shortest interval, then the earliest; when none is due, the one due first.
 * *when is the time it becomes due. Returns its index, or -1 for n == 0. */
int sched_pick(const struct sched_entry *e, size_t n, int64_t now, int64_t *when);

/* Advances a deadline by one interval after a poll started at `now`. When it is still
 * in the past, whole intervals are skipped and counted in *overruns (the phase is
 * kept: no drift). A poll that waited for a back-off starts a new phase, uncounted. */
int64_t sched_advance(int64_t due, int64_t interval, int64_t now, int64_t hold, uint64_t *overruns);

/* The wait after the `failures`-th consecutive failure: the interval, doubled with each
 * further failure, capped at cap (but never below the interval). */
int64_t sched_backoff(int64_t interval, unsigned failures, int64_t cap);

#endif

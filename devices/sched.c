/* Poll scheduling rules: next group on a shared line, deadline advance, back-off.
 * Pure functions; any thread. */
#include "devices/sched.h"

int sched_pick(const struct sched_entry *e, size_t n, int64_t now, int64_t *when)
{
	int best = -1;
	int64_t bt = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t t = e[i].due > e[i].hold ? e[i].due : e[i].hold;
		if (best < 0) {
			best = (int)i;
			bt = t;
			continue;
		}
		bool due = t <= now, bdue = bt <= now;
		if (due != bdue) {
			if (due) {
				best = (int)i;
				bt = t;
			}
			continue;
		}
		if (due && e[i].interval != e[best].interval) {
			if (e[i].interval < e[best].interval) {
				best = (int)i;
				bt = t;
			}
			continue;
		}
		if (t < bt) {
			best = (int)i;
			bt = t;
		}
	}
	if (when)
		*when = bt;
	return best;
}

int64_t sched_advance(int64_t due, int64_t interval, int64_t now, int64_t hold, uint64_t *overruns)
{
	if (hold > due)
		return now + interval;
	due += interval;
	if (due <= now) {
		int64_t behind = (now - due) / interval + 1;
		if (overruns)
			*overruns += (uint64_t)behind;
		due += behind * interval;
	}
	return due;
}

int64_t sched_backoff(int64_t interval, unsigned failures, int64_t cap)
{
	int64_t delay = interval;

	for (unsigned i = 1; i < failures && delay < cap; i++)
		delay *= 2;
	if (delay > cap)
		delay = cap;
	return delay < interval ? interval : delay;
}

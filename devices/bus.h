/* A Modbus bus: one worker thread per endpoint that polls its devices on a
 * deadline schedule and hands every poll result to the main loop.
 * mb_bus_start/mb_bus_stop run on the main thread; results are delivered on the
 * GMainContext given to mb_bus_start. */
#ifndef HW_BUS_H
#define HW_BUS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/profile.h"
#include "gateway/config.h"
#include "gateway/value.h"

#define MB_TOP_LEVEL 0xFFFFu

/* One decoded point of one poll. */
struct mb_sample {
	const struct prof_point *def; /* owned by the profile */
	uint16_t block;		      /* index into profile->blocks, or MB_TOP_LEVEL */
	uint16_t instance;	      /* block instance, 0 for top-level points */
	enum hw_quality q; /* GOOD, or CONFIG_ERROR when the device refused the address */
	struct hw_value v;
};

enum mb_err_kind { MB_E_NONE = 0, MB_E_TIMEOUT, MB_E_EXCEPTION, MB_E_IO, MB_E_INVALID };
const char *mb_err_kind_name(enum mb_err_kind k);

/* Counters of one device, cumulative since the bus started. */
struct mb_health {
	uint64_t polls;
	uint64_t requests;
	uint64_t err_timeout;
	uint64_t err_exception;
	uint64_t err_io;
	uint64_t err_invalid;
	uint64_t overruns;
	double rtt_ms_last;
	double rtt_ms_avg;  /* exponentially weighted, alpha 0.2 */
	int64_t last_ok_ms; /* wall clock, 0 = never */
	unsigned consecutive_failures;
};

struct mb_poll_result {
	unsigned generation;  /* the bus generation it came from */
	size_t device_index;  /* into hw_config.devices */
	bool ok;	      /* every request answered (exceptions count as answered) */
	enum mb_err_kind err; /* first error of this poll */
	int64_t t_ms;	      /* wall clock of the poll */
	bool online;	      /* fewer than offline_after consecutive failures */
	bool frozen;	      /* life_check unchanged for life_check_s */
	int64_t device_time;  /* from a device_time point, -1 if none */
	struct mb_health health;
	struct mb_sample *samples; /* only when ok: every point of the device, in profile order */
	size_t n_samples;
};
void mb_poll_result_free(struct mb_poll_result *r); /* accepts NULL */

/* Called on `ctx`'s thread with each result; takes ownership of it. */
typedef void (*mb_result_fn)(struct mb_poll_result *r, void *ud);

struct mb_bus;

/* Starts the worker of cfg->buses[bus_index], polling every device of cfg on that
 * bus. cfg must outlive the bus. Returns 0 or -errno. */
int mb_bus_start(const struct hw_config *cfg, size_t bus_index, unsigned generation,
		 GMainContext *ctx, mb_result_fn fn, void *ud, struct mb_bus **out);
/* Stops and joins the worker (within the bus timeout); accepts NULL. Results already
 * queued on ctx may still be delivered afterwards: compare their generation. */
void mb_bus_stop(struct mb_bus *b);

#endif

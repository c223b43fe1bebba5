/* A Modbus bus: one worker thread per TCP endpoint or serial line that polls its
 * devices' point groups on a deadline schedule (fast groups first when the line is
 * busy), runs the writes it is asked for, and hands every result to the main loop.
 * Results are made of the hub's types (samples, health, error kinds); devices/hubfeed.h
 * applies them to the hub.
 * mb_bus_start/mb_bus_stop/mb_bus_command run on the main thread; results are
 * delivered on the GMainContext given to mb_bus_start. */
#ifndef HW_BUS_H
#define HW_BUS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/decode.h"
#include "devices/layout.h"
#include "devices/link.h"
#include "core/profile.h"
#include "core/config.h"
#include "hub/hub.h" /* the hub's input types: results are made of them */
#include "core/value.h"

struct mb_layout_ref;

struct mb_poll_result {
	unsigned generation;   /* the bus generation it came from */
	size_t device_index;   /* into hw_config.devices */
	bool ok;	       /* the polled group answered (exceptions count as answered) */
	enum hub_err_kind err; /* first error of this poll */
	int64_t t_ms;	       /* wall clock of the poll */
	bool online;	       /* answered, and fewer than offline_after consecutive failures */
	bool frozen;	       /* life_check unchanged for life_check_s */
	int64_t device_time;   /* from a device_time point, -1 if none */
	struct hub_dev_health health;
	/* full: samples hold every point of the device, in layout order (the layout may
	 * have changed: a block count moved). Otherwise only the points that changed. */
	bool full;
	/* The device's points (definition, block, instance): samples[i] is the point at
	 * layout[samples[i].index]. The result holds a reference on it, so it stays valid
	 * until mb_poll_result_free, even after its bus stopped (the definitions are the
	 * profile's: the configuration must still be loaded to read them). */
	const struct mb_lpoint *layout;
	size_t n_layout;		  /* points in the device's layout */
	struct mb_layout_ref *layout_ref; /* private to the bus: what keeps layout alive */
	struct hub_sample *samples;
	size_t n_samples;
};
void mb_poll_result_free(struct mb_poll_result *r); /* accepts NULL */

/* Called on `ctx`'s thread with each result; takes ownership of it. */
typedef void (*mb_result_fn)(struct mb_poll_result *r, void *ud);
/* Called on `ctx`'s thread when a command finished: 0 or a negative errno. */
typedef void (*mb_cmd_fn)(int rc, void *ud);

struct mb_bus;

struct mb_bus_stats {
	struct mb_link_stats link;
	uint64_t polls;
	uint64_t overruns;
	uint64_t commands;
};

/* Starts the worker of cfg->buses[bus_index], polling every device of cfg on that
 * bus. cfg must outlive the bus. Returns 0 or -errno. */
int mb_bus_start(const struct hw_config *cfg, size_t bus_index, unsigned generation,
		 GMainContext *ctx, mb_result_fn fn, void *ud, struct mb_bus **out);
/* Stops and joins the worker (within the bus timeout); accepts NULL. Results already
 * queued on ctx may still be delivered afterwards: they stay valid (their layout is
 * theirs) but belong to a stopped bus: compare their generation. */
void mb_bus_stop(struct mb_bus *b);
const struct cfg_bus *mb_bus_config(const struct mb_bus *b);
void mb_bus_get_stats(struct mb_bus *b, struct mb_bus_stats *out);
/* The current health counters of cfg->devices[device_index], if it is on this bus
 * (results carry them too, but results with nothing new are not sent). Any thread. */
bool mb_bus_device_health(struct mb_bus *b, size_t device_index, struct hub_dev_health *out);

/* Queues profile command `command` for cfg->devices[device_index] (which must be on
 * this bus), asked for by `who`. Commands go before the next poll. Returns 0 when
 * queued (fn then reports the outcome), -ENOENT (no such command or device on this
 * bus) or -EPERM (the device's allow_commands does not name it). Every request, run
 * or refused, is logged with who asked for it. */
int mb_bus_command(struct mb_bus *b, size_t device_index, const char *command, const char *who,
		   mb_cmd_fn fn, void *ud);

#endif

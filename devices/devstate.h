/* The state machine of one Modbus device, pure: its read plan and buffers, the last
 * value and quality of each point, the freshness of its poll groups, its health
 * counters, online/offline and back-off, and what it reports. It is told the outcome
 * of every request and what time it is; it does no I/O, has no globals and no clock of
 * its own: every call takes now (monotonic microseconds) and, where a value or a
 * result is stamped, wall_ms (Unix milliseconds). Deadlines of the next polls are the
 * caller's (devices/bus.c schedules, reads and hands results over). One devstate is
 * used by one thread at a time (its bus worker). */
#ifndef HW_DEVSTATE_H
#define HW_DEVSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/layout.h"
#include "devices/plan.h"
#include "core/config.h"

/* What came of one request, as the link reported it. */
enum ds_answer {
	DS_A_OK = 0,	  /* the values are in the request's buffer (ds_req_dst) */
	DS_A_TIMEOUT,	  /* no whole answer within the bus's timeout */
	DS_A_UNREACHABLE, /* exception 0x0A/0x0B: a gateway cannot reach the device */
	DS_A_EXCEPTION,	  /* any other exception: the device refuses these addresses */
	DS_A_INVALID,	  /* an answer that does not match the request (frame, unit, length) */
	DS_A_LOST,	  /* the connection broke */
	DS_A_NO_LINK,	  /* no connection could be made: nothing was sent */
};

struct ds_outcome {
	enum ds_answer a;
	int code;	/* the exception code (DS_A_EXCEPTION, DS_A_UNREACHABLE) */
	int64_t rtt_us; /* from request to answer (DS_A_OK) */
};

/* What the device's state tells the worker's log: each transition once, when it
 * happens (a repeating failure when it starts and when it ends). */
enum ds_ev_kind {
	DS_EV_UNREADABLE, /* point `name` is outside the address space: config_error */
	DS_EV_REFUSED, /* request `span` refused (exception `code`): its points are config_error */
	DS_EV_SPLIT,   /* refused request `span` is read as two, cut at address `cut` */
	DS_EV_MISSED,  /* change counter `name` jumped by `count`: count - 1 changes not seen */
	DS_EV_STALE,   /* group `name` not read for `age_ms`: its points are stale */
	DS_EV_FRESH,   /* group `name` read again */
	DS_EV_OFFLINE, /* no answer in `count` polls (last error `err`): offline */
	DS_EV_ANSWERING, /* answering again after being offline */
};

struct ds_ev {
	enum ds_ev_kind kind;
	const char *name; /* point or group (transfer none: valid during the callback) */
	struct mb_span span;
	uint32_t cut;
	int code;
	uint64_t count;
	int64_t age_ms;
	enum hub_err_kind err;
};

/* Called synchronously for every transition, in order. */
typedef void (*ds_emit_fn)(const struct ds_ev *ev, void *ud);

struct devstate;

/* What a poll of a group knew of its change counter when it started (the caller keeps
 * it from ds_poll_begin/ds_poll_whole to ds_group_done/ds_poll_end). */
struct ds_poll {
	int64_t counter;
	bool counter_ok;
};

/* The state of device c (transfer none: c, its profile and its bus must outlive it),
 * with no layout yet: ds_counts() gives the block counts to build one for, then
 * ds_set_layout(). Returns 0 or -ENOMEM. */
int ds_create(const struct cfg_device *c, ds_emit_fn emit, void *ud, struct devstate **out);
void ds_destroy(struct devstate *d); /* accepts NULL */

/* ---- layout and read plan ---- */

/* The block counts the layout must have (one per profile block; transfer none). */
const int *ds_counts(const struct devstate *d);
/* Adopts layout lay (transfer none: it must outlive its use, n points, as built by
 * mb_layout_build for ds_counts()) and plans the reads of every group; the last values
 * of the points that remain are kept, and the next result is full. Returns 0,
 * -ENOMEM (the old layout stays when nothing could be allocated) or the planner's
 * -errno (the new layout is adopted, its reads incomplete). */
int ds_set_layout(struct devstate *d, const struct mb_lpoint *lay, size_t n);
const struct mb_lpoint *ds_layout(const struct devstate *d, size_t *n);

size_t ds_n_reqs(const struct devstate *d);
const struct mb_span *ds_req_span(const struct devstate *d, size_t r);
/* Request r belongs to group g and is to be sent at now (a refused one waits for its
 * retry time). */
bool ds_req_wanted(const struct devstate *d, size_t r, int g, int64_t now);
/* Where the answer to request r goes: uint16_t registers or uint8_t bits. */
void *ds_req_dst(struct devstate *d, size_t r);

/* ---- groups, for the caller's schedule ---- */

size_t ds_n_groups(
    const struct devstate *d); /* [0]: the device's own interval; [1 + k]: profile group k */
bool ds_group_has_points(const struct devstate *d, int g);
/* The group's poll interval (us): the configuration's, at most fire_refresh_ms for a
 * group holding a fire-class point. */
int64_t ds_group_interval(const struct devstate *d, int g);
/* True once after group g's change counter moved: it is to be read now. */
bool ds_take_read_now(struct devstate *d, int g);

/* ---- outcomes and time ---- */

/* Starts a poll of group g at now. Returns false when the group's change counter has
 * not moved since it was last read and it was read recently enough (counted as
 * skipped, the group is fresh): a group holding a fire point is still read every
 * fire_refresh_ms. */
bool ds_poll_begin(struct devstate *d, int g, int64_t now, struct ds_poll *pc);
/* Starts an unconditional read of group g while the device is read whole. */
void ds_poll_whole(struct devstate *d, int g, struct ds_poll *pc);
/* Takes in the outcome of request r at now. Returns HUB_E_NONE to go on with the
 * group's other requests, or the error that ends the poll. A refused request is split
 * in two where it can be (*split, if given: requests r and r + 1 replace it, to be
 * read again) or else marked refused (its points config_error, tried again later). */
enum hub_err_kind ds_take_answer(struct devstate *d, size_t r, const struct ds_outcome *o,
				 int64_t now, bool *split);
/* Takes in the values group g's requests read (at wall_ms). Returns true when a block
 * count moved: the caller builds the layout for ds_counts() and calls ds_set_layout. */
bool ds_take_group(struct devstate *d, int g, int64_t now, int64_t wall_ms);
/* Group g (started with ds_poll_whole) was read and taken in. */
void ds_group_done(struct devstate *d, int g, const struct ds_poll *pc, int64_t now);
/* Ends the poll of group g that gave k (HUB_E_NONE: read and taken in): online, or one
 * more failure (back-off; offline after offline_after), then staleness. */
void ds_poll_end(struct devstate *d, int g, enum hub_err_kind k, const struct ds_poll *pc,
		 int64_t now, int64_t wall_ms);
/* Marks groups not refreshed for two intervals and a timeout stale (and back good).
 * Returns true when one changed. */
bool ds_check_stale(struct devstate *d, int64_t now);

/* The device is to be read whole before anything is reported (it comes online, or
 * its layout changed). */
bool ds_needs_whole(const struct devstate *d);
bool ds_online(const struct devstate *d);
/* Backed off until then (monotonic us; 0: not held). */
int64_t ds_hold_until(const struct devstate *d);
const struct hub_dev_health *ds_health(const struct devstate *d);
/* Deadlines of the device's groups missed by whole intervals (counted by the caller's
 * schedule). */
void ds_count_overruns(struct devstate *d, uint64_t n);

/* What changed since the last result, as a result to send (transfer full), or NULL
 * when there is nothing worth sending: only counters and clocks moved, and the last
 * result is less than 5 s old. k: the error of the poll that ends (HUB_E_NONE for
 * none). The caller sets generation, device_index and layout_ref. */
struct mb_poll_result *ds_result(struct devstate *d, enum hub_err_kind k, int64_t now,
				 int64_t wall_ms);

#endif

/* The state hub: the latest value, quality and timestamp of every point of every
 * device, fed by poll results and feeding its listeners with what changed.
 * Main-loop thread only. */
#ifndef HW_HUB_H
#define HW_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/decode.h"
#include "gateway/config.h"
#include "gateway/value.h"

/* The points of a device's layout: shared by every device with the same profile and
 * block counts (a hall's thousand panels of one model have one). */
struct hub_layout {
	size_t n;
	const struct prof_point **defs; /* owned by the profile */
	const char **keys;		/* "fire", or "zone[3].fire" */
	uint16_t *blocks;		/* block index or MB_TOP_LEVEL, per point */
	uint16_t *instances;
	uint8_t *groups; /* poll group per point (0: the device's own interval) */
	size_t n_groups;
};

/* What changes of a point: 16 bytes. Its name and definition are in the layout, and
 * the time of its value is its poll group's (hub_point_t). */
struct hub_point {
	struct mb_pval pv; /* value and quality; pv.flags: HUB_POINT_CHANGED */
};

/* Value or quality changed in the last hub_apply. */
#define HUB_POINT_CHANGED 1u

static inline enum hw_quality hub_point_q(const struct hub_point *p)
{
	return (enum hw_quality)p->pv.q;
}

static inline bool hub_point_changed(const struct hub_point *p)
{
	return p->pv.flags & HUB_POINT_CHANGED;
}

enum hub_dev_quality { HUB_DQ_UNKNOWN = 0, HUB_DQ_GOOD, HUB_DQ_FROZEN, HUB_DQ_COMM_LOST };
const char *hub_dev_quality_name(enum hub_dev_quality q);

struct hub_device {
	const struct cfg_device *cfg;
	bool seen; /* at least one poll result arrived */
	bool online;
	bool frozen;
	enum hub_dev_quality quality;
	int64_t last_poll_ms;
	int64_t device_time; /* -1 when unknown */
	enum mb_err_kind last_err;
	struct mb_health health;
	const struct hub_layout *layout; /* NULL until the first full result */
	int64_t *group_t;		 /* per poll group: wall clock of its last read */
	struct hub_point *points;	 /* layout->n of them */
	size_t n_points;
	size_t n_changed;   /* points with changed set by the last hub_apply */
	bool state_changed; /* online, frozen or quality changed in the last hub_apply */
};

static inline const char *hub_point_key(const struct hub_device *d, size_t i)
{
	return d->layout->keys[i];
}

static inline const struct prof_point *hub_point_def(const struct hub_device *d, size_t i)
{
	return d->layout->defs[i];
}

/* Wall clock of the read that produced point i's value; 0 = never. */
static inline int64_t hub_point_t(const struct hub_device *d, size_t i)
{
	return d->group_t[d->layout->groups[i]];
}

/* The value of point i of d, label included. */
void hub_point_value(const struct hub_device *d, size_t i, struct hw_value *v);

struct hub;

/* Called after a result changed something: device state or at least one point. */
typedef void (*hub_change_fn)(struct hub *h, struct hub_device *d, void *ud);

/* cfg must outlive the hub. Returns 0 or -ENOMEM. */
int hub_create(const struct hw_config *cfg, struct hub **out);
void hub_destroy(struct hub *h); /* accepts NULL */
int hub_add_listener(struct hub *h, hub_change_fn fn, void *ud);
/* Applies one poll result (ownership stays with the caller). */
void hub_apply(struct hub *h, const struct mb_poll_result *r);
/* Updates the health counters of device i (fresher than its last result). */
void hub_set_health(struct hub *h, size_t i, const struct mb_health *health);
size_t hub_n_devices(const struct hub *h);
struct hub_device *hub_device_at(struct hub *h, size_t i);

#endif

/* The Modbus source's side of the hub: converts a bus's poll result (its layout of
 * mb_lpoint, which carries wire addresses) into the hub's source-agnostic device update.
 * Pure but for the hub call; main loop thread. */
#define LOG_TAG "hubfeed"
#include "devices/hubfeed.h"

#include <errno.h>
#include <stdlib.h>

#include "devices/layout.h"
#include "core/log.h"

static uint16_t hub_block(uint16_t block)
{
	return block == MB_TOP_LEVEL ? HUB_TOP_LEVEL : block;
}

/* Whether the hub's layout l is the bus's layout lay (the group follows from the
 * definition and block, as the bus builds it). */
static bool same_layout(const struct hub_layout *l, const struct mb_lpoint *lay, size_t n)
{
	if (!l || l->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (l->defs[i] != lay[i].def || l->blocks[i] != hub_block(lay[i].block) ||
		    l->instances[i] != lay[i].instance)
			return false;
	return true;
}

/* Whether sample s names the same point in the hub's layout l as in the bus's lay. */
static bool sample_fits(const struct hub_layout *l, const struct mb_lpoint *lay, size_t n,
			const struct hub_sample *s)
{
	return l && s->index < l->n && s->index < n && l->defs[s->index] == lay[s->index].def;
}

int mb_hubfeed_apply(struct hub *h, const struct mb_poll_result *r)
{
	const struct hub_device *d = hub_device_at(h, r->device_index);
	struct hub_lpoint *lay = NULL;
	struct hub_sample *kept = NULL;
	struct hub_dev_update u = {
	    .device_index = r->device_index,
	    .err = r->err,
	    .t_ms = r->t_ms,
	    .online = r->online,
	    .frozen = r->frozen,
	    .device_time = r->device_time,
	    .health = r->health,
	    .samples = r->samples,
	    .n_samples = r->n_samples,
	};

	if (!d)
		return 0;
	if (r->full && r->layout && !same_layout(d->layout, r->layout, r->n_layout)) {
		lay = calloc(r->n_layout ? r->n_layout : 1, sizeof(*lay));
		if (!lay)
			goto nomem;
		for (size_t i = 0; i < r->n_layout; i++)
			lay[i] = (struct hub_lpoint){.def = r->layout[i].def,
						     .block = hub_block(r->layout[i].block),
						     .instance = r->layout[i].instance,
						     .group = r->layout[i].group};
		u.layout = lay;
		u.n_layout = r->n_layout;
	} else {
		/* The hub's layout is this result's, or this is a delta: every sample must
		 * name the point the hub holds at its index. */
		size_t i = 0;

		while (i < r->n_samples &&
		       sample_fits(d->layout, r->layout, r->n_layout, &r->samples[i]))
			i++;
		if (i < r->n_samples) {
			kept = calloc(r->n_samples, sizeof(*kept));
			if (!kept)
				goto nomem;
			u.samples = kept;
			u.n_samples = 0;
			for (i = 0; i < r->n_samples; i++)
				if (sample_fits(d->layout, r->layout, r->n_layout, &r->samples[i]))
					kept[u.n_samples++] = r->samples[i];
		}
	}
	hub_update_device(h, &u);
	free(lay);
	free(kept);
	return 0;
nomem:
	log_err("device %s: out of memory", d->cfg->id);
	return -ENOMEM;
}

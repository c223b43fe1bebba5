/* The worker of one Modbus bus (TCP endpoint or serial line): owns its link and the
 * runtime state of every device on it (layout, read plans per poll group, last values,
 * schedule, health) and the queue of writes. Runs on its own thread; results go to
 * the main loop as idle sources attached to its context. */
#define LOG_TAG "bus"
#include "devices/bus.h"

#include <errno.h>
#include <modbus.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices/decode.h"
#include "devices/layout.h"
#include "devices/plan.h"
#include "devices/sched.h"
#include "gateway/log.h"

#define NO_REQ UINT16_MAX
#define SLOT_DIRTY 1u	   /* changed since the last result */
#define SLOT_UNREADABLE 2u /* outside the address space: never planned */
/* Results carrying only counters and clocks go to the main loop at most this often. */
#define QUIET_REFRESH_US (5 * 1000000LL)
/* Every device's groups are checked for staleness at least this often, polled or not. */
#define STALE_SCAN_US (200 * 1000LL)

/* What changes of one point of a device: 24 bytes, as a thousand devices of a hundred
 * points each are held at once. Where the point is (definition, address, group...) is
 * in the layout, d->lay[i], shared by the bus's devices of one profile and counts. */
struct slot {
	struct hw_pval pv; /* last reported value and quality; pv.flags: SLOT_* */
	uint32_t off;	   /* its first register/bit in the buffer */
	uint16_t req;	   /* request holding the point, NO_REQ if it cannot be read */
};

/* A layout built for one profile, address base and block counts. Counted: the bus
 * holds one reference, and each result that points into it another, so a result
 * delivered after its bus stopped still reads valid memory. */
struct mb_layout_ref {
	gint refs;
	const struct profile *p;
	int address_base;
	int *counts;
	struct mb_lpoint *lay;
	size_t n;
};

/* The last raw integer of a top-level point (counters, counts, clocks). */
struct raw {
	int64_t v;
	bool ok;
};

struct req {
	struct mb_span span; /* wire addresses */
	uint32_t off;
	int grp;
	bool refused;	  /* the device answered an exception for this single-point request */
	int64_t retry_at; /* monotonic us: when a refused request is tried again */
};

struct grp_rt {
	int64_t interval_us;
	int64_t next_due;     /* monotonic us */
	int64_t fresh_at;     /* monotonic us: last read, or last confirmation by the counter */
	int64_t read_at;      /* monotonic us: last read */
	int64_t refresh_us;   /* with a change counter: re-read at least this often */
	bool fire;	      /* holds a fire-class point: read at least every fire_refresh_ms */
	int counter_slot;     /* slot of the change counter, -1 for none */
	int64_t counter_seen; /* counter value at this group's last read */
	bool counter_known;
	bool stale;
	bool has_slots;
	int64_t read_ms; /* wall clock of its last read: the time of its points' values */
};

struct dev_rt {
	const struct cfg_device *cfg;
	size_t index;
	int *counts;		       /* per block: instances in the layout */
	const struct mb_lpoint *lay;   /* n_slots points, in the bus's layout cache */
	struct mb_layout_ref *lay_ref; /* the cache entry lay is in */
	struct slot *slots;
	size_t n_slots;
	struct raw *raws; /* per top-level point (the first slots) */
	size_t n_top;
	struct req *reqs;
	size_t n_reqs;
	uint16_t *regs;
	uint8_t *bits;
	struct grp_rt *grps; /* [0]: points without a group; [1 + g]: profile group g */
	size_t n_grps;
	struct hub_dev_health h;
	struct hub_dev_health h_shared; /* copy of h for other threads, under the bus lock */
	bool ever_ok;
	bool online;
	bool send_full;
	int64_t hold_until; /* monotonic us: backed off after a failure */
	int life_slot;
	int time_slot;
	int64_t delivered_at; /* monotonic us of the last result handed over */
	bool delivered_online;
	bool delivered_frozen;
	int64_t life_changed; /* monotonic us */
	bool life_seen;
	bool fail_logged;
	size_t e0; /* its groups' schedule entries: mb_bus.entries[e0 .. e0 + n_grps) */
};

struct cmd {
	size_t dev;
	const struct prof_command *c;
	char *who;
	mb_cmd_fn fn;
	void *ud;
};

struct mb_bus {
	const struct hw_config *cfg;
	const struct cfg_bus *bus;
	unsigned generation;
	GMainContext *ctx;
	mb_result_fn fn;
	void *ud;
	struct mb_link *link;
	struct dev_rt *devs;
	size_t n_devs;
	GThread *thread;
	GMutex lock; /* stop, cmds, stats */
	GCond cond;
	bool stop;
	GQueue cmds;
	struct mb_bus_stats stats;
	/* The schedule: one entry per group of every device, kept current after each
	 * poll, so picking the next poll scans one small array. */
	struct sched_entry *entries;
	uint32_t *entry_ref; /* device << 8 | group of each entry */
	size_t n_entries;
	int64_t epoch; /* monotonic us: groups of one interval are due together on its grid */
	int64_t overrun_scan; /* monotonic us: last count of groups left behind */
	int64_t stale_scan;   /* monotonic us: last staleness check of every device */
	GPtrArray *layouts; /* struct mb_layout_ref: shared by devices of one profile and counts */
	int pipeline;	    /* requests in flight on the link (TCP) */
};

static void lay_cache_unref(gpointer p)
{
	struct mb_layout_ref *lc = p;
	if (!g_atomic_int_dec_and_test(&lc->refs))
		return;
	free(lc->counts);
	free(lc->lay);
	free(lc);
}

void mb_poll_result_free(struct mb_poll_result *r)
{
	if (!r)
		return;
	if (r->layout_ref)
		lay_cache_unref(r->layout_ref);
	free(r->samples);
	free(r);
}

static bool is_bit_table(enum mb_table t)
{
	return t == MB_COIL || t == MB_DISCRETE;
}

/* Exceptions 0x0A (gateway path unavailable) and 0x0B (gateway target failed to respond):
 * a TCP gateway answers for a device behind it that it cannot reach. The device did not
 * answer: that is not a refused address. */
static bool gateway_unreachable(int e)
{
	return e == EMBXGPATH || e == EMBXGTAR;
}

static enum hub_err_kind classify(int e)
{
	if (e == ETIMEDOUT || gateway_unreachable(e))
		return HUB_E_TIMEOUT;
	if (e >= EMBXILFUN && e <= EMBXGTAR)
		return HUB_E_EXCEPTION;
	if (e >= EMBBADCRC && e <= EMBBADSLAVE)
		return HUB_E_INVALID;
	return HUB_E_IO;
}

/* ---- layout and read plans ---- */

static void dev_free_layout(struct dev_rt *d)
{
	free(d->slots);
	free(d->reqs);
	free(d->regs);
	free(d->bits);
	d->slots = NULL;
	d->reqs = NULL;
	d->regs = NULL;
	d->bits = NULL;
	d->n_slots = d->n_reqs = 0;
}

/* The group (index into dev_rt.grps) of point i. */
static int grp_of(const struct dev_rt *d, size_t i)
{
	int pgroup = d->lay[i].group;
	return pgroup < 0 ? 0 : pgroup + 1;
}

static int span_cmp_grp(const void *a, const void *b)
{
	const struct req *x = a, *y = b;
	if (x->grp != y->grp)
		return x->grp - y->grp;
	if (x->span.table != y->span.table)
		return (int)x->span.table - (int)y->span.table;
	return (int)x->span.address - (int)y->span.address;
}

/* Locates every slot of group g in the group's requests. */
static int locate(struct dev_rt *d)
{
	if (d->n_reqs >= NO_REQ)
		return -E2BIG;
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		const struct mb_lpoint *L = &d->lay[i];
		unsigned w = prof_point_width(L->def);
		s->req = NO_REQ;
		for (size_t r = 0; r < d->n_reqs; r++) {
			const struct req *q = &d->reqs[r];
			if (q->grp != grp_of(d, i) || q->span.table != L->def->table)
				continue;
			if (L->address >= q->span.address &&
			    L->address + w <= (uint32_t)q->span.address + q->span.count) {
				s->req = (uint16_t)r;
				s->off = q->off + (L->address - q->span.address);
				break;
			}
		}
		if (s->req == NO_REQ && !(s->pv.flags & SLOT_UNREADABLE))
			return -EFAULT; /* the planner left a point out: a bug */
	}
	return 0;
}

static int alloc_buffers(struct dev_rt *d)
{
	size_t nregs = 0, nbits = 0;

	for (size_t r = 0; r < d->n_reqs; r++) {
		struct req *q = &d->reqs[r];
		if (is_bit_table(q->span.table)) {
			q->off = (uint32_t)nbits;
			nbits += q->span.count;
		} else {
			q->off = (uint32_t)nregs;
			nregs += q->span.count;
		}
	}
	free(d->regs);
	free(d->bits);
	d->regs = calloc(nregs ? nregs : 1, sizeof(uint16_t));
	d->bits = calloc(nbits ? nbits : 1, 1);
	return d->regs && d->bits ? 0 : -ENOMEM;
}

/* The layout of d with its current counts: one the bus already has, or a new one
 * (*ref: its cache entry, referenced by the bus). */
static const struct mb_lpoint *layout_for(struct mb_bus *b, const struct dev_rt *d, size_t *n,
					  struct mb_layout_ref **ref)
{
	const struct profile *p = d->cfg->profile;
	size_t nb = p->n_blocks ? p->n_blocks : 1;

	for (guint i = 0; i < b->layouts->len; i++) {
		const struct mb_layout_ref *lc = b->layouts->pdata[i];
		if (lc->p == p && lc->address_base == d->cfg->address_base &&
		    memcmp(lc->counts, d->counts, nb * sizeof(int)) == 0) {
			*n = lc->n;
			*ref = b->layouts->pdata[i];
			return lc->lay;
		}
	}
	struct mb_layout_ref *lc = calloc(1, sizeof(*lc));
	if (!lc)
		return NULL;
	lc->refs = 1;
	lc->p = p;
	lc->address_base = d->cfg->address_base;
	lc->counts = malloc(nb * sizeof(int));
	if (!lc->counts || mb_layout_build(p, d->counts, lc->address_base, &lc->lay, &lc->n) < 0) {
		lay_cache_unref(lc);
		return NULL;
	}
	memcpy(lc->counts, d->counts, nb * sizeof(int));
	g_ptr_array_add(b->layouts, lc);
	*n = lc->n;
	*ref = lc;
	return lc->lay;
}

/* The interval and refresh of each group: the configuration's, but no longer than the
 * device's fire_refresh_ms for a group holding a fire-class point (whatever a change
 * counter says, a manual call point must not wait a minute). */
static void group_timing(struct dev_rt *d)
{
	const struct profile *p = d->cfg->profile;
	int64_t fire_us = (int64_t)d->cfg->fire_refresh_ms * 1000;

	for (size_t g = 0; g < d->n_grps; g++) {
		struct grp_rt *gr = &d->grps[g];
		/* grps[0]: the device's own interval; grps[1 + k]: profile group k */
		gr->interval_us = (int64_t)cfg_device_group_interval(d->cfg, (int)g - 1) * 1000;
		gr->refresh_us = g ? (int64_t)p->groups[g - 1].refresh_ms * 1000 : INT64_MAX;
		gr->fire = false;
	}
	for (size_t i = 0; i < d->n_slots; i++)
		if (d->lay[i].def->cls == PC_FIRE && !d->lay[i].unreadable)
			d->grps[grp_of(d, i)].fire = true;
	for (size_t g = 0; g < d->n_grps && fire_us > 0; g++) {
		struct grp_rt *gr = &d->grps[g];
		if (!gr->fire)
			continue;
		gr->interval_us = MIN(gr->interval_us, fire_us);
		gr->refresh_us = MIN(gr->refresh_us, fire_us);
	}
}

/* Builds the layout (every point, block instances by the current counts) and a read
 * plan per group. Keeps the last values of points that remain. */
static int dev_plan(struct mb_bus *b, struct dev_rt *d)
{
	const struct cfg_device *c = d->cfg;
	const struct profile *p = c->profile;
	struct slot *old = d->slots;
	const struct mb_lpoint *old_lay = d->lay;
	size_t n_old = d->n_slots, k = 0;
	struct mb_span *avoid = NULL;
	int rc = 0;

	struct mb_layout_ref *ref = NULL;
	const struct mb_lpoint *lay = layout_for(b, d, &k, &ref);
	if (!lay)
		return -ENOMEM;
	d->slots = calloc(k ? k : 1, sizeof(*d->slots));
	if (!d->slots) {
		d->slots = old;
		return -ENOMEM;
	}
	d->lay = lay;
	d->lay_ref = ref;
	for (size_t i = 0; i < k; i++)
		if (lay[i].unreadable)
			d->slots[i].pv.flags = SLOT_UNREADABLE;
	d->n_slots = k;

	/* Carry over what is known of points that stay. */
	for (size_t i = 0; i < k && old; i++) {
		struct slot *s = &d->slots[i];
		for (size_t j = 0; j < n_old; j++) {
			if (old_lay[j].def == lay[i].def && old_lay[j].block == lay[i].block &&
			    old_lay[j].instance == lay[i].instance) {
				uint8_t flags = s->pv.flags;
				s->pv = old[j].pv;
				s->pv.flags = flags;
				break;
			}
		}
	}
	free(old);

	for (size_t i = 0; i < k; i++) {
		struct slot *s = &d->slots[i];
		if (!(s->pv.flags & SLOT_UNREADABLE))
			continue;
		log_err("device %s: point %s is outside the address space (address_base %d)", c->id,
			lay[i].def->name, c->address_base);
		s->pv.q = HW_Q_CONFIG_ERROR;
	}

	avoid = calloc(p->n_no_read ? p->n_no_read : 1, sizeof(*avoid));
	if (!avoid)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_no_read; i++) {
		const struct prof_noread *nr = &p->no_read[i];
		uint32_t from =
		    nr->from >= (unsigned)c->address_base ? nr->from - c->address_base : 0;
		avoid[i] =
		    (struct mb_span){nr->table, (uint16_t)from, (uint16_t)(nr->to - nr->from + 1)};
	}
	struct mb_plan_limits lim = {.max_regs = (uint16_t)c->max_regs,
				     .max_bits = (uint16_t)c->max_bits,
				     .max_gap = (uint16_t)c->max_gap,
				     .avoid = avoid,
				     .n_avoid = p->n_no_read};
	free(d->reqs);
	d->reqs = NULL;
	d->n_reqs = 0;
	for (size_t g = 0; g < d->n_grps; g++) {
		struct mb_span *spans = calloc(k ? k : 1, sizeof(*spans)), *out = NULL;
		size_t ns = 0, nout = 0;
		if (!spans) {
			rc = -ENOMEM;
			break;
		}
		for (size_t i = 0; i < k; i++) {
			const struct mb_lpoint *L = &d->lay[i];
			if (grp_of(d, i) != (int)g || L->unreadable)
				continue;
			spans[ns++] = (struct mb_span){L->def->table, (uint16_t)L->address,
						       (uint16_t)prof_point_width(L->def)};
		}
		d->grps[g].has_slots = ns > 0;
		rc = mb_plan_build(spans, ns, &lim, &out, &nout);
		free(spans);
		if (rc < 0)
			break;
		struct req *nr = realloc(d->reqs, (d->n_reqs + nout + 1) * sizeof(*nr));
		if (!nr) {
			free(out);
			rc = -ENOMEM;
			break;
		}
		d->reqs = nr;
		for (size_t r = 0; r < nout; r++)
			d->reqs[d->n_reqs++] = (struct req){.span = out[r], .grp = (int)g};
		free(out);
	}
	free(avoid);
	if (rc == 0 && d->n_reqs > 1)
		qsort(d->reqs, d->n_reqs, sizeof(*d->reqs), span_cmp_grp);
	if (rc == 0)
		rc = alloc_buffers(d);
	if (rc == 0)
		rc = locate(d);
	if (rc < 0) {
		log_err("device %s: cannot plan reads: %s", c->id, strerror(-rc));
		return rc;
	}
	d->life_slot = d->time_slot = -1;
	for (size_t i = 0; i < p->n_points; i++) {
		if (p->points[i].role == PR_LIFE_CHECK && d->life_slot < 0)
			d->life_slot = (int)i;
		if (p->points[i].role == PR_DEVICE_TIME && d->time_slot < 0)
			d->time_slot = (int)i;
	}
	for (size_t g = 1; g < d->n_grps; g++) {
		const struct prof_group *pg = &p->groups[g - 1];
		d->grps[g].counter_slot = pg->change_point; /* top-level slots come first */
	}
	group_timing(d);
	d->send_full = true;
	return 0;
}

/* Splits request r, which the device refused, at a point boundary near its middle
 * and relocates its points. Returns true if it could be split. */
static bool split_request(struct dev_rt *d, size_t r)
{
	struct req *q = &d->reqs[r];
	uint32_t lo = q->span.address, hi = lo + q->span.count, cut = 0, best = UINT32_MAX;
	uint32_t mid = lo + q->span.count / 2;

	for (size_t i = 0; i < d->n_slots; i++) {
		uint32_t a = d->lay[i].address;
		if (d->slots[i].req != r || a <= lo)
			continue;
		uint32_t dist = a > mid ? a - mid : mid - a;
		if (dist < best) {
			best = dist;
			cut = a;
		}
	}
	if (!cut)
		return false; /* one point (or several at one address): cannot split */
	struct req *nr = realloc(d->reqs, (d->n_reqs + 1) * sizeof(*nr));
	if (!nr)
		return false;
	d->reqs = nr;
	q = &d->reqs[r];
	memmove(&d->reqs[r + 2], &d->reqs[r + 1], (d->n_reqs - r - 1) * sizeof(*nr));
	d->n_reqs++;
	d->reqs[r + 1] = *q;
	q->span.count = (uint16_t)(cut - lo);
	d->reqs[r + 1].span.address = (uint16_t)cut;
	d->reqs[r + 1].span.count = (uint16_t)(hi - cut);
	/* The halves keep the request's place in the buffer: what other requests of this
	 * poll already read stays where it is. */
	d->reqs[r + 1].off = q->off + (cut - lo);
	if (locate(d) < 0)
		return false;
	log_info("device %s: %s %u+%u refused; reading it as %u+%u and %u+%u", d->cfg->id,
		 mb_table_name(q->span.table), lo, hi - lo, lo, cut - lo, cut, hi - cut);
	return true;
}

/* ---- polling ---- */

static void decode_slot(const struct dev_rt *d, size_t i, struct hw_value *v, int64_t *raw,
			bool *raw_ok)
{
	const struct slot *s = &d->slots[i];
	const struct mb_lpoint *L = &d->lay[i];
	*raw_ok = false;
	if (is_bit_table(L->def->table)) {
		mb_decode_bit(L->def, d->bits[s->off], v);
		*raw = d->bits[s->off] ? 1 : 0;
		*raw_ok = true;
		return;
	}
	const uint16_t *regs = d->regs + s->off;
	if (L->bit != L->def->bit) {
		struct prof_point tmp = *L->def;
		tmp.bit = L->bit;
		mb_decode_regs(&tmp, regs, v);
		*raw_ok = mb_decode_raw(&tmp, regs, raw) == 0;
		return;
	}
	mb_decode_regs(L->def, regs, v);
	*raw_ok = mb_decode_raw(L->def, regs, raw) == 0;
}

/* A new value is a change unless it is within the point's deadband of the last one
 * reported. */
static bool differs(const struct dev_rt *d, size_t i, const struct hw_value *nv)
{
	const struct prof_point *def = d->lay[i].def;
	struct hw_value ov;
	hw_pval_unpack(def, &d->slots[i].pv, &ov);
	if (def->deadband > 0 && ov.type != HW_V_NONE && nv->type != HW_V_NONE &&
	    ov.type != HW_V_BOOL && nv->type != HW_V_BOOL)
		return fabs(hw_value_as_double(nv) - hw_value_as_double(&ov)) >= def->deadband;
	return !hw_value_equal(&ov, nv);
}

/* The last raw integer of slot i, if it is a top-level point read as an integer. */
static bool slot_raw(const struct dev_rt *d, size_t i, int64_t *raw)
{
	if (i >= d->n_top || !d->raws[i].ok)
		return false;
	*raw = d->raws[i].v;
	return true;
}

static void note_counter(struct dev_rt *d, size_t i, int64_t raw)
{
	const struct prof_point *def = d->lay[i].def;
	int64_t last;
	if (def->role != PR_CHANGE_COUNTER || !slot_raw(d, i, &last) || raw == last)
		return;
	uint64_t width = prof_point_width(def) >= 2 ? 0xFFFFFFFFull : 0xFFFFull;
	uint64_t delta = ((uint64_t)raw - (uint64_t)last) & width;
	if (delta > 1) {
		d->h.missed_changes += delta - 1;
		log_info("device %s: change counter %s jumped by %llu: %llu transition(s) not seen",
			 d->cfg->id, def->name, (unsigned long long)delta,
			 (unsigned long long)(delta - 1));
	}
}

/* Block counts read from the device; true when the layout must change. */
static bool update_counts(struct dev_rt *d)
{
	const struct profile *p = d->cfg->profile;
	bool changed = false;

	for (size_t b = 0; b < p->n_blocks; b++) {
		const struct prof_block *blk = &p->blocks[b];
		int want = blk->count;
		if (blk->count_point) {
			want = d->counts[b];
			for (size_t i = 0; i < p->n_points; i++) {
				int64_t raw;
				if (strcmp(p->points[i].name, blk->count_point) != 0)
					continue;
				if (slot_raw(d, i, &raw) && d->slots[i].pv.q == HW_Q_GOOD)
					want = raw < 0		      ? 0
					       : raw > blk->max_count ? blk->max_count
								      : (int)raw;
				break;
			}
		}
		if (want != d->counts[b]) {
			d->counts[b] = want;
			changed = true;
		}
	}
	return changed;
}

/* How long a request the device refused waits before it is tried again: ten intervals
 * of its group, at least a second, at most a minute. */
static int64_t refused_retry_us(const struct dev_rt *d, int g)
{
	int64_t t = d->grps[g].interval_us * 10;
	return t < 1000000 ? 1000000 : t > 60000000 ? 60000000 : t;
}

static void scan_stale(struct mb_bus *b, const struct dev_rt *busy, int64_t now);
static void deliver(struct mb_bus *b, struct mb_poll_result *res);

/* Reads the requests of group g. Returns HUB_E_NONE, or the first hard error. */
static enum hub_err_kind read_group(struct mb_bus *b, struct dev_rt *d, int g, int64_t now)
{
	for (size_t r = 0; r < d->n_reqs; r++) {
		struct req *q = &d->reqs[r];
		if (q->grp != g)
			continue;
		if (q->refused && now < q->retry_at)
			continue;
		/* A long read of this device does not hide that the others are not read. */
		scan_stale(b, d, g_get_monotonic_time());
		if (!mb_link_is_connected(b->link) && mb_link_connect(b->link) < 0) {
			d->h.err_io++;
			return HUB_E_IO;
		}
		int64_t t0 = g_get_monotonic_time();
		void *dst = is_bit_table(q->span.table) ? (void *)(d->bits + q->off)
							: (void *)(d->regs + q->off);
		d->h.requests++;
		int rc = mb_link_read(b->link, d->cfg->unit, q->span.table, q->span.address,
				      q->span.count, dst, d->cfg->pause_ms);
		if (rc >= 0) {
			double ms = (double)(g_get_monotonic_time() - t0) / 1000.0;
			d->h.rtt_ms_last = ms;
			d->h.rtt_ms_avg =
			    d->h.rtt_ms_avg == 0 ? ms : d->h.rtt_ms_avg * 0.8 + ms * 0.2;
			q->refused = false;
			continue;
		}
		enum hub_err_kind k = classify(-rc);
		log_debug("device %s: %s %u+%u: %s", d->cfg->id, mb_table_name(q->span.table),
			  q->span.address, q->span.count, modbus_strerror(-rc));
		switch (k) {
		case HUB_E_EXCEPTION:
			d->h.err_exception++;
			if (split_request(d, r)) {
				r--; /* read the first half now */
				continue;
			}
			if (!q->refused)
				log_warn("device %s: refuses %s %u+%u (%s): its points are "
					 "config_error",
					 d->cfg->id, mb_table_name(q->span.table), q->span.address,
					 q->span.count, modbus_strerror(-rc));
			q->refused = true;
			/* Tried again now and then: the device may have been reconfigured. */
			q->retry_at = now + refused_retry_us(d, g);
			continue;
		case HUB_E_TIMEOUT:
		case HUB_E_INVALID:
			if (k == HUB_E_TIMEOUT)
				d->h.err_timeout++;
			else
				d->h.err_invalid++;
			/* The gateway answered in step for a device it cannot reach. */
			if (gateway_unreachable(-rc))
				return k;
			/* A late answer must not be taken for the next one, and a stream out
			 * of step starts again. */
			mb_link_flush(b->link);
			if (b->bus->type == BUS_TCP)
				mb_link_close(b->link);
			return k;
		default:
			d->h.err_io++;
			mb_link_close(b->link);
			return k;
		}
	}
	return HUB_E_NONE;
}

static void mark_dirty_group(struct dev_rt *d, int g, enum hw_quality q)
{
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		if (grp_of(d, i) == g && s->pv.q != HW_Q_CONFIG_ERROR && s->pv.q != q &&
		    s->pv.type != HW_V_NONE) {
			s->pv.q = (uint8_t)q;
			s->pv.flags |= SLOT_DIRTY;
		}
	}
}

/* Takes in what group g just read. */
static void absorb_group(struct dev_rt *d, int g, int64_t now, int64_t t_ms)
{
	d->grps[g].read_ms = t_ms;
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		if (grp_of(d, i) != g || s->req == NO_REQ)
			continue;
		if (d->reqs[s->req].refused) {
			if (s->pv.q != HW_Q_CONFIG_ERROR) {
				s->pv.q = HW_Q_CONFIG_ERROR;
				s->pv.flags |= SLOT_DIRTY;
			}
			continue;
		}
		struct hw_value nv;
		int64_t raw, last = 0;
		bool raw_ok;
		decode_slot(d, i, &nv, &raw, &raw_ok);
		if (raw_ok)
			note_counter(d, i, raw);
		if (s->pv.q != HW_Q_GOOD || differs(d, i, &nv)) {
			hw_pval_pack(d->lay[i].def, &nv, &s->pv);
			s->pv.flags |= SLOT_DIRTY;
		}
		s->pv.q = HW_Q_GOOD;
		if ((int)i == d->life_slot && raw_ok &&
		    (!d->life_seen || !slot_raw(d, i, &last) || raw != last)) {
			d->life_changed = now;
			d->life_seen = true;
		}
		if (i < d->n_top)
			d->raws[i] = (struct raw){raw, raw_ok};
	}
	/* A moved change counter: the groups it covers are read now. */
	for (size_t k = 1; k < d->n_grps; k++) {
		struct grp_rt *gr = &d->grps[k];
		if (gr->counter_slot < 0 || grp_of(d, (size_t)gr->counter_slot) != g)
			continue;
		int64_t raw;
		if (slot_raw(d, (size_t)gr->counter_slot, &raw) &&
		    (!gr->counter_known || raw != gr->counter_seen))
			gr->next_due = now;
	}
}

static struct mb_poll_result *make_result(struct mb_bus *b, struct dev_rt *d, int64_t now,
					  enum hub_err_kind k)
{
	struct mb_poll_result *res = calloc(1, sizeof(*res));
	if (!res)
		return NULL;
	res->generation = b->generation;
	res->device_index = d->index;
	res->t_ms = g_get_real_time() / 1000;
	res->err = k;
	res->ok = k == HUB_E_NONE;
	res->online = d->online;
	res->frozen = d->online && d->life_slot >= 0 && d->life_seen && d->cfg->life_check_s > 0 &&
		      now - d->life_changed >= (int64_t)d->cfg->life_check_s * 1000000;
	res->device_time = -1;
	if (d->time_slot >= 0)
		slot_raw(d, (size_t)d->time_slot, &res->device_time);
	res->health = d->h;
	res->layout = d->lay;
	res->n_layout = d->n_slots;
	res->layout_ref = d->lay_ref;
	if (res->layout_ref)
		g_atomic_int_inc(&res->layout_ref->refs);
	/* Counters and clocks move on every read; alone they are not worth waking the
	 * main loop for more than every QUIET_REFRESH. */
	bool loud = k != HUB_E_NONE || d->send_full || res->online != d->delivered_online ||
		    res->frozen != d->delivered_frozen || now - d->delivered_at >= QUIET_REFRESH_US;
	for (size_t i = 0; i < d->n_slots && !loud; i++)
		loud = (d->slots[i].pv.flags & SLOT_DIRTY) && d->lay[i].def->role == PR_NONE;
	if (!loud) {
		mb_poll_result_free(res);
		return NULL;
	}
	d->delivered_at = now;
	d->delivered_online = res->online;
	d->delivered_frozen = res->frozen;
	if (!d->online)
		return res;
	size_t n = 0;
	res->full = d->send_full;
	for (size_t i = 0; i < d->n_slots; i++)
		n += res->full || (d->slots[i].pv.flags & SLOT_DIRTY);
	if (n) {
		res->samples = calloc(n, sizeof(*res->samples));
		if (!res->samples) {
			res->full = false;
			return res;
		}
	}
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		if (!res->full && !(s->pv.flags & SLOT_DIRTY))
			continue;
		res->samples[res->n_samples++] = (struct hub_sample){
		    .index = (uint32_t)i, .pv = s->pv, .t_ms = d->grps[grp_of(d, i)].read_ms};
		res->samples[res->n_samples - 1].pv.flags = 0;
		s->pv.flags &= (uint8_t)~SLOT_DIRTY;
	}
	d->send_full = false;
	return res;
}

/* The retry delay after a failed poll: from the device's fastest interval. The other
 * devices on the line keep their own schedule. */
static int64_t backoff_us(const struct dev_rt *d)
{
	int64_t fastest = INT64_MAX;
	for (size_t g = 0; g < d->n_grps; g++)
		if (d->grps[g].has_slots && d->grps[g].interval_us < fastest)
			fastest = d->grps[g].interval_us;
	if (fastest == INT64_MAX)
		fastest = (int64_t)d->cfg->interval_ms * 1000;
	return sched_backoff(fastest, d->h.consecutive_failures,
			     (int64_t)d->cfg->backoff_max_ms * 1000);
}

/* The first point of the bus's grid for this interval at or after t. Groups with one
 * interval share its grid whatever their history (start, back-off, a moved change
 * counter), so the worker wakes once for all of them instead of once each. */
static int64_t on_grid(const struct mb_bus *b, int64_t t, int64_t interval)
{
	if (interval <= 0 || t <= b->epoch)
		return t;
	int64_t k = (t - b->epoch + interval - 1) / interval;
	return b->epoch + k * interval;
}

static void schedule_next(struct mb_bus *b, struct dev_rt *d, struct grp_rt *gr, int64_t now)
{
	gr->next_due =
	    sched_advance(gr->next_due, gr->interval_us, now, d->hold_until, &d->h.overruns);
	gr->next_due = on_grid(b, gr->next_due, gr->interval_us);
}

/* A request of group g that the device refused is due to be tried again. */
static bool retry_due(const struct dev_rt *d, int g, int64_t now)
{
	for (size_t r = 0; r < d->n_reqs; r++)
		if (d->reqs[r].grp == g && d->reqs[r].refused && now >= d->reqs[r].retry_at)
			return true;
	return false;
}

/* Takes in what group g read; re-plans when a block count moved. */
static enum hub_err_kind absorb_and_relayout(struct mb_bus *b, struct dev_rt *d, int g, int64_t now)
{
	absorb_group(d, g, now, g_get_real_time() / 1000);
	if (!update_counts(d))
		return HUB_E_NONE;
	if (dev_plan(b, d) < 0)
		return HUB_E_INVALID;
	for (size_t x = 0; x < d->n_grps; x++)
		if (d->grps[x].has_slots)
			d->grps[x].next_due = now;
	return HUB_E_NONE;
}

/* Groups of an online device not refreshed for two intervals (and a timeout) are stale,
 * whatever kept them from being read. Returns true when one turned stale or good. */
static bool update_stale(const struct mb_bus *b, struct dev_rt *d, int64_t now)
{
	bool moved = false;

	for (size_t x = 0; x < d->n_grps && d->online; x++) {
		struct grp_rt *o = &d->grps[x];
		if (!o->has_slots || !o->fresh_at)
			continue;
		bool stale =
		    now - o->fresh_at > 2 * o->interval_us + (int64_t)b->bus->timeout_ms * 1000;
		if (stale != o->stale) {
			const char *name = x ? d->cfg->profile->groups[x - 1].name : "default";
			if (stale)
				log_warn("device %s: group %s not read for %lld ms: its points are "
					 "stale",
					 d->cfg->id, name, (long long)((now - o->fresh_at) / 1000));
			else
				log_info("device %s: group %s read again", d->cfg->id, name);
			mark_dirty_group(d, (int)x, stale ? HW_Q_STALE : HW_Q_GOOD);
			moved = true;
		}
		o->stale = stale;
	}
	return moved;
}

/* Every STALE_SCAN_US, the devices other than `busy` (being polled) whose points went
 * stale while the line served others (starved behind faster groups, or held up by a slow
 * device) report it, so their published state does not stay good without a poll. */
static void scan_stale(struct mb_bus *b, const struct dev_rt *busy, int64_t now)
{
	if (now - b->stale_scan < STALE_SCAN_US)
		return;
	b->stale_scan = now;
	for (size_t i = 0; i < b->n_devs; i++) {
		struct dev_rt *o = &b->devs[i];
		if (o == busy || !update_stale(b, o, now))
			continue;
		struct mb_poll_result *res = make_result(b, o, now, HUB_E_NONE);
		if (res)
			deliver(b, res);
	}
}

/* What a poll of a group knew of its change counter when it started. */
struct poll_ctx {
	int64_t counter_at_read;
	bool counter_ok;
};

/* Starts a poll of group g of d: advances its deadline, and decides whether it must be
 * read. Returns false when the change counter says it is still current. */
static bool poll_begin(struct mb_bus *b, struct dev_rt *d, int g, int64_t now, struct poll_ctx *pc)
{
	struct grp_rt *gr = &d->grps[g];

	pc->counter_at_read = 0;
	pc->counter_ok = false;
	schedule_next(b, d, gr, now);
	/* Nothing moved since this group was read: it is still current. */
	if (gr->counter_slot >= 0) {
		int64_t raw = 0;
		pc->counter_ok = slot_raw(d, (size_t)gr->counter_slot, &raw) &&
				 d->slots[gr->counter_slot].pv.q == HW_Q_GOOD;
		pc->counter_at_read = raw;
		/* Re-read when the next poll could come too late for refresh_us (half an
		 * interval of margin for the worker's wake-up jitter): a read at least every
		 * refresh_us, not every refresh_us and an interval. */
		if (pc->counter_ok && gr->counter_known && raw == gr->counter_seen &&
		    now - gr->read_at + gr->interval_us + gr->interval_us / 2 < gr->refresh_us &&
		    d->online && !retry_due(d, g, now)) {
			d->h.skipped++;
			gr->fresh_at = now;
			return false;
		}
	}
	if (!d->online)
		d->send_full = true;
	d->h.polls++;
	return true;
}

/* Ends a poll of group g of d whose reads gave k. Returns a result to deliver, or NULL
 * when there is nothing new. */
static struct mb_poll_result *poll_finish(struct mb_bus *b, struct dev_rt *d, int g,
					  enum hub_err_kind k, const struct poll_ctx *pc)
{
	struct grp_rt *gr = &d->grps[g];
	int64_t now = g_get_monotonic_time();

	if (k == HUB_E_NONE)
		k = absorb_and_relayout(b, d, g, now);
	/* A device coming (back) online, or one whose layout changed, is read whole
	 * before anything is reported, so the first report is complete and current. */
	for (int pass = 0; k == HUB_E_NONE && d->send_full && pass < 3; pass++) {
		bool relayout = false;
		for (size_t x = 0; x < d->n_grps && k == HUB_E_NONE; x++) {
			struct grp_rt *o = &d->grps[x];
			if (!o->has_slots || (pass == 0 && (int)x == g))
				continue;
			int64_t t = g_get_monotonic_time();
			int64_t cval = 0;
			bool cok = false;
			if (o->counter_slot >= 0) {
				cok = slot_raw(d, (size_t)o->counter_slot, &cval);
			}
			d->h.polls++;
			size_t before = d->n_slots;
			k = read_group(b, d, (int)x, t);
			if (k == HUB_E_NONE)
				k = absorb_and_relayout(b, d, (int)x, t);
			if (k == HUB_E_NONE) {
				o->fresh_at = o->read_at = g_get_monotonic_time();
				o->counter_seen = cval;
				o->counter_known = cok;
				o->next_due = on_grid(b, t + 1, o->interval_us);
			}
			relayout |= d->n_slots != before;
		}
		if (!relayout)
			break;
	}
	now = g_get_monotonic_time();
	if (k == HUB_E_NONE) {
		gr->fresh_at = gr->read_at = now;
		gr->counter_seen = pc->counter_at_read;
		gr->counter_known = pc->counter_ok;
		d->h.consecutive_failures = 0;
		d->h.last_ok_ms = g_get_real_time() / 1000;
		d->hold_until = 0;
		d->ever_ok = true;
		d->online = true;
		if (d->fail_logged)
			log_info("device %s: answering again", d->cfg->id);
		d->fail_logged = false;
	} else {
		d->h.consecutive_failures++;
		d->hold_until = now + backoff_us(d);
		if (d->h.consecutive_failures >= (unsigned)d->cfg->offline_after) {
			if (!d->fail_logged)
				log_warn("device %s: no answer in %u polls (%s), offline",
					 d->cfg->id, d->h.consecutive_failures,
					 hub_err_kind_name(k));
			d->fail_logged = true;
			d->online = false;
			/* What was read stays, but none of it is current any more. */
			for (size_t i = 0; i < d->n_slots; i++)
				if (d->slots[i].pv.q == HW_Q_GOOD || d->slots[i].pv.q == HW_Q_STALE)
					d->slots[i].pv.q = HW_Q_COMM_LOST;
			for (size_t x = 0; x < d->n_grps; x++) {
				d->grps[x].stale = false;
				d->grps[x].counter_known = false;
			}
		}
	}
	update_stale(b, d, now);
	return make_result(b, d, now, k);
}

/* Polls group g of d on its own. Returns a result to deliver, or NULL. */
static struct mb_poll_result *poll_group(struct mb_bus *b, struct dev_rt *d, int g)
{
	struct poll_ctx pc;
	int64_t now = g_get_monotonic_time();

	if (!poll_begin(b, d, g, now, &pc))
		return NULL;
	return poll_finish(b, d, g, read_group(b, d, g, now), &pc);
}

/* ---- commands ---- */

static const struct prof_command *find_cmd(const struct cfg_device *d, const char *name)
{
	return d->profile ? profile_find_command(d->profile, name) : NULL;
}

static int authorise(const struct cfg_device *d, const char *command, const char *who,
		     const struct prof_command **out)
{
	const struct prof_command *c = find_cmd(d, command);
	if (!c) {
		log_warn("command %s on device %s asked by %s: no such command", command, d->id,
			 who);
		return -ENOENT;
	}
	if (!cfg_device_allows(d, command)) {
		log_warn("command %s on device %s asked by %s: refused (not in allow_commands)",
			 command, d->id, who);
		return -EPERM;
	}
	*out = c;
	return 0;
}

static int run_command(struct mb_link *l, const struct cfg_device *d, const struct prof_command *c,
		       const char *who)
{
	int rc = mb_link_connect(l);
	if (rc == 0) {
		uint32_t a = c->address;
		if (a < (uint32_t)d->address_base)
			rc = -EINVAL;
		else
			rc = mb_link_write(l, d->unit, c->table, (uint16_t)(a - d->address_base),
					   c->value, d->pause_ms);
		if (rc < 0 && classify(-rc) != HUB_E_EXCEPTION)
			mb_link_close(l);
	}
	if (rc == 0)
		log_info("command %s on device %s asked by %s: written (%s %u = %u)", c->name,
			 d->id, who, mb_table_name(c->table), c->address, c->value);
	else
		log_warn("command %s on device %s asked by %s: failed: %s", c->name, d->id, who,
			 modbus_strerror(-rc));
	return rc;
}

struct cmd_done {
	mb_cmd_fn fn;
	void *ud;
	int rc;
};

static gboolean cmd_done_cb(gpointer data)
{
	struct cmd_done *cd = data;
	cd->fn(cd->rc, cd->ud);
	g_free(cd);
	return G_SOURCE_REMOVE;
}

int mb_bus_command(struct mb_bus *b, size_t device_index, const char *command, const char *who,
		   mb_cmd_fn fn, void *ud)
{
	const struct prof_command *c;
	struct dev_rt *d = NULL;
	int rc;

	for (size_t i = 0; i < b->n_devs; i++)
		if (b->devs[i].index == device_index)
			d = &b->devs[i];
	if (!d)
		return -ENOENT;
	rc = authorise(d->cfg, command, who, &c);
	if (rc < 0)
		return rc;
	struct cmd *q = g_new0(struct cmd, 1);
	q->dev = (size_t)(d - b->devs);
	q->c = c;
	q->who = g_strdup(who);
	q->fn = fn;
	q->ud = ud;
	g_mutex_lock(&b->lock);
	g_queue_push_tail(&b->cmds, q);
	g_cond_signal(&b->cond);
	g_mutex_unlock(&b->lock);
	return 0;
}

int mb_command_once(const struct cfg_device *d, const char *command, const char *who)
{
	const struct prof_command *c;
	struct mb_link *l = NULL;
	int rc = authorise(d, command, who, &c);

	if (rc < 0)
		return rc;
	rc = mb_link_create(d->bus, &l);
	if (rc < 0)
		return rc;
	rc = run_command(l, d, c, who);
	mb_link_destroy(l);
	return rc;
}

/* ---- the worker ---- */

/* Runs fn(data) on ctx's thread. Never directly: g_main_context_invoke would call it on
 * this worker thread while nobody owns ctx yet (before the loop runs). */
static void post(GMainContext *ctx, GSourceFunc fn, gpointer data)
{
	GSource *src = g_idle_source_new();
	g_source_set_priority(src, G_PRIORITY_DEFAULT);
	g_source_set_callback(src, fn, data, NULL);
	g_source_attach(src, ctx);
	g_source_unref(src);
}

struct delivery {
	struct mb_poll_result *res;
	mb_result_fn fn;
	void *ud;
};

static gboolean deliver_cb(gpointer data)
{
	struct delivery *dl = data;
	dl->fn(dl->res, dl->ud);
	g_free(dl);
	return G_SOURCE_REMOVE;
}

static void deliver(struct mb_bus *b, struct mb_poll_result *res)
{
	struct delivery *dl = g_new(struct delivery, 1);
	dl->res = res;
	dl->fn = b->fn;
	dl->ud = b->ud;
	post(b->ctx, deliver_cb, dl);
}

/* Counts the deadlines a group has missed while it waits behind faster ones on a busy
 * line, as they pass, instead of all at once when it is finally read: the health the
 * heartbeat publishes is current. The deadline keeps its phase and stays due. */
static bool count_overruns(struct dev_rt *d, int64_t now)
{
	bool moved = false;

	if (d->hold_until > now)
		return false; /* backed off: a new phase starts when it is retried */
	for (size_t g = 0; g < d->n_grps; g++) {
		struct grp_rt *gr = &d->grps[g];
		if (!gr->has_slots || gr->interval_us <= 0 || now - gr->next_due < gr->interval_us)
			continue;
		int64_t behind = (now - gr->next_due) / gr->interval_us;
		d->h.overruns += (uint64_t)behind;
		gr->next_due += behind * gr->interval_us;
		moved = true;
	}
	return moved;
}

/* Copies the schedule of d's groups into the bus's entries. */
static void sync_entries(struct mb_bus *b, const struct dev_rt *d)
{
	for (size_t g = 0; g < d->n_grps; g++) {
		const struct grp_rt *gr = &d->grps[g];
		/* A group without points is never due. */
		b->entries[d->e0 + g] = (struct sched_entry){
		    gr->has_slots ? gr->next_due : INT64_MAX, d->hold_until, gr->interval_us};
	}
}

static int build_entries(struct mb_bus *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n_devs; i++) {
		b->devs[i].e0 = n;
		n += b->devs[i].n_grps;
	}
	b->entries = calloc(n ? n : 1, sizeof(*b->entries));
	b->entry_ref = calloc(n ? n : 1, sizeof(*b->entry_ref));
	if (!b->entries || !b->entry_ref)
		return -ENOMEM;
	b->n_entries = n;
	for (size_t i = 0; i < b->n_devs; i++) {
		for (size_t g = 0; g < b->devs[i].n_grps; g++)
			b->entry_ref[b->devs[i].e0 + g] = (uint32_t)(i << 8 | g);
		sync_entries(b, &b->devs[i]);
	}
	return 0;
}

/* The next group to poll (sched_pick's rule: fast groups first when behind). */
static void pick(struct mb_bus *b, int64_t now, struct dev_rt **od, int *og, int64_t *due)
{
	int k = sched_pick(b->entries, b->n_entries, now, due);
	*od = k < 0 || *due == INT64_MAX ? NULL : &b->devs[b->entry_ref[k] >> 8];
	*og = k < 0 ? -1 : (int)(b->entry_ref[k] & 0xFF);
}

/* ---- pipelined rounds (TCP with pipeline > 1) ---- */

struct cand {
	struct dev_rt *d;
	int g;
	int64_t interval;
	int64_t due;
	bool alone; /* polled on its own, not in the pipelined batch */
	bool read;  /* in the batch */
	uint64_t overruns_before;
	struct poll_ctx pc;
	size_t x0, nx; /* its reads in the batch */
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->interval != y->interval)
		return x->interval < y->interval ? -1 : 1;
	return x->due < y->due ? -1 : x->due > y->due;
}

/* Takes in the answers to the batched reads of one group of d, in reverse request
 * order so that splitting a refused request does not move those still to look at.
 * Returns HUB_E_NONE or the first hard error. */
static enum hub_err_kind take_batch(struct mb_bus *b, struct dev_rt *d, int g,
				    const struct mb_xfer *x, const uint32_t *xreq, size_t nx,
				    int64_t now)
{
	enum hub_err_kind k = HUB_E_NONE;
	bool split = false;

	for (size_t j = nx; j-- > 0;) {
		struct req *q = &d->reqs[xreq[j]];
		if (x[j].rc >= 0) {
			double ms = (double)x[j].rtt_us / 1000.0;
			d->h.rtt_ms_last = ms;
			d->h.rtt_ms_avg =
			    d->h.rtt_ms_avg == 0 ? ms : d->h.rtt_ms_avg * 0.8 + ms * 0.2;
			q->refused = false;
			continue;
		}
		enum hub_err_kind e = classify(-x[j].rc);
		log_debug("device %s: %s %u+%u: %s", d->cfg->id, mb_table_name(q->span.table),
			  q->span.address, q->span.count, modbus_strerror(-x[j].rc));
		switch (e) {
		case HUB_E_EXCEPTION:
			d->h.err_exception++;
			if (split_request(d, xreq[j])) {
				split = true;
				continue;
			}
			if (!q->refused)
				log_warn("device %s: refuses %s %u+%u (%s): its points are "
					 "config_error",
					 d->cfg->id, mb_table_name(q->span.table), q->span.address,
					 q->span.count, modbus_strerror(-x[j].rc));
			q->refused = true;
			q->retry_at = now + refused_retry_us(d, g);
			continue;
		case HUB_E_TIMEOUT:
			d->h.err_timeout++;
			break;
		case HUB_E_INVALID:
			d->h.err_invalid++;
			break;
		default:
			d->h.err_io++;
			break;
		}
		k = e;
	}
	/* A refused request was split: the group is read again, halves and all, now. */
	if (k == HUB_E_NONE && split)
		k = read_group(b, d, g, now);
	return k;
}

/* One round: every device's most urgent due group, the fastest groups first; the
 * reads of devices in a steady state go out together, up to `pipeline` in flight. A
 * device coming online or re-planning, or one that needs a pause before each request,
 * is polled on its own after the batch. */
static void run_round(struct mb_bus *b, int64_t now)
{
	struct cand *cs = calloc(b->n_devs ? b->n_devs : 1, sizeof(*cs));
	size_t n = 0, nx = 0, cap = 0;
	struct mb_xfer *xs = NULL;
	uint32_t *xreq = NULL;

	if (!cs)
		return;
	for (size_t i = 0; i < b->n_devs; i++) {
		struct dev_rt *d = &b->devs[i];
		const struct sched_entry *e = &b->entries[d->e0];
		int best = -1;
		if (d->hold_until > now)
			continue;
		for (size_t g = 0; g < d->n_grps; g++) {
			if (e[g].due > now)
				continue;
			if (best < 0 || e[g].interval < e[best].interval ||
			    (e[g].interval == e[best].interval && e[g].due < e[best].due))
				best = (int)g;
		}
		if (best >= 0)
			cs[n++] = (struct cand){
			    .d = d, .g = best, .interval = e[best].interval, .due = e[best].due};
	}
	qsort(cs, n, sizeof(*cs), cand_cmp);
	for (size_t c = 0; c < n; c++) {
		struct cand *k = &cs[c];
		struct dev_rt *d = k->d;
		k->overruns_before = d->h.overruns;
		if (!d->online || d->send_full || d->cfg->pause_ms > 0) {
			k->alone = true;
			continue;
		}
		if (!poll_begin(b, d, k->g, now, &k->pc))
			continue;
		k->read = true;
		k->x0 = nx;
		for (size_t r = 0; r < d->n_reqs; r++) {
			struct req *q = &d->reqs[r];
			if (q->grp != k->g || (q->refused && now < q->retry_at))
				continue;
			if (nx == cap) {
				cap = cap ? cap * 2 : 64;
				void *nxs = realloc(xs, cap * sizeof(*xs));
				void *nxr = nxs ? realloc(xreq, cap * sizeof(*xreq)) : NULL;
				if (nxs)
					xs = nxs;
				if (nxr)
					xreq = nxr;
				if (!nxs || !nxr) {
					cap = 0;
					nx = 0;
					n = 0;
					break;
				}
			}
			void *dst = is_bit_table(q->span.table) ? (void *)(d->bits + q->off)
								: (void *)(d->regs + q->off);
			xs[nx] = (struct mb_xfer){.unit = (uint8_t)d->cfg->unit,
						  .table = q->span.table,
						  .addr = q->span.address,
						  .count = q->span.count,
						  .dst = dst};
			xreq[nx++] = (uint32_t)r;
			d->h.requests++;
		}
		k->nx = nx - k->x0;
	}
	if (nx)
		mb_link_read_many(b->link, xs, nx);
	for (size_t c = 0; c < n; c++) {
		struct cand *k = &cs[c];
		struct mb_poll_result *res = NULL;
		if (k->read) {
			enum hub_err_kind e =
			    take_batch(b, k->d, k->g, xs + k->x0, xreq + k->x0, k->nx, now);
			res = poll_finish(b, k->d, k->g, e, &k->pc);
		} else if (k->alone) {
			res = poll_group(b, k->d, k->g);
		}
		if (res)
			deliver(b, res);
		sync_entries(b, k->d);
	}
	g_mutex_lock(&b->lock);
	for (size_t c = 0; c < n; c++) {
		b->stats.polls++;
		b->stats.overruns += cs[c].d->h.overruns - cs[c].overruns_before;
		cs[c].d->h_shared = cs[c].d->h;
	}
	g_mutex_unlock(&b->lock);
	free(xs);
	free(xreq);
	free(cs);
}

static gpointer worker(gpointer arg)
{
	struct mb_bus *b = arg;

	g_mutex_lock(&b->lock);
	while (!b->stop) {
		struct cmd *c = g_queue_pop_head(&b->cmds);
		if (c) {
			g_mutex_unlock(&b->lock);
			struct dev_rt *d = &b->devs[c->dev];
			int rc = run_command(b->link, d->cfg, c->c, c->who);
			if (c->fn) {
				struct cmd_done *cd = g_new(struct cmd_done, 1);
				cd->fn = c->fn;
				cd->ud = c->ud;
				cd->rc = rc;
				post(b->ctx, cmd_done_cb, cd);
			}
			g_free(c->who);
			g_free(c);
			g_mutex_lock(&b->lock);
			b->stats.commands++;
			continue;
		}
		struct dev_rt *d;
		int g;
		int64_t due, now = g_get_monotonic_time();
		if (now - b->stale_scan >= STALE_SCAN_US) {
			g_mutex_unlock(&b->lock);
			scan_stale(b, NULL, now);
			g_mutex_lock(&b->lock);
			continue;
		}
		pick(b, now, &d, &g, &due);
		if (!d) {
			g_cond_wait_until(&b->cond, &b->lock, b->stale_scan + STALE_SCAN_US);
			continue;
		}
		if (now < due) {
			g_cond_wait_until(&b->cond, &b->lock,
					  MIN(due, b->stale_scan + STALE_SCAN_US));
			continue;
		}
		g_mutex_unlock(&b->lock);

		if (b->pipeline > 1) {
			run_round(b, now);
			g_mutex_lock(&b->lock);
		} else {
			uint64_t overruns_before = d->h.overruns;
			struct mb_poll_result *res = poll_group(b, d, g);
			if (res)
				deliver(b, res);
			sync_entries(b, d);
			g_mutex_lock(&b->lock);
			b->stats.polls++;
			b->stats.overruns += d->h.overruns - overruns_before;
			d->h_shared = d->h;
		}
		now = g_get_monotonic_time();
		if (now - b->overrun_scan >= 1000000) {
			b->overrun_scan = now;
			for (size_t i = 0; i < b->n_devs; i++) {
				struct dev_rt *o = &b->devs[i];
				uint64_t before = o->h.overruns;
				if (!count_overruns(o, now))
					continue;
				sync_entries(b, o);
				b->stats.overruns += o->h.overruns - before;
				o->h_shared = o->h;
			}
		}
		mb_link_get_stats(b->link, &b->stats.link);
	}
	g_mutex_unlock(&b->lock);
	mb_link_close(b->link);
	return NULL;
}

static int dev_init(struct mb_bus *b, struct dev_rt *d, const struct cfg_device *c, size_t index,
		    int64_t now)
{
	const struct profile *p = c->profile;

	d->cfg = c;
	d->index = index;
	d->counts = calloc(p->n_blocks ? p->n_blocks : 1, sizeof(int));
	d->n_grps = 1 + p->n_groups;
	if (d->n_grps > 255)
		return -EINVAL;
	d->grps = calloc(d->n_grps, sizeof(*d->grps));
	d->n_top = p->n_points;
	d->raws = calloc(d->n_top ? d->n_top : 1, sizeof(*d->raws));
	if (!d->counts || !d->grps || !d->raws)
		return -ENOMEM;
	for (size_t k = 0; k < p->n_blocks; k++)
		d->counts[k] = p->blocks[k].count_point ? 0 : p->blocks[k].count;
	for (size_t g = 0; g < d->n_grps; g++) {
		d->grps[g].counter_slot = -1;
		d->grps[g].next_due = now;
	}
	return dev_plan(b, d); /* sets the groups' intervals (group_timing) */
}

int mb_bus_start(const struct hw_config *cfg, size_t bus_index, unsigned generation,
		 GMainContext *ctx, mb_result_fn fn, void *ud, struct mb_bus **out)
{
	const struct cfg_bus *bus = &cfg->buses[bus_index];
	struct mb_bus *b = calloc(1, sizeof(*b));
	size_t n = 0;
	int rc;

	if (!b)
		return -ENOMEM;
	b->cfg = cfg;
	b->bus = bus;
	b->generation = generation;
	b->ctx = ctx;
	b->fn = fn;
	b->ud = ud;
	g_mutex_init(&b->lock);
	g_cond_init(&b->cond);
	g_queue_init(&b->cmds);
	b->layouts = g_ptr_array_new_with_free_func(lay_cache_unref);

	rc = mb_link_create(bus, &b->link);
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < cfg->n_devices; i++)
		if (cfg->devices[i].bus == bus)
			n++;
	b->devs = calloc(n ? n : 1, sizeof(*b->devs));
	if (!b->devs) {
		rc = -ENOMEM;
		goto fail;
	}
	int64_t now = g_get_monotonic_time();
	b->epoch = now;
	for (size_t i = 0; i < cfg->n_devices; i++) {
		if (cfg->devices[i].bus != bus)
			continue;
		rc = dev_init(b, &b->devs[b->n_devs++], &cfg->devices[i], i, now);
		if (rc < 0)
			goto fail;
	}
	rc = build_entries(b);
	if (rc < 0)
		goto fail;
	b->pipeline = mb_link_pipeline(b->link);
	b->thread = g_thread_try_new(bus->id, worker, b, NULL);
	if (!b->thread) {
		rc = -EAGAIN;
		goto fail;
	}
	if (bus->type == BUS_RTU)
		log_info("bus %s: polling %zu device(s) on %s at %d baud (silence %lld us)",
			 bus->id, b->n_devs, bus->device, bus->baud,
			 (long long)mb_link_silence_us(b->link));
	else
		log_info("bus %s: polling %zu device(s) on %s:%d", bus->id, b->n_devs, bus->host,
			 bus->port);
	*out = b;
	return 0;
fail:
	mb_bus_stop(b);
	return rc;
}

const struct cfg_bus *mb_bus_config(const struct mb_bus *b)
{
	return b->bus;
}

bool mb_bus_device_health(struct mb_bus *b, size_t device_index, struct hub_dev_health *out)
{
	bool found = false;

	g_mutex_lock(&b->lock);
	for (size_t i = 0; i < b->n_devs && !found; i++) {
		if (b->devs[i].index == device_index) {
			*out = b->devs[i].h_shared;
			found = true;
		}
	}
	g_mutex_unlock(&b->lock);
	return found;
}

void mb_bus_get_stats(struct mb_bus *b, struct mb_bus_stats *out)
{
	g_mutex_lock(&b->lock);
	*out = b->stats;
	g_mutex_unlock(&b->lock);
}

void mb_bus_stop(struct mb_bus *b)
{
	struct cmd *c;

	if (!b)
		return;
	if (b->thread) {
		g_mutex_lock(&b->lock);
		b->stop = true;
		g_cond_signal(&b->cond);
		g_mutex_unlock(&b->lock);
		g_thread_join(b->thread);
	}
	while ((c = g_queue_pop_head(&b->cmds))) {
		log_warn("command %s asked by %s: not run, the bus stopped", c->c->name, c->who);
		if (c->fn)
			c->fn(-ECANCELED, c->ud);
		g_free(c->who);
		g_free(c);
	}
	for (size_t i = 0; i < b->n_devs; i++) {
		dev_free_layout(&b->devs[i]);
		free(b->devs[i].counts);
		free(b->devs[i].grps);
		free(b->devs[i].raws);
	}
	free(b->devs);
	free(b->entries);
	free(b->entry_ref);
	if (b->layouts)
		g_ptr_array_free(b->layouts, TRUE);
	mb_link_destroy(b->link);
	g_mutex_clear(&b->lock);
	g_cond_clear(&b->cond);
	free(b);
}

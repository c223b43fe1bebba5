/* The state of one Modbus device: owns its read plan and buffers, its points' last
 * values and qualities, its groups' freshness and change counters, its health, online
 * state and back-off. Pure logic with the clock passed in; runs on whichever thread
 * calls it (the device's bus worker). */
#include "devices/devstate.h"

#include <errno.h>
#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "devices/decode.h"
#include "devices/sched.h"

#define NO_REQ UINT16_MAX
#define SLOT_DIRTY 1u	   /* changed since the last result */
#define SLOT_UNREADABLE 2u /* outside the address space: never planned */
/* Results carrying only counters and clocks are worth sending at most this often. */
#define QUIET_REFRESH_US (5 * 1000000LL)

/* What changes of one point of a device: 24 bytes, as a thousand devices of a hundred
 * points each are held at once. Where the point is (definition, address, group...) is
 * in the layout, d->lay[i], shared by the bus's devices of one profile and counts. */
struct slot {
	struct hw_pval pv; /* last reported value and quality; pv.flags: SLOT_* */
	uint32_t off;	   /* its first register/bit in the buffer */
	uint16_t req;	   /* request holding the point, NO_REQ if it cannot be read */
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

struct grp {
	int64_t interval_us;
	int64_t fresh_at;     /* monotonic us: last read, or last confirmation by the counter */
	int64_t read_at;      /* monotonic us: last read */
	int64_t refresh_us;   /* with a change counter: re-read at least this often */
	bool fire;	      /* holds a fire-class point: read at least every fire_refresh_ms */
	bool read_now;	      /* its change counter moved: to be read now */
	int counter_slot;     /* slot of the change counter, -1 for none */
	int64_t counter_seen; /* counter value at this group's last read */
	bool counter_known;
	bool stale;
	bool has_slots;
	int64_t read_ms; /* wall clock of its last read: the time of its points' values */
};

struct devstate {
	const struct cfg_device *cfg;
	ds_emit_fn emit;
	void *ud;
	int *counts;		     /* per block: instances in the layout */
	const struct mb_lpoint *lay; /* n_slots points (the caller's) */
	struct slot *slots;
	size_t n_slots;
	struct raw *raws; /* per top-level point (the first slots) */
	size_t n_top;
	struct req *reqs;
	size_t n_reqs;
	uint16_t *regs;
	uint8_t *bits;
	struct grp *grps; /* [0]: points without a group; [1 + g]: profile group g */
	size_t n_grps;
	struct hub_dev_health h;
	bool online;
	bool send_full;
	int64_t hold_until; /* monotonic us: backed off after a failure */
	int life_slot;
	int time_slot;
	int64_t delivered_at; /* monotonic us of the last result */
	bool delivered_online;
	bool delivered_frozen;
	int64_t life_changed; /* monotonic us */
	bool life_seen;
	bool fail_logged;
};

static void emit(const struct devstate *d, const struct ds_ev *ev)
{
	if (d->emit)
		d->emit(ev, d->ud);
}

static bool is_bit_table(enum mb_table t)
{
	return t == MB_COIL || t == MB_DISCRETE;
}

int ds_create(const struct cfg_device *c, ds_emit_fn emit_fn, void *ud, struct devstate **out)
{
	const struct profile *p = c->profile;
	struct devstate *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->cfg = c;
	d->emit = emit_fn;
	d->ud = ud;
	d->counts = calloc(p->n_blocks ? p->n_blocks : 1, sizeof(int));
	d->n_grps = 1 + p->n_groups;
	d->grps = calloc(d->n_grps, sizeof(*d->grps));
	d->n_top = p->n_points;
	d->raws = calloc(d->n_top ? d->n_top : 1, sizeof(*d->raws));
	if (!d->counts || !d->grps || !d->raws) {
		ds_destroy(d);
		return -ENOMEM;
	}
	for (size_t k = 0; k < p->n_blocks; k++)
		d->counts[k] = p->blocks[k].count_point ? 0 : p->blocks[k].count;
	for (size_t g = 0; g < d->n_grps; g++)
		d->grps[g].counter_slot = -1;
	d->life_slot = d->time_slot = -1;
	*out = d;
	return 0;
}

void ds_destroy(struct devstate *d)
{
	if (!d)
		return;
	free(d->slots);
	free(d->reqs);
	free(d->regs);
	free(d->bits);
	free(d->counts);
	free(d->grps);
	free(d->raws);
	free(d);
}

/* ---- layout and read plans ---- */

/* The group (index into grps) of point i. */
static int grp_of(const struct devstate *d, size_t i)
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

/* Locates every slot in its group's requests. */
static int locate(struct devstate *d)
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

static int alloc_buffers(struct devstate *d)
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

/* The interval and refresh of each group: the configuration's, but no longer than the
 * device's fire_refresh_ms for a group holding a fire-class point (whatever a change
 * counter says, a manual call point must not wait a minute). */
static void group_timing(struct devstate *d)
{
	const struct profile *p = d->cfg->profile;
	int64_t fire_us = (int64_t)d->cfg->fire_refresh_ms * 1000;

	for (size_t g = 0; g < d->n_grps; g++) {
		struct grp *gr = &d->grps[g];
		/* grps[0]: the device's own interval; grps[1 + k]: profile group k */
		gr->interval_us = (int64_t)cfg_device_group_interval(d->cfg, (int)g - 1) * 1000;
		gr->refresh_us = g ? (int64_t)p->groups[g - 1].refresh_ms * 1000 : INT64_MAX;
		gr->fire = false;
	}
	for (size_t i = 0; i < d->n_slots; i++)
		if (d->lay[i].def->cls == PC_FIRE && !d->lay[i].unreadable)
			d->grps[grp_of(d, i)].fire = true;
	for (size_t g = 0; g < d->n_grps && fire_us > 0; g++) {
		struct grp *gr = &d->grps[g];
		if (!gr->fire)
			continue;
		gr->interval_us = MIN(gr->interval_us, fire_us);
		gr->refresh_us = MIN(gr->refresh_us, fire_us);
	}
}

/* A read plan per group for the current layout. */
static int plan_reads(struct devstate *d)
{
	const struct cfg_device *c = d->cfg;
	const struct profile *p = c->profile;
	size_t k = d->n_slots;
	int rc = 0;

	struct mb_span *avoid = calloc(p->n_no_read ? p->n_no_read : 1, sizeof(*avoid));
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
	return rc;
}

int ds_set_layout(struct devstate *d, const struct mb_lpoint *lay, size_t k)
{
	const struct profile *p = d->cfg->profile;
	struct slot *old = d->slots;
	const struct mb_lpoint *old_lay = d->lay;
	size_t n_old = d->n_slots;

	d->slots = calloc(k ? k : 1, sizeof(*d->slots));
	if (!d->slots) {
		d->slots = old;
		return -ENOMEM;
	}
	d->lay = lay;
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
		emit(d, &(struct ds_ev){.kind = DS_EV_UNREADABLE, .name = lay[i].def->name});
		s->pv.q = HW_Q_CONFIG_ERROR;
	}

	int rc = plan_reads(d);
	if (rc < 0)
		return rc;
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

const int *ds_counts(const struct devstate *d)
{
	return d->counts;
}

const struct mb_lpoint *ds_layout(const struct devstate *d, size_t *n)
{
	*n = d->n_slots;
	return d->lay;
}

size_t ds_n_reqs(const struct devstate *d)
{
	return d->n_reqs;
}

const struct mb_span *ds_req_span(const struct devstate *d, size_t r)
{
	return &d->reqs[r].span;
}

bool ds_req_wanted(const struct devstate *d, size_t r, int g, int64_t now)
{
	const struct req *q = &d->reqs[r];
	return q->grp == g && !(q->refused && now < q->retry_at);
}

void *ds_req_dst(struct devstate *d, size_t r)
{
	const struct req *q = &d->reqs[r];
	return is_bit_table(q->span.table) ? (void *)(d->bits + q->off)
					   : (void *)(d->regs + q->off);
}

/* Splits request r, which the device refused, at a point boundary near its middle
 * and relocates its points. Returns true if it could be split. */
static bool split_request(struct devstate *d, size_t r)
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
	emit(d, &(struct ds_ev){.kind = DS_EV_SPLIT,
				.span = {q->span.table, (uint16_t)lo, (uint16_t)(hi - lo)},
				.cut = cut});
	return true;
}

/* ---- groups ---- */

size_t ds_n_groups(const struct devstate *d)
{
	return d->n_grps;
}

bool ds_group_has_points(const struct devstate *d, int g)
{
	return d->grps[g].has_slots;
}

int64_t ds_group_interval(const struct devstate *d, int g)
{
	return d->grps[g].interval_us;
}

bool ds_take_read_now(struct devstate *d, int g)
{
	bool r = d->grps[g].read_now;
	d->grps[g].read_now = false;
	return r;
}

bool ds_needs_whole(const struct devstate *d)
{
	return d->send_full;
}

bool ds_online(const struct devstate *d)
{
	return d->online;
}

int64_t ds_hold_until(const struct devstate *d)
{
	return d->hold_until;
}

const struct hub_dev_health *ds_health(const struct devstate *d)
{
	return &d->h;
}

void ds_count_overruns(struct devstate *d, uint64_t n)
{
	d->h.overruns += n;
}

/* ---- values ---- */

static void decode_slot(const struct devstate *d, size_t i, struct hw_value *v, int64_t *raw,
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
static bool differs(const struct devstate *d, size_t i, const struct hw_value *nv)
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
static bool slot_raw(const struct devstate *d, size_t i, int64_t *raw)
{
	if (i >= d->n_top || !d->raws[i].ok)
		return false;
	*raw = d->raws[i].v;
	return true;
}

static void note_counter(struct devstate *d, size_t i, int64_t raw)
{
	const struct prof_point *def = d->lay[i].def;
	int64_t last;
	if (def->role != PR_CHANGE_COUNTER || !slot_raw(d, i, &last) || raw == last)
		return;
	uint64_t width = prof_point_width(def) >= 2 ? 0xFFFFFFFFull : 0xFFFFull;
	uint64_t delta = ((uint64_t)raw - (uint64_t)last) & width;
	if (delta > 1) {
		d->h.missed_changes += delta - 1;
		emit(d, &(struct ds_ev){.kind = DS_EV_MISSED, .name = def->name, .count = delta});
	}
}

/* Block counts read from the device; true when the layout must change. */
static bool update_counts(struct devstate *d)
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

bool ds_take_group(struct devstate *d, int g, int64_t now, int64_t wall_ms)
{
	d->grps[g].read_ms = wall_ms;
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
		struct grp *gr = &d->grps[k];
		if (gr->counter_slot < 0 || grp_of(d, (size_t)gr->counter_slot) != g)
			continue;
		int64_t raw;
		if (slot_raw(d, (size_t)gr->counter_slot, &raw) &&
		    (!gr->counter_known || raw != gr->counter_seen))
			gr->read_now = true;
	}
	return update_counts(d);
}

/* ---- outcomes ---- */

/* How long a request the device refused waits before it is tried again: ten intervals
 * of its group, at least a second, at most a minute. */
static int64_t refused_retry_us(const struct devstate *d, int g)
{
	int64_t t = d->grps[g].interval_us * 10;
	return t < 1000000 ? 1000000 : t > 60000000 ? 60000000 : t;
}

enum hub_err_kind ds_take_answer(struct devstate *d, size_t r, const struct ds_outcome *o,
				 int64_t now, bool *split)
{
	struct req *q = &d->reqs[r];

	if (split)
		*split = false;
	if (o->a != DS_A_NO_LINK)
		d->h.requests++;
	switch (o->a) {
	case DS_A_OK: {
		double ms = (double)o->rtt_us / 1000.0;
		d->h.rtt_ms_last = ms;
		d->h.rtt_ms_avg = d->h.rtt_ms_avg == 0 ? ms : d->h.rtt_ms_avg * 0.8 + ms * 0.2;
		q->refused = false;
		return HUB_E_NONE;
	}
	case DS_A_EXCEPTION:
		d->h.err_exception++;
		if (split && split_request(d, r)) {
			*split = true;
			return HUB_E_NONE;
		}
		if (!q->refused)
			emit(d, &(struct ds_ev){
				    .kind = DS_EV_REFUSED, .span = q->span, .code = o->code});
		q->refused = true;
		/* Tried again now and then: the device may have been reconfigured. */
		q->retry_at = now + refused_retry_us(d, q->grp);
		return HUB_E_NONE;
	case DS_A_TIMEOUT:
	case DS_A_UNREACHABLE:
		d->h.err_timeout++;
		return HUB_E_TIMEOUT;
	case DS_A_INVALID:
		d->h.err_invalid++;
		return HUB_E_INVALID;
	case DS_A_LOST:
	case DS_A_NO_LINK:
	default:
		d->h.err_io++;
		return HUB_E_IO;
	}
}

/* A request of group g that the device refused is due to be tried again. */
static bool retry_due(const struct devstate *d, int g, int64_t now)
{
	for (size_t r = 0; r < d->n_reqs; r++)
		if (d->reqs[r].grp == g && d->reqs[r].refused && now >= d->reqs[r].retry_at)
			return true;
	return false;
}

bool ds_poll_begin(struct devstate *d, int g, int64_t now, struct ds_poll *pc)
{
	struct grp *gr = &d->grps[g];

	pc->counter = 0;
	pc->counter_ok = false;
	/* Nothing moved since this group was read: it is still current. */
	if (gr->counter_slot >= 0) {
		int64_t raw = 0;
		pc->counter_ok = slot_raw(d, (size_t)gr->counter_slot, &raw) &&
				 d->slots[gr->counter_slot].pv.q == HW_Q_GOOD;
		pc->counter = raw;
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

void ds_poll_whole(struct devstate *d, int g, struct ds_poll *pc)
{
	const struct grp *gr = &d->grps[g];

	pc->counter = 0;
	pc->counter_ok = false;
	if (gr->counter_slot >= 0)
		pc->counter_ok = slot_raw(d, (size_t)gr->counter_slot, &pc->counter);
	d->h.polls++;
}

void ds_group_done(struct devstate *d, int g, const struct ds_poll *pc, int64_t now)
{
	struct grp *gr = &d->grps[g];

	gr->fresh_at = gr->read_at = now;
	gr->counter_seen = pc->counter;
	gr->counter_known = pc->counter_ok;
}

/* The retry delay after a failed poll: from the device's fastest interval. */
static int64_t backoff_us(const struct devstate *d)
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

static void mark_dirty_group(struct devstate *d, int g, enum hw_quality q)
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

bool ds_check_stale(struct devstate *d, int64_t now)
{
	int64_t timeout_us = (int64_t)d->cfg->bus->timeout_ms * 1000;
	bool moved = false;

	for (size_t x = 0; x < d->n_grps && d->online; x++) {
		struct grp *o = &d->grps[x];
		if (!o->has_slots || !o->fresh_at)
			continue;
		bool stale = now - o->fresh_at > 2 * o->interval_us + timeout_us;
		if (stale != o->stale) {
			const char *name = x ? d->cfg->profile->groups[x - 1].name : "default";
			emit(d, &(struct ds_ev){.kind = stale ? DS_EV_STALE : DS_EV_FRESH,
						.name = name,
						.age_ms = (now - o->fresh_at) / 1000});
			mark_dirty_group(d, (int)x, stale ? HW_Q_STALE : HW_Q_GOOD);
			moved = true;
		}
		o->stale = stale;
	}
	return moved;
}

void ds_poll_end(struct devstate *d, int g, enum hub_err_kind k, const struct ds_poll *pc,
		 int64_t now, int64_t wall_ms)
{
	if (k == HUB_E_NONE) {
		ds_group_done(d, g, pc, now);
		d->h.consecutive_failures = 0;
		d->h.last_ok_ms = wall_ms;
		d->hold_until = 0;
		d->online = true;
		if (d->fail_logged)
			emit(d, &(struct ds_ev){.kind = DS_EV_ANSWERING});
		d->fail_logged = false;
	} else {
		d->h.consecutive_failures++;
		d->hold_until = now + backoff_us(d);
		if (d->h.consecutive_failures >= (unsigned)d->cfg->offline_after) {
			if (!d->fail_logged)
				emit(d, &(struct ds_ev){.kind = DS_EV_OFFLINE,
							.count = d->h.consecutive_failures,
							.err = k});
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
	ds_check_stale(d, now);
}

/* ---- results ---- */

struct mb_poll_result *ds_result(struct devstate *d, enum hub_err_kind k, int64_t now,
				 int64_t wall_ms)
{
	struct mb_poll_result *res = calloc(1, sizeof(*res));
	if (!res)
		return NULL;
	res->t_ms = wall_ms;
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
	/* Counters and clocks move on every read; alone they are not worth waking the
	 * main loop for more than every QUIET_REFRESH. */
	bool loud = k != HUB_E_NONE || d->send_full || res->online != d->delivered_online ||
		    res->frozen != d->delivered_frozen || now - d->delivered_at >= QUIET_REFRESH_US;
	for (size_t i = 0; i < d->n_slots && !loud; i++)
		loud = (d->slots[i].pv.flags & SLOT_DIRTY) && d->lay[i].def->role == PR_NONE;
	if (!loud) {
		free(res);
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

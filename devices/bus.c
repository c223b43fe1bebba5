/* The worker of one Modbus bus (TCP endpoint or serial line): owns its link, the
 * schedule of every device on it (the deadline of each poll group), the layouts they
 * share and the queue of writes; what a device does with its answers and the time is
 * its devstate's (devices/devstate.c). Runs on its own thread; results go to the main
 * loop as idle sources attached to its context. */
#define LOG_TAG "bus"
#include "devices/bus.h"

#include <errno.h>
#include <modbus.h>
#include <stdlib.h>
#include <string.h>

#include "devices/devstate.h"
#include "devices/layout.h"
#include "devices/sched.h"
#include "core/log.h"

/* Every device's groups are checked for staleness at least this often, polled or not. */
#define STALE_SCAN_US (200 * 1000LL)

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

struct dev_rt {
	const struct cfg_device *cfg;
	size_t index;
	struct devstate *ds;	       /* values, groups, health, online, back-off */
	struct mb_layout_ref *lay_ref; /* the cache entry its layout is in */
	int64_t *due;		       /* per group: monotonic us of its next poll */
	size_t n_grps;
	struct hub_dev_health
	    h_shared; /* copy of its health for other threads, under the bus lock */
	size_t e0;    /* its groups' schedule entries: mb_bus.entries[e0 .. e0 + n_grps) */
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

static int64_t wall_ms(void)
{
	return g_get_real_time() / 1000;
}

/* What the link's answer rc (a count, or a negative errno as libmodbus's) means, in the
 * device state's terms: the one place libmodbus's codes are read. */
static struct ds_outcome outcome_of(bool sent, int rc, int64_t rtt_us)
{
	int e = -rc;

	if (!sent)
		return (struct ds_outcome){.a = DS_A_NO_LINK};
	if (rc >= 0)
		return (struct ds_outcome){.a = DS_A_OK, .rtt_us = rtt_us};
	if (e == ETIMEDOUT)
		return (struct ds_outcome){.a = DS_A_TIMEOUT};
	/* 0x0A (gateway path unavailable), 0x0B (gateway target failed to respond): a TCP
	 * gateway answers for a device behind it that it cannot reach. The device did not
	 * answer: that is not a refused address. */
	if (e == EMBXGPATH || e == EMBXGTAR)
		return (struct ds_outcome){.a = DS_A_UNREACHABLE, .code = e - MODBUS_ENOBASE};
	if (e >= EMBXILFUN && e <= EMBXGTAR)
		return (struct ds_outcome){.a = DS_A_EXCEPTION, .code = e - MODBUS_ENOBASE};
	if (e >= EMBBADCRC && e <= EMBBADSLAVE)
		return (struct ds_outcome){.a = DS_A_INVALID};
	return (struct ds_outcome){.a = DS_A_LOST};
}

/* Logs what a device's state says of its transitions (ud: the device's config). */
static void on_ds_event(const struct ds_ev *ev, void *ud)
{
	const struct cfg_device *c = ud;

	switch (ev->kind) {
	case DS_EV_UNREADABLE:
		log_err("device %s: point %s is outside the address space (address_base %d)", c->id,
			ev->name, c->address_base);
		break;
	case DS_EV_REFUSED:
		log_warn("device %s: refuses %s %u+%u (%s): its points are config_error", c->id,
			 mb_table_name(ev->span.table), ev->span.address, ev->span.count,
			 modbus_strerror(MODBUS_ENOBASE + ev->code));
		break;
	case DS_EV_SPLIT:
		log_info("device %s: %s %u+%u refused; reading it as %u+%u and %u+%u", c->id,
			 mb_table_name(ev->span.table), ev->span.address, ev->span.count,
			 ev->span.address, ev->cut - ev->span.address, ev->cut,
			 ev->span.address + ev->span.count - ev->cut);
		break;
	case DS_EV_MISSED:
		log_info("device %s: change counter %s jumped by %llu: %llu transition(s) not seen",
			 c->id, ev->name, (unsigned long long)ev->count,
			 (unsigned long long)(ev->count - 1));
		break;
	case DS_EV_STALE:
		log_warn("device %s: group %s not read for %lld ms: its points are stale", c->id,
			 ev->name, (long long)ev->age_ms);
		break;
	case DS_EV_FRESH:
		log_info("device %s: group %s read again", c->id, ev->name);
		break;
	case DS_EV_OFFLINE:
		log_warn("device %s: no answer in %llu polls (%s), offline", c->id,
			 (unsigned long long)ev->count, hub_err_kind_name(ev->err));
		break;
	case DS_EV_ANSWERING:
		log_info("device %s: answering again", c->id);
		break;
	}
}

/* ---- layouts ---- */

/* The layout of d for the counts its state asks for: one the bus already has, or a new
 * one (*ref: its cache entry, referenced by the bus). */
static const struct mb_lpoint *layout_for(struct mb_bus *b, const struct dev_rt *d, size_t *n,
					  struct mb_layout_ref **ref)
{
	const struct profile *p = d->cfg->profile;
	size_t nb = p->n_blocks ? p->n_blocks : 1;
	const int *counts = ds_counts(d->ds);

	for (guint i = 0; i < b->layouts->len; i++) {
		const struct mb_layout_ref *lc = b->layouts->pdata[i];
		if (lc->p == p && lc->address_base == d->cfg->address_base &&
		    memcmp(lc->counts, counts, nb * sizeof(int)) == 0) {
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
	if (!lc->counts || mb_layout_build(p, counts, lc->address_base, &lc->lay, &lc->n) < 0) {
		lay_cache_unref(lc);
		return NULL;
	}
	memcpy(lc->counts, counts, nb * sizeof(int));
	g_ptr_array_add(b->layouts, lc);
	*n = lc->n;
	*ref = lc;
	return lc->lay;
}

/* Gives d the layout for its current counts and plans its reads. */
static int dev_plan(struct mb_bus *b, struct dev_rt *d)
{
	struct mb_layout_ref *ref = NULL;
	size_t n = 0, had;
	const struct mb_lpoint *lay = layout_for(b, d, &n, &ref);

	if (!lay)
		return -ENOMEM;
	int rc = ds_set_layout(d->ds, lay, n);
	if (ds_layout(d->ds, &had) == lay)
		d->lay_ref = ref;
	if (rc < 0)
		log_err("device %s: cannot plan reads: %s", d->cfg->id, strerror(-rc));
	return rc;
}

/* ---- polling ---- */

static void scan_stale(struct mb_bus *b, const struct dev_rt *busy, int64_t now);
static void deliver(struct mb_bus *b, struct mb_poll_result *res);

/* The one place an answer to request r of d is taken in, on both paths: one request at
 * a time (read_group) and pipelined (take_batch). sent: the request went out (else no
 * connection could be made). Returns HUB_E_NONE to go on, or the error that ends the
 * poll; *a: what the answer was; *split: a refused request was split in two. */
static enum hub_err_kind take_answer(struct dev_rt *d, size_t r, bool sent, int rc, int64_t rtt_us,
				     int64_t now, enum ds_answer *a, bool *split)
{
	struct ds_outcome o = outcome_of(sent, rc, rtt_us);

	if (sent && rc < 0) {
		const struct mb_span *s = ds_req_span(d->ds, r);
		log_debug("device %s: %s %u+%u: %s", d->cfg->id, mb_table_name(s->table),
			  s->address, s->count, modbus_strerror(-rc));
	}
	*a = o.a;
	return ds_take_answer(d->ds, r, &o, now, split);
}

/* Reads the requests of group g one at a time. Returns HUB_E_NONE, or the first hard
 * error. */
static enum hub_err_kind read_group(struct mb_bus *b, struct dev_rt *d, int g, int64_t now)
{
	for (size_t r = 0; r < ds_n_reqs(d->ds); r++) {
		if (!ds_req_wanted(d->ds, r, g, now))
			continue;
		/* A long read of this device does not hide that the others are not read. */
		scan_stale(b, d, g_get_monotonic_time());
		enum ds_answer a;
		bool split;
		enum hub_err_kind k;
		if (!mb_link_is_connected(b->link) && mb_link_connect(b->link) < 0)
			return take_answer(d, r, false, -ENOTCONN, 0, now, &a, &split);
		const struct mb_span *s = ds_req_span(d->ds, r);
		int64_t t0 = g_get_monotonic_time();
		int rc = mb_link_read(b->link, d->cfg->unit, s->table, s->address, s->count,
				      ds_req_dst(d->ds, r), d->cfg->pause_ms);
		k = take_answer(d, r, true, rc, g_get_monotonic_time() - t0, now, &a, &split);
		if (split) {
			r--; /* read the first half now */
			continue;
		}
		if (k == HUB_E_NONE)
			continue;
		/* A gateway that answered in step for a device it cannot reach leaves the
		 * stream as it is. A late answer must not be taken for the next one, and a
		 * stream out of step starts again. */
		if (a == DS_A_TIMEOUT || a == DS_A_INVALID) {
			mb_link_flush(b->link);
			if (b->bus->type == BUS_TCP)
				mb_link_close(b->link);
		} else if (a == DS_A_LOST) {
			mb_link_close(b->link);
		}
		return k;
	}
	return HUB_E_NONE;
}

static struct mb_poll_result *make_result(struct mb_bus *b, struct dev_rt *d, int64_t now,
					  enum hub_err_kind k)
{
	struct mb_poll_result *res = ds_result(d->ds, k, now, wall_ms());
	if (!res)
		return NULL;
	res->generation = b->generation;
	res->device_index = d->index;
	res->layout_ref = d->lay_ref;
	if (res->layout_ref)
		g_atomic_int_inc(&res->layout_ref->refs);
	return res;
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

static void schedule_next(struct mb_bus *b, struct dev_rt *d, int g, int64_t now)
{
	uint64_t overruns = 0;
	int64_t interval = ds_group_interval(d->ds, g);

	d->due[g] = sched_advance(d->due[g], interval, now, ds_hold_until(d->ds), &overruns);
	d->due[g] = on_grid(b, d->due[g], interval);
	ds_count_overruns(d->ds, overruns);
}

/* Takes in what group g read, reads the groups whose change counter moved now, and
 * re-plans when a block count moved. */
static enum hub_err_kind absorb_and_relayout(struct mb_bus *b, struct dev_rt *d, int g, int64_t now)
{
	bool recount = ds_take_group(d->ds, g, now, wall_ms());

	for (size_t x = 0; x < d->n_grps; x++)
		if (ds_take_read_now(d->ds, (int)x))
			d->due[x] = now;
	if (!recount)
		return HUB_E_NONE;
	if (dev_plan(b, d) < 0)
		return HUB_E_INVALID;
	for (size_t x = 0; x < d->n_grps; x++)
		if (ds_group_has_points(d->ds, (int)x))
			d->due[x] = now;
	return HUB_E_NONE;
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
		if (o == busy || !ds_check_stale(o->ds, now))
			continue;
		struct mb_poll_result *res = make_result(b, o, now, HUB_E_NONE);
		if (res)
			deliver(b, res);
	}
}

/* Starts a poll of group g of d: advances its deadline, and asks its state whether it
 * must be read. Returns false when the change counter says it is still current. */
static bool poll_begin(struct mb_bus *b, struct dev_rt *d, int g, int64_t now, struct ds_poll *pc)
{
	schedule_next(b, d, g, now);
	return ds_poll_begin(d->ds, g, now, pc);
}

/* Ends a poll of group g of d whose reads gave k. Returns a result to deliver, or NULL
 * when there is nothing new. */
static struct mb_poll_result *poll_finish(struct mb_bus *b, struct dev_rt *d, int g,
					  enum hub_err_kind k, const struct ds_poll *pc)
{
	int64_t now = g_get_monotonic_time();

	if (k == HUB_E_NONE)
		k = absorb_and_relayout(b, d, g, now);
	/* A device coming (back) online, or one whose layout changed, is read whole
	 * before anything is reported, so the first report is complete and current. */
	for (int pass = 0; k == HUB_E_NONE && ds_needs_whole(d->ds) && pass < 3; pass++) {
		bool relayout = false;
		for (size_t x = 0; x < d->n_grps && k == HUB_E_NONE; x++) {
			if (!ds_group_has_points(d->ds, (int)x) || (pass == 0 && (int)x == g))
				continue;
			int64_t t = g_get_monotonic_time();
			struct ds_poll po;
			size_t before, after;
			ds_poll_whole(d->ds, (int)x, &po);
			ds_layout(d->ds, &before);
			k = read_group(b, d, (int)x, t);
			if (k == HUB_E_NONE)
				k = absorb_and_relayout(b, d, (int)x, t);
			if (k == HUB_E_NONE) {
				ds_group_done(d->ds, (int)x, &po, g_get_monotonic_time());
				d->due[x] = on_grid(b, t + 1, ds_group_interval(d->ds, (int)x));
			}
			ds_layout(d->ds, &after);
			relayout |= after != before;
		}
		if (!relayout)
			break;
	}
	now = g_get_monotonic_time();
	ds_poll_end(d->ds, g, k, pc, now, wall_ms());
	return make_result(b, d, now, k);
}

/* Polls group g of d on its own. Returns a result to deliver, or NULL. */
static struct mb_poll_result *poll_group(struct mb_bus *b, struct dev_rt *d, int g)
{
	struct ds_poll pc;
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
		if (rc < 0 && outcome_of(true, rc, 0).a != DS_A_EXCEPTION)
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

	if (ds_hold_until(d->ds) > now)
		return false; /* backed off: a new phase starts when it is retried */
	for (size_t g = 0; g < d->n_grps; g++) {
		int64_t interval = ds_group_interval(d->ds, (int)g);
		if (!ds_group_has_points(d->ds, (int)g) || interval <= 0 ||
		    now - d->due[g] < interval)
			continue;
		int64_t behind = (now - d->due[g]) / interval;
		ds_count_overruns(d->ds, (uint64_t)behind);
		d->due[g] += behind * interval;
		moved = true;
	}
	return moved;
}

/* Copies the schedule of d's groups into the bus's entries. */
static void sync_entries(struct mb_bus *b, const struct dev_rt *d)
{
	for (size_t g = 0; g < d->n_grps; g++) {
		/* A group without points is never due. */
		b->entries[d->e0 + g] =
		    (struct sched_entry){ds_group_has_points(d->ds, (int)g) ? d->due[g] : INT64_MAX,
					 ds_hold_until(d->ds), ds_group_interval(d->ds, (int)g)};
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
	struct ds_poll pc;
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
		enum ds_answer a;
		bool s;
		enum hub_err_kind e =
		    take_answer(d, xreq[j], true, x[j].rc, x[j].rtt_us, now, &a, &s);
		split |= s;
		if (e != HUB_E_NONE)
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
		if (ds_hold_until(d->ds) > now)
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
		k->overruns_before = ds_health(d->ds)->overruns;
		if (!ds_online(d->ds) || ds_needs_whole(d->ds) || d->cfg->pause_ms > 0) {
			k->alone = true;
			continue;
		}
		if (!poll_begin(b, d, k->g, now, &k->pc))
			continue;
		k->read = true;
		k->x0 = nx;
		for (size_t r = 0; r < ds_n_reqs(d->ds); r++) {
			if (!ds_req_wanted(d->ds, r, k->g, now))
				continue;
			const struct mb_span *q = ds_req_span(d->ds, r);
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
			xs[nx] = (struct mb_xfer){.unit = (uint8_t)d->cfg->unit,
						  .table = q->table,
						  .addr = q->address,
						  .count = q->count,
						  .dst = ds_req_dst(d->ds, r)};
			xreq[nx++] = (uint32_t)r;
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
		b->stats.overruns += ds_health(cs[c].d->ds)->overruns - cs[c].overruns_before;
		cs[c].d->h_shared = *ds_health(cs[c].d->ds);
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
			uint64_t overruns_before = ds_health(d->ds)->overruns;
			struct mb_poll_result *res = poll_group(b, d, g);
			if (res)
				deliver(b, res);
			sync_entries(b, d);
			g_mutex_lock(&b->lock);
			b->stats.polls++;
			b->stats.overruns += ds_health(d->ds)->overruns - overruns_before;
			d->h_shared = *ds_health(d->ds);
		}
		now = g_get_monotonic_time();
		if (now - b->overrun_scan >= 1000000) {
			b->overrun_scan = now;
			for (size_t i = 0; i < b->n_devs; i++) {
				struct dev_rt *o = &b->devs[i];
				uint64_t before = ds_health(o->ds)->overruns;
				if (!count_overruns(o, now))
					continue;
				sync_entries(b, o);
				b->stats.overruns += ds_health(o->ds)->overruns - before;
				o->h_shared = *ds_health(o->ds);
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
	int rc;

	d->cfg = c;
	d->index = index;
	d->n_grps = 1 + c->profile->n_groups;
	if (d->n_grps > 255)
		return -EINVAL;
	d->due = calloc(d->n_grps, sizeof(*d->due));
	if (!d->due)
		return -ENOMEM;
	for (size_t g = 0; g < d->n_grps; g++)
		d->due[g] = now;
	rc = ds_create(c, on_ds_event, (void *)c, &d->ds);
	if (rc < 0)
		return rc;
	return dev_plan(b, d);
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
		ds_destroy(b->devs[i].ds);
		free(b->devs[i].due);
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

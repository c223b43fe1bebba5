/* The worker of one Modbus TCP bus: owns its libmodbus context and the runtime
 * state of every device on it (read plan, buffers, schedule, health). Runs on its
 * own thread; results go to the main loop through g_main_context_invoke. */
#define LOG_TAG "bus"
#include "devices/bus.h"

#include <errno.h>
#include <modbus.h>
#include <stdlib.h>
#include <string.h>

#include "devices/decode.h"
#include "devices/plan.h"
#include "gateway/log.h"

struct slot {
	const struct prof_point *def;
	uint16_t block;
	uint16_t instance;
	uint32_t req; /* index of the request holding the point */
	uint32_t off; /* index of its first register/bit in the buffer */
};

struct dev_rt {
	const struct cfg_device *cfg;
	size_t index;
	int *counts; /* per block: instances planned */
	struct mb_span *reqs;
	size_t n_reqs;
	uint32_t *req_off;
	bool *req_refused; /* the device answered an exception for the request */
	uint16_t *regs;
	uint8_t *bits;
	struct slot *slots;
	size_t n_slots;
	int64_t next_due; /* monotonic, us */
	struct mb_health h;
	bool ever_ok;
	const struct prof_point *life_point;
	const struct prof_point *time_point;
	int64_t life_raw;
	bool life_seen;
	int64_t life_changed; /* monotonic us */
	bool fail_logged;
};

struct mb_bus {
	const struct hw_config *cfg;
	const struct cfg_bus *bus;
	unsigned generation;
	GMainContext *ctx;
	mb_result_fn fn;
	void *ud;
	modbus_t *mb;
	bool connected;
	bool conn_fail_logged;
	struct dev_rt *devs;
	size_t n_devs;
	GThread *thread;
	GMutex lock;
	GCond cond;
	bool stop;
};

const char *mb_err_kind_name(enum mb_err_kind k)
{
	static const char *const n[] = {"none", "timeout", "exception", "io", "invalid"};
	return (unsigned)k < G_N_ELEMENTS(n) ? n[k] : "?";
}

void mb_poll_result_free(struct mb_poll_result *r)
{
	if (!r)
		return;
	free(r->samples);
	free(r);
}

static bool is_bit_table(enum mb_table t)
{
	return t == MB_COIL || t == MB_DISCRETE;
}

static void dev_free_plan(struct dev_rt *d)
{
	free(d->reqs);
	free(d->req_off);
	free(d->req_refused);
	free(d->regs);
	free(d->bits);
	free(d->slots);
	d->reqs = NULL;
	d->req_off = NULL;
	d->req_refused = NULL;
	d->regs = NULL;
	d->bits = NULL;
	d->slots = NULL;
	d->n_reqs = d->n_slots = 0;
}

static size_t dev_point_total(const struct dev_rt *d)
{
	const struct profile *p = d->cfg->profile;
	size_t n = p->n_points;
	for (size_t b = 0; b < p->n_blocks; b++)
		n += (size_t)d->counts[b] * p->blocks[b].n_points;
	return n;
}

static uint32_t slot_address(const struct profile *p, const struct slot *s)
{
	if (s->block == MB_TOP_LEVEL)
		return s->def->address;
	const struct prof_block *blk = &p->blocks[s->block];
	return (uint32_t)blk->base + (uint32_t)s->instance * blk->stride + s->def->address;
}

/* Builds the read plan for the current block counts. */
static int dev_plan(struct dev_rt *d)
{
	const struct profile *p = d->cfg->profile;
	size_t n = dev_point_total(d), k = 0;
	struct mb_span *spans = NULL;
	struct mb_plan_limits lim = {
	    .max_regs = (uint16_t)d->cfg->max_regs,
	    .max_bits = 2000,
	    .max_gap = (uint16_t)d->cfg->max_gap,
	};
	int rc;

	dev_free_plan(d);
	d->slots = calloc(n ? n : 1, sizeof(*d->slots));
	spans = calloc(n ? n : 1, sizeof(*spans));
	if (!d->slots || !spans) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < p->n_points; i++)
		d->slots[k++] = (struct slot){.def = &p->points[i], .block = MB_TOP_LEVEL};
	for (size_t b = 0; b < p->n_blocks; b++)
		for (int inst = 0; inst < d->counts[b]; inst++)
			for (size_t i = 0; i < p->blocks[b].n_points; i++)
				d->slots[k++] = (struct slot){.def = &p->blocks[b].points[i],
							      .block = (uint16_t)b,
							      .instance = (uint16_t)inst};
	d->n_slots = k;
	for (size_t i = 0; i < k; i++) {
		uint32_t a = slot_address(p, &d->slots[i]);
		unsigned w = prof_point_width(d->slots[i].def);
		if (a + w > 65536) {
			rc = -ERANGE;
			goto out;
		}
		spans[i] = (struct mb_span){
		    .table = d->slots[i].def->table, .address = (uint16_t)a, .count = (uint16_t)w};
	}
	rc = mb_plan_build(spans, k, &lim, &d->reqs, &d->n_reqs);
	if (rc < 0)
		goto out;

	size_t nregs = 0, nbits = 0;
	d->req_off = calloc(d->n_reqs ? d->n_reqs : 1, sizeof(*d->req_off));
	d->req_refused = calloc(d->n_reqs ? d->n_reqs : 1, sizeof(*d->req_refused));
	if (!d->req_off || !d->req_refused) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t r = 0; r < d->n_reqs; r++) {
		if (is_bit_table(d->reqs[r].table)) {
			d->req_off[r] = (uint32_t)nbits;
			nbits += d->reqs[r].count;
		} else {
			d->req_off[r] = (uint32_t)nregs;
			nregs += d->reqs[r].count;
		}
	}
	d->regs = calloc(nregs ? nregs : 1, sizeof(uint16_t));
	d->bits = calloc(nbits ? nbits : 1, 1);
	if (!d->regs || !d->bits) {
		rc = -ENOMEM;
		goto out;
	}
	/* Locate every point in the request that covers it (requests are sorted). */
	for (size_t i = 0; i < k; i++) {
		uint32_t a = spans[i].address;
		size_t lo = 0, hi = d->n_reqs;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			const struct mb_span *q = &d->reqs[mid];
			if (q->table < spans[i].table ||
			    (q->table == spans[i].table && (uint32_t)q->address + q->count <= a))
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo >= d->n_reqs || d->reqs[lo].table != spans[i].table ||
		    d->reqs[lo].address > a) {
			rc = -EFAULT; /* the planner left a point out: a bug */
			goto out;
		}
		d->slots[i].req = (uint32_t)lo;
		d->slots[i].off = d->req_off[lo] + (a - d->reqs[lo].address);
	}
	rc = 0;
out:
	free(spans);
	if (rc < 0) {
		log_err("device %s: cannot plan reads: %s", d->cfg->id, strerror(-rc));
		dev_free_plan(d);
	}
	return rc;
}

static enum mb_err_kind classify(int e)
{
	if (e == ETIMEDOUT)
		return MB_E_TIMEOUT;
	if (e >= EMBXILFUN && e <= EMBXGTAR)
		return MB_E_EXCEPTION;
	if (e >= EMBBADCRC && e <= EMBBADSLAVE)
		return MB_E_INVALID;
	return MB_E_IO;
}

static int bus_connect(struct mb_bus *b)
{
	if (b->connected)
		return 0;
	if (modbus_connect(b->mb) < 0) {
		int e = errno;
		if (!b->conn_fail_logged)
			log_warn("bus %s: cannot connect to %s:%d: %s", b->bus->id, b->bus->host,
				 b->bus->port, modbus_strerror(e));
		b->conn_fail_logged = true;
		return -e;
	}
	if (b->conn_fail_logged)
		log_info("bus %s: connected to %s:%d", b->bus->id, b->bus->host, b->bus->port);
	b->conn_fail_logged = false;
	b->connected = true;
	return 0;
}

static void bus_disconnect(struct mb_bus *b)
{
	if (b->connected)
		modbus_close(b->mb);
	b->connected = false;
}

/* Runs one request. Returns MB_E_NONE or the error kind. */
static enum mb_err_kind run_request(struct mb_bus *b, struct dev_rt *d, size_t r)
{
	const struct mb_span *q = &d->reqs[r];
	int64_t t0 = g_get_monotonic_time();
	int rc;

	d->h.requests++;
	switch (q->table) {
	case MB_COIL:
		rc = modbus_read_bits(b->mb, q->address, q->count, d->bits + d->req_off[r]);
		break;
	case MB_DISCRETE:
		rc = modbus_read_input_bits(b->mb, q->address, q->count, d->bits + d->req_off[r]);
		break;
	case MB_INPUT:
		rc = modbus_read_input_registers(b->mb, q->address, q->count,
						 d->regs + d->req_off[r]);
		break;
	default:
		rc = modbus_read_registers(b->mb, q->address, q->count, d->regs + d->req_off[r]);
		break;
	}
	if (rc == q->count) {
		double ms = (double)(g_get_monotonic_time() - t0) / 1000.0;
		d->h.rtt_ms_last = ms;
		d->h.rtt_ms_avg = d->h.rtt_ms_avg == 0 ? ms : d->h.rtt_ms_avg * 0.8 + ms * 0.2;
		d->req_refused[r] = false;
		return MB_E_NONE;
	}
	int e = rc < 0 ? errno : EMBMDATA;
	enum mb_err_kind k = classify(e);
	switch (k) {
	case MB_E_TIMEOUT:
		d->h.err_timeout++;
		/* A late answer may still arrive: drop it so it cannot be taken for the next. */
		modbus_flush(b->mb);
		break;
	case MB_E_EXCEPTION:
		d->h.err_exception++;
		d->req_refused[r] = true;
		break;
	case MB_E_INVALID:
		d->h.err_invalid++;
		/* The stream is out of step: rebuild the connection. */
		bus_disconnect(b);
		break;
	default:
		d->h.err_io++;
		bus_disconnect(b);
		break;
	}
	log_debug("device %s: %s %u+%u: %s", d->cfg->id, mb_table_name(q->table), q->address,
		  q->count, modbus_strerror(e));
	return k;
}

static int64_t slot_raw(const struct dev_rt *d, const struct slot *s, int64_t *out)
{
	if (is_bit_table(s->def->table)) {
		*out = d->bits[s->off] ? 1 : 0;
		return 0;
	}
	return mb_decode_raw(s->def, d->regs + s->off, out);
}

/* Reads every request of the plan. Returns the first hard error kind, or MB_E_NONE. */
static enum mb_err_kind run_plan(struct mb_bus *b, struct dev_rt *d)
{
	modbus_set_slave(b->mb, d->cfg->unit);
	for (size_t r = 0; r < d->n_reqs; r++) {
		if (!b->connected) {
			int rc = bus_connect(b);
			if (rc < 0) {
				d->h.err_io++;
				return MB_E_IO;
			}
		}
		enum mb_err_kind k = run_request(b, d, r);
		if (k != MB_E_NONE && k != MB_E_EXCEPTION)
			return k;
	}
	return MB_E_NONE;
}

/* Block counts read from the device; returns true when they differ from the plan's. */
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
				if (strcmp(p->points[i].name, blk->count_point) != 0)
					continue;
				const struct slot *s = &d->slots[i];
				int64_t raw;
				if (!d->req_refused[s->req] && slot_raw(d, s, &raw) == 0)
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

static struct mb_poll_result *poll_device(struct mb_bus *b, struct dev_rt *d)
{
	struct mb_poll_result *res = calloc(1, sizeof(*res));
	enum mb_err_kind k;
	int64_t now_mono;

	if (!res)
		return NULL;
	d->h.polls++;
	k = d->reqs || d->n_slots == 0 ? run_plan(b, d) : MB_E_INVALID;
	if (k == MB_E_NONE && update_counts(d)) {
		if (dev_plan(d) == 0)
			k = run_plan(b, d);
		else
			k = MB_E_INVALID;
	}
	now_mono = g_get_monotonic_time();
	res->generation = b->generation;
	res->device_index = d->index;
	res->t_ms = g_get_real_time() / 1000;
	res->device_time = -1;
	res->err = k;
	res->ok = k == MB_E_NONE;
	if (res->ok) {
		d->h.consecutive_failures = 0;
		d->h.last_ok_ms = res->t_ms;
		d->ever_ok = true;
		if (d->fail_logged)
			log_info("device %s: answering again", d->cfg->id);
		d->fail_logged = false;
		res->samples = calloc(d->n_slots ? d->n_slots : 1, sizeof(*res->samples));
		if (res->samples) {
			res->n_samples = d->n_slots;
			for (size_t i = 0; i < d->n_slots; i++) {
				const struct slot *s = &d->slots[i];
				struct mb_sample *o = &res->samples[i];
				o->def = s->def;
				o->block = s->block;
				o->instance = s->instance;
				if (d->req_refused[s->req]) {
					o->q = HW_Q_CONFIG_ERROR;
					continue;
				}
				o->q = HW_Q_GOOD;
				if (is_bit_table(s->def->table))
					mb_decode_bit(s->def, d->bits[s->off], &o->v);
				else
					mb_decode_regs(s->def, d->regs + s->off, &o->v);
			}
		}
		for (size_t i = 0; i < d->n_slots && i < d->cfg->profile->n_points; i++) {
			const struct slot *s = &d->slots[i];
			int64_t raw;
			if (d->req_refused[s->req] || slot_raw(d, s, &raw) < 0)
				continue;
			if (s->def == d->life_point) {
				if (!d->life_seen || raw != d->life_raw)
					d->life_changed = now_mono;
				d->life_seen = true;
				d->life_raw = raw;
			} else if (s->def == d->time_point) {
				res->device_time = raw;
			}
		}
	} else {
		d->h.consecutive_failures++;
		if (!d->fail_logged && d->h.consecutive_failures >= (unsigned)d->cfg->offline_after)
			log_warn("device %s: no answer in %u polls (%s), offline", d->cfg->id,
				 d->h.consecutive_failures, mb_err_kind_name(k));
		if (d->h.consecutive_failures >= (unsigned)d->cfg->offline_after)
			d->fail_logged = true;
	}
	res->online = d->ever_ok && d->h.consecutive_failures < (unsigned)d->cfg->offline_after;
	res->frozen = d->life_point && d->life_seen && d->cfg->life_check_s > 0 &&
		      now_mono - d->life_changed >= (int64_t)d->cfg->life_check_s * 1000000;
	res->health = d->h;
	return res;
}

/* The next deadline: on the interval grid while the device answers, backed off
 * exponentially (capped) while it is offline. Overruns are counted, never absorbed. */
static void schedule_next(struct dev_rt *d, int64_t now)
{
	int64_t iv = (int64_t)d->cfg->interval_ms * 1000;
	unsigned f = d->h.consecutive_failures;
	unsigned lim = (unsigned)d->cfg->offline_after;

	if (f >= lim) {
		int64_t delay = iv;
		for (unsigned i = lim; i < f && delay < (int64_t)d->cfg->backoff_max_ms * 1000; i++)
			delay *= 2;
		if (delay > (int64_t)d->cfg->backoff_max_ms * 1000)
			delay = (int64_t)d->cfg->backoff_max_ms * 1000;
		if (delay < iv)
			delay = iv;
		d->next_due = now + delay;
		return;
	}
	d->next_due += iv;
	if (d->next_due <= now) {
		int64_t behind = (now - d->next_due) / iv + 1;
		d->h.overruns += (uint64_t)behind;
		d->next_due += behind * iv;
	}
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

static gpointer worker(gpointer arg)
{
	struct mb_bus *b = arg;

	g_mutex_lock(&b->lock);
	while (!b->stop) {
		struct dev_rt *next = NULL;
		for (size_t i = 0; i < b->n_devs; i++)
			if (!next || b->devs[i].next_due < next->next_due)
				next = &b->devs[i];
		if (!next) {
			g_cond_wait(&b->cond, &b->lock);
			continue;
		}
		if (g_get_monotonic_time() < next->next_due) {
			g_cond_wait_until(&b->cond, &b->lock, next->next_due);
			continue;
		}
		g_mutex_unlock(&b->lock);

		struct mb_poll_result *res = poll_device(b, next);
		schedule_next(next, g_get_monotonic_time());
		if (res) {
			struct delivery *dl = g_new(struct delivery, 1);
			dl->res = res;
			dl->fn = b->fn;
			dl->ud = b->ud;
			g_main_context_invoke(b->ctx, deliver_cb, dl);
		}
		g_mutex_lock(&b->lock);
	}
	g_mutex_unlock(&b->lock);
	bus_disconnect(b);
	return NULL;
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

	b->mb = modbus_new_tcp(bus->host, bus->port);
	if (!b->mb) {
		rc = -errno;
		goto fail;
	}
	modbus_set_response_timeout(b->mb, (uint32_t)(bus->timeout_ms / 1000),
				    (uint32_t)(bus->timeout_ms % 1000) * 1000);
	modbus_set_byte_timeout(b->mb, (uint32_t)(bus->timeout_ms / 1000),
				(uint32_t)(bus->timeout_ms % 1000) * 1000);

	for (size_t i = 0; i < cfg->n_devices; i++)
		if (cfg->devices[i].bus == bus)
			n++;
	b->devs = calloc(n ? n : 1, sizeof(*b->devs));
	if (!b->devs) {
		rc = -ENOMEM;
		goto fail;
	}
	int64_t now = g_get_monotonic_time();
	for (size_t i = 0; i < cfg->n_devices; i++) {
		const struct cfg_device *c = &cfg->devices[i];
		if (c->bus != bus)
			continue;
		struct dev_rt *d = &b->devs[b->n_devs++];
		const struct profile *p = c->profile;
		d->cfg = c;
		d->index = i;
		d->counts = calloc(p->n_blocks ? p->n_blocks : 1, sizeof(int));
		if (!d->counts) {
			rc = -ENOMEM;
			goto fail;
		}
		for (size_t k = 0; k < p->n_blocks; k++)
			d->counts[k] = p->blocks[k].count_point ? 0 : p->blocks[k].count;
		for (size_t k = 0; k < p->n_points; k++) {
			if (p->points[k].role == PR_LIFE_CHECK && !d->life_point)
				d->life_point = &p->points[k];
			if (p->points[k].role == PR_DEVICE_TIME && !d->time_point)
				d->time_point = &p->points[k];
		}
		rc = dev_plan(d);
		if (rc < 0)
			goto fail;
		d->next_due = now;
	}
	b->thread = g_thread_try_new(bus->id, worker, b, NULL);
	if (!b->thread) {
		rc = -EAGAIN;
		goto fail;
	}
	log_info("bus %s: polling %zu device(s) on %s:%d", bus->id, b->n_devs, bus->host,
		 bus->port);
	*out = b;
	return 0;
fail:
	mb_bus_stop(b);
	return rc;
}

void mb_bus_stop(struct mb_bus *b)
{
	if (!b)
		return;
	if (b->thread) {
		g_mutex_lock(&b->lock);
		b->stop = true;
		g_cond_signal(&b->cond);
		g_mutex_unlock(&b->lock);
		g_thread_join(b->thread);
	}
	for (size_t i = 0; i < b->n_devs; i++) {
		dev_free_plan(&b->devs[i]);
		free(b->devs[i].counts);
	}
	free(b->devs);
	if (b->mb)
		modbus_free(b->mb);
	g_mutex_clear(&b->lock);
	g_cond_clear(&b->cond);
	free(b);
}

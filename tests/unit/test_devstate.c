/* Unit tests of devices/devstate.c: the transitions of one device's state as step
 * tables (polls answered or not, registers changed, time passing) run against a
 * simulated device with an injected clock; each step checks what was read or skipped,
 * the events, what a consumer of the results sees, the health counters and the
 * back-off. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/devstate.h"

/* A fire panel: an alarm group read every 100 ms holding the change counter, zones
 * (a fire point) and details re-read when the counter moves, analog values every 10 s. */
enum { G_DEFAULT = 0, G_ALARM, G_ZONES, G_ANALOG, G_DETAIL };
static const char *const gnames[] = {"default", "alarm", "zones", "analog", "detail"};

#define PT(n, t, a, ty, c, r, g)                                                                   \
	{                                                                                          \
		.name = n, .table = t, .address = a, .type = ty, .bit = -1, .scale = 1, .cls = c,  \
		.role = r, .group = g                                                              \
	}

static struct prof_point points[] = {
    PT("state", MB_INPUT, 0, MB_T_U16, PC_STATUS, PR_NONE, 0),
    PT("life", MB_INPUT, 1, MB_T_U16, PC_STATUS, PR_LIFE_CHECK, 0),
    PT("changes", MB_INPUT, 2, MB_T_U16, PC_STATUS, PR_CHANGE_COUNTER, 0),
    PT("fire", MB_DISCRETE, 0, MB_T_BOOL, PC_FIRE, PR_NONE, 1),
    PT("temp", MB_INPUT, 10, MB_T_U16, PC_MEASUREMENT, PR_NONE, 2),
    PT("hum", MB_INPUT, 11, MB_T_U16, PC_MEASUREMENT, PR_NONE, 2),
    PT("valve", MB_HOLDING, 20, MB_T_U16, PC_STATUS, PR_NONE, 3),
};
#define NPT (sizeof(points) / sizeof(points[0]))

static struct prof_group groups[] = {
    {.name = "alarm", .interval_ms = 100, .change_point = -1},
    {.name = "zones", .interval_ms = 1000, .change_point = 2, .refresh_ms = 60000},
    {.name = "analog", .interval_ms = 10000, .change_point = -1},
    {.name = "detail", .interval_ms = 1000, .change_point = 2, .refresh_ms = 60000},
};

static struct profile profile = {
    .name = "panel", .points = points, .n_points = NPT, .groups = groups, .n_groups = 4};

/* A long timeout keeps the steps' jumps in time clear of staleness where a test does not
 * look for it: a group is stale two intervals and a timeout after its last read. */
static struct cfg_bus bus = {.id = "b", .type = BUS_TCP, .timeout_ms = 60000, .pipeline = 1};
#define NOT_HELD (-1)

/* The operations of a step. */
enum op {
	POLL,	/* a poll of group arg comes due */
	SET,	/* the device's point arg now holds v */
	ANSWER, /* the device answers every request so from now (an enum ds_answer, code v) */
	REFUSE, /* the device refuses input register arg with exception v (0: no longer) */
	STALE,	/* the worker checks staleness */
	END,
};

struct step {
	int64_t t; /* ms */
	enum op op;
	int arg;	 /* group, point, or answer */
	int v;		 /* value, or exception code */
	const char *out; /* POLL: "skip", "read", or the error ("timeout", "io", "invalid") */
	const char *ev;	 /* the events, "; " apart ("" none, NULL: not checked) */
	const char *res; /* the result sent: "-" none, "off", "full N", "N" (changed points) */
	const char *q;	 /* "point=quality[:value] ...": as a consumer of the results sees it */
	const char *h;	 /* "counter=value ...": the health counters */
	int hold;	 /* back-off left after the step, ms (0: not checked, NOT_HELD: none) */
	const char *due; /* groups whose change counter moved: to read now ("" none) */
};

struct fx {
	struct cfg_device dev;
	struct devstate *ds;
	struct mb_lpoint *lay;
	size_t n;
	/* the simulated device */
	uint16_t regs[4][64]; /* by enum mb_table */
	enum ds_answer answer;
	int code;
	int refuse_addr, refuse_code;
	/* what a consumer of the results holds */
	struct hw_pval seen[NPT];
	bool seen_any[NPT];
	bool online;
	char ev[512];
	char res[32];
	char due[64];
};

static void on_event(const struct ds_ev *ev, void *ud)
{
	static const char *const names[] = {"unreadable", "refused", "split",	"missed",
					    "stale",	  "fresh",   "offline", "answering"};
	struct fx *f = ud;
	size_t n = strlen(f->ev);
	char arg[96] = "";

	switch (ev->kind) {
	case DS_EV_REFUSED:
		snprintf(arg, sizeof(arg), " %s %u+%u (%d)", mb_table_name(ev->span.table),
			 ev->span.address, ev->span.count, ev->code);
		break;
	case DS_EV_SPLIT:
		snprintf(arg, sizeof(arg), " %s %u+%u at %u", mb_table_name(ev->span.table),
			 ev->span.address, ev->span.count, ev->cut);
		break;
	case DS_EV_MISSED:
		snprintf(arg, sizeof(arg), " %s %llu", ev->name, (unsigned long long)ev->count);
		break;
	case DS_EV_OFFLINE:
		snprintf(arg, sizeof(arg), " %llu %s", (unsigned long long)ev->count,
			 hub_err_kind_name(ev->err));
		break;
	case DS_EV_UNREADABLE:
	case DS_EV_STALE:
	case DS_EV_FRESH:
		snprintf(arg, sizeof(arg), " %s", ev->name);
		break;
	case DS_EV_ANSWERING:
		break;
	}
	snprintf(f->ev + n, sizeof(f->ev) - n, "%s%s%s", n ? "; " : "", names[ev->kind], arg);
}

static int setup_with(void **state, int fire_refresh_ms)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->dev = (struct cfg_device){.id = "p1",
				     .bus = &bus,
				     .unit = 1,
				     .profile = &profile,
				     .interval_ms = 1000,
				     .offline_after = 3,
				     .backoff_max_ms = 1000,
				     .max_regs = 125,
				     .max_bits = 2000,
				     .fire_refresh_ms = fire_refresh_ms};
	assert_int_equal(ds_create(&f->dev, on_event, f, &f->ds), 0);
	assert_int_equal(mb_layout_build(&profile, ds_counts(f->ds), 0, &f->lay, &f->n), 0);
	assert_int_equal(f->n, NPT);
	assert_int_equal(ds_set_layout(f->ds, f->lay, f->n), 0);
	f->answer = DS_A_OK;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 5000);
}

static int setup_no_fire_refresh(void **state)
{
	return setup_with(state, 0);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	ds_destroy(f->ds);
	free(f->lay);
	free(f);
	return 0;
}

static int64_t us(int64_t ms)
{
	return (1000 + ms) * 1000; /* monotonic time 0 means "never" to the state */
}

static int64_t wall(int64_t ms)
{
	return 1700000000000LL + ms;
}

/* Sends the requests of group g to the simulated device and hands the answers in, as
 * the worker's serial path does. */
static enum hub_err_kind read_group(struct fx *f, int g, int64_t now)
{
	for (size_t r = 0; r < ds_n_reqs(f->ds); r++) {
		if (!ds_req_wanted(f->ds, r, g, now))
			continue;
		const struct mb_span *s = ds_req_span(f->ds, r);
		struct ds_outcome o = {.a = f->answer, .code = f->code, .rtt_us = 2000};
		if (o.a == DS_A_OK && s->table == MB_INPUT && f->refuse_code &&
		    f->refuse_addr >= s->address && f->refuse_addr < s->address + s->count)
			o = (struct ds_outcome){.a = DS_A_EXCEPTION, .code = f->refuse_code};
		if (o.a == DS_A_OK) {
			void *dst = ds_req_dst(f->ds, r);
			for (unsigned i = 0; i < s->count; i++) {
				uint16_t v = f->regs[s->table][s->address + i];
				if (s->table == MB_COIL || s->table == MB_DISCRETE)
					((uint8_t *)dst)[i] = v != 0;
				else
					((uint16_t *)dst)[i] = v;
			}
		}
		bool split;
		enum hub_err_kind k = ds_take_answer(f->ds, r, &o, now, &split);
		if (split) {
			r--;
			continue;
		}
		if (k != HUB_E_NONE)
			return k;
	}
	return HUB_E_NONE;
}

static void note_due(struct fx *f)
{
	for (size_t x = 0; x < ds_n_groups(f->ds); x++) {
		if (!ds_take_read_now(f->ds, (int)x))
			continue;
		size_t n = strlen(f->due);
		snprintf(f->due + n, sizeof(f->due) - n, "%s%s", n ? " " : "", gnames[x]);
	}
}

static void take_result(struct fx *f, struct mb_poll_result *res)
{
	if (!res) {
		snprintf(f->res, sizeof(f->res), "-");
		return;
	}
	f->online = res->online;
	if (!res->online)
		snprintf(f->res, sizeof(f->res), "off");
	else if (res->full)
		snprintf(f->res, sizeof(f->res), "full %zu", res->n_samples);
	else
		snprintf(f->res, sizeof(f->res), "%zu", res->n_samples);
	for (size_t i = 0; i < res->n_samples; i++) {
		assert_true(res->samples[i].index < NPT);
		f->seen[res->samples[i].index] = res->samples[i].pv;
		f->seen_any[res->samples[i].index] = true;
	}
	mb_poll_result_free(res);
}

/* One poll of group g at t, as the worker runs it: read, take in, the device read whole
 * when it comes online, the end of the poll and the result. */
static const char *poll(struct fx *f, int g, int64_t t)
{
	int64_t now = us(t);
	struct ds_poll pc;

	if (!ds_poll_begin(f->ds, g, now, &pc)) {
		take_result(f, NULL);
		return "skip";
	}
	enum hub_err_kind k = read_group(f, g, now);
	if (k == HUB_E_NONE) {
		assert_false(ds_take_group(f->ds, g, now, wall(t)));
		note_due(f);
	}
	for (size_t x = 0; k == HUB_E_NONE && ds_needs_whole(f->ds) && x < ds_n_groups(f->ds);
	     x++) {
		struct ds_poll po;
		if (!ds_group_has_points(f->ds, (int)x) || (int)x == g)
			continue;
		ds_poll_whole(f->ds, (int)x, &po);
		k = read_group(f, (int)x, now);
		if (k != HUB_E_NONE)
			break;
		assert_false(ds_take_group(f->ds, (int)x, now, wall(t)));
		note_due(f);
		ds_group_done(f->ds, (int)x, &po, now);
	}
	ds_poll_end(f->ds, g, k, &pc, now, wall(t));
	take_result(f, ds_result(f->ds, k, now, wall(t)));
	return k == HUB_E_NONE ? "read" : hub_err_kind_name(k);
}

static int point_index(const char *name)
{
	for (size_t i = 0; i < NPT; i++)
		if (strcmp(points[i].name, name) == 0)
			return (int)i;
	fail_msg("no point %s", name);
	return -1;
}

/* "temp=good:21 hum=config_error": qualities (and values) as the results told them. */
static void check_q(const struct fx *f, const char *want, size_t step)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", want);
	for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *q = strchr(tok, '=');
		assert_non_null(q);
		*q++ = '\0';
		char *v = strchr(q, ':');
		if (v)
			*v++ = '\0';
		int i = point_index(tok);
		const struct hw_pval *pv = &f->seen[i];
		if (!f->seen_any[i])
			fail_msg("step %zu: %s never reported", step, tok);
		if (strcmp(hw_quality_name((enum hw_quality)pv->q), q) != 0)
			fail_msg("step %zu: %s is %s, not %s", step, tok,
				 hw_quality_name((enum hw_quality)pv->q), q);
		if (v) {
			struct hw_value hv;
			hw_pval_unpack(&points[i], pv, &hv);
			if (hw_value_as_double(&hv) != atof(v))
				fail_msg("step %zu: %s = %g, not %s", step, tok,
					 hw_value_as_double(&hv), v);
		}
	}
}

static uint64_t health_field(const struct hub_dev_health *h, const char *name)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
	    {"polls", offsetof(struct hub_dev_health, polls)},
	    {"requests", offsetof(struct hub_dev_health, requests)},
	    {"skipped", offsetof(struct hub_dev_health, skipped)},
	    {"missed", offsetof(struct hub_dev_health, missed_changes)},
	    {"timeout", offsetof(struct hub_dev_health, err_timeout)},
	    {"exception", offsetof(struct hub_dev_health, err_exception)},
	    {"io", offsetof(struct hub_dev_health, err_io)},
	    {"invalid", offsetof(struct hub_dev_health, err_invalid)},
	};
	if (strcmp(name, "failures") == 0)
		return h->consecutive_failures;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(fields[i].name, name) == 0)
			return *(const uint64_t *)((const char *)h + fields[i].off);
	fail_msg("no health counter %s", name);
	return 0;
}

static void check_h(const struct fx *f, const char *want, size_t step)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", want);
	for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *v = strchr(tok, '=');
		assert_non_null(v);
		*v++ = '\0';
		uint64_t got = health_field(ds_health(f->ds), tok);
		if (got != strtoull(v, NULL, 10))
			fail_msg("step %zu: %s = %llu, not %s", step, tok, (unsigned long long)got,
				 v);
	}
}

static void run(struct fx *f, const struct step *steps)
{
	for (size_t i = 0; steps[i].op != END; i++) {
		const struct step *s = &steps[i];
		const char *out = NULL;
		f->ev[0] = '\0';
		f->due[0] = '\0';
		snprintf(f->res, sizeof(f->res), "-");
		switch (s->op) {
		case POLL:
			out = poll(f, s->arg, s->t);
			break;
		case SET: {
			const struct prof_point *p = &points[s->arg];
			f->regs[p->table][p->address] = (uint16_t)s->v;
			break;
		}
		case ANSWER:
			f->answer = (enum ds_answer)s->arg;
			f->code = s->v;
			break;
		case REFUSE:
			f->refuse_addr = s->arg;
			f->refuse_code = s->v;
			break;
		case STALE:
			if (ds_check_stale(f->ds, us(s->t)))
				take_result(f, ds_result(f->ds, HUB_E_NONE, us(s->t), wall(s->t)));
			break;
		case END:
			break;
		}
		if (s->out && (!out || strcmp(out, s->out) != 0))
			fail_msg("step %zu (t=%lld): %s, not %s", i, (long long)s->t,
				 out ? out : "(no poll)", s->out);
		if (s->ev && strcmp(f->ev, s->ev) != 0)
			fail_msg("step %zu (t=%lld): events \"%s\", not \"%s\"", i, (long long)s->t,
				 f->ev, s->ev);
		if (s->res && strcmp(f->res, s->res) != 0)
			fail_msg("step %zu (t=%lld): result \"%s\", not \"%s\"", i, (long long)s->t,
				 f->res, s->res);
		if (s->q)
			check_q(f, s->q, i);
		if (s->h)
			check_h(f, s->h, i);
		if (s->hold) {
			int64_t hold = ds_hold_until(f->ds);
			int64_t left = hold ? (hold - us(s->t)) / 1000 : 0;
			if (left != (s->hold == NOT_HELD ? 0 : s->hold))
				fail_msg("step %zu (t=%lld): held %lld ms, not %d", i,
					 (long long)s->t, (long long)left, s->hold);
		}
		if (s->due && strcmp(f->due, s->due) != 0)
			fail_msg("step %zu (t=%lld): due now \"%s\", not \"%s\"", i,
				 (long long)s->t, f->due, s->due);
	}
}

#define ALL_GOOD "state=good life=good changes=good fire=good temp=good hum=good valve=good"

/* The first poll reads the whole device and reports every point, good. */
static void test_good_read(void **state)
{
	struct fx *f = *state;
	const struct step steps[] = {
	    {
		.t = 0,
		.op = SET,
		.arg = 4,
		.v = 21,
	    },
	    {
		.t = 0,
		.op = SET,
		.arg = 3,
		.v = 1,
	    },
	    {
		.t = 0,
		.op = SET,
		.arg = 6,
		.v = 7,
	    },
	    {.t = 0,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "read",
	     .ev = "",
	     .res = "full 7",
	     .q = ALL_GOOD " temp=good:21 fire=good:1 valve=good:7",
	     .h = "polls=4 requests=4 skipped=0 failures=0",
	     .hold = NOT_HELD},
	    /* Nothing changed: only counters moved, nothing worth sending. */
	    {.t = 100,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "read",
	     .ev = "",
	     .res = "-",
	     .hold = NOT_HELD},
	    {
		.t = 0,
		.op = SET,
		.arg = 0,
		.v = 5,
	    },
	    {.t = 200,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "read",
	     .ev = "",
	     .res = "1",
	     .q = "state=good:5"},
	    /* Counters alone are sent again after 5 s. */
	    {.t = 5200, .op = POLL, .arg = G_ALARM, .out = "read", .res = "0"},
	    {
		.t = 0,
		.op = SET,
		.arg = 4,
		.v = 22,
	    },
	    {.t = 10000,
	     .op = POLL,
	     .arg = G_ANALOG,
	     .out = "read",
	     .res = "1",
	     .q = "temp=good:22 hum=good",
	     .h = "polls=8 requests=8"},
	    {.op = END},
	};
	run(f, steps);
	assert_true(f->online);
}

/* Timeouts: back-off doubling from the fastest interval up to backoff_max_ms, offline
 * after offline_after polls (told once), then back online with a full report. */
static void test_timeouts_offline_backoff(void **state)
{
	struct fx *f = *state;
	const struct step steps[] = {
	    {.t = 0, .op = POLL, .arg = G_ALARM, .out = "read", .res = "full 7", .hold = NOT_HELD},
	    {
		.t = 0,
		.op = ANSWER,
		.arg = DS_A_TIMEOUT,
	    },
	    {.t = 100,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "timeout",
	     .ev = "",
	     .res = "0",
	     .q = ALL_GOOD,
	     .h = "failures=1 timeout=1",
	     .hold = 100},
	    {.t = 200,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "timeout",
	     .ev = "",
	     .h = "failures=2",
	     .hold = 200},
	    {.t = 400,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "timeout",
	     .ev = "offline 3 timeout",
	     .res = "off",
	     .h = "failures=3 timeout=3",
	     .hold = 400},
	    {.t = 800,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "timeout",
	     .ev = "",
	     .res = "off",
	     .hold = 800},
	    {.t = 1600, .op = POLL, .arg = G_ALARM, .out = "timeout", .ev = "", .hold = 1000},
	    {.t = 2600,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "timeout",
	     .ev = "",
	     .h = "failures=6 timeout=6",
	     .hold = 1000},
	    /* Offline: nothing goes stale, whatever the time. */
	    {.t = 60000, .op = STALE, .ev = "", .res = "-"},
	    {
		.t = 0,
		.op = ANSWER,
		.arg = DS_A_OK,
	    },
	    {
		.t = 0,
		.op = SET,
		.arg = 4,
		.v = 30,
	    },
	    {.t = 60000,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "read",
	     .ev = "answering",
	     .res = "full 7",
	     .q = ALL_GOOD " temp=good:30",
	     .h = "failures=0 timeout=6",
	     .hold = NOT_HELD},
	    {.op = END},
	};
	run(f, steps);
	assert_true(f->online);
}

/* Invalid answers, broken connections and exceptions 0x0A/0x0B (a gateway cannot reach
 * the device) are failures of the poll, counted each as itself; 0x0B is no refused
 * address. */
static void test_invalid_lost_unreachable(void **state)
{
	struct fx *f = *state;
	const struct step steps[] = {
	    {.t = 0, .op = POLL, .arg = G_ALARM, .out = "read", .res = "full 7"},
	    {
		.t = 0,
		.op = ANSWER,
		.arg = DS_A_INVALID,
	    },
	    {.t = 100,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "invalid",
	     .ev = "",
	     .h = "invalid=1 failures=1 requests=5",
	     .hold = 100},
	    {
		.t = 0,
		.op = ANSWER,
		.arg = DS_A_LOST,
	    },
	    {.t = 200,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "io",
	     .h = "io=1 failures=2 requests=6",
	     .hold = 200},
	    {
		.t = 0,
		.op = ANSWER,
		.arg = DS_A_NO_LINK,
	    },
	    /* Nothing was sent: no request counted. */
	    {.t = 400,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "io",
	     .ev = "offline 3 io",
	     .res = "off",
	     .h = "io=2 failures=3 requests=6",
	     .hold = 400},
	    {
		.t = 0,
		.op = ANSWER,
		.arg = DS_A_OK,
	    },
	    {.t = 800,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "read",
	     .ev = "answering",
	     .res = "full 7",
	     .q = ALL_GOOD,
	     .hold = NOT_HELD},
	    {
		.t = 0,
		.op = ANSWER,
		.arg = DS_A_UNREACHABLE,
		.v = 0x0B,
	    },
	    {.t = 900,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "timeout",
	     .ev = "",
	     .q = ALL_GOOD,
	     .h = "timeout=1 exception=0 failures=1",
	     .hold = 100},
	    {.op = END},
	};
	run(f, steps);
}

/* Exception 0x02 on one address: the request holding it is split until the refused
 * point stands alone; that point is config_error, the others stay good; it is tried
 * again after ten intervals of its group (at most a minute) and recovers. */
static void test_exception_config_error(void **state)
{
	struct fx *f = *state;
	const struct step steps[] = {
	    {.t = 0, .op = POLL, .arg = G_ALARM, .out = "read", .res = "full 7"},
	    {
		.t = 0,
		.op = REFUSE,
		.arg = 11,
		.v = 2,
	    },
	    {
		.t = 0,
		.op = SET,
		.arg = 4,
		.v = 25,
	    },
	    {.t = 10000,
	     .op = POLL,
	     .arg = G_ANALOG,
	     .out = "read",
	     .ev = "split input 10+2 at 11; refused input 11+1 (2)",
	     .res = "2",
	     .q = "temp=good:25 hum=config_error state=good",
	     .h = "exception=2 failures=0 timeout=0",
	     .hold = NOT_HELD},
	    /* Still refused, but not asked again before its retry time: no new event. */
	    {.t = 20000,
	     .op = POLL,
	     .arg = G_ANALOG,
	     .out = "read",
	     .ev = "",
	     .q = "hum=config_error",
	     .h = "exception=2"},
	    {.t = 50000, .op = POLL, .arg = G_ALARM, .out = "read"},
	    {.t = 50000, .op = POLL, .arg = G_ZONES, .out = "read"},
	    {.t = 50000, .op = POLL, .arg = G_DETAIL, .out = "skip"},
	    {
		.t = 0,
		.op = REFUSE,
		.arg = 0,
		.v = 0,
	    },
	    {.t = 60000,
	     .op = POLL,
	     .arg = G_ANALOG,
	     .out = "read",
	     .ev = "",
	     .q = "hum=config_error",
	     .h = "exception=2"},
	    {.t = 70000,
	     .op = POLL,
	     .arg = G_ANALOG,
	     .out = "read",
	     .ev = "",
	     .res = "1",
	     .q = "hum=good:0 temp=good:25",
	     .h = "exception=2"},
	    {.op = END},
	};
	run(f, steps);
}

/* A group not read within two intervals and the bus timeout goes stale, polled or
 * not, and good again when it is read. */
static void test_stale_and_recovery(void **state)
{
	struct fx *f = *state;
	const struct step steps[] = {
	    {.t = 0, .op = POLL, .arg = G_ALARM, .out = "read", .res = "full 7"},
	    {.t = 40000, .op = POLL, .arg = G_ALARM, .out = "read", .ev = "", .q = ALL_GOOD},
	    /* The details are kept current by their change counter; the zones, holding a
	     * fire point, are read anyway (fire_refresh_ms). */
	    {.t = 40000, .op = POLL, .arg = G_ZONES, .out = "read", .ev = "", .h = "skipped=0"},
	    {.t = 40000, .op = POLL, .arg = G_DETAIL, .out = "skip", .ev = "", .h = "skipped=1"},
	    /* 2 x 10 s + 60 s after the analog group was read. */
	    {.t = 80000, .op = STALE, .ev = "", .res = "-"},
	    {.t = 80001,
	     .op = STALE,
	     .ev = "stale analog",
	     .res = "2",
	     .q = "temp=stale hum=stale state=good fire=good"},
	    {.t = 80100, .op = STALE, .ev = "", .res = "-"},
	    {.t = 81000,
	     .op = POLL,
	     .arg = G_ANALOG,
	     .out = "read",
	     .ev = "fresh analog",
	     .res = "2",
	     .q = "temp=good hum=good"},
	    /* The alarm group, polled every 100 ms, starved. */
	    {.t = 100200, .op = STALE, .ev = "", .res = "-"},
	    {.t = 100201,
	     .op = STALE,
	     .ev = "stale alarm",
	     .res = "3",
	     .q = "state=stale life=stale changes=stale temp=good fire=good"},
	    {.t = 100250,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "read",
	     .ev = "fresh alarm",
	     .res = "3",
	     .q = ALL_GOOD},
	    {.op = END},
	};
	run(f, steps);
}

/* A change counter that stands still: its groups are skipped; one that moves: they are
 * read now; one that jumps: the changes not seen are counted. A group holding a fire
 * point is read at least every fire_refresh_ms (5 s) whatever the counter says; one
 * without waits for its refresh_ms (60 s). */
static void test_change_counter_and_fire_refresh(void **state)
{
	struct fx *f = *state;
	const struct step steps[] = {
	    {.t = 0,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "read",
	     .res = "full 7",
	     .due = "zones detail"},
	    {.t = 1000, .op = POLL, .arg = G_ZONES, .out = "skip", .h = "skipped=1 polls=4"},
	    {.t = 1000, .op = POLL, .arg = G_DETAIL, .out = "skip", .h = "skipped=2"},
	    {.t = 2000, .op = POLL, .arg = G_ZONES, .out = "skip"},
	    {.t = 3000, .op = POLL, .arg = G_ZONES, .out = "skip"},
	    /* 4 s + 1.5 intervals past the last read would be past 5 s: read now. */
	    {
		.t = 0,
		.op = SET,
		.arg = 3,
		.v = 1,
	    },
	    {.t = 4000,
	     .op = POLL,
	     .arg = G_ZONES,
	     .out = "read",
	     .res = "1",
	     .q = "fire=good:1",
	     .h = "skipped=4 polls=5"},
	    {.t = 4000, .op = POLL, .arg = G_DETAIL, .out = "skip", .h = "skipped=5"},
	    {.t = 5000, .op = POLL, .arg = G_ZONES, .out = "skip"},
	    {.t = 7000, .op = POLL, .arg = G_ZONES, .out = "skip"},
	    {.t = 8000, .op = POLL, .arg = G_ZONES, .out = "read"},
	    {.t = 30000, .op = POLL, .arg = G_DETAIL, .out = "skip"},
	    /* The counter moves: both groups it gates are due now, and read. */
	    {
		.t = 0,
		.op = SET,
		.arg = 2,
		.v = 1,
	    },
	    {
		.t = 0,
		.op = SET,
		.arg = 6,
		.v = 9,
	    },
	    {.t = 30100,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "read",
	     .ev = "",
	     .due = "zones detail"},
	    {
		.t = 30100,
		.op = POLL,
		.arg = G_DETAIL,
		.out = "read",
		.res = "1",
		.q = "valve=good:9 changes=good:1",
	    },
	    {.t = 30100, .op = POLL, .arg = G_ZONES, .out = "read"},
	    {.t = 31100, .op = POLL, .arg = G_DETAIL, .out = "skip"},
	    /* A jump of 3: two changes not seen. */
	    {
		.t = 0,
		.op = SET,
		.arg = 2,
		.v = 4,
	    },
	    {.t = 31200,
	     .op = POLL,
	     .arg = G_ALARM,
	     .out = "read",
	     .ev = "missed changes 3",
	     .due = "zones detail",
	     .h = "missed=2"},
	    {.op = END},
	};
	run(f, steps);
}

/* Without fire_refresh_ms the zones wait for the group's own refresh_ms. */
static void test_no_fire_refresh(void **state)
{
	struct fx *f = *state;
	const struct step steps[] = {
	    {.t = 0, .op = POLL, .arg = G_ALARM, .out = "read", .res = "full 7"},
	    {.t = 4000, .op = POLL, .arg = G_ZONES, .out = "skip"},
	    {.t = 9000, .op = POLL, .arg = G_ZONES, .out = "skip"},
	    {.t = 58000, .op = POLL, .arg = G_ZONES, .out = "skip"},
	    {.t = 58500, .op = POLL, .arg = G_ZONES, .out = "read"},
	    {.op = END},
	};
	assert_int_equal(ds_group_interval(f->ds, G_ZONES), 1000 * 1000);
	run(f, steps);
}

/* The fire group's interval is capped by fire_refresh_ms. */
static void test_fire_interval_capped(void **state)
{
	struct fx *f = *state;
	f->dev.fire_refresh_ms = 300;
	assert_int_equal(ds_set_layout(f->ds, f->lay, f->n), 0);
	assert_int_equal(ds_group_interval(f->ds, G_ZONES), 300 * 1000);
	assert_int_equal(ds_group_interval(f->ds, G_DETAIL), 1000 * 1000);
	assert_int_equal(ds_group_interval(f->ds, G_ALARM), 100 * 1000);
	assert_false(ds_group_has_points(f->ds, G_DEFAULT));
	assert_true(ds_group_has_points(f->ds, G_ZONES));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_good_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_timeouts_offline_backoff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_lost_unreachable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exception_config_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_and_recovery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_change_counter_and_fire_refresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_fire_refresh, setup_no_fire_refresh, teardown),
	    cmocka_unit_test_setup_teardown(test_fire_interval_capped, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The cost of the inspection scheduler (inspect/insp_sched.c) with many plans: time per
 * tick and memory, over a simulated week ticked every 60 s (inspections.tick_s' default)
 * with an injected clock. Plans are a mix of the kinds and recurrences a hall has (patrols
 * every 2 h while open, daily checks at fixed times, 30-day function tests, monthly fire
 * checks), each with 1 to 3 targets; every task that becomes DUE is completed at once, as
 * a runner would. With --store DIR each transition is also written to a store in
 * DIR/hallwatch.db as the daemon does (one transaction per tick).
 * Usage: hw-bench-sched [PLANS (1000)] [DAYS (7)] [--store DIR] */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inspect/insp_sched.h"
#include "inspect/insp_store.h"

#define MIN_MS 60000LL
#define DAY_MS (24 * 60 * MIN_MS)
#define NOV (1793462400000LL) /* 2026-11-01T00:00:00+08:00 */

struct bench {
	struct insp_store *store;
	uint64_t events, records;
};

static void on_emit(const struct insp_ev *ev, void *ud)
{
	struct bench *b = ud;

	b->events++;
	if (!b->store)
		return;
	insp_store_put_task(b->store, ev->t);
	if (insp_state_final(ev->t->state) && ev->from != ev->to) {
		insp_store_add_record(b->store, ev->t->id, ev->t->plan, ev->t->target, ev->t->kind,
				      ev->t->done_ms, insp_state_name(ev->t->state), "", NULL,
				      NULL);
		b->records++;
	}
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int n_plans = 1000, days = 7;
	const char *dir = NULL;
	struct bench b = {0};
	struct cfg_calendar cal = {0};
	GTimeZone *tz = g_time_zone_new_identifier("Asia/Shanghai");
	struct cfg_plan *plans;
	char **targets;
	struct insp_sched *s;
	long rss0, rss1;
	double *tick_s, total = 0;
	size_t n_ticks, live_max = 0;
	const struct insp_task **v;
	char(*ids)[INSP_ID_MAX];
	int pos = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (pos++ == 0)
			n_plans = atoi(argv[i]);
		else
			days = atoi(argv[i]);
	}
	if (n_plans < 1 || days < 1) {
		fprintf(stderr, "usage: hw-bench-sched [PLANS] [DAYS] [--store DIR]\n");
		return 2;
	}
	for (int wd = 1; wd <= 6; wd++) {
		cal.open_min[wd] = 9 * 60;
		cal.close_min[wd] = 18 * 60;
	}
	cal.open_min[0] = -1;
	if (dir) {
		char *p = g_build_filename(dir, "hallwatch.db", NULL);
		if (insp_store_open(p, &b.store) < 0) {
			fprintf(stderr, "cannot open %s\n", p);
			return 1;
		}
		g_free(p);
	}
	rss0 = rss_kb();
	plans = g_new0(struct cfg_plan, n_plans);
	targets = g_new0(char *, 3 * (size_t)n_plans);
	for (int i = 0; i < n_plans; i++) {
		struct cfg_plan *p = &plans[i];
		size_t nt = 1 + (size_t)(i % 3);

		p->id = g_strdup_printf("plan%04d", i);
		p->targets = &targets[3 * i];
		for (size_t k = 0; k < nt; k++)
			p->targets[k] = g_strdup_printf("t%04d_%zu", i, k);
		p->n_targets = nt;
		p->start_ms = -1;
		p->priority = 4;
		p->window_s = 1800;
		p->grace_s = 1800;
		switch (i % 4) {
		case 0: /* a patrol every 2 h while open */
			p->kind = i % 8 ? INSP_VIDEO_PATROL : INSP_STAFF_PATROL;
			p->recur = RECUR_EVERY;
			p->every_s = 7200;
			p->when = WHEN_OPEN;
			break;
		case 1: /* daily checks at fixed times */
			p->kind = INSP_STAFF_PATROL;
			p->recur = RECUR_TIMES;
			p->at_min[0] = 9 * 60 + 30;
			p->at_min[1] = 14 * 60;
			p->n_at = 2;
			break;
		case 2: /* a function test every 30 days, staggered */
			p->kind = INSP_FUNCTION_TEST;
			p->recur = RECUR_DAYS;
			p->days = 30;
			p->stagger_s = 600;
			p->window_s = 2 * 86400;
			break;
		default: /* a monthly fire check */
			p->kind = INSP_FIRE_CHECK;
			p->recur = RECUR_MONTHLY;
			p->day = 1 + i % 28;
			p->window_s = 86400;
			break;
		}
	}
	if (insp_sched_create(plans, (size_t)n_plans, &cal, tz, on_emit, NULL, &b, &s) < 0) {
		fprintf(stderr, "cannot create the scheduler\n");
		return 1;
	}
	n_ticks = (size_t)days * 24 * 60;
	tick_s = g_new0(double, n_ticks);
	v = g_new0(const struct insp_task *, 4 * (size_t)n_plans);
	ids = g_malloc0(sizeof(*ids) * 4 * (size_t)n_plans);
	for (size_t k = 0; k < n_ticks; k++) {
		int64_t t = NOV + (int64_t)k * MIN_MS;
		size_t n, m = 0;
		double t0 = now_s();

		if (b.store)
			insp_store_begin(b.store);
		insp_sched_tick(s, t);
		n = insp_sched_list(s, v, 4 * (size_t)n_plans);
		live_max = MAX(live_max, n);
		n = MIN(n, 4 * (size_t)n_plans);
		for (size_t i = 0; i < n; i++)
			if (v[i]->state == IS_DUE)
				g_strlcpy(ids[m++], v[i]->id, INSP_ID_MAX);
		for (size_t i = 0; i < m; i++)
			insp_sched_complete(s, ids[i], true, "bench", "", t);
		if (b.store)
			insp_store_commit(b.store);
		tick_s[k] = now_s() - t0;
		total += tick_s[k];
	}
	rss1 = rss_kb();
	qsort(tick_s, n_ticks, sizeof(*tick_s), cmp_d);
	{
		size_t nt = 0;
		for (int i = 0; i < n_plans; i++)
			nt += plans[i].n_targets;
		printf("plans %d, targets %zu, %d simulated days, %zu ticks of 60 s%s\n", n_plans,
		       nt, days, n_ticks, dir ? ", with the store" : "");
	}
	printf("transitions %" G_GUINT64_FORMAT ", records %" G_GUINT64_FORMAT
	       ", live tasks at most %zu\n",
	       b.events, b.records, live_max);
	printf("tick: mean %.3f ms, median %.3f ms, p99 %.3f ms, max %.3f ms\n",
	       1e3 * total / (double)n_ticks, 1e3 * tick_s[n_ticks / 2],
	       1e3 * tick_s[n_ticks * 99 / 100], 1e3 * tick_s[n_ticks - 1]);
	printf("RSS: %ld kB before the plans, %ld kB after (+%ld kB)\n", rss0, rss1, rss1 - rss0);
	insp_sched_destroy(s);
	insp_store_close(b.store);
	for (int i = 0; i < n_plans; i++) {
		for (size_t k = 0; k < plans[i].n_targets; k++)
			g_free(plans[i].targets[k]);
		g_free(plans[i].id);
	}
	g_free(plans);
	g_free(targets);
	g_free(tick_s);
	g_free(v);
	g_free(ids);
	g_time_zone_unref(tz);
	return 0;
}

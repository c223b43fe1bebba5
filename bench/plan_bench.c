/* Requests per poll cycle for every shipped profile: hallwatch's read plan against one
 * request per point (how per-point pollers such as node-red-contrib-modbus flows or a
 * Telegraf config with one field per request read a device), every block at its
 * largest count. Pure computation: no device involved.
 * Usage: hw-bench-plan PROFILE.cfg... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/layout.h"
#include "devices/plan.h"
#include "core/config.h"

static size_t plan_count(const struct profile *p, const struct mb_lpoint *v, size_t n, int group,
			 int max_gap, size_t *points)
{
	struct mb_span *spans = calloc(n ? n : 1, sizeof(*spans)), *out = NULL;
	struct mb_plan_limits lim = {
	    .max_regs = 125, .max_bits = 2000, .max_gap = (uint16_t)max_gap};
	size_t ns = 0, nout = 0;

	(void)p;
	for (size_t i = 0; i < n; i++) {
		if (v[i].group != group || v[i].unreadable)
			continue;
		spans[ns++] = (struct mb_span){v[i].def->table, (uint16_t)v[i].address,
					       (uint16_t)prof_point_width(v[i].def)};
	}
	*points = ns;
	if (mb_plan_build(spans, ns, &lim, &out, &nout) < 0)
		nout = 0;
	free(spans);
	free(out);
	return nout;
}

int main(int argc, char **argv)
{
	printf(
	    "| profile | group | interval | points | one request per point | hallwatch, max_gap 0 "
	    "| hallwatch, max_gap 8 |\n|---|---|---|---|---|---|---|\n");
	for (int a = 1; a < argc; a++) {
		struct cfg_errors errs = {0};
		struct profile *p = NULL;
		if (profile_load(argv[a], &p, &errs) < 0) {
			for (size_t i = 0; i < errs.n; i++)
				fprintf(stderr, "%s\n", errs.msgs[i]);
			return 1;
		}
		int counts[64] = {0};
		for (size_t b = 0; b < p->n_blocks && b < 64; b++)
			counts[b] = p->blocks[b].max_count;
		struct mb_lpoint *v = NULL;
		size_t n = 0;
		mb_layout_build(p, counts, 0, &v, &n);
		size_t tp = 0, t0 = 0, t8 = 0;
		for (int g = -1; g < (int)p->n_groups; g++) {
			size_t pts, r0 = plan_count(p, v, n, g, 0, &pts),
				    r8 = plan_count(p, v, n, g, 8, &pts);
			if (!pts)
				continue;
			char iv[32] = "device's";
			if (g >= 0)
				snprintf(iv, sizeof(iv), "%d ms", p->groups[g].interval_ms);
			printf("| %s | %s | %s | %zu | %zu | %zu | %zu |\n", p->name,
			       g < 0 ? "(none)" : p->groups[g].name, iv, pts, pts, r0, r8);
			tp += pts;
			t0 += r0;
			t8 += r8;
		}
		printf("| **%s** | all | | %zu | %zu | %zu (%.0fx fewer) | %zu (%.0fx fewer) |\n",
		       p->name, tp, tp, t0, t0 ? (double)tp / t0 : 0, t8, t8 ? (double)tp / t8 : 0);
		free(v);
		profile_free(p);
		cfg_errors_clear(&errs);
	}
	return 0;
}

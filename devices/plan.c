/* Read planning: merges the spans a device needs into the fewest Modbus requests
 * within its limits, and halves a request a device refused. Pure, no I/O; any thread
 * (in practice the bus workers when they build or rebuild a device's plan). */
#include "devices/plan.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

static int span_cmp(const void *a, const void *b)
{
	const struct mb_span *x = a, *y = b;

	if (x->table != y->table)
		return x->table < y->table ? -1 : 1;
	if (x->address != y->address)
		return x->address < y->address ? -1 : 1;
	/* The widest span first, so that the narrower ones at its address are covered. */
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return 0;
}

static bool is_bit_table(enum mb_table t)
{
	return t == MB_COIL || t == MB_DISCRETE;
}

static unsigned table_limit(const struct mb_plan_limits *lim, enum mb_table t)
{
	return is_bit_table(t) ? lim->max_bits : lim->max_regs;
}

static bool table_valid(enum mb_table t)
{
	return t == MB_COIL || t == MB_DISCRETE || t == MB_INPUT || t == MB_HOLDING;
}

static void emit(struct mb_span *out, size_t *n, enum mb_table t, unsigned start, unsigned end)
{
	out[*n].table = t;
	out[*n].address = (uint16_t)start;
	out[*n].count = (uint16_t)(end - start);
	(*n)++;
}

/*
 * Greedy by address: a request grows while the next span starts within max_gap of
 * its end and the whole stays within the limit; otherwise it is closed and the span
 * opens the next one. A span no wider than the limit is never split, so it always
 * lies within one request. For such spans this is optimal: the first request of any
 * plan cannot hold more of the sorted spans than the greedy one does.
 */
/* True when reading [from, to) of table would touch an address the device forbids. */
static bool touches_avoid(const struct mb_plan_limits *lim, enum mb_table t, unsigned from,
			  unsigned to)
{
	for (size_t i = 0; i < lim->n_avoid; i++) {
		const struct mb_span *a = &lim->avoid[i];
		if (a->table == t && from < (unsigned)a->address + a->count && a->address < to)
			return true;
	}
	return false;
}

int mb_plan_build(const struct mb_span *spans, size_t n, const struct mb_plan_limits *lim,
		  struct mb_span **out, size_t *n_out)
{
	struct mb_span *sorted = NULL, *res = NULL, *shrunk;
	size_t cap = 0, nres = 0;
	bool open = false;
	enum mb_table table = MB_COIL;
	unsigned start = 0, end = 0;	     /* the open request */
	unsigned covered = 0;		     /* end of everything planned in this table */
	unsigned big_start = 0, big_end = 0; /* the last span split at the limit */
	int rc = 0;

	if (!out || !n_out || !lim || (n && !spans))
		return -EINVAL;
	*out = NULL;
	*n_out = 0;
	if (lim->max_regs < 1 || lim->max_regs > 125 || lim->max_bits < 1 || lim->max_bits > 2000)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned l;

		if (!table_valid(spans[i].table) || spans[i].count == 0 ||
		    (unsigned)spans[i].address + spans[i].count > 65536u)
			return -EINVAL;
		l = table_limit(lim, spans[i].table);
		cap += (spans[i].count + l - 1) / l;
	}
	if (n == 0)
		return 0;

	sorted = malloc(n * sizeof(*sorted));
	res = malloc(cap * sizeof(*res));
	if (!sorted || !res) {
		rc = -ENOMEM;
		goto err_free;
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = spans[i];
	qsort(sorted, n, sizeof(*sorted), span_cmp);

	for (size_t i = 0; i < n; i++) {
		const struct mb_span *s = &sorted[i];
		unsigned a = s->address, e = a + s->count;
		unsigned limit = table_limit(lim, s->table);

		if (s->table != table || i == 0) {
			if (open)
				emit(res, &nres, table, start, end);
			open = false;
			table = s->table;
			covered = 0;
			big_start = big_end = 0;
		}

		if (e <= covered) {
			/* Already read, unless it straddles two chunks of a split span. */
			bool straddles = a >= big_start && e <= big_end &&
					 (a - big_start) / limit != (e - 1 - big_start) / limit;

			if (!straddles)
				continue;
		}

		if (s->count > limit) {
			if (open)
				emit(res, &nres, table, start, end);
			open = false;
			for (unsigned c = a; c < e; c += limit)
				emit(res, &nres, table, c, c + limit < e ? c + limit : e);
			big_start = a;
			big_end = e;
		} else if (open && a <= end + lim->max_gap &&
			   (e > end ? e : end) - start <= limit &&
			   (a <= end || !touches_avoid(lim, table, end, a))) {
			if (e > end)
				end = e;
		} else {
			if (open)
				emit(res, &nres, table, start, end);
			open = true;
			start = a;
			end = e;
		}
		if (e > covered)
			covered = e;
	}
	if (open)
		emit(res, &nres, table, start, end);
	free(sorted);

	/* Chunks of a split span may precede requests opened inside it. */
	qsort(res, nres, sizeof(*res), span_cmp);
	shrunk = realloc(res, nres * sizeof(*res));
	if (shrunk)
		res = shrunk;
	*out = res;
	*n_out = nres;
	return 0;

err_free:
	free(res);
	free(sorted);
	return rc;
}

int mb_plan_split(const struct mb_span *req, struct mb_span out[2])
{
	uint16_t first;

	if (!req || !out || req->count < 2)
		return -EINVAL;
	first = (uint16_t)((req->count + 1) / 2);
	out[0].table = req->table;
	out[0].address = req->address;
	out[0].count = first;
	out[1].table = req->table;
	out[1].address = (uint16_t)(req->address + first);
	out[1].count = (uint16_t)(req->count - first);
	return 0;
}

/* The monthly report of a hall (docs/inspections.md, "Monthly report"): the month's
 * records, tickets and camera figures in; one self-contained printable HTML page (inline
 * CSS and SVG, no script, no external asset) and a CSV of the same numbers out.
 *
 * Pure: no I/O, no globals, no clock (the caller passes when it was made). Any thread. */
#ifndef HW_REPORT_H
#define HW_REPORT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inspect/insp_store.h"

/* The local month "YYYY-MM" in tz as [from_ms, to_ms). -EINVAL for anything else. */
int report_month_range(const char *month, GTimeZone *tz, int64_t *from_ms, int64_t *to_ms);

/* A camera's down/up changes (an offline or video-loss alert raised / cleared) in time
 * order. */
struct report_flip {
	int64_t t_ms;
	bool down;
};
/* The share (0..1) of [from_ms, until_ms) during which the camera was up, given whether
 * it was down at from_ms and its flips (those outside the range are skipped); 1 for an
 * empty range. */
double report_online_share(bool down_at_start, const struct report_flip *v, size_t n,
			   int64_t from_ms, int64_t until_ms);

struct report_camera {
	const char *id, *name;
	double online_share; /* 0..1, < 0: unknown */
	int64_t oldest_ms;   /* the oldest recorded segment's start, 0: none */
	int retention_days;  /* required; 0: not recorded, nothing owed */
};

struct report_in {
	const char *site;  /* id */
	const char *month; /* "YYYY-MM" */
	bool zh;	   /* the site's language: zh, else en */
	GTimeZone *tz;	   /* transfer none */
	int64_t from_ms, to_ms;
	int64_t made_ms;		/* when: footage age and "until" of an unfinished month */
	const struct insp_record *recs; /* of the month (t_ms in range) */
	size_t n_recs;
	const struct ticket *tickets; /* alive in the month (insp_store_list_tickets) */
	size_t n_tickets;
	const struct report_camera *cams;
	size_t n_cams;
};

/* Figures the page and the CSV both show (for the caller and the tests). */
struct report_sums {
	uint64_t due, done, passed, failed, missed, cancelled; /* patrols and checks */
	uint64_t tests_passed, tests_failed, tests_missed;
	uint64_t opened, closed, still_open;
	int64_t repair_median_ms, repair_max_ms; /* of those closed in the month; -1: none */
	uint64_t reviewed, accepted, rejected;
};

/* Appends the HTML page to html and the CSV (section,item,period,metric,value) to csv;
 * sums (may be NULL) gets the totals. Returns 0 or -EINVAL (no month). */
int report_build(const struct report_in *in, GString *html, GString *csv, struct report_sums *sums);

#endif

/* The inspectors' verbs over the inspection store (docs/inspections.md, "Records for
 * inspectors"): cmd/records (viewer) lists and filters records, cmd/review (inspector)
 * gives one a verdict, logged as {"event":"review",...}; cmd/tickets (viewer) lists
 * tickets with their transitions; cmd/report (viewer) writes the monthly report
 * (inspect/report.h) under <state_dir>/reports/ and names its files.
 *
 * Main loop thread only. */
#ifndef HW_GATEWAY_RECORDS_H
#define HW_GATEWAY_RECORDS_H

#include <stdint.h>

#include "alerts/service.h"
#include "core/config.h"
#include "inspect/insp_store.h"
#include "router/router.h"

struct records;

/* cfg, store and alerts (transfer none; alerts may be NULL) must outlive it. */
int records_create(const struct hw_config *cfg, struct insp_store *store,
		   struct alert_service *alerts, struct records **out);
void records_destroy(struct records *r); /* accepts NULL */
/* Registers records, tickets, report (viewer) and review (inspector) with rt. */
int records_attach_router(struct records *r, struct router *rt);

/* Writes <state_dir>/reports/report-<month>.html and .csv as of now_ms; *html and *csv
 * (g_free) get their paths. -EINVAL (month not YYYY-MM), -errno of the store or files. */
int records_report(struct records *r, const char *month, int64_t now_ms, char **html, char **csv);

#endif

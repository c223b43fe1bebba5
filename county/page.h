/* The county page (docs/county.md, "The page"; docs/http.md, "The county's API"): the
 * hall console's web server (web/server.h, web/auth.h) on the county's main loop, with
 * accounts and roles of its own (county.http), serving the picture of every hall, a live
 * alarm feed over WebSocket, a hall's detail, the month's ranking and the surprise video
 * patrol an operator starts at a hall. Main loop thread only. */
#ifndef HW_COUNTY_PAGE_H
#define HW_COUNTY_PAGE_H

#include "county/ccfg.h"
#include "county/county.h"

struct county_page;

/* Listens on cfg->http (bind, port, TLS) when cfg->http.enabled; *out is NULL otherwise.
 * c and cfg (transfer none) must outlive the page. Returns 0 or -errno. */
int county_page_create(const struct county_cfg *cfg, struct county *c, struct county_page **out);
void county_page_destroy(struct county_page *p); /* accepts NULL */
int county_page_port(const struct county_page *p);

#endif

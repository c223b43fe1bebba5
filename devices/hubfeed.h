/* The Modbus source's side of the hub: a bus's poll result turned into the hub's device
 * update (hub/hub.h), so that the hub knows nothing of Modbus. Main loop thread (the
 * hub's). */
#ifndef HW_HUBFEED_H
#define HW_HUBFEED_H

#include "devices/bus.h"
#include "hub/hub.h"

/* Applies r to its device in h (r stays the caller's). The layout goes along only when
 * the device's layout in the hub is not r's already; samples meant for a layout the hub
 * has not seen (a delta ahead of its full result) are left out, the next full result
 * brings them. Returns 0, or -ENOMEM (nothing applied, logged). */
int mb_hubfeed_apply(struct hub *h, const struct mb_poll_result *r);

#endif

/* The emergency-lighting test runner (docs/inspections.md, "Emergency-lighting tests"):
 * function_test and duration_test tasks whose targets are controllers with a `tests`
 * section in their profile. It tells the inspection service the preconditions of a target
 * (mains_ok from the controller, no_fire from every fire point of the hub,
 * battery_recharged from the last duration test), starts a due test with the profile's
 * command through the device's bus (one test at a time per controller), follows it through
 * the hub's points, reads the result back (a duration test that did not last the rated time
 * fails) and completes the task; a failure or a failed luminaire opens an "el_test" ticket
 * (one per controller while open); a controller silent until the deadline fails it as
 * interrupted. A self-testing controller is only checked: a test in
 * the period passes the task, none leaves it to go OVERDUE and MISSED (with their alerts).
 * After a restart a task IN_PROGRESS is followed again, never started twice.
 *
 * Main loop thread only. */
#ifndef HW_GATEWAY_ELTEST_H
#define HW_GATEWAY_ELTEST_H

#include <stddef.h>

#include "core/config.h"
#include "gateway/inspections.h"
#include "hub/hub.h"

struct eltest;

/* Queues profile command `command` for cfg->devices[device_index] on its bus, asked for by
 * `who`: 0 when queued, or -errno (mb_bus_command's returns; -ENODEV without a bus). */
typedef int (*eltest_send_fn)(size_t device_index, const char *command, const char *who, void *ud);

/* Registers the runner and the conditions with insp and starts following. cfg, insp and
 * hub (transfer none) must outlive it. Returns 0 or -ENOMEM. */
int eltest_create(const struct hw_config *cfg, struct insp_service *insp, struct hub *hub,
		  eltest_send_fn send, void *ud, struct eltest **out);
/* Unregisters and stops following (a test still running is followed again by the next
 * runner, from its task IN_PROGRESS). Accepts NULL. */
void eltest_destroy(struct eltest *e);

#endif

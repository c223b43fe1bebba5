/* The inspection service: the daemon's wiring of the pure scheduler and tickets
 * (inspect/) to the store, the alert service, MQTT, the line protocol and the command
 * router (docs/inspections.md).
 *
 * Every inspections.tick_s (and once at start, catching up after downtime) it runs the
 * scheduler; each task transition is stored (insp_task; a final one also as an
 * insp_record), goes into the events log ({"event":"inspection",...}), moves the alerts
 * inspection.<plan>.overdue / .missed (priority of the plan, P4 by default), and
 * inspection/<plan> is published retained. Tickets (insp_service_open_ticket,
 * insp_service_ticket and cmd/ticket) are stored with every transition, logged as events
 * ({"event":"ticket",...}); one past its deadline raises ticket.<id>.overdue.
 *
 * Runners (a video patrol, an emergency-lighting test, a person through cmd/task) call
 * insp_service_start / _complete / _postpone; a runner registered for a kind is offered
 * every DUE or OVERDUE task of that kind after each tick.
 *
 * Its times (ticks, tasks, records, tickets) are core/clock.h's hw_clock_ms(): the real
 * time, or a test clock in a gateway started with HALLWATCH_TEST_CLOCK.
 *
 * Main loop thread only. */
#ifndef HW_GATEWAY_INSPECTIONS_H
#define HW_GATEWAY_INSPECTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "alerts/service.h"
#include "core/config.h"
#include "inspect/insp_sched.h"
#include "inspect/ticket.h"
#include "outputs/influx.h"
#include "outputs/mqtt.h"
#include "router/router.h"

struct insp_service;

/* Opens the store in <state_dir>/hallwatch.db, restores the tasks and open tickets, runs
 * the first tick and arms the timer. cfg, alerts, m and ix (transfer none; m and ix may be
 * NULL) must outlive the service. Returns 0 or -errno. */
int insp_service_create(const struct hw_config *cfg, struct alert_service *alerts, struct mqtt *m,
			struct influx *ix, struct insp_service **out);
/* Stops the timer and closes the store. Accepts NULL. */
void insp_service_destroy(struct insp_service *s);
/* Registers cmd/tasks (viewer), cmd/task and cmd/ticket (operator), cmd/clock (admin: moves
 * the test clock of core/clock.h, refused unless the gateway runs on one) with r, and the
 * inspectors' verbs of gateway/records.h (records, tickets, report, review). */
int insp_service_attach_router(struct insp_service *s, struct router *r);

/* The preconditions that hold for a plan's target (mains_ok, no_fire, battery_recharged;
 * docs/inspections.md). Without one, they all hold. */
void insp_service_set_conditions(struct insp_service *s, insp_cond_fn fn, void *ud);
/* A runner of kind (enum cfg_insp_kind): fn is called after each tick with every DUE or
 * OVERDUE task of that kind (transfer none); it starts the task (insp_service_start) when
 * it takes it. NULL removes it. */
typedef void (*insp_runner_fn)(struct insp_service *s, const struct insp_task *t, void *ud);
void insp_service_set_runner(struct insp_service *s, int kind, insp_runner_fn fn, void *ud);

/* Runs the scheduler now (what the timer does). */
void insp_service_tick(struct insp_service *s);

/* The scheduler's actions (insp_sched.h: same returns), stored, published and alerted.
 * complete's details (may be NULL; a JSON object's text) are kept in the record. */
int insp_service_start(struct insp_service *s, const char *task_id, const char *by);
int insp_service_complete(struct insp_service *s, const char *task_id, bool passed, const char *by,
			  const char *note, const char *details);
int insp_service_postpone(struct insp_service *s, const char *task_id, int64_t until_ms,
			  const char *reason, const char *by);
int insp_service_cancel(struct insp_service *s, const char *task_id, const char *reason,
			const char *by);
int insp_service_run_now(struct insp_service *s, const char *plan, const char *target,
			 const char *by, char *id_out);
/* Every live task (not over), oldest due first, into v (transfer none, valid until the next
 * call); returns how many there are (more than max: only max written). */
size_t insp_service_list(struct insp_service *s, const struct insp_task **v, size_t max);
/* The live task (transfer none, valid until the next call), or NULL. */
const struct insp_task *insp_service_task(struct insp_service *s, const char *task_id);

/* Opens a ticket (deadline: inspections.camera_ticket_h for kind "camera", ticket_h
 * otherwise); id_out (TICKET_ID_MAX, may be NULL) gets its id. 0 or -errno. */
int insp_service_open_ticket(struct insp_service *s, const char *kind, const char *target,
			     const char *source, const char *text, const char *by, char *id_out);
/* Whether a ticket of kind for target is not closed; its id into id_out (TICKET_ID_MAX, may
 * be NULL). One ticket per finding while it is open. */
bool insp_service_find_ticket(struct insp_service *s, const char *kind, const char *target,
			      char *id_out);
/* Whether a ticket of kind for target is not closed; *out (may be NULL) gets a copy. */
bool insp_service_open_ticket_of(struct insp_service *s, const char *kind, const char *target,
				 struct ticket *out);
/* Moves ticket id (ticket_apply's returns, -ENOENT). */
int insp_service_ticket(struct insp_service *s, const char *id, enum ticket_action a,
			const char *by, const char *note, const char *assignee,
			enum ticket_recheck recheck);

#endif

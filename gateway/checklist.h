/* Checklists filled in by a person (docs/inspections.md, "Checklists"): the verb
 * cmd/checklist (operators, and the console's inspectors) completes a staff_patrol or
 * fire_check task whose plan names a checklist of inspections.checklists, with a result per
 * item (pass, fail, na), a note and who; the record keeps the items and the state of the
 * hall's fire panels at that moment (from the hub); an item that fails opens a "checklist"
 * ticket for that item (one while open). Main loop thread only. */
#ifndef HW_GATEWAY_CHECKLIST_H
#define HW_GATEWAY_CHECKLIST_H

#include "core/config.h"
#include "gateway/inspections.h"
#include "hub/hub.h"
#include "router/router.h"

struct checklist;

/* Registers cmd/checklist with r. cfg, insp, hub and r (transfer none) must outlive it.
 * Returns 0 or -errno. */
int checklist_create(const struct hw_config *cfg, struct insp_service *insp, struct hub *hub,
		     struct router *r, struct checklist **out);
void checklist_destroy(struct checklist *c); /* accepts NULL */

#endif

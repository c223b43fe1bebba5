/* Video patrols (docs/inspections.md, "Video patrols"): the runner of the inspection
 * service's video_patrol tasks. For each camera of a task's route it takes the camera's
 * health verdict from the hub, a key-frame JPEG and a clip around that moment (the plan's
 * clip_before_s .. clip_after_s, 5 s each by default) under <state_dir>/patrols/<task>/, the
 * recording continuity since the camera's previous patrol (the gaps in the recording index) and the
 * footage age kept against inspections.retention_required_days; then completes the task with that
 * record (passed when every camera passed), publishes it retained on patrol/<plan>/last, raises or
 * clears patrol.<camera>.failed and opens (or, after a passing patrol, re-checks and closes) the
 * camera's rectification ticket. cmd/patrol runs one now (a surprise inspection).
 *
 * The task's and the record's times are the inspection clock's (core/clock.h); the video
 * layer's (the clip's window, the continuity, the footage age) are the real time, so that a
 * test clock moved forward never shows to the recordings as a jump. In production they are
 * one reading of the same time.
 *
 * A task a previous run left IN_PROGRESS (the gateway was killed during it) is completed as
 * FAILED with the reason "interrupted" when the runner starts: recorded once, never run again.
 *
 * Main loop thread only. */
#ifndef HW_GATEWAY_PATROL_H
#define HW_GATEWAY_PATROL_H

#include "alerts/service.h"
#include "core/config.h"
#include "gateway/inspections.h"
#include "outputs/mqtt.h"
#include "router/router.h"

struct hub;
struct video;
struct patrol;

/* Registers the runner of INSP_VIDEO_PATROL with insp, completes the tasks left IN_PROGRESS
 * as interrupted and takes the tasks due now. Everything is borrowed (m, alerts may be NULL)
 * and must outlive the patrol. Returns 0 or -errno. */
int patrol_create(const struct hw_config *cfg, struct insp_service *insp, struct video *v,
		  struct hub *hub, struct alert_service *alerts, struct mqtt *m,
		  struct patrol **out);
/* Registers cmd/patrol (operator) with r. */
int patrol_attach_router(struct patrol *p, struct router *r);
/* Completes the patrols in flight as FAILED ("interrupted: the gateway stopped"), removes
 * the runner and frees; snapshots and clips still being made end on their own. Before the
 * inspection service and the video manager go. Accepts NULL. */
void patrol_destroy(struct patrol *p);

#endif

/* Encodings of the hub's state for the outputs: the JSON of device/<id>/state and
 * camera/<id>/state, the line-protocol lines of device_point, device_health and
 * camera_health. Pure functions of their arguments; called on the main loop thread. */
#ifndef HW_STATE_H
#define HW_STATE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "hub/hub.h"

/* The retained device state document (docs/mqtt.md). Returns a string the caller
 * frees with free(), or NULL on allocation failure. */
char *state_device_json(const struct hub_device *d, const char *site, uint64_t seq);

/* Appends a device_point line for every point (only_changed: those with changed set)
 * to buf. A point with quality good carries its value; any other quality carries the
 * quality alone, so a kept value is never written again as a fresh sample.
 * Returns the number of lines appended. */
size_t state_lp_points(GString *buf, const struct hub_device *d, const char *site,
		       bool only_changed, int64_t now_ms);

/* Appends the device_health line of d. */
void state_lp_health(GString *buf, const struct hub_device *d, const char *site, int64_t now_ms);

/* The retained camera state document (docs/mqtt.md, camera/<id>/state). Returns a string
 * the caller frees with free(), or NULL on allocation failure. */
char *state_camera_json(const struct hub_camera *c, const char *site, uint64_t seq);

/* Appends the camera_health line of c (docs/lineproto.md) to buf; now_ms is its time and
 * the clock recording_age_s is counted on. */
void state_lp_camera_health(GString *buf, const struct hub_camera *c, const char *site,
			    int64_t now_ms);

#endif

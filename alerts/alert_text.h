/* The sentence people read for an alert: what happened, where, on which device or camera, in
 * the site's language (site.language), from the names and locations of the configuration
 * and the labels of the profiles. Pure: no I/O, no state; any thread. */
#ifndef HW_ALERT_TEXT_H
#define HW_ALERT_TEXT_H

#include <stddef.h>

#include "alerts/engine.h"
#include "core/config.h"

/* Writes the message of a (its device, point, cond, from_rule and rule text) into buf, valid
 * UTF-8 cut at a character boundary when it does not fit. cfg (transfer none) may be NULL:
 * ids only, in Chinese. */
void alert_text_format(const struct hw_config *cfg, const struct alert *a, char *buf, size_t sz);

#endif

/* libFuzzer target: an alert as stored in alert_state (restored at every start). Any
 * input: no crash, and an alert that decodes encodes to JSON that decodes to the same. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alert_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *o = json_loadb((const char *)data, size, 0, NULL);
	struct alert a, b;

	if (o && alert_from_json(o, &a) == 0) {
		json_t *e1 = alert_to_json(&a, NULL, true), *e2;
		char *t1, *t2;

		if (alert_from_json(e1, &b) != 0)
			abort(); /* what we wrote, we read back */
		e2 = alert_to_json(&b, NULL, true);
		t1 = json_dumps(e1, JSON_COMPACT | JSON_SORT_KEYS);
		t2 = json_dumps(e2, JSON_COMPACT | JSON_SORT_KEYS);
		if (!t1 || !t2 || strcmp(t1, t2) != 0)
			abort();
		free(t1);
		free(t2);
		json_decref(e1);
		json_decref(e2);
	}
	json_decref(o);
	return 0;
}

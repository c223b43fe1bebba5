/* The alert verbs' own reading of a request: cmd/shelve's duration, checked without
 * overflow. Pure; any thread. */
#include "alerts/command.h"

#include <errno.h>

int alert_cmd_duration(const json_t *v, int64_t *ms)
{
	json_int_t s;

	if (json_is_string(v))
		return alert_parse_duration(json_string_value(v), ms);
	if (!json_is_integer(v))
		return -EINVAL;
	s = json_integer_value(v);
	if (s <= 0)
		return -EINVAL;
	if (s > ALERT_DURATION_MAX_MS / 1000)
		return -ERANGE;
	*ms = (int64_t)s * 1000;
	return 0;
}

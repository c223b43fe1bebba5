/* libFuzzer target: the time and duration parsers that read what people type
 * (`hallwatch clip FROM TO`, a shelve's "for"). Any input; no crash, no undefined
 * behaviour, and a parsed time is one a clip can be cut for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/engine.h"
#include "video/video.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	int64_t ms;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (video_parse_time(s, "UTC", &ms) == 0 && (ms < 0 || ms > VIDEO_TIME_MAX_S * 1000 + 999))
		abort(); /* a parsed time is in range */
	if (alert_parse_duration(s, &ms) == 0 && ms < 0)
		abort(); /* a duration is never negative */
	free(s);
	return 0;
}

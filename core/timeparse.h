/* Times as people and programs write them, for the command line and cmd/<verb>: seconds since
 * the epoch, ISO 8601 with an offset, and the site's local time without one. Pure but for the
 * time zone database (GLib's GTimeZone reads it); any thread. */
#ifndef HW_TIMEPARSE_H
#define HW_TIMEPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMEPARSE_MAX_S 253402300799LL /* 9999-12-31T23:59:59Z */

/* Parses s into ms since the epoch (0 .. TIMEPARSE_MAX_S s):
 * - seconds since the epoch, a fraction allowed: "1796292000", "1796292000.25";
 * - a date and time with an offset: "2026-12-03T10:00:00+08:00", "...Z", "+0800", "+08";
 * - a date and time without one, in the time zone tz: "2026-12-03T10:00:00",
 *   "2026-12-03 10:00", "2026-12-03 10:00:00.5".
 * The date and the time are separated by 'T' or one space; seconds and their fraction are
 * optional. tz is an IANA name ("Asia/Shanghai", "UTC"); NULL or "" is the machine's own (TZ,
 * else /etc/localtime). A local time that a DST change skips is taken after the change.
 * Returns 0 or -EINVAL (not such a time, out of range, or tz unknown). */
int timeparse(const char *s, const char *tz, int64_t *out_ms);

/* Whether tz names a time zone this machine knows (NULL and "" do: the machine's own). */
bool timeparse_tz_valid(const char *tz);

/* ms as "2026-12-03 10:00:00+08:00" in the time zone tz (as timeparse), into buf; returns
 * buf ("?" if it cannot be written). */
const char *timeparse_format(int64_t ms, const char *tz, char *buf, size_t sz);

/* The sentence that says which times timeparse takes, for error messages. */
#define TIMEPARSE_FORMATS                                                                          \
	"seconds since the epoch, YYYY-MM-DDTHH:MM[:SS] with Z or an offset such as +08:00, "      \
	"or YYYY-MM-DD HH:MM[:SS] in the site's time zone"

#endif

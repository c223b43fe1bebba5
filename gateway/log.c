/* Log lines to stderr. Owns the global level; any thread may log. */
#include "gateway/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int g_level = HW_LOG_INFO;

void hw_log_set_level(enum hw_log_level lvl)
{
	g_level = lvl;
}

int hw_log_parse_level(const char *s, enum hw_log_level *out)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum hw_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void hw_log(enum hw_log_level lvl, const char *tag, const char *fmt, ...)
{
	static const char *const lv[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	char buf[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	if ((int)lvl > g_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%03ldZ %-5s %s: ", ts.tv_nsec / 1000000,
			      lv[lvl], tag);
	va_start(ap, fmt);
	if (n < sizeof(buf))
		n += (size_t)vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n >= sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nowhere left to report it */
	}
}

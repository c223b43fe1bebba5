/* Log lines to stderr. Owns the global level and the one place where a message is made
 * safe to print (control characters escaped); any thread may log. */
#include "core/log.h"

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

size_t hw_log_escape(char *dst, size_t cap, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		char esc[8];
		size_t k = 0;

		if (c == '\n' || c == '\r' || c == '\t') {
			esc[k++] = '\\';
			esc[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f) {
			esc[k++] = '\\';
			esc[k++] = 'x';
			esc[k++] = hex[c >> 4];
			esc[k++] = hex[c & 15];
		} else if (c == 0xc2 && i + 1 < len && (unsigned char)src[i + 1] >= 0x80 &&
			   (unsigned char)src[i + 1] <= 0x9f) {
			/* U+0080..U+009F, the C1 controls (CSI is U+009B) in UTF-8 */
			c = (unsigned char)src[++i];
			memcpy(esc, "\\u00", 4);
			k = 4;
			esc[k++] = hex[c >> 4];
			esc[k++] = hex[c & 15];
		} else {
			esc[k++] = (char)c;
		}
		if (n + k >= cap)
			break; /* what does not fit in whole is cut */
		memcpy(dst + n, esc, k);
		n += k;
	}
	dst[n] = '\0';
	return n;
}

void hw_log(enum hw_log_level lvl, const char *tag, const char *fmt, ...)
{
	static const char *const lv[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	char msg[1024], buf[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int m;
	va_list ap;

	if ((int)lvl > g_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%03ldZ %-5s %s: ", ts.tv_nsec / 1000000,
			      lv[lvl], tag);
	va_start(ap, fmt);
	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	/* One message, one line: whatever a peer put in the text (a user name with a
	 * newline, an ANSI sequence) is printed escaped. */
	if (n < sizeof(buf) - 1)
		n += hw_log_escape(buf + n, sizeof(buf) - 1 - n, msg,
				   (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1);
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* nowhere left to report it */
	}
}

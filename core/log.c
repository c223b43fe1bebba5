/* Log lines to stderr. Owns the global level, the line format (terminal or journal, chosen
 * once by hw_log_init on the main thread), GLib's log writer and the one place where a
 * message is made safe to print (control characters escaped); any thread may log. */
#include "core/log.h"

#include <errno.h>
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile int g_level = HW_LOG_INFO;
/* Set once by hw_log_init before any other thread runs; read-only afterwards. */
static bool g_journal;

bool hw_log_is_journal(const char *journal_stream, int fd)
{
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (!journal_stream || !*journal_stream)
		return false;
	errno = 0;
	dev = strtoull(journal_stream, &end, 10);
	if (errno || end == journal_stream || *end != ':')
		return false;
	journal_stream = end + 1;
	ino = strtoull(journal_stream, &end, 10);
	if (errno || end == journal_stream || *end != '\0')
		return false;
	if (fstat(fd, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* GLib's messages (its own, GStreamer's, any library's on GLib) as hw_log lines, the log
 * domain as the tag. Debug and info ones only where G_MESSAGES_DEBUG asks for them, as
 * GLib's default writer does; fatal ones still abort, GLib sees to that. */
static GLogWriterOutput glib_writer(GLogLevelFlags flags, const GLogField *fields, gsize n,
				    gpointer user_data)
{
	const char *msg = NULL, *domain = NULL;
	enum hw_log_level lvl;

	for (gsize i = 0; i < n; i++) {
		if (strcmp(fields[i].key, "MESSAGE") == 0)
			msg = fields[i].value;
		else if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0)
			domain = fields[i].value;
	}
	if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		lvl = HW_LOG_ERR;
	else if (flags & G_LOG_LEVEL_WARNING)
		lvl = HW_LOG_WARN;
	else if (flags & G_LOG_LEVEL_MESSAGE)
		lvl = HW_LOG_INFO;
	else if (g_log_writer_default_would_drop(flags & G_LOG_LEVEL_MASK, domain))
		return G_LOG_WRITER_HANDLED;
	else
		lvl = flags & G_LOG_LEVEL_INFO ? HW_LOG_INFO : HW_LOG_DEBUG;
	hw_log(lvl, domain ? domain : "glib", "%s", msg ? msg : "(no message)");
	return G_LOG_WRITER_HANDLED;
}

void hw_log_init(void)
{
	g_journal = hw_log_is_journal(getenv("JOURNAL_STREAM"), STDERR_FILENO);
	g_log_set_writer_func(glib_writer, NULL, NULL);
}

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
	/* syslog priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
	static const int prio[] = {3, 4, 6, 7};
	char msg[1024], buf[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int m;
	va_list ap;

	if ((int)lvl > g_level)
		return;
	if (g_journal) {
		/* The journal stamps each line itself and reads the priority off <N>. */
		n = (size_t)snprintf(buf, sizeof(buf), "<%d>%-5s %s: ", prio[lvl], lv[lvl], tag);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      ".%03ldZ %-5s %s: ", ts.tv_nsec / 1000000, lv[lvl], tag);
	}
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

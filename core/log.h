/* The one log API: leveled lines on stderr with a per-file tag.
 * Thread-safe: each line is written with a single write(2). A message is always one
 * line: its control characters are escaped here, so a log site may print text that a
 * peer sent (a user name, an id) without escaping it itself.
 * On a terminal or in a file a line reads `2026-12-03T10:00:00.123Z WARN  tag: text`; when
 * stderr is the systemd journal's stream (JOURNAL_STREAM names it), `<4>WARN  tag: text`:
 * the syslog priority the journal files the line under, and no time, the journal's own. */
#ifndef HW_LOG_H
#define HW_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum hw_log_level { HW_LOG_ERR = 0, HW_LOG_WARN, HW_LOG_INFO, HW_LOG_DEBUG };

/* Chooses the line format (hw_log_is_journal on JOURNAL_STREAM and stderr) and sends GLib's
 * own messages (g_warning, g_critical, GStreamer's) through hw_log with their domain as the
 * tag. Main thread, once, first thing in main(): before other threads and before GLib logs.
 * Without it lines keep the terminal format and GLib writes its own. */
void hw_log_init(void);
/* True when journal_stream (JOURNAL_STREAM's value, "DEV:INODE" in decimal; NULL: not set)
 * names the device and inode of fd, as sd-daemon prescribes: a child whose stderr was
 * redirected elsewhere inherits the variable but not the stream. Any thread. */
bool hw_log_is_journal(const char *journal_stream, int fd);
void hw_log_set_level(enum hw_log_level lvl);
/* Parses "error", "warn", "info", "debug"; returns -EINVAL for anything else. */
int hw_log_parse_level(const char *s, enum hw_log_level *out);
/* Copies len bytes of src to dst (cap bytes, NUL-terminated, cap > 0) with every control
 * character escaped: \n \r \t, other bytes below 0x20 and 0x7f as \xNN, the UTF-8 C1
 * controls U+0080..U+009F as \u00NN. An escape that does not fit whole is left out, and so
 * is the rest. Returns the length written. Pure; any thread. */
size_t hw_log_escape(char *dst, size_t cap, const char *src, size_t len);
void hw_log(enum hw_log_level lvl, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Each .c file defines LOG_TAG before including this header. */
#define log_err(...) hw_log(HW_LOG_ERR, LOG_TAG, __VA_ARGS__)
#define log_warn(...) hw_log(HW_LOG_WARN, LOG_TAG, __VA_ARGS__)
#define log_info(...) hw_log(HW_LOG_INFO, LOG_TAG, __VA_ARGS__)
#define log_debug(...) hw_log(HW_LOG_DEBUG, LOG_TAG, __VA_ARGS__)

#endif

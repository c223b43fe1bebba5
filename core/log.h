/* The one log API: leveled lines on stderr with a per-file tag.
 * Thread-safe: each line is written with a single write(2). A message is always one
 * line: its control characters are escaped here, so a log site may print text that a
 * peer sent (a user name, an id) without escaping it itself. */
#ifndef HW_LOG_H
#define HW_LOG_H

#include <stddef.h>

enum hw_log_level { HW_LOG_ERR = 0, HW_LOG_WARN, HW_LOG_INFO, HW_LOG_DEBUG };

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

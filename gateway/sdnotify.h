/* systemd's notification protocol without libsystemd: one datagram to the Unix socket
 * named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
 * Any thread; no state. */
#ifndef HW_SDNOTIFY_H
#define HW_SDNOTIFY_H

#include <stdint.h>

/* Sends state ("READY=1", "WATCHDOG=1", "STOPPING=1", several joined by "\n").
 * Returns 1 when sent, 0 when there is no $NOTIFY_SOCKET (not under systemd), or
 * -errno. */
int sd_notify_send(const char *state);
/* The watchdog interval systemd asks for ($WATCHDOG_USEC, when $WATCHDOG_PID is unset
 * or ours), in microseconds; 0 when there is none. */
uint64_t sd_watchdog_usec(void);

#endif

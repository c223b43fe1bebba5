/* Command-line operator tools (hallwatch alerts [--history] / ack / shelve / unshelve): one
 * request to the running daemon through router/cmdclient.h, its reply printed. Run in the CLI
 * process's main thread; blocking, bounded by alerts.reply_timeout_ms. */
#ifndef HW_ALERT_CLI_H
#define HW_ALERT_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

/* What the command line read (gateway/cli.c); strings borrowed for the call. */
struct alert_cli_args {
	const char *verb;	  /* "alerts", "ack", "shelve", "unshelve" */
	const char *id;		  /* the alert of ack, shelve, unshelve */
	const char *user;	  /* who asks */
	const char *dur, *reason; /* shelve's --for and --reason */
	bool history;		  /* alerts --history: the event log */
	int64_t from_ms, to_ms;	  /* its range, Unix ms (0: open) */
	int limit;		  /* the latest N events (0: the daemon's default) */
	const char *tz;		  /* the site's time zone, to print times (NULL: the machine's) */
};

/* Sends the request and prints the reply (stdout) or why it failed (stderr). Returns the
 * process exit code: 0, or 1 (refused, no reply, no broker). */
int alert_cli_run(const struct hw_config *cfg, const struct alert_cli_args *a);

#endif

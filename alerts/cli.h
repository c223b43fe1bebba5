/* Command-line operator tools (hallwatch alerts / ack / shelve / unshelve): talk to
 * the running daemon through MQTT v5 request/response. Run in the CLI process's
 * main thread; blocking, bounded by alerts.reply_timeout_ms. */
#ifndef HW_ALERT_CLI_H
#define HW_ALERT_CLI_H

#include <stdbool.h>

bool alert_cli_handles(const char *cmd);
/* argv as given to main(); returns the process exit code (0 ok, 1 refused or
 * failed, 2 usage). */
int alert_cli_main(int argc, char **argv);

#endif

/* The command line of hallwatch (README.md, "Running it"). Main thread. */
#ifndef HW_CLI_H
#define HW_CLI_H

/* Parses argv and runs the subcommand; `run -c FILE` calls run(FILE), the daemon. Returns
 * the process's exit code (0, 1 for a failure, 2 for a usage error). */
int cli_main(int argc, char **argv, int (*run)(const char *path));

struct cfg_errors;
/* Prints every error of a configuration that did not load, one FILE:LINE: message a line,
 * on stderr. */
void cli_print_errors(const struct cfg_errors *e);

#endif

/* `hallwatch passwd`: reads a password (twice from a terminal, or once with --stdin) and
 * prints the yescrypt hash line to paste into http.users; `--token` makes a bearer token
 * and prints it with the token_sha256 line to paste into http.tokens. Main thread. */
#ifndef HW_WEB_PASSWD_H
#define HW_WEB_PASSWD_H

/* argv as given to main (argv[1] is "passwd"). Returns the exit status. */
int web_passwd_main(int argc, char **argv);

#endif

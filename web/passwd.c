/* `hallwatch passwd`: owns the reading of a password from the terminal or stdin and the
 * printing of its hash. Runs on the main thread of a short-lived command. */
#define LOG_TAG "passwd"
#include "web/passwd.h"

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <termios.h>
#include <unistd.h>

#include "web/auth.h"

#define PASSWORD_MAX 256

/* One line of stdin without its newline; echo off on a terminal. 0, -ENODATA (EOF) or
 * -EMSGSIZE (too long). */
static int read_line(const char *prompt, char *buf, size_t size)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	size_t n;
	int rc = 0;

	if (tty) { /* echo off before the prompt: what is typed after it is kept */
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		fprintf(stderr, "%s", prompt);
	}
	if (!fgets(buf, (int)size, stdin))
		rc = -ENODATA;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fprintf(stderr, "\n");
	}
	if (rc < 0)
		return rc;
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (n == size - 1)
		return -EMSGSIZE;
	if (n && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return 0;
}

static int make_token(void)
{
	unsigned char b[32];
	char hex[65];
	char *sum;

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		fprintf(stderr, "hallwatch: no random bytes: %s\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, hex, -1);
	printf("token (give it to the script, it is not kept): %s\n", hex);
	printf("token_sha256 = \"%s\";\n", sum);
	g_free(sum);
	return 0;
}

int web_passwd_main(int argc, char **argv)
{
	char a[PASSWORD_MAX], b[PASSWORD_MAX];
	bool from_stdin = false;
	char *hash;
	int rc;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--stdin") == 0) {
			from_stdin = true;
		} else if (strcmp(argv[i], "--token") == 0) {
			return make_token();
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf(
			    "usage: hallwatch passwd [--stdin | --token]\n"
			    "  Asks for a console password twice (once with --stdin, from "
			    "standard\n"
			    "  input) and prints the yescrypt hash line for http.users; --token "
			    "makes\n"
			    "  a bearer token for a script and prints its line for http.tokens.\n");
			return 0;
		} else {
			fprintf(stderr, "usage: hallwatch passwd [--stdin | --token]\n");
			return 2;
		}
	}
	rc = read_line("Password: ", a, sizeof(a));
	if (rc == 0 && !from_stdin) {
		rc = read_line("Again: ", b, sizeof(b));
		if (rc == 0 && strcmp(a, b) != 0) {
			fprintf(stderr, "hallwatch: the passwords differ\n");
			rc = -EINVAL;
		}
	}
	if (rc == -EMSGSIZE)
		fprintf(stderr, "hallwatch: a password is at most %d bytes\n", PASSWORD_MAX - 2);
	else if (rc == -ENODATA)
		fprintf(stderr, "hallwatch: no password given\n");
	if (rc == 0 && a[0] == '\0') {
		fprintf(stderr, "hallwatch: an empty password is refused\n");
		rc = -EINVAL;
	}
	hash = rc == 0 ? web_auth_hash(a) : NULL;
	explicit_bzero(a, sizeof(a));
	explicit_bzero(b, sizeof(b));
	if (rc < 0)
		return 1;
	if (!hash) {
		fprintf(stderr, "hallwatch: libcrypt made no yescrypt hash\n");
		return 1;
	}
	printf("password_hash = \"%s\";\n", hash);
	g_free(hash);
	return 0;
}

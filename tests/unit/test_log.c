/* Unit tests of core/log.c's line formats: the terminal's (time, level, tag) and the journal's
 * (<N> syslog priority, no time) chosen from JOURNAL_STREAM and stderr, and GLib's own
 * messages going through the same writer. Single thread; stderr is pointed at a file. */
#define G_LOG_DOMAIN "testdom"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_TAG "test"
#include "core/log.h"

static char g_path[] = "/tmp/hw-test-log-XXXXXX";
static int g_saved = -1;

/* Points stderr at a fresh temporary file and returns its "DEV:INODE". */
static void capture_begin(char *stream, size_t cap)
{
	struct stat st;
	int fd;

	strcpy(g_path, "/tmp/hw-test-log-XXXXXX");
	fd = mkstemp(g_path);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	snprintf(stream, cap, "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	g_saved = dup(STDERR_FILENO);
	assert_true(g_saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

/* Puts stderr back; returns what was written meanwhile (g_free it). */
static char *capture_end(void)
{
	char *text = NULL;

	assert_true(dup2(g_saved, STDERR_FILENO) >= 0);
	close(g_saved);
	assert_true(g_file_get_contents(g_path, &text, NULL, NULL));
	unlink(g_path);
	return text;
}

static void test_is_journal(void **state)
{
	static const char *const bad[] = {"", "abc", "1:", ":1", "1:2x", "1", "1:2:3", "-:-"};
	char stream[64], other[64];
	struct stat st;
	int fd;

	(void)state;
	strcpy(g_path, "/tmp/hw-test-log-XXXXXX");
	fd = mkstemp(g_path);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	assert_true(hw_log_is_journal(stream, fd));
	/* the same device, another inode: the stream was redirected */
	snprintf(other, sizeof(other), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	assert_false(hw_log_is_journal(other, fd));
	snprintf(other, sizeof(other), "%llu:%llu", (unsigned long long)st.st_dev + 1,
		 (unsigned long long)st.st_ino);
	assert_false(hw_log_is_journal(other, fd));
	assert_false(hw_log_is_journal(NULL, fd));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(hw_log_is_journal(bad[i], fd));
	assert_false(hw_log_is_journal(stream, -1));
	close(fd);
	unlink(g_path);
}

/* Before hw_log_init (and without JOURNAL_STREAM): the terminal format. */
static void test_terminal_lines(void **state)
{
	char stream[64], **lines;
	char *text;

	(void)state;
	capture_begin(stream, sizeof(stream));
	log_err("boom %d", 1);
	log_info("hello");
	text = capture_end();
	lines = g_strsplit(text, "\n", -1);
	assert_int_equal(g_strv_length(lines), 3);
	assert_true(
	    g_regex_match_simple("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z ERROR "
				 "test: boom 1$",
				 lines[0], 0, 0));
	assert_true(g_regex_match_simple("^\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z INFO  test: hello$",
					 lines[1], 0, 0));
	assert_string_equal(lines[2], "");
	g_strfreev(lines);
	g_free(text);
}

/* stderr is the journal's stream: <N> and no time, GLib's messages included. */
static void test_journal_lines(void **state)
{
	static const char *const want[] = {
	    "<3>ERROR test: boom 2",
	    "<4>WARN  test: careful",
	    "<6>INFO  test: hello\\nworld",
	    "<4>WARN  testdom: a glib warning 7",
	    "<3>ERROR testdom: a glib critical",
	    "<6>INFO  testdom: a glib message",
	    "",
	};
	char stream[64], **lines;
	char *text;

	(void)state;
	capture_begin(stream, sizeof(stream));
	assert_int_equal(setenv("JOURNAL_STREAM", stream, 1), 0);
	unsetenv("G_MESSAGES_DEBUG");
	hw_log_init();
	log_err("boom %d", 2);
	log_warn("careful");
	log_info("hello\nworld");
	log_debug("not at level info");
	g_warning("a glib warning %d", 7);
	g_critical("a glib critical");
	g_message("a glib message");
	g_debug("not without G_MESSAGES_DEBUG");
	g_info("not without G_MESSAGES_DEBUG either");
	text = capture_end();
	unsetenv("JOURNAL_STREAM");
	lines = g_strsplit(text, "\n", -1);
	assert_int_equal(g_strv_length(lines), sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(lines[i], want[i]);
	g_strfreev(lines);
	g_free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_is_journal), cmocka_unit_test(test_terminal_lines),
	    cmocka_unit_test(test_journal_lines), /* hw_log_init: once per process, last */
	};

	unsetenv("JOURNAL_STREAM");
	return cmocka_run_group_tests(tests, NULL, NULL);
}

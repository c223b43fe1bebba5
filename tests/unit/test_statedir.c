/* Unit tests of core/statedir.c: the rule that flags a state directory others can change,
 * the umask that keeps what hallwatch writes from other users, and the check over state_dir
 * and the subdirectories hallwatch writes into, the lock of one daemon per state directory
 * (against this process and a child killed holding it). Single thread, and a forked child. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/statedir.h"

static void test_problem_rule(void **state)
{
	static const struct {
		mode_t mode;
		uid_t uid;
		gid_t gid;
		const char *want; /* NULL: no problem */
	} cases[] = {
	    {S_IFDIR | 0750, 1000, 1000, NULL},
	    {S_IFDIR | 0755, 1000, 1000, NULL}, /* readable by others: the files are 0640 */
	    {S_IFDIR | 0700, 0, 0, NULL},	/* root's: root can do anything anyway */
	    {S_IFDIR | 0770, 1000, 1000, NULL}, /* our own group */
	    {S_IFDIR | 0777, 1000, 1000, "writable by every user (mode 0777)"},
	    {S_IFDIR | 01777, 0, 0, "writable by every user (mode 1777)"},
	    {S_IFDIR | 0702, 1000, 1000, "writable by every user (mode 0702)"},
	    {S_IFDIR | 0770, 1000, 100, "writable by group 100, not hallwatch's own (mode 0770)"},
	    {S_IFDIR | 0750, 1001, 1000, "owned by user 1001, who can change its mode (mode 0750)"},
	};
	char buf[96];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stat st = {
		    .st_mode = cases[i].mode, .st_uid = cases[i].uid, .st_gid = cases[i].gid};
		const char *got = statedir_problem(&st, 1000, 1000, buf, sizeof(buf));

		print_message("%04o %u:%u -> %s\n", (unsigned)(cases[i].mode & 07777),
			      (unsigned)cases[i].uid, (unsigned)cases[i].gid, got ? got : "-");
		if (cases[i].want)
			assert_string_equal(got, cases[i].want);
		else
			assert_null(got);
	}
}

static void test_umask(void **state)
{
	(void)state;
	umask(022);
	assert_int_equal(statedir_umask(), 027);
	assert_int_equal(umask(022), 027);
	umask(077); /* a unit's stricter UMask= stays */
	assert_int_equal(statedir_umask(), 077);
	assert_int_equal(umask(022), 077);
	umask(002);
	assert_int_equal(statedir_umask(), 027);
	assert_int_equal(umask(022), 027);
}

static void test_check_dirs(void **state)
{
	char dir[] = "/tmp/hw-statedir-XXXXXX";
	char sub[64], cmd[96];

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0750), 0);
	assert_int_equal(statedir_check(dir), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(statedir_check(dir), 1);
	snprintf(sub, sizeof(sub), "%s/video", dir);
	assert_int_equal(mkdir(sub, 0750), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(statedir_check(dir), 2);
	assert_int_equal(chmod(dir, 0750), 0);
	assert_int_equal(chmod(sub, 0750), 0);
	assert_int_equal(statedir_check(dir), 0);
	snprintf(sub, sizeof(sub), "%s/absent", dir); /* not there yet: nothing to say */
	assert_int_equal(statedir_check(sub), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_lock(void **state)
{
	char dir[] = "/tmp/hw-statedir-XXXXXX";
	char sub[64], cmd[96], buf[32] = {0};
	struct statedir_lock *a = NULL, *b = NULL;
	long holder = -1;
	int p[2];
	pid_t child;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/made/here", dir); /* missing directories are made */
	assert_int_equal(statedir_lock(sub, &a, &holder), 0);
	assert_int_equal(holder, 0);
	snprintf(cmd, sizeof(cmd), "%s/hallwatch.lock", sub);
	f = fopen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_int_equal(atol(buf), (long)getpid());
	/* a second taker, even in the same process, is refused with the holder's PID */
	assert_int_equal(statedir_lock(sub, &b, &holder), -EBUSY);
	assert_null(b);
	assert_int_equal(holder, (long)getpid());
	statedir_unlock(a);
	assert_int_equal(statedir_lock(sub, &a, &holder), 0);
	statedir_unlock(a);

	/* a holder killed by SIGKILL leaves its file, which blocks nothing */
	assert_int_equal(pipe(p), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct statedir_lock *c;
		char ok = statedir_lock(sub, &c, NULL) == 0 ? 'y' : 'n';

		if (write(p[1], &ok, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(p[0], buf, 1), 1);
	assert_int_equal(buf[0], 'y');
	assert_int_equal(statedir_lock(sub, &a, &holder), -EBUSY);
	assert_int_equal(holder, (long)child);
	assert_int_equal(kill(child, SIGKILL), 0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	assert_int_equal(statedir_lock(sub, &a, &holder), 0);
	statedir_unlock(a);
	statedir_unlock(NULL);
	close(p[0]);
	close(p[1]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_problem_rule),
	    cmocka_unit_test(test_umask),
	    cmocka_unit_test(test_check_dirs),
	    cmocka_unit_test(test_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

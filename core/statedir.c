/* Permissions of the state directory: the umask set at start and the warning about a state
 * directory others can write; and the lock of one daemon per state directory. No state but
 * the lock's descriptor; statedir_umask runs at start, the check on the main thread at start
 * and on every reload, the lock at start and at the end of the daemon's run. */
#define LOG_TAG "statedir"
#include "core/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

mode_t statedir_umask(void)
{
	mode_t m = umask(027);

	umask(m | 027);
	return m | 027;
}

const char *statedir_problem(const struct stat *st, uid_t euid, gid_t egid, char *buf, size_t sz)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);

	if (st->st_mode & S_IWOTH)
		snprintf(buf, sz, "writable by every user (mode %04o)", mode);
	else if ((st->st_mode & S_IWGRP) && st->st_gid != egid)
		snprintf(buf, sz, "writable by group %u, not hallwatch's own (mode %04o)",
			 (unsigned)st->st_gid, mode);
	else if (st->st_uid != euid && st->st_uid != 0)
		snprintf(buf, sz, "owned by user %u, who can change its mode (mode %04o)",
			 (unsigned)st->st_uid, mode);
	else
		return NULL;
	return buf;
}

int statedir_check(const char *state_dir)
{
	static const char *const subs[] = {"", "video", "clips", "snapshots"};
	char path[4096], why[96];
	struct stat st;
	int n = 0;

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s%s", state_dir, *subs[i] ? "/" : "", subs[i]);
		if (stat(path, &st) < 0) {
			if (errno != ENOENT)
				log_warn("state_dir: %s: %s", path, strerror(errno));
			continue;
		}
		if (!S_ISDIR(st.st_mode) ||
		    !statedir_problem(&st, geteuid(), getegid(), why, sizeof(why)))
			continue;
		log_warn("state_dir: %s is %s: others may replace or read what hallwatch keeps "
			 "there (make it 0750, owned by hallwatch)",
			 path, why);
		n++;
	}
	return n;
}

struct statedir_lock {
	int fd;
};

/* mkdir -p with mode 0750 for what is missing. */
static int make_dirs(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0750) < 0 && errno != EEXIST)
			return -errno;
		path[i] = i < n ? '/' : '\0';
	}
	return 0;
}

static long read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;
	char *end;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return end != buf && pid > 0 ? pid : 0;
}

int statedir_lock(const char *state_dir, struct statedir_lock **out, long *holder)
{
	char path[4096], pid[32];
	struct statedir_lock *l;
	int fd, rc, len;

	if (holder)
		*holder = 0;
	rc = make_dirs(state_dir);
	if (rc < 0)
		return rc;
	if (snprintf(path, sizeof(path), "%s/hallwatch.lock", state_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		/* The holder writes its PID just after locking: give it a moment. */
		for (int i = 0; rc == -EBUSY && holder && i < 50 && !(*holder = read_pid(fd)); i++)
			usleep(2000);
		goto out_fd;
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		rc = -errno;
		goto out_fd;
	}
	l = malloc(sizeof(*l));
	if (!l) {
		rc = -ENOMEM;
		goto out_fd;
	}
	l->fd = fd;
	*out = l;
	return 0;
out_fd:
	close(fd);
	return rc;
}

void statedir_unlock(struct statedir_lock *l)
{
	if (!l)
		return;
	/* Emptied first: a reader between the truncate and the close sees "PID unknown" rather
	 * than the PID of a process that is leaving. */
	if (ftruncate(l->fd, 0) < 0)
		log_debug("lock file: %s", strerror(errno));
	close(l->fd);
	free(l);
}

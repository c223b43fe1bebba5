/* Permissions of the state directory: the umask set at start and the warning about a state
 * directory others can write. No state; statedir_umask runs at start, the check on the main
 * thread at start and on every reload. */
#define LOG_TAG "statedir"
#include "core/statedir.h"

#include <errno.h>
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

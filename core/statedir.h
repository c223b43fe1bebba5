/* The permissions of what hallwatch writes under storage.state_dir (the database, recordings,
 * clips, snapshots): the process umask that creates files 0640 and directories 0750, a
 * warning about a state directory that others than hallwatch can change, and the lock that
 * keeps a second daemon off a state directory in use.
 * statedir_umask at start, before any thread; the rest from the main thread. */
#ifndef HW_STATEDIR_H
#define HW_STATEDIR_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Adds 027 to the process umask (a stricter one, such as a unit's UMask=0077, stays);
 * returns the umask now in force. */
mode_t statedir_umask(void);

/* Why a directory with the status st lets someone other than the user euid (group egid)
 * change what it holds, written into buf; NULL when it does not. Pure. The rule:
 * - writable by others (o+w), sticky or not;
 * - writable by its group (g+w) when that group is not egid;
 * - owned by another user than euid or root (that user can change its mode). */
const char *statedir_problem(const struct stat *st, uid_t euid, gid_t egid, char *buf, size_t sz);

/* Logs a warning for state_dir and each of its subdirectories hallwatch writes into (video,
 * clips, snapshots) that has a problem; directories that do not exist yet are skipped.
 * Returns the number of warnings. */
int statedir_check(const char *state_dir);

/* One daemon per state directory: an exclusive flock(2) on <state_dir>/hallwatch.lock (the
 * directory is made 0750 if missing), the file holding the holder's PID as text. The kernel
 * drops the lock when the process ends, however it ends (a stale file blocks nothing). */
struct statedir_lock;
/* Takes the lock for this process. Returns 0 and *out; -EBUSY when another process holds it,
 * its PID in *holder (0 when it has not written it yet); or -errno (the directory or the file
 * cannot be made or opened). holder may be NULL. */
int statedir_lock(const char *state_dir, struct statedir_lock **out, long *holder);
/* Releases the lock and frees (the file stays, empty). Accepts NULL. */
void statedir_unlock(struct statedir_lock *l);

#endif

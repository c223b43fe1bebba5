/* The SQLite index of recorded segments and their retention (table video_segments in
 * hallwatch.db, through the shared connection of core/db.c). Runs on whichever thread
 * owns the handle: the main loop in the daemon, the caller in the command line tools. */
#define LOG_TAG "recindex"
#include "video/recindex.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/log.h"

struct recindex {
	struct db *db;
	struct db_run run; /* a failure run is logged; ended by the next write */
};

int recindex_open(const char *path, struct recindex **out)
{
	struct recindex *ix = calloc(1, sizeof(*ix));
	int rc;

	*out = NULL;
	if (!ix)
		return -ENOMEM;
	ix->run = (struct db_run){.tag = LOG_TAG, .what = "the recording index"};
	rc = db_open(path, &ix->db);
	if (rc < 0) {
		free(ix);
		return rc;
	}
	*out = ix;
	return 0;
}

void recindex_close(struct recindex *ix)
{
	if (!ix)
		return;
	db_close(ix->db);
	free(ix);
}

/* The statement of sql, lock held (released by done/step_done). NULL on failure. */
static sqlite3_stmt *prep(struct recindex *ix, const char *sql)
{
	sqlite3_stmt *st = NULL;

	db_lock(ix->db);
	if (db_run_fail(&ix->run, ix->db, db_prepare(ix->db, sql, &st)) < 0) {
		db_unlock(ix->db);
		return NULL;
	}
	return st;
}

static void done(struct recindex *ix, sqlite3_stmt *st)
{
	db_reset(st);
	db_unlock(ix->db);
}

/* Steps a write once and ends it: 0, or -errno (a failure run logged when it starts). */
static int step_done(struct recindex *ix, sqlite3_stmt *st)
{
	int rc = db_step_done(ix->db, st, "write");

	if (rc == 0)
		db_run_ok(&ix->run);
	db_run_fail(&ix->run, ix->db, rc);
	db_unlock(ix->db);
	return rc;
}

int recindex_begin(struct recindex *ix, const char *camera, int64_t start_ms, const char *path)
{
	sqlite3_stmt *st = prep(ix, "INSERT OR IGNORE INTO video_segments(camera, start_ms, path) "
				    "VALUES (?, ?, ?)");

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, camera, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, start_ms);
	sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
	return step_done(ix, st);
}

int recindex_finish(struct recindex *ix, const char *camera, const char *path, int64_t start_ms,
		    int64_t end_ms, int64_t bytes)
{
	sqlite3_stmt *st;

	if (recindex_begin(ix, camera, start_ms, path) < 0)
		return -EIO;
	st = prep(ix, "UPDATE video_segments SET end_ms = ?, bytes = ? WHERE path = ?");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, end_ms);
	sqlite3_bind_int64(st, 2, bytes);
	sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
	return step_done(ix, st);
}

/* camera-YYYYmmddTHHMMSSmmmZ.mp4 -> ms since the epoch, or -1. */
static int64_t name_time(const char *name, const char *camera)
{
	size_t cl = strlen(camera);
	struct tm tm = {0};
	int ms = 0;

	if (strncmp(name, camera, cl) != 0 || name[cl] != '-')
		return -1;
	if (sscanf(name + cl + 1, "%4d%2d%2dT%2d%2d%2d%3dZ.mp4", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* A segment cut short before its first fragment has no moov box and cannot be played. */
static bool has_moov(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char h[16];
	bool found = false;
	long off = 0;

	if (!f)
		return false;
	while (!found && fseek(f, off, SEEK_SET) == 0 && fread(h, 1, 8, f) == 8) {
		uint64_t sz =
		    ((uint64_t)h[0] << 24) | ((uint64_t)h[1] << 16) | ((uint64_t)h[2] << 8) | h[3];

		found = memcmp(h + 4, "moov", 4) == 0;
		if (sz == 1) {
			if (fread(h + 8, 1, 8, f) != 8)
				break;
			sz = 0;
			for (int i = 8; i < 16; i++)
				sz = (sz << 8) | h[i];
		}
		if (sz < 8)
			break;
		off += (long)sz;
	}
	fclose(f);
	return found;
}

static int64_t mtime_ms(const struct stat *sb)
{
	return (int64_t)sb->st_mtim.tv_sec * 1000 + sb->st_mtim.tv_nsec / 1000000;
}

int recindex_settle(struct recindex *ix, const char *camera, const char *path, int64_t start_ms)
{
	sqlite3_stmt *st;
	struct stat sb;
	bool exists = stat(path, &sb) == 0;
	int rc;

	if (exists && has_moov(path)) {
		rc =
		    recindex_finish(ix, camera, path, start_ms, mtime_ms(&sb), (int64_t)sb.st_size);
		return rc < 0 ? rc : 1;
	}
	st = prep(ix, "DELETE FROM video_segments WHERE path = ?");
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = step_done(ix, st);
	if (exists && unlink(path) < 0 && errno != ENOENT && rc == 0)
		rc = -errno;
	if (rc < 0)
		return rc;
	return exists ? 0 : -ENOENT;
}

int recindex_recover(struct recindex *ix, const char *camera, const char *dir)
{
	sqlite3_stmt *st;
	struct rec_segment *open_segs = NULL;
	int n_open = 0, fixed = 0;
	DIR *d;
	struct dirent *de;

	st = prep(ix, "SELECT path, start_ms FROM video_segments WHERE camera = ? AND end_ms IS "
		      "NULL");
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, camera, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct rec_segment *v = realloc(open_segs, (size_t)(n_open + 1) * sizeof(*v));

		if (!v)
			break;
		open_segs = v;
		memset(&v[n_open], 0, sizeof(*v));
		v[n_open].path = strdup((const char *)sqlite3_column_text(st, 0));
		v[n_open].start_ms = sqlite3_column_int64(st, 1);
		n_open++;
	}
	done(ix, st);
	for (int i = 0; i < n_open; i++) {
		if (!open_segs[i].path)
			continue;
		if (recindex_settle(ix, camera, open_segs[i].path, open_segs[i].start_ms) == 0)
			log_warn("%s: cut short before its first fragment, deleted",
				 open_segs[i].path);
		fixed++;
	}
	rec_segments_free(open_segs, n_open);

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? fixed : -errno;
	while ((de = readdir(d))) {
		int64_t t = name_time(de->d_name, camera);
		char *p = NULL;
		struct stat sb;
		bool known;

		if (t < 0 || asprintf(&p, "%s/%s", dir, de->d_name) < 0)
			continue;
		st = prep(ix, "SELECT 1 FROM video_segments WHERE path = ?");
		known = false;
		if (st) {
			sqlite3_bind_text(st, 1, p, -1, SQLITE_STATIC);
			known = sqlite3_step(st) == SQLITE_ROW;
			done(ix, st);
		}
		if (!known && stat(p, &sb) == 0) {
			if (has_moov(p))
				recindex_finish(ix, camera, p, t, mtime_ms(&sb),
						(int64_t)sb.st_size);
			else if (unlink(p) == 0)
				log_warn("%s: cut short before its first fragment, deleted", p);
			fixed++;
		}
		free(p);
	}
	closedir(d);
	return fixed;
}

void rec_segments_free(struct rec_segment *s, int n)
{
	for (int i = 0; s && i < n; i++) {
		free(s[i].camera);
		free(s[i].path);
	}
	free(s);
}

static int collect(struct recindex *ix, sqlite3_stmt *st, struct rec_segment **out)
{
	struct rec_segment *v = NULL;
	int n = 0, rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct rec_segment *nv = realloc(v, (size_t)(n + 1) * sizeof(*nv));

		if (!nv) {
			rec_segments_free(v, n);
			done(ix, st);
			return -ENOMEM;
		}
		v = nv;
		v[n].id = sqlite3_column_int64(st, 0);
		v[n].camera = strdup((const char *)sqlite3_column_text(st, 1));
		v[n].start_ms = sqlite3_column_int64(st, 2);
		v[n].end_ms = sqlite3_column_int64(st, 3);
		v[n].path = strdup((const char *)sqlite3_column_text(st, 4));
		v[n].bytes = sqlite3_column_int64(st, 5);
		n++;
	}
	if (rc != SQLITE_DONE) {
		rc = db_run_fail(&ix->run, ix->db, db_fail(ix->db, "read segments"));
		done(ix, st);
		rec_segments_free(v, n);
		return rc;
	}
	done(ix, st);
	*out = v;
	return n;
}

int recindex_query(struct recindex *ix, const char *camera, int64_t from_ms, int64_t to_ms,
		   struct rec_segment **out)
{
	sqlite3_stmt *st = prep(ix, "SELECT id, camera, start_ms, end_ms, path, bytes FROM "
				    "video_segments WHERE camera = ? AND end_ms IS NOT NULL AND "
				    "end_ms > ? AND start_ms < ? ORDER BY start_ms");

	*out = NULL;
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, camera, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	return collect(ix, st, out);
}

int recindex_list(struct recindex *ix, const char *camera, int64_t from_ms, int64_t to_ms,
		  struct rec_segment **out)
{
	sqlite3_stmt *st = prep(ix, "SELECT id, camera, start_ms, end_ms, path, bytes FROM "
				    "video_segments WHERE camera = ? AND (end_ms IS NULL OR "
				    "end_ms > ?) AND start_ms < ? ORDER BY start_ms");

	*out = NULL;
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, camera, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, from_ms);
	sqlite3_bind_int64(st, 3, to_ms);
	return collect(ix, st, out);
}

int rec_timeline(const struct rec_segment *s, int n, int64_t from_ms, int64_t to_ms, int64_t now_ms,
		 int64_t tolerance_ms, struct rec_span **out)
{
	struct rec_span *v = malloc(sizeof(*v) * (size_t)(2 * n + 1));
	int64_t covered = from_ms; /* the range is recorded up to here */
	int k = 0;

	*out = NULL;
	if (!v)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		/* Open: being written if it is the last; else left open by a recorder that
		 * failed, its end unknown (a gap is not hidden behind it). */
		int64_t end = s[i].end_ms ? s[i].end_ms : i == n - 1 ? now_ms : s[i].start_ms;

		if (s[i].start_ms - covered > tolerance_ms && covered < to_ms)
			v[k++] = (struct rec_span){
			    covered, s[i].start_ms < to_ms ? s[i].start_ms : to_ms, -1};
		v[k++] = (struct rec_span){s[i].start_ms, end, i};
		covered = end > covered ? end : covered;
	}
	if (to_ms - covered > tolerance_ms)
		v[k++] = (struct rec_span){covered, to_ms, -1};
	*out = v;
	return k;
}

int recindex_span(struct recindex *ix, const char *camera, int64_t *oldest_ms, int64_t *bytes)
{
	sqlite3_stmt *st = prep(ix, "SELECT COALESCE(MIN(start_ms), 0), COALESCE(SUM(bytes), 0) "
				    "FROM video_segments WHERE camera = ? AND end_ms IS NOT NULL");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, camera, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*oldest_ms = sqlite3_column_int64(st, 0);
		*bytes = sqlite3_column_int64(st, 1);
	}
	done(ix, st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

static int delete_seg(struct recindex *ix, const struct rec_segment *s)
{
	sqlite3_stmt *st;

	if (unlink(s->path) < 0 && errno != ENOENT)
		log_warn("cannot delete %s: %s", s->path, strerror(errno));
	st = prep(ix, "DELETE FROM video_segments WHERE id = ?");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, s->id);
	return step_done(ix, st);
}

int recindex_retain(struct recindex *ix, const char *camera, int64_t now_ms, int64_t max_age_ms,
		    int64_t budget_bytes, bool (*need_free)(void *ud), void *ud,
		    bool *young_deleted)
{
	struct rec_segment *v = NULL;
	int n, deleted = 0;
	int64_t total = 0;

	*young_deleted = false;
	n = recindex_query(ix, camera, INT64_MIN, INT64_MAX, &v);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		total += v[i].bytes;
	for (int i = 0; i < n; i++) {
		bool old = v[i].end_ms < now_ms - max_age_ms;
		bool over = budget_bytes > 0 && total > budget_bytes;
		bool short_disk = !old && !over && need_free && need_free(ud);

		if (!old && !over && !short_disk)
			break;
		if (delete_seg(ix, &v[i]) < 0)
			break;
		if (!old)
			*young_deleted = true;
		log_info("camera %s: deleted %s (%s)", camera, v[i].path,
			 old	? "older than retention"
			 : over ? "over the disk budget"
				: "disk low");
		total -= v[i].bytes;
		deleted++;
	}
	rec_segments_free(v, n);
	return deleted;
}

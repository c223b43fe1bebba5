/* Configuration sources: reads a configuration file and what it @includes (regular files of
 * bounded size only, opened without blocking) and splices them into one text, scanning it as
 * libconfig's scanner does to find the directives, bound strings, nesting and group sizes.
 * libconfig then parses the text from memory and never opens a file itself. Runs on the
 * thread that loads the configuration; no globals. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include "core/cfgsrc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Lines [out_line, next segment) of the text are lines line.. of files[file]. */
struct seg {
	int out_line;
	size_t file;
	int line;
};

struct cfgsrc {
	char *text;
	size_t len, cap;
	int out_line; /* line of the text being written, from 1 */
	char **files;
	size_t n_files;
	struct seg *segs;
	size_t n_segs, cap_segs;
};

struct frame {
	bool group;  /* a group ({}), else a list or an array */
	int members; /* settings seen in a group */
};

/* The reading of one source: the include stack and the scanner's state that runs on from one
 * file into the next (a list may open in one file and close in another). */
struct rd {
	struct cfgsrc *s;
	struct cfgsrc_err *err;
	char *dir; /* relative @include names start here */
	struct {
		dev_t dev;
		ino_t ino;
	} stack[CFGSRC_DEPTH_MAX + 1];
	int depth;
	size_t total; /* bytes read from every file so far */
	struct frame nest[CFGSRC_NEST_MAX + 1];
	int n_nest;
	int root_members;
	size_t str_run;	 /* bytes of the string being joined from adjacent literals */
	size_t str_file; /* where its first literal starts */
	int str_line;
	bool last_string; /* the last token was a string */
};

void cfgsrc_err_clear(struct cfgsrc_err *e)
{
	if (!e)
		return;
	free(e->file);
	free(e->msg);
	e->file = NULL;
	e->msg = NULL;
	e->line = 0;
}

static int fail(struct rd *r, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct rd *r, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	cfgsrc_err_clear(r->err);
	va_start(ap, fmt);
	n = vasprintf(&r->err->msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		r->err->msg = NULL;
		return -ENOMEM;
	}
	if (file) {
		r->err->file = strdup(file);
		if (!r->err->file)
			return -ENOMEM;
	}
	r->err->line = line;
	return -EINVAL;
}

static int seg_add(struct cfgsrc *s, size_t file, int line)
{
	struct seg *v;

	if (s->n_segs && s->segs[s->n_segs - 1].out_line == s->out_line)
		s->n_segs--; /* nothing was written under the previous one */
	if (s->n_segs == s->cap_segs) {
		size_t cap = s->cap_segs ? 2 * s->cap_segs : 8;

		v = realloc(s->segs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->segs = v;
		s->cap_segs = cap;
	}
	s->segs[s->n_segs++] = (struct seg){.out_line = s->out_line, .file = file, .line = line};
	return 0;
}

static int emit(struct cfgsrc *s, const char *p, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *t;

		while (cap < s->len + n + 1)
			cap *= 2;
		t = realloc(s->text, cap);
		if (!t)
			return -ENOMEM;
		s->text = t;
		s->cap = cap;
	}
	memcpy(s->text + s->len, p, n);
	s->len += n;
	s->text[s->len] = '\0';
	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
		s->out_line++;
	return 0;
}

static const char *file_kind(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "not a file";
}

/* Reads a whole regular file of at most CFGSRC_FILE_MAX bytes. Never blocks on a FIFO or a
 * device: they are opened non-blocking and refused. On failure *why says why. */
static int slurp(const char *path, char **buf, size_t *len, struct stat *st, char *why,
		 size_t why_sz)
{
	size_t cap, n = 0;
	char *b = NULL, *t;
	ssize_t got;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, why_sz, "%s", strerror(-rc));
		return rc;
	}
	if (fstat(fd, st) < 0) {
		rc = -errno;
		snprintf(why, why_sz, "%s", strerror(-rc));
		goto out;
	}
	if (S_ISDIR(st->st_mode)) {
		rc = -EISDIR;
		snprintf(why, why_sz, "it is a directory");
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		rc = -EINVAL;
		snprintf(why, why_sz, "not a regular file (%s)", file_kind(st->st_mode));
		goto out;
	}
	if (st->st_size > CFGSRC_FILE_MAX) {
		rc = -EFBIG;
		snprintf(why, why_sz, "%lld bytes, more than the %d allowed",
			 (long long)st->st_size, CFGSRC_FILE_MAX);
		goto out;
	}
	cap = (size_t)st->st_size + 1;
	for (;;) {
		if (n + 1 >= cap || !b) {
			cap = b ? 2 * cap : cap + 4096;
			if (cap > CFGSRC_FILE_MAX + 2)
				cap = CFGSRC_FILE_MAX + 2;
			t = realloc(b, cap);
			if (!t) {
				rc = -ENOMEM;
				snprintf(why, why_sz, "%s", strerror(ENOMEM));
				goto out;
			}
			b = t;
		}
		got = read(fd, b + n, cap - 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			snprintf(why, why_sz, "%s", strerror(-rc));
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > CFGSRC_FILE_MAX) { /* it grew while being read */
			rc = -EFBIG;
			snprintf(why, why_sz, "more than the %d bytes allowed", CFGSRC_FILE_MAX);
			goto out;
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	close(fd);
	return 0;
out:
	free(b);
	close(fd);
	return rc;
}

static int read_file(struct rd *r, const char *path, const char *name, const char *ref_file,
		     int ref_line);

/* `^[ \t]*@include[ \t]+"` at p (the start of a line), as libconfig's scanner has it: returns
 * the offset of the opening quote from p, or 0. */
static size_t include_open(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if ((size_t)(end - q) < 9 || memcmp(q, "@include", 8) != 0 || (q[8] != ' ' && q[8] != '\t'))
		return 0;
	q += 8;
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	return q < end && *q == '"' ? (size_t)(q - p) : 0;
}

/* The directive whose opening quote is at *pp: reads the name, checks that nothing but a
 * comment follows on its line, and splices the file in. *pp ends past the line. */
static int do_include(struct rd *r, size_t fidx, int line, const char **pp, const char *end)
{
	const char *file = r->s->files[fidx];
	const char *p = *pp + 1;
	char name[PATH_MAX], *path = NULL;
	size_t n = 0;
	int rc;

	for (;; p++) {
		if (p >= end || *p == '\n')
			return fail(r, file, line, "@include: the file name has no closing quote");
		if (*p == '"')
			break;
		if (*p == '\\') {
			if (p + 1 >= end || (p[1] != '\\' && p[1] != '"'))
				return fail(r, file, line,
					    "@include: only \\\\ and \\\" may be escaped in a file "
					    "name");
			p++;
		}
		if (n + 1 >= sizeof(name))
			return fail(r, file, line, "@include: the file name is too long");
		name[n++] = *p;
	}
	name[n] = '\0';
	for (p++; p < end && (*p == ' ' || *p == '\t' || *p == '\r'); p++)
		;
	if (p < end && *p != '\n' && *p != '#' && !(*p == '/' && p + 1 < end && p[1] == '/'))
		return fail(r, file, line,
			    "@include \"%s\": nothing but a comment may follow on its line", name);
	while (p < end && *p != '\n')
		p++;
	if (p < end)
		p++;
	*pp = p;
	if (!*name)
		return fail(r, file, line, "@include: empty file name");
	if (name[0] == '/')
		path = strdup(name);
	else if (asprintf(&path, "%s/%s", r->dir, name) < 0)
		path = NULL;
	if (!path)
		return -ENOMEM;
	rc = read_file(r, path, name, file, line);
	free(path);
	return rc;
}

/* Scans buf (the whole of files[fidx]) into the text as libconfig's scanner would: comments,
 * strings and directives, with the bounds of cfgsrc.h. */
static int scan(struct rd *r, size_t fidx, const char *buf, size_t len)
{
	struct cfgsrc *s = r->s;
	const char *file = s->files[fidx];
	const char *p = buf, *end = buf + len, *flushed = buf, *nul;
	bool bol = true;
	int line = 1, rc;

	nul = memchr(buf, '\0', len);
	if (nul) {
		for (const char *q = buf; q < nul; q++)
			line += *q == '\n';
		return fail(r, file, line, "a NUL byte: not a text file");
	}
	rc = seg_add(s, fidx, 1);
	if (rc < 0)
		return rc;
	while (p < end) {
		size_t q;

		if (bol && (q = include_open(p, end)) != 0) {
			rc = emit(s, flushed, (size_t)(p - flushed));
			if (rc < 0)
				return rc;
			p += q;
			rc = do_include(r, fidx, line, &p, end);
			if (rc < 0)
				return rc;
			if (s->len && s->text[s->len - 1] != '\n' && (rc = emit(s, "\n", 1)) < 0)
				return rc;
			line++;
			rc = seg_add(s, fidx, line);
			if (rc < 0)
				return rc;
			flushed = p;
			r->last_string = false;
			continue;
		}
		bol = false;
		switch (*p) {
		case '\n':
			line++;
			bol = true;
			p++;
			continue;
		case ' ':
		case '\t':
		case '\r':
		case '\f':
			p++;
			continue;
		case '#':
			while (p < end && *p != '\n')
				p++;
			continue;
		case '/':
			if (p + 1 < end && p[1] == '/') {
				while (p < end && *p != '\n')
					p++;
				continue;
			}
			if (p + 1 < end && p[1] == '*') {
				int at = line;

				for (p += 2; p < end && !(*p == '*' && p + 1 < end && p[1] == '/');
				     p++)
					line += *p == '\n';
				if (p >= end)
					return fail(r, file, at,
						    "a comment that never ends (no */)");
				p += 2;
				continue;
			}
			break;
		case '"': {
			int at = line;

			if (!r->last_string) {
				r->str_run = 0;
				r->str_file = fidx;
				r->str_line = line;
			}
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				line += *p == '\n';
				if (++r->str_run > CFGSRC_STRING_MAX)
					return fail(r, s->files[r->str_file], r->str_line,
						    "a string of more than %d bytes",
						    CFGSRC_STRING_MAX);
			}
			if (p >= end)
				return fail(r, file, at,
					    "a string that never ends (no closing quote)");
			p++;
			r->last_string = true;
			continue;
		}
		case '{':
		case '(':
		case '[':
			if (r->n_nest == CFGSRC_NEST_MAX)
				return fail(r, file, line,
					    "groups, lists or arrays nested more than %d deep",
					    CFGSRC_NEST_MAX);
			r->nest[r->n_nest++] = (struct frame){.group = *p == '{'};
			break;
		case '}':
		case ')':
		case ']':
			if (r->n_nest)
				r->n_nest--;
			break;
		case '=':
		case ':': {
			int *m = r->n_nest ? (r->nest[r->n_nest - 1].group
						  ? &r->nest[r->n_nest - 1].members
						  : NULL)
					   : &r->root_members;

			if (m && ++*m > CFGSRC_MEMBERS_MAX)
				return fail(r, file, line, "more than %d settings in one group",
					    CFGSRC_MEMBERS_MAX);
			break;
		}
		default:
			break;
		}
		r->last_string = false;
		p++;
	}
	return emit(s, flushed, (size_t)(end - flushed));
}

/* Reads path (NAME in the directive at ref_file:ref_line; ref_file NULL: the top file) and
 * splices it into the text. */
static int read_file(struct rd *r, const char *path, const char *name, const char *ref_file,
		     int ref_line)
{
	struct cfgsrc *s = r->s;
	char why[128], *buf = NULL, **v;
	struct stat st;
	size_t len = 0, fidx;
	int rc;

	if (ref_file && r->depth == CFGSRC_DEPTH_MAX)
		return fail(r, ref_file, ref_line,
			    "@include \"%s\": includes nested more than %d deep", name,
			    CFGSRC_DEPTH_MAX);
	rc = slurp(path, &buf, &len, &st, why, sizeof(why));
	if (rc < 0) {
		if (rc == -ENOMEM)
			return rc;
		if (!ref_file) {
			int frc = fail(r, NULL, 0, "%s", why);

			return frc == -ENOMEM ? frc : rc;
		}
		return fail(r, ref_file, ref_line, "@include \"%s\": cannot read %s: %s", name,
			    path, why);
	}
	for (int i = 0; i < r->depth; i++) {
		if (r->stack[i].dev == st.st_dev && r->stack[i].ino == st.st_ino) {
			rc = fail(r, ref_file, ref_line,
				  "@include \"%s\": %s includes itself (an include loop)", name,
				  path);
			goto out;
		}
	}
	if (r->total + len > CFGSRC_TOTAL_MAX) {
		rc = fail(r, ref_file, ref_line,
			  "@include \"%s\": more than %d bytes with what is already included", name,
			  CFGSRC_TOTAL_MAX);
		goto out;
	}
	r->total += len;
	v = realloc(s->files, (s->n_files + 1) * sizeof(*v));
	if (!v) {
		rc = -ENOMEM;
		goto out;
	}
	s->files = v;
	fidx = s->n_files;
	s->files[fidx] = strdup(path);
	if (!s->files[fidx]) {
		rc = -ENOMEM;
		goto out;
	}
	s->n_files++;
	r->stack[r->depth].dev = st.st_dev;
	r->stack[r->depth].ino = st.st_ino;
	r->depth++;
	rc = scan(r, fidx, buf, len);
	r->depth--;
out:
	free(buf);
	return rc;
}

int cfgsrc_read(const char *path, struct cfgsrc **out, struct cfgsrc_err *err)
{
	struct rd r = {.err = err};
	const char *slash;
	int rc;

	*out = NULL;
	r.s = calloc(1, sizeof(*r.s));
	if (!r.s)
		return -ENOMEM;
	r.s->out_line = 1;
	slash = strrchr(path, '/');
	r.dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!r.dir) {
		rc = -ENOMEM;
		goto out;
	}
	rc = read_file(&r, path, path, NULL, 0);
	if (rc == 0 && !r.s->text)
		rc = emit(r.s, "", 0);
out:
	free(r.dir);
	if (rc < 0) {
		cfgsrc_free(r.s);
		return rc;
	}
	*out = r.s;
	return 0;
}

void cfgsrc_free(struct cfgsrc *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_files; i++)
		free(s->files[i]);
	free(s->files);
	free(s->segs);
	free(s->text);
	free(s);
}

const char *cfgsrc_text(const struct cfgsrc *s)
{
	return s->text;
}

const char *cfgsrc_locate(const struct cfgsrc *s, int line, int *file_line)
{
	size_t lo = 0, hi = s->n_segs;

	*file_line = line;
	if (!s->n_segs || line < 1)
		return s->n_files ? s->files[0] : "?";
	/* The last segment that starts at or before line. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->segs[mid].out_line <= line)
			lo = mid;
		else
			hi = mid;
	}
	*file_line = s->segs[lo].line + (line - s->segs[lo].out_line);
	return s->files[s->segs[lo].file];
}

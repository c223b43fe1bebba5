/* Configuration sources: a libconfig file and the files it @includes, read into memory with
 * bounds and spliced into one text for libconfig, with a map from the text's lines back to
 * the files and lines they came from. Used by config.c on the thread that loads the
 * configuration (the main thread); no globals. */
#ifndef HW_CFGSRC_H
#define HW_CFGSRC_H

#include <stddef.h>

#define CFGSRC_FILE_MAX (1024 * 1024)	   /* bytes in one file */
#define CFGSRC_TOTAL_MAX (2 * 1024 * 1024) /* bytes in a file and all it includes */
#define CFGSRC_STRING_MAX (64 * 1024)	   /* bytes in one string (adjacent ones joined) */
#define CFGSRC_DEPTH_MAX 10		   /* @include within @include */
#define CFGSRC_NEST_MAX 32		   /* groups, lists and arrays within each other */
#define CFGSRC_MEMBERS_MAX 256		   /* settings in one group */

struct cfgsrc;

/* Why a source was refused. file NULL: the top file itself could not be read and msg is the
 * reason ("No such file or directory", "not a regular file (a FIFO)"...); otherwise msg
 * applies to file:line (an @include, a string, a group). Cleared with cfgsrc_err_clear. */
struct cfgsrc_err {
	char *file;
	int line;
	char *msg;
};

/* Reads path and every file it includes. `@include "NAME"` (at the start of a line, as
 * libconfig has it) names a regular file, relative to the directory of path unless NAME is
 * absolute; the included text takes the place of the directive's line. Returns 0 and *out
 * (free with cfgsrc_free), or a negative errno with *err filled (ENOMEM: err may be empty). */
int cfgsrc_read(const char *path, struct cfgsrc **out, struct cfgsrc_err *err);
void cfgsrc_free(struct cfgsrc *s); /* accepts NULL */
void cfgsrc_err_clear(struct cfgsrc_err *e);

/* The spliced text, without any @include directive (owned by s). */
const char *cfgsrc_text(const struct cfgsrc *s);

/* The file (owned by s) and line in it of line `line` of the text; lines below 1 are the top
 * file's, unchanged. */
const char *cfgsrc_locate(const struct cfgsrc *s, int line, int *file_line);

#endif

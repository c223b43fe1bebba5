/* What the loader targets (fuzz_config, fuzz_profile) share: the input written as the file a
 * loader reads, and the loader's verdict checked. Header-only; the targets' thread. */
#ifndef HW_FUZZ_LOADFILE_H
#define HW_FUZZ_LOADFILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

/* Writes the input as the whole of path. */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
}

/* A load that succeeded (rc 0, loaded set) reports no error; one that failed reports at
 * least one, each as FILE:LINE: message. Clears errs. */
static inline void fuzz_check_load(int rc, bool loaded, struct cfg_errors *errs)
{
	if (rc == 0 && (!loaded || errs->n))
		abort();
	if (rc != 0 && errs->n == 0)
		abort(); /* refused without a word */
	for (size_t i = 0; i < errs->n; i++)
		if (!strchr(errs->msgs[i], ':'))
			abort();
	cfg_errors_clear(errs);
}

#endif

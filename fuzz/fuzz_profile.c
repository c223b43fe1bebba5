/* libFuzzer target: the device profile loader, on any text as a profile file (written to
 * a file of this process, then loaded). No crash, no hang, no leak; an error always says
 * where. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/profile.h"
#include "core/config.h"

static char path[96];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[64];

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/hw-fuzz-profile-%ld", (long)getpid());
	if (mkdir(dir, 0700) < 0 && access(dir, W_OK) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/fuzz.cfg", dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_errors errs = {0};
	struct profile *p = NULL;
	FILE *f = fopen(path, "wb");

	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	if (profile_load(path, &p, &errs) == 0) {
		if (!p || errs.n)
			abort();
		profile_free(p);
	} else if (errs.n == 0) {
		abort(); /* refused without a word */
	}
	for (size_t i = 0; i < errs.n; i++)
		if (!strchr(errs.msgs[i], ':'))
			abort();
	cfg_errors_clear(&errs);
	return 0;
}

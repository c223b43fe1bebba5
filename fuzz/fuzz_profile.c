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
#include "fuzz/loadfile.h"

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
	int rc;

	fuzz_write_file(path, data, size);
	rc = profile_load(path, &p, &errs);
	fuzz_check_load(rc, p != NULL, &errs);
	profile_free(p);
	return 0;
}

/* libFuzzer target: the configuration loader, on any text as the main file. The text is
 * written to main.cfg in a folder of this process whose profiles/ is the tree's
 * etc/profiles, then loaded the way `hallwatch check-config` does, @include and all. No
 * crash, no hang, no leak; an error always says where. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"

static char dir[64];
static char path[96];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char link[96];

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/hw-fuzz-config-%ld", (long)getpid());
	snprintf(path, sizeof(path), "%s/main.cfg", dir);
	snprintf(link, sizeof(link), "%s/profiles", dir);
	if (mkdir(dir, 0700) < 0 && access(dir, W_OK) < 0)
		abort();
	unlink(link);
	if (symlink(HW_SOURCE_DIR "/etc/profiles", link) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_errors errs = {0};
	struct hw_config *cfg = NULL;
	FILE *f = fopen(path, "wb");

	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	if (config_load(path, &cfg, &errs) == 0) {
		if (!cfg || errs.n)
			abort();
		config_free(cfg);
	} else if (errs.n == 0) {
		abort(); /* refused without a word */
	}
	for (size_t i = 0; i < errs.n; i++)
		if (!strchr(errs.msgs[i], ':'))
			abort(); /* every error is FILE:LINE: message */
	cfg_errors_clear(&errs);
	return 0;
}

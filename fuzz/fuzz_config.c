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
#include "fuzz/loadfile.h"

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
	int rc;

	fuzz_write_file(path, data, size);
	rc = config_load(path, &cfg, &errs);
	fuzz_check_load(rc, cfg != NULL, &errs);
	config_free(cfg);
	return 0;
}

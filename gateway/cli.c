/* The command line: parses the arguments and runs the subcommands that need no daemon
 * (check-config, snapshot, clip, command) or hands the daemon's to run(); the alert
 * subcommands go to alerts/cli.c. Runs on the main thread. */
#include "gateway/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "county/county.h"
#include "devices/bus.h"
#include "video/video.h"

void cli_print_errors(const struct cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(stderr, "%s\n", e->msgs[i]);
}
static int cmd_check(const char *path)
{
	struct cfg_errors errs = {0};
	struct hw_config *cfg = NULL;

	if (config_load(path, &cfg, &errs) < 0) {
		cli_print_errors(&errs);
		cfg_errors_clear(&errs);
		return 1;
	}
	printf("%s: ok (site %s, %zu bus(es), %zu device(s), %zu profile(s))\n", path, cfg->site.id,
	       cfg->n_buses, cfg->n_devices, cfg->n_profiles);
	config_free(cfg);
	return 0;
}

/* hallwatch snapshot -c FILE CAMERA OUT.jpg | clip -c FILE CAMERA FROM TO OUT.mp4 */
static int cmd_video(const char *cmd, const char *path, char **pos, int npos)
{
	struct cfg_errors errs = {0};
	struct hw_config *cfg = NULL;
	const struct cfg_camera *cam = NULL;
	int64_t from, to;
	int rc;

	if (npos != (strcmp(cmd, "clip") == 0 ? 4 : 2)) {
		fprintf(stderr, "hallwatch: %s: wrong number of arguments\n", cmd);
		return 2;
	}
	if (config_load(path, &cfg, &errs) < 0) {
		cli_print_errors(&errs);
		cfg_errors_clear(&errs);
		return 1;
	}
	for (size_t i = 0; i < cfg->n_cameras; i++)
		if (strcmp(cfg->cameras[i].id, pos[0]) == 0)
			cam = &cfg->cameras[i];
	if (!cam) {
		fprintf(stderr, "hallwatch: no camera %s in %s\n", pos[0], path);
		rc = -ENOENT;
	} else if (strcmp(cmd, "snapshot") == 0) {
		rc = video_snapshot_direct(cam, pos[1], 10000);
	} else if (video_parse_time(pos[1], &from) < 0 || video_parse_time(pos[2], &to) < 0) {
		fprintf(stderr, "hallwatch: clip: times are seconds since the epoch or "
				"YYYY-MM-DDTHH:MM:SS[Z]\n");
		rc = -EINVAL;
	} else {
		rc = video_clip_offline(cfg, cam->id, from, to, pos[3]);
	}
	if (rc < 0 && cam)
		fprintf(stderr, "hallwatch: %s of %s failed: %s\n", cmd, cam->id, strerror(-rc));
	config_free(cfg);
	return rc < 0 ? 1 : 0;
}

/* hallwatch command -c FILE DEVICE COMMAND [--user NAME]: runs one profile command on a
 * device over a connection of its own (not through a running daemon), under the same
 * allow_commands authorisation, logged with who asked. */
static int cmd_command(const char *path, char **pos, int npos, const char *user)
{
	struct cfg_errors errs = {0};
	struct hw_config *cfg = NULL;
	const struct cfg_device *d = NULL;
	char who[128];
	int rc;

	if (npos != 2) {
		fprintf(stderr, "usage: hallwatch command -c FILE DEVICE COMMAND [--user NAME]\n");
		return 2;
	}
	if (config_load(path, &cfg, &errs) < 0) {
		cli_print_errors(&errs);
		cfg_errors_clear(&errs);
		return 1;
	}
	for (size_t i = 0; i < cfg->n_devices; i++)
		if (strcmp(cfg->devices[i].id, pos[0]) == 0)
			d = &cfg->devices[i];
	if (!d) {
		fprintf(stderr, "hallwatch: no device %s in %s\n", pos[0], path);
		config_free(cfg);
		return 1;
	}
	snprintf(who, sizeof(who), "%s (command line)",
		 user ? user : (getenv("USER") ? getenv("USER") : "unknown"));
	rc = mb_command_once(d, pos[1], who);
	if (rc < 0)
		fprintf(stderr, "hallwatch: command %s on %s: %s\n", pos[1], pos[0],
			rc == -EPERM	? "not allowed (allow_commands)"
			: rc == -ENOENT ? "no such command in the device's profile"
					: strerror(-rc));
	else
		printf("%s: %s done\n", pos[0], pos[1]);
	config_free(cfg);
	return rc < 0 ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hallwatch run -c FILE [--log-level error|warn|info|debug]\n"
		   "       hallwatch check-config -c FILE\n"
		   "       hallwatch command -c FILE DEVICE COMMAND [--user NAME]\n"
		   "       hallwatch alerts -c FILE\n"
		   "       hallwatch ack -c FILE ID [--user NAME]\n"
		   "       hallwatch shelve -c FILE ID --for 2h --reason TEXT [--user NAME]\n"
		   "       hallwatch unshelve -c FILE ID [--user NAME]\n"
		   "       hallwatch snapshot -c FILE CAMERA OUT.jpg\n"
		   "       hallwatch clip -c FILE CAMERA FROM TO OUT.mp4\n"
		   "       hallwatch version\n");
}

int cli_main(int argc, char **argv, int (*run)(const char *path))
{
	const char *cmd, *path = NULL;
	enum hw_log_level lvl = HW_LOG_INFO;
	char *pos[4];
	int npos = 0;
	const char *user = NULL;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (alert_cli_handles(cmd))
		return alert_cli_main(argc, argv);
	if (strcmp(cmd, "county") == 0)
		return county_main(argc, argv);
	for (int i = 2; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
			if (hw_log_parse_level(argv[++i], &lvl) < 0) {
				fprintf(stderr, "hallwatch: unknown log level %s\n", argv[i]);
				return 2;
			}
		} else if (argv[i][0] != '-' && npos < 4 &&
			   (strcmp(cmd, "snapshot") == 0 || strcmp(cmd, "clip") == 0 ||
			    strcmp(cmd, "command") == 0)) {
			pos[npos++] = argv[i];
		} else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc &&
			   strcmp(cmd, "command") == 0) {
			user = argv[++i];
		} else {
			fprintf(stderr, "hallwatch: unexpected argument %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	hw_log_set_level(lvl);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("hallwatch %s\n", HW_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (!path) {
		fprintf(stderr, "hallwatch: %s needs -c FILE\n", cmd);
		return 2;
	}
	if (strcmp(cmd, "run") == 0)
		return run(path);
	if (strcmp(cmd, "check-config") == 0)
		return cmd_check(path);
	if (strcmp(cmd, "snapshot") == 0 || strcmp(cmd, "clip") == 0)
		return cmd_video(cmd, path, pos, npos);
	if (strcmp(cmd, "command") == 0)
		return cmd_command(path, pos, npos, user);
	fprintf(stderr, "hallwatch: unknown command %s\n", cmd);
	usage(stderr);
	return 2;
}

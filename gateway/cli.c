/* The command line: one table of subcommands with their options, usage and handler. run starts
 * the daemon and check-config reads the configuration; every other verb goes through the
 * running daemon as a cmd/<verb> request (router/cmdclient.h), the alert verbs through
 * alerts/cli.c. Runs on the main thread. */
#include "gateway/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerts/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "core/timeparse.h"
#include "router/cmdclient.h"
#include "county/county.h"
#include "video/video.h"
#include "web/passwd.h"

void cli_print_errors(const struct cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(stderr, "%s\n", e->msgs[i]);
}

/* Options: each takes a value but --history and -h. */
enum {
	O_CONFIG = 1u << 0,
	O_USER = 1u << 1,
	O_FOR = 1u << 2,
	O_REASON = 1u << 3,
	O_HISTORY = 1u << 4,
	O_FROM = 1u << 5,
	O_TO = 1u << 6,
	O_LIMIT = 1u << 7,
	O_LOGLEVEL = 1u << 8,
	O_PARTIAL = 1u << 9,
	O_KIND = 1u << 10,
	O_PLAN = 1u << 11,
	O_VERDICT = 1u << 12,
	O_NOTE = 1u << 13,
	O_STATE = 1u << 14,
	O_MONTH = 1u << 15,
	O_OUT = 1u << 16,
	O_AMEND = 1u << 17,
};

static const struct {
	unsigned bit;
	const char *name, *alias;
	bool value;
} options[] = {
    {O_CONFIG, "--config", "-c", true},
    {O_USER, "--user", NULL, true},
    {O_FOR, "--for", NULL, true},
    {O_REASON, "--reason", NULL, true},
    {O_HISTORY, "--history", NULL, false},
    {O_FROM, "--from", NULL, true},
    {O_TO, "--to", NULL, true},
    {O_LIMIT, "--limit", NULL, true},
    {O_LOGLEVEL, "--log-level", NULL, true},
    {O_PARTIAL, "--partial", NULL, false},
    {O_KIND, "--kind", NULL, true},
    {O_PLAN, "--plan", NULL, true},
    {O_VERDICT, "--verdict", NULL, true},
    {O_NOTE, "--note", NULL, true},
    {O_STATE, "--state", NULL, true},
    {O_MONTH, "--month", NULL, true},
    {O_OUT, "--out", NULL, true},
    {O_AMEND, "--amend", NULL, false},
};

struct cli {
	const struct sub *sub;
	const char *path;
	const char *opt[24]; /* by option bit number */
	char *pos[4];
	int npos;
	int (*run)(const char *path);
	struct hw_config *cfg;
};

static const char *opt(const struct cli *c, unsigned bit)
{
	return c->opt[__builtin_ctz(bit)];
}

struct sub {
	const char *name;
	const char *synopsis; /* after "hallwatch NAME " */
	const char *help;     /* what it does, lines indented by two */
	unsigned opts;
	int min_pos, max_pos;
	int (*fn)(struct cli *c);
};

static const char *user_of(const struct cli *c)
{
	const char *u = opt(c, O_USER);

	if (u)
		return u;
	return getenv("USER") && *getenv("USER") ? getenv("USER") : "operator";
}

/* Sends one request; prints why it failed or was refused. Returns 0 (accepted: *reply),
 * 1 (failed or refused). */
static int call(struct cli *c, const char *verb, json_t *body, int timeout_ms, json_t **reply)
{
	char err[512];
	int rc =
	    cmdclient_request(c->cfg, verb, body, user_of(c), timeout_ms, reply, err, sizeof(err));

	json_decref(body);
	if (rc < 0) {
		fprintf(stderr, "hallwatch: %s\n", err);
		return 1;
	}
	if (!cmdclient_ok(*reply, err, sizeof(err))) {
		fprintf(stderr, "hallwatch: %s refused: %s\n", c->sub->name, err);
		json_decref(*reply);
		*reply = NULL;
		return 1;
	}
	return 0;
}

static int reply_timeout(const struct cli *c, int at_least_ms)
{
	return MAX(c->cfg->alerts.reply_timeout_ms, at_least_ms);
}

/* A time option or argument in the site's time zone; says which forms are taken. */
static int time_arg(const struct cli *c, const char *what, const char *s, int64_t *ms)
{
	if (timeparse(s, c->cfg->site.timezone, ms) == 0)
		return 0;
	fprintf(stderr, "hallwatch %s: %s \"%s\" is not a time: %s\n", c->sub->name, what, s,
		TIMEPARSE_FORMATS);
	return -EINVAL;
}

static int do_run(struct cli *c)
{
	enum hw_log_level lvl = HW_LOG_INFO;

	if (opt(c, O_LOGLEVEL) && hw_log_parse_level(opt(c, O_LOGLEVEL), &lvl) < 0) {
		fprintf(stderr, "hallwatch run: unknown log level %s\n", opt(c, O_LOGLEVEL));
		return 2;
	}
	hw_log_set_level(lvl);
	return c->run(c->path);
}

static int do_check(struct cli *c)
{
	struct hw_config *cfg = c->cfg;

	printf("%s: ok (site %s, %zu bus(es), %zu device(s), %zu profile(s))\n", c->path,
	       cfg->site.id, cfg->n_buses, cfg->n_devices, cfg->n_profiles);
	return 0;
}

/* cmd/device: the daemon queues it on the device's bus, which logs it with who asked. */
static int do_command(struct cli *c)
{
	json_t *reply;
	const char *msg;

	if (call(c, "device", json_pack("{s:s, s:s}", "device", c->pos[0], "command", c->pos[1]),
		 reply_timeout(c, 0), &reply))
		return 1;
	msg = json_string_value(json_object_get(reply, "message"));
	printf("%s: %s %s\n", c->pos[0], c->pos[1], msg ? msg : "accepted");
	json_decref(reply);
	return 0;
}

/* Copies the file the daemon wrote (src) to dst; the CLI may run as another user, who may
 * not read it. Returns 0 or -errno, *which_end saying which side failed. */
static int copy_file(const char *src, const char *dst, const char **which)
{
	char buf[65536];
	int in, out, rc = 0;
	ssize_t n;

	*which = src;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	*which = dst;
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = errno ? -errno : -EIO;
			break;
		}
	if (n < 0) {
		*which = src;
		rc = -errno;
	}
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	close(in);
	if (rc < 0)
		unlink(dst);
	return rc;
}

/* The reply of snapshot or clip names the file the daemon wrote: printed, or copied to out. */
static int fetch(struct cli *c, const json_t *reply, const char *what, const char *out)
{
	const char *path = json_string_value(json_object_get(reply, "path")), *which;
	int rc;

	if (!path) {
		fprintf(stderr, "hallwatch: the gateway's reply names no file\n");
		return 1;
	}
	if (!out) {
		printf("%s of %s: %s\n", what, c->pos[0], path);
		return 0;
	}
	rc = copy_file(path, out, &which);
	if (rc == 0) {
		printf("%s of %s: %s (copied from %s)\n", what, c->pos[0], out, path);
		return 0;
	}
	if (which == path)
		fprintf(
		    stderr,
		    "hallwatch: the gateway wrote the %s to %s, but this user cannot read it (%s): "
		    "run the command as the gateway's user, or leave out the output file to get "
		    "the path\n",
		    what, path, strerror(-rc));
	else
		fprintf(stderr, "hallwatch: the gateway wrote the %s to %s; copying it to %s: %s\n",
			what, path, out, strerror(-rc));
	return 1;
}

static int do_snapshot(struct cli *c)
{
	json_t *reply;
	int rc;

	if (call(c, "snapshot", json_pack("{s:s}", "camera", c->pos[0]),
		 reply_timeout(c, VIDEO_SNAPSHOT_TIMEOUT_MS + 5000), &reply))
		return 1;
	rc = fetch(c, reply, "snapshot", c->npos > 1 ? c->pos[1] : NULL);
	json_decref(reply);
	return rc;
}

static int do_clip(struct cli *c)
{
	int64_t from, to;
	json_t *reply;
	int rc;

	if (time_arg(c, "FROM", c->pos[1], &from) < 0 || time_arg(c, "TO", c->pos[2], &to) < 0)
		return 2;
	if (call(c, "clip",
		 json_pack("{s:s, s:I, s:I, s:b}", "camera", c->pos[0], "from",
			   (json_int_t)(from / 1000), "to", (json_int_t)((to + 999) / 1000),
			   "partial", opt(c, O_PARTIAL) != NULL),
		 reply_timeout(c, 60000), &reply))
		return 1;
	/* A partial clip says what it lacks: on stderr, beside the file's name on stdout. */
	if (json_is_string(json_object_get(reply, "missing")))
		fprintf(stderr, "hallwatch: partial clip: %s\n",
			json_string_value(json_object_get(reply, "missing")));
	rc = fetch(c, reply, "clip", c->npos > 3 ? c->pos[3] : NULL);
	json_decref(reply);
	return rc;
}

static void print_span(const char *tz, int64_t a, int64_t b, const char *tail)
{
	char s[48], e[48];
	int64_t d = (b - a + 500) / 1000;

	printf("%-25s  %-25s  %3lld:%02lld:%02lld  %s\n", timeparse_format(a, tz, s, sizeof(s)),
	       timeparse_format(b, tz, e, sizeof(e)), (long long)(d / 3600),
	       (long long)(d / 60 % 60), (long long)(d % 60), tail);
}

/* cmd/recordings: the camera's segments in a range and the gaps between them. */
static int do_recordings(struct cli *c)
{
	const char *tz = c->cfg->site.timezone;
	int64_t to = g_get_real_time() / 1000, from = to - 24 * 3600 * 1000LL;
	json_t *reply, *v;
	size_t i, nseg = 0, ngap = 0;
	int64_t rec = 0;

	if ((opt(c, O_FROM) && time_arg(c, "--from", opt(c, O_FROM), &from) < 0) ||
	    (opt(c, O_TO) && time_arg(c, "--to", opt(c, O_TO), &to) < 0))
		return 2;
	if (call(c, "recordings",
		 json_pack("{s:s, s:I, s:I}", "camera", c->pos[0], "from",
			   (json_int_t)(from / 1000), "to", (json_int_t)((to + 999) / 1000)),
		 reply_timeout(c, 0), &reply))
		return 1;
	printf("%-25s  %-25s  %9s  %s\n", "START", "END", "DURATION", "FILE");
	json_array_foreach(json_object_get(reply, "items"), i, v)
	{
		int64_t a = json_integer_value(json_object_get(v, "start")),
			b = json_integer_value(json_object_get(v, "end"));
		const char *path = json_string_value(json_object_get(v, "path"));
		char tail[4200];

		if (path) {
			snprintf(tail, sizeof(tail), "%s%s", path,
				 json_is_true(json_object_get(v, "open")) ? " (being written)"
				 : json_is_true(json_object_get(v, "unclosed"))
				     ? " (not closed: end unknown)"
				     : "");
			nseg++;
			rec += b - a;
		} else {
			snprintf(tail, sizeof(tail), "-- gap: nothing recorded --");
			ngap++;
		}
		print_span(tz, a, b, tail);
	}
	printf("%zu segment(s), %lld s recorded, %zu gap(s)\n", nseg, (long long)(rec / 1000),
	       ngap);
	json_decref(reply);
	return 0;
}

static int do_alerts(struct cli *c)
{
	struct alert_cli_args a = {.verb = c->sub->name,
				   .id = c->npos ? c->pos[0] : NULL,
				   .user = user_of(c),
				   .dur = opt(c, O_FOR),
				   .reason = opt(c, O_REASON),
				   .history = opt(c, O_HISTORY) != NULL,
				   .tz = c->cfg->site.timezone};
	char *end;

	if (!a.history && (opt(c, O_FROM) || opt(c, O_TO) || opt(c, O_LIMIT))) {
		fprintf(stderr, "hallwatch alerts: --from, --to and --limit go with --history\n");
		return 2;
	}
	if ((opt(c, O_FROM) && time_arg(c, "--from", opt(c, O_FROM), &a.from_ms) < 0) ||
	    (opt(c, O_TO) && time_arg(c, "--to", opt(c, O_TO), &a.to_ms) < 0))
		return 2;
	if (opt(c, O_LIMIT)) {
		long n = strtol(opt(c, O_LIMIT), &end, 10);

		if (*end || end == opt(c, O_LIMIT) || n < 1 || n > 1000) {
			fprintf(stderr, "hallwatch alerts: --limit is a number from 1 to 1000\n");
			return 2;
		}
		a.limit = (int)n;
	}
	if (strcmp(a.verb, "shelve") == 0 && (!a.dur || !a.reason)) {
		fprintf(stderr, "hallwatch shelve: needs --for DURATION and --reason TEXT\n");
		return 2;
	}
	return alert_cli_run(c->cfg, &a);
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static const char *jtime(const struct cli *c, const json_t *o, const char *key, char *buf, size_t n)
{
	json_int_t ms = json_integer_value(json_object_get(o, key));

	if (ms <= 0)
		return "-";
	return timeparse_format(ms, c->cfg->site.timezone, buf, n);
}

/* cmd/records: the records of patrols, checks and tests, newest first. */
static int do_records(struct cli *c)
{
	int64_t from = 0, to = 0;
	long limit = 100;
	json_t *body = json_object(), *reply, *v;
	char *end;
	size_t i;

	if ((opt(c, O_FROM) && time_arg(c, "--from", opt(c, O_FROM), &from) < 0) ||
	    (opt(c, O_TO) && time_arg(c, "--to", opt(c, O_TO), &to) < 0)) {
		json_decref(body);
		return 2;
	}
	if (opt(c, O_LIMIT)) {
		limit = strtol(opt(c, O_LIMIT), &end, 10);
		if (*end || end == opt(c, O_LIMIT) || limit < 1 || limit > 1000) {
			fprintf(stderr, "hallwatch records: --limit is a number from 1 to 1000\n");
			json_decref(body);
			return 2;
		}
	}
	if (opt(c, O_KIND))
		json_object_set_new(body, "kind", json_string(opt(c, O_KIND)));
	if (opt(c, O_PLAN))
		json_object_set_new(body, "plan", json_string(opt(c, O_PLAN)));
	if (from)
		json_object_set_new(body, "from", json_integer(from / 1000));
	if (to)
		json_object_set_new(body, "to", json_integer((to + 999) / 1000));
	json_object_set_new(body, "limit", json_integer(limit));
	if (call(c, "records", body, reply_timeout(c, 0), &reply))
		return 1;
	printf("%-6s  %-25s  %-14s  %-16s  %-12s  %-9s  %-10s  %s\n", "ID", "ENDED", "KIND", "PLAN",
	       "TARGET", "RESULT", "BY", "REVIEW");
	json_array_foreach(json_object_get(reply, "records"), i, v)
	{
		const json_t *rv = json_object_get(v, "review");
		char t[48], rev[160];

		if (json_is_object(rv))
			snprintf(rev, sizeof(rev), "%s by %s", jstr(rv, "verdict"), jstr(rv, "by"));
		else
			snprintf(rev, sizeof(rev), "-");
		printf("%-6lld  %-25s  %-14s  %-16s  %-12s  %-9s  %-10s  %s\n",
		       (long long)json_integer_value(json_object_get(v, "id")),
		       jtime(c, v, "ended", t, sizeof(t)), jstr(v, "kind"), jstr(v, "plan"),
		       jstr(v, "target"), jstr(v, "result"), jstr(v, "by"), rev);
	}
	printf("%zu record(s)\n", json_array_size(json_object_get(reply, "records")));
	json_decref(reply);
	return 0;
}

/* cmd/review: an inspector's verdict on a record. */
static int do_review(struct cli *c)
{
	const char *verdict = opt(c, O_VERDICT);
	char *end;
	long long id = strtoll(c->pos[0], &end, 10);
	json_t *reply, *body;

	if (*end || id <= 0) {
		fprintf(stderr, "hallwatch review: ID is a record's number\n");
		return 2;
	}
	if (!verdict || (strcmp(verdict, "accepted") != 0 && strcmp(verdict, "rejected") != 0)) {
		fprintf(stderr, "hallwatch review: needs --verdict accepted|rejected\n");
		return 2;
	}
	body = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)id, "verdict", verdict, "note",
			 opt(c, O_NOTE) ? opt(c, O_NOTE) : "", "amend", opt(c, O_AMEND) != NULL);
	if (call(c, "review", body, reply_timeout(c, 0), &reply))
		return 1;
	printf("record %lld: %s by %s\n", id, verdict, user_of(c));
	json_decref(reply);
	return 0;
}

/* cmd/tickets: rectification tickets with their transitions. */
static int do_tickets(struct cli *c)
{
	json_t *body = json_object(), *reply, *v, *tr;
	size_t i, k;

	if (opt(c, O_STATE))
		json_object_set_new(body, "state", json_string(opt(c, O_STATE)));
	json_object_set_new(body, "limit", json_integer(1000));
	if (call(c, "tickets", body, reply_timeout(c, 0), &reply))
		return 1;
	json_array_foreach(json_object_get(reply, "tickets"), i, v)
	{
		char a[48], b[48];

		printf("%s  %s  %s  opened %s  closed %s  %s\n", jstr(v, "ticket"),
		       jstr(v, "target"), jstr(v, "state"), jtime(c, v, "opened", a, sizeof(a)),
		       jtime(c, v, "closed", b, sizeof(b)), jstr(v, "text"));
		json_array_foreach(json_object_get(v, "transitions"), k, tr)
		    printf("    %s  %s -> %s  by %s%s%s\n", jtime(c, tr, "t", a, sizeof(a)),
			   jstr(tr, "from"), jstr(tr, "to"), jstr(tr, "by"),
			   *jstr(tr, "note") ? ": " : "", jstr(tr, "note"));
	}
	printf("%zu ticket(s)\n", json_array_size(json_object_get(reply, "tickets")));
	json_decref(reply);
	return 0;
}

/* cmd/report: the daemon writes the month's HTML and CSV; --out DIR copies them there. */
static int do_report(struct cli *c)
{
	const char *month = opt(c, O_MONTH), *out = opt(c, O_OUT), *which;
	const char *paths[2];
	json_t *reply;
	int rc = 0;

	if (!month) {
		fprintf(stderr, "hallwatch report: needs --month YYYY-MM\n");
		return 2;
	}
	if (call(c, "report", json_pack("{s:s}", "month", month), reply_timeout(c, 60000), &reply))
		return 1;
	paths[0] = json_string_value(json_object_get(reply, "path"));
	paths[1] = json_string_value(json_object_get(reply, "csv"));
	for (int i = 0; i < 2 && rc == 0; i++) {
		char *base, *dst;

		if (!paths[i]) {
			fprintf(stderr, "hallwatch: the gateway's reply names no file\n");
			rc = 1;
			break;
		}
		if (!out) {
			printf("%s\n", paths[i]);
			continue;
		}
		base = g_path_get_basename(paths[i]);
		dst = g_build_filename(out, base, NULL);
		int crc = copy_file(paths[i], dst, &which);

		if (crc == 0) {
			printf("%s (copied from %s)\n", dst, paths[i]);
		} else {
			fprintf(stderr,
				"hallwatch: the gateway wrote %s; copying it to %s failed (%s): "
				"leave out --out to get the path\n",
				paths[i], dst, strerror(-crc));
			rc = 1;
		}
		g_free(base);
		g_free(dst);
	}
	json_decref(reply);
	return rc;
}

static const struct sub subs[] = {
    {"run", "-c FILE [--log-level error|warn|info|debug]",
     "  Runs the gateway (the daemon) with the configuration FILE.\n", O_CONFIG | O_LOGLEVEL, 0, 0,
     do_run},
    {"check-config", "-c FILE",
     "  Loads FILE and the profiles it names and prints every error as FILE:LINE: message.\n",
     O_CONFIG, 0, 0, do_check},
    {"command", "-c FILE DEVICE COMMAND [--user NAME]",
     "  Asks the running gateway to send COMMAND of the device's profile (one its\n"
     "  allow_commands names) on the device's bus; the gateway logs it with who asked.\n",
     O_CONFIG | O_USER, 2, 2, do_command},
    {"alerts", "-c FILE [--history [--from TIME] [--to TIME] [--limit N]]",
     "  The open alerts; with --history the alert event log (raised, acknowledged,\n"
     "  cleared, commands...), the latest N (default 100) in the range, oldest first.\n",
     O_CONFIG | O_USER | O_HISTORY | O_FROM | O_TO | O_LIMIT, 0, 0, do_alerts},
    {"ack", "-c FILE ID [--user NAME]", "  Acknowledges the alert ID.\n", O_CONFIG | O_USER, 1, 1,
     do_alerts},
    {"shelve", "-c FILE ID --for DURATION --reason TEXT [--user NAME]",
     "  Shelves the alert ID (P2..P5) for DURATION (90, 1.5h, 2d) with a reason.\n",
     O_CONFIG | O_USER | O_FOR | O_REASON, 1, 1, do_alerts},
    {"unshelve", "-c FILE ID [--user NAME]", "  Ends the shelving of the alert ID.\n",
     O_CONFIG | O_USER, 1, 1, do_alerts},
    {"snapshot", "-c FILE CAMERA [OUT.jpg] [--user NAME]",
     "  The gateway writes a JPEG of the camera's latest picture under its state_dir and\n"
     "  names it; with OUT.jpg it is copied there (when this user may read it).\n",
     O_CONFIG | O_USER, 1, 2, do_snapshot},
    {"clip", "-c FILE CAMERA FROM TO [OUT.mp4] [--partial] [--user NAME]",
     "  The gateway cuts a clip of the recordings from FROM to TO (at most 600 s) under its\n"
     "  state_dir and names it; with OUT.mp4 it is copied there (when this user may read it).\n"
     "  A range not wholly recorded is refused with what is missing; --partial cuts what\n"
     "  exists and says what is missing.\n",
     O_CONFIG | O_USER | O_PARTIAL, 3, 4, do_clip},
    {"recordings", "-c FILE CAMERA [--from TIME] [--to TIME]",
     "  The camera's recorded segments (start, end, duration, file) and the gaps between\n"
     "  them, from --from (default: 24 h ago) to --to (default: now).\n",
     O_CONFIG | O_USER | O_FROM | O_TO, 1, 1, do_recordings},
    {"records", "-c FILE [--kind K] [--plan P] [--from TIME] [--to TIME] [--limit N] [--user NAME]",
     "  The records of patrols, checks and tests (newest first, the latest N, default 100):\n"
     "  when each ended, its plan, target, result, who, and an inspector's review.\n"
     "  K: video_patrol, staff_patrol, fire_check, function_test, duration_test.\n",
     O_CONFIG | O_USER | O_KIND | O_PLAN | O_FROM | O_TO | O_LIMIT, 0, 0, do_records},
    {"review", "-c FILE ID --verdict accepted|rejected [--note TEXT] [--amend] --user NAME",
     "  An inspector's review of the record ID (see records) with a verdict and a note; a\n"
     "  record already reviewed is refused unless --amend. Needs an operator's identity\n"
     "  over MQTT (the console's inspectors review through it).\n",
     O_CONFIG | O_USER | O_VERDICT | O_NOTE | O_AMEND, 1, 1, do_review},
    {"tickets", "-c FILE [--state S] [--user NAME]",
     "  Rectification tickets, open and closed, each with its transitions (who, when, a\n"
     "  note). S: open, assigned, repairing, pending_verify, closed, reopened.\n",
     O_CONFIG | O_USER | O_STATE, 0, 0, do_tickets},
    {"report", "-c FILE --month YYYY-MM [--out DIR] [--user NAME]",
     "  The gateway writes the month's inspection report under its state_dir/reports: a\n"
     "  printable HTML page (patrol completion, tests, tickets and times to repair, camera\n"
     "  availability and footage kept, reviews) and a CSV of the same numbers, and names\n"
     "  them; with --out DIR they are copied there (when this user may read them).\n",
     O_CONFIG | O_USER | O_MONTH | O_OUT, 0, 0, do_report},
};

static const char times_help[] =
    "TIME: seconds since the epoch (1796263200), ISO 8601 with an offset\n"
    "(2026-12-03T10:00:00+08:00, ...Z), or the site's local time (2026-12-03 10:00, "
    "site.timezone).\n";

static void sub_usage(FILE *f, const struct sub *s, bool full)
{
	fprintf(f, "usage: hallwatch %s %s\n", s->name, s->synopsis);
	if (!full)
		return;
	fputs(s->help, f);
	if (s->fn != do_run && s->fn != do_check)
		fputs(
		    "  Through the running gateway (cmd/ over MQTT, with the session settings of "
		    "the\n"
		    "  configuration's mqtt section); --user NAME is who asks (default: $USER).\n",
		    f);
	if (s->opts & O_FROM || s->fn == do_clip)
		fputs(times_help, f);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: hallwatch COMMAND [options]\n\n");
	for (size_t i = 0; i < G_N_ELEMENTS(subs); i++)
		fprintf(f, "  hallwatch %s %s\n", subs[i].name, subs[i].synopsis);
	fprintf(f,
		"  hallwatch passwd [--stdin | --token]\n"
		"  hallwatch county -c COUNTY.cfg | county report -c COUNTY.cfg --month YYYY-MM\n"
		"  hallwatch version\n  hallwatch help [COMMAND]\n\n"
		"`hallwatch COMMAND --help` says more about each.\n");
}

static const struct sub *find_sub(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(subs); i++)
		if (strcmp(subs[i].name, name) == 0)
			return &subs[i];
	return NULL;
}

/* Reads the options and arguments of c->sub from argv[2..]. Returns -1 to go on, or the exit
 * code (0 for --help). */
static int parse(struct cli *c, int argc, char **argv)
{
	const struct sub *s = c->sub;

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		size_t k;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			sub_usage(stdout, s, true);
			return 0;
		}
		if (a[0] != '-' || a[1] == '\0') {
			if (c->npos == s->max_pos) {
				fprintf(stderr, "hallwatch %s: unexpected argument \"%s\"\n",
					s->name, a);
				sub_usage(stderr, s, false);
				return 2;
			}
			c->pos[c->npos++] = argv[i];
			continue;
		}
		for (k = 0; k < G_N_ELEMENTS(options); k++)
			if (strcmp(a, options[k].name) == 0 ||
			    (options[k].alias && strcmp(a, options[k].alias) == 0))
				break;
		if (k == G_N_ELEMENTS(options) || !(s->opts & options[k].bit)) {
			fprintf(stderr, "hallwatch %s: unknown option %s\n", s->name, a);
			sub_usage(stderr, s, false);
			return 2;
		}
		if (options[k].value && i + 1 >= argc) {
			fprintf(stderr, "hallwatch %s: %s needs a value\n", s->name, a);
			return 2;
		}
		c->opt[__builtin_ctz(options[k].bit)] = options[k].value ? argv[++i] : a;
	}
	c->path = opt(c, O_CONFIG);
	if (!c->path) {
		fprintf(stderr, "hallwatch %s: needs -c FILE (the gateway's configuration)\n",
			s->name);
		sub_usage(stderr, s, false);
		return 2;
	}
	if (c->npos < s->min_pos) {
		fprintf(stderr, "hallwatch %s: missing arguments\n", s->name);
		sub_usage(stderr, s, false);
		return 2;
	}
	return -1;
}

int cli_main(int argc, char **argv, int (*run)(const char *path))
{
	struct cli c = {.run = run};
	struct cfg_errors errs = {0};
	const char *cmd;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "passwd") == 0) /* needs no configuration: web/passwd.c */
		return web_passwd_main(argc, argv);
	if (strcmp(cmd, "county") == 0) /* the county mode: county/county.c */
		return county_main(argc, argv);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("hallwatch %s\n", HW_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		const struct sub *s = argc > 2 ? find_sub(argv[2]) : NULL;

		if (argc > 2 && strcmp(argv[2], "county") == 0)
			return county_main(3, (char *[]){argv[0], "county", "--help", NULL});
		if (argc > 2 && strcmp(argv[2], "passwd") == 0)
			return web_passwd_main(3, (char *[]){argv[0], "passwd", "--help", NULL});
		if (argc > 2 && !s) {
			fprintf(stderr, "hallwatch: unknown command \"%s\"\n", argv[2]);
			return 2;
		}
		if (s)
			sub_usage(stdout, s, true);
		else
			usage(stdout);
		return 0;
	}
	c.sub = find_sub(cmd);
	if (!c.sub) {
		fprintf(stderr,
			"hallwatch: unknown command \"%s\" (`hallwatch --help` lists them)\n", cmd);
		return 2;
	}
	rc = parse(&c, argc, argv);
	if (rc >= 0)
		return rc;
	if (c.sub->fn == do_run)
		return do_run(&c); /* the daemon loads and reloads its configuration itself */
	if (config_load(c.path, &c.cfg, &errs) < 0) {
		cli_print_errors(&errs);
		cfg_errors_clear(&errs);
		return 1;
	}
	rc = c.sub->fn(&c);
	config_free(c.cfg);
	return rc;
}

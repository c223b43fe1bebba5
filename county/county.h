/* The county mode of hallwatch: `hallwatch county -c county.cfg` watches every hall on the
 * county broker and keeps the roll-up (docs/county.md); `hallwatch county report -c
 * county.cfg --month YYYY-MM` prints the ranking of the month as CSV.
 *
 * For a web page on the same main loop: county_picture() gives the picture of every hall
 * as JSON, and a listener is called with every change (a hall's new picture, an item of the
 * alarm feed). All of it on the main loop's thread. */
#ifndef HW_COUNTY_H
#define HW_COUNTY_H

#include <jansson.h>
#include <stdint.h>

struct county;
struct county_cfg;

/* kind "hall": obj is the hall's picture (as in county_picture's "halls");
 * kind "alarm": obj is an item of the alarm feed (docs/county.md, "The alarm feed");
 * kind "record": obj is a hall's inspection event (a patrol's record, counted once);
 * kind "rebuilt": the picture is whole again after a (re)connect.
 * obj is (transfer none): valid during the call only. */
typedef void (*county_listener_fn)(const char *kind, const json_t *obj, void *ud);

/* Starts the county on the default GLib main context: opens its database, connects to the
 * broker (the network thread of libmosquitto hands every message to the main loop).
 * cfg stays owned by the caller and must outlive the county. Returns 0 or -errno. */
int county_create(const struct county_cfg *cfg, struct county **out);
void county_destroy(struct county *c); /* writes the days out; accepts NULL */

/* The picture of every hall (transfer full):
 * {"t":ms,"summary":{...},"halls":[{...}, ...],"halls_expected":N}. */
json_t *county_picture(struct county *c);
/* The picture of one hall, or NULL if unknown (transfer full). */
json_t *county_hall(struct county *c, const char *site);

/* Adds / removes a listener (at most 16). Returns 0, -ENOSPC or -ENOENT. */
int county_listen(struct county *c, county_listener_fn fn, void *ud);
int county_unlisten(struct county *c, county_listener_fn fn, void *ud);

/* The reply to a command (transfer none): the hall's JSON reply, or {"ok":false,
 * "error":"timeout"} when none came within the time. */
typedef void (*county_reply_fn)(const json_t *reply, void *ud);

/* Sends cmd/<verb> to site (MQTT v5 request/response, docs/commands.md) with args (NULL:
 * {}) as user (the user property); fn is called once with the reply or the timeout.
 * Returns 0, -EINVAL (a bad site or verb) or -EIO (not sent). */
int county_command(struct county *c, const char *site, const char *verb, const json_t *args,
		   const char *user, int timeout_ms, county_reply_fn fn, void *ud);
/* Forgets the waiting commands of ud (their fn is not called). */
void county_command_cancel(struct county *c, void *ud);

/* The ranking of halls over days [from_day, to_day] (days since the epoch) as a JSON array
 * of rows, the columns of `county report` (transfer full), or NULL. */
json_t *county_ranking(struct county *c, int64_t from_day, int64_t to_day);

/* The configuration the county runs with (transfer none). */
const struct county_cfg *county_config(const struct county *c);

/* The command line: argv[1] is "county". Returns the exit code. */
int county_main(int argc, char **argv);

#endif

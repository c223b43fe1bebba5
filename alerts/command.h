/* The pure half of the command path (cmd/<verb>): a request read into bounded fields
 * under the one identity rule, its duration, and the limiter that keeps a flood of
 * requests that changed nothing out of the audit log. No I/O, no globals, the clock
 * passed in; the alert service calls it on the main loop thread. */
#ifndef HW_ALERT_COMMAND_H
#define HW_ALERT_COMMAND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts/engine.h"

/* Bounds of a request, in bytes; above them it is refused (-EMSGSIZE, "too_large"). The
 * user, id and reason fit the alert's own fields whole. */
#define ALERT_CMD_PAYLOAD_MAX 4096
#define ALERT_CMD_VERB_MAX 32
#define ALERT_CMD_USER_MAX (ALERT_NAME_MAX - 1)
#define ALERT_CMD_ID_MAX (ALERT_ID_MAX - 1)
#define ALERT_CMD_REASON_MAX (ALERT_TEXT_MAX - 1)
#define ALERT_CMD_FIELD_MAX 128 /* request_id, device, command, camera */

/* A request. The strings point into doc or into the inputs of alert_cmd_parse (transfer
 * none); NULL when absent, not a string, or refused for its size. */
struct alert_cmd_req {
	const char *verb;
	const char *user; /* the identity: see alert_cmd_parse */
	const char *id, *reason, *request_id, *device, *command, *camera;
	const json_t *for_v;   /* "for", or NULL */
	const char *too_large; /* the first part above its bound ("payload", "id", ...) */
	size_t too_large_len;  /* and its size */
	bool payload_user;     /* a "user" field was in the payload */
	json_t *doc;	       /* the parsed payload (owned; alert_cmd_req_clear) */
};

/* Reads the request of cmd/<verb>: payload (len bytes, not necessarily NUL-terminated;
 * empty means {}), prop_user the MQTT v5 user property "user" (or NULL), protocol the
 * gateway's session (5 or 4). One identity rule: on a v5 session the user property is
 * the identity and a "user" in the payload is ignored (any client can write it, and a
 * v5 client that sent no property would otherwise pick its own identity); on a 3.1.1
 * session, which carries no properties, the payload's "user" is. Returns 0, -EMSGSIZE
 * (too_large says what) or -EINVAL (not a JSON object). out is filled as far as it
 * could be read, for the audit, in every case. */
int alert_cmd_parse(const char *verb, const char *payload, size_t len, const char *prop_user,
		    int protocol, struct alert_cmd_req *out);
void alert_cmd_req_clear(struct alert_cmd_req *r);

/* "for" of a shelve request: whole seconds (a JSON integer) or a duration string
 * (alert_parse_duration). Returns 0, -EINVAL (missing, not positive, not a duration) or
 * -ERANGE (above ALERT_DURATION_MAX_MS); never overflows. */
int alert_cmd_duration(const json_t *v, int64_t *ms);

/* A request_id that may name a reply topic level: 1..ALERT_CMD_FIELD_MAX bytes of
 * [A-Za-z0-9_-]. */
bool alert_cmd_request_id_ok(const char *rid);

/* The limiter of audit records: per (verb, user), at most per_window records in a window
 * of window_ms from the first; the rest are counted and summarised when the window ends.
 * At most max_keys pairs are tracked at once; further pairs share one ("*", "*"). */
struct alert_cmd_limiter;
int alert_cmd_limiter_create(int per_window, int64_t window_ms, int max_keys,
			     struct alert_cmd_limiter **out);
void alert_cmd_limiter_destroy(struct alert_cmd_limiter *l);

enum alert_cmd_admit {
	ALERT_CMD_RECORD = 0, /* store the record */
	ALERT_CMD_FIRST_DROP, /* counted, not stored: the first of this window (say so) */
	ALERT_CMD_DROP,	      /* counted, not stored */
};
/* user may be NULL (nobody). */
enum alert_cmd_admit alert_cmd_limiter_admit(struct alert_cmd_limiter *l, const char *verb,
					     const char *user, int64_t now_ms);
/* Ends the windows that are over at now_ms; fn is called for each that counted requests
 * it did not record (user NULL: nobody). */
typedef void (*alert_cmd_summary_fn)(const char *verb, const char *user, uint64_t dropped,
				     int64_t since_ms, void *ud);
void alert_cmd_limiter_expire(struct alert_cmd_limiter *l, int64_t now_ms, alert_cmd_summary_fn fn,
			      void *ud);

#endif

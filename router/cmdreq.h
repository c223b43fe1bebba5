/* The pure half of the command path (cmd/<verb>): a request read into bounded fields
 * under the one identity rule, request_id checks, and the limiter that keeps a flood of
 * requests that changed nothing out of the audit log. No I/O, no globals, the clock
 * passed in; the router calls it on the main loop thread. */
#ifndef HW_CMDREQ_H
#define HW_CMDREQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds of a request, in bytes; above them it is refused (-EMSGSIZE, "too_large"). The
 * user, id and reason fit an alert's own fields whole (alerts/command.h checks it). */
#define CMDREQ_PAYLOAD_MAX 4096
#define CMDREQ_VERB_MAX 32
#define CMDREQ_USER_MAX 63
#define CMDREQ_ID_MAX 159
#define CMDREQ_REASON_MAX 127
#define CMDREQ_FIELD_MAX 128 /* request_id, device, command, camera */
#define CMDREQ_ERROR_MAX 240 /* cmdreq.error */

/* A request. The strings point into doc or into the inputs of cmdreq_parse (transfer
 * none); NULL when absent, not a string, or refused for its size. */
struct cmdreq {
	const char *verb;
	const char *user; /* the identity: see cmdreq_parse */
	const char *id, *reason, *request_id, *device, *command, *camera;
	char id_num[24];     /* an integer "id" (a record's) as its decimal text; id points here */
	const json_t *for_v; /* "for", or NULL */
	const char *too_large;	      /* the first part above its bound ("payload", "id", ...) */
	size_t too_large_len;	      /* and its size */
	size_t too_large_max;	      /* and its bound */
	const char *bad_type;	      /* the first known field that is not a string ("id", ...) */
	bool payload_user;	      /* a "user" field was in the payload */
	char error[CMDREQ_ERROR_MAX]; /* why the payload is no JSON object ("" when it is) */
	json_t *doc;		      /* the parsed payload (owned; cmdreq_clear) */
};

/* Reads the request of cmd/<verb>: payload (len bytes, not necessarily NUL-terminated;
 * empty means {}), prop_user the MQTT v5 user property "user" (or NULL), protocol the
 * gateway's session (5 or 4). One identity rule: on a v5 session the user property is
 * the identity and a "user" in the payload is ignored (any client can write it, and a
 * v5 client that sent no property would otherwise pick its own identity); on a 3.1.1
 * session, which carries no properties, the payload's "user" is. Returns 0, -EMSGSIZE
 * (too_large says what), or -EINVAL (not a JSON object: error says why; or a known field
 * that is not a string: bad_type names it). out is filled as far as it could be read,
 * for the audit, in every case. */
int cmdreq_parse(const char *verb, const char *payload, size_t len, const char *prop_user,
		 int protocol, struct cmdreq *out);
void cmdreq_clear(struct cmdreq *r);

/* A request_id that may name a reply topic level: 1..CMDREQ_FIELD_MAX bytes of
 * [A-Za-z0-9_-]. */
bool cmdreq_request_id_ok(const char *rid);

/* The limiter of audit records: per (verb, user), at most per_window records in a window
 * of window_ms from the first; the rest are counted and summarised when the window ends.
 * At most max_keys pairs are tracked at once; further pairs share one ("*", "*"). */
struct cmdreq_limiter;
int cmdreq_limiter_create(int per_window, int64_t window_ms, int max_keys,
			  struct cmdreq_limiter **out);
void cmdreq_limiter_destroy(struct cmdreq_limiter *l);

enum cmdreq_admit {
	CMDREQ_RECORD = 0, /* store the record */
	CMDREQ_FIRST_DROP, /* counted, not stored: the first of this window (say so) */
	CMDREQ_DROP,	   /* counted, not stored */
};
/* user may be NULL (nobody). */
enum cmdreq_admit cmdreq_limiter_admit(struct cmdreq_limiter *l, const char *verb, const char *user,
				       int64_t now_ms);
/* Ends the windows that are over at now_ms; fn is called for each that counted requests
 * it did not record (user NULL: nobody). */
typedef void (*cmdreq_summary_fn)(const char *verb, const char *user, uint64_t dropped,
				  int64_t since_ms, void *ud);
void cmdreq_limiter_expire(struct cmdreq_limiter *l, int64_t now_ms, cmdreq_summary_fn fn,
			   void *ud);

#endif

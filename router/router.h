/* The command router: one table of the verbs of cmd/<verb>, each registered by the module
 * that owns it (alerts: ack, shelve, unshelve, list; devices: device; video: snapshot) with
 * the role a caller needs. One place reads a request (router/cmdreq.h: bounds, types, the
 * identity rule), checks where its reply may go, authorises it, hands it to its owner,
 * records it in the audit (accepted or refused, with who asked) and replies with a code and
 * a sentence a person understands:
 *
 *   {"ok":false,"verb":"ack","error":"not_authorized","message":"\"bob\" is not in
 * alerts.operators"}
 *
 * A handler answers at once or later: it returns ROUTER_PENDING and calls router_done when
 * its work is over (from the main loop), and the reply and the audit record go out then.
 *
 * Main loop thread only: every function here, every handler and the audit sink. */
#ifndef HW_ROUTER_H
#define HW_ROUTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "outputs/mqtt.h"
#include "router/cmdreq.h"

/* Who may send a verb. A viewer is anyone the broker lets publish on cmd/ (the broker's
 * accounts and ACLs are the authentication: docs/commands.md); an operator is a viewer whose
 * identity is listed in alerts.operators. */
enum router_role {
	ROUTER_VIEWER = 0,
	ROUTER_OPERATOR,
	ROUTER_INSPECTOR, /* reviews patrols and tests (the console's accounts only) */
	ROUTER_ADMIN,	  /* may send every verb (the console's accounts only) */
};
const char *router_role_name(enum router_role role);

/* Flags of a verb. */
#define ROUTER_READ_ONLY 1u /* never changes anything: audited within the limiter's bound */
/* an operator's verb a console inspector may send too (cmd/checklist: a person on a patrol) */
#define ROUTER_INSPECTOR_TOO 2u

/* A handler's return: the request goes on; router_done finishes it later. */
#define ROUTER_PENDING 1

struct router;
struct router_req; /* one request in flight (owned by the router) */

/* Runs one authorised request. Returns 0 (accepted: the reply goes now), -errno (refused:
 * see router_req_fail for its code and sentence) or ROUTER_PENDING (router_done follows,
 * exactly once, on the main loop). ud as given to router_add. */
typedef int (*router_handler_fn)(struct router_req *q, void *ud);

/* The audit sink: one record (transfer full) of a command ("event":"command") or of the
 * requests the limiter counted without recording ("event":"commands_unrecorded"), without
 * seq, t and site, which the sink adds (the alert service: the events log, docs/alerts.md). */
typedef void (*router_audit_fn)(json_t *ev, void *ud);

/* Creates a router reading roles from cfg and replying through m; when m is not NULL it
 * takes over m's command handler. cfg and m (transfer none) must outlive the router.
 * Returns 0 or -errno. */
int router_create(const struct hw_config *cfg, struct mqtt *m, struct router **out);
/* Answers every request still pending with "cancelled" (reply and audit record), writes
 * the summary of what the limiter counted, releases m's command handler and frees. A
 * pending request stays valid for its owner's router_done, which then only frees it.
 * Destroy the router before the audit sink's owner. Accepts NULL. */
void router_destroy(struct router *r);

/* Registers verb ([a-z0-9_-], at most CMDREQ_VERB_MAX bytes) with the role it needs and
 * its handler. Returns 0, -EEXIST (taken) or -EINVAL. */
int router_add(struct router *r, const char *verb, enum router_role role, unsigned flags,
	       router_handler_fn fn, void *ud);
/* Sets the audit sink (NULL: records go only to the log). */
void router_set_audit(struct router *r, router_audit_fn fn, void *ud);

/* Handles one cmd/<verb> message (what m's command handler calls; c transfer none). */
void router_dispatch(struct router *r, const struct mqtt_cmd *c);

/* For tests without a broker: replies (their JSON text, transfer none) go to fn instead
 * of MQTT, and m is not asked where a reply may go. */
typedef void (*router_reply_fn)(const struct mqtt_cmd *c, const char *json, void *ud);
void router_set_reply_sink(struct router *r, router_reply_fn fn, void *ud);

/* An in-process caller (the web console): the same reading, authorisation, audit and
 * reply as cmd/<verb>, for a caller whose identity and role the console established.
 * args: the request's fields (transfer none; its "user" is replaced by user). role
 * authorises: a verb for viewers is anyone's; a verb for role R is R's and an admin's.
 * The audit record names user and carries "via":"http". fn gets the reply's JSON text
 * (transfer none) exactly once, on the main loop: at once, or when a pending handler
 * finishes or the router goes. Returns 0 (fn was called or will be) or -EINVAL. */
typedef void (*router_call_fn)(const char *json, void *ud);
int router_call(struct router *r, const char *verb, const json_t *args, const char *user,
		enum router_role role, router_call_fn fn, void *ud);

/* ---- what a handler may do with its request (valid until router_done) ---- */

/* The request as read (transfer none): verb, user, id, device, camera, ... */
const struct cmdreq *router_req_args(const struct router_req *q);
/* When the request arrived, Unix ms. */
int64_t router_req_now(const struct router_req *q);
/* False once the router that took the request is gone (a reload, a stop): its owner
 * should do no more work for it and call router_done, which frees it. */
bool router_req_live(const struct router_req *q);
/* Adds key: v (transfer full) to the reply only (e.g. "alert", "alerts"). */
void router_req_reply(struct router_req *q, const char *key, json_t *v);
/* Adds key: v (copied) to both the reply and the audit record (e.g. "path"). */
void router_req_record(struct router_req *q, const char *key, const char *v);
/* The sentence of the outcome (printf; replaces any earlier one). */
void router_req_message(struct router_req *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sets the refusal's code (NULL: router_error_code(rc)) and sentence (NULL: the code's
 * own) and returns rc, for `return router_req_fail(q, -ENOENT, "unknown_camera", ...)`. */
int router_req_fail(struct router_req *q, int rc, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Finishes a request its handler left ROUTER_PENDING: rc 0 (accepted) or -errno (refused),
 * message as router_req_message (NULL: keep what was set). Replies, records the audit
 * and frees q. Main loop thread. */
void router_done(struct router_req *q, int rc, const char *message);

/* The default code of -errno: -EACCES "not_authorized", -ENOENT "unknown_alert", ... */
const char *router_error_code(int rc);

struct router_stats {
	uint64_t commands; /* requests taken */
	uint64_t refused;  /* of which refused */
	uint64_t pending;  /* handlers still working */
};
void router_get_stats(const struct router *r, struct router_stats *out);

#endif

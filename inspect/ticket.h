/* Rectification tickets (docs/inspections.md, "Tickets"): a finding (a failed camera, a
 * failed test, a checklist item) is repaired and re-checked before it is closed.
 *
 *   OPEN -> ASSIGNED -> REPAIRING -> PENDING_VERIFY -> CLOSED
 *   PENDING_VERIFY -> REOPENED (the re-check failed); CLOSED -> REOPENED (found again)
 *   REOPENED -> ASSIGNED | REPAIRING; OPEN -> REPAIRING
 *
 * Every transition names who, when and a note; closing needs a passing re-check, whose
 * result the caller supplies (a camera's health, a repeated test, the checklist item).
 * A ticket not closed by its deadline is overdue (an alert, raised by the caller).
 *
 * Pure: no I/O, no globals, the clock passed in. Any thread, one ticket at a time. */
#ifndef HW_TICKET_H
#define HW_TICKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TICKET_ID_MAX 96
#define TICKET_NAME_MAX 64
#define TICKET_TEXT_MAX 160

enum ticket_state {
	TK_OPEN = 0,
	TK_ASSIGNED,
	TK_REPAIRING,
	TK_PENDING_VERIFY,
	TK_CLOSED,
	TK_REOPENED,
};
const char *ticket_state_name(enum ticket_state s);
int ticket_state_parse(const char *s, enum ticket_state *out); /* 0 or -EINVAL */

enum ticket_action {
	TA_ASSIGN = 0, /* -> ASSIGNED to `assignee` */
	TA_START,      /* -> REPAIRING */
	TA_REPAIRED,   /* -> PENDING_VERIFY */
	TA_VERIFY,     /* the re-check: pass -> CLOSED, fail -> REOPENED */
	TA_CLOSE,      /* -> CLOSED, only with a passing re-check */
	TA_REOPEN,     /* CLOSED -> REOPENED */
};
const char *ticket_action_name(enum ticket_action a);
int ticket_action_parse(const char *s, enum ticket_action *out); /* 0 or -EINVAL */

/* The re-check the caller ran for TA_VERIFY / TA_CLOSE. */
enum ticket_recheck { TR_NONE = 0, TR_PASS, TR_FAIL };

struct ticket {
	char id[TICKET_ID_MAX];		/* "<kind>-<target>-<opened, Unix s>" */
	char kind[TICKET_NAME_MAX];	/* "camera", "function_test", "checklist", ... */
	char target[TICKET_NAME_MAX];	/* camera, controller, checklist item */
	char source[TICKET_ID_MAX * 2]; /* the task or record that found it */
	char text[TICKET_TEXT_MAX];	/* what was found */
	enum ticket_state state;
	char assignee[TICKET_NAME_MAX];
	int64_t opened_ms;
	int64_t deadline_ms;
	int64_t changed_ms;
	int64_t closed_ms; /* 0 while not closed */
	unsigned reopened; /* how often */
};

/* One transition, as the store keeps it. */
struct ticket_tr {
	enum ticket_state from;
	enum ticket_state to; /* from == to == TK_OPEN: opened */
	int64_t t_ms;
	char by[TICKET_NAME_MAX];
	char note[TICKET_TEXT_MAX];
	enum ticket_recheck recheck;
};

/* Fills t as a new OPEN ticket due deadline_s after now, and tr with its opening. kind
 * and target [A-Za-z0-9_.-]; by non-empty. 0 or -EINVAL. */
int ticket_open(struct ticket *t, const char *kind, const char *target, const char *source,
		const char *text, int64_t deadline_s, const char *by, int64_t now_ms,
		struct ticket_tr *tr);
/* Applies action a by `by` (non-empty) with a note; assignee for TA_ASSIGN, recheck for
 * TA_VERIFY and TA_CLOSE. On success t has moved and tr says how. -EINVAL (no by, no
 * assignee, a verify without a re-check result), -EPERM (closing without a passing
 * re-check), -EALREADY (already in that state), -ENOTSUP (not from this state). */
int ticket_apply(struct ticket *t, enum ticket_action a, const char *by, const char *note,
		 const char *assignee, enum ticket_recheck recheck, int64_t now_ms,
		 struct ticket_tr *tr);
/* Not closed, and its deadline has passed. */
bool ticket_overdue(const struct ticket *t, int64_t now_ms);

#endif

/* Owns the rectification ticket state machine: which action moves a ticket from which
 * state, and the record of each move. Pure; any thread, one ticket at a time. */
#include "inspect/ticket.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

static const char *const state_names[] = {"open",	    "assigned", "repairing",
					  "pending_verify", "closed",	"reopened"};
static const char *const action_names[] = {"assign", "start", "repaired",
					   "verify", "close", "reopen"};

const char *ticket_state_name(enum ticket_state s)
{
	return (unsigned)s < G_N_ELEMENTS(state_names) ? state_names[s] : "?";
}

int ticket_state_parse(const char *s, enum ticket_state *out)
{
	for (size_t i = 0; s && i < G_N_ELEMENTS(state_names); i++)
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum ticket_state)i;
			return 0;
		}
	return -EINVAL;
}

const char *ticket_action_name(enum ticket_action a)
{
	return (unsigned)a < G_N_ELEMENTS(action_names) ? action_names[a] : "?";
}

int ticket_action_parse(const char *s, enum ticket_action *out)
{
	for (size_t i = 0; s && i < G_N_ELEMENTS(action_names); i++)
		if (strcmp(s, action_names[i]) == 0) {
			*out = (enum ticket_action)i;
			return 0;
		}
	return -EINVAL;
}

static bool valid_name(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!g_ascii_isalnum(*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

int ticket_open(struct ticket *t, const char *kind, const char *target, const char *source,
		const char *text, int64_t deadline_s, const char *by, int64_t now,
		struct ticket_tr *tr)
{
	if (!valid_name(kind) || !valid_name(target) || !by || !*by || deadline_s <= 0 ||
	    strlen(kind) + strlen(target) + 24 > TICKET_ID_MAX)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s-%s-%" G_GINT64_FORMAT, kind, target, now / 1000);
	g_strlcpy(t->kind, kind, sizeof(t->kind));
	g_strlcpy(t->target, target, sizeof(t->target));
	g_strlcpy(t->source, source ? source : "", sizeof(t->source));
	g_strlcpy(t->text, text ? text : "", sizeof(t->text));
	t->state = TK_OPEN;
	t->opened_ms = now;
	t->changed_ms = now;
	t->deadline_ms = now + deadline_s * 1000;
	memset(tr, 0, sizeof(*tr));
	tr->from = tr->to = TK_OPEN;
	tr->t_ms = now;
	g_strlcpy(tr->by, by, sizeof(tr->by));
	g_strlcpy(tr->note, text ? text : "", sizeof(tr->note));
	return 0;
}

/* The state action a leads to from s, or -ENOTSUP. */
static int target_of(enum ticket_state s, enum ticket_action a, enum ticket_recheck r)
{
	switch (a) {
	case TA_ASSIGN:
		return s == TK_OPEN || s == TK_REOPENED || s == TK_ASSIGNED ? TK_ASSIGNED
									    : -ENOTSUP;
	case TA_START:
		return s == TK_OPEN || s == TK_ASSIGNED || s == TK_REOPENED ? TK_REPAIRING
									    : -ENOTSUP;
	case TA_REPAIRED:
		return s == TK_REPAIRING ? TK_PENDING_VERIFY : -ENOTSUP;
	case TA_VERIFY:
		return s == TK_PENDING_VERIFY ? (r == TR_PASS ? TK_CLOSED : TK_REOPENED) : -ENOTSUP;
	case TA_CLOSE:
		return s == TK_PENDING_VERIFY ? TK_CLOSED : -ENOTSUP;
	case TA_REOPEN:
		return s == TK_CLOSED ? TK_REOPENED : -ENOTSUP;
	}
	return -EINVAL;
}

int ticket_apply(struct ticket *t, enum ticket_action a, const char *by, const char *note,
		 const char *assignee, enum ticket_recheck recheck, int64_t now,
		 struct ticket_tr *tr)
{
	int to;

	if (!by || !*by || (unsigned)a > TA_REOPEN)
		return -EINVAL;
	if (a == TA_ASSIGN && (!assignee || !*assignee))
		return -EINVAL;
	if (a == TA_VERIFY && recheck == TR_NONE)
		return -EINVAL;
	if (a == TA_CLOSE && t->state == TK_CLOSED)
		return -EALREADY;
	if (a == TA_CLOSE && recheck != TR_PASS)
		return -EPERM;
	if (a == TA_ASSIGN && t->state == TK_ASSIGNED && strcmp(t->assignee, assignee) == 0)
		return -EALREADY;
	to = target_of(t->state, a, recheck);
	if (to < 0)
		return to;
	memset(tr, 0, sizeof(*tr));
	tr->from = t->state;
	tr->to = (enum ticket_state)to;
	tr->t_ms = now;
	tr->recheck = recheck;
	g_strlcpy(tr->by, by, sizeof(tr->by));
	g_strlcpy(tr->note, note ? note : "", sizeof(tr->note));
	if (a == TA_ASSIGN)
		g_strlcpy(t->assignee, assignee, sizeof(t->assignee));
	t->state = (enum ticket_state)to;
	t->changed_ms = now;
	if (to == TK_CLOSED)
		t->closed_ms = now;
	if (to == TK_REOPENED) {
		t->closed_ms = 0;
		t->reopened++;
	}
	return 0;
}

bool ticket_overdue(const struct ticket *t, int64_t now)
{
	return t->state != TK_CLOSED && now >= t->deadline_ms;
}

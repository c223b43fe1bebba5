/* The inspection scheduler: plans (core/config.h cfg_plan), the hall's calendar and the
 * clock in; tasks and their state transitions out (docs/inspections.md).
 *
 * Pure: no I/O, no globals, no clock and no main loop of its own. The daemon calls
 * insp_sched_tick from a timer; a patrol runner, a test runner or a person (through a
 * command) moves a task with insp_sched_start / _complete / _postpone / _cancel.
 *
 * A plan has one series of tasks per target. A task goes
 *   SCHEDULED -> DUE -> IN_PROGRESS -> PASSED | FAILED
 *   DUE -> OVERDUE -> MISSED (OVERDUE may still start and complete)
 *   DUE | OVERDUE -> POSTPONED (a precondition fails, or asked) -> DUE again, or MISSED
 *   any live state -> CANCELLED (with a reason)
 * Times: a task is DUE from due - early, OVERDUE from due + window, MISSED from
 * due + window + grace (a postponement moves the last two on).
 *
 * One scheduler is used from one thread at a time (the main loop in the daemon). */
#ifndef HW_INSP_SCHED_H
#define HW_INSP_SCHED_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

#define INSP_ID_MAX 160
#define INSP_NAME_MAX 64
#define INSP_TEXT_MAX 160

enum insp_state {
	IS_SCHEDULED = 0,
	IS_DUE,
	IS_IN_PROGRESS,
	IS_PASSED,
	IS_FAILED,
	IS_OVERDUE,
	IS_MISSED,
	IS_POSTPONED,
	IS_CANCELLED,
};
/* "scheduled", "due", ...; -EINVAL from parse for anything else. */
const char *insp_state_name(enum insp_state s);
int insp_state_parse(const char *s, enum insp_state *out);
/* PASSED, FAILED, MISSED, CANCELLED: the task is over. */
bool insp_state_final(enum insp_state s);

struct insp_task {
	char id[INSP_ID_MAX]; /* "<plan>/<target>/<due, Unix s>" (ad hoc: ".../now-<Unix ms>") */
	char plan[INSP_NAME_MAX];
	char target[INSP_NAME_MAX];
	int kind; /* enum cfg_insp_kind */
	enum insp_state state;
	int64_t base_ms; /* the plan's nominal occurrence (before stagger and opening hours); 0: ad
			    hoc */
	int64_t due_ms;
	int64_t open_ms;      /* DUE from */
	int64_t late_ms;      /* OVERDUE from */
	int64_t miss_ms;      /* MISSED from */
	int64_t changed_ms;   /* last transition */
	int64_t started_ms;   /* 0: not started */
	int64_t done_ms;      /* 0: not over */
	int64_t postponed_ms; /* start of the current postponement, 0 if none */
	int64_t
	    retry_ms; /* postponed by a person: DUE again from then; 0: when preconditions hold */
	char by[INSP_NAME_MAX]; /* who made the last transition ("" : the scheduler) */
	char
	    reason[INSP_TEXT_MAX]; /* why (postponed, cancelled, missed) or the completion's note */
};

/* One transition (valid during the callback only). A task just made: from == to ==
 * IS_SCHEDULED; otherwise from != to. */
struct insp_ev {
	const struct insp_task *t;
	enum insp_state from;
	enum insp_state to;
	int64_t t_ms;
};
typedef void (*insp_emit_fn)(const struct insp_ev *ev, void *ud);

/* The preconditions that hold for a target now (INSP_REQ_* bits the caller knows:
 * mains_ok, no_fire, battery_recharged). INSP_REQ_OUTSIDE_OPENING is the scheduler's own
 * (from the calendar) and ignored here. */
typedef unsigned (*insp_cond_fn)(const char *plan, const char *target, void *ud);

struct insp_sched;

/* plans, cal (transfer none) must outlive the scheduler; tz is referenced. emit is called
 * synchronously for every transition, in order; cond may be NULL (everything holds).
 * Returns 0 or -ENOMEM, -EINVAL (a recurrence that can never fire). */
int insp_sched_create(const struct cfg_plan *plans, size_t n_plans, const struct cfg_calendar *cal,
		      GTimeZone *tz, insp_emit_fn emit, insp_cond_fn cond, void *ud,
		      struct insp_sched **out);
void insp_sched_destroy(struct insp_sched *s); /* accepts NULL */

/* Puts back a task read from the store (copied), before the first tick, with no event: a
 * live one is tracked again, a final one only sets its plan's last result and, like a live
 * one, where its series goes on. Tasks of a plan no longer configured are ignored (1). */
int insp_sched_restore(struct insp_sched *s, const struct insp_task *t);
/* The gateway was not running since ms (when the scheduler last ran, the store's record),
 * before the first tick: tasks whose time ran out after it become MISSED with that reason.
 * Not called (or 0): no downtime to tell (a first start, a reload). */
void insp_sched_set_last_run(struct insp_sched *s, int64_t ms);

/* Creates the tasks whose time has come and moves every live task on. At the first tick
 * a series without history starts at its next occurrence (a `days` plan: at start_ms, or
 * now); a series with history catches up from its last task (at most INSP_CATCHUP_MAX
 * MISSED tasks per series, the rest summed up in the last one's reason). */
#define INSP_CATCHUP_MAX 256
void insp_sched_tick(struct insp_sched *s, int64_t now_ms);
/* The earliest time tick has something to do, or INT64_MAX. */
int64_t insp_sched_next_deadline(const struct insp_sched *s);

/* ---- from outside: a runner or a person ---- */

/* DUE or OVERDUE -> IN_PROGRESS. -ENOENT (unknown or over), -EALREADY (in progress),
 * -EAGAIN (SCHEDULED or POSTPONED: not yet; a precondition fails: the task is POSTPONED),
 * -EBUSY (a serial plan has another target in progress). */
int insp_sched_start(struct insp_sched *s, const char *task_id, const char *by, int64_t now_ms);
/* IN_PROGRESS, DUE or OVERDUE -> PASSED or FAILED with a note. -ENOENT, -EAGAIN
 * (SCHEDULED or POSTPONED). */
int insp_sched_complete(struct insp_sched *s, const char *task_id, bool passed, const char *by,
			const char *note, int64_t now_ms);
/* DUE, OVERDUE or IN_PROGRESS -> POSTPONED until until_ms (DUE again then, the overdue and
 * missed times moved by as long), with a reason. -ENOENT, -EINVAL (no reason, until_ms
 * not after now). */
int insp_sched_postpone(struct insp_sched *s, const char *task_id, int64_t until_ms,
			const char *reason, const char *by, int64_t now_ms);
/* Any live state -> CANCELLED with a reason. -ENOENT, -EINVAL (no reason). */
int insp_sched_cancel(struct insp_sched *s, const char *task_id, const char *reason, const char *by,
		      int64_t now_ms);
/* A task of plan for target due now, outside the schedule (a surprise inspection):
 * DUE at once, its window and grace the plan's. id_out (INSP_ID_MAX, may be NULL) gets its
 * id. -ENOENT (unknown plan or target), -EEXIST (one made this second already). */
int insp_sched_run_now(struct insp_sched *s, const char *plan, const char *target, const char *by,
		       int64_t now_ms, char *id_out);

/* ---- reading ---- */

/* The live task (transfer none; valid until the next call that changes the scheduler). */
const struct insp_task *insp_sched_get(const struct insp_sched *s, const char *task_id);
/* Live tasks, oldest due first, into v (at most n); returns how many there are. */
size_t insp_sched_list(const struct insp_sched *s, const struct insp_task **v, size_t n);
/* The first live task of plan/target in state DUE or OVERDUE (what a runner does next),
 * or NULL. target NULL: any. */
const struct insp_task *insp_sched_due(const struct insp_sched *s, const char *plan,
				       const char *target);

struct insp_plan_status {
	const struct cfg_plan *plan;
	int64_t next_due_ms;  /* of the next task not yet created, INT64_MAX: none */
	enum insp_state last; /* last final state (IS_SCHEDULED: none yet) */
	int64_t last_ms;      /* when */
	char last_task[INSP_ID_MAX];
	size_t live;			 /* tasks not over */
	uint64_t passed, failed, missed; /* since start (for completion rates) */
};
/* Status of plan i (0 .. n_plans - 1). -ENOENT past the end. */
int insp_sched_plan_status(const struct insp_sched *s, size_t i, struct insp_plan_status *out);

/* ---- the calendar (pure, also for the callers) ---- */

/* Whether the hall is open at t (Unix ms) in tz. */
bool insp_cal_is_open(const struct cfg_calendar *cal, GTimeZone *tz, int64_t t_ms);
/* Local date of t as YYYYMMDD and minutes from midnight. */
void insp_local(GTimeZone *tz, int64_t t_ms, int32_t *ymd, int *minute);
/* The first nominal occurrence of plan p strictly after after_ms (without stagger), or
 * INT64_MAX. A `days` plan has no occurrence of its own: after_ms + days. */
int64_t insp_next_occurrence(const struct cfg_plan *p, const struct cfg_calendar *cal,
			     GTimeZone *tz, int64_t after_ms);

#endif

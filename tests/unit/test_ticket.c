/* The rectification ticket state machine (inspect/ticket.c): every allowed move, the
 * refused ones, closing only with a passing re-check, the deadline. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "inspect/ticket.h"

#define H (3600 * 1000LL)
#define T0 1767196800000LL

static void test_happy_path(void **state)
{
	struct ticket t;
	struct ticket_tr tr;

	(void)state;
	assert_int_equal(ticket_open(&t, "camera", "cam1", "patrol/cam1/1767200000",
				     "dark at 10:02", 24 * 3600, "gateway", T0, &tr),
			 0);
	assert_string_equal(t.id, "camera-cam1-1767196800");
	assert_int_equal(t.state, TK_OPEN);
	assert_int_equal(t.deadline_ms, T0 + 24 * H);
	assert_int_equal(tr.from, TK_OPEN);
	assert_int_equal(tr.to, TK_OPEN);
	assert_int_equal(ticket_apply(&t, TA_ASSIGN, "li", "", NULL, TR_NONE, T0 + H, &tr),
			 -EINVAL);
	assert_int_equal(ticket_apply(&t, TA_ASSIGN, "li", "to wang", "wang", TR_NONE, T0 + H, &tr),
			 0);
	assert_int_equal(tr.from, TK_OPEN);
	assert_int_equal(tr.to, TK_ASSIGNED);
	assert_string_equal(t.assignee, "wang");
	assert_string_equal(tr.by, "li");
	assert_int_equal(ticket_apply(&t, TA_ASSIGN, "li", "", "wang", TR_NONE, T0 + H, &tr),
			 -EALREADY);
	assert_int_equal(ticket_apply(&t, TA_REPAIRED, "wang", "", NULL, TR_NONE, T0 + H, &tr),
			 -ENOTSUP);
	assert_int_equal(
	    ticket_apply(&t, TA_START, "wang", "on site", NULL, TR_NONE, T0 + 2 * H, &tr), 0);
	assert_int_equal(t.state, TK_REPAIRING);
	assert_int_equal(
	    ticket_apply(&t, TA_REPAIRED, "wang", "lens cleaned", NULL, TR_NONE, T0 + 3 * H, &tr),
	    0);
	assert_int_equal(t.state, TK_PENDING_VERIFY);
	assert_false(ticket_overdue(&t, T0 + 23 * H));
	/* closing needs a passing re-check */
	assert_int_equal(ticket_apply(&t, TA_CLOSE, "li", "", NULL, TR_NONE, T0 + 4 * H, &tr),
			 -EPERM);
	assert_int_equal(ticket_apply(&t, TA_CLOSE, "li", "", NULL, TR_FAIL, T0 + 4 * H, &tr),
			 -EPERM);
	assert_int_equal(ticket_apply(&t, TA_VERIFY, "li", "", NULL, TR_NONE, T0 + 4 * H, &tr),
			 -EINVAL);
	assert_int_equal(t.state, TK_PENDING_VERIFY);
	assert_int_equal(
	    ticket_apply(&t, TA_CLOSE, "li", "picture fine", NULL, TR_PASS, T0 + 4 * H, &tr), 0);
	assert_int_equal(t.state, TK_CLOSED);
	assert_int_equal(t.closed_ms, T0 + 4 * H);
	assert_int_equal(tr.recheck, TR_PASS);
	assert_false(ticket_overdue(&t, T0 + 48 * H));
	assert_int_equal(ticket_apply(&t, TA_CLOSE, "li", "", NULL, TR_PASS, T0 + 5 * H, &tr),
			 -EALREADY);
}

static void test_failed_recheck_reopens(void **state)
{
	struct ticket t;
	struct ticket_tr tr;

	(void)state;
	assert_int_equal(ticket_open(&t, "function_test", "elc1", "", "lamp 3 dark", 7 * 86400,
				     "gateway", T0, &tr),
			 0);
	assert_int_equal(ticket_apply(&t, TA_START, "wang", "", NULL, TR_NONE, T0 + H, &tr), 0);
	assert_int_equal(ticket_apply(&t, TA_REPAIRED, "wang", "", NULL, TR_NONE, T0 + 2 * H, &tr),
			 0);
	assert_int_equal(ticket_apply(&t, TA_VERIFY, "gateway", "repeated test failed", NULL,
				      TR_FAIL, T0 + 3 * H, &tr),
			 0);
	assert_int_equal(t.state, TK_REOPENED);
	assert_int_equal(tr.from, TK_PENDING_VERIFY);
	assert_int_equal(tr.to, TK_REOPENED);
	assert_int_equal(t.reopened, 1);
	assert_int_equal(ticket_apply(&t, TA_REOPEN, "li", "", NULL, TR_NONE, T0 + 3 * H, &tr),
			 -ENOTSUP);
	assert_true(ticket_overdue(&t, T0 + 7 * 24 * H));
	assert_int_equal(ticket_apply(&t, TA_START, "wang", "", NULL, TR_NONE, T0 + 4 * H, &tr), 0);
	assert_int_equal(ticket_apply(&t, TA_REPAIRED, "wang", "", NULL, TR_NONE, T0 + 5 * H, &tr),
			 0);
	assert_int_equal(ticket_apply(&t, TA_VERIFY, "gateway", "", NULL, TR_PASS, T0 + 6 * H, &tr),
			 0);
	assert_int_equal(t.state, TK_CLOSED);
	assert_int_equal(
	    ticket_apply(&t, TA_REOPEN, "county", "dark again", NULL, TR_NONE, T0 + 9 * H, &tr), 0);
	assert_int_equal(t.state, TK_REOPENED);
	assert_int_equal(t.closed_ms, 0);
	assert_int_equal(t.reopened, 2);
}

static void test_names_and_bad_input(void **state)
{
	struct ticket t;
	struct ticket_tr tr;
	enum ticket_state s;
	enum ticket_action a;

	(void)state;
	assert_int_equal(ticket_open(&t, "camera", "cam 1", "", "", 3600, "gw", T0, &tr), -EINVAL);
	assert_int_equal(ticket_open(&t, "camera", "cam1", "", "", 3600, "", T0, &tr), -EINVAL);
	assert_int_equal(ticket_open(&t, "camera", "cam1", "", "", 0, "gw", T0, &tr), -EINVAL);
	assert_int_equal(ticket_open(&t, "camera", "cam1", "", "", 3600, "gw", T0, &tr), 0);
	assert_int_equal(ticket_apply(&t, TA_START, "", "", NULL, TR_NONE, T0, &tr), -EINVAL);
	assert_int_equal(ticket_state_parse("pending_verify", &s), 0);
	assert_int_equal(s, TK_PENDING_VERIFY);
	assert_int_equal(ticket_state_parse("done", &s), -EINVAL);
	assert_int_equal(ticket_action_parse("repaired", &a), 0);
	assert_int_equal(a, TA_REPAIRED);
	assert_string_equal(ticket_action_name(TA_VERIFY), "verify");
	assert_string_equal(ticket_state_name(TK_REOPENED), "reopened");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_happy_path),
	    cmocka_unit_test(test_failed_recheck_reopens),
	    cmocka_unit_test(test_names_and_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the durable outbox: replay order, the bound and its drop policy,
 * rejection, and a child SIGKILLed while it writes. */
#include <errno.h>
#include <glib.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/db.h"
#include "outputs/outbox.h"

static char *tmp_db(char **dir)
{
	*dir = g_dir_make_tmp("hw-outbox-XXXXXX", NULL);
	assert_non_null(*dir);
	return g_build_filename(*dir, "hallwatch.db", NULL);
}

static void rm_dir(char *dir)
{
	char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	g_free(cmd);
	g_free(dir);
}

static int put(struct outbox *o, int output, int cls, const char *data)
{
	return outbox_put(o, output, cls, output == OUTBOX_MQTT ? "events" : NULL, data,
			  strlen(data), false, 0, 1, NULL);
}

static GPtrArray *next(struct outbox *o, int output, size_t max)
{
	GPtrArray *a = g_ptr_array_new_with_free_func(outbox_rec_free);
	assert_true(outbox_next(o, output, NULL, 0, max, a) >= 0);
	return a;
}

static void test_order_by_class_then_time(void **state)
{
	char *dir, *path = tmp_db(&dir);
	struct outbox *o;
	GPtrArray *a;
	static const char *const want[] = {"fire1", "fire2", "alert1", "state1", "m1", "m2"};

	assert_int_equal(outbox_open(path, &o), 0);
	assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_MEASURE, "m1"), 0);
	assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_STATE, "state1"), 0);
	assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_ALERT, "alert1"), 0);
	assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_ALARM, "fire1"), 0);
	assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_MEASURE, "m2"), 0);
	assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_ALARM, "fire2"), 0);
	assert_int_equal(put(o, OUTBOX_LP, OUTBOX_MEASURE, "lp 1"), 0);
	a = next(o, OUTBOX_MQTT, 100);
	assert_int_equal(a->len, 6);
	for (guint i = 0; i < a->len; i++) {
		struct outbox_rec *r = a->pdata[i];
		assert_string_equal(r->data, want[i]);
		assert_string_equal(r->topic, "events");
	}
	/* In flight records are left out; removal counts as sent. */
	{
		int64_t skip[2] = {((struct outbox_rec *)a->pdata[0])->id,
				   ((struct outbox_rec *)a->pdata[1])->id};
		GPtrArray *b = g_ptr_array_new_with_free_func(outbox_rec_free);
		struct outbox_stats st;
		assert_int_equal(outbox_next(o, OUTBOX_MQTT, skip, 2, 2, b), 2);
		assert_string_equal(((struct outbox_rec *)b->pdata[0])->data, "alert1");
		assert_int_equal(outbox_remove(o, skip, 2), 0);
		assert_int_equal(outbox_remove(o, skip, 2), 0); /* twice: ignored */
		outbox_get_stats(o, OUTBOX_MQTT, &st);
		assert_int_equal(st.records, 4);
		assert_int_equal(st.sent, 2);
		assert_true(st.oldest_ms > 0);
		g_ptr_array_free(b, TRUE);
	}
	g_ptr_array_free(a, TRUE);
	a = next(o, OUTBOX_LP, 10);
	assert_int_equal(a->len, 1);
	assert_null(((struct outbox_rec *)a->pdata[0])->topic);
	g_ptr_array_free(a, TRUE);
	outbox_close(o);
	/* Reopened: the counters come back from the table. */
	assert_int_equal(outbox_open(path, &o), 0);
	{
		struct outbox_stats st;
		outbox_get_stats(o, OUTBOX_MQTT, &st);
		assert_int_equal(st.records, 4);
		assert_int_equal(st.depth, 4);
	}
	outbox_close(o);
	g_free(path);
	rm_dir(dir);
}

static void test_bound_drops_oldest_measurements_never_alerts(void **state)
{
	char *dir, *path = tmp_db(&dir);
	struct outbox *o;
	struct outbox_stats st;
	GPtrArray *a;
	char buf[32];

	assert_int_equal(outbox_open(path, &o), 0);
	outbox_set_limit(o, OUTBOX_MQTT, 5);
	assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_ALARM, "fire"), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(buf, sizeof(buf), "m%d", i);
		assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_MEASURE, buf), 0);
	}
	outbox_get_stats(o, OUTBOX_MQTT, &st);
	assert_int_equal(st.depth, 5);
	assert_int_equal(st.dropped, 6);
	a = next(o, OUTBOX_MQTT, 100);
	assert_int_equal(a->len, 5);
	assert_string_equal(((struct outbox_rec *)a->pdata[0])->data, "fire");
	assert_string_equal(((struct outbox_rec *)a->pdata[1])->data, "m6");
	assert_string_equal(((struct outbox_rec *)a->pdata[4])->data, "m9");
	g_ptr_array_free(a, TRUE);
	/* State goes after measurements; alert events are never dropped, even beyond the
	 * bound. */
	assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_STATE, "s0"), 0);
	for (int i = 0; i < 7; i++) {
		snprintf(buf, sizeof(buf), "a%d", i);
		assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_ALERT, buf), 0);
	}
	outbox_get_stats(o, OUTBOX_MQTT, &st);
	assert_int_equal(st.depth, 8); /* fire + 7 alert events */
	assert_int_equal(st.dropped, 6 + 4 + 1);
	a = next(o, OUTBOX_MQTT, 100);
	assert_int_equal(a->len, 8);
	assert_string_equal(((struct outbox_rec *)a->pdata[0])->data, "fire");
	assert_string_equal(((struct outbox_rec *)a->pdata[7])->data, "a6");
	g_ptr_array_free(a, TRUE);
	/* Weight counts lines: one batch of 3 lines in an LP outbox of 4. */
	outbox_set_limit(o, OUTBOX_LP, 4);
	assert_int_equal(
	    outbox_put(o, OUTBOX_LP, OUTBOX_MEASURE, NULL, "a\nb\nc\n", 6, false, 0, 3, NULL), 0);
	assert_int_equal(
	    outbox_put(o, OUTBOX_LP, OUTBOX_MEASURE, NULL, "d\ne\n", 4, false, 0, 2, NULL), 0);
	outbox_get_stats(o, OUTBOX_LP, &st);
	assert_int_equal(st.depth, 2);
	assert_int_equal(st.dropped, 3);
	outbox_close(o);
	g_free(path);
	rm_dir(dir);
}

static void test_reject_and_token(void **state)
{
	char *dir, *path = tmp_db(&dir);
	struct outbox *o;
	struct outbox_stats st;
	int64_t id;

	assert_int_equal(outbox_open(path, &o), 0);
	assert_int_equal(
	    outbox_put(o, OUTBOX_LP, OUTBOX_MEASURE, NULL, "bad line\n", 9, false, 0, 1, &id), 0);
	assert_int_equal(
	    outbox_put(o, OUTBOX_MQTT, OUTBOX_ALERT, "events", "{}", 2, false, 42, 1, NULL), 0);
	assert_true(outbox_has_token(o, OUTBOX_MQTT, 42));
	assert_false(outbox_has_token(o, OUTBOX_MQTT, 43));
	assert_false(outbox_has_token(o, OUTBOX_LP, 42));
	assert_int_equal(outbox_reject(o, id, "unable to parse 'bad line'"), 0);
	assert_int_equal(outbox_reject(o, id, "again"), -ENOENT);
	outbox_get_stats(o, OUTBOX_LP, &st);
	assert_int_equal(st.records, 0);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.rejected_held, 1);
	assert_int_equal(outbox_put(o, 7, OUTBOX_ALERT, NULL, "x", 1, false, 0, 1, NULL), -EINVAL);
	assert_int_equal(outbox_put(o, OUTBOX_LP, 9, NULL, "x", 1, false, 0, 1, NULL), -EINVAL);
	outbox_close(o);
	assert_int_equal(outbox_open(path, &o), 0);
	outbox_get_stats(o, OUTBOX_LP, &st);
	assert_int_equal(st.rejected_held, 1);
	outbox_close(o);
	g_free(path);
	rm_dir(dir);
}

/* A child puts records as fast as it can and reports each committed one on a pipe;
 * it is SIGKILLed mid-write. Everything it reported is there after reopening, in
 * order, without gaps. */
static void test_sigkill_mid_write(void **state)
{
	char *dir, *path = tmp_db(&dir);
	int fds[2];
	pid_t pid;
	long reported = 0, v;
	struct outbox *o;
	GPtrArray *a;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct outbox *c;
		char buf[64];
		close(fds[0]);
		if (outbox_open(path, &c) < 0)
			_exit(2);
		for (long i = 1;; i++) {
			int n = snprintf(buf, sizeof(buf), "%ld", i);
			if (outbox_put(c, OUTBOX_MQTT, i % 3 == 0 ? OUTBOX_ALARM : OUTBOX_MEASURE,
				       "events", buf, (size_t)n, false, (uint64_t)i, 1, NULL) < 0)
				_exit(3);
			if (write(fds[1], &i, sizeof(i)) != sizeof(i))
				_exit(4);
		}
	}
	close(fds[1]);
	while (reported < 300 && read(fds[0], &v, sizeof(v)) == sizeof(v))
		reported = v;
	kill(pid, SIGKILL);
	while (read(fds[0], &v, sizeof(v)) == sizeof(v))
		reported = v;
	close(fds[0]);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_true(reported >= 300);

	assert_int_equal(outbox_open(path, &o), 0);
	a = next(o, OUTBOX_MQTT, 1000000);
	assert_true((long)a->len >= reported);
	{
		/* Tokens 1..n all present exactly once (n = a->len), none beyond. */
		guint8 *seen = g_new0(guint8, a->len + 1);
		for (guint i = 0; i < a->len; i++) {
			struct outbox_rec *r = a->pdata[i];
			assert_true(r->token >= 1 && r->token <= a->len);
			assert_int_equal(seen[r->token], 0);
			seen[r->token] = 1;
			assert_int_equal(strtol(r->data, NULL, 10), (long)r->token);
			if (i > 0)
				assert_true(((struct outbox_rec *)a->pdata[i - 1])->cls <= r->cls);
		}
		g_free(seen);
	}
	/* Still writable. */
	assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_ALARM, "after"), 0);
	g_ptr_array_free(a, TRUE);
	outbox_close(o);
	g_free(path);
	rm_dir(dir);
}

/* Records put in a transaction of the caller's (as the alert store does) count only once
 * it commits: a rollback takes them out of the counters and counts them as failed. */
static void test_put_in_caller_transaction(void **state)
{
	char *dir, *path = tmp_db(&dir);
	struct outbox *o;
	struct outbox_stats s;
	struct db *db;
	GPtrArray *a;

	assert_int_equal(outbox_open(path, &o), 0);
	db = outbox_db(o);
	assert_int_equal(
	    outbox_put_in(o, OUTBOX_MQTT, OUTBOX_ALARM, "events", "x", 1, false, 1, 1, true, NULL),
	    -EINVAL);
	assert_int_equal(db_begin(db), 0);
	assert_true(outbox_in_tx(o));
	assert_int_equal(outbox_put_in(o, OUTBOX_MQTT, OUTBOX_ALARM, "events", "fire", 4, false, 1,
				       1, true, NULL),
			 0);
	assert_int_equal(
	    outbox_put_in(o, OUTBOX_MQTT, OUTBOX_STATE, "alert/a", "{}", 2, true, 0, 1, true, NULL),
	    0);
	db_rollback(db);
	outbox_get_stats(o, OUTBOX_MQTT, &s);
	assert_int_equal(s.records, 0);
	assert_int_equal(s.depth, 0);
	assert_int_equal(s.put, 0);
	assert_int_equal(s.failed, 2);
	a = next(o, OUTBOX_MQTT, 10);
	assert_int_equal(a->len, 0);
	g_ptr_array_free(a, TRUE);

	assert_int_equal(db_begin(db), 0);
	assert_int_equal(outbox_put_in(o, OUTBOX_MQTT, OUTBOX_ALARM, "events", "fire", 4, false, 1,
				       1, true, NULL),
			 0);
	assert_int_equal(db_commit(db), 0);
	assert_false(outbox_in_tx(o));
	outbox_get_stats(o, OUTBOX_MQTT, &s);
	assert_int_equal(s.records, 1);
	assert_int_equal(s.put, 1);
	assert_int_equal(s.failed, 2);
	a = next(o, OUTBOX_MQTT, 10);
	assert_int_equal(a->len, 1);
	assert_string_equal(((struct outbox_rec *)a->pdata[0])->data, "fire");
	g_ptr_array_free(a, TRUE);
	outbox_close(o);
	g_free(path);
	rm_dir(dir);
}

/* Puts news as alert/x records in one transaction, sent after its commit or not. */
static void put_news(struct outbox *o, bool sent_after_commit)
{
	static const char *const news[] = {"new1", "new2", "new3"};

	assert_int_equal(db_begin(outbox_db(o)), 0);
	for (size_t i = 0; i < G_N_ELEMENTS(news); i++)
		assert_int_equal(outbox_put_in(o, OUTBOX_MQTT, OUTBOX_STATE, "alert/x", news[i],
					       strlen(news[i]), true, 0, 1, sent_after_commit,
					       NULL),
				 0);
	assert_int_equal(db_commit(outbox_db(o)), 0);
}

static void expect_data(struct outbox *o, const char *const *want, guint n)
{
	GPtrArray *a = next(o, OUTBOX_MQTT, 10);

	assert_int_equal(a->len, n);
	for (guint i = 0; i < n; i++)
		assert_string_equal(((struct outbox_rec *)a->pdata[i])->data, want[i]);
	g_ptr_array_free(a, TRUE);
}

/* Records a transaction puts to be sent after its commit are left by its bound, which drops
 * older ones for them; the next put applies the bound to them like to any other. Records
 * that wait (no session) are bounded at once, as if put one by one. */
static void test_bound_and_transactions(void **state)
{
	char *dir, *path = tmp_db(&dir);
	struct outbox *o;
	struct outbox_stats s;
	static const char *const kept[] = {"new1", "new2", "new3"};
	static const char *const later[] = {"new3", "later"};
	static const char *const bounded[] = {"new2", "new3"};

	assert_int_equal(outbox_open(path, &o), 0);
	outbox_set_limit(o, OUTBOX_MQTT, 2);
	assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_STATE, "old1"), 0);
	assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_STATE, "old2"), 0);
	put_news(o, true);
	expect_data(o, kept, 3);
	outbox_get_stats(o, OUTBOX_MQTT, &s);
	assert_int_equal(s.dropped, 2);
	assert_int_equal(put(o, OUTBOX_MQTT, OUTBOX_STATE, "later"), 0);
	expect_data(o, later, 2);

	put_news(o, false);
	expect_data(o, bounded, 2);
	outbox_get_stats(o, OUTBOX_MQTT, &s);
	assert_int_equal(s.dropped, 2 + 2 + 3);
	outbox_close(o);
	g_free(path);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_by_class_then_time),
	    cmocka_unit_test(test_bound_drops_oldest_measurements_never_alerts),
	    cmocka_unit_test(test_reject_and_token),
	    cmocka_unit_test(test_sigkill_mid_write),
	    cmocka_unit_test(test_put_in_caller_transaction),
	    cmocka_unit_test(test_bound_and_transactions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

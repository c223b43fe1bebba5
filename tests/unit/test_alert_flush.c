/* Unit tests of an alert flush as the daemon wires it (alerts/service.c with the MQTT
 * client's outbox in the same hallwatch.db, the broker unreachable so nothing is
 * acknowledged): the events, the alert states and their outbox records are committed in
 * one transaction, all or nothing. Commits are counted from the outside, in the WAL file:
 * a frame whose header names the database size ends a transaction. */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include "alerts/service.h"
#include "gateway/config.h"
#include "gateway/mqtt.h"
#include "gateway/outbox.h"

struct fx {
	char *dir;
	char *db;
	struct hw_config *cfg;
	struct mqtt *m;
	struct outbox *ob;
	struct alert_service *s;
};

/* A loopback port nothing listens on: the client keeps trying, nothing is acknowledged. */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static int setup(void **state)
{
	struct fx *f = g_new0(struct fx, 1);
	struct cfg_errors errs = {0};
	char *cfg_path, *text;

	f->dir = g_dir_make_tmp("hw-flush-XXXXXX", NULL);
	assert_non_null(f->dir);
	f->db = g_build_filename(f->dir, "hallwatch.db", NULL);
	cfg_path = g_build_filename(f->dir, "hallwatch.cfg", NULL);
	text = g_strdup_printf("site = { id = \"t1\"; profile_dir = \"%s\"; };\n"
			       "mqtt = { enabled = true; host = \"127.0.0.1\"; port = %d; };\n"
			       "influx = { enabled = false; };\n"
			       "storage = { state_dir = \"%s\"; };\n"
			       "buses = ();\ndevices = ();\n",
			       f->dir, closed_port(), f->dir);
	assert_true(g_file_set_contents(cfg_path, text, -1, NULL));
	assert_int_equal(config_load(cfg_path, &f->cfg, &errs), 0);
	g_free(cfg_path);
	g_free(text);
	assert_int_equal(mqtt_create(&f->cfg->mqtt, f->cfg->site.id, NULL, NULL, NULL, &f->m), 0);
	assert_int_equal(outbox_open(f->db, &f->ob), 0);
	mqtt_set_outbox(f->m, f->ob);
	assert_int_equal(alert_service_create(f->cfg, f->m, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

	alert_service_destroy(f->s);
	mqtt_destroy(f->m, 0);
	outbox_close(f->ob);
	config_free(f->cfg);
	assert_int_equal(system(cmd), 0);
	g_free(cmd);
	g_free(f->db);
	g_free(f->dir);
	g_free(f);
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Transactions committed in the WAL since it was last reset: frames with the header's
 * salt whose "database size after commit" is set. */
static long wal_commits(const char *db)
{
	char *path = g_strdup_printf("%s-wal", db);
	FILE *fp = fopen(path, "rb");
	unsigned char h[32], fh[24];
	long n = 0;

	g_free(path);
	if (!fp)
		return 0;
	if (fread(h, 1, sizeof(h), fp) == sizeof(h)) {
		uint32_t page = be32(h + 8);
		while (fread(fh, 1, sizeof(fh), fp) == sizeof(fh) &&
		       memcmp(fh + 8, h + 16, 8) == 0) {
			n += be32(fh + 4) != 0;
			if (fseek(fp, (long)page, SEEK_CUR) != 0)
				break;
		}
	}
	fclose(fp);
	return n;
}

/* One integer from the file, through a connection of the test's own. */
static long long query(const char *db, const char *sql)
{
	sqlite3 *c;
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_open_v2(db, &c, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(c, 5000);
	assert_int_equal(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(c);
	return v;
}

static void exec_sql(const char *db, const char *sql)
{
	sqlite3 *c;

	assert_int_equal(sqlite3_open_v2(db, &c, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(c, 5000);
	assert_int_equal(sqlite3_exec(c, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(c);
}

static uint64_t mqtt_records(struct fx *f)
{
	struct outbox_stats os;

	outbox_get_stats(f->ob, OUTBOX_MQTT, &os);
	return os.records;
}

static void test_one_commit_per_flush(void **state)
{
	struct fx *f = *state;
	long before = wal_commits(f->db);

	/* A camera fault: one event, its alert, the event's and alert/<id>'s records. */
	alert_service_on_camera(f->s, "cam1", "dark", true);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM alert_event"), 1);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM alert_state"), 1);
	assert_int_equal(mqtt_records(f), 2);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM outbox_msg WHERE topic = 'events' "
				      "AND token = 1"),
			 1);
	assert_int_equal(
	    query(f->db, "SELECT COUNT(*) FROM outbox_msg WHERE topic = 'alert/cam1.dark'"), 1);
	assert_int_equal(wal_commits(f->db) - before, 1);

	/* Two changes of one camera at once, a second flush: one commit again. */
	before = wal_commits(f->db);
	alert_service_on_camera(f->s, "cam1", "offline", true);
	assert_true(mqtt_records(f) > 2);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM alert_event"),
			 query(f->db, "SELECT COUNT(*) FROM outbox_msg WHERE topic = 'events'"));
	assert_int_equal(wal_commits(f->db) - before, 1);
}

/* Polls the main context until the store writes again, for up to 10 s. */
static bool store_ok_within(struct fx *f)
{
	gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	struct alert_service_stats st;

	for (;;) {
		alert_service_get_stats(f->s, &st);
		if (st.store_ok && st.held == 0)
			return true;
		if (g_get_monotonic_time() > deadline)
			return false;
		g_main_context_iteration(NULL, FALSE);
		g_usleep(10000);
	}
}

/* The outbox refuses a record (an injected failure of the insert): nothing of the flush is
 * committed, the events wait in memory, and once the outbox takes records again the events,
 * their alerts' states and their records are written together, with no number lost. */
static void test_all_or_nothing(void **state)
{
	struct fx *f = *state;
	struct alert_service_stats st;

	exec_sql(f->db, "CREATE TRIGGER refuse BEFORE INSERT ON outbox_msg "
			"BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
	alert_service_on_camera(f->s, "cam2", "covered", true);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM alert_event"), 0);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM alert_state"), 0);
	assert_int_equal(mqtt_records(f), 0);
	alert_service_get_stats(f->s, &st);
	assert_false(st.store_ok);
	assert_true(st.unstored >= 1);

	exec_sql(f->db, "DROP TRIGGER refuse");
	assert_true(store_ok_within(f));
	/* cam2.covered raised, gateway.store_fault raised and cleared. */
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM alert_event"), 3);
	assert_int_equal(query(f->db, "SELECT MAX(seq) FROM alert_event"), 3);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM outbox_msg WHERE topic = 'events'"), 3);
	/* alert/<id> went out from memory meanwhile (a reconnect republishes every open
	 * alert); its state is in the store now. */
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM alert_state WHERE id = 'cam2.covered'"),
			 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_one_commit_per_flush, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

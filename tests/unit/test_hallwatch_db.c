/* Unit tests of hallwatch.db as the daemon opens it: the alert service with the MQTT
 * client's outbox in the same file (the broker unreachable, so nothing is acknowledged) and
 * the recording index.
 * - An alert flush commits the events, the alert states and their outbox records in one
 *   transaction, all or nothing. Commits are counted from the outside, in the WAL file: a
 *   frame whose header names the database size ends a transaction.
 * - A file written before the schema had a version (tests/unit/data/hallwatch-v0.db, made
 *   by tests/tools/make_db_v0.py) is upgraded with every row kept and usable; a file of a
 *   newer version is refused and left as it is.
 * Only the modules' own interfaces and a connection of the test's own are used. */
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
#include "core/config.h"
#include "core/db.h"
#include "outputs/mqtt.h"
#include "outputs/outbox.h"
#include "video/recindex.h"

#define FIXTURE "tests/unit/data/hallwatch-v0.db"

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

/* A temporary state directory, with a copy of the fixture as hallwatch.db if v0. */
static struct fx *make_dir(bool v0)
{
	struct fx *f = g_new0(struct fx, 1);

	f->dir = g_dir_make_tmp("hw-db-XXXXXX", NULL);
	assert_non_null(f->dir);
	f->db = g_build_filename(f->dir, "hallwatch.db", NULL);
	if (v0) {
		gchar *data;
		gsize len;
		assert_true(g_file_get_contents(FIXTURE, &data, &len, NULL));
		assert_true(g_file_set_contents(f->db, data, (gssize)len, NULL));
		g_free(data);
	}
	return f;
}

/* Opens the outbox, the MQTT client and the alert service on the directory, in the order
 * of the daemon (gateway/main.c). */
static void open_all(struct fx *f, const char *site)
{
	struct cfg_errors errs = {0};
	char *cfg_path = g_build_filename(f->dir, "hallwatch.cfg", NULL);
	char *text =
	    g_strdup_printf("site = { id = \"%s\"; profile_dir = \"%s\"; };\n"
			    "mqtt = { enabled = true; host = \"127.0.0.1\"; port = %d; };\n"
			    "influx = { enabled = false; };\n"
			    "storage = { state_dir = \"%s\"; };\n"
			    "buses = ();\ndevices = ();\n",
			    site, f->dir, closed_port(), f->dir);

	assert_true(g_file_set_contents(cfg_path, text, -1, NULL));
	assert_int_equal(config_load(cfg_path, &f->cfg, &errs), 0);
	g_free(cfg_path);
	g_free(text);
	assert_int_equal(outbox_open(f->db, &f->ob), 0);
	assert_int_equal(mqtt_create(&f->cfg->mqtt, f->cfg->site.id, NULL, NULL, NULL, &f->m), 0);
	mqtt_set_outbox(f->m, f->ob);
	assert_int_equal(alert_service_create(f->cfg, f->m, &f->s), 0);
}

static void close_all(struct fx *f)
{
	alert_service_destroy(f->s);
	mqtt_destroy(f->m, 0);
	outbox_close(f->ob);
	config_free(f->cfg);
	f->s = NULL;
	f->m = NULL;
	f->ob = NULL;
	f->cfg = NULL;
}

static int setup(void **state)
{
	struct fx *f = make_dir(false);

	open_all(f, "t1");
	*state = f;
	return 0;
}

static int setup_v0(void **state)
{
	*state = make_dir(true);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char *cmd = g_strdup_printf("rm -rf '%s'", f->dir);

	close_all(f);
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

/* Every row of every table of hallwatch's, as text, through the test's own connection. */
static char *dump(const char *db)
{
	static const char *const tables[] = {"alert_state",    "alert_event",
					     "outbox_msg",     "outbox_rejected",
					     "video_segments", "sqlite_sequence"};
	GString *out = g_string_new(NULL);
	sqlite3 *c;

	assert_int_equal(sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (size_t i = 0; i < G_N_ELEMENTS(tables); i++) {
		char *sql = g_strdup_printf("SELECT * FROM %s ORDER BY 1", tables[i]);
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
		g_string_append_printf(out, "%s:\n", tables[i]);
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int k = 0; k < sqlite3_column_count(st); k++) {
				const char *v = (const char *)sqlite3_column_text(st, k);
				g_string_append_printf(out, "%d|%s|", sqlite3_column_type(st, k),
						       v ? v : "");
			}
			g_string_append_c(out, '\n');
		}
		sqlite3_finalize(st);
		g_free(sql);
	}
	sqlite3_close(c);
	return g_string_free(out, FALSE);
}

/* The file today's main wrote (two open alerts, one undelivered event, its outbox records
 * and line protocol waiting, three recorded segments) opens in the daemon's order: version
 * 1, every row unchanged, and all of it in use: the alerts restored, the undelivered event
 * not put in the outbox twice, the records replayed in order, the segments found, and the
 * numbering going on. */
static void test_v0_file_upgraded(void **state)
{
	struct fx *f = *state;
	char *before = dump(f->db), *after;
	struct alert_service_stats st;
	struct outbox_stats os;
	struct recindex *ix;
	struct rec_segment *seg;
	GPtrArray *recs = g_ptr_array_new_with_free_func(outbox_rec_free);

	assert_int_equal(query(f->db, "PRAGMA user_version"), 0);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM alert_event WHERE delivered = 0"), 1);
	open_all(f, "hall-v0");
	assert_int_equal(recindex_open(f->db, &ix), 0);
	assert_int_equal(query(f->db, "PRAGMA user_version"), DB_VERSION);
	after = dump(f->db);
	assert_string_equal(after, before);
	/* version 2: the inspection tables, empty */
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
				      "name IN ('insp_task', 'insp_record', 'insp_ticket', "
				      "'insp_ticket_tr', 'insp_meta')"),
			 5);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM insp_task"), 0);

	alert_service_get_stats(f->s, &st);
	assert_int_equal(st.active, 2);
	assert_int_equal(st.undelivered, 1);
	outbox_get_stats(f->ob, OUTBOX_MQTT, &os);
	assert_int_equal(os.records, 2);
	outbox_get_stats(f->ob, OUTBOX_LP, &os);
	assert_int_equal(os.records, 14);
	assert_int_equal(outbox_next(f->ob, OUTBOX_MQTT, NULL, 0, 10, recs), 2);
	assert_string_equal(((struct outbox_rec *)recs->pdata[0])->topic, "events");
	assert_int_equal(((struct outbox_rec *)recs->pdata[0])->token, 6);
	assert_int_equal(((struct outbox_rec *)recs->pdata[0])->cls, OUTBOX_ALARM);
	assert_non_null(strstr(((struct outbox_rec *)recs->pdata[0])->data, "\"seq\":6"));
	assert_string_equal(((struct outbox_rec *)recs->pdata[1])->topic,
			    "alert/facp1.zone-4.fire");
	assert_true(((struct outbox_rec *)recs->pdata[1])->retain);
	g_ptr_array_free(recs, TRUE);
	assert_int_equal(recindex_query(ix, "cam1", INT64_MIN, INT64_MAX, &seg), 3);
	assert_true(seg[0].end_ms > seg[0].start_ms && seg[0].bytes > 0);
	rec_segments_free(seg, 3);
	recindex_close(ix);

	/* New events number on from the file's. */
	alert_service_on_camera(f->s, "cam1", "dark", true);
	assert_int_equal(query(f->db, "SELECT MAX(seq) FROM alert_event"), 7);
	assert_int_equal(query(f->db, "SELECT COUNT(*) FROM outbox_msg WHERE token = 7"), 1);
	close_all(f);

	/* Opened again: nothing to migrate, nothing changed by opening. */
	g_free(before);
	before = dump(f->db);
	open_all(f, "hall-v0");
	assert_int_equal(query(f->db, "PRAGMA user_version"), DB_VERSION);
	g_free(after);
	after = dump(f->db);
	assert_string_equal(after, before);
	alert_service_get_stats(f->s, &st);
	assert_int_equal(st.active, 3);
	g_free(before);
	g_free(after);
}

/* A file of a schema newer than this build is refused by every module and left as it is. */
static void test_newer_file_refused(void **state)
{
	struct fx *f = *state;
	struct outbox *ob = NULL;
	struct recindex *ix = NULL;
	char *before, *after;

	exec_sql(f->db, "PRAGMA user_version = 99");
	before = dump(f->db);
	assert_true(outbox_open(f->db, &ob) < 0);
	assert_true(recindex_open(f->db, &ix) < 0);
	assert_int_equal(query(f->db, "PRAGMA user_version"), 99);
	after = dump(f->db);
	assert_string_equal(after, before);
	g_free(before);
	g_free(after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_one_commit_per_flush, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v0_file_upgraded, setup_v0, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_file_refused, setup_v0, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

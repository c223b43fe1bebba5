/* Tests of the line protocol writer against a real influxd (Debian's 1.6) that the test
 * starts itself on free loopback ports in a temporary directory, and against a tiny
 * scripted HTTP peer for what influxd 1.x cannot show (2.x URL and token, basic auth).
 * The main thread drives the writer; the writer's worker and the peer's thread run
 * beside it. influxd is ended by its PID, also when a test fails. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "outputs/influx.h"
#include "outputs/outbox.h"

#define INFLUXD "/usr/bin/influxd"
#define READY_MS 10000
#define TS0 1700000000000000000LL

static struct {
	char *dir;
	char *conf;
	int http_port;
	int rpc_port;
	char base[64];
	pid_t pid;
} srv = {.pid = -1};

/* --- helpers --- */

static int free_port(int *sock)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	*sock = socket(AF_INET, SOCK_STREAM, 0);
	if (*sock < 0 || bind(*sock, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(*sock, (struct sockaddr *)&a, &len) < 0)
		return -1;
	return ntohs(a.sin_port);
}

static size_t collect(char *p, size_t size, size_t n, void *data)
{
	g_string_append_len(data, p, (gssize)(size * n));
	return size * n;
}

/* One HTTP request with libcurl; returns the status, 0 if there was no answer. */
static long http(const char *method, const char *url, const char *body, GString *out)
{
	CURL *c = curl_easy_init();
	long status = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (out)
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	else
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

static long query(const char *db, const char *q, GString *out)
{
	CURL *c = curl_easy_init();
	char *eq = curl_easy_escape(c, q, 0);
	char *url = g_strdup_printf("%s/query?%s%s%sq=%s", srv.base, db ? "db=" : "", db ? db : "",
				    db ? "&" : "", eq);
	long st;

	g_string_truncate(out, 0);
	st = http(db ? "GET" : "POST", url, NULL, out);
	curl_free(eq);
	g_free(url);
	curl_easy_cleanup(c);
	return st;
}

/* The first number of the first row of a SELECT's answer; 0 if there is no series. */
static int64_t select_number(const char *db, const char *q)
{
	GString *out = g_string_new(NULL);
	const char *p;
	int64_t v = 0;

	assert_int_equal(query(db, q, out), 200);
	p = strstr(out->str, "\"values\":[[");
	if (p) {
		p = strchr(p, ',');
		assert_non_null(p);
		v = strtoll(p + 1, NULL, 10);
	}
	g_string_free(out, TRUE);
	return v;
}

static int64_t count_points(const char *db)
{
	return select_number(db, "SELECT count(v) FROM m");
}

/* httpd's pointsWrittenOK since influxd started: what the server really accepted. */
static int64_t points_written_ok(void)
{
	GString *out = g_string_new(NULL);
	char *url = g_strdup_printf("%s/debug/vars", srv.base);
	const char *p;
	int64_t v;

	assert_int_equal(http("GET", url, NULL, out), 200);
	g_free(url);
	p = strstr(out->str, "\"pointsWrittenOK\":");
	assert_non_null(p);
	v = strtoll(p + strlen("\"pointsWrittenOK\":"), NULL, 10);
	g_string_free(out, TRUE);
	return v;
}

static bool alive(void)
{
	return srv.pid > 0 && waitpid(srv.pid, NULL, WNOHANG) == 0;
}

/* Starts influxd and waits (bounded) for /ping to answer 204. */
static int server_start(void)
{
	char *log = g_build_filename(srv.dir, "influxd.log", NULL);
	char *ping = g_strdup_printf("%s/ping", srv.base);
	gint64 end = g_get_monotonic_time() + READY_MS * 1000;
	pid_t parent = getpid();
	int rc = -1;

	srv.pid = fork();
	if (srv.pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(INFLUXD, "influxd", "-config", srv.conf, (char *)NULL);
		_exit(127);
	}
	while (srv.pid > 0 && g_get_monotonic_time() < end) {
		if (http("GET", ping, NULL, NULL) == 204) {
			rc = 0;
			break;
		}
		if (!alive()) {
			srv.pid = -1;
			break;
		}
		g_usleep(20 * 1000);
	}
	if (rc < 0)
		print_error("influxd did not become ready; see %s\n", log);
	g_free(ping);
	g_free(log);
	return rc;
}

/* Ends influxd by its PID: SIGTERM, then SIGKILL if it is not gone within 10 s. */
static void server_stop(void)
{
	gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

	if (srv.pid <= 0)
		return;
	kill(srv.pid, SIGTERM);
	while (waitpid(srv.pid, NULL, WNOHANG) == 0) {
		if (g_get_monotonic_time() > end) {
			kill(srv.pid, SIGKILL);
			waitpid(srv.pid, NULL, 0);
			break;
		}
		g_usleep(10 * 1000);
	}
	srv.pid = -1;
}

static void create_db(const char *name)
{
	GString *out = g_string_new(NULL);
	char *q = g_strdup_printf("CREATE DATABASE %s", name);

	assert_int_equal(query(NULL, q, out), 200);
	g_free(q);
	g_string_free(out, TRUE);
}

static int group_setup(void **state)
{
	(void)state;
	FILE *f;
	int s1, s2;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (access(INFLUXD, X_OK) != 0) {
		print_error("%s is not installed: run scripts/install-deps.sh as root\n", INFLUXD);
		return -1;
	}
	srv.dir = g_dir_make_tmp("hw-influx-XXXXXX", NULL);
	srv.http_port = free_port(&s1);
	srv.rpc_port = free_port(&s2);
	close(s1);
	close(s2);
	if (!srv.dir || srv.http_port <= 0 || srv.rpc_port <= 0)
		return -1;
	snprintf(srv.base, sizeof(srv.base), "http://127.0.0.1:%d", srv.http_port);
	srv.conf = g_build_filename(srv.dir, "influxd.conf", NULL);
	f = fopen(srv.conf, "w");
	if (!f)
		return -1;
	fprintf(f,
		"reporting-disabled = true\n"
		"bind-address = \"127.0.0.1:%d\"\n"
		"[meta]\n  dir = \"%s/meta\"\n"
		"[data]\n  dir = \"%s/data\"\n  wal-dir = \"%s/wal\"\n"
		"[http]\n  bind-address = \"127.0.0.1:%d\"\n  log-enabled = false\n"
		"[monitor]\n  store-enabled = false\n",
		srv.rpc_port, srv.dir, srv.dir, srv.dir, srv.http_port);
	fclose(f);
	if (server_start() < 0)
		return -1;
	create_db("w1");
	create_db("w2");
	create_db("w3");
	create_db("w4");
	create_db("w5");
	return 0;
}

static void rm_rf(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *name;

	if (d) {
		while ((name = g_dir_read_name(d))) {
			char *p = g_build_filename(path, name, NULL);
			rm_rf(p);
			g_free(p);
		}
		g_dir_close(d);
	}
	g_remove(path);
}

static int group_teardown(void **state)
{
	(void)state;
	server_stop();
	if (srv.dir && !getenv("HW_KEEP_TMP"))
		rm_rf(srv.dir);
	g_free(srv.dir);
	g_free(srv.conf);
	srv.dir = srv.conf = NULL;
	return 0;
}

static void cleanup_at_exit(void)
{
	server_stop();
}

static struct cfg_influx cfg_v1(const char *db)
{
	return (struct cfg_influx){
	    .enabled = true,
	    .url = srv.base,
	    .version = 1,
	    .database = (char *)db,
	    .batch_size = 100,
	    .flush_interval_ms = 50,
	    .timeout_ms = 2000,
	    .max_buffer = 100000,
	    .retry_min_ms = 50,
	    .retry_max_ms = 400,
	};
}

/* Submits lines first..first+n-1 of measurement m, `per` lines per call. */
static void submit_lines(struct influx *ix, int first, int n, int per)
{
	GString *b = g_string_new(NULL);

	for (int i = first; i < first + n; i++) {
		g_string_append_printf(b, "m,t=a v=%di %lld\n", i, TS0 + i);
		if ((i - first + 1) % per == 0 || i == first + n - 1) {
			assert_int_equal(influx_submit(ix, b->str, b->len), 0);
			g_string_truncate(b, 0);
		}
	}
	g_string_free(b, TRUE);
}

enum what { SENT, FAILED };

/* Waits (bounded) until a counter reaches want. */
static bool wait_stat(struct influx *ix, enum what w, uint64_t want, int ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
	struct influx_stats st;

	for (;;) {
		influx_stats(ix, &st);
		if ((w == SENT ? st.lines_sent : st.batches_failed) >= want)
			return true;
		if (g_get_monotonic_time() > end)
			return false;
		g_usleep(10 * 1000);
	}
}

/* --- tests against influxd --- */

static void test_write_and_count(void **state)
{
	(void)state;
	struct cfg_influx c = cfg_v1("w1");
	struct influx *ix;
	struct influx_stats st;
	const int n = 5000;

	assert_int_equal(influx_create(&c, &ix), 0);
	submit_lines(ix, 0, n, 7);
	assert_true(wait_stat(ix, SENT, n, 10000));
	influx_stats(ix, &st);
	assert_int_equal(st.lines_sent, n);
	assert_int_equal(st.lines_queued, 0);
	assert_int_equal(st.lines_dropped, 0);
	assert_int_equal(st.batches_failed, 0);
	assert_true(st.batches_sent >= (uint64_t)n / 100);
	assert_int_equal(st.last_status, 204);
	assert_true(st.connected);
	influx_destroy(ix, 1000);
	assert_int_equal(count_points("w1"), n);
}

static void test_flush_on_destroy(void **state)
{
	(void)state;
	struct cfg_influx c = cfg_v1("w2");
	struct influx *ix;
	gint64 t0;

	/* Neither a full batch nor the interval would post these: only destroy does. */
	c.batch_size = 100000;
	c.flush_interval_ms = 60000;
	assert_int_equal(influx_create(&c, &ix), 0);
	submit_lines(ix, 0, 777, 1);
	t0 = g_get_monotonic_time();
	influx_destroy(ix, 5000);
	assert_true(g_get_monotonic_time() - t0 < 5 * G_USEC_PER_SEC);
	assert_int_equal(count_points("w2"), 777);
}

static void test_unknown_db_keeps_batch(void **state)
{
	(void)state;
	struct cfg_influx c = cfg_v1("no_such_db");
	struct influx *ix;
	struct influx_stats st;

	assert_int_equal(influx_create(&c, &ix), 0);
	submit_lines(ix, 0, 50, 50);
	assert_true(wait_stat(ix, FAILED, 2, 5000)); /* failed, then failed a retry */
	influx_stats(ix, &st);
	assert_int_equal(st.lines_sent, 0);
	assert_int_equal(st.lines_queued, 50);
	assert_int_equal(st.lines_dropped, 0);
	assert_int_equal(st.last_status, 404);
	assert_false(st.connected);
	influx_destroy(ix, 0);
}

static void test_restart_exactly_once(void **state)
{
	(void)state;
	struct cfg_influx c = cfg_v1("w3");
	struct influx *ix;
	struct influx_stats st;
	int64_t ok0, ok1;

	ok0 = points_written_ok();
	assert_int_equal(influx_create(&c, &ix), 0);
	submit_lines(ix, 0, 300, 10);
	assert_true(wait_stat(ix, SENT, 300, 5000));
	ok1 = points_written_ok();
	assert_int_equal(ok1 - ok0, 300);

	server_stop();
	submit_lines(ix, 300, 700, 10);
	assert_true(wait_stat(ix, FAILED, 1, 5000));
	influx_stats(ix, &st);
	assert_int_equal(st.last_status, 0);
	assert_false(st.connected);
	assert_int_equal(st.lines_queued, 700);
	assert_int_equal(st.lines_sent, 300);

	assert_int_equal(server_start(), 0);
	assert_true(wait_stat(ix, SENT, 1000, 10000));
	influx_stats(ix, &st);
	assert_int_equal(st.lines_sent, 1000);
	assert_int_equal(st.lines_queued, 0);
	assert_int_equal(st.lines_dropped, 0);
	assert_true(st.connected);
	influx_destroy(ix, 1000);

	/* The restarted server counts from zero: it accepted the 700 once, not again. */
	assert_int_equal(points_written_ok(), 700);
	assert_int_equal(count_points("w3"), 1000);
}

static void test_bounded_buffer_drops_oldest(void **state)
{
	(void)state;
	struct cfg_influx c = cfg_v1("w4");
	struct influx *ix;
	struct influx_stats st;

	c.max_buffer = 10;
	c.batch_size = 5;
	c.flush_interval_ms = 20;
	server_stop();
	assert_int_equal(influx_create(&c, &ix), 0);
	/* One submit: the worker cannot take a batch between the lines, so which ten are
	 * kept does not depend on thread timing (a batch in flight is never dropped). */
	submit_lines(ix, 0, 25, 25);
	influx_stats(ix, &st);
	assert_int_equal(st.lines_dropped, 15);
	assert_int_equal(st.lines_queued, 10);
	assert_true(wait_stat(ix, FAILED, 2, 5000));
	influx_stats(ix, &st);
	assert_int_equal(st.lines_dropped, 15);
	assert_int_equal(st.lines_queued, 10);

	assert_int_equal(server_start(), 0);
	assert_true(wait_stat(ix, SENT, 10, 10000));
	influx_stats(ix, &st);
	assert_int_equal(st.lines_sent, 10);
	assert_int_equal(st.lines_dropped, 15);
	influx_destroy(ix, 1000);
	/* The newest ten arrived: 15..24. */
	assert_int_equal(count_points("w4"), 10);
	assert_int_equal(select_number("w4", "SELECT min(v) FROM m"), 15);
}

/* Durable mode against influxd: gzipped posts from the outbox; a record holding a bad line
 * is set aside with the line named, the rest is written and nothing blocks; a stopped
 * server keeps the lines in the outbox, and a new writer on the same outbox sends them. */
static void test_durable_gzip_and_set_aside(void **state)
{
	(void)state;
	struct cfg_influx c = cfg_v1("w5");
	char *dir = g_dir_make_tmp("hw-influx-XXXXXX", NULL);
	char *path = g_build_filename(dir, "hallwatch.db", NULL);
	struct outbox *ob;
	struct outbox_stats os;
	struct influx *ix;
	struct influx_stats st;
	char *cmd;

	c.gzip = true;
	c.flush_interval_ms = 300; /* the three submits go in one post */
	assert_int_equal(outbox_open(path, &ob), 0);
	assert_int_equal(influx_create_durable(&c, ob, &ix), 0);
	submit_lines(ix, 0, 10, 10);
	assert_int_equal(influx_submit(ix, "m,t=a v=100i 1700000000000000100\nbad line here\n", 47),
			 0);
	submit_lines(ix, 10, 10, 10);
	assert_true(wait_stat(ix, SENT, 20, 10000));
	influx_stats(ix, &st);
	assert_int_equal(st.lines_rejected, 2);
	assert_int_equal(st.lines_queued, 0);
	outbox_get_stats(ob, OUTBOX_LP, &os);
	assert_int_equal(os.rejected_held, 1);
	assert_int_equal(os.records, 0);

	/* Server down: kept in the outbox across the writer's end. */
	server_stop();
	submit_lines(ix, 20, 30, 10);
	assert_true(wait_stat(ix, FAILED, 2, 5000));
	influx_destroy(ix, 0);
	outbox_get_stats(ob, OUTBOX_LP, &os);
	assert_int_equal(os.depth, 30);
	assert_int_equal(server_start(), 0);
	assert_int_equal(influx_create_durable(&c, ob, &ix), 0);
	assert_true(wait_stat(ix, SENT, 30, 10000));
	influx_destroy(ix, 1000);
	outbox_close(ob);
	/* Points 0..49 (20..49 by the second writer) and the good line of the set-aside
	 * record, which InfluxDB 1.x wrote as a partial write. */
	assert_true(count_points("w5") >= 50);
	cmd = g_strdup_printf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	g_free(cmd);
	g_free(path);
	g_free(dir);
}

/* --- a scripted HTTP peer: records requests, answers with a fixed status --- */

struct peer {
	int sock;
	int port;
	int status; /* answer */
	GThread *thread;
	GMutex mu;
	GPtrArray *requests; /* char *: request line, headers and body */
	volatile gint stop;
};

static gpointer peer_run(gpointer data)
{
	struct peer *p = data;

	while (!g_atomic_int_get(&p->stop)) {
		struct pollfd pfd = {.fd = p->sock, .events = POLLIN};
		GString *req;
		char buf[4096], *hdr_end;
		long clen = 0;
		int fd;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(p->sock, NULL, NULL);
		if (fd < 0)
			continue;
		req = g_string_new(NULL);
		for (;;) {
			ssize_t n;
			hdr_end = strstr(req->str, "\r\n\r\n");
			if (hdr_end) {
				char *cl = strcasestr(req->str, "\r\nContent-Length:");
				clen = cl && cl < hdr_end ? strtol(cl + 17, NULL, 10) : 0;
				if ((long)req->len >= (hdr_end - req->str) + 4 + clen)
					break;
			}
			n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			g_string_append_len(req, buf, n);
		}
		snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %d X\r\nContent-Length: 5\r\nConnection: close\r\n\r\noops\n",
			 p->status);
		if (write(fd, buf, strlen(buf)) < 0) {
			/* the writer will see no answer */
		}
		close(fd);
		g_mutex_lock(&p->mu);
		g_ptr_array_add(p->requests, g_string_free(req, FALSE));
		g_mutex_unlock(&p->mu);
	}
	return NULL;
}

static void peer_start(struct peer *p, int status)
{
	memset(p, 0, sizeof(*p));
	p->port = free_port(&p->sock);
	assert_true(p->port > 0);
	assert_int_equal(listen(p->sock, 8), 0);
	p->status = status;
	g_mutex_init(&p->mu);
	p->requests = g_ptr_array_new_with_free_func(g_free);
	p->thread = g_thread_new("peer", peer_run, p);
}

static void peer_stop(struct peer *p)
{
	g_atomic_int_set(&p->stop, 1);
	g_thread_join(p->thread);
	close(p->sock);
	g_ptr_array_unref(p->requests);
	g_mutex_clear(&p->mu);
}

static char *peer_first(struct peer *p)
{
	char *r = NULL;

	g_mutex_lock(&p->mu);
	if (p->requests->len)
		r = g_strdup(p->requests->pdata[0]);
	g_mutex_unlock(&p->mu);
	return r;
}

static void test_v2_url_and_token(void **state)
{
	(void)state;
	struct peer p;
	struct influx *ix;
	char url[64];
	char *req;
	struct cfg_influx c = {
	    .url = url,
	    .version = 2,
	    .org = "my org",
	    .bucket = "b&c",
	    .token = "s3cr3t-token",
	    .batch_size = 10,
	    .flush_interval_ms = 10,
	    .timeout_ms = 2000,
	    .max_buffer = 100,
	    .retry_min_ms = 20,
	    .retry_max_ms = 100,
	};

	peer_start(&p, 204);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", p.port);
	assert_int_equal(influx_create(&c, &ix), 0);
	assert_int_equal(influx_submit(ix, "m v=1i 1\nm v=2i 2\n", 18), 0);
	assert_true(wait_stat(ix, SENT, 2, 5000));
	influx_destroy(ix, 1000);
	req = peer_first(&p);
	assert_non_null(req);
	assert_non_null(
	    strstr(req, "POST /api/v2/write?org=my%20org&bucket=b%26c&precision=ns HTTP/1.1\r\n"));
	assert_non_null(strstr(req, "\r\nAuthorization: Token s3cr3t-token\r\n"));
	assert_non_null(strstr(req, "\r\n\r\nm v=1i 1\nm v=2i 2\n"));
	g_free(req);
	peer_stop(&p);
}

static void test_v1_basic_auth_and_500(void **state)
{
	(void)state;
	struct peer p;
	struct influx *ix;
	struct influx_stats st;
	char url[64];
	char *req;
	struct cfg_influx c = {
	    .url = url,
	    .version = 1,
	    .database = "hall",
	    .username = "u",
	    .password = "p",
	    .batch_size = 10,
	    .flush_interval_ms = 10,
	    .timeout_ms = 2000,
	    .max_buffer = 100,
	    .retry_min_ms = 20,
	    .retry_max_ms = 100,
	};

	peer_start(&p, 500);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", p.port);
	assert_int_equal(influx_create(&c, &ix), 0);
	assert_int_equal(influx_submit(ix, "m v=1i 1\n", 9), 0);
	assert_int_equal(influx_submit(ix, "m v=1i", 6), -EINVAL); /* no "\n" */
	assert_true(wait_stat(ix, FAILED, 3, 5000));
	influx_stats(ix, &st);
	assert_int_equal(st.last_status, 500);
	assert_int_equal(st.lines_queued, 1);
	assert_int_equal(st.lines_sent, 0);
	influx_destroy(ix, 0);
	req = peer_first(&p);
	assert_non_null(req);
	assert_non_null(strstr(req, "POST /write?db=hall&precision=ns HTTP/1.1\r\n"));
	assert_non_null(strstr(req, "\r\nAuthorization: Basic dTpw\r\n")); /* u:p */
	g_free(req);
	peer_stop(&p);
}

static void test_bad_config(void **state)
{
	(void)state;
	struct cfg_influx c = cfg_v1("x");
	struct influx *ix = (struct influx *)&c;

	c.database = NULL;
	assert_int_equal(influx_create(&c, &ix), -EINVAL);
	assert_null(ix);
	c = cfg_v1("x");
	c.version = 2; /* no org, bucket, token */
	assert_int_equal(influx_create(&c, &ix), -EINVAL);
	c = cfg_v1("x");
	c.retry_max_ms = 10;
	assert_int_equal(influx_create(&c, &ix), -EINVAL);
	influx_destroy(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_and_count),
	    cmocka_unit_test(test_flush_on_destroy),
	    cmocka_unit_test(test_unknown_db_keeps_batch),
	    cmocka_unit_test(test_restart_exactly_once),
	    cmocka_unit_test(test_bounded_buffer_drops_oldest),
	    cmocka_unit_test(test_durable_gzip_and_set_aside),
	    cmocka_unit_test(test_v2_url_and_token),
	    cmocka_unit_test(test_v1_basic_auth_and_500),
	    cmocka_unit_test(test_bad_config),
	};

	signal(SIGPIPE, SIG_IGN);
	atexit(cleanup_at_exit);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

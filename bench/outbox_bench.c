/* Outbox benchmarks (docs/benchmarks.md, "Delivery"); run by bench/outbox_bench.py.
 *   hw-bench-outbox throughput DIR [N]         records in and out per second
 *   hw-bench-outbox drain DIR URL [DEVICES] [MINUTES]
 *       a MINUTES outage backlog of DEVICES devices (one 10-line record per device and
 *       second) posted to InfluxDB 1.x at URL by the durable writer: drain time
 *   hw-bench-outbox p1 DIR PORT [BACKLOG]
 *       BACKLOG older P3 events and one P1 event in the outbox; connect to the broker:
 *       time until the broker acknowledged the P1 event
 * Single-threaded driver; the writer and the MQTT client run their own threads. */
#define LOG_TAG "bench"
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "outputs/influx.h"
#include "core/log.h"
#include "outputs/mqtt.h"
#include "outputs/outbox.h"

static double now_s(void)
{
	return (double)g_get_monotonic_time() / 1e6;
}

static struct outbox *open_in(const char *dir)
{
	char *path = g_build_filename(dir, "hallwatch.db", NULL);
	struct outbox *o;

	unlink(path);
	if (outbox_open(path, &o) < 0)
		exit(1);
	g_free(path);
	return o;
}

static int throughput(const char *dir, int n)
{
	struct outbox *o = open_in(dir);
	char payload[300];
	double t0, t1, t2;
	int out = 0;

	memset(payload, 'x', sizeof(payload));
	t0 = now_s();
	for (int i = 0; i < n; i++)
		outbox_put(o, OUTBOX_LP, OUTBOX_MEASURE, NULL, payload, sizeof(payload), false, 0,
			   1, NULL);
	t1 = now_s();
	for (;;) {
		GPtrArray *a = g_ptr_array_new_with_free_func(outbox_rec_free);
		GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
		outbox_next(o, OUTBOX_LP, NULL, 0, 500, a);
		for (guint i = 0; i < a->len; i++)
			g_array_append_val(ids, ((struct outbox_rec *)a->pdata[i])->id);
		outbox_remove(o, (int64_t *)(void *)ids->data, ids->len);
		out += (int)a->len;
		g_array_free(ids, TRUE);
		if (a->len == 0) {
			g_ptr_array_free(a, TRUE);
			break;
		}
		g_ptr_array_free(a, TRUE);
	}
	t2 = now_s();
	printf("throughput: %d records of 300 B: in %.0f/s (one commit each), out %.0f/s "
	       "(read + remove in batches of 500)\n",
	       n, n / (t1 - t0), out / (t2 - t1));
	outbox_close(o);
	return 0;
}

static int drain(const char *dir, const char *url, int devices, int minutes)
{
	struct outbox *o = open_in(dir);
	struct cfg_influx c = {.enabled = true,
			       .url = (char *)url,
			       .version = 1,
			       .database = "hallwatch",
			       .batch_size = 5000,
			       .flush_interval_ms = 1000,
			       .timeout_ms = 10000,
			       .max_buffer = 100000,
			       .retry_min_ms = 200,
			       .retry_max_ms = 2000,
			       .gzip = true};
	GString *rec = g_string_new(NULL);
	int64_t t_ns = (g_get_real_time() - (int64_t)minutes * 60 * 1000000) * 1000;
	struct influx *ix;
	struct influx_stats st;
	uint64_t lines = 0;
	double t0, t1;

	g_mkdir_with_parents(dir, 0750);
	t0 = now_s();
	for (int s = 0; s < minutes * 60; s++) {
		for (int d = 0; d < devices; d++) {
			g_string_truncate(rec, 0);
			for (int p = 0; p < 10; p++)
				g_string_append_printf(
				    rec,
				    "device_point,site=bench,device=dev%03d,"
				    "point=p%d value=%d.5,quality=\"good\" %" G_GINT64_FORMAT "\n",
				    d, p, (s + d + p) % 1000, t_ns + (int64_t)s * 1000000000);
			outbox_put(o, OUTBOX_LP, OUTBOX_MEASURE, NULL, rec->str, rec->len, false, 0,
				   10, NULL);
			lines += 10;
		}
	}
	t1 = now_s();
	printf("backlog: %d devices x %d min = %" G_GUINT64_FORMAT
	       " lines in %d records, filled in %.1f s\n",
	       devices, minutes, lines, devices * minutes * 60, t1 - t0);
	t0 = now_s();
	if (influx_create_durable(&c, o, &ix) < 0)
		return 1;
	do {
		g_usleep(50000);
		influx_stats(ix, &st);
	} while (st.lines_queued > 0 && now_s() - t0 < 1800);
	t1 = now_s();
	printf("drain: %" G_GUINT64_FORMAT
	       " lines written in %.1f s (%.0f lines/s), %" G_GUINT64_FORMAT " posts, gzip\n",
	       st.lines_sent, t1 - t0, st.lines_sent / (t1 - t0), st.batches_sent);
	influx_destroy(ix, 1000);
	outbox_close(o);
	g_string_free(rec, TRUE);
	return 0;
}

struct p1 {
	GMainLoop *loop;
	double t_conn;
	double t_p1;
	int acked_before;
	int acked;
};

static void p1_ack(struct mqtt *m, uint64_t token, bool ok, void *ud)
{
	struct p1 *p = ud;

	p->acked++;
	if (token == 1) {
		p->t_p1 = now_s();
		p->acked_before = p->acked - 1;
		g_main_loop_quit(p->loop);
	}
}

static int p1(const char *dir, int port, int backlog)
{
	struct outbox *o = open_in(dir);
	struct cfg_mqtt c = {.enabled = true,
			     .host = "127.0.0.1",
			     .port = port,
			     .client_id = "hw-bench-p1",
			     .keepalive_s = 30,
			     .qos = 1,
			     .topic_root = "hallwatch/v1",
			     .reconnect_min_ms = 100,
			     .reconnect_max_ms = 1000,
			     .max_inflight = 20,
			     .outbox_max = 10000000};
	struct p1 p = {0};
	struct mqtt *m;
	char ev[256];
	int n;

	for (int i = 0; i < backlog; i++) {
		n = snprintf(ev, sizeof(ev), "{\"seq\":%d,\"event\":\"raised\",\"priority\":3}",
			     i + 2);
		outbox_put(o, OUTBOX_MQTT, OUTBOX_ALERT, "events", ev, (size_t)n, false,
			   (uint64_t)i + 2, 1, NULL);
	}
	n = snprintf(ev, sizeof(ev), "{\"seq\":1,\"event\":\"raised\",\"priority\":1}");
	outbox_put(o, OUTBOX_MQTT, OUTBOX_ALARM, "events", ev, (size_t)n, false, 1, 1, NULL);
	p.loop = g_main_loop_new(NULL, FALSE);
	p.t_conn = now_s();
	if (mqtt_create(&c, "bench", NULL, NULL, NULL, &m) < 0)
		return 1;
	mqtt_set_ack_handler(m, p1_ack, &p);
	mqtt_set_outbox(m, o);
	g_main_loop_run(p.loop);
	printf("p1: %d older P3 events queued; connect to P1 acknowledged: %.1f ms (%d messages "
	       "acknowledged before it)\n",
	       backlog, (p.t_p1 - p.t_conn) * 1000, p.acked_before);
	mqtt_destroy(m, 1000);
	g_main_loop_unref(p.loop);
	outbox_close(o);
	return 0;
}

int main(int argc, char **argv)
{
	hw_log_set_level(HW_LOG_WARN);
	if (argc >= 3 && strcmp(argv[1], "throughput") == 0)
		return throughput(argv[2], argc > 3 ? atoi(argv[3]) : 20000);
	if (argc >= 4 && strcmp(argv[1], "drain") == 0)
		return drain(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 100,
			     argc > 5 ? atoi(argv[5]) : 10);
	if (argc >= 4 && strcmp(argv[1], "p1") == 0)
		return p1(argv[2], atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 10000);
	fprintf(stderr, "usage: see the opening comment of bench/outbox_bench.c\n");
	return 2;
}

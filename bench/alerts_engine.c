/* Engine throughput and memory: 10,000 fault points of one device raised, acknowledged
 * and cleared; transitions per second and heap bytes per active alert (mallinfo2).
 * Build: cc -O2 -D_GNU_SOURCE -I. bench/alerts_engine.c build-alerts/libhwcore.a \
 *        $(pkg-config --cflags --libs glib-2.0 jansson) -o /tmp/alerts_engine_bench */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "alerts/engine.h"

#define N 10000

static unsigned long n_ev;

static void on_emit(const struct alert_ev *ev, void *ud)
{
	(void)ev;
	(void)ud;
	n_ev++;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	struct cfg_alerts ac = {.repeat_s = 60,
				.chatter_count = 3,
				.chatter_window_s = 60,
				.flood_high = 10,
				.flood_low = 5,
				.flood_window_s = 600,
				.escalate_after_s = 86400,
				.shelve_max_s = 86400};
	static struct alert_point_in pts[N];
	static char keys[N][32];
	struct alert_device_in d = {.id = "dev1", .seen = true, .online = true, .pts = pts, .n = N};
	struct alert_engine *e;
	struct mallinfo2 m0, m1;
	double t0, t1, t2, t3;
	char id[64];

	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "lum[%d].lamp_fault", i);
		pts[i] = (struct alert_point_in){.key = keys[i],
						 .cls = PC_FAULT,
						 .v = {.type = HW_V_BOOL, .b = false},
						 .q = HW_Q_GOOD,
						 .changed = true};
	}
	alert_engine_create("bench", &ac, NULL, 0, on_emit, NULL, &e);
	alert_engine_update(e, &d, 0);
	m0 = mallinfo2();
	for (int i = 0; i < N; i++)
		pts[i].v.b = true;
	t0 = now_s();
	alert_engine_update(e, &d, 1000);
	t1 = now_s();
	m1 = mallinfo2();
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "dev1.lum-%d.lamp_fault", i);
		alert_engine_ack(e, id, "bench", 2000);
	}
	t2 = now_s();
	for (int i = 0; i < N; i++)
		pts[i].v.b = false;
	alert_engine_update(e, &d, 3000);
	t3 = now_s();
	printf("active alerts after raise: %d\n", N);
	printf("raise %d: %.1f ms (%.0f transitions/s)\n", N, (t1 - t0) * 1e3, N / (t1 - t0));
	printf("ack   %d: %.1f ms (%.0f transitions/s)\n", N, (t2 - t1) * 1e3, N / (t2 - t1));
	printf("clear %d: %.1f ms (%.0f transitions/s)\n", N, (t3 - t2) * 1e3, N / (t3 - t2));
	printf("heap per active alert: %.0f bytes (struct alert %zu)\n",
	       (double)(m1.uordblks - m0.uordblks) / N, sizeof(struct alert));
	printf("events emitted: %lu, alerts left: %zu\n", n_ev, alert_engine_count(e));
	alert_engine_destroy(e);
	return 0;
}

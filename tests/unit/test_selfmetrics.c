/* The gateway's own figures as line protocol and status JSON, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "outputs/selfmetrics.h"

static struct selfmetrics sample(void)
{
	struct selfmetrics m = {.t_ms = 1795000060000,
				.started_ms = 1795000000000,
				.beat = 7,
				.devices = 2,
				.have_mqtt = true,
				.have_outbox = true,
				.have_store = true,
				.limit = {100000, 1000000}};

	m.mqtt = (struct mqtt_stats){
	    .connected = true, .published = 42, .reconnects = 1, .retried = 3, .inflight = 2};
	m.lp =
	    (struct influx_stats){.lines_queued = 320, .lines_sent = 18593, .lines_retried = 6785};
	m.ob[OUTBOX_MQTT] =
	    (struct outbox_stats){.depth = 5, .oldest_ms = 1795000050000, .sent = 40};
	m.ob[OUTBOX_LP] =
	    (struct outbox_stats){.depth = 312, .sent = 18593, .dropped = 9, .failed = 4};
	m.store = (struct selfmetrics_store){.ok = false,
					     .held = 3,
					     .unstored = 2,
					     .failures = 1,
					     .failed_ms = 1795000055000,
					     .error = "COMMIT: database or disk is full"};
	return m;
}

static void test_gateway_line(void **state)
{
	struct selfmetrics m = sample();
	GString *b = g_string_new(NULL);

	(void)state;
	selfmetrics_gateway_line(b, "hall-1", &m);
	assert_string_equal(
	    b->str,
	    "gateway,site=hall-1 uptime_s=60i,devices=2i,mqtt_connected=true,mqtt_published=42i,"
	    "mqtt_skipped=0i,lp_queued=320i,lp_sent=18593i,lp_dropped=0i,mqtt_outbox_depth=5i,"
	    "mqtt_outbox_oldest_s=10i,mqtt_outbox_sent=40i,mqtt_outbox_dropped=0i,"
	    "mqtt_outbox_rejected=0i,mqtt_outbox_failed=0i,lp_outbox_depth=312i,"
	    "lp_outbox_oldest_s=0i,lp_outbox_sent=18593i,lp_outbox_dropped=9i,"
	    "lp_outbox_rejected=0i,lp_outbox_failed=4i,store_ok=false,store_held=3i,"
	    "mqtt_retried=3i,mqtt_reconnects=1i,mqtt_inflight=2i,lp_retried=6785i,beat=7i,"
	    "started_ms=1795000000000i 1795000060000000000\n");
	/* Without an outbox, no delivery fields. */
	g_string_truncate(b, 0);
	m.have_outbox = false;
	selfmetrics_gateway_line(b, "hall-1", &m);
	assert_null(strstr(b->str, "outbox"));
	assert_null(strstr(b->str, "beat="));
	g_string_free(b, TRUE);
}

static void test_bus_line(void **state)
{
	GString *b = g_string_new(NULL);
	struct selfmetrics_bus bus = {.id = "tcp0",
				      .connected = true,
				      .polls = 10,
				      .requests = 12,
				      .errors = 1,
				      .connects = 2,
				      .disconnects = 1,
				      .late = 3};

	(void)state;
	selfmetrics_bus_line(b, "hall-1", &bus, 1795000060000);
	assert_string_equal(b->str,
			    "bus_health,bus=tcp0,site=hall-1 connected=true,polls=10i,"
			    "requests=12i,errors=1i,connects=2i,disconnects=1i,"
			    "late_answers=3i,overruns=0i,commands=0i 1795000060000000000\n");
	g_string_free(b, TRUE);
}

static void test_delivery_json(void **state)
{
	struct selfmetrics m = sample();
	char *j;

	(void)state;
	j = selfmetrics_delivery_json(&m);
	assert_string_equal(
	    j, "{\"mqtt\":{\"depth\":5,\"oldest_age_s\":10,\"sent\":40,\"retried\":3,\"dropped\":0,"
	       "\"rejected\":0,\"limit\":100000,\"reconnects\":1,\"failed\":0},"
	       "\"lineproto\":{\"depth\":312,\"oldest_age_s\":0,\"sent\":18593,\"retried\":6785,"
	       "\"dropped\":9,\"rejected\":0,\"limit\":1000000,\"failed\":4,\"memory\":8},"
	       "\"store\":{\"ok\":false,\"held\":3,\"unstored\":2,\"failures\":1,"
	       "\"since\":1795000055000,\"error\":\"COMMIT: database or disk is full\"},"
	       "\"t\":1795000060000}");
	free(j);
	m.have_outbox = false;
	assert_null(selfmetrics_delivery_json(&m));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gateway_line),
	    cmocka_unit_test(test_bus_line),
	    cmocka_unit_test(test_delivery_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

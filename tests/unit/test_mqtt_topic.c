/* Unit tests of the topic escaping of mqtt.topic_escape (outputs/mqtt_topic.h): every id a
 * hall puts in a topic level round-trips, v1 topics decode to themselves, and what the
 * decoder is given that no encoder wrote is left alone. Single thread. */
#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "outputs/mqtt_topic.h"

static void check_escape(const char *in, const char *want)
{
	char *e = mqtt_topic_escape(in);
	char *d = mqtt_topic_unescape(e);

	assert_string_equal(e, want);
	assert_string_equal(d, in);
	assert_false(strchr(e, '.'));
	g_free(e);
	g_free(d);
}

static void test_alert_ids(void **state)
{
	(void)state;
	check_escape("alert/facp1.zone-3.fire", "alert/facp1%2Ezone-3%2Efire");
	check_escape("alert/patrol.cam1.failed", "alert/patrol%2Ecam1%2Efailed");
	check_escape("alert/facp1.mains_voltage.low", "alert/facp1%2Emains_voltage%2Elow");
	check_escape("alert/.", "alert/%2E");
	check_escape("a..b.", "a%2E%2Eb%2E");
}

static void test_percent_round_trips(void **state)
{
	(void)state;
	check_escape("x%2Ey", "x%252Ey");
	check_escape("100%", "100%25");
	check_escape("%", "%25");
	check_escape("%.%", "%25%2E%25");
}

/* v1 levels hold [A-Za-z0-9_.-] (ids, alert ids) and fixed words: without a dot they are
 * written as they are, and decoding any v1 topic gives it back byte for byte. */
static void test_v1_unchanged(void **state)
{
	const char *v1[] = {"status",
			    "events",
			    "device/facp1/state",
			    "camera/cam-2/state",
			    "inspection/fire_patrol",
			    "patrol/vpatrol/last",
			    "cmd/+",
			    "reply/req-42",
			    "hallwatch/v1/hall-1/alert/facp1.zone-3.fire",
			    ""};
	(void)state;
	for (size_t i = 0; i < G_N_ELEMENTS(v1); i++) {
		char *d = mqtt_topic_unescape(v1[i]);
		assert_string_equal(d, v1[i]);
		assert_false(mqtt_topic_escaped(v1[i]));
		g_free(d);
		if (!strchr(v1[i], '.')) {
			char *e = mqtt_topic_escape(v1[i]);
			assert_string_equal(e, v1[i]);
			g_free(e);
		}
	}
}

static void test_decode_forms(void **state)
{
	const struct {
		const char *in, *want;
	} t[] = {
	    {"a%2eb", "a.b"},	  /* either case of the hex digit */
	    {"a%2Eb%25", "a.b%"}, /* both escapes */
	    {"a%41b", "a%41b"},	  /* not one of ours: as it is */
	    {"a%2", "a%2"},	  /* cut short */
	    {"a%", "a%"},	  {"%%2E", "%."}, {"%252E", "%2E"}, /* one level of decoding only */
	};
	(void)state;
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		char *d = mqtt_topic_unescape(t[i].in);
		assert_string_equal(d, t[i].want);
		g_free(d);
	}
	assert_true(mqtt_topic_escaped("a%2Eb"));
	assert_false(mqtt_topic_escaped("a%41b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alert_ids),
	    cmocka_unit_test(test_percent_round_trips),
	    cmocka_unit_test(test_v1_unchanged),
	    cmocka_unit_test(test_decode_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

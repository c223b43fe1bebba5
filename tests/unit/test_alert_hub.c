/* The alert service mirrors the open alerts into the hub: raised, changed and closed as
 * the engine decides, and those restored from the store at start. Real store in a
 * temporary folder, no broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "alerts/service.h"
#include "core/config.h"
#include "hub/hub.h"

static struct hw_config *load(const char *dir)
{
	char *path = g_build_filename(dir, "hw.cfg", NULL);
	char *text = g_strdup_printf("site = { id = \"hall-1\"; };\nmqtt = { enabled = false; };\n"
				     "influx = { enabled = false; };\n"
				     "storage = { state_dir = \"%s/state\"; };\n",
				     dir);
	struct cfg_errors errs = {0};
	struct hw_config *cfg = NULL;

	assert_true(g_file_set_contents(path, text, -1, NULL));
	if (config_load(path, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		fail();
	}
	g_free(text);
	g_free(path);
	return cfg;
}

static void test_mirror(void **state)
{
	char *dir = g_dir_make_tmp("hw-alert-hub-XXXXXX", NULL);
	struct hw_config *cfg = load(dir);
	struct alert_service *s;
	struct hub *h;
	const struct hub_alert *a;

	(void)state;
	assert_int_equal(hub_create(cfg, &h), 0);
	assert_int_equal(alert_service_create(cfg, NULL, &s), 0);
	alert_service_set_hub(s, h);
	assert_int_equal(hub_n_alerts(h), 0);

	alert_service_on_camera(s, "cam1", "dark", true);
	a = hub_alert_get(h, "cam1.dark");
	assert_non_null(a);
	assert_string_equal(a->state, "unack");
	assert_string_equal(a->device, "cam1");
	assert_int_equal(a->priority, 3);
	assert_true(a->active);
	assert_true(a->seq > 0);

	alert_service_on_camera(s, "cam1", "dark", false); /* cleared, not acknowledged */
	a = hub_alert_get(h, "cam1.dark");
	assert_non_null(a);
	assert_string_equal(a->state, "rtn_unack");
	assert_false(a->active);

	alert_service_on_camera(s, "cam1", "covered", true);
	assert_int_equal(hub_n_alerts(h), 2);

	/* A restart: a new service and hub restore both from the store. */
	alert_service_destroy(s);
	hub_destroy(h);
	assert_int_equal(hub_create(cfg, &h), 0);
	assert_int_equal(alert_service_create(cfg, NULL, &s), 0);
	alert_service_set_hub(s, h);
	assert_int_equal(hub_n_alerts(h), 2);
	assert_string_equal(hub_alert_at(h, 0)->id, "cam1.covered");
	assert_string_equal(hub_alert_at(h, 1)->state, "rtn_unack");

	alert_service_destroy(s);
	hub_destroy(h);
	config_free(cfg);
	{
		char *cmd = g_strdup_printf("rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
		g_free(cmd);
	}
	g_free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_mirror)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The state hub with its two sources: poll results fed through devices/hubfeed.c (layouts
 * shared, deltas of a layout the hub has not seen kept away) and cameras reported as
 * video/ does (who hears what), and the camera state rendered from the hub
 * (outputs/state.c) exactly as docs/mqtt.md and docs/lineproto.md give it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/hubfeed.h"
#include "devices/layout.h"
#include "hub/hub.h"
#include "outputs/state.h"

/* ---- devices ---- */

static struct prof_point top[] = {
    {.name = "fire",
     .table = MB_DISCRETE,
     .type = MB_T_BOOL,
     .bit = -1,
     .group = -1,
     .cls = PC_FIRE},
    {.name = "zones", .table = MB_HOLDING, .address = 1, .type = MB_T_U16, .bit = -1, .group = -1},
};
static struct prof_point zone_pts[] = {
    {.name = "fire",
     .table = MB_DISCRETE,
     .type = MB_T_BOOL,
     .bit = -1,
     .group = -1,
     .cls = PC_FIRE},
};
static struct prof_point loop_pts[] = {
    {.name = "fault",
     .table = MB_DISCRETE,
     .type = MB_T_BOOL,
     .bit = -1,
     .group = -1,
     .cls = PC_FAULT},
};
/* Instances block by block: a zone more moves every loop point one place on. */
static struct prof_block blocks[] = {
    {.name = "zone",
     .base = 100,
     .stride = 1,
     .count_point = "zones",
     .max_count = 8,
     .points = zone_pts,
     .n_points = 1,
     .group = -1},
    {.name = "loop",
     .base = 200,
     .stride = 1,
     .count = 1,
     .points = loop_pts,
     .n_points = 1,
     .group = -1},
};
static struct profile panel = {
    .name = "panel", .points = top, .n_points = 2, .blocks = blocks, .n_blocks = 2};

struct seen {
	int calls;
	size_t n_changed;
	bool state_changed;
};

static void on_device(struct hub *h, struct hub_device *d, void *ud)
{
	struct seen *s = ud;

	(void)h;
	s->calls++;
	s->n_changed = d->n_changed;
	s->state_changed = d->state_changed;
}

static struct mb_lpoint *layout(int zones, size_t *n)
{
	int counts[2] = {zones, 1};
	struct mb_lpoint *v = NULL;

	assert_int_equal(mb_layout_build(&panel, counts, 0, &v, n), 0);
	return v;
}

static struct hub_sample flag(const struct mb_lpoint *lay, uint32_t i, bool on, int64_t t)
{
	struct hw_value v = {.type = HW_V_BOOL, .b = on};
	struct hub_sample s = {.index = i, .t_ms = t};

	hw_pval_pack(lay[i].def, &v, &s.pv);
	s.pv.q = HW_Q_GOOD;
	return s;
}

static struct mb_poll_result result(size_t dev, const struct mb_lpoint *lay, size_t n, bool full,
				    struct hub_sample *s, size_t ns)
{
	return (struct mb_poll_result){.device_index = dev,
				       .online = true,
				       .t_ms = 1000,
				       .device_time = -1,
				       .full = full,
				       .layout = lay,
				       .n_layout = n,
				       .samples = s,
				       .n_samples = ns};
}

static void full_result(struct hub *h, size_t dev, const struct mb_lpoint *lay, size_t n)
{
	struct hub_sample *s = calloc(n, sizeof(*s));
	struct mb_poll_result r;

	for (size_t i = 0; i < n; i++)
		s[i] = flag(lay, (uint32_t)i, false, 1000);
	r = result(dev, lay, n, true, s, n);
	assert_int_equal(mb_hubfeed_apply(h, &r), 0);
	free(s);
}

/* Devices of one profile and counts share one layout; its keys name block instances; a
 * delta of a layout the hub has not seen yet changes no point, its full result does. */
static void test_device_feed(void **state)
{
	struct cfg_device devs[2] = {{.id = "p1", .profile = &panel},
				     {.id = "p2", .profile = &panel}};
	struct hw_config cfg = {.devices = devs, .n_devices = 2};
	struct seen seen = {0};
	struct hub *h;
	size_t n2, n3;
	struct mb_lpoint *lay2 = layout(2, &n2), *lay3 = layout(3, &n3);
	struct hub_device *d1, *d2;
	struct hw_value v;

	(void)state;
	assert_int_equal(hub_create(&cfg, &h), 0);
	assert_int_equal(hub_add_listener(h, on_device, &seen), 0);
	full_result(h, 0, lay2, n2);
	full_result(h, 1, lay2, n2);
	d1 = hub_device_at(h, 0);
	d2 = hub_device_at(h, 1);
	assert_int_equal(seen.calls, 2);
	assert_true(seen.state_changed);
	assert_int_equal(d1->n_points,
			 5); /* fire, zones, zone[0].fire, zone[1].fire, loop[0].fault */
	assert_ptr_equal(d1->layout, d2->layout);
	assert_string_equal(hub_point_key(d1, 0), "fire");
	assert_string_equal(hub_point_key(d1, 3), "zone[1].fire");
	assert_string_equal(hub_point_key(d1, 4), "loop[0].fault");
	assert_ptr_equal(hub_point_key(d1, 3), hub_point_key(d2, 3)); /* one copy of each key */
	assert_int_equal(d1->layout->blocks[0], HUB_TOP_LEVEL);
	assert_int_equal(d1->layout->instances[3], 1);

	/* A delta: zone[1].fire on. */
	struct hub_sample on = flag(lay2, 3, true, 2000);
	struct mb_poll_result r = result(0, lay2, n2, false, &on, 1);
	assert_int_equal(mb_hubfeed_apply(h, &r), 0);
	assert_int_equal(seen.calls, 3);
	assert_int_equal(seen.n_changed, 1);
	assert_false(seen.state_changed);
	assert_true(hub_point_changed(&d1->points[3]));
	hub_point_value(d1, 3, &v);
	assert_true(v.type == HW_V_BOOL && v.b);
	assert_int_equal(hub_point_t(d1, 3), 2000);

	/* A delta of the three-zone layout (its full result not seen): index 4 is
	 * zone[2].fire there but loop[0].fault in the hub, index 5 is past the hub's layout;
	 * index 1 names the same point in both and goes through. */
	struct hub_sample mixed[3] = {flag(lay3, 4, true, 3000), flag(lay3, 5, true, 3000),
				      flag(lay3, 1, true, 3000)};
	mixed[2].pv.type = HW_V_INT;
	mixed[2].pv.i = 3;
	r = result(1, lay3, n3, false, mixed, 3);
	assert_int_equal(mb_hubfeed_apply(h, &r), 0);
	assert_int_equal(d2->n_points, 5);
	assert_int_equal(seen.n_changed, 1);
	hub_point_value(d2, 1, &v);
	assert_true(v.type == HW_V_INT && v.i == 3);
	hub_point_value(d2, 4, &v);
	assert_true(v.type == HW_V_BOOL && !v.b);
	assert_false(hub_point_changed(&d2->points[4]));

	/* Its full result: a new layout, every point announced. */
	full_result(h, 1, lay3, n3);
	assert_int_equal(d2->n_points, 6);
	assert_ptr_not_equal(d2->layout, d1->layout);
	assert_true(seen.state_changed);
	assert_int_equal(seen.n_changed, 6);
	assert_string_equal(hub_point_key(d2, 4), "zone[2].fire");
	assert_string_equal(hub_point_key(d2, 5), "loop[0].fault");
	/* Back to two zones: the layout known already is taken again. */
	full_result(h, 1, lay2, n2);
	assert_ptr_equal(d2->layout, d1->layout);

	/* Offline: the points keep their values, comm_lost. */
	r = result(0, lay2, n2, false, NULL, 0);
	r.online = false;
	r.err = HUB_E_TIMEOUT;
	assert_int_equal(mb_hubfeed_apply(h, &r), 0);
	assert_int_equal(d1->quality, HUB_DQ_COMM_LOST);
	assert_string_equal(hub_err_kind_name(d1->last_err), "timeout");
	assert_int_equal(hub_point_q(&d1->points[3]), HW_Q_COMM_LOST);
	hub_point_value(d1, 3, &v);
	assert_true(v.b);

	hub_destroy(h);
	free(lay2);
	free(lay3);
}

/* ---- cameras ---- */

struct cam_seen {
	int calls;
	unsigned changed, cond_changed;
};

static void on_camera(struct hub *h, struct hub_camera *c, void *ud)
{
	struct cam_seen *s = ud;

	(void)h;
	s->calls++;
	s->changed = c->changed;
	s->cond_changed = c->cond_changed;
}

/* Listeners hear of conditions, online, recording and resolution, of snapshots and clips;
 * the figures that move all the time are kept current without a word. */
static void test_camera_changes(void **state)
{
	struct cfg_camera cams[1] = {{.id = "cam1", .expected_fps = 25}};
	struct hw_config cfg = {.cameras = cams, .n_cameras = 1};
	struct cam_seen s = {0};
	struct hub_cam_health ch = {.motion = -1};
	struct hub *h;
	struct hub_camera *c;
	char path[] = "/clips/a.mp4";

	(void)state;
	assert_int_equal(hub_create(&cfg, &h), 0);
	assert_int_equal(hub_add_camera_listener(h, on_camera, &s), 0);
	assert_int_equal(hub_n_cameras(h), 1);
	c = hub_camera_at(h, 0);
	assert_null(hub_camera_at(h, 1));
	assert_ptr_equal(c->cfg, &cams[0]);

	hub_camera_report(h, 0, &ch); /* as it starts: nothing to tell */
	assert_int_equal(s.calls, 0);
	assert_true(c->seen);

	ch.fps = 24.8;
	ch.bitrate_kbps = 2011.4;
	ch.last_frame_ms = 5000;
	hub_camera_report(h, 0, &ch);
	assert_int_equal(s.calls, 0);
	assert_true(c->health.fps == 24.8);

	ch.online = true;
	hub_camera_report(h, 0, &ch);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.changed, HUB_CAM_STATE);
	assert_int_equal(s.cond_changed, 0);

	ch.width = 1920;
	ch.height = 1080;
	hub_camera_report(h, 0, &ch);
	assert_int_equal(s.calls, 2);

	ch.cond[HUB_CC_DARK] = (struct hub_cam_condition){true, 6000};
	ch.cond[HUB_CC_COVERED] = (struct hub_cam_condition){true, 6000};
	hub_camera_report(h, 0, &ch);
	assert_int_equal(s.calls, 3);
	assert_int_equal(s.changed, HUB_CAM_STATE);
	assert_int_equal(s.cond_changed, (1u << HUB_CC_DARK) | (1u << HUB_CC_COVERED));

	ch.cond[HUB_CC_DARK].since_ms = 7000; /* the same state: not a change */
	hub_camera_report(h, 0, &ch);
	assert_int_equal(s.calls, 3);

	ch.cond[HUB_CC_COVERED] = (struct hub_cam_condition){false, 8000};
	hub_camera_report(h, 0, &ch);
	assert_int_equal(s.calls, 4);
	assert_int_equal(s.cond_changed, 1u << HUB_CC_COVERED);

	hub_camera_snapshot(h, 0, 9000);
	assert_int_equal(s.calls, 5);
	assert_int_equal(s.changed, HUB_CAM_SNAPSHOT);
	assert_int_equal(s.cond_changed, 0);
	assert_int_equal(c->last_snapshot_ms, 9000);

	hub_camera_clip(h, 0, path, "facp1:zone[3].fire", 8500, true);
	path[1] = 'X'; /* copied */
	assert_int_equal(s.calls, 6);
	assert_int_equal(s.changed, HUB_CAM_CLIP);
	assert_string_equal(c->last_clip.path, "/clips/a.mp4");
	assert_string_equal(c->last_clip.point, "facp1:zone[3].fire");
	hub_camera_clip(h, 0, "/clips/b.mp4", "facp1:zone[4].fire", 8600, false);
	assert_false(c->last_clip.ok);

	assert_string_equal(hub_cam_cond_name(HUB_CC_OFFLINE), "offline");
	assert_string_equal(hub_cam_cond_name(HUB_CC_RETENTION_SHORT), "retention_short");
	assert_string_equal(hub_cam_cond_name(HUB_CC_N), "?");
	hub_destroy(h);
}

/* camera/<id>/state and camera_health from the hub, byte for byte as the video manager
 * wrote them before the cameras went into the hub. */
struct alert_seen {
	int sets, removes;
	char last[HUB_ALERT_ID_MAX];
};

static void on_alert(struct hub *h, const struct hub_alert *a, bool removed, void *ud)
{
	struct alert_seen *s = ud;

	(void)h;
	if (removed)
		s->removes++;
	else
		s->sets++;
	strcpy(s->last, a->id);
}

static struct hub_alert alert_of(const char *id, const char *st, int prio)
{
	struct hub_alert a = {.priority = prio, .active = true, .raised_ms = 1000};

	strcpy(a.id, id);
	strcpy(a.state, st);
	return a;
}

/* Alerts are held by id, in id order, replaced in place, removed once closed, and every
 * change is told to the listeners. */
static void test_alerts(void **state)
{
	struct hw_config cfg = {0};
	struct alert_seen s = {0};
	struct hub_alert a;
	struct hub *h;

	(void)state;
	assert_int_equal(hub_create(&cfg, &h), 0);
	assert_int_equal(hub_add_alert_listener(h, on_alert, &s), 0);
	assert_int_equal(hub_n_alerts(h), 0);
	a = alert_of("facp1.zone-3.fire", "unack", 1);
	assert_int_equal(hub_alert_set(h, &a), 0);
	a = alert_of("cam1.dark", "unack", 3);
	assert_int_equal(hub_alert_set(h, &a), 0);
	a = alert_of("gateway.store_fault", "unack", 2);
	assert_int_equal(hub_alert_set(h, &a), 0);
	assert_int_equal(s.sets, 3);
	assert_int_equal(hub_n_alerts(h), 3);
	assert_string_equal(hub_alert_at(h, 0)->id, "cam1.dark");
	assert_string_equal(hub_alert_at(h, 1)->id, "facp1.zone-3.fire");
	assert_string_equal(hub_alert_at(h, 2)->id, "gateway.store_fault");
	assert_null(hub_alert_at(h, 3));

	a = alert_of("facp1.zone-3.fire", "acked", 1);
	assert_int_equal(hub_alert_set(h, &a), 0);
	assert_int_equal(hub_n_alerts(h), 3);
	assert_string_equal(hub_alert_get(h, "facp1.zone-3.fire")->state, "acked");
	assert_int_equal(s.sets, 4);

	hub_alert_remove(h, "cam1.dark");
	assert_int_equal(s.removes, 1);
	assert_string_equal(s.last, "cam1.dark");
	assert_null(hub_alert_get(h, "cam1.dark"));
	hub_alert_remove(h, "cam1.dark"); /* unknown: nothing told */
	assert_int_equal(s.removes, 1);
	assert_int_equal(hub_n_alerts(h), 2);

	a = alert_of("", "unack", 1);
	assert_int_equal(hub_alert_set(h, &a), -EINVAL);
	hub_destroy(h);
}

static void test_camera_render(void **state)
{
	struct cfg_camera cams[1] = {{.id = "cam1", .expected_fps = 25}};
	struct hw_config cfg = {.cameras = cams, .n_cameras = 1};
	struct hub_cam_health ch = {.online = true,
				    .recording = true,
				    .fps = 25.0,
				    .bitrate_kbps = 2011.4,
				    .width = 1920,
				    .height = 1080,
				    .codec = "h264",
				    .segments = 42,
				    .last_frame_ms = 1795000123456,
				    .oldest_recording_ms = 1794990000000,
				    .recorded_bytes = 631242752,
				    .analysed = 3,
				    .luma = 97.5,
				    .contrast = 40.25,
				    .sharpness = 812.0,
				    .motion = -1};
	struct hub *h;
	struct hub_camera *c;
	GString *buf = g_string_new("");
	char *js;

	(void)state;
	ch.cond[HUB_CC_MOVED] = (struct hub_cam_condition){true, 1795000100000};
	assert_int_equal(hub_create(&cfg, &h), 0);
	hub_camera_report(h, 0, &ch);
	c = hub_camera_at(h, 0);
	js = state_camera_json(c, "hall-demo", 57);
	assert_string_equal(
	    js,
	    "{\"seq\":57,\"site\":\"hall-demo\",\"camera\":\"cam1\",\"online\":true,\"fps\":25.0,"
	    "\"expected_fps\":25,\"bitrate_kbps\":2011.4,\"width\":1920,\"height\":1080,"
	    "\"frozen\":false,\"dark\":false,\"covered\":false,\"defocus\":false,\"moved\":true,"
	    "\"recording\":true,\"reconnects\":0,\"segments\":42,\"last_frame\":1795000123456,"
	    "\"oldest_recording\":1794990000000,\"recorded_bytes\":631242752,\"codec\":\"h264\","
	    "\"last_snapshot\":null,\"last_clip\":null,\"conditions\":{\"offline\":{\"active\":"
	    "false,\"since\":0},\"video_loss\":{\"active\":false,\"since\":0},\"dark\":{"
	    "\"active\":false,\"since\":0},\"covered\":{\"active\":false,\"since\":0},"
	    "\"defocus\":{\"active\":false,\"since\":0},\"moved\":{\"active\":true,\"since\":"
	    "1795000100000},\"frozen\":{\"active\":false,\"since\":0},\"recording_fault\":{"
	    "\"active\":false,\"since\":0},\"disk_low\":{\"active\":false,\"since\":0},"
	    "\"retention_short\":{\"active\":false,\"since\":0}}}");
	free(js);

	hub_camera_snapshot(h, 0, 1795000200000);
	hub_camera_clip(h, 0, "/var/lib/hallwatch/clips/cam1-x.mp4", "facp1:zone[3].fire",
			1795000120000, true);
	js = state_camera_json(c, "hall-demo", 58);
	assert_non_null(strstr(js, "\"last_snapshot\":1795000200000,\"last_clip\":{\"path\":"
				   "\"/var/lib/hallwatch/clips/cam1-x.mp4\",\"point\":\"facp1:zone["
				   "3].fire\",\"time\":1795000120000,\"ok\":true},\"conditions\""));
	free(js);

	state_lp_camera_health(buf, c, "hall-demo", 1795000300000);
	assert_string_equal(
	    buf->str, "camera_health,camera=cam1,site=hall-demo online=true,recording=true,fps=25,"
		      "expected_fps=25i,bitrate_kbps=2011.4,width=1920i,height=1080i,reconnects=0i,"
		      "segments=42i,recorded_bytes=631242752i,recording_age_s=10300i,luma=97.5,"
		      "contrast=40.25,sharpness=812,offline=false,video_loss=false,dark=false,"
		      "covered=false,defocus=false,moved=true,frozen=false,recording_fault=false,"
		      "disk_low=false,retention_short=false 1795000300000000000\n");
	g_string_free(buf, TRUE);
	hub_destroy(h);
}

/* A reload: kept entries move to their new places with their values, state and cfg pointer;
 * new ones start empty; the others go; listeners hear nothing. */
static void test_reconfigure(void **state)
{
	struct cfg_device devs[2] = {{.id = "p1", .profile = &panel},
				     {.id = "p2", .profile = &panel}};
	struct cfg_camera cams[2] = {{.id = "cam1"}, {.id = "cam2"}};
	struct hw_config cfg = {.devices = devs, .n_devices = 2, .cameras = cams, .n_cameras = 2};
	/* The new configuration: p3 first, then p2 (kept), p1 gone; cam2 kept, cam1 restarted. */
	struct cfg_device ndevs[2] = {{.id = "p3", .profile = &panel},
				      {.id = "p2", .profile = &panel}};
	struct cfg_camera ncams[2] = {{.id = "cam2"}, {.id = "cam1"}};
	struct hw_config ncfg = {
	    .devices = ndevs, .n_devices = 2, .cameras = ncams, .n_cameras = 2};
	bool keep_dev[2] = {false, true}, keep_cam[2] = {true, false};
	struct hub_cam_health ch = {.motion = -1, .segments = 7};
	struct seen seen = {0};
	struct hub *h;
	size_t n2;
	struct mb_lpoint *lay2 = layout(2, &n2);
	struct hub_device *d;

	(void)state;
	assert_int_equal(hub_create(&cfg, &h), 0);
	assert_int_equal(hub_add_listener(h, on_device, &seen), 0);
	full_result(h, 0, lay2, n2);
	full_result(h, 1, lay2, n2);
	hub_camera_report(h, 0, &ch);
	hub_camera_report(h, 1, &ch);
	assert_int_equal(seen.calls, 2);

	assert_int_equal(hub_reconfigure(h, &ncfg, keep_dev, keep_cam), 0);
	assert_int_equal(seen.calls, 2);
	assert_int_equal(hub_n_devices(h), 2);
	d = hub_device_at(h, 0); /* p3: new, empty */
	assert_ptr_equal(d->cfg, &ndevs[0]);
	assert_false(d->seen);
	assert_null(d->layout);
	d = hub_device_at(h, 1); /* p2: kept, with its old cfg and its points */
	assert_ptr_equal(d->cfg, &devs[1]);
	assert_true(d->seen && d->online);
	assert_int_equal(d->n_points, 5);
	assert_string_equal(hub_point_key(d, 3), "zone[1].fire");
	assert_ptr_equal(hub_camera_at(h, 0)->cfg, &cams[1]); /* cam2 kept */
	assert_int_equal(hub_camera_at(h, 0)->health.segments, 7);
	assert_ptr_equal(hub_camera_at(h, 1)->cfg, &ncams[1]); /* cam1 anew */
	assert_int_equal(hub_camera_at(h, 1)->health.segments, 0);
	assert_false(hub_camera_at(h, 1)->seen);
	/* The kept device goes on taking deltas of its layout. */
	struct hub_sample on = flag(lay2, 3, true, 2000);
	struct mb_poll_result r = result(1, lay2, n2, false, &on, 1);
	assert_int_equal(mb_hubfeed_apply(h, &r), 0);
	assert_int_equal(seen.calls, 3);
	assert_int_equal(seen.n_changed, 1);
	hub_destroy(h);
	free(lay2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_device_feed),	  cmocka_unit_test(test_camera_changes),
	    cmocka_unit_test(test_camera_render), cmocka_unit_test(test_alerts),
	    cmocka_unit_test(test_reconfigure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Alert messages in the site's language (alerts/alert_text.h): fire, supervisory and fault
 * points, rules, devices offline or frozen, camera conditions. Pure; called by the alert
 * service on the main loop thread when an alert is raised or restored. */
#include "alerts/alert_text.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

struct words {
	const char *fire, *supervisory, *fault;
	const char *offline, *frozen;
	const char *open, *close, *comma, *colon, *sep; /* "(", ")", ", ", ": ", ", " */
	const char *camera;
};

static const struct words en = {
    .fire = "Fire alarm",
    .supervisory = "Supervisory",
    .fault = "Fault",
    .offline = "Device offline",
    .frozen = "Device interface frozen (life check not moving)",
    .open = " (",
    .close = ")",
    .comma = ", ",
    .colon = ": ",
    .sep = ", ",
    .camera = "Camera",
};

static const struct words zh = {
    .fire = "火警",
    .supervisory = "监管",
    .fault = "故障",
    .offline = "设备离线",
    .frozen = "设备接口冻结（心跳计数不变）",
    .open = "（",
    .close = "）",
    .comma = "，",
    .colon = "：",
    .sep = "，",
    .camera = "摄像机",
};

/* Camera conditions (the points of a camera in the engine, video/): the sentence after the
 * camera's description. */
static const struct {
	const char *cond, *en, *zh;
} cam_conds[] = {
    {"offline", "is offline", "离线"},
    {"video_loss", "has lost its video", "视频信号丢失"},
    {"dark", "is dark or covered", "画面过暗或被遮挡"},
    {"covered", "is covered or blocked", "镜头被遮挡"},
    {"defocus", "is out of focus", "画面模糊（失焦）"},
    {"moved", "has been moved (its view changed)", "被移动（视角改变）"},
    {"frozen", "shows a frozen picture", "画面冻结"},
    {"recording_fault", "cannot record", "录像故障"},
    {"disk_low", "is short of disk space for its recordings", "录像磁盘空间不足"},
    {"retention_short", "keeps its recordings for less than its retention", "录像保存时间不足"},
};

static const char *lbl(const struct prof_label *l, bool english)
{
	return english ? l->en : l->zh;
}

/* " (name, location)" or "" */
static void append_where(GString *s, const struct words *w, const char *name, const char *loc)
{
	if (!name && !loc)
		return;
	g_string_append(s, w->open);
	if (name)
		g_string_append(s, name);
	if (name && loc)
		g_string_append(s, w->comma);
	if (loc)
		g_string_append(s, loc);
	g_string_append(s, w->close);
}

/* "fire alarm panel facp1 (1F control room)" / "火灾报警控制器 facp1（一楼消控室）" */
static void append_device(GString *s, const struct words *w, bool english,
			  const struct cfg_device *d, const char *id)
{
	const char *kind = d && d->profile ? lbl(&d->profile->label, english) : NULL;

	if (kind)
		g_string_append_printf(s, "%s ", kind);
	g_string_append(s, d && d->name ? d->name : id);
	if (d)
		append_where(s, w, NULL, d->location);
}

/* The subject of a point key: "zone 3 (2F east corridor)" / "3号防区（二楼东走廊）" for a
 * block's point, "mains power fault" for a top-level one (with its configured name), or
 * nothing for a top-level point named as its class ("fire"). *qual is set to the label of a
 * block's point whose name is not its class ("lamp fault"). */
static bool append_subject(GString *s, const struct words *w, bool english,
			   const struct cfg_device *d, const char *key, const char *cls,
			   const char **qual)
{
	const struct prof_point *pt = NULL;
	const struct prof_block *b = NULL;
	const struct cfg_name *n = cfg_device_name_of(d, key);
	int idx = -1;

	*qual = NULL;
	if (d && d->profile)
		profile_resolve_key(d->profile, key, &pt, &b, &idx);
	if (b && idx >= 0) {
		const char *bl = lbl(&b->label, english);
		const char *pname = strchr(key, '.') ? strchr(key, '.') + 1 : key;

		if (english)
			g_string_append_printf(s, "%s %d", bl ? bl : b->name, idx);
		else
			g_string_append_printf(s, "%d号%s", idx, bl ? bl : b->name);
		append_where(s, w, n ? n->name : NULL, n ? n->location : NULL);
		if (!cls || strcmp(pname, cls) != 0)
			*qual = pt && lbl(&pt->label, english) ? lbl(&pt->label, english) : pname;
		return true;
	}
	if (cls && strcmp(key, cls) == 0 && !n)
		return false;
	g_string_append(s, pt && lbl(&pt->label, english) ? lbl(&pt->label, english) : key);
	append_where(s, w, n ? n->name : NULL, n ? n->location : NULL);
	return true;
}

static void camera_text(GString *s, const struct words *w, bool english, const struct cfg_camera *k,
			const struct alert *a)
{
	const char *cond = a->point[0] ? a->point : a->cond;
	const char *what = NULL;

	for (size_t i = 0; i < G_N_ELEMENTS(cam_conds); i++)
		if (strcmp(cam_conds[i].cond, cond) == 0)
			what = english ? cam_conds[i].en : cam_conds[i].zh;
	if (a->from_rule && a->text[0])
		what = a->text;
	g_string_append_printf(s, "%s %s", w->camera, k->name ? k->name : k->id);
	append_where(s, w, NULL, k->location);
	if (english || !what || !k->location)
		g_string_append_c(s, ' ');
	g_string_append(s, what ? what : cond);
}

void alert_text_format(const struct hw_config *cfg, const struct alert *a, char *buf, size_t sz)
{
	bool english = cfg && cfg->site.language == LANG_EN;
	const struct words *w = english ? &en : &zh;
	const struct cfg_device *d = config_find_device(cfg, a->device);
	const struct cfg_camera *k = d ? NULL : config_find_camera(cfg, a->device);
	GString *s = g_string_sized_new(128);
	const char *head = NULL, *cls = NULL, *qual = NULL, *end;
	GString *subj = g_string_new(NULL);
	bool has_subj = false;

	if (k) {
		camera_text(s, w, english, k, a);
		goto out;
	}
	if (a->from_rule)
		head = a->text[0] ? a->text : a->cond;
	else if (!a->point[0])
		head = strcmp(a->cond, "offline") == 0	? w->offline
		       : strcmp(a->cond, "frozen") == 0 ? w->frozen
							: NULL;
	else {
		cls = a->cond;
		head = strcmp(cls, "fire") == 0		 ? w->fire
		       : strcmp(cls, "supervisory") == 0 ? w->supervisory
		       : strcmp(cls, "fault") == 0	 ? w->fault
							 : NULL;
	}
	if (!d && !head) { /* the gateway's own alerts, or a device no longer configured */
		g_string_append(s, a->text[0] ? a->text : a->cond);
		goto out;
	}
	if (a->point[0])
		has_subj = append_subject(subj, w, english, d, a->point, cls, &qual);
	g_string_append(s, head ? head : a->cond);
	if (qual)
		g_string_append_printf(s, "%s%s%s", w->open, qual, w->close);
	g_string_append(s, w->colon);
	if (has_subj)
		g_string_append_printf(s, "%s%s", subj->str, w->sep);
	append_device(s, w, english, d, a->device);
out:
	g_strlcpy(buf, s->str, sz);
	/* A cut in the middle of a character leaves invalid UTF-8: end before it. */
	if (!g_utf8_validate(buf, -1, &end))
		buf[(const char *)end - buf] = '\0';
	g_string_free(subj, TRUE);
	g_string_free(s, TRUE);
}

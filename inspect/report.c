/* Owns the monthly report's arithmetic and its two renderings: the printable HTML page
 * (inline CSS and SVG) and the CSV beside it, from the records, tickets and camera figures
 * the caller read. Pure; runs on whichever thread calls it (the main loop in the daemon). */
#include "inspect/report.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEEKS 5 /* days 1-7, 8-14, 15-21, 22-28, 29-31 */

int report_month_range(const char *month, GTimeZone *tz, int64_t *from_ms, int64_t *to_ms)
{
	int y, m, n = 0;
	GDateTime *a, *b;

	if (!month || strlen(month) != 7 || sscanf(month, "%4d-%2d%n", &y, &m, &n) != 2 || n != 7 ||
	    y < 1970 || y > 9998 || m < 1 || m > 12)
		return -EINVAL;
	a = g_date_time_new(tz, y, m, 1, 0, 0, 0);
	b = g_date_time_new(tz, m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1, 0, 0, 0);
	if (!a || !b) {
		if (a)
			g_date_time_unref(a);
		if (b)
			g_date_time_unref(b);
		return -EINVAL;
	}
	*from_ms = g_date_time_to_unix(a) * 1000;
	*to_ms = g_date_time_to_unix(b) * 1000;
	g_date_time_unref(a);
	g_date_time_unref(b);
	return 0;
}

double report_online_share(bool down, const struct report_flip *v, size_t n, int64_t from_ms,
			   int64_t until_ms)
{
	int64_t t = from_ms, off = 0;

	if (until_ms <= from_ms)
		return 1.0;
	for (size_t i = 0; i < n; i++) {
		int64_t at = v[i].t_ms;
		if (at <= from_ms) {
			down = v[i].down; /* the state at the start */
			continue;
		}
		if (at >= until_ms)
			break;
		if (down)
			off += at - t;
		t = at;
		down = v[i].down;
	}
	if (down)
		off += until_ms - t;
	return 1.0 - (double)off / (double)(until_ms - from_ms);
}

/* ---- the sums ---- */

struct plan_sum {
	char plan[INSP_NAME_MAX];
	int kind;
	uint64_t due[WEEKS], done[WEEKS];
	uint64_t passed, failed, missed, cancelled;
};

static bool is_test(int kind)
{
	return kind == INSP_FUNCTION_TEST || kind == INSP_DURATION_TEST;
}

static const char *const kind_names[] = {"video_patrol", "staff_patrol", "fire_check",
					 "function_test", "duration_test"};

static const char *kind_name(int k)
{
	return k >= 0 && (size_t)k < G_N_ELEMENTS(kind_names) ? kind_names[k] : "?";
}

/* The week of the month (0..4) of a record: by its due time, clamped into the month. */
static int week_of(const struct report_in *in, const struct insp_record *r)
{
	json_t *j = r->json ? json_loads(r->json, 0, NULL) : NULL;
	json_t *d = j ? json_object_get(j, "due") : NULL;
	int64_t t =
	    json_is_integer(d) && json_integer_value(d) > 0 ? json_integer_value(d) : r->t_ms;
	GDateTime *u, *l;
	int day;

	json_decref(j);
	t = CLAMP(t, in->from_ms, in->to_ms - 1);
	u = g_date_time_new_from_unix_utc(t / 1000);
	l = g_date_time_to_timezone(u, in->tz);
	day = g_date_time_get_day_of_month(l);
	g_date_time_unref(u);
	g_date_time_unref(l);
	return MIN((day - 1) / 7, WEEKS - 1);
}

static struct plan_sum *plan_of(GArray *plans, const struct insp_record *r)
{
	struct plan_sum p = {.kind = r->kind};

	for (guint i = 0; i < plans->len; i++)
		if (strcmp(g_array_index(plans, struct plan_sum, i).plan, r->plan) == 0)
			return &g_array_index(plans, struct plan_sum, i);
	g_strlcpy(p.plan, r->plan, sizeof(p.plan));
	g_array_append_val(plans, p);
	return &g_array_index(plans, struct plan_sum, plans->len - 1);
}

static int cmp_plan(gconstpointer a, gconstpointer b)
{
	return strcmp(((const struct plan_sum *)a)->plan, ((const struct plan_sum *)b)->plan);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static GArray *sum_up(const struct report_in *in, struct report_sums *s, GArray *repairs)
{
	GArray *plans = g_array_new(FALSE, TRUE, sizeof(struct plan_sum));

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < in->n_recs; i++) {
		const struct insp_record *r = &in->recs[i];
		struct plan_sum *p = plan_of(plans, r);
		int w = week_of(in, r);
		bool passed = strcmp(r->result, "passed") == 0,
		     failed = strcmp(r->result, "failed") == 0,
		     missed = strcmp(r->result, "missed") == 0,
		     cancelled = strcmp(r->result, "cancelled") == 0;

		p->passed += passed;
		p->failed += failed;
		p->missed += missed;
		p->cancelled += cancelled;
		if (!cancelled)
			p->due[w]++;
		if (passed || failed)
			p->done[w]++;
		if (is_test(r->kind)) {
			s->tests_passed += passed;
			s->tests_failed += failed;
			s->tests_missed += missed;
		} else {
			s->due += !cancelled;
			s->done += passed || failed;
			s->passed += passed;
			s->failed += failed;
			s->missed += missed;
			s->cancelled += cancelled;
		}
		if (r->reviewed_ms > 0) {
			s->reviewed++;
			s->accepted += strcmp(r->verdict, "accepted") == 0;
			s->rejected += strcmp(r->verdict, "rejected") == 0;
		}
	}
	g_array_sort(plans, cmp_plan);
	for (size_t i = 0; i < in->n_tickets; i++) {
		const struct ticket *t = &in->tickets[i];
		bool closed = t->closed_ms > 0 && t->closed_ms < in->to_ms;

		s->opened += t->opened_ms >= in->from_ms && t->opened_ms < in->to_ms;
		if (closed && t->closed_ms >= in->from_ms) {
			int64_t d = t->closed_ms - t->opened_ms;
			s->closed++;
			g_array_append_val(repairs, d);
		}
		s->still_open += !closed;
	}
	s->repair_median_ms = s->repair_max_ms = -1;
	if (repairs->len) {
		int64_t *v = (int64_t *)(void *)repairs->data;
		guint n = repairs->len;
		qsort(v, n, sizeof(*v), cmp_i64);
		s->repair_median_ms = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
		s->repair_max_ms = v[n - 1];
	}
	return plans;
}

/* ---- the texts ---- */

struct words {
	const char *title, *site, *month, *made, *completion, *plan, *kind, *week, *due, *done,
	    *rate, *passed, *failed, *missed, *cancelled, *tests, *tickets, *opened, *closed,
	    *open_end, *median, *max, *cameras, *camera, *online, *oldest, *kept, *required,
	    *short_, *ok, *reviews, *reviewed, *accepted, *rejected, *none, *unknown, *all_patrols,
	    *days, *hours, *availability_note, *ticket, *target, *state, *repair;
	const char *states[6]; /* enum ticket_state, in the report's language */
};

static const struct words en = {
    "Monthly inspection report",
    "Site",
    "Month",
    "Made",
    "Patrol and check completion",
    "Plan",
    "Kind",
    "Week",
    "Due",
    "Done",
    "Done / due",
    "Passed",
    "Failed",
    "Missed",
    "Cancelled",
    "Tests",
    "Rectification tickets",
    "Opened",
    "Closed",
    "Open at the end",
    "Median time to repair",
    "Longest time to repair",
    "Cameras",
    "Camera",
    "Online",
    "Oldest footage",
    "Footage kept",
    "Required",
    "SHORT",
    "ok",
    "Reviews",
    "Reviewed",
    "Accepted",
    "Rejected",
    "none",
    "unknown",
    "All patrols and checks",
    "days",
    "h",
    "Online: the share of the month (up to when the report was made) without an open "
    "offline or video-loss alert of the camera.",
    "Ticket",
    "Target",
    "State",
    "Time to repair",
    {"open", "assigned", "repairing", "pending verification", "closed", "reopened"}};
static const struct words zh = {
    "月度巡查报告",
    "场所",
    "月份",
    "生成时间",
    "巡查与检查完成情况",
    "计划",
    "类型",
    "周",
    "应做",
    "已做",
    "完成率",
    "合格",
    "不合格",
    "漏检",
    "取消",
    "测试",
    "整改单",
    "新开",
    "关闭",
    "月末未关闭",
    "修复时间中位数",
    "最长修复时间",
    "摄像机",
    "摄像机",
    "在线率",
    "最早录像",
    "录像保存",
    "要求",
    "不足",
    "合格",
    "审核",
    "已审核",
    "通过",
    "驳回",
    "无",
    "未知",
    "全部巡查与检查",
    "天",
    "小时",
    "在线率：本月（至报告生成时）该摄像机没有未恢复的离线或视频丢失告警的时间占比。",
    "整改单",
    "对象",
    "状态",
    "修复时间",
    {"待处理", "已指派", "整改中", "待复核", "已关闭", "重新打开"}};

static void esc(GString *o, const char *s)
{
	char *e = g_markup_escape_text(s ? s : "", -1);
	g_string_append(o, e);
	g_free(e);
}

static void local_time(const struct report_in *in, int64_t ms, char *buf, size_t n)
{
	GDateTime *u = g_date_time_new_from_unix_utc(ms / 1000), *l;
	char *s;

	if (!u) {
		g_strlcpy(buf, "-", n);
		return;
	}
	l = g_date_time_to_timezone(u, in->tz);
	s = g_date_time_format(l, "%Y-%m-%d %H:%M");
	g_strlcpy(buf, s ? s : "-", n);
	g_free(s);
	g_date_time_unref(l);
	g_date_time_unref(u);
}

static void pct(char *buf, size_t n, uint64_t a, uint64_t b)
{
	if (b == 0)
		g_strlcpy(buf, "-", n);
	else
		snprintf(buf, n, "%.1f %%", 100.0 * (double)a / (double)b);
}

static void hours(const struct words *w, char *buf, size_t n, int64_t ms)
{
	if (ms < 0)
		g_strlcpy(buf, w->none, n);
	else
		snprintf(buf, n, "%.1f %s", (double)ms / 3600000.0, w->hours);
}

/* ---- the plots ---- */

/* Due and done of every week, all patrols and checks together. */
static void svg_weeks(GString *o, const struct words *w, GArray *plans)
{
	uint64_t due[WEEKS] = {0}, done[WEEKS] = {0}, top = 1;
	const int W = 560, H = 180, base = 150, bw = 36;

	for (guint i = 0; i < plans->len; i++) {
		const struct plan_sum *p = &g_array_index(plans, struct plan_sum, i);
		if (is_test(p->kind))
			continue;
		for (int k = 0; k < WEEKS; k++) {
			due[k] += p->due[k];
			done[k] += p->done[k];
			top = MAX(top, due[k]);
		}
	}
	g_string_append_printf(o,
			       "<svg class=\"plot\" viewBox=\"0 0 %d %d\" width=\"%d\" "
			       "height=\"%d\" role=\"img\" aria-label=\"%s\">\n",
			       W, H, W, H, w->all_patrols);
	g_string_append_printf(o,
			       "<line x1=\"40\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n",
			       base, W - 10, base);
	for (int k = 0; k < WEEKS; k++) {
		int x = 60 + k * 100;
		int hd = (int)(120 * due[k] / top), hn = (int)(120 * done[k] / top);
		g_string_append_printf(
		    o,
		    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"due\"/>"
		    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"done\"/>\n"
		    "<text x=\"%d\" y=\"%d\" class=\"v\">%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
		    "</text><text x=\"%d\" y=\"%d\" class=\"l\">%s %d</text>\n",
		    x, base - hd, bw, hd, x + bw, base - hn, bw, hn, x, base - MAX(hd, hn) - 4,
		    done[k], due[k], x + 8, base + 16, w->week, k + 1);
	}
	g_string_append_printf(o,
			       "<rect x=\"%d\" y=\"8\" width=\"10\" height=\"10\" class=\"due\"/>"
			       "<text x=\"%d\" y=\"17\" class=\"l\">%s</text>"
			       "<rect x=\"%d\" y=\"8\" width=\"10\" height=\"10\" class=\"done\"/>"
			       "<text x=\"%d\" y=\"17\" class=\"l\">%s</text>\n</svg>\n",
			       W - 150, W - 136, w->due, W - 80, W - 66, w->done);
}

/* Horizontal bars of a share 0..1 per row. */
static void svg_bars(GString *o, const char *label, const char *const *names, const double *v,
		     size_t n)
{
	const int W = 560, row = 22;
	int H = (int)n * row + 10;

	g_string_append_printf(o,
			       "<svg class=\"plot\" viewBox=\"0 0 %d %d\" width=\"%d\" "
			       "height=\"%d\" role=\"img\" aria-label=\"",
			       W, H, W, H);
	esc(o, label);
	g_string_append(o, "\">\n");
	for (size_t i = 0; i < n; i++) {
		int y = 5 + (int)i * row;
		double s = v[i] < 0 ? 0 : MIN(v[i], 1.0);
		g_string_append_printf(o, "<text x=\"0\" y=\"%d\" class=\"l\">", y + 14);
		esc(o, names[i]);
		g_string_append_printf(
		    o,
		    "</text><rect x=\"140\" y=\"%d\" width=\"340\" height=\"16\" class=\"due\"/>"
		    "<rect x=\"140\" y=\"%d\" width=\"%d\" height=\"16\" class=\"%s\"/>"
		    "<text x=\"488\" y=\"%d\" class=\"v\">",
		    y, y, (int)(340 * s + 0.5), s < 0.95 ? "bad" : "done", y + 13);
		if (v[i] < 0)
			g_string_append(o, "?");
		else
			g_string_append_printf(o, "%.1f %%", 100 * v[i]);
		g_string_append(o, "</text>\n");
	}
	g_string_append(o, "</svg>\n");
}

/* ---- the page and the CSV ---- */

static const char css[] =
    "body{font-family:sans-serif;font-size:10.5pt;margin:1.5em;color:#000}"
    "h1{font-size:16pt;margin:0 0 .3em}h2{font-size:13pt;margin:1.2em 0 .4em;"
    "border-bottom:1px solid #888}table{border-collapse:collapse;margin:.3em 0}"
    "th,td{border:1px solid #999;padding:2px 6px;text-align:left;white-space:nowrap;"
    "font-variant-numeric:tabular-nums}th{background:#eee;font-size:9.5pt}"
    ".meta td{border:none}.short{color:#b00;font-weight:bold}"
    ".plot{display:block;margin:.4em 0}.plot .due{fill:#ddd}.plot .done{fill:#3a6}"
    ".plot .bad{fill:#c33}.plot .axis{stroke:#000}.plot text{font-size:11px;fill:#000}"
    ".note{font-size:9pt;color:#444}"
    "@media print{body{margin:0}h2{break-after:avoid}table,svg{break-inside:avoid}"
    "@page{size:A4;margin:15mm}}";

static void csv_row(GString *c, const char *section, const char *item, const char *period,
		    const char *metric, const char *value)
{
	/* items are ids ([A-Za-z0-9_.-]); quoted anyway */
	g_string_append_printf(c, "%s,\"%s\",%s,%s,%s\n", section, item, period, metric, value);
}

static void csv_u(GString *c, const char *section, const char *item, const char *period,
		  const char *metric, uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "%" G_GUINT64_FORMAT, v);
	csv_row(c, section, item, period, metric, b);
}

static void td_u(GString *o, uint64_t v)
{
	g_string_append_printf(o, "<td>%" G_GUINT64_FORMAT "</td>", v);
}

static void completion(GString *o, GString *c, const struct words *w, GArray *plans)
{
	char b[32];

	g_string_append_printf(o, "<h2>%s</h2>\n", w->completion);
	svg_weeks(o, w, plans);
	g_string_append_printf(o, "<p class=\"note\">%s: %s / %s</p>\n", w->week, w->done, w->due);
	g_string_append_printf(o, "<table><tr><th>%s</th><th>%s</th>", w->plan, w->kind);
	for (int k = 0; k < WEEKS; k++)
		g_string_append_printf(o, "<th>%s %d</th>", w->week, k + 1);
	g_string_append_printf(o, "<th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr>\n",
			       w->rate, w->passed, w->failed, w->missed, w->cancelled);
	for (guint i = 0; i < plans->len; i++) {
		const struct plan_sum *p = &g_array_index(plans, struct plan_sum, i);
		uint64_t due = 0, done = 0;

		g_string_append(o, "<tr><td>");
		esc(o, p->plan);
		g_string_append_printf(o, "</td><td>%s</td>", kind_name(p->kind));
		for (int k = 0; k < WEEKS; k++) {
			char wk[8];
			snprintf(wk, sizeof(wk), "week%d", k + 1);
			g_string_append_printf(
			    o, "<td>%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "</td>", p->done[k],
			    p->due[k]);
			csv_u(c, "completion", p->plan, wk, "due", p->due[k]);
			csv_u(c, "completion", p->plan, wk, "done", p->done[k]);
			due += p->due[k];
			done += p->done[k];
		}
		pct(b, sizeof(b), done, due);
		g_string_append_printf(o, "<td>%s</td>", b);
		td_u(o, p->passed);
		td_u(o, p->failed);
		td_u(o, p->missed);
		td_u(o, p->cancelled);
		g_string_append(o, "</tr>\n");
		csv_u(c, "completion", p->plan, "month", "due", due);
		csv_u(c, "completion", p->plan, "month", "done", done);
		csv_u(c, "completion", p->plan, "month", "passed", p->passed);
		csv_u(c, "completion", p->plan, "month", "failed", p->failed);
		csv_u(c, "completion", p->plan, "month", "missed", p->missed);
		csv_u(c, "completion", p->plan, "month", "cancelled", p->cancelled);
	}
	g_string_append(o, "</table>\n");
}

static void totals(GString *o, GString *c, const struct words *w, const struct report_sums *s)
{
	char b[32];

	pct(b, sizeof(b), s->done, s->due);
	g_string_append_printf(o,
			       "<table><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</"
			       "th><th>%s</th><th>%s</th></tr>\n<tr><td>%s</td>",
			       w->all_patrols, w->due, w->done, w->rate, w->passed, w->failed,
			       w->missed, w->all_patrols);
	td_u(o, s->due);
	td_u(o, s->done);
	g_string_append_printf(o, "<td>%s</td>", b);
	td_u(o, s->passed);
	td_u(o, s->failed);
	td_u(o, s->missed);
	g_string_append(o, "</tr></table>\n");
	csv_u(c, "patrols", "all", "month", "due", s->due);
	csv_u(c, "patrols", "all", "month", "done", s->done);
	csv_u(c, "patrols", "all", "month", "passed", s->passed);
	csv_u(c, "patrols", "all", "month", "failed", s->failed);
	csv_u(c, "patrols", "all", "month", "missed", s->missed);

	g_string_append_printf(o,
			       "<h2>%s</h2>\n<table><tr><th>%s</th><th>%s</th><th>%s</th></tr>"
			       "<tr><td>%" G_GUINT64_FORMAT "</td><td>%" G_GUINT64_FORMAT
			       "</td><td>%" G_GUINT64_FORMAT "</td></tr></table>\n",
			       w->tests, w->passed, w->failed, w->missed, s->tests_passed,
			       s->tests_failed, s->tests_missed);
	csv_u(c, "tests", "all", "month", "passed", s->tests_passed);
	csv_u(c, "tests", "all", "month", "failed", s->tests_failed);
	csv_u(c, "tests", "all", "month", "missed", s->tests_missed);
}

static void tickets(GString *o, GString *c, const struct report_in *in, const struct words *w,
		    const struct report_sums *s)
{
	char a[32], b[32], t[32];

	hours(w, a, sizeof(a), s->repair_median_ms);
	hours(w, b, sizeof(b), s->repair_max_ms);
	g_string_append_printf(o,
			       "<h2>%s</h2>\n<table><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</"
			       "th><th>%s</th></tr><tr><td>%" G_GUINT64_FORMAT
			       "</td><td>%" G_GUINT64_FORMAT "</td><td>%" G_GUINT64_FORMAT
			       "</td><td>%s</td><td>%s</td></tr></table>\n",
			       w->tickets, w->opened, w->closed, w->open_end, w->median, w->max,
			       s->opened, s->closed, s->still_open, a, b);
	csv_u(c, "tickets", "all", "month", "opened", s->opened);
	csv_u(c, "tickets", "all", "month", "closed", s->closed);
	csv_u(c, "tickets", "all", "month", "open_at_end", s->still_open);
	snprintf(a, sizeof(a), "%lld",
		 (long long)(s->repair_median_ms < 0 ? -1 : s->repair_median_ms / 1000));
	snprintf(b, sizeof(b), "%lld",
		 (long long)(s->repair_max_ms < 0 ? -1 : s->repair_max_ms / 1000));
	csv_row(c, "tickets", "all", "month", "repair_median_s", a);
	csv_row(c, "tickets", "all", "month", "repair_max_s", b);
	if (!in->n_tickets)
		return;
	g_string_append_printf(o,
			       "<table><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</"
			       "th><th>%s</th></tr>\n",
			       w->ticket, w->target, w->state, w->opened, w->closed, w->repair);
	for (size_t i = 0; i < in->n_tickets; i++) {
		const struct ticket *k = &in->tickets[i];
		bool closed = k->closed_ms > 0 && k->closed_ms < in->to_ms;

		local_time(in, k->opened_ms, a, sizeof(a));
		if (closed)
			local_time(in, k->closed_ms, b, sizeof(b));
		else
			g_strlcpy(b, "-", sizeof(b));
		hours(w, t, sizeof(t), closed ? k->closed_ms - k->opened_ms : -1);
		g_string_append(o, "<tr><td>");
		esc(o, k->id);
		g_string_append(o, "</td><td>");
		esc(o, k->target);
		g_string_append_printf(
		    o, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
		    (unsigned)k->state < G_N_ELEMENTS(w->states) ? w->states[k->state]
								 : ticket_state_name(k->state),
		    a, b, closed ? t : "-");
	}
	g_string_append(o, "</table>\n");
}

static void cameras(GString *o, GString *c, const struct report_in *in, const struct words *w)
{
	const char **names = g_new0(const char *, in->n_cams + 1);
	double *v = g_new0(double, in->n_cams + 1);
	char a[48], b[48];

	g_string_append_printf(o, "<h2>%s</h2>\n", w->cameras);
	for (size_t i = 0; i < in->n_cams; i++) {
		names[i] = in->cams[i].id;
		v[i] = in->cams[i].online_share;
	}
	if (in->n_cams)
		svg_bars(o, w->online, names, v, in->n_cams);
	g_string_append_printf(o,
			       "<table><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th><th>%s</"
			       "th></tr>\n",
			       w->camera, w->online, w->oldest, w->kept, w->required);
	for (size_t i = 0; i < in->n_cams; i++) {
		const struct report_camera *k = &in->cams[i];
		double days =
		    k->oldest_ms > 0 ? (double)(in->made_ms - k->oldest_ms) / 86400000.0 : 0.0;
		/* a camera not recorded (retention_days 0) owes no footage */
		bool enough =
		    k->retention_days <= 0 || (k->oldest_ms > 0 && days >= k->retention_days);

		if (k->online_share < 0)
			g_strlcpy(a, w->unknown, sizeof(a));
		else
			snprintf(a, sizeof(a), "%.2f %%", 100 * k->online_share);
		g_string_append(o, "<tr><td>");
		esc(o, k->id);
		if (k->name && *k->name) {
			g_string_append(o, " (");
			esc(o, k->name);
			g_string_append(o, ")");
		}
		if (k->oldest_ms > 0)
			local_time(in, k->oldest_ms, b, sizeof(b));
		else
			g_strlcpy(b, w->none, sizeof(b));
		g_string_append_printf(o,
				       "</td><td>%s</td><td>%s</td><td%s>%.1f %s%s%s</td><td>%d "
				       "%s</td></tr>\n",
				       a, b, enough ? "" : " class=\"short\"", days, w->days,
				       enough ? "" : " ", enough ? "" : w->short_,
				       k->retention_days, w->days);
		if (k->online_share < 0)
			g_strlcpy(a, "", sizeof(a));
		else
			snprintf(a, sizeof(a), "%.2f", 100 * k->online_share);
		csv_row(c, "camera", k->id, "month", "online_pct", a);
		snprintf(b, sizeof(b), "%.1f", days);
		csv_row(c, "camera", k->id, "month", "footage_days", b);
		snprintf(b, sizeof(b), "%d", k->retention_days);
		csv_row(c, "camera", k->id, "month", "required_days", b);
	}
	g_string_append_printf(o, "</table>\n<p class=\"note\">%s</p>\n", w->availability_note);
	g_free(names);
	g_free(v);
}

int report_build(const struct report_in *in, GString *html, GString *csv, struct report_sums *sums)
{
	const struct words *w = in->zh ? &zh : &en;
	GArray *repairs = g_array_new(FALSE, FALSE, sizeof(int64_t));
	struct report_sums s;
	GArray *plans;
	char made[32];

	if (!in->month || in->to_ms <= in->from_ms) {
		g_array_free(repairs, TRUE);
		return -EINVAL;
	}
	plans = sum_up(in, &s, repairs);
	local_time(in, in->made_ms, made, sizeof(made));
	g_string_append_printf(html,
			       "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta "
			       "charset=\"utf-8\">\n<title>%s ",
			       in->zh ? "zh-CN" : "en", w->title);
	esc(html, in->site);
	g_string_append_printf(html,
			       " %s</title>\n<style>%s</style>\n</head>\n<body>\n<h1>%s</h1>\n",
			       in->month, css, w->title);
	g_string_append_printf(html, "<table class=\"meta\"><tr><td>%s</td><td>", w->site);
	esc(html, in->site);
	g_string_append_printf(html,
			       "</td></tr><tr><td>%s</td><td>%s</td></tr><tr><td>%s</td><td>%s"
			       "</td></tr></table>\n",
			       w->month, in->month, w->made, made);
	g_string_append(csv, "section,item,period,metric,value\n");
	completion(html, csv, w, plans);
	totals(html, csv, w, &s);
	tickets(html, csv, in, w, &s);
	cameras(html, csv, in, w);
	g_string_append_printf(html,
			       "<h2>%s</h2>\n<table><tr><th>%s</th><th>%s</th><th>%s</th></tr>"
			       "<tr><td>%" G_GUINT64_FORMAT "</td><td>%" G_GUINT64_FORMAT
			       "</td><td>%" G_GUINT64_FORMAT "</td></tr></table>\n",
			       w->reviews, w->reviewed, w->accepted, w->rejected, s.reviewed,
			       s.accepted, s.rejected);
	csv_u(csv, "reviews", "all", "month", "reviewed", s.reviewed);
	csv_u(csv, "reviews", "all", "month", "accepted", s.accepted);
	csv_u(csv, "reviews", "all", "month", "rejected", s.rejected);
	g_string_append(html, "</body>\n</html>\n");
	if (sums)
		*sums = s;
	g_array_free(plans, TRUE);
	g_array_free(repairs, TRUE);
	return 0;
}

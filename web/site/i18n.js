// The console's words in Chinese and English. The site's language (http.md: site.language)
// is the default; a person's choice on this browser is kept in localStorage.
"use strict";

const HW_WORDS = {
  zh: {
    title: "大厅值守", overview: "总览", alerts: "告警", logout: "退出",
    login: "登录", user: "用户名", password: "密码", login_failed: "用户名或密码错误",
    too_many: "失败次数过多，请稍后再试", lang_switch: "English",
    hall_safe: "大厅安全", hall_unsafe: "需要处理", hall_unknown: "状态未知",
    fire_alarm: "火警", silence: "消音", silenced: "已消音",
    fire_panels: "火灾报警控制器", lighting: "应急照明", cameras: "摄像机",
    open_alerts: "未关闭告警", none: "无", online: "在线", offline: "离线",
    recording: "录像中", not_recording: "未录像", no_picture: "暂无画面",
    priority: "优先级", state: "状态", id: "编号", device: "设备", condition: "条件",
    raised: "发生时间", actions: "操作", ack: "确认", shelve: "搁置", unshelve: "取消搁置",
    reason: "原因", duration: "时长", cancel: "取消", all: "全部", history: "历史记录",
    event: "事件", time: "时间", by: "操作人", since: "起始日期", limit: "条数",
    filter: "筛选", live_on: "实时连接", live_off: "实时连接中断", done: "已完成",
    quality: "质量", alarms_on: "报警点", no_alerts: "没有未关闭的告警",
    s_unack: "未确认", s_acked: "已确认", s_rtn_unack: "已恢复未确认", s_shelved: "已搁置",
    s_suppressed: "已抑制", s_out_of_service: "停用", s_normal: "正常",
    k_fire: "火警", k_fault: "故障", k_supervisory: "监管", k_disabled: "屏蔽",
    q_good: "正常", q_frozen: "冻结", q_comm_lost: "通信中断", q_unknown: "未知",
    h1: "1 小时", h8: "8 小时", h24: "24 小时", user_role: "角色",
    points: "个点位", not_good: "质量异常", devices: "设备", patrols: "巡查与测试", point: "点位", value: "值", range: "时间范围",
    d7: "7 天", history_chart: "历史曲线", minutes: "分钟数据", no_numeric: "没有数值点位",
    recordings: "录像", day: "日期", segments: "段", gaps: "段缺失", click_to_play: "点击时间轴播放",
    nothing_there: "该时刻没有可播放的录像", end_of_recordings: "已播放到最新的录像", playing: "正在播放", clip_from: "片段开始",
    clip_len: "时长（秒）", export_clip: "导出片段", clip_needs: "请选择开始时间和时长",
    working: "处理中…", download: "下载", clip: "片段",
    c_frozen: "画面冻结", c_dark: "画面过暗", c_covered: "遮挡", c_defocus: "失焦", c_moved: "移位",
    c_offline: "离线", c_video_loss: "视频丢失",
    due_today: "今日到期或逾期", task: "任务", target: "对象", due: "到期", overdue: "逾期",
    nothing_due: "今日无到期任务", unavailable: "暂不可用", tasks_open: "任务", plan: "计划",
    patrol_now: "立即视频巡查", month: "月份", report: "月报", kind: "类型", checklist: "检查表",
    note: "备注", submit: "提交", records: "记录", review: "审核", to_review: "待审核",
    reviewed: "已审核", tickets: "整改单", assignee: "负责人", deadline: "期限",
    start: "开始", fill: "填写", passed: "合格", failed: "不合格", accept: "通过", reject: "驳回",
    assign: "指派", repaired: "已整改", verify: "复查", close: "关闭", reopen: "重新打开",
    recheck_pass: "复查合格？", not_on_gateway: "本网关尚不支持",
    v_accepted: "通过", v_rejected: "驳回", r_pass: "合格", r_fail: "不合格", r_na: "不适用",
    r_passed: "合格", r_failed: "不合格", r_missed: "漏检",
    k_video_patrol: "视频巡查", k_checklist: "检查表", k_function_test: "功能测试",
    k_duration_test: "持续测试", k_camera: "摄像机", k_staff_patrol: "人员巡查",
    t_scheduled: "已排期", t_due: "到期", t_open: "待办", t_overdue: "逾期", t_in_progress: "进行中",
    t_postponed: "已推迟", t_done: "完成", t_missed: "漏检", t_cancelled: "已取消",
    ts_open: "待处理", ts_assigned: "已指派", ts_in_progress: "整改中", ts_repaired: "已整改",
    ts_verified: "已复查", ts_closed: "已关闭",
  },
  en: {
    title: "Hall watch", overview: "Overview", alerts: "Alerts", logout: "Log out",
    login: "Log in", user: "User", password: "Password", login_failed: "Wrong user or password",
    too_many: "Too many failed logins: try again later", lang_switch: "中文",
    hall_safe: "The hall is safe", hall_unsafe: "Needs attention", hall_unknown: "State unknown",
    fire_alarm: "Fire alarm", silence: "Silence", silenced: "Silenced",
    fire_panels: "Fire alarm panels", lighting: "Emergency lighting", cameras: "Cameras",
    open_alerts: "Open alerts", none: "None", online: "online", offline: "offline",
    recording: "recording", not_recording: "not recording", no_picture: "No picture yet",
    priority: "Priority", state: "State", id: "Id", device: "Device", condition: "Condition",
    raised: "Raised", actions: "Actions", ack: "Acknowledge", shelve: "Shelve",
    unshelve: "Unshelve", reason: "Reason", duration: "Duration", cancel: "Cancel", all: "All",
    history: "History", event: "Event", time: "Time", by: "By", since: "Since", limit: "Rows",
    filter: "Filter", live_on: "Live", live_off: "Live feed lost", done: "Done",
    quality: "Quality", alarms_on: "Points on", no_alerts: "No open alerts",
    s_unack: "unacknowledged", s_acked: "acknowledged", s_rtn_unack: "returned, unacknowledged",
    s_shelved: "shelved", s_suppressed: "suppressed", s_out_of_service: "out of service",
    s_normal: "normal",
    k_fire: "fire", k_fault: "fault", k_supervisory: "supervisory", k_disabled: "disabled",
    q_good: "good", q_frozen: "frozen", q_comm_lost: "communication lost", q_unknown: "unknown",
    h1: "1 hour", h8: "8 hours", h24: "24 hours", user_role: "Role",
    points: "points", not_good: "not good", devices: "Devices", patrols: "Patrols and tests", point: "Point", value: "Value", range: "Range",
    d7: "7 days", history_chart: "History", minutes: "minutes", no_numeric: "No numeric point",
    recordings: "Recordings", day: "Day", segments: "segments", gaps: "gaps", click_to_play: "click the timeline to play",
    nothing_there: "Nothing recorded to play there", end_of_recordings: "End of the recordings so far", playing: "Playing", clip_from: "Clip from",
    clip_len: "Length (s)", export_clip: "Export clip", clip_needs: "Choose a start and a length",
    working: "Working…", download: "Download", clip: "clip",
    c_frozen: "frozen", c_dark: "dark", c_covered: "covered", c_defocus: "out of focus", c_moved: "moved",
    c_offline: "offline", c_video_loss: "video loss",
    due_today: "Due or overdue today", task: "Task", target: "Target", due: "Due", overdue: "overdue",
    nothing_due: "Nothing due today", unavailable: "Unavailable", tasks_open: "Tasks", plan: "Plan",
    patrol_now: "Run a video patrol now", month: "Month", report: "Monthly report", kind: "Kind",
    checklist: "Checklist", note: "Note", submit: "Submit", records: "Records", review: "Review",
    to_review: "to review", reviewed: "reviewed", tickets: "Tickets", assignee: "Assignee",
    deadline: "Deadline", start: "Start", fill: "Fill in", passed: "Passed", failed: "Failed",
    accept: "Accept", reject: "Reject", assign: "Assign", repaired: "Repaired", verify: "Verify",
    close: "Close", reopen: "Reopen", recheck_pass: "Did the re-check pass?",
    not_on_gateway: "Not on this gateway yet",
    v_accepted: "accepted", v_rejected: "rejected", r_pass: "pass", r_fail: "fail", r_na: "n/a",
    r_passed: "passed", r_failed: "failed", r_missed: "missed",
    k_video_patrol: "video patrol", k_checklist: "checklist", k_function_test: "function test",
    k_duration_test: "duration test", k_camera: "camera", k_staff_patrol: "staff patrol",
    t_scheduled: "scheduled", t_due: "due", t_open: "open", t_overdue: "overdue",
    t_in_progress: "in progress", t_postponed: "postponed", t_done: "done", t_missed: "missed",
    t_cancelled: "cancelled",
    ts_open: "open", ts_assigned: "assigned", ts_in_progress: "in progress", ts_repaired: "repaired",
    ts_verified: "verified", ts_closed: "closed",
  },
};

const hwI18n = {
  lang: "zh",
  // The language of this browser's choice, else the site's.
  pick(siteLang) {
    const mine = window.localStorage.getItem("hw_lang");
    this.lang = HW_WORDS[mine] ? mine : (HW_WORDS[siteLang] ? siteLang : "zh");
    document.documentElement.lang = this.lang === "zh" ? "zh-CN" : "en";
    this.apply(document);
  },
  t(key) {
    const w = HW_WORDS[this.lang] || HW_WORDS.zh;
    return key in w ? w[key] : key;
  },
  // Every element with data-i18n gets its word; data-i18n-ph its placeholder.
  apply(root) {
    root.querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = this.t(el.dataset.i18n);
    });
    root.querySelectorAll("[data-i18n-ph]").forEach((el) => {
      el.placeholder = this.t(el.dataset.i18nPh);
    });
    document.title = this.t("title");
  },
  toggle() {
    this.lang = this.lang === "zh" ? "en" : "zh";
    window.localStorage.setItem("hw_lang", this.lang);
    document.documentElement.lang = this.lang === "zh" ? "zh-CN" : "en";
    this.apply(document);
  },
};

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

// The county page's words, added to the console's (i18n.js).
"use strict";

Object.assign(HW_WORDS.zh, {
  title: "县级监控中心", county_title: "县级监控中心", halls: "各大厅", alarm_feed: "实时报警",
  feed_empty: "暂无报警", hall: "大厅", close: "关闭", open_console: "打开大厅控制台（视频）",
  surprise_patrol: "突击视频巡查", ranking: "月度考评", month: "月份", rank: "名次",
  site: "大厅", score: "得分", online_rate: "在线率", device_availability: "设备完好率",
  camera_availability: "摄像机完好率", patrol_rate: "巡查完成率", footage_ok_rate: "录像保存达标率",
  fire_alarms: "火警次数", rank_empty: "本月暂无数据",
  w_fire: "火警", w_alarm: "告警", w_fault: "故障", w_offline: "离线", w_silent: "无心跳",
  w_unknown: "未知", w_ok: "正常",
  f_fire: "火警", f_fire_cleared: "火警解除", f_alert: "告警", f_offline: "离线",
  f_online: "恢复在线", f_silent: "无心跳",
  total: "大厅总数", devices: "设备", inspections: "巡查/检查", tickets: "工单",
  footage: "录像保存", alerts_open: "未关闭告警", faults: "故障", passed: "通过",
  failed: "未通过", missed: "漏检", overdue: "逾期", open: "未关闭", recording: "录像中",
  days_kept: "保存天数", required: "要求", patrol_sent: "已下发突击巡查…",
  patrol_ok: "大厅已接受巡查", available_today: "今日完好率", patrol_refused: "大厅拒绝", patrol_record: "巡查记录已到达",
});
Object.assign(HW_WORDS.en, {
  title: "County monitoring room", county_title: "County monitoring room", halls: "Halls",
  alarm_feed: "Alarm feed", feed_empty: "No alarms", hall: "Hall", close: "Close",
  open_console: "Open the hall's console (video)", surprise_patrol: "Surprise video patrol",
  ranking: "Monthly evaluation", month: "Month", rank: "#", site: "Hall", score: "Score",
  online_rate: "Online", device_availability: "Devices", camera_availability: "Cameras",
  patrol_rate: "Patrols", footage_ok_rate: "Footage", fire_alarms: "Fire alarms",
  rank_empty: "No data for this month",
  w_fire: "FIRE", w_alarm: "alarm", w_fault: "fault", w_offline: "offline", w_silent: "silent",
  w_unknown: "unknown", w_ok: "ok",
  f_fire: "Fire alarm", f_fire_cleared: "Fire cleared", f_alert: "Alert", f_offline: "Offline",
  f_online: "Back online", f_silent: "Silent",
  total: "Halls", devices: "Devices", inspections: "Patrols / inspections", tickets: "Tickets",
  footage: "Footage kept", alerts_open: "Open alerts", faults: "Faults", passed: "passed",
  failed: "failed", missed: "missed", overdue: "overdue", open: "open", recording: "recording",
  days_kept: "days kept", required: "required", patrol_sent: "Surprise patrol sent…",
  patrol_ok: "The hall accepted the patrol", available_today: "Available today", patrol_refused: "The hall refused",
  patrol_record: "The patrol's record arrived",
});

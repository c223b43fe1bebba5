// The county page: every hall as a tile coloured by its worst state, the live alarm feed,
// a hall's detail with the surprise video patrol, and the month's ranking with a chart.
// Plain DOM, no inline script (the CSP forbids it).
"use strict";

const cw = {
  me: null,
  halls: new Map(), // site -> hall picture
  selected: null,
  ws: null,
  liveDelay: 500,
  feed: [], // the items shown, newest first
  patrolShown: null, // [function, argument] of the patrol message shown
  rankTimer: 0,
  records: new Map(), // task -> a patrol record that arrived (it may come before the reply)
  feedSeen: [], // {site, type, at_ms}: when an item reached this page (the browser test reads it)
};
window.hwCounty = cw;

const WORST_ORDER = ["fire", "alarm", "offline", "silent", "fault", "unknown", "ok"];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

async function api(path, opts) {
  const o = Object.assign({ credentials: "same-origin", headers: {} }, opts || {});
  if (o.method && o.method !== "GET") {
    o.headers["Content-Type"] = "application/json";
    if (cw.me && cw.me.csrf) o.headers["X-CSRF-Token"] = cw.me.csrf;
  }
  const r = await fetch(path, o);
  if (r.status === 401) {
    window.location.assign("/login");
    throw new Error("no session");
  }
  return { status: r.status, body: await r.json().catch(() => ({})) };
}

function pct(x) {
  return typeof x === "number" ? (100 * x).toFixed(1) + "%" : "–";
}

function timeOf(ms) {
  return new Date(ms).toLocaleTimeString(hwI18n.lang === "zh" ? "zh-CN" : "en-GB");
}

// ---- tiles ----

function tileFor(h) {
  let t = document.getElementById("tile-" + h.site);
  if (!t) {
    t = el("button", "tile");
    t.type = "button";
    t.id = "tile-" + h.site;
    t.dataset.site = h.site;
    t.append(el("span", "name", h.site), el("span", "word"));
    t.addEventListener("click", () => showHall(h.site));
    const tiles = document.getElementById("tiles");
    const after = [...tiles.children].find((x) => x.dataset.site > h.site);
    tiles.insertBefore(t, after || null);
  }
  t.className = "tile w-" + h.worst + (cw.selected === h.site ? " sel" : "");
  t.dataset.worst = h.worst;
  t.querySelector(".word").textContent = hwI18n.t("w_" + h.worst);
  t.title = h.site + ": " + hwI18n.t("w_" + h.worst);
  return t;
}

function renderSummary() {
  const s = document.getElementById("summary");
  const n = {};
  for (const h of cw.halls.values()) n[h.worst] = (n[h.worst] || 0) + 1;
  s.replaceChildren(el("span", "count", hwI18n.t("total") + " " + cw.halls.size));
  for (const w of WORST_ORDER)
    if (n[w]) s.append(el("span", "count w-" + w, hwI18n.t("w_" + w) + " " + n[w]));
  const fires = [...cw.halls.values()].filter((h) => h.fire).map((h) => h.site);
  const banner = document.getElementById("alarm-banner");
  banner.classList.toggle("on", fires.length > 0);
  document.getElementById("alarm-text").textContent =
    fires.length ? hwI18n.t("w_fire") + ": " + fires.join(", ") : "";
}

function setHall(h) {
  cw.halls.set(h.site, h);
  tileFor(h);
  renderSummary();
  if (cw.selected === h.site) {
    renderDetail(h);
    // the lists come with GET /api/v1/halls/<site> only: fetch them again, at most once a second
    if (!h.detail && !cw.detailTimer) {
      cw.detailTimer = window.setTimeout(async () => {
        cw.detailTimer = null;
        const site = cw.selected;
        if (!site) return;
        const r = await api("/api/v1/halls/" + encodeURIComponent(site));
        if (r.status === 200 && cw.selected === site) {
          cw.detail = r.body;
          cw.halls.set(site, r.body);
          renderDetail(r.body);
        }
      }, 1000);
    }
  }
}

async function loadHalls() {
  const r = await api("/api/v1/halls");
  for (const h of r.body.halls || []) setHall(h);
}

// ---- the feed ----

function feedItem(item) {
  const li = el("li", item.type === "fire" ? "fire" : item.type === "alert" ? "alert" : "");
  li.dataset.site = item.site;
  li.dataset.type = item.type;
  li.append(el("span", "t", timeOf(item.t || Date.now())),
    el("span", "k", hwI18n.t("f_" + item.type) + " · "),
    el("span", "s", item.site + (item.id ? " · " + item.id : "")));
  li.addEventListener("click", () => showHall(item.site));
  return li;
}

function addFeed(item, fresh) {
  const list = document.getElementById("feed");
  cw.feed.unshift(item);
  if (cw.feed.length > 200) cw.feed.pop();
  list.prepend(feedItem(item));
  while (list.children.length > 200) list.lastChild.remove();
  document.getElementById("feed-empty").hidden = true;
  // The ranking counts fire alarms: read it again a little later.
  window.clearTimeout(cw.rankTimer);
  cw.rankTimer = window.setTimeout(loadRanking, 2000);
  if (fresh) cw.feedSeen.push({ site: item.site, type: item.type, at_ms: Date.now(),
    recv_us: item.recv_us, t_send_us: item.t_send_us });
}

// ---- a hall ----

function card(title, rows) {
  const c = el("div", "card");
  c.append(el("h3", null, title));
  for (const [k, v] of rows) {
    const p = el("div");
    p.append(el("span", "muted", hwI18n.t(k) + ": "), el("span", null, String(v)));
    c.append(p);
  }
  return c;
}

// The hall's lists (GET /api/v1/halls/<site> "detail"): one table each, ids in data-id.
function table(id, title, heads, rows, dropped) {
  const w = el("div", "lists");
  w.id = id;
  w.append(el("h3", null, hwI18n.t(title) + (dropped ? " (+" + dropped + " " + hwI18n.t("not_listed") + ")" : "")));
  const t = el("table"), hr = el("tr"), tb = el("tbody");
  for (const k of heads) hr.append(el("th", null, hwI18n.t(k)));
  t.append(el("thead"), tb);
  t.tHead.append(hr);
  for (const r of rows) {
    const tr = el("tr");
    tr.dataset.id = r.id;
    for (const v of r.cells) tr.append(el("td", null, v === null || v === undefined || v === "" ? "–" : String(v)));
    tb.append(tr);
  }
  if (!rows.length) {
    const tr = el("tr"), td = el("td", "muted", hwI18n.t("none"));
    td.colSpan = heads.length;
    tr.append(td);
    tb.append(tr);
  }
  w.append(t);
  return w;
}

function detailTables(d) {
  const yes = (b) => hwI18n.t(b ? "yes" : "no");
  const when = (ms) => (ms ? new Date(ms).toLocaleString(hwI18n.lang === "zh" ? "zh-CN" : "en-GB") : "");
  const dr = d.dropped || {};
  return [
    table("list-devices", "devices", ["id", "dev_name", "location", "online", "quality", "active_points"],
      (d.devices || []).map((x) => ({ id: x.id, cells: [x.id, x.name, x.location, yes(x.online), x.quality,
        (x.active || []).join(", ")] })), dr.devices),
    table("list-cameras", "cameras", ["id", "online", "recording", "conditions", "last_snapshot"],
      (d.cameras || []).map((x) => ({ id: x.id, cells: [x.id, yes(x.online), yes(x.recording),
        (x.conditions || []).join(", "), when(x.last_snapshot)] })), dr.cameras),
    table("list-plans", "inspections", ["plan", "last_result", "next_due", "passed", "failed", "missed", "overdue"],
      (d.plans || []).map((x) => ({ id: x.plan, cells: [x.plan, x.last ? hwI18n.t(x.last) : "", when(x.next_due),
        x.passed, x.failed, x.missed, x.overdue] })), dr.plans),
    table("list-tickets", "tickets", ["id", "kind", "target", "state", "deadline"],
      (d.tickets || []).map((x) => ({ id: x.id, cells: [x.id, x.kind, x.target, x.state, when(x.deadline)] })),
      dr.tickets),
    table("list-records", "records", ["time", "event", "subject", "state"],
      (d.records || []).map((x) => ({ id: x.subject, cells: [when(x.t), x.event, x.subject, x.state] })), 0),
  ];
}

function renderDetail(h) {
  document.getElementById("detail-site").textContent = h.site + " · " + hwI18n.t("w_" + h.worst);
  const a = h.alerts || {}, d = h.devices || {}, c = h.cameras || {};
  const i = h.inspections || {}, t = h.tickets || {}, f = h.footage;
  const body = document.getElementById("detail-body");
  body.replaceChildren(
    card(hwI18n.t("alerts_open"), [["alerts_open", a.open || 0], ["faults", h.faults || 0],
      ["w_fire", h.fire ? hwI18n.t("w_fire") : hwI18n.t("none")]]),
    card(hwI18n.t("devices"), [["online", (d.online || 0) + " / " + (d.total || 0)],
      ["available_today", pct(h.today && h.today.device_availability)]]),
    card(hwI18n.t("cameras"), [["online", (c.online || 0) + " / " + (c.total || 0)],
      ["recording", c.recording || 0]]),
    card(hwI18n.t("inspections"), [["passed", i.passed || 0], ["failed", i.failed || 0],
      ["missed", i.missed || 0], ["overdue", i.overdue || 0]]),
    card(hwI18n.t("tickets"), [["open", t.open || 0], ["overdue", t.overdue || 0]]),
    card(hwI18n.t("footage"), f ? [["days_kept", f.min_days_kept.toFixed(1)],
      ["required", f.required_days.toFixed(0)]] : [["footage", "–"]]));
  const dt = cw.detail && cw.detail.site === h.site ? cw.detail.detail : null;
  if (dt) body.append(...detailTables(dt));
  const link = document.getElementById("console-link");
  link.hidden = !h.console;
  if (h.console) link.href = h.console;
}

async function showHall(site) {
  const prev = cw.selected && document.getElementById("tile-" + cw.selected);
  if (prev) prev.classList.remove("sel");
  cw.selected = site;
  const r = await api("/api/v1/halls/" + encodeURIComponent(site));
  if (r.status !== 200) return;
  document.getElementById("detail").hidden = false;
  document.getElementById("patrol-msg").textContent = "";
  cw.patrolShown = null;
  cw.detail = r.body;
  setHall(r.body);
  document.getElementById("detail").scrollIntoView({ block: "nearest" });
}

async function patrol() {
  const msg = document.getElementById("patrol-msg");
  const site = cw.selected;
  msg.className = "";
  msg.textContent = hwI18n.t("patrol_sent");
  cw.patrolShown = null;
  const r = await api("/api/v1/halls/" + encodeURIComponent(site) + "/patrol",
    { method: "POST", body: "{}" });
  showPatrol(site, r.body.reply || r.body);
}

function showPatrol(site, reply) {
  if (site !== cw.selected) return;
  if (reply && reply.ok && cw.records.has(reply.task)) {
    showRecord(cw.records.get(reply.task));
    return;
  }
  const msg = document.getElementById("patrol-msg");
  const ok = reply && reply.ok;
  cw.patrolShown = [(r) => showPatrol(site, r), reply];
  msg.className = ok ? "" : "refused";
  msg.dataset.result = ok ? "ok" : (reply && reply.error) || "error";
  msg.textContent = ok
    ? hwI18n.t("patrol_ok") + (reply.task ? " · " + reply.task : "")
    : hwI18n.t("patrol_refused") + ": " + ((reply && (reply.error + " " + (reply.message || ""))) || "?");
}

function showRecord(rec) {
  if (!rec || rec.plan !== "video_patrol") return;
  cw.records.set(rec.task, rec);
  if (cw.records.size > 100) cw.records.delete(cw.records.keys().next().value);
  if (rec.site !== cw.selected) return;
  cw.patrolShown = [showRecord, rec];
  const msg = document.getElementById("patrol-msg");
  msg.className = "";
  msg.dataset.result = "record";
  msg.textContent = hwI18n.t("patrol_record") + " · " + (rec.task || "") + " · " + (rec.to || "");
}

// ---- the ranking ----

function chart(rows) {
  const NS = "http://www.w3.org/2000/svg";
  const top = rows.slice(0, 20), w = 800, bar = 18, h = top.length * (bar + 4) + 10;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  svg.setAttribute("width", w);
  svg.setAttribute("height", h);
  svg.setAttribute("role", "img");
  top.forEach((r, k) => {
    const y = 5 + k * (bar + 4), len = Math.max(0, Math.min(100, r.score)) / 100 * (w - 220);
    const label = document.createElementNS(NS, "text");
    label.setAttribute("x", 4); label.setAttribute("y", y + bar - 4);
    label.setAttribute("font-size", 13); label.textContent = r.site;
    const rect = document.createElementNS(NS, "rect");
    rect.setAttribute("x", 130); rect.setAttribute("y", y);
    rect.setAttribute("width", len); rect.setAttribute("height", bar);
    rect.setAttribute("fill", r.score >= 90 ? "#5c5c5c" : r.score >= 60 ? "#e87722" : "#c8102e");
    const val = document.createElementNS(NS, "text");
    val.setAttribute("x", 136 + len); val.setAttribute("y", y + bar - 4);
    val.setAttribute("font-size", 13); val.textContent = r.score.toFixed(1);
    svg.append(label, rect, val);
  });
  document.getElementById("rank-chart").replaceChildren(svg);
}

async function loadRanking() {
  const m = document.getElementById("month").value;
  const r = await api("/api/v1/ranking" + (m ? "?month=" + m : ""));
  const rows = r.body.rows || [];
  const tb = document.getElementById("rank-rows");
  tb.replaceChildren(...rows.map((x) => {
    const tr = el("tr");
    for (const v of [x.rank, x.site, x.score.toFixed(1), pct(x.online_rate),
      pct(x.device_availability), pct(x.camera_availability), pct(x.patrol_rate),
      pct(x.footage_ok_rate), x.fire_alarms])
      tr.append(el("td", null, String(v)));
    return tr;
  }));
  document.getElementById("rank-empty").hidden = rows.length > 0;
  chart(rows);
}

// ---- the live feed ----

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host +
    "/api/v1/live");
  cw.ws = ws;
  const state = document.getElementById("live-state");
  ws.onopen = () => {
    cw.liveDelay = 500;
    state.classList.add("on");
    state.dataset.i18n = "live_on";
    state.textContent = hwI18n.t("live_on");
    loadHalls();
  };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "hall") setHall(m.hall);
    else if (m.type === "alarm") addFeed(m.item, true);
    else if (m.type === "rebuilt") loadHalls();
    else if (m.type === "patrol") showPatrol(m.site, m.reply);
    else if (m.type === "record") showRecord(m.record);
  };
  ws.onclose = () => {
    state.classList.remove("on");
    state.dataset.i18n = "live_off";
    state.textContent = hwI18n.t("live_off");
    window.setTimeout(connect, cw.liveDelay);
    cw.liveDelay = Math.min(cw.liveDelay * 2, 10000);
  };
}

function relabel() {
  for (const h of cw.halls.values()) tileFor(h);
  document.getElementById("feed").replaceChildren(...cw.feed.map(feedItem));
  if (cw.patrolShown) cw.patrolShown[0](cw.patrolShown[1]);
  renderSummary();
  if (cw.selected && cw.halls.get(cw.selected)) renderDetail(cw.halls.get(cw.selected));
}

async function init() {
  const r = await api("/api/v1/me");
  cw.me = r.body;
  hwI18n.pick(cw.me.language);
  document.getElementById("who").textContent = cw.me.user + " (" + cw.me.role + ")";
  document.getElementById("patrol").hidden = !(cw.me.role === "operator" || cw.me.role === "admin");
  document.getElementById("patrol").addEventListener("click", patrol);
  document.getElementById("lang-toggle").addEventListener("click", () => {
    hwI18n.toggle();
    relabel();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await api("/api/v1/logout", { method: "POST", body: "{}" });
    window.location.assign("/login");
  });
  document.getElementById("detail-close").addEventListener("click", () => {
    document.getElementById("detail").hidden = true;
    const t = cw.selected && document.getElementById("tile-" + cw.selected);
    if (t) t.classList.remove("sel");
    cw.selected = null;
  });
  const month = document.getElementById("month");
  month.value = new Date().toISOString().slice(0, 7);
  month.addEventListener("change", loadRanking);
  await loadHalls();
  loadRanking();
  connect();
}

document.addEventListener("DOMContentLoaded", init);

// The alerts page: the open alerts by priority and state (acknowledge, shelve with a reason,
// unshelve; the router's reply shown as it is, a refusal with its reason) and the history.
"use strict";

let alList = [];

function alMessage(text, refused, key) {
  const m = document.getElementById("alerts-msg");
  m.textContent = key ? hwI18n.t(key) : text || "";
  if (key) m.dataset.i18n = key; // a word of ours follows the language; the router's does not
  else delete m.dataset.i18n;
  m.classList.toggle("refused", !!refused);
}

async function alAct(verb, id, body) {
  const r = await hw.api("POST", "alerts/" + encodeURIComponent(id) + "/" + verb, body);
  if (r.data.message || !r.ok) alMessage(r.data.message || r.data.error, !r.ok);
  else alMessage("", false, "done");
  if (r.ok && r.data.alert) hw.open.set(id, Object.assign(hw.open.get(id) || {}, r.data.alert));
  await alLoad();
}

function alDraw() {
  const fp = document.getElementById("f-priority").value;
  const fs = document.getElementById("f-state").value;
  const rows = document.getElementById("alert-rows");
  const shown = alList
    .filter((a) => (!fp || String(a.priority) === fp) && (!fs || a.state === fs))
    .sort((a, b) => a.priority - b.priority || (b.raised || 0) - (a.raised || 0));
  rows.replaceChildren();
  for (const a of shown) {
    const tr = hw.el("tr", "p" + a.priority + " " + a.state);
    tr.dataset.id = a.id;
    const act = hw.el("td", "actions");
    if (a.state === "unack" || a.state === "rtn_unack") {
      const b = hw.el("button", "ack", hwI18n.t("ack"));
      b.addEventListener("click", () => alAct("ack", a.id));
      act.append(b);
    }
    if (a.state === "shelved") {
      const b = hw.el("button", "unshelve", hwI18n.t("unshelve"));
      b.addEventListener("click", () => alAct("unshelve", a.id));
      act.append(b);
    } else {
      const b = hw.el("button", "shelve", hwI18n.t("shelve"));
      b.addEventListener("click", () => alShelve(a.id));
      act.append(b);
    }
    tr.append(hw.el("td", "prio", "P" + a.priority), hw.el("td", "", a.id),
              hw.el("td", "state", hw.stateWord(a.state)),
              hw.el("td", "", hw.time(a.raised || a.since || 0)), act);
    rows.append(tr);
  }
  document.getElementById("no-alerts").hidden = shown.length > 0;
}

function alShelve(id) {
  const d = document.getElementById("shelve-dialog");
  document.getElementById("shelve-id").textContent = id;
  document.getElementById("shelve-reason").value = "";
  d.dataset.id = id;
  d.showModal();
}

async function alLoad() {
  const r = await hw.api("GET", "alerts");
  if (!r.ok) return;
  alList = (r.data.alerts || []).map((a) => Object.assign({}, a, {
    raised: a.raised || a.since || (hw.open.get(a.id) || {}).raised,
  }));
  hw.setAlerts(alList);
  alDraw();
}

async function alHistory() {
  const q = new URLSearchParams();
  const dev = document.getElementById("h-device").value.trim();
  const pr = document.getElementById("h-priority").value;
  const since = document.getElementById("h-since").value;
  if (dev) q.set("device", dev);
  if (pr) q.set("priority", pr);
  if (since) q.set("since", String(new Date(since + "T00:00:00").getTime()));
  q.set("limit", document.getElementById("h-limit").value);
  const r = await hw.api("GET", "alerts/history?" + q.toString());
  const rows = document.getElementById("history-rows");
  rows.replaceChildren();
  // The pages' own reads (list, history) are audited too; the history shows what changed.
  // The verb answers oldest first; the table shows the newest on top.
  const events = (r.ok ? r.data.events || [] : []).slice().reverse()
    .filter((e) => !(e.event === "command" && (e.verb === "list" || e.verb === "history")) &&
                   e.event !== "commands_unrecorded");
  for (const e of events) {
    const tr = hw.el("tr", e.priority ? "p" + e.priority : "");
    tr.append(hw.el("td", "", hw.time(e.t)),
              hw.el("td", "", e.event === "command" ? e.event + " " + e.verb : e.event),
              hw.el("td", "", e.id || ""),
              hw.el("td", "prio", e.priority ? "P" + e.priority : ""),
              hw.el("td", "", e.state ? hw.stateWord(e.state) : (e.result || "")),
              hw.el("td", "", e.by || ""), hw.el("td", "", e.reason || e.message || ""));
    rows.append(tr);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("f-priority").addEventListener("change", alDraw);
  document.getElementById("f-state").addEventListener("change", alDraw);
  document.getElementById("history-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    alHistory();
  });
  const d = document.getElementById("shelve-dialog");
  document.getElementById("shelve-cancel").addEventListener("click", () => d.close());
  document.getElementById("shelve-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const reason = document.getElementById("shelve-reason").value.trim();
    if (!reason) return;
    d.close();
    alAct("shelve", d.dataset.id, { reason, for: Number(document.getElementById("shelve-for").value) });
  });
  hw.onLive((m) => {
    if (m.type === "alert" || m.type === "reload") alLoad();
    if (m.type === "language") { alDraw(); alHistory(); }
  });
  await hw.init("alerts");
  await alLoad();
  await alHistory();
});

// The overview: is the hall safe? Fire panels, emergency lighting, cameras with their
// latest snapshot, open alerts by priority. Reads /api/v1/state/overview, then the live feed.
"use strict";

let ovState = null;

function ovDeviceCard(d) {
  const c = hw.el("div", "card");
  c.id = "dev-" + d.id;
  const fire = d.on.some((p) => p.class === "fire");
  if (fire) c.classList.add("alarm");
  else if (d.quality !== "good") c.classList.add("lost");
  else if (d.on.length) c.classList.add("fault");
  c.append(hw.el("h3", "", d.id));
  c.append(hw.el("div", "", hwI18n.t("quality") + ": " + hwI18n.t("q_" + d.quality)));
  const on = d.on.map((p) => p.point + " (" + hwI18n.t("k_" + p.class) + ")");
  c.append(hw.el("div", on.length ? "" : "muted",
                 hwI18n.t("alarms_on") + ": " + (on.length ? on.join(", ") : hwI18n.t("none"))));
  return c;
}

function ovCameraCard(cam) {
  const c = hw.el("div", "card");
  c.id = "cam-" + cam.id;
  if (!cam.online) c.classList.add("lost");
  else if (cam.conditions.length) c.classList.add("fault");
  c.append(hw.el("h3", "", cam.id));
  if (cam.last_snapshot) {
    const img = hw.el("img");
    img.alt = cam.id;
    img.src = "/api/v1/cameras/" + encodeURIComponent(cam.id) + "/snapshot?t=" + cam.last_snapshot;
    img.addEventListener("error", () => img.replaceWith(hw.el("div", "nopic", hwI18n.t("no_picture"))));
    c.append(img);
  } else {
    c.append(hw.el("div", "nopic", hwI18n.t("no_picture")));
  }
  c.append(hw.el("div", "", hwI18n.t(cam.online ? "online" : "offline") + " · " +
                 hwI18n.t(cam.recording ? "recording" : "not_recording")));
  if (cam.conditions.length) c.append(hw.el("div", "", cam.conditions.join(", ")));
  return c;
}

function ovDraw() {
  const s = ovState;
  if (!s) return;
  // The open alerts come from the live feed once it runs (hw.open), else the overview.
  const alerts = [...hw.open.values()].sort((a, b) => a.priority - b.priority || b.raised - a.raised);
  const panels = s.devices.filter((d) => d.kind === "fire_panel");
  const lights = s.devices.filter((d) => d.kind === "emergency_lighting");
  const urgent = alerts.some((a) => a.priority <= 2 && a.state !== "shelved" && a.state !== "out_of_service");
  const blind = panels.concat(lights).some((d) => d.quality !== "good");
  const hs = document.getElementById("hall-state");
  const safe = !urgent && !blind;
  hs.className = safe ? "safe" : "unsafe";
  hs.dataset.i18n = safe ? "hall_safe" : "hall_unsafe";
  hs.textContent = hwI18n.t(hs.dataset.i18n);

  const counts = document.getElementById("alert-counts");
  counts.replaceChildren();
  for (let p = 1; p <= 5; p++) {
    const n = alerts.filter((a) => a.priority === p).length;
    counts.append(hw.el("span", "count", "P" + p + ": " + n));
  }
  const rows = document.getElementById("alert-rows");
  rows.replaceChildren();
  for (const a of alerts) {
    const tr = hw.el("tr", "p" + a.priority + " " + a.state);
    tr.dataset.id = a.id;
    tr.append(hw.el("td", "prio", "P" + a.priority), hw.el("td", "", a.id),
              hw.el("td", "state", hw.stateWord(a.state)),
              hw.el("td", "", hw.time(a.raised)));
    rows.append(tr);
  }
  const fill = (id, cards) => document.getElementById(id).replaceChildren(
    ...(cards.length ? cards : [hw.el("p", "muted", hwI18n.t("none"))]));
  fill("fire-panels", panels.map(ovDeviceCard));
  fill("lighting", lights.map(ovDeviceCard));
  fill("cameras", s.cameras.map(ovCameraCard));
  document.getElementById("no-open").hidden = alerts.length > 0;
}

async function ovLoad() {
  const r = await hw.api("GET", "state/overview");
  if (!r.ok) return;
  ovState = r.data;
  if (hw.open.size === 0) hw.setAlerts(r.data.alerts);
  ovDraw();
}

document.addEventListener("DOMContentLoaded", async () => {
  hw.onLive((m) => {
    if (m.type === "reload") { ovLoad(); return; }
    if (m.type === "device" && ovState) {
      const i = ovState.devices.findIndex((d) => d.id === m.summary.id);
      if (i >= 0) ovState.devices[i] = m.summary;
    }
    if (m.type === "camera" && ovState) {
      const c = m.camera, i = ovState.cameras.findIndex((x) => x.id === c.camera);
      if (i >= 0) {
        ovState.cameras[i] = {
          id: c.camera, online: c.online, recording: c.recording,
          conditions: Object.keys(c.conditions || {}).filter((k) => c.conditions[k].active),
          last_snapshot: c.last_snapshot || 0,
        };
      }
    }
    ovDraw();
  });
  await hw.init("overview");
  await ovLoad();
});

// What is due or overdue today (cmd/tasks): tasks not over whose due time is before the end
// of today, the overdue ones first.
async function ovDue() {
  const r = await hw.api("GET", "tasks");
  const rows = document.getElementById("due-rows"), msg = document.getElementById("due-msg");
  rows.replaceChildren();
  if (!r.ok) {
    msg.textContent = hwI18n.t("unavailable") + ": " + (r.data.message || r.data.error || r.status);
    return;
  }
  const end = new Date(); end.setHours(24, 0, 0, 0);
  const now = Date.now();
  const due = (r.data.tasks || []).filter((t) => t.due < end.getTime())
    .sort((a, b) => a.due - b.due);
  for (const t of due) {
    const late = t.overdue_at && t.overdue_at <= now;
    const tr = hw.el("tr", late ? "p3" : "");
    tr.dataset.task = t.task;
    tr.append(hw.el("td", "", t.plan + " · " + hwI18n.t("k_" + t.kind)), hw.el("td", "", t.target),
              hw.el("td", late ? "prio" : "", late ? hwI18n.t("overdue") : hwI18n.t("t_" + t.state)),
              hw.el("td", "", hw.time(t.due)));
    rows.append(tr);
  }
  msg.textContent = due.length ? "" : hwI18n.t("nothing_due");
}

document.addEventListener("DOMContentLoaded", () => {
  hw.onLive((m) => { if (m.type === "reload" || m.type === "language") ovDue(); });
  window.setTimeout(ovDue, 0);
  window.setInterval(ovDue, 60000);
});

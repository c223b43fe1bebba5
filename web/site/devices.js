// Devices: every point with its value, quality and time (GET /api/v1/devices, then the live
// feed), and a chart of a numeric point from the gateway's local history
// (GET /api/v1/devices/<id>/history: minutes with min, avg and max) drawn with Chart.js.
"use strict";

const dv = { devices: new Map(), chart: null, opened: new Set() };

function dvNumeric(p) { return typeof p.v === "number"; }

function dvTable(d) {
  // A device is a fold: its summary says whether it is well; open, its points.
  const sec = hw.el("details", "device");
  sec.id = "device-" + d.device;
  const pts = Object.values(d.points || {});
  const bad = pts.filter((p) => p.q !== "good").length;
  const h = hw.el("summary", "", d.device + " · " + hwI18n.t(d.online ? "online" : "offline") +
                  " · " + hwI18n.t("quality") + ": " + hwI18n.t("q_" + d.quality) + " · " +
                  pts.length + " " + hwI18n.t("points") + (bad ? " (" + bad + " " + hwI18n.t("not_good") + ")" : ""));
  if (!d.online || d.quality !== "good") sec.classList.add("lost");
  sec.open = dv.opened.has(d.device);
  sec.addEventListener("toggle", () => {
    if (sec.open) dv.opened.add(d.device); else dv.opened.delete(d.device);
  });
  sec.append(h);
  const t = hw.el("table");
  const head = hw.el("tr");
  for (const k of ["point", "value", "quality", "time"]) head.append(hw.el("th", "", hwI18n.t(k)));
  t.append(hw.el("thead"));
  t.tHead.append(head);
  const body = hw.el("tbody");
  for (const [key, p] of Object.entries(d.points || {})) {
    const tr = hw.el("tr", p.q === "good" ? "" : "badq");
    tr.dataset.point = key;
    const v = p.v === null || p.v === undefined ? "—" : String(p.v) + (p.unit ? " " + p.unit : "");
    const name = p.name ? key + " (" + p.name + ")" : key;
    const cell = hw.el("td", "");
    if (dvNumeric(p)) {
      const b = hw.el("button", "link", name);
      b.type = "button";
      b.addEventListener("click", () => dvPick(d.device, key));
      cell.append(b);
    } else {
      cell.textContent = name;
    }
    tr.append(cell, hw.el("td", "", p.label ? v + " · " + p.label : v),
              hw.el("td", "", hwI18n.t("q_" + p.q)), hw.el("td", "", hw.time(p.t)));
    body.append(tr);
  }
  t.append(body);
  sec.append(t);
  return sec;
}

function dvDraw() {
  document.getElementById("devices").replaceChildren(...[...dv.devices.values()].map(dvTable));
  const sel = document.getElementById("h-device"), keep = sel.value;
  sel.replaceChildren(...[...dv.devices.keys()].map((id) => {
    const o = hw.el("option", "", id); o.value = id; return o;
  }));
  if (keep && dv.devices.has(keep)) {
    sel.value = keep;
  } else {
    // First a measured quantity (a unit that is not a time): a battery voltage, a current.
    for (const [id, d] of dv.devices) {
      if (Object.values(d.points || {}).some(dvMeasured)) { sel.value = id; break; }
    }
  }
  dvPoints();
}

function dvMeasured(p) {
  return dvNumeric(p) && p.unit && !["s", "ms", "min", "h"].includes(p.unit);
}

function dvPoints() {
  const d = dv.devices.get(document.getElementById("h-device").value);
  const sel = document.getElementById("h-point"), keep = sel.value;
  const keys = d ? Object.keys(d.points || {}).filter((k) => dvNumeric(d.points[k])) : [];
  sel.replaceChildren(...keys.map((k) => { const o = hw.el("option", "", k); o.value = k; return o; }));
  // A measured quantity (one with a unit) draws a more telling first chart than a state.
  if (keys.includes(keep)) sel.value = keep;
  else if (d) sel.value = keys.find((k) => dvMeasured(d.points[k])) || keys[0] || "";
}

function dvPick(device, point) {
  document.getElementById("h-device").value = device;
  dvPoints();
  document.getElementById("h-point").value = point;
  dvChart();
}

async function dvChart() {
  const device = document.getElementById("h-device").value;
  const point = document.getElementById("h-point").value;
  const msg = document.getElementById("h-msg");
  if (!device || !point) { msg.textContent = hwI18n.t("no_numeric"); return; }
  const hours = Number(document.getElementById("h-range").value);
  const to = Date.now(), from = to - hours * 3600000;
  // Ticks on round times: 10 min for an hour, 1 h for 8, 3 h for a day, a day for a week.
  const step = { 1: 600000, 8: 3600000, 24: 10800000, 168: 86400000 }[hours] || 3600000;
  const r = await hw.api("GET", "devices/" + encodeURIComponent(device) + "/history?point=" +
                         encodeURIComponent(point) + "&from=" + from + "&to=" + to);
  if (!r.ok) { msg.textContent = r.data.message || String(r.status); return; }
  const s = r.data.samples;
  msg.textContent = s.length + " " + hwI18n.t("minutes");
  const xy = (i) => s.map((x) => ({ x: x[0], y: x[i] }));
  const data = {
    datasets: [
      { label: "max", data: xy(3), borderColor: "#8a8a8a", pointRadius: 0, borderWidth: 1, fill: false },
      { label: "avg", data: xy(2), borderColor: "#1f4e79", pointRadius: s.length < 60 ? 2 : 0, borderWidth: 2 },
      { label: "min", data: xy(1), borderColor: "#8a8a8a", pointRadius: 0, borderWidth: 1,
        fill: "-2", backgroundColor: "rgba(31,78,121,0.10)" },
    ],
  };
  const canvas = document.getElementById("h-chart");
  if (dv.chart) dv.chart.destroy();
  dv.chart = new window.Chart(canvas, {
    type: "line", data,
    options: {
      animation: false, parsing: false, maintainAspectRatio: false,
      scales: { x: { type: "linear", min: Math.floor(from / step) * step, max: Math.ceil(to / step) * step,
                     ticks: { stepSize: step, callback: (v) => new Date(v).toLocaleTimeString(hwI18n.lang === "zh" ? "zh-CN" : "en-GB", hours > 24 ? { month: "numeric", day: "numeric" } : { hour: "2-digit", minute: "2-digit" }) } } },
      plugins: { title: { display: true, text: device + " · " + point } },
    },
  });
  canvas.dataset.points = String(s.length);
}

async function dvLoad() {
  const r = await hw.api("GET", "devices");
  if (!r.ok) return;
  dv.devices = new Map(r.data.devices.map((d) => [d.device, d]));
  dvDraw();
}

document.addEventListener("DOMContentLoaded", async () => {
  hw.onLive((m) => {
    if (m.type === "reload") { dvLoad(); return; }
    if (m.type === "language") { dvDraw(); dvChart(); return; }
    if (m.type === "device" && m.device && m.device.device) {
      dv.devices.set(m.device.device, m.device);
      const old = document.getElementById("device-" + m.device.device);
      if (old) old.replaceWith(dvTable(m.device));
    }
  });
  for (const id of ["h-device", "h-point", "h-range"]) {
    document.getElementById(id).addEventListener("change", () => {
      if (id === "h-device") dvPoints();
      dvChart();
    });
  }
  await hw.init("devices");
  await dvLoad();
  await dvChart();
  window.setInterval(dvChart, 60000);
});

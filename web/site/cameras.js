// Cameras: health of each (online, fps, conditions, recording), a picture refreshed live
// (/api/v1/cameras/<id>/snapshot), the recordings of a day as a timeline with its gaps
// (GET /api/v1/cameras/<id>/recordings, cmd/recordings), playback from any moment of it
// (the segment's MP4 under /media/recordings/, read with Range requests) and the export of
// a clip (POST /api/v1/cameras/<id>/clip, cmd/clip, then a download from /media/clips/).
"use strict";

const cm = { cams: new Map(), sel: null, items: [], dayStart: 0 };
const CM_PIC_MS = 5000;

function cmTakes() { return hw.me && (hw.me.role === "operator" || hw.me.role === "admin"); }

function cmBase(p) { return p.split("/").pop(); }

function cmCard(c) {
  const card = hw.el("div", "card");
  card.id = "cam-" + c.camera;
  const conds = Object.keys(c.conditions || {}).filter((k) => c.conditions[k].active);
  if (!c.online) card.classList.add("lost");
  else if (conds.length) card.classList.add("fault");
  if (cm.sel === c.camera) card.classList.add("chosen");
  card.append(hw.el("h3", "", c.camera + (c.name ? " · " + c.name : "")));
  // An operator's request takes a new picture (cmd/snapshot); anyone else sees the newest
  // one taken, when there is one.
  if (cmTakes() ? c.online : c.last_snapshot) {
    const img = hw.el("img");
    img.alt = c.camera;
    img.dataset.camera = c.camera;
    img.addEventListener("error", () => { img.hidden = true; });
    img.addEventListener("load", () => { img.hidden = false; });
    img.src = "/api/v1/cameras/" + encodeURIComponent(c.camera) + "/snapshot?t=" + Date.now();
    card.append(img);
  } else {
    card.append(hw.el("div", "nopic", hwI18n.t("no_picture")));
  }
  card.append(hw.el("div", "", hwI18n.t(c.online ? "online" : "offline") + " · " +
                    hwI18n.t(c.recording ? "recording" : "not_recording")));
  if (c.online && c.width)
    card.append(hw.el("div", "muted", c.width + "×" + c.height +
                      (c.fps ? " · " + c.fps.toFixed(1) + " fps" : "") +
                      (c.bitrate_kbps ? " · " + c.bitrate_kbps.toFixed(0) + " kbit/s" : "")));
  if (conds.length) card.append(hw.el("div", "", conds.map((k) => hwI18n.t("c_" + k)).join(", ")));
  const b = hw.el("button", "", hwI18n.t("recordings"));
  b.type = "button";
  b.dataset.camera = c.camera;
  b.addEventListener("click", () => cmSelect(c.camera));
  card.append(b);
  return card;
}

function cmDraw() {
  document.getElementById("cameras").replaceChildren(
    ...(cm.cams.size ? [...cm.cams.values()].map(cmCard) : [hw.el("p", "muted", hwI18n.t("none"))]));
}

function cmPictures() {
  if (!cmTakes()) { cmDraw(); return; }
  document.querySelectorAll("#cameras img").forEach((img) => {
    img.src = "/api/v1/cameras/" + encodeURIComponent(img.dataset.camera) + "/snapshot?t=" + Date.now();
  });
}

function cmDayInput() {
  const d = new Date();
  const p = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate());
}

async function cmSelect(id) {
  if (cm.sel !== id) cm.playing = null;
  cm.sel = id;
  document.getElementById("rec").hidden = false;
  document.getElementById("rec-cam").textContent = id;
  cmDraw();
  await cmRecordings();
}

async function cmRecordings() {
  const day = document.getElementById("rec-day").value || cmDayInput();
  const start = new Date(day + "T00:00:00").getTime();
  cm.dayStart = start;
  const end = Math.min(start + 86400000, Date.now());
  const tl = document.getElementById("timeline"), msg = document.getElementById("rec-msg");
  tl.replaceChildren();
  if (end <= start) { msg.textContent = hwI18n.t("none"); return; }
  const r = await hw.api("GET", "cameras/" + encodeURIComponent(cm.sel) + "/recordings?from=" +
                         Math.floor(start / 1000) + "&to=" + Math.ceil(end / 1000));
  if (!r.ok) { msg.textContent = r.data.message || r.data.error || String(r.status); return; }
  cm.items = r.data.items || [];
  let segs = 0, gaps = 0;
  for (const it of cm.items) if (it.gap) gaps++; else segs++;
  cmBar(tl, start, 86400000);
  // The hour below: the one of the newest recording (a click on the day moves it).
  const newest = cm.items.filter((it) => !it.gap).pop();
  cmHour(newest ? newest.end - 1 : end - 1);
  msg.textContent = segs + " " + hwI18n.t("segments") + " · " + gaps + " " + hwI18n.t("gaps") +
    " · " + hwI18n.t("click_to_play");
}

// Draws the items over [start, start + span) in bar.
function cmBar(bar, start, span) {
  bar.replaceChildren();
  for (const it of cm.items) {
    const a = Math.max(it.start, start), z = Math.min(it.end, start + span);
    if (z <= a) continue;
    const div = hw.el("div", it.gap ? "gap" : (it.open ? "seg open" : "seg"));
    div.style.left = ((a - start) * 100 / span) + "%";
    div.style.width = Math.max(0.05, (z - a) * 100 / span) + "%";
    div.title = hw.time(it.start) + " – " + hw.time(it.end);
    bar.append(div);
  }
}

function cmHour(t) {
  cm.hourStart = Math.floor(t / 3600000) * 3600000;
  cmBar(document.getElementById("timeline-hour"), cm.hourStart, 3600000);
  const sc = document.getElementById("hour-scale");
  const hm = (ms) => new Date(ms).toLocaleTimeString(hwI18n.lang === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" });
  sc.replaceChildren(...[0, 15, 30, 45, 60].map((m) => hw.el("span", "", hm(cm.hourStart + m * 60000))));
}

// Plays the recording at t (Unix ms): the closed segment holding it, from that moment.
function cmPlayAt(t) {
  // The closed segment holding t, else the nearest one (a pixel of the day is 70 s).
  const closed = cm.items.filter((it) => !it.gap && it.path && !it.open);
  const dist = (it) => (t < it.start ? it.start - t : t >= it.end ? t - it.end : 0);
  const seg = closed.reduce((best, it) => (!best || dist(it) < dist(best) ? it : best), null);
  if (!seg) { document.getElementById("rec-msg").textContent = hwI18n.t("nothing_there"); return; }
  cmPlay(seg, seg.start <= t && t < seg.end ? (t - seg.start) / 1000 : 0);
}

// Plays segment seg from off seconds into it.
function cmPlay(seg, off) {
  const v = document.getElementById("player");
  const src = "/media/recordings/" + encodeURIComponent(cm.sel) + "/" + encodeURIComponent(cmBase(seg.path));
  cm.playing = seg;
  v.dataset.segment = cmBase(seg.path);
  const go = () => { v.currentTime = off; v.play().catch(() => {}); };
  if (v.getAttribute("src") !== src) {
    v.src = src;
    v.addEventListener("loadedmetadata", go, { once: true });
  } else {
    go();
  }
  document.getElementById("rec-msg").textContent = hwI18n.t("playing") + " " + hw.time(seg.start + off * 1000);
  const d = new Date(seg.start + off * 1000);
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  document.getElementById("clip-from").value = d.toISOString().slice(0, 19);
}

// The closed segment after the one playing, if known.
function cmNext() {
  const p = cm.playing;
  return p && cm.items.find((it) => !it.gap && it.path && !it.open && it.start >= p.end - 1000 &&
                           it.path !== p.path) || null;
}

// At the end of a segment playback goes on with the next one, as a recorder's timeline
// does; the list is asked again once when the next one was still being written.
async function cmEnded() {
  if (!cm.playing) return;
  let next = cmNext();
  if (!next) {
    const was = cm.playing;
    await cmRecordings();
    cm.playing = was;
    next = cmNext();
  }
  if (next) cmPlay(next, 0);
  else { cm.playing = null; document.getElementById("rec-msg").textContent = hwI18n.t("end_of_recordings"); }
}

async function cmClip() {
  const from = new Date(document.getElementById("clip-from").value).getTime();
  const len = Number(document.getElementById("clip-len").value);
  const msg = document.getElementById("clip-msg");
  if (!from || !len) { msg.textContent = hwI18n.t("clip_needs"); return; }
  msg.className = "muted";
  msg.textContent = hwI18n.t("working");
  const r = await hw.api("POST", "cameras/" + encodeURIComponent(cm.sel) + "/clip",
                         { from: Math.floor(from / 1000), to: Math.floor(from / 1000) + len, partial: true });
  if (!r.ok) {
    msg.className = "error";
    msg.textContent = r.data.message || r.data.error || String(r.status);
    return;
  }
  const a = hw.el("a", "", hwI18n.t("download") + " " + cmBase(r.data.path));
  a.href = "/media/clips/" + encodeURIComponent(cmBase(r.data.path)) + "?download=1";
  a.id = "clip-link";
  msg.className = "";
  msg.replaceChildren(a);
  if (r.data.missing) msg.append(hw.el("span", "muted", " · " + r.data.missing));
}

async function cmLoad() {
  const r = await hw.api("GET", "cameras");
  if (!r.ok) return;
  cm.cams = new Map(r.data.cameras.map((c) => [c.camera, c]));
  cmDraw();
}

document.addEventListener("DOMContentLoaded", async () => {
  hw.onLive((m) => {
    if (m.type === "reload") { cmLoad(); return; }
    if (m.type === "language") { cmDraw(); if (cm.sel) cmRecordings(); return; }
    if (m.type === "camera" && m.camera) {
      const old = cm.cams.get(m.camera.camera);
      cm.cams.set(m.camera.camera, m.camera);
      if (!old || old.online !== m.camera.online || old.recording !== m.camera.recording ||
          JSON.stringify(old.conditions) !== JSON.stringify(m.camera.conditions)) cmDraw();
    }
  });
  document.getElementById("rec-day").value = cmDayInput();
  document.getElementById("rec-day").addEventListener("change", cmRecordings);
  document.getElementById("timeline").addEventListener("click", (e) => {
    const box = e.currentTarget.getBoundingClientRect();
    const t = cm.dayStart + ((e.clientX - box.left) / box.width) * 86400000;
    cmHour(t);
    cmPlayAt(t);
  });
  document.getElementById("timeline-hour").addEventListener("click", (e) => {
    const box = e.currentTarget.getBoundingClientRect();
    cmPlayAt(cm.hourStart + ((e.clientX - box.left) / box.width) * 3600000);
  });
  document.getElementById("clip-go").addEventListener("click", cmClip);
  document.getElementById("player").addEventListener("ended", cmEnded);
  await hw.init("cameras");
  await cmLoad();
  window.setInterval(cmPictures, CM_PIC_MS);
  const first = [...cm.cams.keys()][0];
  if (first) await cmSelect(first);
});

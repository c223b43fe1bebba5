// What every page of the console shares: the session (me, CSRF), the API, the header, the
// live feed (/api/v1/live) and the fire alarm banner with its sound and Silence button.
"use strict";

const hw = {
  me: null,
  open: new Map(),   // the open alerts by id, as the live feed and the API told them
  listeners: [],     // page functions called with each live message
  silenced: false,   // this page's choice: the beep stops, the banner stays
  audio: null,
  beepTimer: null,
  liveDelay: 500,

  async api(method, path, body) {
    const opt = { method, credentials: "same-origin", headers: {} };
    if (method !== "GET") {
      opt.headers["X-CSRF-Token"] = hw.me ? hw.me.csrf : "";
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body || {});
    }
    const r = await fetch("/api/v1/" + path, opt);
    if (r.status === 401) {
      window.location.assign("/login");
      throw new Error("no session");
    }
    let data = {};
    try { data = await r.json(); } catch (e) { data = {}; }
    return { status: r.status, ok: r.ok && data.ok !== false, data };
  },

  el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  },

  time(ms) {
    if (!ms) return "";
    return new Date(ms).toLocaleString(hwI18n.lang === "zh" ? "zh-CN" : "en-GB");
  },

  stateWord(s) { return hwI18n.t("s_" + s); },

  onLive(fn) { hw.listeners.push(fn); },

  // ---- the fire alarm banner ----
  needsAlarm(a) {
    return a.priority === 1 && (a.active || a.state === "unack" || a.state === "rtn_unack");
  },
  needsSound(a) {
    return a.priority === 1 && (a.state === "unack" || a.state === "rtn_unack");
  },
  drawBanner() {
    const b = document.getElementById("alarm-banner");
    const alarms = [...hw.open.values()].filter(hw.needsAlarm);
    const text = document.getElementById("alarm-text");
    b.classList.toggle("on", alarms.length > 0);
    b.dataset.alerts = alarms.map((a) => a.id).join(" ");
    text.textContent = alarms.length
      // the sentence people read (names and locations, in the site's language), else the id
      ? alarms.map((a) => a.message || hwI18n.t("fire_alarm") + ": " + a.id).join(", ")
      : "";
    const sound = [...hw.open.values()].some(hw.needsSound) && !hw.silenced;
    document.getElementById("alarm-silence").textContent =
      hwI18n.t(hw.silenced ? "silenced" : "silence");
    hw.sound(sound);
  },
  sound(on) {
    if (!on) {
      if (hw.beepTimer) window.clearInterval(hw.beepTimer);
      hw.beepTimer = null;
      return;
    }
    if (hw.beepTimer) return;
    const beep = () => {
      try {
        // The context exists once the person touched the page (browsers allow sound only
        // then): made at alarm time it could also hold the page while the audio device opens.
        if (!hw.audio || hw.audio.state !== "running") return;
        const o = hw.audio.createOscillator(), g = hw.audio.createGain();
        o.frequency.value = 880;
        g.gain.value = 0.2;
        o.connect(g).connect(hw.audio.destination);
        o.start();
        o.stop(hw.audio.currentTime + 0.35);
      } catch (e) { /* no audio device: the banner still shows */ }
    };
    beep();
    hw.beepTimer = window.setInterval(beep, 1000);
  },

  setAlerts(list) {
    hw.open.clear();
    for (const a of list) hw.open.set(a.id, a);
    hw.drawBanner();
  },

  // ---- the live feed ----
  connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") +
                             location.host + "/api/v1/live");
    hw.ws = ws;
    const dot = document.getElementById("live-state");
    ws.onopen = () => {
      hw.liveDelay = 500;
      dot.classList.add("on");
      dot.textContent = hwI18n.t("live_on");
      dot.dataset.i18n = "live_on";
    };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.type === "alert") {
        if (m.removed) hw.open.delete(m.alert.id);
        else hw.open.set(m.alert.id, m.alert);
        hw.drawBanner();
      }
      for (const fn of hw.listeners) fn(m);
    };
    ws.onclose = () => {
      dot.classList.remove("on");
      dot.textContent = hwI18n.t("live_off");
      dot.dataset.i18n = "live_off";
      window.setTimeout(() => hw.connect(), hw.liveDelay);
      hw.liveDelay = Math.min(hw.liveDelay * 2, 10000);
    };
  },

  // Every page but the login: the session, the header, the live feed, the open alerts.
  async init(page) {
    const r = await hw.api("GET", "me");
    hw.me = r.data;
    hwI18n.pick(hw.me.language);
    document.getElementById("who").textContent =
      hw.me.user + " · " + hw.me.role;
    document.getElementById("site-name").textContent = hw.me.site.name;
    document.querySelectorAll("nav a").forEach((a) => {
      a.classList.toggle("here", a.dataset.page === page);
    });
    document.getElementById("lang-toggle").addEventListener("click", () => {
      hwI18n.toggle();
      hw.drawBanner();
      for (const fn of hw.listeners) fn({ type: "language" });
    });
    document.getElementById("logout").addEventListener("click", async () => {
      await hw.api("POST", "logout");
      window.location.assign("/login");
    });
    document.getElementById("alarm-silence").addEventListener("click", () => {
      hw.silenced = true;
      hw.drawBanner();
    });
    const unlock = () => {
      if (!hw.audio && window.AudioContext) hw.audio = new window.AudioContext();
      if (hw.audio && hw.audio.state === "suspended") hw.audio.resume();
    };
    window.addEventListener("pointerdown", unlock, { capture: true });
    window.addEventListener("keydown", unlock, { capture: true });
    hw.connect();
    const al = await hw.api("GET", "alerts");
    if (al.ok) hw.setAlerts(al.data.alerts || []);
  },
};

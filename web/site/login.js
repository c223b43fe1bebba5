// The login page: the only page that works without a session.
"use strict";

async function hwLoginInit() {
  let site = "zh";
  try {
    const r = await fetch("/api/v1/health", { credentials: "same-origin" });
    if (r.ok) site = (await r.json()).language || site;
  } catch (e) { /* the form works without it */ }
  hwI18n.pick(site);
  document.getElementById("lang-toggle").addEventListener("click", () => hwI18n.toggle());
  document.getElementById("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("login-error");
    err.textContent = "";
    const r = await fetch("/api/v1/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        user: document.getElementById("login-user").value,
        password: document.getElementById("login-password").value,
      }),
    });
    if (r.ok) {
      window.location.assign("/");
      return;
    }
    err.textContent = hwI18n.t(r.status === 429 ? "too_many" : "login_failed");
  });
}

document.addEventListener("DOMContentLoaded", hwLoginInit);

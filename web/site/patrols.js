// Patrols and tests: the tasks not over (cmd/tasks) with their actions and checklists to
// fill (cmd/task, cmd/checklist), a video patrol run now (cmd/patrol), the records with
// their pictures and clips and the inspector's review (cmd/records, cmd/review), the
// tickets and their workflow (cmd/tickets, cmd/ticket) and the monthly report (cmd/report).
// A verb this gateway lacks answers unknown_verb: its part says so and the rest works.
"use strict";

const pt = { plans: [], tasks: [], clTask: null };
const PT_TICKET_NEXT = {
  open: ["assign", "start"], assigned: ["start"], in_progress: ["repaired"],
  repaired: ["verify"], verified: ["close"], closed: ["reopen"],
};

function ptSay(id, r) {
  const m = document.getElementById(id);
  m.className = r.ok ? "muted" : (r.data.error === "unknown_verb" ? "muted" : "error");
  m.textContent = r.ok ? hwI18n.t("done") : (r.data.error === "unknown_verb"
    ? hwI18n.t("not_on_gateway") + " (" + (r.data.message || r.data.error) + ")"
    : (r.data.message || r.data.error || String(r.status)));
}

function ptButton(label, fn) {
  const b = hw.el("button", "", hwI18n.t(label));
  b.type = "button";
  b.dataset.action = label;
  b.addEventListener("click", fn);
  return b;
}

async function ptTasks() {
  const r = await hw.api("GET", "tasks");
  const rows = document.getElementById("task-rows");
  rows.replaceChildren();
  if (!r.ok) { ptSay("tasks-msg", r); return; }
  pt.tasks = r.data.tasks || [];
  pt.plans = r.data.plans || [];
  const sel = document.getElementById("patrol-plan"), keep = sel.value;
  sel.replaceChildren(...pt.plans.map((p) => {
    const id = p.plan || p.id || p.name || String(p);
    const o = hw.el("option", "", id); o.value = id; return o;
  }));
  if (keep) sel.value = keep;
  const now = Date.now();
  for (const t of pt.tasks.sort((a, b) => a.due - b.due)) {
    const late = t.overdue_at && t.overdue_at <= now;
    const tr = hw.el("tr", late ? "p3" : "");
    tr.dataset.task = t.task;
    const act = hw.el("td", "actions");
    if (t.state === "due" || t.state === "overdue" || t.state === "open")
      act.append(ptButton("start", () => ptTaskAction(t.task, "start")));
    if (t.kind === "checklist") act.append(ptButton("fill", () => ptChecklist(t)));
    else if (t.state === "in_progress") {
      act.append(ptButton("passed", () => ptTaskAction(t.task, "complete", { result: "passed" })));
      act.append(ptButton("failed", () => ptTaskAction(t.task, "complete", { result: "failed" })));
    }
    tr.append(hw.el("td", "", t.plan), hw.el("td", "", hwI18n.t("k_" + t.kind)),
              hw.el("td", "", t.target),
              hw.el("td", late ? "prio" : "", late ? hwI18n.t("overdue") : hwI18n.t("t_" + t.state)),
              hw.el("td", "", hw.time(t.due)), act);
    rows.append(tr);
  }
  document.getElementById("tasks-msg").textContent = pt.tasks.length ? "" : hwI18n.t("none");
}

async function ptTaskAction(id, action, extra) {
  const r = await hw.api("POST", "tasks/" + encodeURIComponent(id) + "/action",
                         Object.assign({ action }, extra || {}));
  await ptTasks(); // first: it clears the message line, which then says how the action went
  ptSay("tasks-msg", r);
}

function ptChecklist(t) {
  pt.clTask = t.task;
  document.getElementById("checklist").hidden = false;
  document.getElementById("cl-task").textContent = t.plan + " · " + t.target;
  const box = document.getElementById("cl-items");
  const items = t.items || [{ id: "overall" }];
  box.replaceChildren(...items.map((it) => {
    const row = hw.el("div", "cl-item");
    row.dataset.item = it.id;
    const sel = hw.el("select");
    for (const v of ["pass", "fail", "na"]) {
      const o = hw.el("option", "", hwI18n.t("r_" + v)); o.value = v; sel.append(o);
    }
    const note = hw.el("input");
    note.placeholder = hwI18n.t("note");
    row.append(hw.el("span", "", it.text || it.id), sel, note);
    return row;
  }));
}

async function ptChecklistSend() {
  const items = [...document.querySelectorAll("#cl-items .cl-item")].map((row) => ({
    id: row.dataset.item, result: row.querySelector("select").value,
    note: row.querySelector("input").value,
  }));
  const r = await hw.api("POST", "tasks/" + encodeURIComponent(pt.clTask) + "/checklist",
                         { items, note: document.getElementById("cl-note").value });
  ptSay("cl-msg", r);
  if (r.ok) { ptTasks(); ptRecords(); }
}

function ptRecord(rec) {
  const card = hw.el("div", "card record");
  card.id = "record-" + rec.id;
  if (rec.result === "failed") card.classList.add("fault");
  card.append(hw.el("h3", "", "#" + rec.id + " · " + rec.plan + " · " + rec.target));
  card.append(hw.el("div", "", hwI18n.t("k_" + rec.kind) + " · " + hwI18n.t("r_" + rec.result) +
                    " · " + (rec.by || "") + " · " + hw.time(rec.ended || rec.started)));
  if (rec.note) card.append(hw.el("div", "muted", rec.note));
  const det = rec.details || {};
  const pics = [].concat(det.snapshots || [], det.pictures || [], det.snapshot ? [det.snapshot] : []);
  for (const p of pics.slice(0, 4)) {
    const img = hw.el("img");
    img.alt = rec.target;
    img.src = "/media/snapshots/" + encodeURIComponent(String(p.path || p).split("/").pop());
    card.append(img);
  }
  const clips = [].concat(det.clips || [], det.clip ? [det.clip] : []);
  for (const c of clips.slice(0, 2)) {
    const a = hw.el("a", "", hwI18n.t("clip"));
    a.href = "/media/clips/" + encodeURIComponent(String(c.path || c).split("/").pop());
    card.append(a);
  }
  const rv = hw.el("div", "review");
  if (rec.review) {
    rv.textContent = hwI18n.t("reviewed") + ": " + hwI18n.t("v_" + rec.review.verdict) + " · " +
      rec.review.by + " · " + hw.time(rec.review.t) + (rec.review.note ? " · " + rec.review.note : "");
  } else {
    const note = hw.el("input");
    note.placeholder = hwI18n.t("note");
    rv.append(note,
              ptButton("accept", () => ptReview(rec.id, "accepted", note.value)),
              ptButton("reject", () => ptReview(rec.id, "rejected", note.value)));
  }
  card.append(rv);
  return card;
}

async function ptReview(id, verdict, note) {
  const r = await hw.api("POST", "records/" + id + "/review", { verdict, note });
  ptSay("records-msg", r);
  if (r.ok) ptRecords();
}

async function ptRecords() {
  const q = new URLSearchParams({ limit: "50" });
  const kind = document.getElementById("r-kind").value;
  const rev = document.getElementById("r-reviewed").value;
  if (kind) q.set("kind", kind);
  if (rev) q.set("reviewed", rev);
  const r = await hw.api("GET", "records?" + q.toString());
  const box = document.getElementById("records");
  box.replaceChildren();
  if (!r.ok) { ptSay("records-msg", r); return; }
  const recs = r.data.records || [];
  box.className = "grid";
  box.append(...recs.map(ptRecord));
  document.getElementById("records-msg").textContent = recs.length ? "" : hwI18n.t("none");
}

async function ptTicketAction(id, action) {
  const body = {};
  if (action === "assign") body.assignee = window.prompt(hwI18n.t("assignee")) || hw.me.user;
  if (action === "verify") body.recheck = window.confirm(hwI18n.t("recheck_pass")) ? "pass" : "fail";
  const r = await hw.api("POST", "tickets/" + encodeURIComponent(id) + "/" + action, body);
  ptSay("tickets-msg", r);
  ptTickets();
}

async function ptTickets() {
  let r = await hw.api("GET", "tickets?limit=100");
  let list;
  if (r.ok) list = r.data.tickets || [];
  else if (r.data.error === "unknown_verb") {
    // cmd/tickets not on this gateway: the open ones from cmd/tasks.
    const t = await hw.api("GET", "tasks");
    list = t.ok ? (t.data.tickets || []) : [];
  } else { ptSay("tickets-msg", r); return; }
  const rows = document.getElementById("ticket-rows");
  rows.replaceChildren();
  for (const k of list) {
    const id = k.ticket || k.id;
    const tr = hw.el("tr", k.deadline && k.deadline < Date.now() && k.state !== "closed" ? "p3" : "");
    tr.dataset.ticket = id;
    const act = hw.el("td", "actions");
    for (const a of PT_TICKET_NEXT[k.state] || []) act.append(ptButton(a, () => ptTicketAction(id, a)));
    tr.append(hw.el("td", "", id), hw.el("td", "", k.kind), hw.el("td", "", k.target),
              hw.el("td", "", hwI18n.t("ts_" + k.state)), hw.el("td", "", k.assignee || ""),
              hw.el("td", "", hw.time(k.deadline)), act);
    rows.append(tr);
  }
  document.getElementById("tickets-msg").textContent = list.length ? "" : hwI18n.t("none");
}

async function ptReport() {
  const month = document.getElementById("report-month").value;
  const r = await hw.api("GET", "report?month=" + encodeURIComponent(month));
  const box = document.getElementById("report-links");
  box.replaceChildren();
  if (!r.ok) { ptSay("tasks-msg", r); return; }
  for (const [k, p] of Object.entries(r.data.paths || {})) {
    const a = hw.el("a", "", k.toUpperCase());
    a.href = "/media/reports/" + encodeURIComponent(String(p).split("/").pop()) + (k === "csv" ? "?download=1" : "");
    box.append(" ", a);
  }
}

async function ptPatrol() {
  const r = await hw.api("POST", "patrol", { plan: document.getElementById("patrol-plan").value });
  ptSay("tasks-msg", r);
  if (r.ok) { ptTasks(); ptRecords(); }
}

document.addEventListener("DOMContentLoaded", async () => {
  hw.onLive((m) => {
    if (m.type === "reload" || m.type === "language") { ptTasks(); ptRecords(); ptTickets(); }
  });
  const d = new Date();
  document.getElementById("report-month").value = d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0");
  document.getElementById("patrol-go").addEventListener("click", ptPatrol);
  document.getElementById("report-go").addEventListener("click", ptReport);
  document.getElementById("r-go").addEventListener("click", ptRecords);
  document.getElementById("cl-send").addEventListener("click", ptChecklistSend);
  await hw.init("patrols");
  await Promise.all([ptTasks(), ptRecords(), ptTickets()]);
});

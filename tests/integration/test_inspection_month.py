"""A month of inspections in minutes (issue 13, "Tests and figures"): the real daemon on the
test clock (HALLWATCH_TEST_CLOCK, cmd/clock; docs/inspections.md, "Testing with a simulated
month") with the demo's devices (hw-sim: a fire panel and an emergency-lighting controller)
and two RTSP test cameras, in Asia/Shanghai, the hall open 09:00-21:00 Tuesday to Sunday,
closed on Mondays and on the holiday 2027-01-01. The test moves the clock from one due time
to the next through January 2027 and checks that:

- every video patrol ran on time while the hall was open (10:00 and 16:00 of every open day,
  started within seconds of its due time, never overdue) and none while it was closed (the
  plan also names 08:00 and 22:00, outside the opening hours; no Monday, no holiday);
- a camera made black at a chosen time (2027-01-13 12:00) fails the next patrol (16:00) and
  opens one camera ticket; the camera recovers (01-14 08:00) and the next patrol re-checks
  and closes the ticket;
- a mains failure (01-10 09:00) postpones the month's function test (DUE 01-10 10:00): no
  start reaches the controller while it lasts; mains back (17:00), the test runs;
- the staff patrol nobody fills in (01-20 09:30) goes OVERDUE and MISSED with its alerts
  inspection.staff.overdue and inspection.staff.missed raised; the next one filled in
  clears the missed alert;
- the monthly report (hallwatch report --month 2027-01, HTML and CSV) has the numbers of the
  records and tickets in the store, and those are the scenario's;
- bad days: SIGKILL in the middle of the function test (followed again after the restart,
  not started again) and in the middle of a patrol (recorded once as interrupted, not run
  again); no record is lost, no task recorded twice, none started twice; the recordings
  lost while the gateway was down fail the next patrol (continuity) and its tickets close at
  the one after."""

import csv
import datetime
import json
import os
import re
import signal
import sqlite3
import subprocess
import time

from alerts_util import Operator, events
from harness import (HALLWATCH, Gateway, Mosquitto, Proc, Sim, TestFailure, Watch, CRITICAL,
                     gateway_config, run, wait_until)
from videocam import FAST, TestCam, camera_cfg

SITE = "hall-month"
ROOT = "hallwatch/v1/%s/" % SITE
TZ = datetime.timezone(datetime.timedelta(hours=8))  # Asia/Shanghai: no DST
MONTH = "2027-01"
FACP, ELC = 1, 2
CAMS = ("cam1", "cam2")
CLIP_BEFORE_S = 2


def at(text):
    """'2027-01-10 17:00' in the hall's local time, as Unix ms."""
    d = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)
    return int(d.timestamp() * 1000)


def local(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, TZ).strftime("%Y-%m-%d %H:%M:%S")


START = at("2026-12-31 23:00")     # the daemon's clock when it starts
MONTH_FROM, MONTH_TO = at("2027-01-01 00:00"), at("2027-02-01 00:00")
END = MONTH_TO + 5 * 60 * 1000     # the month is over
HOLIDAY = datetime.date(2027, 1, 1)
MAINS_FAIL, MAINS_BACK = at("2027-01-10 09:00"), at("2027-01-10 17:00")
BLACK, NORMAL = at("2027-01-13 12:00"), at("2027-01-14 08:00")
MISS_STAFF = at("2027-01-20 09:30")   # nobody fills this one in
FAIL_ITEM = at("2027-01-27 09:30")    # the extinguishers item fails: a ticket left open
KILL_PATROL = at("2027-01-22 16:00")  # SIGKILL in the middle of this patrol


def open_days():
    d = datetime.date(2027, 1, 1)
    while d.month == 1:
        if d.weekday() != 0 and d != HOLIDAY:  # closed on Mondays and on the holiday
            yield d
        d += datetime.timedelta(days=1)


def expected(hhmm):
    return sorted(at("%s %s" % (d.isoformat(), t)) for d in open_days() for t in hhmm)


EXPECT_VP = expected(("10:00", "16:00"))
EXPECT_STAFF = expected(("09:30",))
# the patrols that fail, and why: the recordings lost while the gateway was down (after each
# SIGKILL), the black camera, the patrol killed
GAP_AFTER_KILL = (at("2027-01-12 10:00"), at("2027-01-23 10:00"))
VP_FAILED = sorted(GAP_AFTER_KILL + (at("2027-01-13 16:00"), KILL_PATROL))


def config(env, broker, sim, cam):
    cams = [dict(FAST, id=c, url=cam.url("/" + c), segment_s=2, retention_days=30)
            for c in CAMS]
    text = gateway_config(
        SITE, mqtt_port=broker.port, heartbeat=1, state_dir=env.tmp,
        buses=[("tcp0", sim.port, 500)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": FACP, "profile": "facp-generic"},
                 {"id": "elc1", "bus": "tcp0", "unit": ELC, "profile": "elc-generic",
                  "allow_commands": ["start_function_test"],
                  "intervals": {"alarm": 100, "detail": 200}}])
    lines = text.split("\n")
    site = lines[0]
    if not site.startswith("site = {") or not site.endswith("};"):
        raise TestFailure("gateway_config's site line changed shape: %r" % site)
    lines[0] = site[:-2] + (
        ' timezone = "Asia/Shanghai"; holidays = [ "2027-01-01" ];'
        ' opening_hours = { mon = "closed"; tue = "09:00-21:00"; wed = "09:00-21:00";'
        ' thu = "09:00-21:00"; fri = "09:00-21:00"; sat = "09:00-21:00";'
        ' sun = "09:00-21:00"; }; };')
    return "\n".join(lines) + camera_cfg(cams) + """
# the alert engine runs on the real time: a month's raises and clears within minutes are not
# a chattering camera
alerts = { operators = [ "alice" ]; chatter_count = 0; };
inspections = {
  tick_s = 1;
  retention_required_days = 30;
  checklists = ( { id = "round"; items = ( { id = "exits"; }, { id = "extinguishers"; },
                                            { id = "panel"; } ); } );
  plans = (
    { id = "vpatrol"; kind = "video_patrol"; recurrence = "times";
      at = [ "08:00", "10:00", "16:00", "22:00" ]; when = "open";
      clip_before_s = %d; clip_after_s = 0; },
    { id = "staff"; kind = "staff_patrol"; recurrence = "times"; at = [ "09:30" ];
      when = "open"; checklist = "round"; },
    { id = "ft"; kind = "function_test"; targets = [ "elc1" ];
      start = "2027-01-12T10:00:00+08:00"; expected_s = 10; margin_s = 20; }
  );
};
""" % CLIP_BEFORE_S


class ElSim(Sim):
    def starts(self, kind="function"):
        return int(self.command("starts %d %s" % (ELC, kind)))

    def test_length(self, ticks):
        self.command("testlen %d %d" % (ELC, ticks))


class ClockGateway(Gateway):
    """The daemon with the test switch: HALLWATCH_TEST_CLOCK=<the clock's start>."""

    def __init__(self, env, cfg_text, start_ms):
        self.clock_start = start_ms
        super().__init__(env, cfg_text)

    def start(self):
        e = dict(os.environ, HALLWATCH_TEST_CLOCK="%.3f" % (self.clock_start / 1000))
        self.proc = self.env.add(Proc(self.name, [HALLWATCH, "run", "-c", self.cfg,
                                                  "--log-level", self.log_level],
                                      self.env.tmp, env=e))
        self.proc.critical = True
        CRITICAL.append(self.proc)


def expect(cond, what):
    if not cond:
        raise TestFailure(what)


class Month:
    def __init__(self, env):
        self.env = env
        self.broker = Mosquitto(env)
        self.sim = ElSim(env, facp=(FACP,), elc=(ELC,), extra=["--tick-ms", "500"])
        self.cam = TestCam(env, ["/" + c for c in CAMS])
        self.watch = Watch(self.broker.port)
        self.offset = START - int(time.time() * 1000)
        self.gw = ClockGateway(env, config(env, self.broker, self.sim, self.cam), START)
        self.op = Operator(self.broker.port, ROOT)
        self.mains_failed = False
        self.kills = []       # (what, task) of every SIGKILL
        self.patrol_s = []    # wall time of every scheduled patrol

    # ---- the store, read-only ----

    def rows(self, sql, args=()):
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.env.tmp, "hallwatch.db"),
                             uri=True, timeout=5)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def record(self, task):
        r = self.rows("SELECT result, json FROM insp_record WHERE task = ?", (task,))
        expect(len(r) <= 1, "task %s has %d records" % (task, len(r)))
        return (r[0][0], json.loads(r[0][1])) if r else None

    def wait_record(self, task, timeout=30):
        return wait_until(lambda: self.record(task), timeout, "the record of " + task,
                          interval=0.05)

    def state(self, task):
        r = self.rows("SELECT state, reason FROM insp_task WHERE id = ?", (task,))
        return r[0] if r else (None, None)

    def live(self):
        return self.rows("SELECT id, plan, state, due_ms, open_ms, late_ms, miss_ms FROM "
                         "insp_task WHERE state NOT IN ('passed', 'failed', 'missed', "
                         "'cancelled') ORDER BY due_ms")

    # ---- the daemon ----

    def ask(self, verb, body, timeout=10):
        return self.op.send(verb, body, user="alice", timeout=timeout)

    def now(self):
        return int(time.time() * 1000) + self.offset

    def clock(self, ms):
        """Moves the clock to ms (or ticks now if that has passed); the scheduler has run
        when this returns."""
        body = {"set_ms": ms} if ms > self.now() + 20 else {"advance_ms": 0}
        r = self.ask("clock", body)
        expect(r.get("ok") is True and r.get("test") is True, "cmd/clock %r: %r" % (body, r))
        self.offset = r["offset_ms"]
        expect(r["now"] >= ms - 50, "the clock at %s, asked %s" % (local(r["now"]),
                                                                     local(ms)))
        return r

    def cam_ok(self, since_idx):
        """Both cameras online and recording in a state message after since_idx."""
        for c in CAMS:
            topic = ROOT + "camera/%s/state" % c
            with self.watch.lock:
                got = [m[2] for m in self.watch.msgs[since_idx:] if m[1] == topic]
            if not any(json.loads(p)["online"] and json.loads(p)["recording"] and
                       json.loads(p)["segments"] >= 1 for p in got if p):
                return False
        return True

    def wait_ready(self, since_idx):
        wait_until(lambda: self.cam_ok(since_idx), 40, "both cameras online and recording")
        wait_until(lambda: self.device_point("elc1", "mains_fault") is not None, 20,
                   "elc1 read")

        def answered():
            try:
                return self.ask("clock", {}, timeout=2)
            except TestFailure:
                return None  # sent before the restarted gateway subscribed: ask again
        r = wait_until(answered, 30, "cmd/clock answered")
        expect(r.get("ok") is True and r.get("test") is True, "cmd/clock read %r" % r)
        self.offset = r["offset_ms"]

    def device_point(self, dev, point):
        j = self.watch.json(ROOT + "device/%s/state" % dev)
        if not j or not j.get("online"):
            return None
        return j["points"].get(point, {}).get("v")

    def kill_and_restart(self, what, task):
        """SIGKILL, at least 3 s down (a gap in the recordings beyond the 2 s tolerance),
        then the same daemon again with its clock where it would be."""
        self.kills.append((what, task))
        self.gw.proc.send(signal.SIGKILL)
        wait_until(lambda: not self.gw.proc.alive(), 5, "the gateway killed")
        t_kill = time.monotonic()
        wait_until(lambda: time.monotonic() - t_kill >= 3.0, 5, "3 s of downtime")
        with self.watch.lock:
            idx = len(self.watch.msgs)
        self.gw.clock_start = self.now()
        self.gw.start()
        self.wait_ready(idx)

    # ---- one step of the month ----

    def fill(self, task, fail_item=None):
        items = [{"id": i, "result": "fail" if i == fail_item else "pass",
                  "note": "expired 2026-12" if i == fail_item else ""}
                 for i in ("exits", "extinguishers", "panel")]
        r = self.ask("checklist", {"task": task, "by": "Wang Wei", "items": items})
        expect(r.get("ok") is True and r["result"] == ("failed" if fail_item else "passed"),
               "checklist of %s: %r" % (task, r))

    def on_due(self, task, plan, due):
        """What happens to a task the clock just made due."""
        if plan == "vpatrol":
            if due == KILL_PATROL:
                st = self.state(task)[0]
                expect(st == "in_progress" and self.record(task) is None,
                       "the patrol to kill is %s, record %r" % (st, self.record(task)))
                self.kill_and_restart("patrol", task)
                res, js = self.wait_record(task)
                expect(res == "failed" and js["details"].get("interrupted") is True,
                       "the killed patrol's record: %s %r" % (res, js))
                return
            t0 = time.monotonic()
            res, js = self.wait_record(task)
            self.patrol_s.append(time.monotonic() - t0)
            if due == at("2027-01-13 16:00"):
                self.black_window = (self.t_step, int(time.time() * 1000))
        elif plan == "staff":
            if due == MISS_STAFF:
                return
            self.fill(task, "extinguishers" if due == FAIL_ITEM else None)
        elif plan == "ft":
            if self.mains_failed:
                st = wait_until(lambda: self.state(task)[0] == "postponed" and
                                self.state(task), 10, "the function test postponed")
                expect("mains_ok" in st[1], "postponed for %r" % (st[1],))
                expect(self.sim.starts() == 0, "a test started during the mains failure")
            else:
                self.wait_record(task, 60)

    def scripted(self, what):
        if what == "mains_fail":
            self.sim.set(ELC, "input", 0, 1)
            wait_until(lambda: self.device_point("elc1", "mains_fault") is True, 10,
                       "the mains failure seen")
            self.mains_failed = True
        elif what == "mains_back":
            ft = [t for t in self.live() if t[1] == "ft" and t[2] != "scheduled"]
            expect(len(ft) == 1 and ft[0][2] == "postponed" and
                   ft[0][3] == at("2027-01-12 10:00"), "ft before mains is back: %r" % ft)
            self.sim.test_length(8)  # 4 s: long enough to be killed in the middle
            self.sim.set(ELC, "input", 0, 0)
            wait_until(lambda: self.device_point("elc1", "mains_fault") is False, 10,
                       "mains back seen")
            self.mains_failed = False
            task = ft[0][0]

            def started():
                self.clock(self.now())  # a tick now
                return self.state(task)[0] == "in_progress"
            wait_until(started, 10, "the function test started once mains is back",
                       interval=0.2)
            wait_until(lambda: self.sim.starts() == 1, 10, "the start at the controller")
            wait_until(lambda: self.device_point("elc1", "function_test_running") is True,
                       10, "the test running")
            expect(self.record(task) is None, "the test over before the kill")
            self.kill_and_restart("test", task)
            res, js = self.wait_record(task, 60)
            d = js["details"]
            expect(res == "passed" and d["resumed"] is True and d["passed"] is True,
                   "the function test after the restart: %s %r" % (res, js))
            expect(self.sim.starts() == 1, "the test was started again: %d starts"
                   % self.sim.starts())
            expect(js["started"] >= MAINS_BACK and js["due"] == at("2027-01-12 10:00"),
                   "the test ran at %s, due %s" % (local(js["started"]), local(js["due"])))
            print("function test: postponed by the mains failure, run at %s, killed in the "
                  "middle, followed again: passed" % local(js["started"]))
        elif what == "black":
            self.cam.command("black /cam1")
            self.watch.wait_json(ROOT + "camera/cam1/state",
                                 lambda j: j["conditions"]["dark"]["active"], 15, "cam1 dark")
        elif what == "normal":
            self.cam.command("normal /cam1")
            self.watch.wait_json(ROOT + "camera/cam1/state",
                                 lambda j: not any(j["conditions"].get(k, {}).get("active")
                                                   for k in ("dark", "covered", "frozen")),
                                 15, "cam1 no longer dark")

    def run_month(self):
        script = sorted([(MAINS_FAIL, "mains_fail"), (MAINS_BACK, "mains_back"),
                         (BLACK, "black"), (NORMAL, "normal")])
        alerts_before_miss = None
        while True:
            live = self.live()
            times = []
            for tid, plan, st, due, open_ms, late, miss in live:
                if st == "scheduled":
                    times.append(open_ms)
                elif st == "due":
                    times.append(late)  # only the staff patrol nobody fills in stays DUE
                elif st == "overdue":
                    times.append(miss)
            nxt = min(times) if times else END
            if script and script[0][0] <= nxt:
                t, what = script.pop(0)
                self.clock(t)
                self.scripted(what)
                continue
            if nxt >= END:
                break
            if nxt >= MISS_STAFF and alerts_before_miss is None:
                alerts_before_miss = [e for e in events(self.watch, ROOT)
                                      if (e.get("id") or "").startswith("inspection.staff.")]
            self.t_step = int(time.time() * 1000)
            self.clock(nxt)
            for tid, plan, st, due, open_ms, late, miss in live:
                if st == "scheduled" and open_ms <= nxt:
                    self.on_due(tid, plan, due)
        self.clock(END)
        return alerts_before_miss


def check_schedule(m):
    """Every patrol on time while open, none while closed; the results the scenario makes."""
    vp = m.rows("SELECT t.id, t.state, t.due_ms, t.started_ms, t.done_ms, t.late_ms, r.json "
                "FROM insp_task t LEFT JOIN insp_record r ON r.task = t.id WHERE t.plan = "
                "'vpatrol' AND t.due_ms < ? ORDER BY t.due_ms", (MONTH_TO,))
    dues = [r[2] for r in vp]
    expect(dues == EXPECT_VP, "video patrols due at %s; expected %d at 10:00 and 16:00 of the "
           "open days" % ([local(d) for d in sorted(set(dues) ^ set(EXPECT_VP))],
                          len(EXPECT_VP)))
    for tid, st, due, started, done, late, js in vp:
        d = datetime.datetime.fromtimestamp(due / 1000, TZ)
        expect(d.weekday() != 0 and d.date() != HOLIDAY and 9 <= d.hour < 21,
               "a patrol while the hall was closed: %s" % local(due))
        expect(js is not None, "no record of %s" % tid)
        expect(0 <= started - due < 15000 and done < late,
               "patrol %s not on time: due %s, started %s, done %s" % (
                   tid, local(due), local(started), local(done)))
        want = "failed" if due in VP_FAILED else "passed"
        expect(st == want, "patrol %s (%s) %s, expected %s" % (tid, local(due), st, want))
        rec = json.loads(js)["details"]
        if due != KILL_PATROL:
            expect(len(rec["cameras"]) == 2 and all(
                c["clip"]["ok"] and c["clip"]["to"] - c["clip"]["from"] == CLIP_BEFORE_S * 1000
                for c in rec["cameras"]), "the clips of %s: %r" % (tid, rec["cameras"]))
        if due in GAP_AFTER_KILL:
            for c in rec["cameras"]:
                expect(c["passed"] is False and c["health"]["verdict"] == "ok" and
                       c["continuity"]["ok"] is False and
                       all(f.startswith("continuity:") for f in c["findings"]),
                       "after the restart, %s: %r" % (c["camera"], c))
    staff = m.rows("SELECT due_ms, state FROM insp_task WHERE plan = 'staff' AND due_ms < ? "
                   "ORDER BY due_ms", (MONTH_TO,))
    expect([r[0] for r in staff] == EXPECT_STAFF, "staff patrols due at %r"
           % [local(r[0]) for r in staff])
    for due, st in staff:
        want = {MISS_STAFF: "missed", FAIL_ITEM: "failed"}.get(due, "passed")
        expect(st == want, "staff patrol %s %s, expected %s" % (local(due), st, want))
    # a record for every task that is over, once; nothing left behind in the month
    dup = m.rows("SELECT task, COUNT(*) FROM insp_record GROUP BY task HAVING COUNT(*) > 1")
    expect(dup == [], "tasks recorded more than once: %r" % dup)
    lost = m.rows("SELECT t.id FROM insp_task t LEFT JOIN insp_record r ON r.task = t.id "
                  "WHERE t.due_ms < ? AND r.id IS NULL", (MONTH_TO,))
    expect(lost == [], "tasks of the month without a record: %r" % lost)
    print("video patrols: %d due, all on time (started %.1f s after due at most), %d failed "
          "as planned, none while closed" % (
              len(vp), max(r[3] - r[2] for r in vp) / 1000, len(VP_FAILED)))


def check_black_camera(m):
    black = [r for r in m.rows("SELECT id, opened_ms, closed_ms, state FROM insp_ticket WHERE "
                               "kind = 'camera' AND target = 'cam1' ORDER BY opened_ms")
             if BLACK <= r[1] < NORMAL]
    expect(len(black) == 1, "cam1 tickets while black: %r" % black)
    tid, opened, closed, st = black[0]
    expect(at("2027-01-13 16:00") <= opened < at("2027-01-13 16:01") and st == "closed" and
           at("2027-01-14 10:00") <= closed < at("2027-01-14 10:01"),
           "the black camera's ticket: opened %s, %s at %s" % (local(opened), st,
                                                                local(closed)))
    tr = m.rows("SELECT to_state, by, recheck FROM insp_ticket_tr WHERE ticket = ? ORDER BY "
                "seq", (tid,))
    expect(tr[-1] == ("closed", "patrol", "pass"), "its transitions %r" % tr)
    rec = json.loads(m.rows("SELECT json FROM insp_record WHERE task = ?",
                            ("vpatrol/vpatrol/%d" % (at("2027-01-13 16:00") // 1000),))[0][0])
    cams = {c["camera"]: c for c in rec["details"]["cameras"]}
    expect("dark" in cams["cam1"]["health"]["failing"] and cams["cam1"].get("ticket") == tid
           and cams["cam2"]["passed"] is True and "ticket" not in cams["cam2"],
           "the black patrol's cameras %r" % cams)
    # the alert (on the real time): raised (or returned, not acknowledged since the last
    # failure) by the black patrol, cleared by the re-check
    lo, hi = m.black_window
    ev = [(e["event"], e["t"]) for e in events(m.watch, ROOT)
          if e.get("id") == "patrol.cam1.failed"]
    up = [t for k, t in ev if k in ("raised", "returned") and lo <= t <= hi]
    expect(up and any(k == "cleared" and t > hi for k, t in ev),
           "patrol.cam1.failed during the black patrol (%d..%d): %r" % (lo, hi, ev))
    print("black camera: ticket %s opened %s, closed %s by the patrol's re-check" % (
        tid, local(opened), local(closed)))


def check_missed(m, before):
    expect(not [e for e in before if e.get("event") == "raised"],
           "staff alerts raised before the missed patrol: %r" % before)
    ev = [e for e in events(m.watch, ROOT) if (e.get("id") or "").startswith("inspection.staff.")]
    raised = [e["id"] for e in ev if e.get("event") == "raised"]
    expect(raised.count("inspection.staff.overdue") >= 1 and
           raised.count("inspection.staff.missed") >= 1,
           "the staff patrol's alerts: %r" % ev)
    missed = [e for e in ev if e["id"] == "inspection.staff.missed"]
    expect(missed[0]["event"] == "raised" and any(e["event"] == "cleared" for e in missed),
           "inspection.staff.missed raised then cleared by the next patrol: %r" % missed)
    r = m.rows("SELECT result, t_ms FROM insp_record WHERE task = ?",
               ("staff/staff/%d" % (MISS_STAFF // 1000),))
    expect(r and r[0][0] == "missed", "the missed staff patrol's record %r" % r)
    print("missed staff patrol %s: overdue and missed alerts raised, the missed one cleared "
          "by the next patrol" % local(MISS_STAFF))


def check_no_twice(m):
    ev = events(m.watch, ROOT)
    starts = {}
    for e in ev:
        if e.get("event") == "inspection" and e.get("to") == "in_progress":
            starts.setdefault(e["task"], set()).add(e["seq"])
    twice = {t: s for t, s in starts.items() if len(s) > 1}
    expect(not twice, "tasks started twice: %r" % twice)
    expect(m.sim.starts() == 1, "function tests started at the controller: %d"
           % m.sim.starts())
    for what, task in m.kills:
        expect(len(starts.get(task, ())) == 1, "the %s killed (%s) started %d times"
               % (what, task, len(starts.get(task, ()))))
    print("SIGKILL during a test and during a patrol: %s recorded once, started once"
          % ", ".join(t for _, t in m.kills))


def week_of(due):
    d = datetime.datetime.fromtimestamp(min(max(due, MONTH_FROM), MONTH_TO - 1) / 1000, TZ)
    return min((d.day - 1) // 7, 4)


def check_report(m):
    # an inspector's reviews: two records, one accepted and one rejected
    recs = m.rows("SELECT id FROM insp_record WHERE plan = 'vpatrol' AND t_ms < ? ORDER BY "
                  "t_ms LIMIT 2", (MONTH_TO,))
    for (rid,), verdict in zip(recs, ("accepted", "rejected")):
        r = m.ask("review", {"id": rid, "verdict": verdict, "note": "month test"})
        expect(r.get("ok") is True, "review %d: %r" % (rid, r))
    out = os.path.join(m.env.tmp, "out")
    os.mkdir(out)
    p = subprocess.run([HALLWATCH, "report", "-c", m.gw.cfg, "--month", MONTH, "--out", out,
                        "--user", "alice"], capture_output=True, text=True, timeout=60)
    expect(p.returncode == 0, "hallwatch report: %r %r" % (p.stdout, p.stderr))
    with open(os.path.join(out, "report-%s.csv" % MONTH), encoding="utf-8") as f:
        val = {(x["section"], x["item"], x["period"], x["metric"]): x["value"]
               for x in csv.DictReader(f)}
    with open(os.path.join(out, "report-%s.html" % MONTH), encoding="utf-8") as f:
        html = f.read()
    expect("<svg" in html and not re.search(r"https?://|src=|<script|<link", html),
           "the page is not self-contained with its plots")

    # the numbers of the store
    rows = m.rows("SELECT plan, kind, result, json, reviewed_ms, verdict FROM insp_record "
                  "WHERE t_ms >= ? AND t_ms < ?", (MONTH_FROM, MONTH_TO))
    want = {}
    tot = {"due": 0, "done": 0, "passed": 0, "failed": 0, "missed": 0}
    tests = {"passed": 0, "failed": 0, "missed": 0}
    rev = {"reviewed": 0, "accepted": 0, "rejected": 0}
    for plan, kind, res, js, reviewed, verdict in rows:
        due = json.loads(js)["due"]
        w = week_of(due)
        for k in ("due", "done"):
            want.setdefault((plan, "week%d" % (w + 1), k), 0)
        for k in ("due", "done", "passed", "failed", "missed", "cancelled"):
            want.setdefault((plan, "month", k), 0)
        if res != "cancelled":
            want[(plan, "week%d" % (w + 1), "due")] += 1
            want[(plan, "month", "due")] += 1
        if res in ("passed", "failed"):
            want[(plan, "week%d" % (w + 1), "done")] += 1
            want[(plan, "month", "done")] += 1
        want[(plan, "month", res)] += 1
        if kind in (3, 4):  # function and duration tests
            if res in tests:
                tests[res] += 1
        else:
            tot["due"] += res != "cancelled"
            tot["done"] += res in ("passed", "failed")
            if res in tot:
                tot[res] += 1
        if reviewed:
            rev["reviewed"] += 1
            rev[verdict] = rev.get(verdict, 0) + 1
    bad = []
    for (plan, period, metric), n in sorted(want.items()):
        got = val.get(("completion", plan, period, metric))
        if got != str(n):
            bad.append("completion %s %s %s: CSV %s, store %d" % (plan, period, metric, got, n))
    for k, n in tot.items():
        if val.get(("patrols", "all", "month", k)) != str(n):
            bad.append("patrols %s: CSV %s, store %d" % (k, val.get(("patrols", "all",
                                                                       "month", k)), n))
    for k, n in tests.items():
        if val.get(("tests", "all", "month", k)) != str(n):
            bad.append("tests %s: CSV %s, store %d" % (k, val.get(("tests", "all", "month",
                                                                     k)), n))
    for k, n in rev.items():
        if val.get(("reviews", "all", "month", k)) != str(n):
            bad.append("reviews %s: CSV %s, store %d" % (k, val.get(("reviews", "all",
                                                                       "month", k)), n))
    tks = m.rows("SELECT opened_ms, closed_ms FROM insp_ticket WHERE opened_ms < ? AND "
                 "(closed_ms = 0 OR closed_ms >= ?)", (MONTH_TO, MONTH_FROM))
    opened = sum(1 for o, c in tks if o >= MONTH_FROM)
    closed = [c - o for o, c in tks if 0 < c < MONTH_TO and c >= MONTH_FROM]
    still = sum(1 for o, c in tks if not (0 < c < MONTH_TO))
    closed.sort()
    n = len(closed)
    med = (closed[n // 2] if n % 2 else (closed[n // 2 - 1] + closed[n // 2]) // 2) if n else -1
    for k, v in (("opened", opened), ("closed", n), ("open_at_end", still),
                 ("repair_median_s", med // 1000 if n else -1),
                 ("repair_max_s", closed[-1] // 1000 if n else -1)):
        if val.get(("tickets", "all", "month", k)) != str(v):
            bad.append("tickets %s: CSV %s, store %d" % (k, val.get(("tickets", "all", "month",
                                                                       k)), v))
    # the page shows the same done/due per week
    for plan in ("vpatrol", "staff", "ft"):
        cells = "".join("<td>%d/%d</td>" % (want.get((plan, "week%d" % w, "done"), 0),
                                            want.get((plan, "week%d" % w, "due"), 0))
                        for w in range(1, 6))
        if not re.search(r"<tr><td>%s</td><td>[a-z_]+</td>%s" % (plan, re.escape(cells)), html):
            bad.append("the page's row of %s is not %s" % (plan, cells))
    expect(not bad, "the report does not match the store:\n  " + "\n  ".join(bad))

    # and the store holds what the scenario made
    scen = {("vpatrol", "month", "due"): len(EXPECT_VP),
            ("vpatrol", "month", "failed"): len(VP_FAILED),
            ("vpatrol", "month", "passed"): len(EXPECT_VP) - len(VP_FAILED),
            ("staff", "month", "due"): len(EXPECT_STAFF),
            ("staff", "month", "missed"): 1, ("staff", "month", "failed"): 1,
            ("ft", "month", "passed"): 1}
    for k, v in scen.items():
        expect(want.get(k) == v, "%s: %s in the store, the scenario made %d" % (k, want.get(k),
                                                                               v))
    # tickets: cam1+cam2 after each restart, cam1 black, the extinguishers item
    expect((opened, n, still) == (6, 5, 1), "tickets opened %d, closed %d, open %d"
           % (opened, n, still))
    expect(rev == {"reviewed": 2, "accepted": 1, "rejected": 1}, "reviews %r" % rev)
    print("report %s: CSV and page match the store (%d records, %d tickets): patrols %d/%d "
          "done, tests passed %d, tickets %d opened %d closed, repair median %s s" % (
              MONTH, len(rows), len(tks), tot["done"], tot["due"], tests["passed"], opened, n,
              val[("tickets", "all", "month", "repair_median_s")]))


def main(env):
    t0 = time.monotonic()
    m = Month(env)
    m.wait_ready(0)
    r = m.ask("clock", {})
    expect(START <= r["now"] < START + 60000, "the clock starts at %s, not %s"
           % (local(r["now"]), local(START)))
    expect("TEST CLOCK" in m.gw.proc.stderr_text(), "no warning of the test clock in the log")
    t_setup = time.monotonic() - t0
    before = m.run_month()
    t_month = time.monotonic() - t0 - t_setup
    # the test clock never goes back
    for body in ({"set_ms": START}, {"advance_ms": -1000}):
        r = m.ask("clock", body)
        expect(r.get("ok") is False and r.get("error") == "invalid" and
               "only moves forward" in r.get("message", ""), "cmd/clock %r: %r" % (body, r))
    check_schedule(m)
    check_black_camera(m)
    check_missed(m, before or [])
    check_no_twice(m)
    check_report(m)
    log = m.gw.proc.stderr_text()
    expect("ERROR" not in log, "errors in the log:\n%s" % log[-3000:])
    m.gw.stop()
    m.watch.close()
    m.op.close()
    print("wall time: %.1f s (setup %.1f s, the month %.1f s, checks %.1f s); %d scheduled "
          "patrols, mean %.2f s, max %.2f s" % (
              time.monotonic() - t0, t_setup, t_month,
              time.monotonic() - t0 - t_setup - t_month, len(m.patrol_s),
              sum(m.patrol_s) / max(len(m.patrol_s), 1), max(m.patrol_s or [0])))


if __name__ == "__main__":
    run(main)

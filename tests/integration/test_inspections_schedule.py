"""Inspections in the running daemon (issue 13, items 1 and 5): a plan with a seconds-scale
period whose task nobody does goes DUE, OVERDUE then MISSED, with the P4 alerts
inspection.<plan>.overdue and .missed raised on `events` and inspection/<plan> retained
(schedule, last result, next due); a task completed through cmd/task passes and clears the
missed alert; a ticket goes through its states with cmd/ticket and closes only with a
passing re-check; after the gateway was stopped, the tasks of its downtime are MISSED with
the reason, none silently skipped."""

import json
import sqlite3
import os
import signal
import time

import paho.mqtt.client as paho

from alerts_util import Checks, Operator, events
from harness import (Gateway, Influxd, Mosquitto, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-insp"
ROOT = "hallwatch/v1/%s/" % SITE
PLAN = "quick_patrol"


def config(env, broker, influx):
    return gateway_config(SITE, mqtt_port=broker.port, influx_url=influx.url,
                          state_dir=env.tmp) + """
alerts = { operators = [ "alice" ]; };
inspections = {
  tick_s = 1;
  plans = (
    { id = "quick_patrol"; kind = "staff_patrol"; recurrence = "every"; every_s = 4;
      when = "any"; window_s = 2; grace_s = 2; }
  );
};
"""


def inspection_events(watch, to=None, task=None):
    return [e for e in events(watch, ROOT) if e.get("event") == "inspection"
            and (to is None or e["to"] == to) and (task is None or e["task"] == task)]


def alert_events(watch, aid, kind):
    return [e for e in events(watch, ROOT) if e.get("id") == aid and e.get("event") == kind]


def retained(port, topic, timeout=5):
    """The retained message of topic, as a fresh subscriber gets it (JSON, or None)."""
    got = {}
    c = paho.Client(client_id="hw-test-ret-%d" % os.getpid(), clean_session=True)
    c.on_message = lambda cl, u, m: got.setdefault("m", m)
    c.on_connect = lambda cl, u, f, rc: cl.subscribe(topic, qos=1)
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    try:
        m = wait_until(lambda: got.get("m"), timeout, "the retained " + topic)
        if not m.retain:
            raise TestFailure("%s came without the retain flag" % topic)
        return json.loads(m.payload.decode())
    finally:
        c.loop_stop()
        c.disconnect()


def db_rows(env, sql):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(env.tmp, "hallwatch.db"), uri=True,
                         timeout=5)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def main(env):
    broker = Mosquitto(env)
    influx = Influxd(env)
    watch = Watch(broker.port)
    gw = Gateway(env, config(env, broker, influx))
    chk = Checks()
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "online", 10, "status online")

    # Nobody does the patrol: DUE, OVERDUE (alert raised), MISSED (alert raised).
    wait_until(lambda: inspection_events(watch, "missed"), 20, "a missed patrol")
    missed = inspection_events(watch, "missed")[0]
    task = missed["task"]
    steps = [e["to"] for e in inspection_events(watch, task=task)]
    chk.expect(steps == ["due", "overdue", "missed"], "task %s went %r" % (task, steps))
    chk.expect(missed["reason"] == "not done within its window and grace",
               "missed reason %r" % missed["reason"])
    od = wait_until(lambda: alert_events(watch, "inspection.%s.overdue" % PLAN, "raised"), 5,
                    "the overdue alert")
    chk.expect(od[0]["priority"] == 4, "overdue alert priority %r" % od[0]["priority"])
    ms = wait_until(lambda: alert_events(watch, "inspection.%s.missed" % PLAN, "raised"), 5,
                    "the missed alert")
    chk.expect(ms[0]["priority"] == 4 and ms[0]["alert"]["text"].endswith("missed"),
               "missed alert %r" % ms[0])
    # ordered: the alert is raised after the transition that raised it
    seq_od = [e["seq"] for e in inspection_events(watch, "overdue", task)][0]
    chk.expect(od[0]["seq"] > seq_od, "the overdue alert came before its transition")

    # The line protocol of the task that is over.
    rows = wait_until(lambda: influx.rows(
        "SELECT state, on_time, late_s FROM inspection_task WHERE plan = '%s' AND "
        "state = 'missed'" % PLAN), 10, "inspection_task in InfluxDB")
    chk.expect(rows[0]["on_time"] is False and rows[0]["late_s"] >= 1, "line %r" % rows[0])

    # inspection/<plan> retained: schedule, last result, next due.
    st = wait_until(lambda: (lambda j: j if j and j["last"] and j["last"]["state"] == "missed"
                             else None)(retained(broker.port, ROOT + "inspection/" + PLAN)),
                    10, "inspection/%s retained with the missed task" % PLAN)
    chk.expect(st["schedule"]["recurrence"] == "every" and st["schedule"]["every_s"] == 4,
               "schedule %r" % st["schedule"])
    chk.expect(st["kind"] == "staff_patrol" and st["missed"] >= 1, "status %r" % st)
    chk.expect(isinstance(st["next_due"], int) and st["next_due"] > missed["t"] - 10000,
               "next_due %r" % st["next_due"])

    # A person does the next one through cmd/task: PASSED, the missed alert clears.
    op = Operator(broker.port, ROOT)
    def due_task():
        r = op.send("tasks", {}, user="bob")
        ts = [t for t in r.get("tasks", []) if t["state"] in ("due", "overdue")]
        return ts[0] if ts else None
    t = wait_until(due_task, 15, "a due task in cmd/tasks")
    r = op.send("task", {"id": t["task"], "action": "complete", "result": "passed"},
                user="bob")
    chk.expect(r["ok"] is False and r["error"] == "not_authorized",
               "a viewer completed a task: %r" % r)
    r = op.send("task", {"id": t["task"], "action": "complete", "result": "passed",
                         "reason": "all clear"}, user="alice")
    if r["ok"] is not True:
        # it may have been missed in between (2 + 2 s): take the next one
        t = wait_until(due_task, 15, "a due task in cmd/tasks")
        r = op.send("task", {"id": t["task"], "action": "complete", "result": "passed",
                             "reason": "all clear"}, user="alice")
    chk.expect(r["ok"] is True, "complete reply %r" % r)
    wait_until(lambda: inspection_events(watch, "passed"), 5, "the passed transition")
    passed = inspection_events(watch, "passed")[0]
    chk.expect(passed["by"] == "alice" and passed["reason"] == "all clear", "passed %r" % passed)
    wait_until(lambda: alert_events(watch, "inspection.%s.missed" % PLAN, "cleared"), 5,
               "the missed alert cleared by a passed patrol")
    rec = db_rows(env, "SELECT result, by FROM insp_record WHERE task = '%s'" % t["task"])
    chk.expect(rec == [("passed", "alice")], "record of the passed task %r" % rec)

    # A ticket: refused close without a passing re-check, closed with one.
    r = op.send("ticket", {"action": "open", "kind": "camera", "target": "cam1",
                           "reason": "dark"}, user="alice")
    chk.expect(r["ok"] is True, "ticket open %r" % r)
    tid = r.get("ticket")
    for body, ok in ((("start", None), True), (("repaired", None), True),
                     (("close", "fail"), False), (("verify", "pass"), True)):
        req = {"id": tid, "action": body[0], "reason": "step " + body[0]}
        if body[1]:
            req["recheck"] = body[1]
        r = op.send("ticket", req, user="alice")
        chk.expect(r["ok"] is ok, "ticket %s: %r" % (body[0], r))
    tev = [e for e in events(watch, ROOT) if e.get("event") == "ticket"]
    wait_until(lambda: len([e for e in events(watch, ROOT) if e.get("event") == "ticket"]) == 4,
               5, "four ticket events")
    tev = [e for e in events(watch, ROOT) if e.get("event") == "ticket"]
    chk.expect([e["to"] for e in tev] == ["open", "repairing", "pending_verify", "closed"],
               "ticket events %r" % [e["to"] for e in tev])
    chk.expect(db_rows(env, "SELECT COUNT(*) FROM insp_ticket_tr WHERE ticket = '%s'" % tid)
               == [(4,)], "ticket transitions stored")

    # A reload recreates the service a moment after its last tick: no downtime to tell.
    n_missed = len(inspection_events(watch, "missed"))
    gw.proc.send(signal.SIGHUP)
    wait_until(lambda: "configuration reloaded" in gw.proc.stderr_text(), 10, "the reload")
    after = wait_until(lambda: inspection_events(watch, "missed")[n_missed:], 15,
                       "a patrol missed after the reload")
    chk.expect(all(e["reason"] == "not done within its window and grace" for e in after),
               "a reload told of a downtime: %r" % [e["reason"] for e in after])

    # Downtime: the tasks of it are MISSED at the next start, with the reason.
    gw.stop()
    stopped = time.time()
    n_before = len(inspection_events(watch))
    # the gateway stays down for three periods of the plan: wall time itself is the
    # condition here
    wait_until(lambda: time.time() >= stopped + 13, 20, "13 s of downtime")
    gw.start()
    # 13 s of a 4 s plan hold at least two occurrences; their events come one after another
    def downtime_missed():
        d = [e for e in inspection_events(watch)[n_before:]
             if e["to"] == "missed" and "not running" in e["reason"]]
        return d if len(d) >= 2 else None
    down = wait_until(downtime_missed, 15, "at least two tasks of 13 s downtime missed with "
                      "the reason")
    dues = sorted(int(e["task"].rsplit("/", 1)[1]) for e in down)
    chk.expect(all(b - a == 4 for a, b in zip(dues, dues[1:])),
               "an occurrence of the downtime skipped: %r" % dues)
    chk.done()
    gw.stop()
    log = gw.proc.stderr_text()
    if "ERROR" in log:
        raise TestFailure("errors in the log:\n%s" % log[-3000:])


if __name__ == "__main__":
    run(main)

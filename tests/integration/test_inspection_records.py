"""Records for inspectors in the running daemon (issue 13, items 6 and 7): cmd/records lists
and filters the records of the tasks that are over (a missed patrol, a passed one); an
operator's cmd/review gives one a verdict (a viewer is refused), logged as a review event on
`events`; a second review is refused `no_change` unless it amends; cmd/tickets lists a closed
ticket with its transitions; `hallwatch records`, `review`, `tickets` and `report` work
through the daemon; the monthly report's HTML is self-contained and its CSV numbers equal
the records in the database; InfluxDB gets inspection_plan lines."""

import csv
import io
import os
import re
import sqlite3
import subprocess
import time

from alerts_util import Checks, Operator, events
from harness import (HALLWATCH, Gateway, Influxd, Mosquitto, TestFailure, Watch,
                     gateway_config, run, wait_until)

SITE = "hall-rec"
ROOT = "hallwatch/v1/%s/" % SITE


def config(env, broker, influx):
    return gateway_config(SITE, mqtt_port=broker.port, influx_url=influx.url,
                          state_dir=env.tmp) + """
alerts = { operators = [ "alice" ]; };
inspections = {
  tick_s = 1;
  plans = (
    { id = "quick"; kind = "staff_patrol"; recurrence = "every"; every_s = 3;
      when = "any"; window_s = 1; grace_s = 1; },
    { id = "manual"; kind = "video_patrol"; targets = [ "cam1", "cam2" ];
      recurrence = "days"; days = 30; when = "any"; window_s = 3600; grace_s = 3600; }
  );
};
"""


def db_rows(env, sql, args=()):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(env.tmp, "hallwatch.db"), uri=True,
                         timeout=5)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def main(env):
    broker = Mosquitto(env)
    influx = Influxd(env)
    watch = Watch(broker.port)
    gw = Gateway(env, config(env, broker, influx))
    chk = Checks()
    op = Operator(broker.port, ROOT)
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "online", 10, "status online")

    def cli(*args):
        p = subprocess.run([HALLWATCH, args[0], "-c", gw.cfg] + list(args[1:]),
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    # Nobody does "quick": missed records. "manual" is done now by alice on cam1 and
    # cancelled on cam2.
    wait_until(lambda: db_rows(env, "SELECT id FROM insp_record WHERE plan = 'quick' AND "
                               "result = 'missed'"), 20, "a missed record")
    done = {}
    for cam, action in (("cam1", "complete"), ("cam2", "cancel")):
        r = op.send("task", {"action": "run_now", "plan": "manual", "target": cam},
                    user="alice")
        chk.expect(r["ok"] is True, "run_now %s: %r" % (cam, r))
        body = {"id": r["task"], "action": action, "reason": "looked at " + cam}
        if action == "complete":
            body["result"] = "passed"
        r = op.send("task", body, user="alice")
        chk.expect(r["ok"] is True, "%s %s: %r" % (action, cam, r))
        done[cam] = body["id"]

    # cmd/records: newest first, filters, the record's fields.
    r = op.send("records", {"plan": "manual"}, user="bob")
    recs = r.get("records", [])
    chk.expect(r["ok"] is True and [x["target"] for x in recs] == ["cam2", "cam1"],
               "records of manual, newest first: %r" % r)
    passed = [x for x in recs if x["result"] == "passed"]
    chk.expect(len(passed) == 1 and passed[0]["by"] == "alice" and
               passed[0]["note"] == "looked at cam1" and passed[0]["kind"] == "video_patrol"
               and passed[0]["review"] is None and passed[0]["task"] == done["cam1"]
               and passed[0]["ended"] >= passed[0]["due"] > 0,
               "the passed record: %r" % passed)
    r = op.send("records", {"result": "missed", "kind": "staff_patrol", "limit": 1000},
                user="bob")
    n_missed = db_rows(env, "SELECT COUNT(*) FROM insp_record WHERE result = 'missed'")[0][0]
    chk.expect(len(r["records"]) >= 1 and all(x["result"] == "missed" and x["plan"] == "quick"
                                              for x in r["records"])
               and len(r["records"]) <= n_missed, "missed records: %r" % r)
    r = op.send("records", {"limit": 1}, user="bob")
    chk.expect(len(r["records"]) == 1, "limit 1: %r" % r)
    r = op.send("records", {"limit": 0}, user="bob")
    chk.expect(r.get("error") == "invalid", "limit 0 refused: %r" % r)
    r = op.send("records", {"kind": "bogus"}, user="bob")
    chk.expect(r.get("error") == "invalid", "unknown kind refused: %r" % r)
    r = op.send("records", {"from": "2001-01-01 00:00", "to": 978307200 + 3600}, user="bob")
    chk.expect(r["ok"] is True and r["records"] == [], "a range with nothing: %r" % r)

    # cmd/review: a viewer is refused; an operator (over MQTT) reviews; the event.
    rid = passed[0]["id"]
    r = op.send("review", {"id": rid, "verdict": "accepted", "note": "ok"}, user="bob")
    chk.expect(r.get("error") == "not_authorized", "a viewer reviewed: %r" % r)
    r = op.send("review", {"id": rid, "verdict": "maybe"}, user="alice")
    chk.expect(r.get("error") == "invalid", "a bad verdict: %r" % r)
    r = op.send("review", {"id": 999999, "verdict": "accepted"}, user="alice")
    chk.expect(r.get("error") == "unknown_record", "no such record: %r" % r)
    r = op.send("review", {"id": rid, "verdict": "accepted", "note": "picture fine"},
                user="alice")
    chk.expect(r["ok"] is True and r["record"]["review"]["verdict"] == "accepted" and
               r["record"]["review"]["by"] == "alice" and
               r["record"]["review"]["note"] == "picture fine", "review: %r" % r)
    ev = wait_until(lambda: [e for e in events(watch, ROOT) if e.get("event") == "review"], 5,
                    "the review event")
    chk.expect(ev[0]["record"] == rid and ev[0]["verdict"] == "accepted" and
               ev[0]["by"] == "alice" and ev[0]["plan"] == "manual" and ev[0]["amend"] is False,
               "review event %r" % ev[0])
    r = op.send("review", {"id": rid, "verdict": "rejected"}, user="alice")
    chk.expect(r.get("error") == "no_change", "a second review: %r" % r)
    rc, out, err = cli("review", str(rid), "--verdict", "rejected", "--note", "blurred",
                       "--amend", "--user", "alice")
    chk.expect(rc == 0 and "rejected" in out, "CLI review --amend: %r %r" % (out, err))
    chk.expect(db_rows(env, "SELECT verdict, reviewed_by, review_note FROM insp_record WHERE "
                       "id = ?", (rid,)) == [("rejected", "alice", "blurred")],
               "the stored review")
    r = op.send("records", {"reviewed": True}, user="bob")
    chk.expect([x["id"] for x in r["records"]] == [rid], "reviewed records: %r" % r)

    # cmd/tickets: a closed ticket with its transitions.
    r = op.send("ticket", {"action": "open", "kind": "camera", "target": "cam1",
                           "reason": "dark"}, user="alice")
    tid = r["ticket"]
    # the retained `tickets` lists the open one (a reader who starts later has it) ...
    watch.wait_json(ROOT + "tickets",
                    lambda j: [t["ticket"] for t in j["tickets"]] == [tid] and j["open"] == 1
                    and j["tickets"][0]["target"] == "cam1" and j["tickets"][0]["state"] == "open"
                    and j["tickets"][0]["deadline"] > j["tickets"][0]["opened"], 10,
                    "the open ticket in the retained tickets")
    for a, extra in (("start", {}), ("repaired", {}), ("verify", {"recheck": "pass"})):
        r = op.send("ticket", dict({"id": tid, "action": a, "reason": a}, **extra),
                    user="alice")
        chk.expect(r["ok"] is True, "ticket %s: %r" % (a, r))
    # ... and no more once it is closed
    watch.wait_json(ROOT + "tickets", lambda j: j["tickets"] == [] and j["open"] == 0, 10,
                    "no open ticket in the retained tickets after closing")
    r = op.send("tickets", {"state": "closed"}, user="bob")
    tk = [t for t in r.get("tickets", []) if t["ticket"] == tid]
    chk.expect(len(tk) == 1 and tk[0]["closed"] and
               [t["to"] for t in tk[0]["transitions"]] ==
               ["open", "repairing", "pending_verify", "closed"], "tickets: %r" % r)
    r = op.send("tickets", {"state": "open"}, user="bob")
    chk.expect(all(t["ticket"] != tid for t in r["tickets"]), "closed among open: %r" % r)
    rc, out, err = cli("tickets", "--state", "closed", "--user", "bob")
    chk.expect(rc == 0 and tid in out and "pending_verify -> closed" in out,
               "CLI tickets: %r %r" % (out, err))
    rc, out, err = cli("records", "--plan", "manual", "--user", "bob")
    chk.expect(rc == 0 and "rejected by alice" in out and "2 record(s)" in out,
               "CLI records: %r %r" % (out, err))

    # The monthly report: files under state_dir/reports, copied by the CLI.
    month = time.strftime("%Y-%m")
    outdir = os.path.join(env.tmp, "out")
    os.mkdir(outdir)
    rc, out, err = cli("report", "--month", month, "--out", outdir, "--user", "bob")
    chk.expect(rc == 0, "CLI report: %r %r" % (out, err))
    html_p = os.path.join(outdir, "report-%s.html" % month)
    csv_p = os.path.join(outdir, "report-%s.csv" % month)
    chk.expect(os.path.isfile(os.path.join(env.tmp, "reports", "report-%s.html" % month)),
               "the report under state_dir/reports")
    with open(html_p, encoding="utf-8") as f:
        html = f.read()
    made_ns = os.stat(os.path.join(env.tmp, "reports", "report-%s.csv" % month)).st_mtime_ns
    chk.expect("<svg" in html and "@media print" in html, "the page has plots and print CSS")
    chk.expect(not re.search(r"https?://|src=|<script|<link", html),
               "the page refers to something outside it")
    with open(csv_p, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    val = {(x["section"], x["item"], x["period"], x["metric"]): x["value"] for x in rows}
    # manual: nothing ticks it, its numbers are exact
    chk.expect(val.get(("completion", "manual", "month", "done")) == "1" and
               val.get(("completion", "manual", "month", "cancelled")) == "1" and
               val.get(("completion", "manual", "month", "due")) == "1",
               "manual in the CSV: %r" % {k: v for k, v in val.items() if k[1] == "manual"})
    chk.expect(val.get(("reviews", "all", "month", "rejected")) == "1", "reviews in the CSV")
    chk.expect(val.get(("tickets", "all", "month", "closed")) == "1", "tickets in the CSV")
    # quick goes on ticking: between the records before the file and those up to it
    made_ms = made_ns // 1000000
    lo = db_rows(env, "SELECT COUNT(*) FROM insp_record WHERE plan = 'quick' AND result = "
                 "'missed' AND t_ms < ?", (made_ms - 1,))[0][0]
    hi = db_rows(env, "SELECT COUNT(*) FROM insp_record WHERE plan = 'quick' AND result = "
                 "'missed' AND t_ms <= ?", (made_ms,))[0][0]
    got = int(val.get(("completion", "quick", "month", "missed"), "-1"))
    chk.expect(lo <= got <= hi and got >= 1, "quick missed %d, records %d..%d" % (got, lo, hi))
    r = op.send("report", {"month": "2026-13"}, user="bob")
    chk.expect(r.get("error") == "invalid", "a bad month: %r" % r)

    # The line protocol: inspection_plan of both plans.
    rows = wait_until(lambda: influx.rows(
        "SELECT due, done, missed, rate FROM inspection_plan WHERE plan = 'quick' AND "
        "missed > 0"), 10, "inspection_plan of quick in InfluxDB")
    chk.expect(rows[-1]["done"] == 0 and rows[-1]["rate"] == 0 and
               rows[-1]["due"] == rows[-1]["missed"], "quick line %r" % rows[-1])
    rows = wait_until(lambda: influx.rows(
        "SELECT due, done, rate FROM inspection_plan WHERE plan = 'manual' AND done > 0"), 10,
        "inspection_plan of manual in InfluxDB")
    chk.expect(rows[-1]["rate"] == 1, "manual line %r" % rows[-1])
    chk.done()
    gw.stop()
    log = gw.proc.stderr_text()
    if "ERROR" in log:
        raise TestFailure("errors in the log:\n%s" % log[-3000:])


if __name__ == "__main__":
    run(main)

"""Checklists filled in by a person (issue 13, item 3): cmd/checklist completes a fire_check
task with the record (items, who, the fire panel's state at that moment), a failed item opens a
"checklist" ticket, wrong or missing item ids are refused with the reason, a viewer is refused;
the same through `hallwatch checklist`; a staff patrol nobody does goes MISSED with its alert."""

import json
import os
import sqlite3
import subprocess

from alerts_util import Operator, events
from harness import (HALLWATCH, Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-cl"
ROOT = "hallwatch/v1/%s/" % SITE


def db_rows(env, sql, args=()):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(env.tmp, "hallwatch.db"), uri=True,
                         timeout=5)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--tick-ms", "200"])
    sim.set(1, "input", 100 + 2, 1)  # zone 2 in fire: the panel's state goes into the record
    watch = Watch(broker.port)
    gw = Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 500)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic"}],
        state_dir=env.tmp) + """
alerts = { operators = [ "alice" ]; };
inspections = {
  tick_s = 1;
  checklists = (
    { id = "fire_check"; items = (
        { id = "extinguishers"; text = { zh = "灭火器齐全有效"; en = "extinguishers present and in date"; }; },
        { id = "escape_routes"; text = { zh = "疏散通道畅通"; en = "escape routes clear"; }; },
        { id = "panel_normal"; text = { en = "panel in normal state"; }; }
      ); }
  );
  plans = (
    { id = "monthly_check"; kind = "fire_check"; checklist = "fire_check"; recurrence = "every";
      every_s = 86400; when = "any"; },
    { id = "patrol"; kind = "staff_patrol"; recurrence = "every"; every_s = 3; when = "any";
      window_s = 1; grace_s = 1; }
  );
};
""")
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    wait_until(lambda: watch.json(ROOT + "device/facp1/state")["points"].get("zone[2].fire", {})
               .get("v") is True, 10, "the zone fire seen")
    op = Operator(broker.port, ROOT)
    ok_items = [{"id": "extinguishers", "result": "pass"},
                {"id": "escape_routes", "result": "pass", "note": "clear"},
                {"id": "panel_normal", "result": "na"}]

    # Refusals: a viewer; an unknown item; a missing item; a bad result.
    r = op.send("checklist", {"plan": "monthly_check", "items": ok_items}, user="mallory")
    if r["ok"] or r["error"] != "not_authorized":
        raise TestFailure("a viewer filled in a checklist: %r" % r)
    bad = ok_items[:2] + [{"id": "sprinklers", "result": "pass"}]
    r = op.send("checklist", {"plan": "monthly_check", "items": bad}, user="alice")
    if r["ok"] or r.get("error") != "unknown_item" or "sprinklers" not in r.get("message", ""):
        raise TestFailure("an unknown item: %r" % r)
    r = op.send("checklist", {"plan": "monthly_check", "items": ok_items[:2]}, user="alice")
    if r["ok"] or r.get("error") != "missing_item" or "panel_normal" not in r.get("message", ""):
        raise TestFailure("a missing item: %r" % r)
    r = op.send("checklist", {"plan": "monthly_check", "items": ok_items[:2] +
                              [{"id": "panel_normal", "result": "maybe"}]}, user="alice")
    if r["ok"] or "pass, fail or na" not in r.get("message", ""):
        raise TestFailure("a bad result: %r" % r)
    if db_rows(env, "SELECT COUNT(*) FROM insp_record WHERE plan = 'monthly_check'")[0][0]:
        raise TestFailure("a refused checklist left a record")

    # A checklist that passes: its record has the items, who and the panel's state.
    r = op.send("checklist", {"plan": "monthly_check", "by": "Wang Wei", "items": ok_items,
                              "note": "all fine"}, user="alice")
    if not r["ok"] or r.get("result") != "passed" or r.get("tickets") != []:
        raise TestFailure("checklist: %r" % r)
    res, js = db_rows(env, "SELECT result, json FROM insp_record WHERE task = ?", (r["task"],))[0]
    d = json.loads(js)["details"]
    if res != "passed" or d["by"] != "Wang Wei" or d["user"] != "alice" \
            or [i["id"] for i in d["items"]] != ["extinguishers", "escape_routes", "panel_normal"] \
            or d["items"][1]["note"] != "clear" or d["items"][0]["text"] != "灭火器齐全有效":
        raise TestFailure("the record: %s %r" % (res, d))
    panel = d["panels"].get("facp1")
    if not panel or panel["points"].get("zone[2].fire") is not True or "fire" not in panel["points"]:
        raise TestFailure("the panel's state in the record: %r" % d["panels"])

    # A failed item: the task fails and a ticket for that item opens.
    failed = [{"id": "extinguishers", "result": "fail", "note": "B2 expired"}] + ok_items[1:]
    r = op.send("checklist", {"plan": "monthly_check", "items": failed}, user="alice")
    if not r["ok"] or r.get("result") != "failed" or len(r.get("tickets", [])) != 1:
        raise TestFailure("a failed item: %r" % r)
    tk = db_rows(env, "SELECT kind, target, state, text FROM insp_ticket WHERE id = ?",
                 (r["tickets"][0],))
    if not tk or tk[0][:3] != ("checklist", "extinguishers", "open") or "B2 expired" not in tk[0][3]:
        raise TestFailure("the item's ticket: %r" % tk)

    # The command line, through the daemon.
    p = subprocess.run([HALLWATCH, "checklist", "-c", gw.cfg, "monthly_check",
                        "--item", "extinguishers=pass", "--item", "escape_routes=pass",
                        "--item", "panel_normal=fail:panel shows a fault", "--user", "alice"],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0 or "failed" not in p.stdout:
        raise TestFailure("hallwatch checklist: %d %r %r" % (p.returncode, p.stdout, p.stderr))
    if not db_rows(env, "SELECT id FROM insp_ticket WHERE kind = 'checklist' "
                   "AND target = 'panel_normal'"):
        raise TestFailure("no ticket for the item failed through the command line")

    # A staff patrol nobody does: MISSED, with its alert.
    wait_until(lambda: [e for e in events(watch, ROOT) if e.get("id") == "inspection.patrol.missed"
                        and e.get("event") == "raised"], 20, "the missed patrol's alert")
    op.close()
    watch.close()


if __name__ == "__main__":
    run(main)

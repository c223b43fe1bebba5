"""The emergency-lighting test runner end to end (issue 13, item 4), against a Modbus peer
that plays the controller (hw-sim or the pymodbus controller): a due function test is started
through the bus, followed, passes and is recorded; a failed luminaire fails it and opens one
el_test ticket per controller; a mains failure postpones it and it runs once mains is back; a
fire alarm blocks it; a SIGKILL in the middle of a test leaves one record and no second start
(the starts counted at the peer)."""

import datetime
import json
import os
import signal
import sqlite3
import time

from alerts_util import Operator
from harness import Gateway, Mosquitto, TestFailure, Watch, gateway_config, wait_until

SITE = "hall-el"
ROOT = "hallwatch/v1/%s/" % SITE
ELC = 2
FACP = 1


def db_rows(env, sql, args=()):
    path = os.path.join(env.tmp, "hallwatch.db")
    if not os.path.exists(path):
        return []
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def config(env, broker, peer):
    start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3))
    return gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", peer.port, 500)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": FACP, "profile": "facp-generic"},
                 {"id": "elc1", "bus": "tcp0", "unit": ELC, "profile": "elc-generic",
                  "allow_commands": ["start_function_test", "start_duration_test"],
                  "intervals": {"alarm": 100, "detail": 200}}],
        state_dir=env.tmp) + """
alerts = { operators = [ "alice" ]; };
inspections = {
  tick_s = 1;
  plans = (
    { id = "ft"; kind = "function_test"; targets = [ "elc1" ]; recurrence = "days"; days = 30;
      start = "%s"; early_s = 0; window_s = 600; grace_s = 600; first_within_s = 600;
      expected_s = 5; margin_s = 20; }
  );
};
""" % start.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def record(env, task):
    rows = db_rows(env, "SELECT result, json FROM insp_record WHERE task = ?", (task,))
    if len(rows) > 1:
        raise TestFailure("task %s has %d records: %r" % (task, len(rows), rows))
    return (rows[0][0], json.loads(rows[0][1])) if rows else None


def task_state(env, task):
    rows = db_rows(env, "SELECT state, reason FROM insp_task WHERE id = ?", (task,))
    return rows[0] if rows else None


def wait_record(env, task, timeout=30):
    return wait_until(lambda: record(env, task), timeout, "the record of " + task)


def run_now(op):
    r = op.send("task", {"action": "run_now", "plan": "ft", "target": "elc1"}, user="alice")
    if not r["ok"]:
        raise TestFailure("run_now: %r" % r)
    return r["task"]


def scenario(env, peer):
    broker = Mosquitto(env)
    watch = Watch(broker.port)
    gw = Gateway(env, config(env, broker, peer))
    watch.wait_json(ROOT + "device/elc1/state", lambda j: j["online"], 15, "elc1 online")
    op = Operator(broker.port, ROOT)

    # 1. The plan's first function test is due 3 s after start: started once, passed.
    first = wait_until(lambda: db_rows(env, "SELECT id FROM insp_task WHERE plan = 'ft'"),
                       15, "the first task")[0][0]
    res, js = wait_record(env, first)
    d = js.get("details", {})
    if res != "passed" or d.get("passed") is not True or d.get("result") != "passed" \
            or d.get("luminaires_failed") != [] or d.get("controller") != "elc1" \
            or d.get("test") != "function" or "length" not in d or not d.get("ended"):
        raise TestFailure("first function test: %s %r" % (res, js))
    if peer.starts("function") != 1:
        raise TestFailure("the controller got %d starts for one test" % peer.starts("function"))

    # 2. A luminaire with a lamp fault fails the test: one el_test ticket, not one per test.
    # The controller's clock runs 5 s ahead: its last test time is no guide to whether the
    # test just started is over (the last result, "passed", is not this test's).
    ahead = int(time.time()) + 5
    peer.set(ELC, "input", 10, ahead >> 16)
    peer.set(ELC, "input", 11, ahead & 0xFFFF)
    watch.wait_json(ROOT + "device/elc1/state", lambda j: j["points"]["ft_last_time"]["v"] == ahead,
                    10, "the controller's clock ahead")
    peer.set(ELC, "input", 103, 8)
    peer.set(ELC, "input", 3, 1)
    for n in (2, 3):
        t = run_now(op)
        res, js = wait_record(env, t)
        d = js["details"]
        if res != "failed" or d["passed"] or d["luminaires_failed"] != ["luminaire[3]"]:
            raise TestFailure("test with a failed luminaire: %s %r" % (res, js))
        if peer.starts("function") != n:
            raise TestFailure("starts %d, expected %d" % (peer.starts("function"), n))
    tickets = db_rows(env, "SELECT id, state FROM insp_ticket WHERE kind = 'el_test' "
                      "AND target = 'elc1'")
    if len(tickets) != 1 or tickets[0][1] != "open":
        raise TestFailure("el_test tickets after two failed tests: %r" % tickets)
    peer.set(ELC, "input", 103, 0)
    peer.set(ELC, "input", 3, 0)

    # 3. A mains failure postpones the test; it runs once mains is back.
    peer.set(ELC, "input", 0, 1)
    watch.wait_json(ROOT + "device/elc1/state", lambda j: j["points"]["mains_fault"]["v"] is True,
                    10, "the mains fault seen")
    t = run_now(op)
    st = wait_until(lambda: (task_state(env, t) or ("",))[0] == "postponed" and task_state(env, t),
                    10, "the task postponed for the mains failure")
    if "mains_ok" not in st[1]:
        raise TestFailure("postponed for %r, not mains_ok" % st[1])
    if peer.starts("function") != 3 or record(env, t):
        raise TestFailure("a test was started during a mains failure")
    peer.set(ELC, "input", 0, 0)
    res, js = wait_record(env, t)
    if res != "passed" or peer.starts("function") != 4:
        raise TestFailure("after mains returned: %s, %d starts" % (res, peer.starts("function")))

    # 4. A fire alarm on the panel blocks it the same way.
    peer.set(FACP, "input", 0, 1)
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["points"]["fire"]["v"] is True,
                    10, "the fire seen")
    t = run_now(op)
    st = wait_until(lambda: (task_state(env, t) or ("",))[0] == "postponed" and task_state(env, t),
                    10, "the task postponed for the fire alarm")
    if "no_fire" not in st[1] or peer.starts("function") != 4:
        raise TestFailure("during a fire: %r, %d starts" % (st, peer.starts("function")))
    peer.set(FACP, "input", 0, 0)
    res, js = wait_record(env, t)
    if res != "passed" or peer.starts("function") != 5:
        raise TestFailure("after the fire: %s, %d starts" % (res, peer.starts("function")))

    # 5. SIGKILL in the middle of a long test: on restart the task is followed, not started
    # again, and has one record.
    peer.test_length(8)
    t = run_now(op)
    wait_until(lambda: peer.starts("function") == 6, 10, "the long test started")
    watch.wait_json(ROOT + "device/elc1/state",
                    lambda j: j["points"]["function_test_running"]["v"] is True, 10,
                    "the long test running")
    if (task_state(env, t) or ("",))[0] != "in_progress":
        raise TestFailure("task %s not in progress: %r" % (t, task_state(env, t)))
    gw.stop(signal.SIGKILL)
    gw.start()
    res, js = wait_record(env, t, 40)
    if peer.starts("function") != 6:
        raise TestFailure("the test was started again after the restart: %d starts"
                          % peer.starts("function"))
    if res != "passed" or js["details"].get("resumed") is not True:
        raise TestFailure("the interrupted test's record: %s %r" % (res, js))
    if "followed again, not started again" not in gw.proc.stderr_text():
        raise TestFailure("no word of the test taken up again in the log")
    n = db_rows(env, "SELECT COUNT(*) FROM insp_record WHERE plan = 'ft'")[0][0]
    if n != 6:
        raise TestFailure("%d records for 6 tests" % n)
    op.close()
    watch.close()

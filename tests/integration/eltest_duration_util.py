"""The annual duration test run by the gateway end to end (issue 13, item 4), against a Modbus
peer that plays the controller (hw-sim or the pymodbus controller), with expected_s of a few
seconds and the peer's duration test as long:

- the plan's first duration test falls due while the hall is open: POSTPONED
  (outside_opening_hours), not started; the site reloaded closed and the mains failed, a
  second one (run now) is POSTPONED for mains_ok; once mains is back one of them runs, is
  followed and read back: PASSED with the battery's minutes against the rated time; the other
  is POSTPONED for battery_recharged, and so is a function test of the controller (24 h after a
  duration test);
- with the battery recharged (the controller's last duration test 25 h ago) a fire alarm
  postpones one (no_fire); once the fire clears it runs on a battery that lasts 60 of the 90
  rated minutes: FAILED with those numbers, one el_test ticket;
- a function test due while a duration test runs is not started (the controller would ignore
  it); a SIGKILL of the gateway during the duration test: after the restart it is followed
  again, not started again (the starts counted at the peer), one record, resumed;
- a controller that stops answering during the test: FAILED at the plan's deadline as
  interrupted, with the reason, not a hang."""

import datetime
import json
import signal
import time

from alerts_util import Operator
from eltest_util import db_rows, task_state
from harness import PROFILES, Gateway, Mosquitto, TestFailure, Watch, gateway_config, wait_until

SITE = "hall-eld"
ROOT = "hallwatch/v1/%s/" % SITE
ELC = 2
FACP = 1
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def config(env, broker, peer, start, hall_open):
    hours = " ".join('%s = "00:00-24:00";' % d for d in DAYS) if hall_open else 'sun = "closed";'
    text = gateway_config(
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
    { id = "dt"; kind = "duration_test"; targets = [ "elc1" ]; recurrence = "days"; days = 365;
      start = "%s"; early_s = 0; window_s = 600; grace_s = 600; expected_s = 3; margin_s = 12; },
    { id = "ft"; kind = "function_test"; targets = [ "elc1" ]; recurrence = "days"; days = 30;
      start = "%s"; early_s = 0; expected_s = 3; margin_s = 12; }
  );
};
""" % (start.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
       (start + datetime.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%S+00:00"))
    site = 'profile_dir = "%s";' % PROFILES
    if site not in text:
        raise TestFailure("gateway_config's site line changed")
    return text.replace(site, site + ' timezone = "UTC"; opening_hours = { %s };' % hours)


def record(env, task):
    rows = db_rows(env, "SELECT result, json FROM insp_record WHERE task = ?", (task,))
    if len(rows) > 1:
        raise TestFailure("task %s has %d records: %r" % (task, len(rows), rows))
    return (rows[0][0], json.loads(rows[0][1])) if rows else None


def wait_record(env, task, timeout=30):
    return wait_until(lambda: record(env, task), timeout, "the record of " + task)


def wait_postponed(env, task, why, timeout=15):
    def check():
        st = task_state(env, task)
        return st if st and st[0] == "postponed" and why in st[1] else None
    return wait_until(check, timeout, "task %s postponed for %s" % (task, why))


def run_now(op, plan):
    r = op.send("task", {"action": "run_now", "plan": plan, "target": "elc1"}, user="alice")
    if not r["ok"]:
        raise TestFailure("run_now: %r" % r)
    return r["task"]


def cancel(op, task):
    r = op.send("task", {"action": "cancel", "id": task, "reason": "done with it"}, user="alice")
    if not r["ok"]:
        raise TestFailure("cancel %s: %r" % (task, r))


def point(watch, name, pred, what):
    watch.wait_json(ROOT + "device/elc1/state", lambda j: pred(j["points"][name]["v"]), 10, what)


def last_duration_test(peer, watch, t):
    """The controller's record of its last duration test (Unix s), seen by the gateway."""
    peer.set(ELC, "input", 14, t >> 16)
    peer.set(ELC, "input", 15, t & 0xFFFF)
    point(watch, "dt_last_time", lambda v: v == t, "the last duration test at %d" % t)


def check_starts(peer, duration, function, when):
    got = (peer.starts("duration"), peer.starts("function"))
    if got != (duration, function):
        raise TestFailure("%s: the controller got %d duration and %d function test starts, "
                          "expected %d and %d" % (when, got[0], got[1], duration, function))


def scenario(env, peer):
    broker = Mosquitto(env)
    watch = Watch(broker.port)
    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
    gw = Gateway(env, config(env, broker, peer, start, True))
    watch.wait_json(ROOT + "device/elc1/state", lambda j: j["online"], 15, "elc1 online")
    op = Operator(broker.port, ROOT)

    # 1. Due while the hall is open: postponed, not started.
    t1 = wait_until(lambda: db_rows(env, "SELECT id FROM insp_task WHERE plan = 'dt'"),
                    15, "the first duration test task")[0][0]
    wait_postponed(env, t1, "outside_opening_hours")
    check_starts(peer, 0, 0, "the hall open")

    # 2. The hall closed (the site reloaded) during a mains failure: still not started; a
    # test asked for now is postponed for mains_ok.
    peer.set(ELC, "input", 0, 1)
    point(watch, "mains_fault", lambda v: v is True, "the mains fault seen")
    gw.rewrite(config(env, broker, peer, start, False))
    gw.proc.send(signal.SIGHUP)
    wait_until(lambda: "configuration reloaded" in gw.proc.stderr_text(), 15, "the reload")
    t2 = run_now(op, "dt")
    st = wait_postponed(env, t2, "mains_ok")
    if "outside_opening_hours" in st[1]:
        raise TestFailure("the closed hall still counts as open: %r" % (st,))
    check_starts(peer, 0, 0, "during the mains failure")

    # 3. Mains back: one runs to the end and passes with the battery's minutes; the other, and
    # a function test, wait for the battery to recharge.
    peer.set(ELC, "input", 0, 0)
    done = wait_until(lambda: [t for t in (t1, t2) if record(env, t)], 20, "a duration test run")
    ran, other = done[0], (t2 if done[0] == t1 else t1)
    res, js = wait_record(env, ran)
    d = js["details"]
    if res != "passed" or d.get("passed") is not True or d.get("test") != "duration" \
            or d.get("result") != "passed" or d.get("length") != 90 or d.get("rated") != 90 \
            or d.get("length_unit") != "min" or d.get("luminaires_failed") != [] \
            or not d.get("ended") or d.get("resumed") is not False:
        raise TestFailure("the duration test's record: %s %r" % (res, js))
    if "90 of 90 min" not in js.get("note", ""):
        raise TestFailure("the record's note gives no minutes: %r" % (js,))
    check_starts(peer, 1, 0, "after one duration test")
    wait_postponed(env, other, "battery_recharged")
    f1 = run_now(op, "ft")
    wait_postponed(env, f1, "battery_recharged")
    check_starts(peer, 1, 0, "after the duration test, the battery recharging")
    for t in (other, f1):
        cancel(op, t)

    # 4. Recharged (the controller's last duration test 25 h ago), a fire alarm postpones the
    # next; once it clears the test runs on a battery that lasts 60 of 90 minutes: FAILED,
    # one ticket.
    peer.set(FACP, "input", 0, 1)
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["points"]["fire"]["v"] is True,
                    10, "the fire seen")
    last_duration_test(peer, watch, int(time.time()) - 25 * 3600)
    peer.battery(60)
    t3 = run_now(op, "dt")
    st = wait_postponed(env, t3, "no_fire")
    if "battery_recharged" in st[1] or "mains_ok" in st[1]:
        raise TestFailure("postponed for more than the fire: %r" % (st,))
    check_starts(peer, 1, 0, "during the fire alarm")
    peer.set(FACP, "input", 0, 0)
    res, js = wait_record(env, t3)
    d = js["details"]
    if res != "failed" or d.get("passed") is not False or d.get("result") != "failed" \
            or d.get("length") != 60 or d.get("rated") != 90 or "error" in d:
        raise TestFailure("the short battery's record: %s %r" % (res, js))
    if "lasted 60 of 90 min" not in js.get("note", ""):
        raise TestFailure("the failed test's note: %r" % (js,))
    check_starts(peer, 2, 0, "after the failed duration test")
    tickets = db_rows(env, "SELECT state FROM insp_ticket WHERE kind = 'el_test' "
                      "AND target = 'elc1'")
    if tickets != [("open",)]:
        raise TestFailure("el_test tickets after the failed duration test: %r" % tickets)
    peer.battery(0)

    # 5. A long test; a function test asked for meanwhile is not started; SIGKILL of the
    # gateway: the test is followed again, not started again, and recorded once.
    last_duration_test(peer, watch, int(time.time()) - 25 * 3600)
    peer.test_length(12, "duration")
    t4 = run_now(op, "dt")
    wait_until(lambda: peer.starts("duration") == 3, 10, "the long test started")
    point(watch, "duration_test_running", lambda v: v is True, "the long test running")
    f2 = run_now(op, "ft")
    wait_until(lambda: (task_state(env, f2) or ("",))[0] == "due", 10, "the function test due")
    if (task_state(env, t4) or ("",))[0] != "in_progress":
        raise TestFailure("task %s not in progress: %r" % (t4, task_state(env, t4)))
    gw.stop(signal.SIGKILL)
    gw.start()
    res, js = wait_record(env, t4, 40)
    if res != "passed" or js["details"].get("resumed") is not True \
            or js["details"].get("length") != 90:
        raise TestFailure("the duration test across the SIGKILL: %s %r" % (res, js))
    if "followed again, not started again" not in gw.proc.stderr_text():
        raise TestFailure("no word of the test taken up again in the log")
    wait_postponed(env, f2, "battery_recharged")
    check_starts(peer, 3, 0, "after the SIGKILL")
    cancel(op, f2)

    # 6. The controller stops answering during the test: FAILED as interrupted at the
    # deadline (expected_s + margin_s), not a hang.
    last_duration_test(peer, watch, int(time.time()) - 25 * 3600)
    t5 = run_now(op, "dt")
    wait_until(lambda: peer.starts("duration") == 4, 10, "the last test started")
    point(watch, "duration_test_running", lambda v: v is True, "the last test running")
    peer.command("silent %d" % ELC)
    res, js = wait_record(env, t5, 30)
    d = js["details"]
    if res != "failed" or d.get("interrupted") is not True \
            or "stopped answering" not in d.get("error", ""):
        raise TestFailure("the test of a controller gone silent: %s %r" % (res, js))
    peer.command("unsilent %d" % ELC)
    check_starts(peer, 4, 0, "at the end")
    n = db_rows(env, "SELECT COUNT(*) FROM insp_record WHERE plan = 'dt' AND result IN "
                "('passed', 'failed')")[0][0]
    if n != 4:
        raise TestFailure("%d duration test records for 4 tests run" % n)
    tickets = db_rows(env, "SELECT state FROM insp_ticket WHERE kind = 'el_test'")
    if tickets != [("open",)]:
        raise TestFailure("el_test tickets at the end: %r" % tickets)
    op.close()
    watch.close()

"""A self-testing emergency lighting controller (profile tests.self_testing = true): the
gateway never starts its tests; a function test the controller ran itself within the period
passes the task (self_test in the record), none leaves the task to go OVERDUE with the alert
inspection.<plan>.overdue ("test overdue")."""

import json
import os
import time

from alerts_util import Operator, events
from eltest_util import db_rows
from harness import (PROFILES, Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-els"
ROOT = "hallwatch/v1/%s/" % SITE


def main(env):
    pdir = os.path.join(env.tmp, "profiles")
    os.mkdir(pdir)
    with open(os.path.join(PROFILES, "elc-generic.cfg")) as f:
        text = f.read()
    text = text.replace('name = "elc-generic";', 'name = "elc-self";')
    if "self_testing = false;" not in text:
        raise TestFailure("elc-generic.cfg has no self_testing to turn on")
    with open(os.path.join(pdir, "elc-self.cfg"), "w") as f:
        f.write(text.replace("self_testing = false;", "self_testing = true;"))

    broker = Mosquitto(env)
    sim = Sim(env, facp=(), elc=(2,), extra=["--tick-ms", "200"])
    now = int(time.time())
    sim.set(2, "input", 10, now >> 16)  # the controller tested itself just now: passed
    sim.set(2, "input", 11, now & 0xFFFF)
    sim.set(2, "input", 12, 1)
    watch = Watch(broker.port)
    cfg = gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 500)],
        devices=[{"id": "elc1", "bus": "tcp0", "unit": 2, "profile": "elc-self",
                  "allow_commands": ["start_function_test"],
                  "intervals": {"alarm": 100, "detail": 200}}],
        state_dir=env.tmp) + """
alerts = { operators = [ "alice" ]; };
inspections = {
  tick_s = 1;
  plans = (
    { id = "ft"; kind = "function_test"; targets = [ "elc1" ]; recurrence = "days"; days = 30;
      start = "%s"; early_s = 0; window_s = 2; grace_s = 600; first_within_s = 2; }
  );
};
""" % time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + 2))
    cfg = cfg.replace('profile_dir = "%s"' % PROFILES, 'profile_dir = "%s"' % pdir)
    gw = Gateway(env, cfg)
    watch.wait_json(ROOT + "device/elc1/state", lambda j: j["online"], 15, "elc1 online")

    # Its own test within the period passes the task; the gateway sends no start.
    rows = wait_until(lambda: db_rows(env, "SELECT task, result, json FROM insp_record "
                                      "WHERE plan = 'ft'"), 20, "the first task's record")
    d = json.loads(rows[0][2])["details"]
    if rows[0][1] != "passed" or d.get("self_test") is not True or d.get("result") != "passed" \
            or d.get("ended") != now * 1000:
        raise TestFailure("self-tested controller's record: %r" % (rows,))
    if int(sim.command("starts 2 function")) != 0:
        raise TestFailure("the gateway started a test on a self-testing controller")

    # No test in the period: the task is not passed; it goes OVERDUE with the alert.
    sim.set(2, "input", 10, 0)
    sim.set(2, "input", 11, 0)
    watch.wait_json(ROOT + "device/elc1/state", lambda j: j["points"]["ft_last_time"]["v"] == 0,
                    10, "no test on record")
    op = Operator(broker.port, ROOT)
    r = op.send("task", {"action": "run_now", "plan": "ft", "target": "elc1"}, user="alice")
    if not r["ok"]:
        raise TestFailure("run_now: %r" % r)
    wait_until(lambda: [e for e in events(watch, ROOT) if e.get("id") == "inspection.ft.overdue"
                        and e.get("event") == "raised"], 15, "the test overdue alert")
    st = db_rows(env, "SELECT state FROM insp_task WHERE id = ?", (r["task"],))
    if st != [("overdue",)] or db_rows(env, "SELECT 1 FROM insp_record WHERE task = ?",
                                      (r["task"],)):
        raise TestFailure("the task without a test: %r" % st)
    if int(sim.command("starts 2 function")) != 0:
        raise TestFailure("the gateway started a test on a self-testing controller")
    op.close()
    watch.close()


if __name__ == "__main__":
    run(main)

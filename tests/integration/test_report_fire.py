"""A fire alarm is not late while the monthly report is being made (cmd/report): the report
reads a month of records and the whole alert log (camera availability) on a worker thread
with a database connection of its own, so the main loop and the shared connection go on.

The gateway keeps a long alert log (alerts.keep_events = 3,000,000; 800,000 events of
three cameras written into its database while it was stopped), so that the report takes
seconds. While it is being made, a fire bit is set in the simulator: the fire's alert must be
raised (its `raised` event's time) before the report is written (its log line's time, the same
clock), and the report still succeeds. (One report at a time, another refused `busy`:
tests/unit/test_records.c.)"""

import calendar
import os
import re
import sqlite3
import threading
import time

from alerts_util import Operator, count, events
from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until
from videocam import camera_cfg

SITE = "hall-reportfire"
ROOT = "hallwatch/v1/%s/" % SITE
AID = "facp1.zone-3.fire"
EVENTS = 800000
CAMS = ("cam1", "cam2", "cam3")


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def fill_log(db_path, t0_ms):
    """EVENTS delivered alert events of the cameras in this month, after what is there."""
    db = sqlite3.connect(db_path, timeout=30)
    seq0 = db.execute("SELECT COALESCE(MAX(seq), 0) FROM alert_event").fetchone()[0]

    def rows():
        for i in range(EVENTS):
            cam = CAMS[i % len(CAMS)]
            ev = "raised" if (i // len(CAMS)) % 2 == 0 else "cleared"
            t = t0_ms + i
            yield (seq0 + 1 + i, t, '{"seq":%d,"t":%d,"site":"%s","event":"%s","id":"%s.offline",'
                   '"priority":3,"text":"camera %s offline"}' % (seq0 + 1 + i, t, SITE, ev, cam,
                                                                 cam))
    with db:
        db.executemany("INSERT INTO alert_event(seq, t_ms, json, delivered) VALUES (?, ?, ?, 1)",
                       rows())
    db.close()


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "8"])
    watch = Watch(broker.port)
    cams = [{"id": c, "url": "rtsp://127.0.0.1:9/%s" % c, "record": False} for c in CAMS]
    cfg = gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        state_dir=env.tmp) + camera_cfg(cams) + \
        'alerts = { operators = [ "alice" ]; keep_events = 3000000; };\n'
    gw = Gateway(env, cfg)
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "online", 10, "status online")
    # (the cameras have no peer: stopped once each has failed to connect)
    wait_until(lambda: all("camera %s: stream error" % c in gw.proc.stderr_text() for c in CAMS),
               30, "each camera failed to connect")
    expect(gw.stop() == 0, "the gateway did not stop cleanly")
    t = time.time()
    lt = time.localtime(t)
    month = time.strftime("%Y-%m", lt)
    month_start = time.mktime((lt.tm_year, lt.tm_mon, 1, 0, 0, 0, 0, 0, -1))
    t0 = time.monotonic()
    fill_log(os.path.join(env.tmp, "hallwatch.db"), int(month_start * 1000) + 1000)
    print("%d alert events written in %.1f s" % (EVENTS, time.monotonic() - t0))

    n_state = count(watch, ROOT + "device/facp1/state")
    gw.start()
    wait_until(lambda: count(watch, ROOT + "device/facp1/state") > n_state
               and watch.json(ROOT + "device/facp1/state")["online"], 15,
               "facp1 online, from the restarted gateway")
    op = Operator(broker.port, ROOT)
    reply = {}

    def ask():
        reply["r"] = op.send("report", {"month": month}, user="alice", timeout=120)
        reply["t"] = time.monotonic()
    th = threading.Thread(target=ask)
    th.start()
    wait_until(lambda: "report %s: reading the month" % month in gw.proc.stderr_text(), 10,
               "the report being made")
    t_fire = time.monotonic()
    sim.set(1, "input", 103, 1)

    def raised():
        for e in events(watch, ROOT):
            if e["event"] == "raised" and e.get("id") == AID:
                return e
        return None
    ev = wait_until(raised, 120, "the fire's raised event")
    th.join(120)
    expect("r" in reply, "no reply to cmd/report")
    r = reply["r"]
    expect(r.get("ok") is True and os.path.isfile(r.get("path") or ""), "report: %r" % r)
    # In the gateway's own clock: the alert was raised before the report was written.
    m = re.search(r"^(\S+)Z INFO  records: report %s: \S+\.html" % month,
                  gw.proc.stderr_text(), re.M)
    expect(m is not None, "no log line of the report written")
    done_ms = int(calendar.timegm(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) * 1000
                  + int(m.group(1)[20:23]))
    print("the report replied %.2f s after the fire bit was set; the fire was raised %.2f s "
          "before the report was written" % (reply["t"] - t_fire, (done_ms - ev["t"]) / 1000.0))
    expect(ev["t"] < done_ms, "the fire was raised %d ms after the report was written: held "
           "up by it" % (ev["t"] - done_ms))
    op.close()
    expect(gw.stop() == 0, "the gateway did not exit cleanly")


if __name__ == "__main__":
    run(main)
